// Node lifecycle controller: pod CIDRs (10.42.N.0/24, N stable while the node exists), Ready →
// Unknown after node_monitor_grace without a Lease renewal or status heartbeat, the not-ready /
// unreachable taints, pods marked not Ready on a lost node, and NoExecute eviction after the
// pods' tolerationSeconds (the taint manager).
#include <set>

#include "controllers/internal.h"
#include "controllers/node_lifecycle.h"
#include "common/guard.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

class NodeLifecycleController : public Controller {
 public:
  explicit NodeLifecycleController(Context ctx)
      : Controller(ctx, "nodelifecycle", 1),
        nodes_(ctx.informers.get(client::res::kNodes)),
        leases_(ctx.informers.get(client::res::kLeases)),
        pods_(ctx.informers.get(client::res::kPods)) {}

  void setup() override {
    auto node = [this](const json& o) { enqueue(meta_str(o, "name")); };
    nodes_.add_handlers({node, [node](const json&, const json& o) { node(o); }, node});
    auto lease = [this](const json& o) {
      if (meta_str(o, "namespace") == "kube-node-lease") enqueue(meta_str(o, "name"));
    };
    leases_.add_handlers({lease, [lease](const json&, const json& o) { lease(o); }, nullptr});
    auto pod = [this](const json& p) {
      std::string n = p.contains("spec") ? jvalue(p["spec"], "nodeName", "") : "";
      if (n.empty() || is_deleting(p)) return;
      auto nd = nodes_.get("", n);
      if (!nd) return;
      for (const auto& t : jvalue((*nd)["spec"], "taints", json::array())) {
        if (jvalue(t, "effect", "") == "NoExecute") {
          enqueue(n);
          return;
        }
      }
    };
    pods_.add_handlers({pod, [pod](const json&, const json& p) { pod(p); }, nullptr});
  }

