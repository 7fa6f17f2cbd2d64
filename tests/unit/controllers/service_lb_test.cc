// plan_load_balancers: which LoadBalancer services are served, on which node addresses, and why
// the others stay pending.
#include <doctest/doctest.h>

#include "controllers/service_lb.h"

using namespace k3dpp::controllers;

namespace {

json node(const std::string& name, const std::string& ip, bool ready, const std::string& external = "") {
  json addrs = json::array({{{"type", "InternalIP"}, {"address", ip}}, {{"type", "Hostname"}, {"address", name}}});
  if (!external.empty()) addrs.push_back({{"type", "ExternalIP"}, {"address", external}});
  return {{"metadata", {{"name", name}}},
          {"status",
           {{"addresses", addrs},
            {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "Unknown"}}})}}}};
}

json service(const std::string& name, const std::string& type, const std::string& created,
             std::vector<std::pair<int, std::string>> ports, const json& ingress = json::array()) {
  json ps = json::array();
  int np = 30000 + static_cast<int>(name.size()) * 10;
  for (auto& [port, proto] : ports) {
    json p = {{"port", port}, {"protocol", proto}};
    if (type != "ClusterIP") p["nodePort"] = np++;
    ps.push_back(p);
  }
  json s = {{"metadata", {{"namespace", "default"}, {"name", name}, {"creationTimestamp", created}}},
            {"spec", {{"type", type}, {"ports", ps}}},
            {"status", {{"loadBalancer", json::object()}}}};
  if (!ingress.empty()) s["status"]["loadBalancer"]["ingress"] = ingress;
  return s;
}

std::vector<const json*> ptrs(const std::vector<json>& v) {
  std::vector<const json*> out;
  for (const auto& j : v) out.push_back(&j);
  return out;
}

