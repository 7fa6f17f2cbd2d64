// The scheduling loop: pending pods (spec.nodeName empty, schedulerName default) from an informer,
// decided against per-node totals and cached node infos, assumed on the chosen node at once, then
// bound via pods/binding by a few binder threads (kube-scheduler's binding cycle) so the loop goes
// on with the next pod while the write is in flight; Scheduled events are written in the background.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "client/informer.h"
#include "common/log.h"
#include "controllers/events.h"
#include "controllers/storage.h"
#include "controllers/work_queue.h"
#include "scheduler/scheduler.h"
#include "common/guard.h"
#include "common/json_read.h"

namespace k3dpp::scheduler {

namespace {

bool wants_us(const json& pod) {
  if (!pod.contains("spec")) return false;
  const json& s = pod["spec"];
  if (s.contains("nodeName") && s["nodeName"].is_string() && !s["nodeName"].get<std::string>().empty()) return false;
  if (pod.contains("metadata") && pod["metadata"].contains("deletionTimestamp")) return false;
  std::string sched = jvalue(s, "schedulerName", "default-scheduler");
  return sched == "default-scheduler";
}

bool bound_and_running(const json& pod) {
  if (!pod.contains("spec") || jvalue(pod["spec"], "nodeName", "").empty()) return false;
  std::string phase = pod.contains("status") ? jvalue(pod["status"], "phase", "") : "";
  return phase != "Succeeded" && phase != "Failed";
}

}  // namespace

struct Scheduler::Impl {
  explicit Impl(client::ApiClient& c)
      : client(c),
        pods(c, client::res::kPods),
        nodes(c, client::res::kNodes),
        pvcs(c, client::res::kPersistentVolumeClaims),
        pvs(c, client::res::kPersistentVolumes),
        classes(c, client::res::kStorageClasses),
        recorder(c, "default-scheduler", 2) {}
  client::ApiClient& client;
  client::Informer pods;
  client::Informer nodes;
  client::Informer pvcs;
  client::Informer pvs;
  client::Informer classes;
  controllers::AsyncEventRecorder recorder;
  controllers::WorkQueue queue;
  std::thread worker;
  // Node infos by name, replaced when a node changes, each with a pointer to its totals in `usage`
  // (std::map entries stay put; a node's entry is never erased). `node_list` is the same as one
  // immutable vector, rebuilt on every node change, so a decision copies one pointer instead of
  // walking the map (usage_mu must be held to read a NodeUsage through it).
  struct NodeEntry {
    std::shared_ptr<const NodeInfo> info;
    NodeUsage* usage = nullptr;
  };
  using NodeList = std::vector<NodeEntry>;
  std::mutex nodes_mu;
  std::map<std::string, NodeEntry> node_infos;
  std::shared_ptr<const NodeList> node_list = std::make_shared<const NodeList>();
  void rebuild_node_list() {  // nodes_mu held
    auto l = std::make_shared<NodeList>();
    l->reserve(node_infos.size());
    for (const auto& [n, e] : node_infos) l->push_back(e);
    node_list = std::move(l);
  }
  // Time spent deciding (schedule()), for the throughput log line.
  std::atomic<long long> decide_ns{0}, decided{0};
  long long burst_decide_ns = 0, burst_decided = 0;
  // Binding cycle: assumed pods waiting for their pods/binding write.
  struct BindTask {
    std::string key, uid, node;
    client::ObjectPtr pod;
  };
  static constexpr int kBinders = 8;
  std::mutex bind_mu;
  std::condition_variable bind_cv;
  std::deque<BindTask> binds;
  bool binds_stop = false;
  std::vector<std::thread> binders;
  // Throughput of the current burst of binds (a burst ends after 10 s without one).
  std::mutex stats_mu;
  std::chrono::steady_clock::time_point burst_first, burst_last;
  long long burst_binds = 0;
  // Pods counted on nodes: bound ones the cache shows, plus the ones this loop bound that the cache
  // does not show bound yet (assumed, kube-scheduler's word). Totals per node are kept as pod
  // events arrive, so a decision costs O(nodes), not O(pods).
  struct Counted {
    std::string node;
    std::string uid;
    PodUsage usage;
  };
  struct Assumed {
    std::string uid;
    std::string node;
  };
  std::mutex usage_mu;
  UsageByNode usage;
  std::map<std::string, Counted> counted;
  std::map<std::string, Assumed> assumed;
  std::map<std::string, int> failures;  // unschedulable attempts in a row, by pod key
  // Pods that want this scheduler (wants_us), key → uid, kept by the pod handlers so a retry walks
  // these instead of filtering every cached pod.
  std::map<std::string, std::string> pending;
  std::chrono::steady_clock::time_point last_retry;
  std::shared_ptr<spdlog::logger> log = log::get("scheduler");

