// Deployment logic: a deterministic simulation of the deployment controller, the ReplicaSet
// controller and a kubelet over plain JSON objects (no threads, no API server).
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "controllers/deployment.h"
#include "controllers/replicaset.h"

using namespace k3dpp::controllers;

namespace {

json make_deployment(const std::string& image, const std::string& cause, long long replicas = 10) {
  json d = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"nginx-deployment","namespace":"default","uid":"dep-uid","generation":1,
                "creationTimestamp":"2025-01-01T00:00:00Z"},
    "spec":{"replicas":10,"revisionHistoryLimit":5,"progressDeadlineSeconds":300,"minReadySeconds":10,
      "selector":{"matchLabels":{"app":"nginx"}},
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":1}},
      "template":{"metadata":{"labels":{"app":"nginx"}},
        "spec":{"containers":[{"name":"nginx","image":"nginx:1.24","ports":[{"containerPort":80,"protocol":"TCP"}]}]}}}})");
  d["spec"]["replicas"] = replicas;
  d["spec"]["template"]["spec"]["containers"][0]["image"] = image;
  if (!cause.empty()) d["metadata"]["annotations"]["kubernetes.io/change-cause"] = cause;
  return d;
}

struct Sim {
  json d;
  std::vector<json> rss;
  std::vector<json> pods;
  TimePoint now = *parse_rfc3339("2025-01-01T00:00:00Z");
  int counter = 0;
  long long max_active = 0;
  long long min_available = 1 << 30;
  bool track = false;
  std::vector<std::string> events;

  static std::vector<const json*> ptrs(const std::vector<json>& v) {
    std::vector<const json*> out;
    for (const auto& x : v) out.push_back(&x);
    return out;
  }

  void measure() {
    if (!track) return;
    long long active = 0, available = 0;
    for (const auto& p : pods) {
      if (!pod_is_active(p)) continue;
      ++active;
      if (pod_is_available(p, 10, now)) ++available;
    }
    max_active = std::max(max_active, active);
    min_available = std::min(min_available, available);
  }

  void deployment_step() {
    auto plan = plan_deployment(d, rss, ptrs(pods), now);
    for (auto rs : plan.create) {
      rs["metadata"]["uid"] = "rs-" + std::to_string(++counter);
      rs["metadata"]["creationTimestamp"] = rfc3339(now + std::chrono::milliseconds(counter));
      rs["metadata"]["generation"] = 1;
      rss.push_back(rs);
    }
    for (const auto& rs : plan.update) {
      for (auto& cur : rss) {
        if (cur["metadata"]["name"] == rs["metadata"]["name"]) cur = rs;
      }
    }
    for (const auto& name : plan.remove) {
      rss.erase(std::remove_if(rss.begin(), rss.end(), [&](const json& r) { return r["metadata"]["name"] == name; }),
                rss.end());
    }
    if (!plan.revision.empty()) d["metadata"]["annotations"][kRevisionAnnotation] = plan.revision;
    d["status"] = plan.status;
    for (auto& e : plan.events) events.push_back(e);
  }

  void replicaset_step() {
    for (auto& rs : rss) {
      auto plan = plan_replica_set(rs, ptrs(pods), now);
      for (int i = 0; i < plan.create; ++i) {
        json p = pod_from_template(rs, "p" + std::to_string(++counter));
        p["metadata"]["uid"] = "pod-" + std::to_string(counter);
        p["metadata"]["creationTimestamp"] = rfc3339(now);
        p["spec"]["nodeName"] = "n1";
        p["status"] = {{"phase", "Pending"}};
        pods.push_back(p);
      }
      for (const auto& name : plan.delete_pods) {
        for (auto& p : pods) {
          if (p["metadata"]["name"] == name) p["metadata"]["deletionTimestamp"] = rfc3339(now);
        }
      }
      measure();
      // Status as the RS controller would write it after observing its own changes.
      auto after = plan_replica_set(rs, ptrs(pods), now);
      rs["status"] = after.status;
    }
  }

