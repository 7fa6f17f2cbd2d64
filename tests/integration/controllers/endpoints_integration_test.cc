// Endpoints and EndpointSlices from a Service selector, against the real ApiServer.
#include <doctest/doctest.h>

#include "controllers/util.h"
#include "harness.h"

using namespace k3dpp;
using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::Harness;

namespace {

json pod(const std::string& name, const std::string& app) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"labels", {{"app", app}}}}},
          {"spec",
           {{"containers", json::array({{{"name", "web"},
                                         {"image", "nginx:1.24"},
                                         {"ports", json::array({{{"name", "http"}, {"containerPort", 8080}}})}}})}}}};
}

json slices_for(Harness& h, const std::string& svc) {
  client::ListOptions lo;
  lo.label_selector = "kubernetes.io/service-name=" + svc;
  auto l = h.api().list(client::res::kEndpointSlices, "default", lo);
  REQUIRE(l.has_value());
  return json(l->items);
}

}  // namespace

TEST_CASE("endpoints: ready pods with named targetPort, not-ready pods, slices") {
  Harness h;
  auto& api = h.api();
  json svc = {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", {{"name", "web"}, {"labels", {{"tier", "front"}}}}},
              {"spec",
               {{"selector", {{"app", "web"}}},
                {"ports", json::array({{{"name", "http"}, {"port", 80}, {"targetPort", "http"}}})}}}};
  REQUIRE(api.create(client::res::kServices, "default", svc).has_value());
  // Placeholder slice without endpoints and an Endpoints object without subsets.
  REQUIRE(Harness::wait_for([&] { return slices_for(h, "web").size() == 1; }, 10s));
  REQUIRE(Harness::wait_for([&] { return !h.get(client::res::kEndpoints, "default", "web").is_null(); }, 10s));
  CHECK(!h.get(client::res::kEndpoints, "default", "web").contains("subsets"));

  REQUIRE(api.create(client::res::kPods, "default", pod("web-1", "web")).has_value());
  REQUIRE(api.create(client::res::kPods, "default", pod("web-2", "web")).has_value());
  REQUIRE(api.create(client::res::kPods, "default", pod("other", "db")).has_value());
  auto ready_ips = [&] {
    std::vector<std::string> ips;
    json ep = h.get(client::res::kEndpoints, "default", "web");
    for (const auto& s : ep.value("subsets", json::array())) {
      for (const auto& a : s.value("addresses", json::array())) ips.push_back(a.value("ip", ""));
    }
    return ips;
  };
  REQUIRE_MESSAGE(Harness::wait_for([&] { return ready_ips().size() == 2; }, 15s),
                  h.get(client::res::kEndpoints, "default", "web").dump());
  json ep = h.get(client::res::kEndpoints, "default", "web");
  CHECK(ep["metadata"]["labels"]["tier"] == "front");
  REQUIRE(ep["subsets"].size() == 1);
  CHECK(ep["subsets"][0]["ports"] == json::parse(R"([{"name":"http","port":8080,"protocol":"TCP"}])"));
  json addr = ep["subsets"][0]["addresses"][0];
  CHECK(addr["targetRef"]["kind"] == "Pod");
  CHECK(addr["ip"].get<std::string>().rfind("10.42.", 0) == 0);
  CHECK(!addr.value("nodeName", "").empty());

  json slices = slices_for(h, "web");
  REQUIRE(slices.size() == 1);
  json sl = slices[0];
  CHECK(sl["addressType"] == "IPv4");
  CHECK(sl["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io");
  CHECK(sl["metadata"]["labels"]["tier"] == "front");
  CHECK(sl["metadata"]["ownerReferences"][0]["kind"] == "Service");
  CHECK(sl["ports"] == json::parse(R"([{"name":"http","port":8080,"protocol":"TCP"}])"));
  CHECK(sl["endpoints"].size() == 2);
  for (const auto& e : sl["endpoints"]) CHECK(e["conditions"]["ready"] == true);

  // A not-ready pod (on a node no hollow kubelet serves, so its status stays as written) is listed
  // in notReadyAddresses / ready=false.
  json p3 = pod("web-3", "web");
  p3["spec"]["nodeName"] = "elsewhere";
  REQUIRE(api.create(client::res::kPods, "default", p3).has_value());
  p3 = h.get(client::res::kPods, "default", "web-3");
  p3["status"]["phase"] = "Running";
  p3["status"]["podIP"] = "10.42.9.9";
  p3["status"]["podIPs"] = json::array({{{"ip", "10.42.9.9"}}});
  p3["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", "False"}}});
  REQUIRE(api.update_status(client::res::kPods, "default", p3).has_value());
  REQUIRE_MESSAGE(Harness::wait_for(
                      [&] {
                        json e = h.get(client::res::kEndpoints, "default", "web");
                        return e.contains("subsets") && e["subsets"][0].value("notReadyAddresses", json::array()).size() == 1 &&
                               e["subsets"][0].value("addresses", json::array()).size() == 2;
                      },
                      10s),
                  h.get(client::res::kEndpoints, "default", "web").dump());
  CHECK(h.get(client::res::kEndpoints, "default", "web")["subsets"][0]["notReadyAddresses"][0]["ip"] == "10.42.9.9");
  REQUIRE(Harness::wait_for(
      [&] {
        json s = slices_for(h, "web");
        if (s.size() != 1) return false;
        int not_ready = 0;
        for (const auto& e : s[0]["endpoints"]) not_ready += e["conditions"]["ready"] == false ? 1 : 0;
        return not_ready == 1 && s[0]["endpoints"].size() == 3;
      },
      10s));

  // Service deleted: Endpoints and slices go.
  REQUIRE(api.remove(client::res::kServices, "default", "web").has_value());
  REQUIRE(Harness::wait_for(
      [&] { return h.get(client::res::kEndpoints, "default", "web").is_null() && slices_for(h, "web").empty(); }, 10s));
}

TEST_CASE("endpoints: the kubernetes service has its EndpointSlice") {
  Harness h;
  REQUIRE_MESSAGE(Harness::wait_for([&] { return slices_for(h, "kubernetes").size() == 1; }, 10s),
                  h.get(client::res::kEndpoints, "default", "kubernetes").dump());
  json sl = slices_for(h, "kubernetes")[0];
  CHECK(sl["endpoints"][0]["addresses"][0] == "127.0.0.1");
  CHECK(sl["ports"][0]["port"] == 6443);
  CHECK(sl["ports"][0]["name"] == "https");
}
