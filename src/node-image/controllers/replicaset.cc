#include "controllers/replicaset.h"

#include <algorithm>

#include "apimachinery/selectors.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

std::vector<const PodFacts*> deletion_order(std::vector<const PodFacts*> pods) {
  auto key = [](const PodFacts* p) {
    auto since = p->ready_since.value_or(TimePoint{});
    return std::make_tuple(p->scheduled, p->phase_rank, p->ready(), -since.time_since_epoch().count(),
                           -p->created.time_since_epoch().count(), std::cref(p->name));
  };
  std::stable_sort(pods.begin(), pods.end(), [&](const PodFacts* a, const PodFacts* b) { return key(a) < key(b); });
  return pods;
}

json pod_from_template(const json& rs, const std::string& suffix) {
  const json& tmpl = rs["spec"].contains("template") ? rs["spec"]["template"] : json::object();
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}};
  json meta = tmpl.contains("metadata") && tmpl["metadata"].is_object() ? tmpl["metadata"] : json::object();
  meta.erase("creationTimestamp");
  meta["name"] = meta_str(rs, "name") + "-" + suffix;
  meta["namespace"] = meta_str(rs, "namespace");
  meta["ownerReferences"] = json::array({make_controller_ref(rs)});
  pod["metadata"] = meta;
  pod["spec"] = tmpl.contains("spec") ? tmpl["spec"] : json::object();
  return pod;
}

ReplicaSetPlan plan_replica_set(const json& rs, const std::vector<const json*>& pods, TimePoint now) {
  std::vector<PodFacts> facts;
  facts.reserve(pods.size());
  for (const json* p : pods) facts.push_back(pod_facts(*p));
  std::vector<const PodFacts*> ptrs;
  for (const auto& f : facts) ptrs.push_back(&f);
  return plan_replica_set(rs, ptrs, now);
}

ReplicaSetPlan plan_replica_set(const json& rs, const std::vector<const PodFacts*>& pods, TimePoint now) {
  ReplicaSetPlan plan;
  const json& spec = rs.contains("spec") ? rs["spec"] : json::object();
  long long replicas = jvalue(spec, "replicas", 1LL);
  long long min_ready = jvalue(spec, "minReadySeconds", 0LL);
  std::string uid = meta_str(rs, "uid");
  auto sel = apimachinery::LabelSelector::from_json(spec.contains("selector") ? spec["selector"] : json());
  apimachinery::LabelSelector selector = sel ? *sel : apimachinery::LabelSelector::nothing();
  const json& tmpl_labels =
      spec.contains("template") && spec["template"].contains("metadata") &&
              spec["template"]["metadata"].contains("labels")
          ? spec["template"]["metadata"]["labels"]
          : json::object();
  bool rs_deleting = is_deleting(rs);

  // Selector and template labels matched once per label set (a ReplicaSet's pods share theirs).
  const std::string* memo_key = nullptr;
  bool memo_matches = false, memo_full = false;
  auto match = [&](const PodFacts* p, bool* full) {
    if (memo_key == nullptr || *memo_key != p->labels_key) {
      const json& pl = p->labels();
      memo_key = &p->labels_key;
      memo_matches = selector.matches(pl);
      memo_full = true;
      for (auto it = tmpl_labels.begin(); it != tmpl_labels.end() && memo_full; ++it) {
        auto l = pl.find(it.key());
        if (l == pl.end() || *l != it.value()) memo_full = false;
      }
    }
    if (full != nullptr) *full = memo_full;
    return memo_matches;
  };
  std::vector<const PodFacts*> mine;
  for (const PodFacts* p : pods) {
    if (!p->owner_uid.empty()) {
      if (p->owner_uid != uid) continue;
      if (!match(p, nullptr)) {
        if (!rs_deleting) plan.release.push_back(p->name);
        continue;
      }
      mine.push_back(p);
    } else if (!rs_deleting && p->active && match(p, nullptr)) {
      plan.adopt.push_back(p->name);
      mine.push_back(p);
    }
  }
  std::vector<const PodFacts*> active;
  for (const PodFacts* p : mine) {
    if (p->active) active.push_back(p);
  }
  long long have = static_cast<long long>(active.size());
  if (!rs_deleting) {
    if (have < replicas) {
      plan.create = static_cast<int>(replicas - have);
    } else if (have > replicas) {
      auto order = deletion_order(active);
      size_t n = static_cast<size_t>(have - replicas);
      for (size_t i = 0; i < n && i < order.size(); ++i) plan.delete_pods.push_back(order[i]->name);
    }
  }
  // Status reflects the pods as observed now (Kubernetes does the same: the next sync after the
  // creations/deletions are observed updates the counts).
  long long fully = 0, ready = 0, available = 0;
  for (const PodFacts* p : active) {
    bool full = false;
    match(p, &full);
    if (full) ++fully;
    if (p->ready()) ++ready;
    if (p->available(min_ready, now)) {
      ++available;
    } else if (p->ready_since) {
      auto due = std::chrono::duration_cast<std::chrono::milliseconds>(
          *p->ready_since + std::chrono::seconds(min_ready) - now + std::chrono::milliseconds(100));
      if (due < std::chrono::milliseconds(100)) due = std::chrono::milliseconds(100);
      if (plan.requeue_after.count() == 0 || due < plan.requeue_after) plan.requeue_after = due;
    }
  }
  json status = rs.contains("status") && rs["status"].is_object() ? rs["status"] : json::object();
  status["replicas"] = have;
  status["fullyLabeledReplicas"] = fully;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["observedGeneration"] = jvalue(rs["metadata"], "generation", 1LL);
  // Kubernetes omits zero counts (omitempty) except replicas.
  for (const char* f : {"fullyLabeledReplicas", "readyReplicas", "availableReplicas"}) {
    if (status[f] == 0) status.erase(f);
  }
  plan.status = status;
  return plan;
}

}  // namespace k3dpp::controllers
