// The ReplicaSet controller loop: pods to match spec.replicas, adoption/release, status, events.
#include <atomic>
#include <set>
#include <thread>

#include "controllers/internal.h"
#include "controllers/replicaset.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

class ReplicaSetController : public Controller {
 public:
  explicit ReplicaSetController(Context ctx)
      : Controller(ctx, "replicaset", ctx.options.replicaset_workers),
        rs_(ctx.informers.get(client::res::kReplicaSets)),
        pods_(ctx.informers.get(client::res::kPods)),
        index_(ctx.informers.pod_index()) {}

  void setup() override {
    rs_.add_handlers({[this](const json& o) { enqueue(client::object_key(o)); },
                      [this](const json& old, const json& o) {
                        // Our own status write needs no sync (pod events bring the next one).
                        if (!only_status_changed(old, o)) enqueue(client::object_key(o));
                      },
                      [this](const json& o) { enqueue(client::object_key(o)); }});
    pods_.add_handlers({[this](const json& p) { pod_changed(p, nullptr); },
                        [this](const json& old, const json& p) { pod_changed(p, &old); },
                        [this](const json& p) { pod_changed(p, nullptr); }});
  }

 private:
  struct Expectations {
    std::map<std::string, std::pair<PodFactsPtr, std::chrono::steady_clock::time_point>> creates;  // name → pod
    std::map<std::string, std::chrono::steady_clock::time_point> deletes;
  };

  // Spec and metadata (but resourceVersion and managedFields) unchanged.
  static bool only_status_changed(const json& old, const json& cur) {
    if (!old.contains("metadata") || !cur.contains("metadata")) return false;
    if (jvalue(old, "spec", json()) != jvalue(cur, "spec", json())) return false;
    json a = old["metadata"], b = cur["metadata"];
    for (json* m : {&a, &b}) {
      m->erase("resourceVersion");
      m->erase("managedFields");
    }
    return a == b;
  }

  void pod_changed(const json& pod, const json* old) {
    if (old != nullptr && same_for_owner(*old, pod)) return;  // e.g. its binding: nothing we count
    const std::string ns = meta_str(pod, "namespace");
    const json* ref = controller_ref(pod);
    if (ref != nullptr) {
      if (jvalue(*ref, "kind", "") == "ReplicaSet") enqueue_soon(client::object_key(ns, jvalue(*ref, "name", "")));
    } else if (!is_deleting(pod)) {
      // An orphan: any ReplicaSet whose selector matches may adopt it.
      enqueue_matching(pod);
    }
    if (old != nullptr) {
      const json* oref = controller_ref(*old);
      if (oref != nullptr && (ref == nullptr || jvalue(*oref, "uid", "") != jvalue(*ref, "uid", ""))) {
        enqueue(client::object_key(ns, jvalue(*oref, "name", "")));
      }
    }
  }

  void enqueue_matching(const json& pod) {
    for (const auto& rs : rs_.list(meta_str(pod, "namespace"))) {
      auto sel = apimachinery_match(*rs, pod);
      if (sel) enqueue(client::object_key(*rs));
    }
  }

  static bool apimachinery_match(const json& rs, const json& pod);

