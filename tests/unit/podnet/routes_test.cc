#include <doctest/doctest.h>

#include "podnet/routes.h"

using namespace k3dpp::podnet;
using json = nlohmann::json;

namespace {
json node(const std::string& name, const std::string& cidr, const std::string& ip) {
  json n = {{"metadata", {{"name", name}}}, {"spec", json::object()}, {"status", {{"addresses", json::array()}}}};
  if (!cidr.empty()) n["spec"]["podCIDR"] = cidr;
  n["status"]["addresses"].push_back({{"type", "Hostname"}, {"address", name}});
  if (!ip.empty()) n["status"]["addresses"].push_back({{"type", "InternalIP"}, {"address", ip}});
  return n;
}
}  // namespace

TEST_CASE("plan_routes: every other node with a podCIDR and an InternalIP") {
  std::vector<json> nodes = {node("s0", "10.42.0.0/24", "172.18.0.2"), node("a1", "10.42.2.0/24", "172.18.0.4"),
                             node("a0", "10.42.1.0/24", "172.18.0.3"), node("nocidr", "", "172.18.0.5"),
                             node("noip", "10.42.3.0/24", ""),        node("bad", "10.42.4.0/33", "172.18.0.6"),
                             node("evil", "10.42.5.0/24; reboot", "172.18.0.7")};
  json gone = node("gone", "10.42.6.0/24", "172.18.0.8");
  gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  nodes.push_back(gone);
  auto routes = plan_routes(nodes, "s0");
  REQUIRE(routes.size() == 2);
  CHECK(routes[0] == Route{"10.42.1.0/24", "172.18.0.3", "a0", ""});
  CHECK(routes[1] == Route{"10.42.2.0/24", "172.18.0.4", "a1", ""});
  // From another node's point of view, s0's CIDR is there and a0's is not.
  auto from_a0 = plan_routes(nodes, "a0");
  REQUIRE(from_a0.size() == 2);
  CHECK(from_a0[0].node == "s0");
  CHECK(from_a0[1].node == "a1");
}

TEST_CASE("plan_routes: a duplicated CIDR goes to one node, deterministically") {
  std::vector<json> nodes = {node("b", "10.42.1.0/24", "172.18.0.3"), node("a", "10.42.1.0/24", "172.18.0.4")};
  auto r = plan_routes(nodes, "me");
  REQUIRE(r.size() == 1);
  CHECK(r[0].node == "a");
  std::reverse(nodes.begin(), nodes.end());
  CHECK(plan_routes(nodes, "me")[0].node == "a");
}

TEST_CASE("diff_routes") {
  std::vector<Route> cur = {{"10.42.1.0/24", "172.18.0.3", "a0", ""}, {"10.42.2.0/24", "172.18.0.4", "a1", ""}};
  std::vector<Route> want = {{"10.42.1.0/24", "172.18.0.9", "a0", ""}, {"10.42.3.0/24", "172.18.0.5", "a2", ""}};
  auto d = diff_routes(cur, want);
  REQUIRE(d.replace.size() == 2);
  CHECK(d.replace[0].via == "172.18.0.9");
  CHECK(d.replace[1].cidr == "10.42.3.0/24");
  REQUIRE(d.remove.size() == 1);
  CHECK(d.remove[0].cidr == "10.42.2.0/24");
  auto none = diff_routes(cur, cur);
  CHECK(none.replace.empty());
  CHECK(none.remove.empty());
}

