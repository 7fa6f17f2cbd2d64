// Deployments end to end against the real ApiServer: create, scale, self-healing, the course's
// rolling update (never more than 11 pods, never fewer than 9 available), revision history,
// rollback through the JSON patch kubectl rollout undo sends, cascading delete, namespace deletion.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "controllers/util.h"
#include "harness.h"

using namespace k3dpp;
using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::Harness;

namespace {

json deployment(const std::string& name, int replicas, const std::string& image, const std::string& cause = {}) {
  json d = {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", {{"name", name}, {"labels", {{"app", "nginx"}}}}},
            {"spec",
             {{"replicas", replicas},
              {"selector", {{"matchLabels", {{"app", "nginx"}}}}},
              {"template",
               {{"metadata", {{"labels", {{"app", "nginx"}}}}},
                {"spec",
                 {{"containers",
                   json::array({{{"name", "nginx"}, {"image", image}, {"ports", json::array({{{"containerPort", 80}}})}}})}}}}}}}};
  if (!cause.empty()) d["metadata"]["annotations"]["kubernetes.io/change-cause"] = cause;
  return d;
}

bool active(const json& p) { return controllers::pod_is_active(p); }

long long active_count(Harness& h, const std::string& ns, const std::string& sel) {
  long long n = 0;
  for (const auto& p : h.pods(ns, sel)) n += active(p) ? 1 : 0;
  return n;
}

// revision → change-cause of the deployment's owned ReplicaSets, as kubectl rollout history shows.
std::map<std::string, std::string> history(Harness& h, const std::string& ns, const std::string& name) {
  json d = h.get(client::res::kDeployments, ns, name);
  std::map<std::string, std::string> out;
  for (const auto& rs : h.replica_sets(ns)) {
    const json* ref = controllers::controller_ref(rs);
    if (ref == nullptr || ref->value("uid", "") != controllers::meta_str(d, "uid")) continue;
    const json& a = controllers::annotations_of(rs);
    std::string rev = a.value("deployment.kubernetes.io/revision", "");
    out[rev] = a.value("kubernetes.io/change-cause", "<none>");
  }
  return out;
}

bool deployment_complete(Harness& h, const std::string& ns, const std::string& name, long long replicas) {
  json d = h.get(client::res::kDeployments, ns, name);
  if (d.is_null() || !d.contains("status")) return false;
  const json& s = d["status"];
  return d["metadata"].value("generation", 0LL) <= s.value("observedGeneration", 0LL) &&
         s.value("updatedReplicas", 0LL) == replicas && s.value("replicas", 0LL) == replicas &&
         s.value("availableReplicas", 0LL) == replicas && s.value("readyReplicas", 0LL) == replicas;
}

std::string dump_state(Harness& h, const std::string& ns) {
  std::string s;
  for (const auto& rs : h.replica_sets(ns)) {
    s += "rs " + controllers::meta_str(rs, "name") + " spec=" + rs["spec"]["replicas"].dump() +
         " status=" + rs.value("status", json::object()).dump() + "\n";
  }
  for (const auto& p : h.pods(ns)) {
    s += "pod " + controllers::meta_str(p, "name") + " node=" + p["spec"].value("nodeName", "") +
         " phase=" + p.value("status", json::object()).value("phase", "") +
         (controllers::is_deleting(p) ? " deleting" : "") + "\n";
  }
  return s;
}

}  // namespace

