#include <doctest/doctest.h>

#include "controllers/replicaset.h"

using namespace k3dpp::controllers;

namespace {

const TimePoint kNow = *parse_rfc3339("2025-01-01T00:01:00Z");

json make_rs(long long replicas, long long min_ready = 0) {
  json rs = json::parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
    "metadata":{"name":"web-abc","namespace":"default","uid":"rs-uid","generation":3},
    "spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web","tier":"fe"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}})");
  rs["spec"]["replicas"] = replicas;
  rs["spec"]["minReadySeconds"] = min_ready;
  return rs;
}

json make_pod(const std::string& name, bool owned, const std::string& node, bool ready,
              const std::string& ready_at = "2025-01-01T00:00:00Z", const std::string& created = "2025-01-01T00:00:00Z") {
  json p = {{"apiVersion", "v1"}, {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", "default"}, {"uid", name + "-uid"},
                          {"labels", {{"app", "web"}, {"tier", "fe"}}}, {"creationTimestamp", created}}},
            {"spec", {{"nodeName", node}}},
            {"status", {{"phase", node.empty() ? "Pending" : "Running"}}}};
  if (owned) {
    p["metadata"]["ownerReferences"] = json::array(
        {{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "web-abc"}, {"uid", "rs-uid"}, {"controller", true}}});
  }
  if (ready) {
    p["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", ready_at}}});
  }
  return p;
}

std::vector<const json*> ptrs(const std::vector<json>& v) {
  std::vector<const json*> out;
  for (const auto& x : v) out.push_back(&x);
  return out;
}

}  // namespace

TEST_CASE("replicaset creates the missing pods and reports status") {
  json rs = make_rs(3);
  std::vector<json> pods = {make_pod("web-abc-aaaaa", true, "n1", true)};
  auto plan = plan_replica_set(rs, ptrs(pods), kNow);
  CHECK(plan.create == 2);
  CHECK(plan.delete_pods.empty());
  CHECK(plan.status["replicas"] == 1);
  CHECK(plan.status["readyReplicas"] == 1);
  CHECK(plan.status["availableReplicas"] == 1);
  CHECK(plan.status["fullyLabeledReplicas"] == 1);
  CHECK(plan.status["observedGeneration"] == 3);
}

TEST_CASE("replicaset scales down unscheduled, then not-ready, then newest pods first") {
  json rs = make_rs(2);
  std::vector<json> pods = {
      make_pod("old-ready", true, "n1", true, "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
      make_pod("new-ready", true, "n1", true, "2025-01-01T00:00:50Z", "2025-01-01T00:00:40Z"),
      make_pod("not-ready", true, "n1", false),
      make_pod("unscheduled", true, "", false),
  };
  auto plan = plan_replica_set(rs, ptrs(pods), kNow);
  CHECK(plan.create == 0);
  REQUIRE(plan.delete_pods.size() == 2);
  CHECK(plan.delete_pods[0] == "unscheduled");
  CHECK(plan.delete_pods[1] == "not-ready");

  rs["spec"]["replicas"] = 1;
  plan = plan_replica_set(rs, ptrs(pods), kNow);
  REQUIRE(plan.delete_pods.size() == 3);
  CHECK(plan.delete_pods[2] == "new-ready");  // ready for less time goes first
}

TEST_CASE("replicaset adopts matching orphans and releases pods that stopped matching") {
  json rs = make_rs(2);
  json orphan = make_pod("orphan", false, "n1", true);
  json strayed = make_pod("strayed", true, "n1", true);
  strayed["metadata"]["labels"]["app"] = "other";
  json foreign = make_pod("foreign", false, "n1", true);
  foreign["metadata"]["ownerReferences"] = json::array({{{"kind", "ReplicaSet"}, {"uid", "x"}, {"controller", true}}});
  std::vector<json> pods = {orphan, strayed, foreign};
  auto plan = plan_replica_set(rs, ptrs(pods), kNow);
  CHECK(plan.adopt == std::vector<std::string>{"orphan"});
  CHECK(plan.release == std::vector<std::string>{"strayed"});
  CHECK(plan.create == 1);  // orphan counts once adopted; foreign never
}

TEST_CASE("replicaset ignores terminating and finished pods and honours minReadySeconds") {
  json rs = make_rs(2, 30);
  json terminating = make_pod("t", true, "n1", true);
  terminating["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:59Z";
  json done = make_pod("d", true, "n1", false);
  done["status"]["phase"] = "Succeeded";
  json fresh = make_pod("f", true, "n1", true, "2025-01-01T00:00:50Z");
  json old = make_pod("o", true, "n1", true, "2025-01-01T00:00:00Z");
  std::vector<json> pods = {terminating, done, fresh, old};
  auto plan = plan_replica_set(rs, ptrs(pods), kNow);
  CHECK(plan.create == 0);
  CHECK(plan.delete_pods.empty());
  CHECK(plan.status["replicas"] == 2);
  CHECK(plan.status["readyReplicas"] == 2);
  CHECK(plan.status["availableReplicas"] == 1);
  // fresh becomes available at 00:01:20: requeue about 20 s later.
  CHECK(plan.requeue_after >= std::chrono::seconds(19));
  CHECK(plan.requeue_after <= std::chrono::seconds(21));
}

TEST_CASE("pods from the template carry name, labels and a controller reference") {
  json rs = make_rs(1);
  json pod = pod_from_template(rs, "x2b4z");
  CHECK(pod["metadata"]["name"] == "web-abc-x2b4z");
  CHECK(pod["metadata"]["labels"]["app"] == "web");
  CHECK(pod["metadata"]["ownerReferences"][0]["uid"] == "rs-uid");
  CHECK(pod["metadata"]["ownerReferences"][0]["controller"] == true);
  CHECK(pod["spec"]["containers"][0]["image"] == "nginx");
}
