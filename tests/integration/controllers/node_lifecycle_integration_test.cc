// Node lifecycle against the real ApiServer: pod CIDRs, NotReady (Unknown) without Lease renewals,
// taints, eviction after tolerationSeconds and the Deployment recreating its pods elsewhere.
#include <doctest/doctest.h>

#include <set>

#include "controllers/util.h"
#include "harness.h"

using namespace k3dpp;
using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::Harness;

namespace {

std::string ready_of(const json& node) {
  for (const auto& c : node["status"].value("conditions", json::array())) {
    if (c["type"] == "Ready") return c.value("status", "");
  }
  return "";
}

std::set<std::string> taint_keys(const json& node) {
  std::set<std::string> out;
  for (const auto& t : node["spec"].value("taints", json::array())) {
    out.insert(t.value("key", "") + ":" + t.value("effect", ""));
  }
  return out;
}

}  // namespace

TEST_CASE("node lifecycle: pod CIDRs, lost node, taints, eviction and rescheduling") {
  testing::HarnessOptions o;
  o.manager.node_monitor_grace = 3s;
  o.lease_seconds = 1;
  Harness h(o);
  auto& api = h.api();

  // Pod CIDRs 10.42.N.0/24, distinct.
  REQUIRE(Harness::wait_for(
      [&] {
        return !h.get(client::res::kNodes, "", "hollow-node-0")["spec"].value("podCIDR", "").empty() &&
               !h.get(client::res::kNodes, "", "hollow-node-1")["spec"].value("podCIDR", "").empty();
      },
      10s));
  json n0 = h.get(client::res::kNodes, "", "hollow-node-0");
  json n1 = h.get(client::res::kNodes, "", "hollow-node-1");
  std::set<std::string> cidrs = {n0["spec"]["podCIDR"], n1["spec"]["podCIDR"]};
  CHECK(cidrs == std::set<std::string>{"10.42.0.0/24", "10.42.1.0/24"});
  CHECK(n0["spec"]["podCIDRs"] == json::array({n0["spec"]["podCIDR"]}));

  // Healthy nodes stay Ready well past the grace period.
  std::this_thread::sleep_for(4s);
  CHECK_MESSAGE(ready_of(h.get(client::res::kNodes, "", "hollow-node-0")) == "True",
                h.get(client::res::kNodes, "", "hollow-node-0").dump());
  CHECK(taint_keys(h.get(client::res::kNodes, "", "hollow-node-0")).empty());

  // A deployment whose pods tolerate unreachable for 2 s.
  json d = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
    "spec":{"replicas":4,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
    "spec":{"containers":[{"name":"web","image":"nginx:1.24"}],
    "tolerations":[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":2},
                   {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":2}]}}}})");
  REQUIRE(api.create(client::res::kDeployments, "default", d).has_value());
  auto running_on = [&](const std::string& node) {
    int n = 0;
    for (const auto& p : h.pods("default", "app=web")) {
      if (p["spec"].value("nodeName", "") == node && controllers::pod_is_active(p) && controllers::pod_is_ready(p)) ++n;
    }
    return n;
  };
  REQUIRE(Harness::wait_for([&] { return running_on("hollow-node-0") + running_on("hollow-node-1") == 4; }, 15s));
  REQUIRE(running_on("hollow-node-1") > 0);
  // Pod IPs come from the node's CIDR.
  for (const auto& p : h.pods("default", "app=web")) {
    json node = h.get(client::res::kNodes, "", p["spec"]["nodeName"]);
    std::string prefix = node["spec"]["podCIDR"].get<std::string>().substr(0, node["spec"]["podCIDR"].get<std::string>().size() - 4);
    CHECK(p["status"]["podIP"].get<std::string>().rfind(prefix, 0) == 0);
  }

  h.hollow().kill_node(1);
  REQUIRE_MESSAGE(Harness::wait_for([&] { return ready_of(h.get(client::res::kNodes, "", "hollow-node-1")) == "Unknown"; }, 10s),
                  h.get(client::res::kNodes, "", "hollow-node-1").dump());
  json lost = h.get(client::res::kNodes, "", "hollow-node-1");
  for (const auto& c : lost["status"]["conditions"]) {
    if (c["type"] == "Ready") {
      CHECK(c["reason"] == "NodeStatusUnknown");
      CHECK(c["message"] == "Kubelet stopped posting node status.");
    }
  }
  REQUIRE(Harness::wait_for(
      [&] {
        return taint_keys(h.get(client::res::kNodes, "", "hollow-node-1")) ==
               std::set<std::string>{"node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"};
      },
      5s));
  // After tolerationSeconds the pods are evicted and the Deployment brings 4 back on node 0.
  REQUIRE_MESSAGE(Harness::wait_for([&] { return running_on("hollow-node-0") == 4; }, 20s),
                  [&] {
                    std::string s;
                    for (const auto& p : h.pods("default")) s += p.dump() + "\n";
                    return s;
                  }());
  bool evicted = false;
  for (const auto& p : h.pods("default", "app=web")) {
    if (p["spec"].value("nodeName", "") == "hollow-node-1") evicted |= controllers::is_deleting(p);
  }
  CHECK(evicted);  // still Terminating: nobody on the lost node confirms the deletion
  auto ev = api.list(client::res::kEvents, "default");
  REQUIRE(ev.has_value());
  bool eviction_event = false;
  for (const auto& e : ev->items) eviction_event |= e.value("reason", "") == "TaintManagerEviction";
  CHECK(eviction_event);

  // The node comes back: Ready again, taints removed.
  h.hollow().revive_node(1);
  REQUIRE(Harness::wait_for(
      [&] {
        json n = h.get(client::res::kNodes, "", "hollow-node-1");
        return ready_of(n) == "True" && taint_keys(n).empty();
      },
      10s));
}