TEST_CASE("deployment: create, names, scale 2→6→2, self-healing, cascading delete") {
  Harness h;
  auto& api = h.api();
  auto c = api.create(client::res::kDeployments, "default", deployment("nginx-deployment", 2, "nginx:latest"));
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().message));

  REQUIRE_MESSAGE(Harness::wait_for([&] { return deployment_complete(h, "default", "nginx-deployment", 2); }, 15s),
                  dump_state(h, "default"));
  auto pods = h.pods("default", "app=nginx");
  REQUIRE(pods.size() == 2);
  std::regex name_re("nginx-deployment-([bcdfghjklmnpqrstvwxz2456789]{1,10})-[bcdfghjklmnpqrstvwxz2456789]{5}");
  std::set<std::string> nodes;
  std::string hash;
  for (const auto& p : pods) {
    std::smatch m;
    std::string n = controllers::meta_str(p, "name");
    REQUIRE_MESSAGE(std::regex_match(n, m, name_re), n);
    CHECK(p["metadata"]["labels"].value("pod-template-hash", "") == m[1].str());
    hash = m[1].str();
    CHECK(p["status"].value("phase", "") == "Running");
    nodes.insert(p["spec"].value("nodeName", ""));
  }
  // Two replicas created at once land on both nodes (the scheduler counts its own bindings before
  // the watch shows them).
  CHECK(nodes == std::set<std::string>{"hollow-node-0", "hollow-node-1"});
  json rs = h.get(client::res::kReplicaSets, "default", "nginx-deployment-" + hash);
  REQUIRE(!rs.is_null());
  CHECK(controllers::annotations_of(rs).value("deployment.kubernetes.io/revision", "") == "1");
  json d = h.get(client::res::kDeployments, "default", "nginx-deployment");
  CHECK(controllers::annotations_of(d).value("deployment.kubernetes.io/revision", "") == "1");

  // Scale to 6 through the scale subresource (kubectl scale), same RS, no new revision.
  auto s = api.patch(client::res::kDeployments, "default", "nginx-deployment", client::PatchType::kMerge,
                     json{{"spec", {{"replicas", 6}}}}, "scale");
  REQUIRE_MESSAGE(s.has_value(), (s ? "" : s.error().message));
  REQUIRE_MESSAGE(Harness::wait_for([&] { return deployment_complete(h, "default", "nginx-deployment", 6); }, 15s),
                  dump_state(h, "default"));
  CHECK(h.replica_sets("default").size() == 1);
  for (const auto& p : h.pods("default", "app=nginx")) CHECK(p["metadata"]["labels"]["pod-template-hash"] == hash);
  CHECK(history(h, "default", "nginx-deployment") == std::map<std::string, std::string>{{"1", "<none>"}});

  // And back to 2 by merge patch of the deployment (kubectl apply).
  auto s2 = api.patch(client::res::kDeployments, "default", "nginx-deployment", client::PatchType::kMerge,
                      json{{"spec", {{"replicas", 2}}}});
  REQUIRE(s2.has_value());
  REQUIRE_MESSAGE(Harness::wait_for(
                      [&] {
                        return deployment_complete(h, "default", "nginx-deployment", 2) &&
                               h.pods("default", "app=nginx").size() == 2;
                      },
                      15s),
                  dump_state(h, "default"));

  // Self-healing: delete a pod, a new one with the same hash replaces it.
  auto before = h.pods("default", "app=nginx");
  std::string victim = controllers::meta_str(before[0], "name");
  REQUIRE(api.remove(client::res::kPods, "default", victim).has_value());
  REQUIRE_MESSAGE(Harness::wait_for(
                      [&] {
                        auto now = h.pods("default", "app=nginx");
                        if (now.size() != 2) return false;
                        for (const auto& p : now) {
                          if (controllers::meta_str(p, "name") == victim || !controllers::pod_is_ready(p)) return false;
                        }
                        return true;
                      },
                      15s),
                  dump_state(h, "default"));
  for (const auto& p : h.pods("default", "app=nginx")) CHECK(p["metadata"]["labels"]["pod-template-hash"] == hash);

  // Events: SuccessfulCreate on the RS, ScalingReplicaSet on the deployment, Scheduled on pods.
  auto ev = api.list(client::res::kEvents, "default");
  REQUIRE(ev.has_value());
  std::set<std::string> reasons;
  for (const auto& e : ev->items) reasons.insert(e.value("reason", ""));
  CHECK(reasons.count("SuccessfulCreate") == 1);
  CHECK(reasons.count("ScalingReplicaSet") == 1);
  CHECK(reasons.count("Scheduled") == 1);

  // Cascading delete (kubectl delete deployment: background propagation by default).
  REQUIRE(api.remove(client::res::kDeployments, "default", "nginx-deployment").has_value());
  REQUIRE_MESSAGE(
      Harness::wait_for([&] { return h.replica_sets("default").empty() && h.pods("default").empty(); }, 15s),
      dump_state(h, "default"));
}