  std::optional<std::chrono::milliseconds> sync(const std::string& key) override {
    auto rs = rs_.get(key);
    auto [ns, name] = split_key(key);
    if (!rs) {
      std::lock_guard<std::mutex> l(exp_mu_);
      expectations_.erase(key);
      return std::nullopt;
    }
    auto now_steady = std::chrono::steady_clock::now();
    // Our pods and the namespace's orphans (adoption candidates), from the index: not every pod of
    // the namespace, and no JSON lookups per pod. Expectations are checked against the same snapshot.
    std::vector<PodFactsPtr> owned, orphans;
    std::vector<PodFactsPtr> virtual_pods;  // created by us, not in the cache yet
    std::set<std::string> hidden;           // deleted by us, the deletion not in the cache yet
    {
      std::lock_guard<std::mutex> l(exp_mu_);
      auto& e = expectations_[key];
      std::vector<std::string> names;
      for (const auto& [n, c] : e.creates) names.push_back(n);
      for (const auto& [n, t] : e.deletes) names.push_back(n);
      auto v = index_.view(meta_str(*rs, "uid"), ns, names);
      owned = std::move(v.owned);
      orphans = std::move(v.orphans);
      size_t i = 0;
      for (auto it = e.creates.begin(); it != e.creates.end(); ++i) {
        if (v.named[i] || now_steady - it->second.second > std::chrono::seconds(30)) {
          it = e.creates.erase(it);
        } else {
          virtual_pods.push_back(it->second.first);
          ++it;
        }
      }
      for (auto it = e.deletes.begin(); it != e.deletes.end(); ++i) {
        const auto& cur = v.named[i];
        if (!cur || cur->deleting || now_steady - it->second > std::chrono::seconds(30)) {
          it = e.deletes.erase(it);  // observed (terminating or gone), or given up on
        } else {
          hidden.insert(it->first);
          ++it;
        }
      }
    }
    std::vector<const PodFacts*> pods;
    pods.reserve(owned.size() + orphans.size() + virtual_pods.size());
    for (const auto* list : {&owned, &orphans, &virtual_pods}) {
      for (const auto& p : *list) {
        if (hidden.empty() || !hidden.count(p->name)) pods.push_back(p.get());
      }
    }

    auto plan = plan_replica_set(*rs, pods, Clock::now());
    std::optional<std::chrono::milliseconds> again;
    if (plan.requeue_after.count() > 0) again = plan.requeue_after;

    for (const auto& pname : plan.adopt) {
      auto pod = pods_.get(ns, pname);
      if (!pod) continue;
      json refs = jvalue((*pod)["metadata"], "ownerReferences", json::array());
      refs.push_back(make_controller_ref(*rs));
      json patch = {{"metadata", {{"ownerReferences", refs}, {"resourceVersion", meta_str(*pod, "resourceVersion")}}}};
      auto r = ctx_.client.patch(client::res::kPods, ns, pname, client::PatchType::kMerge, patch);
      if (!r) log_->debug("adopt pod {}/{}: {}", ns, pname, r.error().message);
    }
    for (const auto& pname : plan.release) {
      auto pod = pods_.get(ns, pname);
      if (!pod) continue;
      json refs = json::array();
      for (const auto& r : jvalue((*pod)["metadata"], "ownerReferences", json::array())) {
        if (jvalue(r, "uid", "") != meta_str(*rs, "uid")) refs.push_back(r);
      }
      json patch = {{"metadata", {{"ownerReferences", refs}, {"resourceVersion", meta_str(*pod, "resourceVersion")}}}};
      auto r = ctx_.client.patch(client::res::kPods, ns, pname, client::PatchType::kMerge, patch);
      if (!r) log_->debug("release pod {}/{}: {}", ns, pname, r.error().message);
    }
    // Creates in slow-start batches of 1, 2, 4, ... (as Kubernetes' ReplicaSet controller does), the
    // pods of a batch in parallel; a failing batch stops the rest (the next sync retries).
    std::atomic<bool> create_failed{false}, terminating{false};
    auto create_one = [&] {
      for (int attempt = 0; attempt < 5; ++attempt) {
        json pod = pod_from_template(*rs, random_suffix());
        std::string pname = meta_str(pod, "name");
        auto r = ctx_.client.create(client::res::kPods, ns, pod);
        if (r) {
          {
            std::lock_guard<std::mutex> l(exp_mu_);
            auto facts = std::make_shared<const PodFacts>(pod_facts(std::make_shared<const json>(std::move(*r))));
            expectations_[key].creates[pname] = {std::move(facts), std::chrono::steady_clock::now()};
          }
          events_.record(*rs, "Normal", "SuccessfulCreate", "Created pod: " + pname);
          return;
        }
        if (r.error().message.find("because it is being terminated") != std::string::npos) {
          // The namespace is going away (Kubernetes' NamespaceTerminating cause): no event, no noise.
          log_->debug("replicaset {}: namespace terminating", key);
          terminating = true;
          return;
        }
        if (r.error().kind != "AlreadyExists") {
          events_.record(*rs, "Warning", "FailedCreate", "Error creating: " + r.error().message);
          log_->warn("replicaset {}: create pod: {}", key, r.error().message);
          create_failed = true;
          return;
        }
      }
      create_failed = true;  // five name collisions in a row
    };
    for (int started = 0, batch = 1; started < plan.create && !create_failed && !terminating; batch *= 2) {
      int n = std::min(batch, plan.create - started);
      started += n;
      std::atomic<int> next{0};
      auto work = [&] {
        while (next.fetch_add(1) < n && !create_failed && !terminating) create_one();
      };
      std::vector<std::thread> helpers;
      for (int t = 1; t < std::min(n, kCreateParallelism); ++t) helpers.emplace_back(work);
      work();
      for (auto& t : helpers) t.join();
    }
    if (create_failed) again = std::chrono::milliseconds(2000);
    for (const auto& pname : plan.delete_pods) {
      auto r = ctx_.client.remove(client::res::kPods, ns, pname);
      if (r || r.error().kind == "NotFound") {
        std::lock_guard<std::mutex> l(exp_mu_);
        expectations_[key].deletes[pname] = std::chrono::steady_clock::now();
      }
      if (r) {
        ctx_.recorder.record(*rs, "Normal", "SuccessfulDelete", "Deleted pod: " + pname);
      } else if (r.error().kind != "NotFound") {
        ctx_.recorder.record(*rs, "Warning", "FailedDelete", "Error deleting: " + r.error().message);
        again = std::chrono::milliseconds(2000);
      }
    }
    json cur_status = rs->contains("status") ? (*rs)["status"] : json::object();
    if (plan.status != cur_status) {
      json next = *rs;
      next["status"] = plan.status;
      auto r = ctx_.client.update_status(client::res::kReplicaSets, ns, next);
      if (!r && r.error().kind != "NotFound") {
        if (!again || *again > std::chrono::milliseconds(200)) again = std::chrono::milliseconds(200);
      }
    }
    return again;
  }

  static constexpr int kCreateParallelism = 8;
  client::Informer& rs_;
  client::Informer& pods_;
  PodIndex& index_;
  AsyncEventRecorder events_{ctx_.client, "controller-manager", 1};
  std::mutex exp_mu_;
  std::map<std::string, Expectations> expectations_;
};

}  // namespace
}  // namespace k3dpp::controllers

#include "apimachinery/selectors.h"

namespace k3dpp::controllers {
namespace {
bool ReplicaSetController::apimachinery_match(const json& rs, const json& pod) {
  if (is_deleting(rs) || !rs.contains("spec") || !rs["spec"].contains("selector")) return false;
  auto sel = apimachinery::LabelSelector::from_json(rs["spec"]["selector"]);
  return sel && sel->matches(labels_of(pod));
}
}  // namespace

std::unique_ptr<Controller> make_replicaset_controller(Context ctx) {
  return std::make_unique<ReplicaSetController>(ctx);
}

}  // namespace k3dpp::controllers