  // Recounts one pod from the live cache (usage_mu held). Reading the cache under the lock keeps the
  // last recount the newest whichever thread (informer or loop) gets here first.
  // Returns true when the pod stopped counting on a node (it finished or went away): room freed.
  bool recount(const std::string& key) {
    auto cur = pods.get(key);
    std::string node, uid;
    bool freed = false;
    if (cur) uid = controllers::meta_str(*cur, "uid");
    if (cur && !jvalue((*cur)["spec"], "nodeName", "").empty()) {
      assumed.erase(key);  // the cache shows the binding
      if (bound_and_running(*cur)) node = jvalue((*cur)["spec"], "nodeName", "");
    } else if (cur) {
      auto a = assumed.find(key);
      if (a != assumed.end()) {
        if (a->second.uid == uid) {
          node = a->second.node;
        } else {
          assumed.erase(a);  // replaced by another pod of the same name
        }
      }
    } else {
      assumed.erase(key);
    }
    auto it = counted.find(key);
    if (it != counted.end()) {
      if (it->second.node == node && it->second.uid == uid) return false;
      usage[it->second.node].remove(it->second.usage);
      freed = true;
      counted.erase(it);
    }
    if (node.empty()) return freed;
    Counted c{node, uid, usage_of(*cur)};
    usage[node].add(c.usage);
    counted.emplace(key, std::move(c));
    return false;
  }

  // A pod added or updated: counted on its node, queued when it wants this scheduler.
  void pod_event(const json& p) {
    bool retry = false;
    bool want = wants_us(p);
    std::string key = client::object_key(p);
    {
      std::lock_guard<std::mutex> l(usage_mu);
      if (want) {
        pending.insert_or_assign(key, controllers::meta_str(p, "uid"));
      } else {
        pending.erase(key);
      }
      retry = recount(key) && retry_due();
    }
    if (retry) retry_pending();
    if (want) queue.add(key);
  }

  void pod_deleted(const json& p) {
    bool retry = false;
    {
      std::lock_guard<std::mutex> l(usage_mu);
      std::string key = client::object_key(p);
      bool freed = recount(key);
      failures.erase(key);
      pending.erase(key);
      retry = freed && retry_due();
    }
    if (retry) retry_pending();
  }

  // A pod that counted on a node finished or was deleted: its resources and ports are free, so the
  // pods that fit nowhere are retried (at most once a second; usage_mu held).
  bool retry_due() {
    auto now = std::chrono::steady_clock::now();
    if (failures.empty() || now - last_retry <= std::chrono::seconds(1)) return false;
    last_retry = now;
    return true;
  }

  // Requeues every pending pod except those being bound (assumed: schedule() would skip them), so
  // a node or claim change during a burst does not put thousands of in-flight pods back in the queue.
  void retry_pending() {
    std::vector<std::string> keys;
    {
      std::lock_guard<std::mutex> l(usage_mu);
      keys.reserve(pending.size());
      for (const auto& [key, uid] : pending) {
        auto a = assumed.find(key);
        if (a != assumed.end() && a->second.uid == uid) continue;
        keys.push_back(key);
      }
    }
    for (const auto& k : keys) queue.add(k);
  }

  void run() {
    std::string key;
    while (queue.get(key)) {
      auto t0 = std::chrono::steady_clock::now();
      std::optional<std::chrono::milliseconds> again;
      // A malformed pod or node (a wrongly typed field) is logged and retried later, never the
      // end of the loop.
      if (!log::guarded(log, "schedule " + key, [&] { again = schedule(key); })) {
        again = std::chrono::milliseconds(30000);
      }
      decide_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
      ++decided;
      queue.done(key);
      if (again) queue.add_after(key, *again);
    }
  }