// The API server does not turn propagationPolicy into finalizers yet (reported to the lead); the
// objects here carry the finalizers it would add ("orphan", "foregroundDeletion"), so the garbage
// collector's side is what is checked.
TEST_CASE("garbage collector: orphan and foreground finalizers") {
  Harness h;
  auto& api = h.api();
  json d = deployment("web", 2, "nginx:1.24");
  REQUIRE(api.create(client::res::kDeployments, "default", d).has_value());
  REQUIRE(Harness::wait_for([&] { return deployment_complete(h, "default", "web", 2); }, 15s));

  // Orphan: the deployment goes, its ReplicaSet stays without an ownerReference, pods stay.
  REQUIRE(api.patch(client::res::kDeployments, "default", "web", client::PatchType::kMerge,
                    json{{"metadata", {{"finalizers", json::array({"orphan"})}}}})
              .has_value());
  client::DeleteOptions orphan;
  orphan.propagation_policy = "Orphan";
  REQUIRE(api.remove(client::res::kDeployments, "default", "web", orphan).has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return h.get(client::res::kDeployments, "default", "web").is_null(); }, 15s),
                  h.get(client::res::kDeployments, "default", "web").dump());
  std::this_thread::sleep_for(1s);
  auto rss = h.replica_sets("default");
  REQUIRE(rss.size() == 1);
  CHECK(controllers::controller_ref(rss[0]) == nullptr);
  CHECK(h.pods("default").size() == 2);

  // Foreground: the ReplicaSet stays (deletionTimestamp set) until its pods are gone.
  std::string rsname = controllers::meta_str(rss[0], "name");
  REQUIRE(api.patch(client::res::kReplicaSets, "default", rsname, client::PatchType::kMerge,
                    json{{"metadata", {{"finalizers", json::array({"foregroundDeletion"})}}}})
              .has_value());
  client::DeleteOptions fg;
  fg.propagation_policy = "Foreground";
  REQUIRE(api.remove(client::res::kReplicaSets, "default", rsname, fg).has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return h.replica_sets("default").empty() && h.pods("default").empty(); }, 15s),
                  dump_state(h, "default"));
}

