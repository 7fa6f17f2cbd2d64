// The Deployment controller loop: applies plan_deployment() (deployment.h) through the API.
#include <set>

#include "apimachinery/selectors.h"
#include "controllers/deployment.h"
#include "controllers/internal.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

class DeploymentController : public Controller {
 public:
  explicit DeploymentController(Context ctx)
      : Controller(ctx, "deployment", ctx.options.deployment_workers),
        deps_(ctx.informers.get(client::res::kDeployments)),
        rs_(ctx.informers.get(client::res::kReplicaSets)),
        pods_(ctx.informers.get(client::res::kPods)),
        index_(ctx.informers.pod_index()) {}

  void setup() override {
    deps_.add_handlers({[this](const json& o) { enqueue(client::object_key(o)); },
                        [this](const json&, const json& o) { enqueue(client::object_key(o)); },
                        [this](const json& o) { enqueue(client::object_key(o)); }});
    auto rs_changed = [this](const json& rs) {
      const json* ref = controller_ref(rs);
      if (ref != nullptr) {
        if (jvalue(*ref, "kind", "") == "Deployment") {
          enqueue(client::object_key(meta_str(rs, "namespace"), jvalue(*ref, "name", "")));
        }
        return;
      }
      // Orphan: a deployment whose selector matches may adopt it.
      for (const auto& d : deps_.list(meta_str(rs, "namespace"))) {
        auto sel = apimachinery::LabelSelector::from_json(jvalue((*d)["spec"], "selector", json()));
        if (sel && sel->matches(labels_of(rs))) enqueue(client::object_key(*d));
      }
    };
    rs_.add_handlers({rs_changed, [rs_changed](const json&, const json& o) { rs_changed(o); }, rs_changed});
    auto pod_changed = [this](const json& pod) {
      const json* ref = controller_ref(pod);
      if (ref == nullptr || jvalue(*ref, "kind", "") != "ReplicaSet") return;
      auto rs = rs_.get(meta_str(pod, "namespace"), jvalue(*ref, "name", ""));
      if (!rs) return;
      const json* dref = controller_ref(*rs);
      if (dref != nullptr && jvalue(*dref, "kind", "") == "Deployment") {
        enqueue_soon(client::object_key(meta_str(pod, "namespace"), jvalue(*dref, "name", "")));
      }
    };
    pods_.add_handlers({pod_changed,
                        [pod_changed](const json& old, const json& o) {
                          if (!same_for_owner(old, o)) pod_changed(o);  // a binding changes no count
                        },
                        pod_changed});
  }

 private:
  std::optional<std::chrono::milliseconds> sync(const std::string& key) override {
    auto d = deps_.get(key);
    if (!d) return std::nullopt;
    auto [ns, name] = split_key(key);
    std::string uid = meta_str(*d, "uid");
    auto sel = apimachinery::LabelSelector::from_json(jvalue((*d)["spec"], "selector", json()));
    std::vector<json> rss;
    std::map<std::string, PodCounts> pods;
    const auto now = Clock::now();
    const long long min_ready = jvalue((*d)["spec"], "minReadySeconds", 0LL);
    for (const auto& rs : rs_.list(ns)) {
      const json* ref = controller_ref(*rs);
      bool mine = ref != nullptr ? jvalue(*ref, "uid", "") == uid : (sel && sel->matches(labels_of(*rs)));
      if (!mine) continue;
      rss.push_back(*rs);
      std::string rs_uid = meta_str(*rs, "uid");
      PodCounts& c = pods[rs_uid];
      if (min_ready <= 0) {
        c = index_.counts_owned_by(rs_uid);  // kept by the index: no walk over the pods
        continue;
      }
      for (const auto& p : index_.owned_by(rs_uid)) {
        if (!p->active) continue;
        c.active++;
        if (p->available(min_ready, now)) c.available++;
      }
    }

    auto plan = plan_deployment(*d, rss, pods, now);
    std::optional<std::chrono::milliseconds> again;
    if (plan.requeue_after.count() > 0) again = plan.requeue_after;
    auto soon = [&](int ms) {
      if (!again || *again > std::chrono::milliseconds(ms)) again = std::chrono::milliseconds(ms);
    };

    bool wrote = false;
    for (const auto& rs : plan.create) {
      auto r = ctx_.client.create(client::res::kReplicaSets, ns, rs);
      if (!r) {
        if (r.error().kind != "AlreadyExists") log_->warn("deployment {}: create replicaset: {}", key, r.error().message);
        soon(200);
        return again;  // nothing else is safe to do on a view without the new ReplicaSet
      }
      wrote = true;
    }
    for (const auto& rs : plan.update) {
      auto r = ctx_.client.update(client::res::kReplicaSets, ns, rs);
      if (!r) {
        log_->debug("deployment {}: update replicaset {}: {}", key, meta_str(rs, "name"), r.error().message);
        soon(100);
        return again;
      }
      wrote = true;
    }
    for (const auto& msg : plan.events) ctx_.recorder.record(*d, "Normal", "ScalingReplicaSet", msg);
    for (const auto& rsname : plan.remove) {
      auto r = ctx_.client.remove(client::res::kReplicaSets, ns, rsname);
      if (!r && r.error().kind != "NotFound") log_->debug("deployment {}: delete old replicaset: {}", key, r.error().message);
    }

    json current = *d;
    const json& ann = annotations_of(*d);
    std::string have_rev = ann.contains(kRevisionAnnotation) && ann[kRevisionAnnotation].is_string()
                               ? ann[kRevisionAnnotation].get<std::string>()
                               : "";
    if (!plan.revision.empty() && plan.revision != have_rev) {
      json patch = {{"metadata",
                     {{"annotations", {{kRevisionAnnotation, plan.revision}}},
                      {"resourceVersion", meta_str(*d, "resourceVersion")}}}};
      auto r = ctx_.client.patch(client::res::kDeployments, ns, name, client::PatchType::kMerge, patch);
      if (!r) {
        soon(100);
        return again;
      }
      current = *r;
    }
    json cur_status = current.contains("status") ? current["status"] : json::object();
    // observedGeneration follows the object we are writing over.
    plan.status["observedGeneration"] = jvalue(current["metadata"], "generation", 1LL);
    if (plan.status != cur_status) {
      json next = current;
      next["status"] = plan.status;
      auto r = ctx_.client.update_status(client::res::kDeployments, ns, next);
      if (!r && r.error().kind != "NotFound") soon(100);
    }
    if (wrote) soon(500);  // look again once the informers caught up
    return again;
  }

  client::Informer& deps_;
  client::Informer& rs_;
  client::Informer& pods_;
  PodIndex& index_;
};

}  // namespace

std::unique_ptr<Controller> make_deployment_controller(Context ctx) {
  return std::make_unique<DeploymentController>(ctx);
}

}  // namespace k3dpp::controllers