  // Volume binding (Kubernetes' VolumeBinding plugin): claims must exist; a bound claim's PV node
  // affinity filters nodes; an unbound WaitForFirstConsumer claim is "delayed" (the chosen node is
  // written to the claim's volume.kubernetes.io/selected-node annotation and the pod waits for
  // the binding); an unbound Immediate claim makes the pod unschedulable.
  struct VolumeCheck {
    std::string error;                 // the whole pod cannot be scheduled now
    std::vector<std::string> delayed;  // unbound WaitForFirstConsumer claims
    std::vector<client::ObjectPtr> bound_pvs;
    std::string selected_node;         // a delayed claim already has one
  };
  VolumeCheck check_volumes(const json& pod) {
    VolumeCheck v;
    std::string ns = controllers::meta_str(pod, "namespace");
    for (const auto& vol : jvalue(pod["spec"], "volumes", json::array())) {
      if (!vol.contains("persistentVolumeClaim")) continue;
      std::string claim = jvalue(vol["persistentVolumeClaim"], "claimName", "");
      auto pvc = pvcs.get(ns, claim);
      if (!pvc) {
        v.error = "persistentvolumeclaim \"" + claim + "\" not found";
        return v;
      }
      if (controllers::is_deleting(*pvc)) {
        v.error = "persistentvolumeclaim \"" + claim + "\" is being deleted";
        return v;
      }
      std::string volume = jvalue((*pvc)["spec"], "volumeName", "");
      if (!volume.empty()) {
        auto pv = pvs.get("", volume);
        if (pv) v.bound_pvs.push_back(pv);
        continue;
      }
      auto cls = classes.get("", controllers::claim_class(*pvc));
      if (cls && jvalue(*cls, "volumeBindingMode", "Immediate") == "WaitForFirstConsumer") {
        v.delayed.push_back(claim);
        std::string sel = controllers::annotations_of(*pvc).value(controllers::kSelectedNodeAnnotation, "");
        if (!sel.empty()) v.selected_node = sel;
        continue;
      }
      v.error = "pod has unbound immediate PersistentVolumeClaims";
      return v;
    }
    return v;
  }

  // Retry delay of a pod that fits nowhere: 5 s, doubling to 30 s (kube-scheduler keeps such pods
  // aside until a cluster event); node changes, claims and volumes, and a bound pod's deletion
  // retry every pending pod at once.
  std::optional<std::chrono::milliseconds> unschedulable(const json& pod, const std::string& message) {
    std::chrono::milliseconds delay(5000);
    {
      std::lock_guard<std::mutex> l(usage_mu);
      int n = ++failures[client::object_key(pod)];
      for (int i = 1; i < n && delay < std::chrono::milliseconds(30000); ++i) delay *= 2;
      delay = std::min(delay, std::chrono::milliseconds(30000));
    }
    recorder.record(pod, "Warning", "FailedScheduling", message);
    // The condition says so already: no write (a retry of a pod that still fits nowhere).
    const json no_conditions = json::array();
    const json& conds = pod.contains("status") && pod["status"].contains("conditions") ? pod["status"]["conditions"]
                                                                                         : no_conditions;
    for (const auto& c : conds) {
      if (jvalue(c, "type", "") == "PodScheduled" && jvalue(c, "status", "") == "False" &&
          jvalue(c, "reason", "") == "Unschedulable" && jvalue(c, "message", "") == message) {
        return delay;
      }
    }
    json patch = {{"status",
                   {{"conditions",
                     json::array({{{"type", "PodScheduled"},
                                   {"status", "False"},
                                   {"reason", "Unschedulable"},
                                   {"message", message},
                                   {"lastProbeTime", nullptr},
                                   {"lastTransitionTime", controllers::now_rfc3339()}}})}}}};
    auto r = client.patch(client::res::kPods, controllers::meta_str(pod, "namespace"), controllers::meta_str(pod, "name"),
                          client::PatchType::kStrategicMerge, patch, "status");
    (void)r;
    return delay;
  }