TEST_CASE("deployment: the course's rolling update, history and rollbacks") {
  Harness h;
  auto& api = h.api();
  const std::string ns = "default", name = "nginx-deployment";
  const long long min_ready = 1;  // the course uses 10 s; 1 s keeps the test short, same logic
  json d = deployment(name, 10, "nginx:1.24", "Initial release");
  d["spec"]["revisionHistoryLimit"] = 5;
  d["spec"]["progressDeadlineSeconds"] = 300;
  d["spec"]["minReadySeconds"] = min_ready;
  d["spec"]["strategy"] = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 1}, {"maxSurge", 1}}}};
  REQUIRE(api.create(client::res::kDeployments, ns, d).has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return deployment_complete(h, ns, name, 10); }, 30s), dump_state(h, ns));
  CHECK(history(h, ns, name) == std::map<std::string, std::string>{{"1", "Initial release"}});

  // Sample continuously during the update.
  std::atomic<bool> done{false};
  std::atomic<long long> max_active{0}, min_available{1000}, samples{0};
  std::thread sampler([&] {
    while (!done) {
      auto l = api.list(client::res::kPods, ns);
      if (l) {
        long long a = 0, av = 0;
        auto now = controllers::Clock::now();
        for (const auto& p : l->items) {
          if (!active(p)) continue;
          ++a;
          if (controllers::pod_is_available(p, min_ready, now)) ++av;
        }
        if (a > max_active) max_active = a;
        if (av < min_available) min_available = av;
        ++samples;
      }
      std::this_thread::sleep_for(10ms);
    }
  });
  auto apply = [&](const std::string& image, const std::string& cause) {
    json patch = {{"metadata", {{"annotations", {{"kubernetes.io/change-cause", cause}}}}},
                  {"spec", {{"template", {{"spec", {{"containers", json::array({{{"name", "nginx"}, {"image", image}}})}}}}}}}};
    auto r = api.patch(client::res::kDeployments, ns, name, client::PatchType::kStrategicMerge, patch);
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  };
  apply("nginx:1.26", "Update naar nginx:1.26");
  bool ok = Harness::wait_for(
      [&] { return deployment_complete(h, ns, name, 10) && active_count(h, ns, "app=nginx") == 10; }, 90s);
  done = true;
  sampler.join();
  REQUIRE_MESSAGE(ok, dump_state(h, ns));
  INFO("samples " << samples.load());
  CHECK(max_active.load() <= 11);
  CHECK(min_available.load() >= 9);
  CHECK(history(h, ns, name) ==
        std::map<std::string, std::string>{{"1", "Initial release"}, {"2", "Update naar nginx:1.26"}});
  json cur = h.get(client::res::kDeployments, ns, name);
  CHECK(controllers::annotations_of(cur).value("deployment.kubernetes.io/revision", "") == "2");
  for (const auto& p : h.pods(ns, "app=nginx")) {
    if (active(p)) CHECK(p["spec"]["containers"][0]["image"] == "nginx:1.26");
  }
  // Old RS kept at 0.
  for (const auto& rs : h.replica_sets(ns)) {
    if (controllers::annotations_of(rs).value("deployment.kubernetes.io/revision", "") == "1") {
      CHECK(rs["spec"]["replicas"] == 0);
    }
  }

  // kubectl rollout undo --to-revision=1: JSON patch of the template and annotations.
  json rev1;
  for (const auto& rs : h.replica_sets(ns)) {
    if (controllers::annotations_of(rs).value("deployment.kubernetes.io/revision", "") == "1") rev1 = rs;
  }
  REQUIRE(!rev1.is_null());
  json tmpl = rev1["spec"]["template"];
  tmpl["metadata"]["labels"].erase("pod-template-hash");
  json anns = controllers::annotations_of(cur);
  anns["kubernetes.io/change-cause"] = controllers::annotations_of(rev1).value("kubernetes.io/change-cause", "");
  json undo = json::array({{{"op", "replace"}, {"path", "/spec/template"}, {"value", tmpl}},
                           {{"op", "replace"}, {"path", "/metadata/annotations"}, {"value", anns}}});
  auto u = api.patch(client::res::kDeployments, ns, name, client::PatchType::kJsonPatch, undo);
  REQUIRE_MESSAGE(u.has_value(), (u ? "" : u.error().message));
  REQUIRE_MESSAGE(Harness::wait_for(
                      [&] {
                        return deployment_complete(h, ns, name, 10) && active_count(h, ns, "app=nginx") == 10 &&
                               history(h, ns, name).count("3") == 1;
                      },
                      90s),
                  dump_state(h, ns));
  CHECK(history(h, ns, name) ==
        std::map<std::string, std::string>{{"2", "Update naar nginx:1.26"}, {"3", "Initial release"}});
  CHECK(h.replica_sets(ns).size() == 2);  // RS of revision 1 reused (renumbered 3)
  cur = h.get(client::res::kDeployments, ns, name);
  CHECK(controllers::annotations_of(cur).value("deployment.kubernetes.io/revision", "") == "3");

  // Step 58: apply back "Initial release"/1.24: already live, no new revision.
  apply("nginx:1.24", "Initial release");
  std::this_thread::sleep_for(1500ms);
  CHECK(history(h, ns, name) ==
        std::map<std::string, std::string>{{"2", "Update naar nginx:1.26"}, {"3", "Initial release"}});
  // Step 59: 1.26 again → revision 4 (2 disappears).
  apply("nginx:1.26", "Update naar nginx:1.26");
  REQUIRE_MESSAGE(Harness::wait_for(
                      [&] {
                        return history(h, ns, name).count("4") == 1 && deployment_complete(h, ns, name, 10) &&
                               active_count(h, ns, "app=nginx") == 10;
                      },
                      90s),
                  dump_state(h, ns));
  CHECK(history(h, ns, name) ==
        std::map<std::string, std::string>{{"3", "Initial release"}, {"4", "Update naar nginx:1.26"}});
  // Step 60: 1.24 with a new cause → revision 5, the reused RS takes the new cause.
  apply("nginx:1.24", "Rollback to nginx 1.24 due to bug");
  REQUIRE_MESSAGE(Harness::wait_for(
                      [&] {
                        return history(h, ns, name).count("5") == 1 && deployment_complete(h, ns, name, 10) &&
                               active_count(h, ns, "app=nginx") == 10;
                      },
                      90s),
                  dump_state(h, ns));
  CHECK(history(h, ns, name) == std::map<std::string, std::string>{{"4", "Update naar nginx:1.26"},
                                                                    {"5", "Rollback to nginx 1.24 due to bug"}});
}

