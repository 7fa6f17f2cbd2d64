#include <doctest/doctest.h>

#include "controllers/node_lifecycle.h"

using namespace k3dpp::controllers;

namespace {
json node(const std::string& ready, const json& taints = json::array()) {
  return {{"metadata", {{"name", "n1"}}},
          {"spec", {{"taints", taints}}},
          {"status", {{"conditions", json::array({{{"type", "Ready"}, {"status", ready}}})}}}};
}
}  // namespace

TEST_CASE("taints follow the Ready condition; others and timeAdded are kept") {
  CHECK(reconcile_taints(node("True"), "T").empty());
  CHECK(reconcile_taints(node("Unknown"), "T") ==
        json::parse(R"([{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},
                        {"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"T"}])"));
  json n = node("False", json::parse(R"([{"key":"dedicated","value":"x","effect":"NoSchedule"},
      {"key":"node.kubernetes.io/not-ready","effect":"NoExecute","timeAdded":"OLD"},
      {"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"OLD"}])"));
  CHECK(reconcile_taints(n, "T") ==
        json::parse(R"([{"key":"dedicated","value":"x","effect":"NoSchedule"},
                        {"key":"node.kubernetes.io/not-ready","effect":"NoExecute","timeAdded":"OLD"},
                        {"key":"node.kubernetes.io/not-ready","effect":"NoSchedule"}])"));
  json u = node("True");
  u["spec"]["unschedulable"] = true;
  CHECK(reconcile_taints(u, "T") == json::parse(R"([{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule"}])"));
}

TEST_CASE("conditions go Unknown with Kubernetes' words") {
  json c = conditions_unknown(node("True"), "NOW");
  REQUIRE(c.size() == 4);
  CHECK(c[0] == json::parse(R"({"type":"Ready","status":"Unknown","reason":"NodeStatusUnknown",
      "message":"Kubelet stopped posting node status.","lastTransitionTime":"NOW"})"));
  CHECK(c[1]["reason"] == "NodeStatusNeverUpdated");
}

TEST_CASE("eviction time from tolerations") {
  auto now = parse_rfc3339("2026-01-01T00:00:10Z").value();
  json taints = json::parse(R"([{"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2026-01-01T00:00:00Z"},
                                {"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"}])");
  json pod = json::parse(R"({"spec":{"tolerations":[
      {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}})");
  CHECK(eviction_time(pod, taints, now) == parse_rfc3339("2026-01-01T00:05:00Z"));
  json forever = json::parse(R"({"spec":{"tolerations":[{"operator":"Exists"}]}})");
  CHECK(!eviction_time(forever, taints, now).has_value());
  json none = json::parse(R"({"spec":{}})");
  CHECK(eviction_time(none, taints, now) == now);
  CHECK(!eviction_time(none, json::array(), now).has_value());
}

TEST_CASE("pod CIDR indexes") {
  CHECK(free_cidr_index({}) == 0);
  CHECK(free_cidr_index({0, 1, 3}) == 2);
  CHECK(cidr_index("10.42.7.0/24", "10.42.") == 7);
  CHECK(cidr_index("10.43.7.0/24", "10.42.") == -1);
  CHECK(cidr_index("10.42.7.1/24", "10.42.") == -1);
}
