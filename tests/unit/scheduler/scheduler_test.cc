#include <doctest/doctest.h>

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