TEST_CASE("plan_routes vxlan: peers need a valid VTEP MAC; self_info reads my own Node") {
  auto with_mac = [](json n, const std::string& mac) {
    n["metadata"]["annotations"]["k3dpp.io/vtep-mac"] = mac;
    return n;
  };
  std::vector<json> nodes = {with_mac(node("s0", "10.42.0.0/24", "10.89.0.2"), "02:6b:0a:2a:00:00"),
                             with_mac(node("a0", "10.42.1.0/24", "10.89.0.3"), "02:6B:0A:2A:01:00"),
                             node("a1", "10.42.2.0/24", "10.89.0.4"),
                             with_mac(node("a2", "10.42.3.0/24", "10.89.0.5"), "03:00:00:00:00:01"),
                             with_mac(node("a3", "10.42.4.0/24", "10.89.0.6"), "02:6b:0a:2a:04")};
  auto r = plan_routes(nodes, "s0", Backend::kVxlan);
  REQUIRE(r.size() == 1);
  CHECK(r[0] == Route{"10.42.1.0/24", "10.89.0.3", "a0", "02:6b:0a:2a:01:00"});
  // host-gw ignores the annotation.
  CHECK(plan_routes(nodes, "s0").size() == 4);
  auto me = self_info(nodes, "s0");
  CHECK(me.pod_cidr == "10.42.0.0/24");
  CHECK(me.internal_ip == "10.89.0.2");
  CHECK(me.vtep_mac == "02:6b:0a:2a:00:00");
  CHECK(self_info(nodes, "nobody").pod_cidr.empty());
}

TEST_CASE("diff_routes vxlan: a changed MAC removes the old entries first") {
  std::vector<Route> cur = {{"10.42.1.0/24", "10.89.0.3", "a0", "02:6b:0a:2a:01:00"}};
  std::vector<Route> want = {{"10.42.1.0/24", "10.89.0.3", "a0", "02:6b:0a:2a:01:01"}};
  auto ch = diff_routes(cur, want);
  REQUIRE(ch.remove.size() == 1);
  CHECK(ch.remove[0].vtep_mac == "02:6b:0a:2a:01:00");
  REQUIRE(ch.replace.size() == 1);
  CHECK(ch.replace[0].vtep_mac == "02:6b:0a:2a:01:01");
  // Only the VTEP IP changed: replaced in place.
  want[0] = {"10.42.1.0/24", "10.89.0.9", "a0", "02:6b:0a:2a:01:00"};
  ch = diff_routes(cur, want);
  CHECK(ch.remove.empty());
  CHECK(ch.replace.size() == 1);
  CHECK(diff_routes(cur, cur).replace.empty());
}

TEST_CASE("network_address, vtep_mac_for, valid_mac") {
  CHECK(network_address("10.42.1.0/24") == "10.42.1.0");
  CHECK(network_address("10.42.1.77/24") == "10.42.1.0");
  CHECK(network_address("10.42.0.0/16") == "10.42.0.0");
  CHECK(network_address("bogus").empty());
  CHECK(vtep_mac_for("10.42.1.0/24") == "02:6b:0a:2a:01:00");
  CHECK(vtep_mac_for("10.42.255.0/24") == "02:6b:0a:2a:ff:00");
  CHECK(vtep_mac_for("x").empty());
  CHECK(valid_mac("02:6b:0a:2a:01:00"));
  CHECK(valid_mac("02:6B:0A:2A:01:00"));
  CHECK(!valid_mac("01:00:5e:00:00:01"));  // multicast
  CHECK(!valid_mac("02:6b:0a:2a:01"));
  CHECK(!valid_mac("02-6b-0a-2a-01-00"));
  CHECK(!valid_mac("zz:6b:0a:2a:01:00"));
}

TEST_CASE("parse_backend and address checks") {
  CHECK(*parse_backend("host-gw") == Backend::kHostGw);
  CHECK(*parse_backend("vxlan") == Backend::kVxlan);
  auto bad = parse_backend("wireguard");
  REQUIRE(!bad);
  CHECK(bad.error().message == "unknown pod network backend \"wireguard\" (want host-gw or vxlan)");
  CHECK(valid_ipv4_cidr("10.42.0.0/16"));
  CHECK(!valid_ipv4_cidr("10.42.0.0"));
  CHECK(!valid_ipv4_cidr("10.42.0.0/"));
  CHECK(!valid_ipv4_cidr("fd00::/64"));
  CHECK(!valid_ipv4("1.2.3"));
}
