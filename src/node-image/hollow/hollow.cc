#include "hollow/hollow.h"

#include <condition_variable>
#include <algorithm>
#include <set>
#include <thread>

#include "client/informer.h"
#include "common/log.h"
#include "controllers/util.h"
#include "controllers/work_queue.h"
#include "common/json_read.h"

namespace k3dpp::hollow {

using controllers::meta_str;
using controllers::now_rfc3339;
using json = nlohmann::json;

const char* const kExitCodeAnnotation = "hollow.k3dpp.io/exit-code";

struct HollowNodes::Impl {
  Impl(client::ApiClient& c, Options o) : client(c), opts(std::move(o)), pods(c, client::res::kPods) {}
  client::ApiClient& client;
  Options opts;
  client::Informer pods;
  controllers::WorkQueue queue;  // pod keys; a few workers post statuses in parallel
  std::vector<std::thread> workers;
  std::jthread lease_thread;
  std::mutex mu;
  std::map<std::string, int> ip_next;
  std::set<int> dead;
  std::map<std::string, std::string> cidr_prefix;  // node → "10.42.N." once its podCIDR is known

  bool is_dead(int i) {
    std::lock_guard<std::mutex> l(mu);
    return dead.count(i) > 0;
  }

  // "10.42.N." from the node's spec.podCIDR (set by the node controller), else from first_index.
  std::string ip_prefix(const std::string& node, int idx) {
    {
      std::lock_guard<std::mutex> l(mu);
      auto it = cidr_prefix.find(node);
      if (it != cidr_prefix.end()) return it->second;
    }
    auto n = client.get(client::res::kNodes, "", node);
    if (n) {
      std::string cidr = jvalue((*n)["spec"], "podCIDR", "");
      auto slash = cidr.find(".0/");
      if (!cidr.empty() && slash != std::string::npos) {
        std::string p = cidr.substr(0, slash + 1);
        std::lock_guard<std::mutex> l(mu);
        cidr_prefix[node] = p;
        return p;
      }
    }
    return "10.42." + std::to_string(opts.first_index + idx) + ".";
  }

  // A kubelet re-posts NodeReady=True when the node's status says otherwise (after the node
  // controller set it Unknown).
  void ensure_ready(const std::string& name) {
    auto cur = client.get(client::res::kNodes, "", name);
    if (!cur) return;
    std::string now = now_rfc3339();
    json next = *cur;
    bool changed = false;
    if (!next["status"].contains("conditions") || !next["status"]["conditions"].is_array()) {
      next["status"]["conditions"] = json::array();
    }
    bool has_ready = false;
    for (const auto& c : next["status"]["conditions"]) has_ready |= jvalue(c, "type", "") == "Ready";
    if (!has_ready) {
      next["status"]["conditions"].push_back({{"type", "Ready"}, {"status", "False"}});
    }
    for (auto& c : next["status"]["conditions"]) {
      if (jvalue(c, "type", "") != "Ready" || jvalue(c, "status", "") == "True") continue;
      c["status"] = "True";
      c["lastTransitionTime"] = now;
      c["lastHeartbeatTime"] = now;
      c["reason"] = "KubeletReady";
      c["message"] = "hollow node is posting ready status";
      changed = true;
    }
    if (changed) (void)client.update_status(client::res::kNodes, "", next);
  }

  std::string node_name(int i) const { return opts.name_prefix + std::to_string(i); }
  bool ours(const std::string& node) const {
    return node.rfind(opts.name_prefix, 0) == 0;
  }