  void start() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      for (const auto& n : nodes_.list()) {
        std::string cidr = jvalue((*n)["spec"], "podCIDR", "");
        int idx = cidr_index(cidr, ctx_.options.pod_cidr_prefix);
        if (idx >= 0) {
          cidr_of_[meta_str(*n, "name")] = idx;
          used_.insert(idx);
        }
      }
    }
    Controller::start();
    // Lease expiry has no event: look at every node regularly.
    ticker_ = std::jthread([this](std::stop_token st) {
      std::mutex m;
      std::condition_variable_any cv;
      auto period = std::max(std::chrono::milliseconds(200),
                             std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.options.node_monitor_grace) / 8);
      period = std::min(period, std::chrono::milliseconds(5000));
      while (!st.stop_requested()) {
        std::unique_lock<std::mutex> l(m);
        cv.wait_for(l, st, period, [] { return false; });
        if (st.stop_requested()) break;
        log::guarded(log_, "node monitor", [&] {
          for (const auto& n : nodes_.list()) enqueue(meta_str(*n, "name"));
        });
      }
    });
  }

  void stop() override {
    if (ticker_.joinable()) {
      ticker_.request_stop();
      ticker_.join();
    }
    Controller::stop();
  }

 private:
  struct Probe {
    std::string signature;  // lease renewTime + Ready lastHeartbeatTime
    std::chrono::steady_clock::time_point seen;
  };

  static std::string heartbeat_of(const json& node) {
    for (const auto& c : node.contains("status") ? jvalue(node["status"], "conditions", json::array()) : json::array()) {
      if (jvalue(c, "type", "") == "Ready") return jvalue(c, "lastHeartbeatTime", "");
    }
    return "";
  }

  std::optional<std::chrono::milliseconds> sync(const std::string& name) override {
    auto node = nodes_.get("", name);
    if (!node) {
      std::lock_guard<std::mutex> l(mu_);
      auto it = cidr_of_.find(name);
      if (it != cidr_of_.end()) {
        used_.erase(it->second);
        cidr_of_.erase(it);
      }
      probes_.erase(name);
      return std::nullopt;
    }
    std::optional<std::chrono::milliseconds> again;
    auto soon = [&](std::chrono::milliseconds d) {
      if (!again || d < *again) again = d;
    };
    const std::string now_s = now_rfc3339();

    // 1. Pod CIDR.
    if (jvalue((*node)["spec"], "podCIDR", "").empty()) {
      int idx;
      {
        std::lock_guard<std::mutex> l(mu_);
        auto it = cidr_of_.find(name);
        if (it != cidr_of_.end()) {
          idx = it->second;
        } else {
          idx = free_cidr_index(used_);
          if (idx >= 0) {
            cidr_of_[name] = idx;
            used_.insert(idx);
          }
        }
      }
      if (idx < 0) {
        ctx_.recorder.record(*node, "Warning", "CIDRNotAvailable",
                             "Node " + name + " status is now: CIDRNotAvailable");
      } else {
        std::string cidr = ctx_.options.pod_cidr_prefix + std::to_string(idx) + ".0/24";
        json patch = {{"spec", {{"podCIDR", cidr}, {"podCIDRs", json::array({cidr})}}}};
        auto r = ctx_.client.patch(client::res::kNodes, "", name, client::PatchType::kMerge, patch);
        if (!r) {
          log_->warn("node {}: set podCIDR {}: {}", name, cidr, r.error().message);
          soon(std::chrono::milliseconds(500));
        } else {
          log_->info("node {}: podCIDR {}", name, cidr);
          ctx_.recorder.record(*node, "Normal", "CIDRAssignmentSucceeded", "Node " + name + " has CIDR " + cidr);
        }
      }
    } else {
      int idx = cidr_index(jvalue((*node)["spec"], "podCIDR", ""), ctx_.options.pod_cidr_prefix);
      std::lock_guard<std::mutex> l(mu_);
      if (idx >= 0 && !cidr_of_.count(name)) {
        cidr_of_[name] = idx;
        used_.insert(idx);
      }
    }

    // 2. Health from Lease renewals and status heartbeats (observed locally, as Kubernetes does:
    // no trust in the clocks of the nodes).
    auto lease = leases_.get("kube-node-lease", name);
    std::string sig = (lease ? jvalue((*lease)["spec"], "renewTime", "") : "") + "|" + heartbeat_of(*node);
    auto steady_now = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto& p = probes_[name];
      if (p.signature != sig || p.seen == std::chrono::steady_clock::time_point{}) {
        p.signature = sig;
        p.seen = steady_now;
      }
      last = p.seen;
    }
    auto grace = std::chrono::duration_cast<std::chrono::steady_clock::duration>(ctx_.options.node_monitor_grace);
    json current = *node;
    std::string ready = node_ready_status(current);
    if (steady_now - last >= grace) {
      if (ready != "Unknown") {
        json next = current;
        next["status"]["conditions"] = conditions_unknown(current, now_s);
        auto r = ctx_.client.update_status(client::res::kNodes, "", next);
        if (!r) {
          soon(std::chrono::milliseconds(300));
          return again;
        }
        log_->info("node {}: NotReady (no heartbeat for {}s)", name, ctx_.options.node_monitor_grace.count());
        ctx_.recorder.record(current, "Normal", "NodeNotReady", "Node " + name + " status is now: NodeNotReady");
        current = *r;
        ready = "Unknown";
      }
    } else {
      soon(std::chrono::duration_cast<std::chrono::milliseconds>(last + grace - steady_now) +
           std::chrono::milliseconds(50));
    }

    // 3. Taints from the Ready condition.
    json taints = reconcile_taints(current, now_s);
    if (taints != jvalue(current["spec"], "taints", json::array())) {
      json next = current;
      if (taints.empty()) {
        next["spec"].erase("taints");
      } else {
        next["spec"]["taints"] = taints;
      }
      auto r = ctx_.client.update(client::res::kNodes, "", next);
      if (!r) {
        soon(std::chrono::milliseconds(200));
        return again;
      }
      current = *r;
    }

    // 4. Pods on a node that is not Ready are not Ready either. The pods of this node are looked up
    // only then, or for NoExecute taints below: a healthy node's sync (every lease renewal) does
    // not go through every pod.
    json no_exec = json::array();
    for (const auto& t : taints) {
      if (jvalue(t, "effect", "") == "NoExecute") no_exec.push_back(t);
    }
    const bool not_ready = ready == "Unknown" || ready == "False";
    std::vector<client::ObjectPtr> pods;
    if (not_ready || !no_exec.empty()) {
      pods = pods_.list("", [&](const json& p) {
        return p.contains("spec") && jvalue(p["spec"], "nodeName", "") == name && !is_deleting(p);
      });
    }
    if (not_ready) {
      for (const auto& p : pods) {
        if (!pod_is_ready(*p)) continue;
        json next = *p;
        for (auto& c : next["status"]["conditions"]) {
          if (jvalue(c, "type", "") == "Ready") {
            c["status"] = "False";
            c["lastTransitionTime"] = now_s;
            c.erase("reason");
            c.erase("message");
          }
        }
        auto r = ctx_.client.update_status(client::res::kPods, meta_str(*p, "namespace"), next);
        if (!r && r.error().kind != "NotFound") soon(std::chrono::milliseconds(500));
      }
    }

    // 5. NoExecute eviction after the pods' tolerationSeconds.
    if (!no_exec.empty()) {
      auto now = Clock::now();
      for (const auto& p : pods) {
        auto due = eviction_time(*p, no_exec, now);
        if (!due) continue;
        if (*due <= now) {
          std::string pns = meta_str(*p, "namespace"), pname = meta_str(*p, "name");
          client::DeleteOptions o;
          o.precondition_uid = meta_str(*p, "uid");
          auto r = ctx_.client.remove(client::res::kPods, pns, pname, o);
          if (r) {
            log_->info("node {}: evicting pod {}/{}", name, pns, pname);
            ctx_.recorder.record(*p, "Normal", "TaintManagerEviction", "Marking for deletion Pod " + pns + "/" + pname);
          } else if (r.error().kind != "NotFound" && r.error().kind != "Conflict") {
            soon(std::chrono::milliseconds(1000));
          }
        } else {
          soon(std::chrono::duration_cast<std::chrono::milliseconds>(*due - now) + std::chrono::milliseconds(50));
        }
      }
    }
    return again;
  }

  client::Informer& nodes_;
  client::Informer& leases_;
  client::Informer& pods_;
  std::mutex mu_;
  std::map<std::string, int> cidr_of_;
  std::set<int> used_;
  std::map<std::string, Probe> probes_;
  std::jthread ticker_;
};

}  // namespace

std::unique_ptr<Controller> make_node_lifecycle_controller(Context ctx) {
  return std::make_unique<NodeLifecycleController>(ctx);
}

}  // namespace k3dpp::controllers