const LoadBalancerPlan* find(const std::vector<LoadBalancerPlan>& plans, const std::string& name) {
  for (const auto& p : plans)
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace

TEST_CASE("ingress lists the Ready nodes' addresses, sorted, ExternalIP preferred") {
  std::vector<json> nodes = {node("agent-0", "172.18.0.4", true), node("server-0", "172.18.0.3", true),
                             node("agent-1", "172.18.0.5", false), node("edge", "172.18.0.6", true, "192.0.2.7")};
  CHECK(load_balancer_addresses(ptrs(nodes)) ==
        std::vector<std::string>{"172.18.0.3", "172.18.0.4", "192.0.2.7"});
  // A cluster with no Ready node yet still gets addresses.
  std::vector<json> starting = {node("server-0", "172.18.0.3", false)};
  CHECK(load_balancer_addresses(ptrs(starting)) == std::vector<std::string>{"172.18.0.3"});
  CHECK(load_balancer_addresses({}).empty());
}

TEST_CASE("only type LoadBalancer without a loadBalancerClass is managed") {
  std::vector<json> svcs = {service("web", "LoadBalancer", "2026-01-01T00:00:00Z", {{80, "TCP"}}),
                            service("np", "NodePort", "2026-01-01T00:00:00Z", {{81, "TCP"}}),
                            service("cip", "ClusterIP", "2026-01-01T00:00:00Z", {{82, "TCP"}})};
  svcs.push_back(service("classy", "LoadBalancer", "2026-01-01T00:00:00Z", {{83, "TCP"}}));
  svcs.back()["spec"]["loadBalancerClass"] = "example.com/other";
  std::vector<json> nodes = {node("server-0", "172.18.0.3", true)};
  auto plans = plan_load_balancers(ptrs(svcs), ptrs(nodes), node_reserved_ports());
  REQUIRE(plans.size() == 1);
  CHECK(plans[0].name == "web");
  CHECK(plans[0].conflict.empty());
  CHECK(plans[0].ingress == json::parse(R"([{"ip":"172.18.0.3","ipMode":"VIP"}])"));
}

TEST_CASE("a port clash leaves the younger service pending, with the reason") {
  std::vector<json> svcs = {service("young", "LoadBalancer", "2026-01-02T00:00:00Z", {{80, "TCP"}}),
                            service("old", "LoadBalancer", "2026-01-01T00:00:00Z", {{80, "TCP"}, {443, "TCP"}}),
                            service("udp80", "LoadBalancer", "2026-01-03T00:00:00Z", {{80, "UDP"}})};
  std::vector<json> nodes = {node("server-0", "172.18.0.3", true), node("agent-0", "172.18.0.4", true)};
  auto plans = plan_load_balancers(ptrs(svcs), ptrs(nodes), node_reserved_ports());
  REQUIRE(plans.size() == 3);
  const auto* old = find(plans, "old");
  const auto* young = find(plans, "young");
  const auto* udp = find(plans, "udp80");
  REQUIRE((old && young && udp));
  CHECK(old->ingress.size() == 2);
  CHECK(old->conflict.empty());
  CHECK(young->ingress.empty());
  CHECK(young->conflict == "port 80/TCP is not available: it is already used by LoadBalancer service default/old");
  // Another protocol on the same number is no clash.
  CHECK(udp->conflict.empty());
  CHECK(udp->ingress.size() == 2);
}

TEST_CASE("a service already serving keeps its port against an older one changed to clash") {
  json ing = json::parse(R"([{"ip":"172.18.0.3","ipMode":"VIP"}])");
  std::vector<json> svcs = {service("older", "LoadBalancer", "2026-01-01T00:00:00Z", {{8080, "TCP"}}),
                            service("serving", "LoadBalancer", "2026-01-05T00:00:00Z", {{8080, "TCP"}}, ing)};
  std::vector<json> nodes = {node("server-0", "172.18.0.3", true)};
  auto plans = plan_load_balancers(ptrs(svcs), ptrs(nodes), node_reserved_ports());
  CHECK(find(plans, "serving")->conflict.empty());
  CHECK(find(plans, "older")->conflict ==
        "port 8080/TCP is not available: it is already used by LoadBalancer service default/serving");
}

TEST_CASE("ports of the node itself and other services' NodePorts are not given out") {
  std::vector<json> svcs = {service("api", "LoadBalancer", "2026-01-01T00:00:00Z", {{6443, "TCP"}}),
                            service("dns", "LoadBalancer", "2026-01-01T00:00:00Z", {{53, "UDP"}}),
                            service("np", "NodePort", "2026-01-01T00:00:00Z", {{80, "TCP"}})};
  const int np_port = svcs[2]["spec"]["ports"][0]["nodePort"].get<int>();
  svcs.push_back(service("onnp", "LoadBalancer", "2026-01-01T00:00:00Z", {{np_port, "TCP"}}));
  std::vector<json> nodes = {node("server-0", "172.18.0.3", true)};
  auto plans = plan_load_balancers(ptrs(svcs), ptrs(nodes), node_reserved_ports());
  CHECK(find(plans, "api")->conflict == "port 6443/TCP is not available: it is used by the API server on every node");
  CHECK(find(plans, "api")->ingress.empty());
  CHECK(find(plans, "dns")->conflict ==
        "port 53/UDP is not available: it is used by the node-local DNS server on every node");
  CHECK(find(plans, "onnp")->conflict == "port " + std::to_string(np_port) +
                                             "/TCP is not available: it is the NodePort of service default/np");
}

TEST_CASE("a service's own NodePort equal to its port is no clash; no node means pending without a conflict") {
  std::vector<json> svcs = {service("self", "LoadBalancer", "2026-01-01T00:00:00Z", {{30000, "TCP"}})};
  svcs[0]["spec"]["ports"][0]["nodePort"] = 30000;
  std::vector<json> nodes = {node("server-0", "172.18.0.3", true)};
  auto plans = plan_load_balancers(ptrs(svcs), ptrs(nodes), node_reserved_ports());
  CHECK(plans[0].conflict.empty());
  CHECK(plans[0].ingress.size() == 1);
  auto none = plan_load_balancers(ptrs(svcs), {}, node_reserved_ports());
  CHECK(none[0].conflict.empty());
  CHECK(none[0].ingress.empty());
}