  Status register_node(int i) {
    std::string name = node_name(i);
    std::string now = now_rfc3339();
    json cap = {{"cpu", opts.cpu}, {"memory", opts.memory}, {"pods", opts.pods}, {"ephemeral-storage", "100Gi"}};
    json node = {{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata", {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}, {"kubernetes.io/os", "linux"},
                                                           {"kubernetes.io/arch", "amd64"}, {"k3dpp.io/hollow", "true"}}}}},
                 {"spec", json::object()},
                 {"status", {{"capacity", cap}, {"allocatable", cap},
                             {"conditions", {{{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"},
                                              {"message", "hollow node is posting ready status"},
                                              {"lastHeartbeatTime", now}, {"lastTransitionTime", now}}}},
                             {"nodeInfo", {{"kubeletVersion", K3DPP_KUBE_VERSION}, {"containerRuntimeVersion", "hollow://0"},
                                           {"operatingSystem", "linux"}, {"architecture", "amd64"}}}}}};
    auto r = client.create(client::res::kNodes, "", node);
    if (!r && r.error().kind != "AlreadyExists") return unexpected(r.error().wrap("register " + name));
    // Re-registration (the node exists already): post the status, retrying on conflicts with the
    // node controller writing the spec at the same moment.
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto cur = client.get(client::res::kNodes, "", name);
      if (!cur) break;
      json next = *cur;
      next["status"] = node["status"];
      auto s = client.update_status(client::res::kNodes, "", next);
      if (s || s.error().kind != "Conflict") break;
    }
    return {};
  }

  void renew_leases() {
    for (int i = 0; i < opts.nodes; ++i) {
      if (is_dead(i)) continue;
      std::string name = node_name(i);
      ensure_ready(name);
      std::string now = controllers::rfc3339(controllers::Clock::now());
      json patch = {{"spec", {{"holderIdentity", name}, {"leaseDurationSeconds", 40}, {"renewTime", now}}}};
      auto r = client.patch(client::res::kLeases, "kube-node-lease", name, client::PatchType::kMerge, patch);
      if (!r && r.error().kind == "NotFound") {
        json lease = {{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"},
                      {"metadata", {{"name", name}, {"namespace", "kube-node-lease"}}}, {"spec", patch["spec"]}};
        auto c = client.create(client::res::kLeases, "kube-node-lease", lease);
        (void)c;
      }
    }
  }

  void pod_changed(const json& pod) {
    std::string node = pod.contains("spec") ? jvalue(pod["spec"], "nodeName", "") : "";
    if (node.empty() || !ours(node)) return;
    std::string ns = meta_str(pod, "namespace"), name = meta_str(pod, "name");
    int idx = 0;
    try {
      idx = std::stoi(node.substr(opts.name_prefix.size()));
    } catch (...) {
      return;
    }
    if (is_dead(idx)) return;
    if (controllers::is_deleting(pod)) {
      client::DeleteOptions o;
      o.grace_period_seconds = 0;
      o.precondition_uid = meta_str(pod, "uid");
      auto r = client.remove(client::res::kPods, ns, name, o);
      (void)r;
      return;
    }
    if (controllers::pod_is_ready(pod)) return;
    std::string phase = pod.contains("status") ? jvalue(pod["status"], "phase", "") : "";
    if (phase == "Succeeded" || phase == "Failed") return;
    std::string prefix = ip_prefix(node, idx);
    int host;
    {
      std::lock_guard<std::mutex> l(mu);
      int& n = ip_next[node];
      host = 2 + (n++ % 250);
    }
    std::string ip = prefix + std::to_string(host);
    if (pod.contains("status") && !jvalue(pod["status"], "podIP", "").empty()) ip = pod["status"]["podIP"];
    std::string now = now_rfc3339();
    // TEST ONLY: a pod annotated hollow.k3dpp.io/exit-code runs to completion at once, every
    // container exiting with that code (0: Succeeded, else Failed), so Job tests can finish pods.
    const json& ann = controllers::annotations_of(pod);
    if (ann.contains(kExitCodeAnnotation) && ann[kExitCodeAnnotation].is_string()) {
      int code = 0;
      try {
        code = std::stoi(ann[kExitCodeAnnotation].get<std::string>());
      } catch (...) {
        code = 1;
      }
      json done = json::array();
      for (const auto& c : jvalue(pod["spec"], "containers", json::array())) {
        done.push_back({{"name", jvalue(c, "name", "")}, {"image", jvalue(c, "image", "")},
                        {"imageID", "hollow://" + jvalue(c, "image", "")}, {"containerID", "hollow://" + name},
                        {"ready", false}, {"started", false}, {"restartCount", 0},
                        {"state", {{"terminated", {{"exitCode", code}, {"reason", code == 0 ? "Completed" : "Error"},
                                                   {"startedAt", now}, {"finishedAt", now},
                                                   {"containerID", "hollow://" + name}}}}},
                        {"lastState", json::object()}});
      }
      json next = pod;
      next["status"]["phase"] = code == 0 ? "Succeeded" : "Failed";
      next["status"]["podIP"] = ip;
      next["status"]["podIPs"] = json::array({{{"ip", ip}}});
      next["status"]["hostIP"] = "127.0.0.1";
      next["status"]["startTime"] = now;
      next["status"]["containerStatuses"] = done;
      json conds = json::array();
      for (const char* t : {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"}) {
        bool yes = std::string(t) == "PodScheduled" || std::string(t) == "Initialized";
        json c = {{"type", t}, {"status", yes ? "True" : "False"}, {"lastProbeTime", nullptr},
                  {"lastTransitionTime", now}};
        if (!yes && std::string(t) != "PodReadyToStartContainers") c["reason"] = "PodCompleted";
        conds.push_back(c);
      }
      next["status"]["conditions"] = conds;
      auto r = client.update_status(client::res::kPods, ns, next);
      if (!r) log::get("hollow")->debug("pod {}/{} status: {}", ns, name, r.error().message);
      return;
    }
    json statuses = json::array();
    for (const auto& c : jvalue(pod["spec"], "containers", json::array())) {
      statuses.push_back({{"name", jvalue(c, "name", "")}, {"image", jvalue(c, "image", "")},
                          {"imageID", "hollow://" + jvalue(c, "image", "")}, {"containerID", "hollow://" + name},
                          {"ready", true}, {"started", true}, {"restartCount", 0},
                          {"state", {{"running", {{"startedAt", now}}}}}, {"lastState", json::object()}});
    }
    json next = pod;
    next["status"]["phase"] = "Running";
    next["status"]["podIP"] = ip;
    next["status"]["podIPs"] = json::array({{{"ip", ip}}});
    next["status"]["hostIP"] = "127.0.0.1";
    next["status"]["startTime"] = now;
    next["status"]["qosClass"] = jvalue(next["status"], "qosClass", "BestEffort");
    next["status"]["containerStatuses"] = statuses;
    json conds = json::array();
    for (const char* t : {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"}) {
      conds.push_back({{"type", t}, {"status", "True"}, {"lastProbeTime", nullptr}, {"lastTransitionTime", now}});
    }
    next["status"]["conditions"] = conds;
    auto r = client.update_status(client::res::kPods, ns, next);
    if (!r) log::get("hollow")->debug("pod {}/{} status: {}", ns, name, r.error().message);
  }
};

HollowNodes::HollowNodes(client::ApiClient& client, Options options)
    : impl_(std::make_unique<Impl>(client, std::move(options))) {}
HollowNodes::~HollowNodes() { stop(); }

Status HollowNodes::start() {
  for (int i = 0; i < impl_->opts.nodes; ++i) K3DPP_TRY(impl_->register_node(i));
  impl_->renew_leases();
  // Only pods bound to our nodes are queued; workers read the latest cached copy.
  auto h = [this](const json& p) {
    std::string node = p.contains("spec") ? jvalue(p["spec"], "nodeName", "") : "";
    if (!node.empty() && impl_->ours(node)) impl_->queue.add(client::object_key(p));
  };
  impl_->pods.add_handlers({h, [h](const json&, const json& p) { h(p); }, nullptr});
  for (int i = 0; i < std::max(1, impl_->opts.status_workers); ++i) {
    impl_->workers.emplace_back([this] {
      std::string key;
      while (impl_->queue.get(key)) {
        if (auto p = impl_->pods.get(key)) impl_->pod_changed(*p);
        impl_->queue.done(key);
      }
    });
  }
  impl_->pods.start();
  impl_->lease_thread = std::jthread([this](std::stop_token st) {
    std::mutex m;
    std::condition_variable_any cv;
    while (!st.stop_requested()) {
      std::unique_lock<std::mutex> l(m);
      cv.wait_for(l, st, std::chrono::seconds(impl_->opts.lease_seconds), [] { return false; });
      if (st.stop_requested()) break;
      impl_->renew_leases();
    }
  });
  log::get("hollow")->info("hollow nodes started ({}) — test/benchmark tool, no containers run", impl_->opts.nodes);
  return {};
}

void HollowNodes::kill_node(int index) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->dead.insert(index);
}

void HollowNodes::revive_node(int index) {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->dead.erase(index);
  }
  impl_->renew_leases();
}

void HollowNodes::stop() {
  if (!impl_) return;
  impl_->queue.shutdown();
  for (auto& w : impl_->workers) {
    if (w.joinable()) w.join();
  }
  impl_->workers.clear();
  if (impl_->lease_thread.joinable()) {
    impl_->lease_thread.request_stop();
    impl_->lease_thread.join();
  }
  impl_->pods.stop();
}

}  // namespace k3dpp::hollow