TEST_CASE("deployment: pause and resume") {
  Harness h;
  auto& api = h.api();
  REQUIRE(api.create(client::res::kDeployments, "default", deployment("web", 2, "nginx:1.24")).has_value());
  REQUIRE(Harness::wait_for([&] { return deployment_complete(h, "default", "web", 2); }, 15s));
  REQUIRE(api.patch(client::res::kDeployments, "default", "web", client::PatchType::kStrategicMerge,
                    json{{"spec", {{"paused", true}}}})
              .has_value());
  REQUIRE(api.patch(client::res::kDeployments, "default", "web", client::PatchType::kStrategicMerge,
                    json::parse(R"({"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}})"))
              .has_value());
  std::this_thread::sleep_for(1500ms);
  CHECK(h.replica_sets("default").size() == 1);
  json d = h.get(client::res::kDeployments, "default", "web");
  bool paused_cond = false;
  for (const auto& c : d["status"].value("conditions", json::array())) {
    if (c.value("type", "") == "Progressing") paused_cond = c.value("reason", "") == "DeploymentPaused";
  }
  CHECK(paused_cond);
  REQUIRE(api.patch(client::res::kDeployments, "default", "web", client::PatchType::kStrategicMerge,
                    json{{"spec", {{"paused", nullptr}}}})
              .has_value());
  REQUIRE_MESSAGE(Harness::wait_for(
                      [&] {
                        return h.replica_sets("default").size() == 2 && deployment_complete(h, "default", "web", 2) &&
                               active_count(h, "default", "app=nginx") == 2;
                      },
                      30s),
                  dump_state(h, "default"));
}

TEST_CASE("namespace deletion removes everything in it, then the namespace") {
  Harness h;
  auto& api = h.api();
  REQUIRE(api.create(client::res::kNamespaces, "", json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "dev"}}}})
              .has_value());
  REQUIRE(api.create(client::res::kDeployments, "dev", deployment("web", 3, "nginx:1.24")).has_value());
  REQUIRE(Harness::wait_for([&] { return deployment_complete(h, "dev", "web", 3); }, 15s));
  REQUIRE(api.remove(client::res::kNamespaces, "", "dev").has_value());
  json ns = h.get(client::res::kNamespaces, "", "dev");
  if (!ns.is_null()) CHECK(ns["status"].value("phase", "") == "Terminating");
  REQUIRE_MESSAGE(Harness::wait_for([&] { return h.get(client::res::kNamespaces, "", "dev").is_null(); }, 30s),
                  (h.get(client::res::kNamespaces, "", "dev").dump() + "\n" + dump_state(h, "dev")));
  CHECK(h.pods("dev").empty());
  CHECK(h.replica_sets("dev").empty());
}