  std::optional<std::chrono::milliseconds> schedule(const std::string& key) {
    auto pod = pods.get(key);
    if (!pod || !wants_us(*pod)) return std::nullopt;
    const std::string uid = controllers::meta_str(*pod, "uid");
    {
      std::lock_guard<std::mutex> l(usage_mu);
      auto a = assumed.find(key);
      if (a != assumed.end() && a->second.uid == uid) return std::nullopt;  // being bound
    }
    std::shared_ptr<const NodeList> all_nodes;
    {
      std::lock_guard<std::mutex> l(nodes_mu);
      all_nodes = node_list;
    }
    VolumeCheck vc = check_volumes(*pod);
    if (!vc.error.empty()) {
      return unschedulable(*pod, "0/" + std::to_string(all_nodes->size()) + " nodes are available: " + vc.error + ".");
    }
    std::vector<NodeSlot> slots;
    slots.reserve(all_nodes->size());
    size_t volume_conflicts = 0;
    for (const auto& n : *all_nodes) {
      bool ok = true;
      for (const auto& pv : vc.bound_pvs) ok &= controllers::volume_node_affinity_matches(*pv, *n.info->object);
      if (!vc.selected_node.empty() && n.info->name != vc.selected_node) ok = false;
      if (ok) {
        slots.push_back({n.info.get(), n.usage});
      } else {
        ++volume_conflicts;
      }
    }
    if (slots.empty() && volume_conflicts > 0) {
      return unschedulable(*pod, "0/" + std::to_string(all_nodes->size()) + " nodes are available: " +
                                     std::to_string(volume_conflicts) + " node(s) had volume node affinity conflict.");
    }
    PodInfo want = pod_info(*pod);
    Decision d;
    {
      std::lock_guard<std::mutex> l(usage_mu);
      d = schedule_slots(want, slots);
      if (!d.node.empty() && vc.delayed.empty()) {
        // Assume: the pod counts on its node from now on, before the binding is written.
        assumed[key] = {uid, d.node};
        recount(key);
        failures.erase(key);
      }
    }
    if (d.node.empty()) return unschedulable(*pod, d.message);
    if (!vc.delayed.empty()) {
      // Tell the provisioner where the pod goes; bind the pod once its claims are bound.
      std::string ns = controllers::meta_str(*pod, "namespace");
      for (const auto& claim : vc.delayed) {
        auto pvc = pvcs.get(ns, claim);
        if (pvc && controllers::annotations_of(*pvc).value(controllers::kSelectedNodeAnnotation, "") == d.node) continue;
        json patch = {{"metadata", {{"annotations", {{controllers::kSelectedNodeAnnotation, d.node}}}}}};
        auto r = client.patch(client::res::kPersistentVolumeClaims, ns, claim, client::PatchType::kMerge, patch);
        if (!r) log->debug("annotate claim {}/{}: {}", ns, claim, r.error().message);
      }
      return std::chrono::milliseconds(300);
    }
    {
      std::lock_guard<std::mutex> l(bind_mu);
      binds.push_back(BindTask{key, uid, d.node, pod});
    }
    bind_cv.notify_one();
    return std::nullopt;
  }

  void bind_loop() {
    std::unique_lock<std::mutex> l(bind_mu);
    while (true) {
      bind_cv.wait(l, [&] { return binds_stop || !binds.empty(); });
      if (binds_stop) return;
      BindTask t = std::move(binds.front());
      binds.pop_front();
      l.unlock();
      log::guarded(log, "bind " + t.key, [&] { bind(t); });
      l.lock();
    }
  }

  void bind(const BindTask& t) {
    const json& pod = *t.pod;
    std::string ns = controllers::meta_str(pod, "namespace");
    std::string name = controllers::meta_str(pod, "name");
    auto r = client.bind(ns, name, t.node);
    if (!r) {
      {
        // Forget the assumption; the pod is scheduled again unless it is gone or bound already.
        std::lock_guard<std::mutex> l(usage_mu);
        auto a = assumed.find(t.key);
        if (a != assumed.end() && a->second.uid == t.uid) {
          assumed.erase(a);
          recount(t.key);
        }
      }
      if (r.error().kind == "NotFound" || r.error().kind == "Conflict") return;
      log->warn("bind {}/{} to {}: {}", ns, name, t.node, r.error().message);
      queue.add_after(t.key, std::chrono::milliseconds(1000));
      return;
    }
    recorder.record(pod, "Normal", "Scheduled", "Successfully assigned " + ns + "/" + name + " to " + t.node);
    auto now = std::chrono::steady_clock::now();
    size_t waiting;
    {
      std::lock_guard<std::mutex> l(bind_mu);
      waiting = binds.size();
    }
    bool drained = waiting == 0 && queue.size() == 0;
    std::lock_guard<std::mutex> l(stats_mu);
    if (burst_binds == 0 || now - burst_last > std::chrono::seconds(10)) {
      burst_first = now;
      burst_binds = 0;
      burst_decide_ns = decide_ns.load();
      burst_decided = decided.load();
    }
    ++burst_binds;
    burst_last = now;
    // Every 1000th bind, and whenever a burst of at least 100 has nothing left queued.
    if (burst_binds % 1000 == 0 || (drained && burst_binds >= 100)) {
      double s = std::chrono::duration<double>(now - burst_first).count();
      long long n = decided.load() - burst_decided;
      double us = n > 0 ? static_cast<double>(decide_ns.load() - burst_decide_ns) / 1000.0 / static_cast<double>(n) : 0.0;
      // Decisions: wall time per schedule() call (includes waiting for locks and the CPU);
      // binds waiting: the binder threads' backlog (0 = the loop is the slower side).
      log->info(
          "throughput: {} pods bound in {:.3f} s from the first bind of this burst ({:.1f} pods/s); "
          "{} decisions, {:.0f} us each; {} binds waiting",
          burst_binds, s, s > 0 ? static_cast<double>(burst_binds - 1) / s : 0.0, n, us, waiting);
    }
  }

