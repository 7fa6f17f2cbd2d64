#include <doctest/doctest.h>

#include "controllers/endpoints.h"

using namespace k3dpp::controllers;

namespace {

json svc(const json& ports) {
  return {{"metadata", {{"name", "web"}, {"namespace", "default"}, {"labels", {{"tier", "front"}}}}},
          {"spec", {{"selector", {{"app", "web"}}}, {"ports", ports}, {"clusterIP", "10.43.0.5"}}}};
}

json pod(const std::string& name, const std::string& ip, bool ready, const json& ports, const std::string& app = "web") {
  return {{"metadata", {{"name", name}, {"namespace", "default"}, {"uid", "u-" + name}, {"labels", {{"app", app}}}}},
          {"spec", {{"nodeName", "n1"}, {"containers", json::array({{{"name", "c"}, {"ports", ports}}})}}},
          {"status",
           {{"phase", "Running"},
            {"podIP", ip},
            {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

}  // namespace

TEST_CASE("named targetPort resolves per pod; pods without the port are left out") {
  json ports = json::parse(R"([{"name":"http","port":80,"targetPort":"web","protocol":"TCP"}])");
  json s = svc(ports);
  json a = pod("a", "10.42.0.3", true, json::parse(R"([{"name":"web","containerPort":8080}])"));
  json b = pod("b", "10.42.0.2", true, json::parse(R"([{"name":"web","containerPort":9090}])"));
  json c = pod("c", "10.42.0.4", true, json::parse(R"([{"name":"other","containerPort":1}])"));
  json d = pod("d", "10.42.0.5", true, json::array(), "db");
  CHECK(resolve_target_port(ports[0], a) == 8080);
  CHECK(resolve_target_port(ports[0], c) == -1);
  json ep = desired_endpoints(s, {&a, &b, &c, &d});
  REQUIRE(ep["subsets"].size() == 2);  // two port sets
  CHECK(ep["metadata"]["labels"]["tier"] == "front");
  std::string text = ep.dump();
  CHECK(text.find("10.42.0.4") == std::string::npos);
  CHECK(text.find("10.42.0.5") == std::string::npos);
  auto slices = desired_slices(s, {&a, &b, &c, &d});
  CHECK(slices.size() == 2);
}

TEST_CASE("not-ready and terminating pods") {
  json ports = json::parse(R"([{"port":80,"targetPort":8080,"protocol":"TCP"}])");
  json s = svc(ports);
  json a = pod("a", "10.42.0.2", true, json::array());
  json b = pod("b", "10.42.0.3", false, json::array());
  json t = pod("t", "10.42.0.4", true, json::array());
  t["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  json noip = pod("x", "", true, json::array());
  json ep = desired_endpoints(s, {&a, &b, &t, &noip});
  CHECK(ep["subsets"] == json::parse(R"([{"addresses":[{"ip":"10.42.0.2","nodeName":"n1","targetRef":{"kind":"Pod","name":"a","namespace":"default","uid":"u-a"}}],
    "notReadyAddresses":[{"ip":"10.42.0.3","nodeName":"n1","targetRef":{"kind":"Pod","name":"b","namespace":"default","uid":"u-b"}}],
    "ports":[{"port":8080,"protocol":"TCP"}]}])"));
  auto slices = desired_slices(s, {&a, &b, &t, &noip});
  REQUIRE(slices.size() == 1);
  CHECK(slices[0].ports == json::parse(R"([{"name":"","port":8080,"protocol":"TCP"}])"));
  REQUIRE(slices[0].endpoints.size() == 3);
  CHECK(slices[0].endpoints[0]["conditions"] == json::parse(R"({"ready":true,"serving":true,"terminating":false})"));
  CHECK(slices[0].endpoints[1]["conditions"] == json::parse(R"({"ready":false,"serving":false,"terminating":false})"));
  CHECK(slices[0].endpoints[2]["conditions"] == json::parse(R"({"ready":false,"serving":true,"terminating":true})"));
}

TEST_CASE("no pods: no subsets, one placeholder slice; labels") {
  json s = svc(json::parse(R"([{"port":80}])"));
  CHECK(!desired_endpoints(s, {}).contains("subsets"));
  auto slices = desired_slices(s, {});
  REQUIRE(slices.size() == 1);
  CHECK(slices[0].endpoints.empty());
  json l = slice_labels(s);
  CHECK(l["kubernetes.io/service-name"] == "web");
  CHECK(l["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io");
  CHECK(l["tier"] == "front");
}