TEST_CASE("scheduler: replicas created at once spread evenly over the nodes") {
  testing::HarnessOptions o;
  o.hollow_nodes = 4;
  Harness h(o);
  auto& api = h.api();
  REQUIRE(api.create(client::res::kDeployments, "default", deployment("spread", 12, "nginx:1.24")).has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return deployment_complete(h, "default", "spread", 12); }, 30s),
                  dump_state(h, "default"));
  std::map<std::string, int> per_node;
  for (const auto& p : h.pods("default", "app=nginx")) per_node[p["spec"].value("nodeName", "")]++;
  const std::map<std::string, int> three_each{{"hollow-node-0", 3}, {"hollow-node-1", 3}, {"hollow-node-2", 3},
                                              {"hollow-node-3", 3}};
  CHECK_MESSAGE(per_node == three_each, dump_state(h, "default"));
  // Scaling up to 20 keeps the spread within one pod.
  REQUIRE(api.patch(client::res::kDeployments, "default", "spread", client::PatchType::kMerge,
                    json{{"spec", {{"replicas", 20}}}})
              .has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return deployment_complete(h, "default", "spread", 20); }, 30s),
                  dump_state(h, "default"));
  per_node.clear();
  for (const auto& p : h.pods("default", "app=nginx")) per_node[p["spec"].value("nodeName", "")]++;
  const std::map<std::string, int> five_each{{"hollow-node-0", 5}, {"hollow-node-1", 5}, {"hollow-node-2", 5},
                                             {"hollow-node-3", 5}};
  CHECK_MESSAGE(per_node == five_each, dump_state(h, "default"));
}

TEST_CASE("scheduler: a pod that fits nowhere waits with one condition write, and is placed soon after room is freed") {
  testing::HarnessOptions o;
  o.hollow_nodes = 1;
  Harness h(o);
  auto& api = h.api();
  auto cpu_pod = [](const std::string& name) {
    return json{{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", name}}},
                {"spec",
                 {{"containers", json::array({{{"name", "c"},
                                               {"image", "nginx:1.24"},
                                               {"resources", {{"requests", {{"cpu", "3"}}}}}}})}}}};
  };
  REQUIRE(api.create(client::res::kPods, "default", cpu_pod("big-a")).has_value());
  REQUIRE(Harness::wait_for([&] { return !h.get(client::res::kPods, "default", "big-a")["spec"].value("nodeName", "").empty(); },
                            30s));
  REQUIRE(api.create(client::res::kPods, "default", cpu_pod("big-b")).has_value());
  const std::string why =
      "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful "
      "for scheduling.";
  auto condition = [&] {
    json p = h.get(client::res::kPods, "default", "big-b");
    for (const auto& c : p.value("status", json::object()).value("conditions", json::array())) {
      if (c.value("type", "") == "PodScheduled") return c;
    }
    return json::object();
  };
  REQUIRE(Harness::wait_for([&] { return condition().value("message", "") == why; }, 30s));
  std::string rv = controllers::meta_str(h.get(client::res::kPods, "default", "big-b"), "resourceVersion");
  // Retries (5 s, then 10 s) find the same reason: the pod is not written again, and by now the
  // back-off is longer than the wait below.
  std::this_thread::sleep_for(16s);
  json b = h.get(client::res::kPods, "default", "big-b");
  CHECK(b["spec"].value("nodeName", "") == "");
  CHECK(controllers::meta_str(b, "resourceVersion") == rv);
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  REQUIRE(api.remove(client::res::kPods, "default", "big-a", now).has_value());
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(Harness::wait_for([&] { return !h.get(client::res::kPods, "default", "big-b")["spec"].value("nodeName", "").empty(); },
                            30s));
  // Placed on the deletion (at most once a second), not at the end of the 20 s back-off.
  CHECK(std::chrono::steady_clock::now() - t0 < 8s);
}
