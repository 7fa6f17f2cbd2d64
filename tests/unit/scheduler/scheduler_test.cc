#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <set>

#include "scheduler/assume_cache.h"
#include "scheduler/scheduler.h"

using namespace k3dpp::scheduler;

namespace {

json node(const std::string& name, bool ready = true, json labels = json::object()) {
  labels["kubernetes.io/hostname"] = name;
  return {{"metadata", {{"name", name}, {"labels", labels}}},
          {"spec", json::object()},
          {"status", {{"allocatable", {{"cpu", "2"}, {"memory", "4Gi"}, {"pods", "110"}}},
                      {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}

json pod(const std::string& name, const std::string& node_name = "", const std::string& cpu = "") {
  json p = {{"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec", {{"containers", {{{"name", "c"}, {"image", "nginx"}}}}}}};
  if (!node_name.empty()) p["spec"]["nodeName"] = node_name;
  if (!cpu.empty()) p["spec"]["containers"][0]["resources"]["requests"]["cpu"] = cpu;
  return p;
}

}  // namespace

TEST_CASE("quantities") {
  CHECK(parse_cpu_milli("100m") == 100);
  CHECK(parse_cpu_milli("2") == 2000);
  CHECK(parse_cpu_milli("0.5") == 500);
  CHECK(parse_quantity("1Gi") == 1073741824LL);
  CHECK(parse_quantity("128Mi") == 134217728LL);
  CHECK(parse_quantity("110") == 110);
}

TEST_CASE("nodeSelector mismatch gives Kubernetes' FailedScheduling wording") {
  json n1 = node("a"), n2 = node("b");
  json p = pod("p");
  p["spec"]["nodeSelector"] = {{"disk", "ssd"}};
  auto d = schedule_one(p, {&n1, &n2}, {});
  CHECK(d.node.empty());
  CHECK(d.message ==
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are "
        "available: 2 Preemption is not helpful for scheduling.");
}

TEST_CASE("taints, tolerations, readiness and unschedulable") {
  json n = node("a");
  n["spec"]["taints"] = json::array({{{"key", "dedicated"}, {"value", "gpu"}, {"effect", "NoSchedule"}}});
  json p = pod("p");
  CHECK(filter_node(p, n, {}) == "node(s) had untolerated taint {dedicated: gpu}");
  p["spec"]["tolerations"] = json::array({{{"key", "dedicated"}, {"operator", "Equal"}, {"value", "gpu"}}});
  CHECK(filter_node(p, n, {}) == "");
  json nr = node("b", false);
  CHECK(filter_node(pod("q"), nr, {}) == "node(s) had untolerated taint {node.kubernetes.io/not-ready}");
  json cordoned = node("c");
  cordoned["spec"]["unschedulable"] = true;
  CHECK(filter_node(pod("q"), cordoned, {}) == "node(s) were unschedulable");
}

TEST_CASE("required node affinity") {
  json n = node("a", true, {{"zone", "eu"}});
  json p = pod("p");
  p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] =
      json::array({{{"matchExpressions", {{{"key", "zone"}, {"operator", "In"}, {"values", {"us"}}}}}}});
  CHECK(filter_node(p, n, {}) == "node(s) didn't match Pod's node affinity/selector");
  p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
   ["matchExpressions"][0]["values"] = {"us", "eu"};
  CHECK(filter_node(p, n, {}) == "");
}

TEST_CASE("resources and host ports") {
  json n = node("a");
  json big = pod("big", "a", "1500m");
  CHECK(filter_node(pod("p", "", "600m"), n, {&big}) == "Insufficient cpu");
  CHECK(filter_node(pod("p", "", "500m"), n, {&big}) == "");
  json hp = pod("hp", "a");
  hp["spec"]["containers"][0]["ports"] = json::array({{{"containerPort", 80}, {"hostPort", 8080}}});
  json want = pod("w");
  want["spec"]["containers"][0]["ports"] = json::array({{{"containerPort", 80}, {"hostPort", 8080}}});
  CHECK(filter_node(want, n, {&hp}) == "node(s) didn't have free ports for the requested pod ports");
}

TEST_CASE("scoring spreads one owner's replicas and prefers the least requested node") {
  json a = node("a"), b = node("b");
  json owned = pod("r1", "a");
  owned["metadata"]["ownerReferences"] = json::array({{{"uid", "rs1"}, {"controller", true}}});
  json p = pod("r2");
  p["metadata"]["ownerReferences"] = owned["metadata"]["ownerReferences"];
  CHECK(schedule_one(p, {&a, &b}, {&owned}).node == "b");
  json heavy = pod("h", "b", "1800m");
  CHECK(schedule_one(pod("x"), {&a, &b}, {&heavy}).node == "a");
  json down = node("c", false);
  CHECK(schedule_one(pod("y"), {&down}, {}).message ==
        "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready}. preemption: 0/1 "
        "nodes are available: 1 Preemption is not helpful for scheduling.");
}

namespace {

// Schedules n pods of one owner one after another, each decision counting for the next (what the
// assume cache gives the loop); returns node → count.
std::map<std::string, int> place(const std::vector<const json*>& nodes, int n, const std::string& owner,
                                 std::vector<json>& placed) {
  std::map<std::string, int> out;
  placed.reserve(placed.size() + static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    json p = pod(owner + "-" + std::to_string(i));
    if (!owner.empty()) p["metadata"]["ownerReferences"] = json::array({{{"uid", owner}, {"controller", true}}});
    std::vector<const json*> ptrs;
    for (const auto& q : placed) ptrs.push_back(&q);
    Decision d = schedule_one(p, nodes, ptrs);
    REQUIRE(!d.node.empty());
    out[d.node]++;
    p["spec"]["nodeName"] = d.node;
    placed.push_back(p);
  }
  return out;
}

}  // namespace

TEST_CASE("replicas created together spread evenly; pods without requests spread by count") {
  json a = node("a"), b = node("b"), c = node("c"), d = node("d");
  std::vector<json> placed;
  CHECK(place({&a, &b, &c, &d}, 12, "rs1", placed) == std::map<std::string, int>{{"a", 3}, {"b", 3}, {"c", 3}, {"d", 3}});
  // Unowned pods: least allocated with the non-zero default requests (100m, 200Mi) evens the count.
  std::vector<json> loose;
  CHECK(place({&a, &b}, 6, "", loose) == std::map<std::string, int>{{"a", 3}, {"b", 3}});
}

TEST_CASE("spreading one owner outweighs a busier node; ties go to the node with fewer pods") {
  json a = node("a"), b = node("b");
  std::vector<json> placed;
  for (int i = 0; i < 4; ++i) placed.push_back(pod("other-" + std::to_string(i), "a"));
  json mine = pod("rs2-0", "b");
  mine["metadata"]["ownerReferences"] = json::array({{{"uid", "rs2"}, {"controller", true}}});
  placed.push_back(mine);
  json next = pod("rs2-1");
  next["metadata"]["ownerReferences"] = mine["metadata"]["ownerReferences"];
  std::vector<const json*> ptrs;
  for (const auto& q : placed) ptrs.push_back(&q);
  CHECK(schedule_one(next, {&a, &b}, ptrs).node == "a");
  // Same scores (huge nodes, so resources do not tell them apart): fewer pods wins, then the name.
  json big_a = node("a"), big_b = node("b");
  big_a["status"]["allocatable"] = {{"cpu", "100000"}, {"memory", "100000Gi"}, {"pods", "110"}};
  big_b["status"]["allocatable"] = big_a["status"]["allocatable"];
  json on_a = pod("x", "a");
  CHECK(schedule_one(pod("y"), {&big_a, &big_b}, {&on_a}).node == "b");
  CHECK(schedule_one(pod("y"), {&big_a, &big_b}, {}).node == "a");
}

TEST_CASE("assume cache: a bound pod counts until the caller's snapshot shows the binding") {
  AssumeCache cache;
  std::map<std::string, std::shared_ptr<const json>> store;
  std::set<std::string> snapshot;  // keys the caller counted as bound
  auto lookup = [&](const std::string& k) -> std::shared_ptr<const json> {
    auto it = store.find(k);
    return it == store.end() ? nullptr : it->second;
  };
  auto observed = [&](const std::string& k) { return snapshot.count(k) > 0; };
  json p = pod("p1");
  p["metadata"]["uid"] = "u1";
  store["default/p1"] = std::make_shared<const json>(p);
  cache.assume("default/p1", "u1", "node-a");
  auto in = cache.in_flight(lookup, observed);
  REQUIRE(in.size() == 1);
  CHECK(in[0]["spec"]["nodeName"] == "node-a");
  CHECK(in[0]["metadata"]["name"] == "p1");
  CHECK(cache.in_flight(lookup, observed).size() == 1);  // still not observed: still counted
  // The live cache shows the binding but the caller's snapshot (taken before) does not: it must
  // still count here, else it would count nowhere.
  json bound = p;
  bound["spec"]["nodeName"] = "node-a";
  store["default/p1"] = std::make_shared<const json>(bound);
  CHECK(cache.in_flight(lookup, observed).size() == 1);
  // The snapshot has it: the assumption goes.
  snapshot.insert("default/p1");
  CHECK(cache.in_flight(lookup, observed).empty());
  CHECK(cache.size() == 0);
  // Deleted before observed, or replaced by a pod of the same name: dropped.
  cache.assume("default/p2", "u2", "node-b");
  CHECK(cache.in_flight(lookup, observed).empty());
  json p3 = pod("p3");
  p3["metadata"]["uid"] = "new";
  store["default/p3"] = std::make_shared<const json>(p3);
  cache.assume("default/p3", "old", "node-b");
  CHECK(cache.in_flight(lookup, observed).empty());
}

TEST_CASE("node infos: a heartbeat is not a scheduling change; labels, taints, readiness and allocatable are") {
  json n = node("a");
  NodeInfo base = node_info(std::make_shared<const json>(n));
  CHECK(base.name == "a");
  CHECK(base.alloc_cpu == 2000);
  CHECK(base.alloc_pods == 110);
  CHECK(base.taints.empty());
  json beat = n;
  beat["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-11-27T10:00:00Z";
  beat["metadata"]["resourceVersion"] = "42";
  CHECK(same_for_scheduling(base, node_info(std::make_shared<const json>(beat))));
  json labelled = n;
  labelled["metadata"]["labels"]["disk"] = "ssd";
  CHECK_FALSE(same_for_scheduling(base, node_info(std::make_shared<const json>(labelled))));
  json cordoned = n;
  cordoned["spec"]["unschedulable"] = true;
  NodeInfo c = node_info(std::make_shared<const json>(cordoned));
  CHECK_FALSE(same_for_scheduling(base, c));
  REQUIRE(c.taints.size() == 1);
  CHECK(c.taints[0]["key"] == "node.kubernetes.io/unschedulable");
  CHECK_FALSE(same_for_scheduling(base, node_info(std::make_shared<const json>(node("a", false)))));
  json bigger = n;
  bigger["status"]["allocatable"]["pods"] = "250";
  CHECK_FALSE(same_for_scheduling(base, node_info(std::make_shared<const json>(bigger))));
}

TEST_CASE("schedule_prepared decides as schedule_on_usage does") {
  json a = node("a"), b = node("b"), c = node("c");
  c["spec"]["taints"] = json::array({{{"key", "k"}, {"effect", "NoSchedule"}}});
  UsageByNode usage;
  usage["a"].add(usage_of(pod("x", "a", "500m")));
  json p = pod("p", "", "100m");
  std::vector<NodeInfo> infos;
  for (const json* n : {&a, &b, &c}) infos.push_back(node_info(std::make_shared<const json>(*n)));
  std::vector<const NodeInfo*> ptrs;
  for (const auto& i : infos) ptrs.push_back(&i);
  auto d = schedule_prepared(p, usage_of(p), ptrs, usage);
  CHECK(d.node == "b");
  CHECK(d.node == schedule_on_usage(p, {&a, &b, &c}, usage).node);
  json big = pod("big", "", "3");
  auto none = schedule_prepared(big, usage_of(big), ptrs, usage);
  CHECK(none.node.empty());
  CHECK(none.message == schedule_on_usage(big, {&a, &b, &c}, usage).message);
  CHECK(none.message.find("2 Insufficient cpu") != std::string::npos);
  CHECK(none.message.find("1 node(s) had untolerated taint {k}") != std::string::npos);
}

TEST_CASE("schedule_slots: the pod's tolerations, nodeSelector and required affinity are read once, per node as before") {
  json a = node("a", true, {{"disk", "ssd"}}), b = node("b"), c = node("c", true, {{"disk", "ssd"}});
  c["spec"]["taints"] = json::array({{{"key", "k"}, {"value", "v"}, {"effect", "NoSchedule"}}});
  std::vector<NodeInfo> infos;
  for (const json* n : {&a, &b, &c}) infos.push_back(node_info(std::make_shared<const json>(*n)));
  std::vector<NodeInfo> copies = infos;  // labels point into the shared object: copies stay valid
  infos.clear();
  NodeUsage on_a;
  on_a.add(usage_of(pod("x", "a", "1950m")));
  std::vector<NodeSlot> slots = {{&copies[0], &on_a}, {&copies[1], nullptr}, {&copies[2], nullptr}};

  json plain = pod("p", "", "100m");
  PodInfo pi = pod_info(plain);
  CHECK(pi.tolerations == nullptr);
  CHECK(pi.node_selector == nullptr);
  CHECK(pi.required_terms == nullptr);
  CHECK(pi.usage.cpu == 100);
  CHECK(schedule_slots(pi, slots).node == "b");  // a is full, c is tainted

  json ssd = pod("s", "", "100m");
  ssd["spec"]["nodeSelector"] = {{"disk", "ssd"}};
  auto none = schedule_slots(pod_info(ssd), slots);
  CHECK(none.node.empty());  // a is full, b has no disk label, c is tainted
  CHECK(none.message.find("1 node(s) didn't match Pod's node affinity/selector") != std::string::npos);
  CHECK(none.message.find("1 node(s) had untolerated taint {k: v}") != std::string::npos);
  CHECK(none.message.find("1 Insufficient cpu") != std::string::npos);
  CHECK(schedule_slots(pod_info(ssd), {{&copies[0], nullptr}, {&copies[1], nullptr}}).node == "a");  // a empty

  json tolerant = ssd;
  tolerant["spec"]["tolerations"] = json::array({{{"key", "k"}, {"operator", "Exists"}}});
  PodInfo ti = pod_info(tolerant);
  REQUIRE(ti.tolerations != nullptr);
  CHECK(schedule_slots(ti, slots).node == "c");

  json affine = pod("f", "", "100m");
  affine["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] =
      json::array({{{"matchExpressions", json::array({{{"key", "kubernetes.io/hostname"},
                                                       {"operator", "In"},
                                                       {"values", {"b", "c"}}}})}}});
  PodInfo fi = pod_info(affine);
  REQUIRE(fi.required_terms != nullptr);
  auto fd = schedule_slots(fi, slots);
  CHECK(fd.node == "b");
  CHECK(schedule_slots(fi, {{&copies[0], nullptr}, {&copies[2], nullptr}}).message.find(
            "1 node(s) didn't match Pod's node affinity/selector") != std::string::npos);
  // The same decisions through the by-name form.
  UsageByNode usage;
  usage["a"] = on_a;
  std::vector<const NodeInfo*> ptrs = {&copies[0], &copies[1], &copies[2]};
  CHECK(schedule_prepared(affine, usage_of(affine), ptrs, usage).node == fd.node);
  CHECK(schedule_prepared(ssd, usage_of(ssd), ptrs, usage).message == none.message);
  CHECK(filter_slot(pi, copies[2], NodeUsage{}) == "node(s) had untolerated taint {k: v}");
  CHECK(filter_slot(ti, copies[2], NodeUsage{}).empty());
}