  // Node cache: a change that cannot change a placement (a heartbeat) does not requeue pending pods.
  bool node_changed(const json& n) {
    auto ni = std::make_shared<const NodeInfo>(node_info(std::make_shared<const json>(n)));
    NodeUsage* u;
    {
      std::lock_guard<std::mutex> l(usage_mu);
      u = &usage[ni->name];
    }
    std::lock_guard<std::mutex> l(nodes_mu);
    auto& slot = node_infos[ni->name];
    bool changed = !slot.info || !same_for_scheduling(*slot.info, *ni);
    slot.info = std::move(ni);
    slot.usage = u;
    rebuild_node_list();
    return changed;
  }
  void node_deleted(const json& n) {
    std::lock_guard<std::mutex> l(nodes_mu);
    node_infos.erase(controllers::meta_str(n, "name"));
    rebuild_node_list();
  }
};

Scheduler::Scheduler(client::ApiClient& client) : impl_(std::make_unique<Impl>(client)) {}

size_t Scheduler::ready_nodes() const {
  size_t n = 0;
  for (const auto& node : impl_->nodes.list()) {
    for (const auto& c : jvalue((*node)["status"], "conditions", json::array())) {
      if (jvalue(c, "type", "") == "Ready" && jvalue(c, "status", "") == "True") ++n;
    }
  }
  return n;
}
Scheduler::~Scheduler() { stop(); }

Status Scheduler::start() {
  impl_->pods.add_handlers({[this](const json& p) { impl_->pod_event(p); },
                            [this](const json&, const json& p) { impl_->pod_event(p); },
                            [this](const json& p) { impl_->pod_deleted(p); }});
  // A node change may make pending pods fit: requeue every pending pod.
  auto retry_all = [this](const json&) { impl_->retry_pending(); };
  impl_->nodes.add_handlers({[this, retry_all](const json& n) {
                               impl_->node_changed(n);
                               retry_all(n);
                             },
                             [this, retry_all](const json&, const json& n) {
                               if (impl_->node_changed(n)) retry_all(n);
                             },
                             [this](const json& n) { impl_->node_deleted(n); }});
  impl_->pvcs.add_handlers({retry_all, [retry_all](const json&, const json& n) { retry_all(n); }, nullptr});
  impl_->pvs.add_handlers({retry_all, [retry_all](const json&, const json& n) { retry_all(n); }, nullptr});
  impl_->nodes.start();
  impl_->pods.start();
  impl_->pvcs.start();
  impl_->pvs.start();
  impl_->classes.start();
  bool synced = true;
  for (auto* i : {&impl_->nodes, &impl_->pods, &impl_->pvcs, &impl_->pvs, &impl_->classes}) {
    synced &= i->wait_for_sync(std::chrono::seconds(30));
  }
  if (!synced) {
    return fail("scheduler: caches did not sync", "Timeout");
  }
  for (int i = 0; i < Impl::kBinders; ++i) impl_->binders.emplace_back([this] { impl_->bind_loop(); });
  impl_->worker = std::thread([this] { impl_->run(); });
  impl_->log->info("scheduler started");
  return {};
}

void Scheduler::stop() {
  if (!impl_) return;
  impl_->queue.shutdown();
  if (impl_->worker.joinable()) impl_->worker.join();
  {
    std::lock_guard<std::mutex> l(impl_->bind_mu);
    impl_->binds_stop = true;
  }
  impl_->bind_cv.notify_all();
  for (auto& t : impl_->binders) {
    if (t.joinable()) t.join();
  }
  impl_->binders.clear();
  impl_->recorder.stop();
  for (auto* i : {&impl_->pods, &impl_->nodes, &impl_->pvcs, &impl_->pvs, &impl_->classes}) i->request_stop();
  impl_->pods.stop();
  impl_->nodes.stop();
  impl_->pvcs.stop();
  impl_->pvs.stop();
  impl_->classes.stop();
}

}  // namespace k3dpp::scheduler