  // The kubelet: pending pods start and turn Ready; terminating pods go away.
  void kubelet_step() {
    pods.erase(std::remove_if(pods.begin(), pods.end(), [](const json& p) { return is_deleting(p); }), pods.end());
    for (auto& p : pods) {
      if (p["status"]["phase"] == "Pending") {
        p["status"] = {{"phase", "Running"},
                       {"conditions", {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", rfc3339(now)}}}}};
      }
    }
    measure();
  }

  void tick(std::chrono::seconds s) {
    now += s;
    for (auto& rs : rss) rs["status"] = plan_replica_set(rs, ptrs(pods), now).status;
    measure();
  }

  bool complete() const {
    const json& st = d["status"];
    long long r = d["spec"]["replicas"];
    return st.value("updatedReplicas", 0LL) == r && st.value("replicas", 0LL) == r &&
           st.value("availableReplicas", 0LL) == r && st.value("observedGeneration", 0LL) >= d["metadata"]["generation"];
  }

  void converge(int max_rounds = 200) {
    for (int i = 0; i < max_rounds; ++i) {
      deployment_step();
      replicaset_step();
      kubelet_step();
      tick(std::chrono::seconds(4));
      deployment_step();
      if (complete() && i > 0) {
        // one more round to let cleanup and conditions settle
        deployment_step();
        return;
      }
    }
    FAIL("deployment did not converge");
  }

  void set_template(const std::string& image, const std::string& cause) {
    json next = make_deployment(image, cause, d["spec"]["replicas"]);
    json ann = d["metadata"].value("annotations", json::object());
    if (cause.empty()) {
      ann.erase("kubernetes.io/change-cause");
    } else {
      ann["kubernetes.io/change-cause"] = cause;
    }
    if (next["spec"]["template"] != d["spec"]["template"]) {
      d["metadata"]["generation"] = d["metadata"]["generation"].get<long long>() + 1;
    }
    d["spec"]["template"] = next["spec"]["template"];
    d["metadata"]["annotations"] = ann;
  }

  // REVISION → CHANGE-CAUSE as `kubectl rollout history` prints it.
  std::map<long long, std::string> history() const {
    std::map<long long, std::string> out;
    for (const auto& rs : rss) {
      const json& a = annotations_of(rs);
      long long rev = std::stoll(a.value(kRevisionAnnotation, "0"));
      out[rev] = a.value("kubernetes.io/change-cause", "<none>");
    }
    return out;
  }

  const json* rs_by_image(const std::string& image) const {
    for (const auto& rs : rss) {
      if (rs["spec"]["template"]["spec"]["containers"][0]["image"] == image) return &rs;
    }
    return nullptr;
  }
};

}  // namespace

TEST_CASE("pod-template-hash is stable, ignores the hash label and depends on the template") {
  json d = make_deployment("nginx:1.24", "");
  std::string h = pod_template_hash(d["spec"]["template"]);
  CHECK(h.size() >= 6);
  for (char c : h) CHECK(kNameAlphabet.find(c) != std::string_view::npos);
  json with_label = d["spec"]["template"];
  with_label["metadata"]["labels"][kPodTemplateHashLabel] = h;
  CHECK(pod_template_hash(with_label) == h);
  CHECK(templates_equal(with_label, d["spec"]["template"]));
  CHECK(pod_template_hash(make_deployment("nginx:1.26", "")["spec"]["template"]) != h);
  CHECK(pod_template_hash(d["spec"]["template"], 1) != h);
}

TEST_CASE("maxSurge/maxUnavailable resolution") {
  json d = make_deployment("nginx", "", 10);
  CHECK(resolve_surge_unavailable(d) == std::pair<long long, long long>{1, 1});
  d["spec"]["strategy"]["rollingUpdate"] = {{"maxSurge", "25%"}, {"maxUnavailable", "25%"}};
  CHECK(resolve_surge_unavailable(d) == std::pair<long long, long long>{3, 2});
  d["spec"]["strategy"]["rollingUpdate"] = {{"maxSurge", 0}, {"maxUnavailable", 0}};
  CHECK(resolve_surge_unavailable(d) == std::pair<long long, long long>{0, 1});
}

TEST_CASE("a new deployment gets one ReplicaSet <name>-<hash>, revision 1, owned, with the hash label") {
  json d = make_deployment("nginx:1.24", "Initial release", 2);
  auto plan = plan_deployment(d, {}, std::vector<const json*>{}, *parse_rfc3339("2025-01-01T00:00:00Z"));
  REQUIRE(plan.create.size() == 1);
  const json& rs = plan.create[0];
  std::string hash = pod_template_hash(d["spec"]["template"]);
  CHECK(rs["metadata"]["name"] == "nginx-deployment-" + hash);
  CHECK(rs["metadata"]["labels"][kPodTemplateHashLabel] == hash);
  CHECK(rs["spec"]["selector"]["matchLabels"][kPodTemplateHashLabel] == hash);
  CHECK(rs["spec"]["template"]["metadata"]["labels"][kPodTemplateHashLabel] == hash);
  CHECK(rs["spec"]["replicas"] == 2);
  CHECK(rs["metadata"]["annotations"][kRevisionAnnotation] == "1");
  CHECK(rs["metadata"]["annotations"]["kubernetes.io/change-cause"] == "Initial release");
  CHECK(rs["metadata"]["ownerReferences"][0]["uid"] == "dep-uid");
  CHECK(plan.revision == "1");
  CHECK(plan.events == std::vector<std::string>{"Scaled up replica set nginx-deployment-" + hash + " from 0 to 2"});
  CHECK(plan.status["conditions"][1]["reason"] == "NewReplicaSetCreated");
}

TEST_CASE("scaling 2 → 6 → 2 keeps one ReplicaSet and no new revision") {
  Sim s;
  s.d = make_deployment("nginx:latest", "", 2);
  s.converge();
  REQUIRE(s.rss.size() == 1);
  s.d["spec"]["replicas"] = 6;
  s.d["metadata"]["generation"] = 2;
  s.converge();
  CHECK(s.rss.size() == 1);
  CHECK(s.rss[0]["spec"]["replicas"] == 6);
  CHECK(s.pods.size() == 6);
  s.d["spec"]["replicas"] = 2;
  s.d["metadata"]["generation"] = 3;
  s.converge();
  CHECK(s.pods.size() == 2);
  CHECK(s.d["metadata"]["annotations"][kRevisionAnnotation] == "1");
  CHECK(s.d["status"]["availableReplicas"] == 2);
  CHECK(s.d["status"]["conditions"][1]["reason"] == "NewReplicaSetAvailable");
}

TEST_CASE("rolling update 10 replicas 1.24 → 1.26, maxSurge 1, maxUnavailable 1: never > 11 pods, never < 9 available") {
  Sim s;
  s.d = make_deployment("nginx:1.24", "Initial release");
  s.converge();
  REQUIRE(s.pods.size() == 10);
  s.set_template("nginx:1.26", "Update naar nginx:1.26");
  s.track = true;
  s.events.clear();
  // The first sync creates the new RS with one pod; old goes to 9; new goes to 2.
  s.deployment_step();
  REQUIRE(s.rss.size() == 2);
  CHECK(s.rs_by_image("nginx:1.26")->at("spec")["replicas"] == 1);
  s.replicaset_step();
  s.deployment_step();
  CHECK(s.rs_by_image("nginx:1.24")->at("spec")["replicas"] == 9);
  s.replicaset_step();
  s.kubelet_step();
  s.deployment_step();
  CHECK(s.rs_by_image("nginx:1.26")->at("spec")["replicas"] == 2);
  s.converge();
  CHECK(s.max_active <= 11);
  CHECK(s.min_available >= 9);
  CHECK(s.rs_by_image("nginx:1.24")->at("spec")["replicas"] == 0);
  CHECK(s.rs_by_image("nginx:1.26")->at("spec")["replicas"] == 10);
  CHECK(s.history() == std::map<long long, std::string>{{1, "Initial release"}, {2, "Update naar nginx:1.26"}});
  CHECK(s.d["metadata"]["annotations"][kRevisionAnnotation] == "2");
  CHECK(s.d["status"]["updatedReplicas"] == 10);
  CHECK(s.d["status"]["replicas"] == 10);
  CHECK_FALSE(s.d["status"].contains("unavailableReplicas"));
}

TEST_CASE("revisions follow the course: 1,2 → undo to 1 → 2,3; apply back → 2,3; then 3,4; then 4,5") {
  Sim s;
  s.d = make_deployment("nginx:1.24", "Initial release");
  s.converge();
  s.set_template("nginx:1.26", "Update naar nginx:1.26");
  s.converge();
  CHECK(s.history() == std::map<long long, std::string>{{1, "Initial release"}, {2, "Update naar nginx:1.26"}});
  std::string hash_124 = s.rs_by_image("nginx:1.24")->at("metadata")["name"];

  // kubectl rollout undo --to-revision=1 copies revision 1's template and change-cause.
  s.set_template("nginx:1.24", "Initial release");
  s.converge();
  CHECK(s.history() == std::map<long long, std::string>{{2, "Update naar nginx:1.26"}, {3, "Initial release"}});
  CHECK(s.rss.size() == 2);
  CHECK(s.rs_by_image("nginx:1.24")->at("metadata")["name"] == hash_124);  // reused, renumbered
  CHECK(s.rs_by_image("nginx:1.24")->at("spec")["replicas"] == 10);
  CHECK(s.rs_by_image("nginx:1.26")->at("spec")["replicas"] == 0);

  // Declarative apply of the same template: no rollout, no revision.
  s.set_template("nginx:1.24", "Initial release");
  s.converge();
  CHECK(s.history() == std::map<long long, std::string>{{2, "Update naar nginx:1.26"}, {3, "Initial release"}});

  s.set_template("nginx:1.26", "Update naar nginx:1.26");
  s.converge();
  CHECK(s.history() == std::map<long long, std::string>{{3, "Initial release"}, {4, "Update naar nginx:1.26"}});

  s.set_template("nginx:1.24", "Rollback to nginx 1.24 due to bug");
  s.converge();
  CHECK(s.history() ==
        std::map<long long, std::string>{{4, "Update naar nginx:1.26"}, {5, "Rollback to nginx 1.24 due to bug"}});
  CHECK(s.d["metadata"]["annotations"][kRevisionAnnotation] == "5");
}

TEST_CASE("revisionHistoryLimit removes the oldest idle ReplicaSets") {
  Sim s;
  s.d = make_deployment("nginx:1", "", 2);
  s.d["spec"]["revisionHistoryLimit"] = 1;
  s.converge();
  s.set_template("nginx:2", "");
  s.converge();
  s.set_template("nginx:3", "");
  s.converge();
  s.deployment_step();
  CHECK(s.rss.size() == 2);  // current + 1 old
  CHECK(s.rs_by_image("nginx:1") == nullptr);
  CHECK(s.history().count(3) == 1);
}

TEST_CASE("Recreate scales the old ReplicaSet to zero before the new one starts") {
  Sim s;
  s.d = make_deployment("nginx:1", "", 3);
  s.d["spec"]["strategy"] = {{"type", "Recreate"}};
  s.converge();
  s.set_template("nginx:2", "");
  s.deployment_step();
  CHECK(s.rs_by_image("nginx:1")->at("spec")["replicas"] == 0);
  const json* nrs = s.rs_by_image("nginx:2");
  CHECK((nrs == nullptr || nrs->at("spec")["replicas"] == 0));
  s.converge();
  CHECK(s.rs_by_image("nginx:2")->at("spec")["replicas"] == 3);
  CHECK(s.pods.size() == 3);
}

TEST_CASE("paused deployments do not roll out a new template") {
  Sim s;
  s.d = make_deployment("nginx:1", "", 2);
  s.converge();
  s.d["spec"]["paused"] = true;
  s.set_template("nginx:2", "");
  for (int i = 0; i < 5; ++i) s.deployment_step();
  CHECK(s.rss.size() == 1);
  CHECK(s.d["status"]["conditions"][1]["reason"] == "DeploymentPaused");
  s.d["spec"].erase("paused");
  s.converge();
  CHECK(s.rss.size() == 2);
}

TEST_CASE("progressDeadlineSeconds: no progress for longer turns Progressing False") {
  Sim s;
  s.d = make_deployment("nginx:1", "", 2);
  s.d["spec"]["progressDeadlineSeconds"] = 60;
  s.deployment_step();
  s.replicaset_step();  // pods never become ready (no kubelet)
  s.deployment_step();
  s.now += std::chrono::seconds(61);
  s.deployment_step();
  CHECK(s.d["status"]["conditions"][1]["type"] == "Progressing");
  CHECK(s.d["status"]["conditions"][1]["status"] == "False");
  CHECK(s.d["status"]["conditions"][1]["reason"] == "ProgressDeadlineExceeded");
  CHECK(s.d["status"]["conditions"][0]["reason"] == "MinimumReplicasUnavailable");
}
