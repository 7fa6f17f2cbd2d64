#include <doctest/doctest.h>

#include <algorithm>

#include "node-image/schema/schema.h"

using namespace k3dpp::schema;

TEST_CASE("registry finds types by plural and kind") {
  const auto* d = find_by_plural("apps", "v1", "deployments");
  REQUIRE(d != nullptr);
  CHECK(d->kind == "Deployment");
  CHECK(d->api_version() == "apps/v1");
  CHECK(d->list_kind() == "DeploymentList");
  CHECK(d->group_resource() == "deployments.apps");
  CHECK(d->short_names == std::vector<std::string>{"deploy"});
  REQUIRE(d->find_subresource("scale") != nullptr);
  CHECK(d->find_subresource("scale")->kind == "Scale");
  CHECK(find_by_kind("v1", "Pod") == find_by_plural("", "v1", "pods"));
  CHECK(find_by_kind("apps/v1", "Pod") == nullptr);
  CHECK(find_by_plural("", "v1", "deployments") == nullptr);
  CHECK_FALSE(find_by_kind("v1", "Namespace")->namespaced);
  CHECK(find_by_kind("events.k8s.io/v1", "Event") != nullptr);
}

TEST_CASE("category all matches Kubernetes") {
  std::vector<std::string> in_all;
  for (const auto& t : all_types()) {
    for (const auto& c : t.categories) {
      if (c == "all") in_all.push_back(t.plural);
    }
  }
  std::sort(in_all.begin(), in_all.end());
  CHECK(in_all == std::vector<std::string>{"cronjobs", "daemonsets", "deployments", "jobs", "pods",
                                           "replicasets", "replicationcontrollers", "services",
                                           "statefulsets"});
}

TEST_CASE("aggregated discovery has the shape kubectl needs") {
  json core = discovery_aggregated_core();
  CHECK(core["kind"] == "APIGroupDiscoveryList");
  CHECK(core["apiVersion"] == "apidiscovery.k8s.io/v2");
  REQUIRE(core["items"].size() == 1);
  CHECK(core["items"][0]["metadata"]["name"] == "");
  const json& res = core["items"][0]["versions"][0]["resources"];
  bool saw_pods = false;
  for (const auto& r : res) {
    if (r["resource"] == "pods") {
      saw_pods = true;
      CHECK(r["scope"] == "Namespaced");
      CHECK(r["shortNames"] == json::array({"po"}));
      CHECK(r["responseKind"] == json({{"group", ""}, {"version", ""}, {"kind", "Pod"}}));
      CHECK(r["categories"] == json::array({"all"}));
    }
    if (r["resource"] == "namespaces") CHECK(r["scope"] == "Cluster");
  }
  CHECK(saw_pods);
  json groups = discovery_aggregated_groups();
  bool saw_scale = false;
  for (const auto& g : groups["items"]) {
    CHECK(g["metadata"]["name"] != "");
    if (g["metadata"]["name"] != "apps") continue;
    for (const auto& r : g["versions"][0]["resources"]) {
      if (r["resource"] != "deployments") continue;
      for (const auto& s : r["subresources"]) {
        if (s["subresource"] == "scale") {
          saw_scale = true;
          CHECK(s["responseKind"] ==
                json({{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}}));
        }
      }
    }
  }
  CHECK(saw_scale);
  CHECK(kContentTypeDiscoveryV2 == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
}

TEST_CASE("legacy discovery") {
  CHECK(discovery_legacy_api()["versions"] == json::array({"v1"}));
  json groups = discovery_legacy_groups();
  CHECK(groups["kind"] == "APIGroupList");
  CHECK(groups["groups"][0]["name"] == "apps");
  CHECK(groups["groups"][0]["preferredVersion"]["groupVersion"] == "apps/v1");
  auto apps = discovery_resource_list("apps", "v1");
  REQUIRE(apps);
  CHECK((*apps)["groupVersion"] == "apps/v1");
  bool saw = false;
  for (const auto& r : (*apps)["resources"]) {
    if (r["name"] == "deployments/scale") {
      saw = true;
      CHECK(r["group"] == "autoscaling");
      CHECK(r["version"] == "v1");
      CHECK(r["kind"] == "Scale");
    }
  }
  CHECK(saw);
  CHECK(discovery_resource_list("", "v1").has_value());
  CHECK_FALSE(discovery_resource_list("nosuch", "v1").has_value());
}

TEST_CASE("openapi v3 root lists every group-version and each doc carries fieldValidation") {
  json root = openapi_v3_root();
  for (const auto& gv : group_versions()) {
    std::string key = gv.find('/') == std::string::npos ? "api/" + gv : "apis/" + gv;
    INFO(key);
    REQUIRE(root["paths"].contains(key));
    std::string url = root["paths"][key]["serverRelativeURL"];
    CHECK(url.rfind("/openapi/v3/" + key + "?hash=", 0) == 0);
  }
  CHECK(root == openapi_v3_root());  // stable hash
  auto apps = openapi_v3_group_version("apis/apps/v1");
  REQUIRE(apps);
  const json& op = (*apps)["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
  CHECK(op["x-kubernetes-group-version-kind"] ==
        json({{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}));
  CHECK(op["parameters"][0]["name"] == "fieldValidation");
  CHECK(op["parameters"][0]["in"] == "query");
  CHECK_FALSE(op.contains("requestBody"));
  auto core = openapi_v3_group_version("api/v1");
  REQUIRE(core);
  CHECK((*core)["paths"].contains("/api/v1/namespaces/{name}"));
  CHECK((*core)["paths"].contains("/api/v1/namespaces/{namespace}/pods/{name}"));
  CHECK_FALSE(openapi_v3_group_version("apis/nosuch/v1").has_value());
}
