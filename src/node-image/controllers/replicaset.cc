#include "controllers/replicaset.h"

#include <algorithm>

#include "apimachinery/selectors.h"

namespace k3dpp::controllers {

namespace {

int phase_rank(const json& pod) {
  std::string p = pod.contains("status") ? pod["status"].value("phase", "") : "";
  if (p == "Pending" || p.empty()) return 0;
  if (p == "Unknown") return 1;
  return 2;
}

}  // namespace

std::vector<const json*> deletion_order(std::vector<const json*> pods) {
  auto key = [](const json* p) {
    bool scheduled = p->contains("spec") && !(*p)["spec"].value("nodeName", "").empty();
    bool ready = pod_is_ready(*p);
    auto since = pod_ready_since(*p).value_or(TimePoint{});
    auto created = parse_rfc3339(meta_str(*p, "creationTimestamp")).value_or(TimePoint{});
    return std::make_tuple(scheduled, phase_rank(*p), ready, -since.time_since_epoch().count(),
                           -created.time_since_epoch().count(), meta_str(*p, "name"));
  };
  std::stable_sort(pods.begin(), pods.end(), [&](const json* a, const json* b) { return key(a) < key(b); });
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
  ReplicaSetPlan plan;
  const json& spec = rs.contains("spec") ? rs["spec"] : json::object();
  long long replicas = spec.value("replicas", 1LL);
  long long min_ready = spec.value("minReadySeconds", 0LL);
  std::string uid = meta_str(rs, "uid");
  auto sel = apimachinery::LabelSelector::from_json(spec.contains("selector") ? spec["selector"] : json());
  apimachinery::LabelSelector selector = sel ? *sel : apimachinery::LabelSelector::nothing();
  const json& tmpl_labels =
      spec.contains("template") && spec["template"].contains("metadata") &&
              spec["template"]["metadata"].contains("labels")
          ? spec["template"]["metadata"]["labels"]
          : json::object();
  bool rs_deleting = is_deleting(rs);

  std::vector<const json*> mine;
  for (const json* p : pods) {
    const json* ref = controller_ref(*p);
    bool matches = selector.matches(labels_of(*p));
    if (ref != nullptr) {
      if (ref->value("uid", "") != uid) continue;
      if (!matches) {
        if (!rs_deleting) plan.release.push_back(meta_str(*p, "name"));
        continue;
      }
      mine.push_back(p);
    } else if (matches && !rs_deleting && !is_deleting(*p) && pod_is_active(*p)) {
      plan.adopt.push_back(meta_str(*p, "name"));
      mine.push_back(p);
    }
  }
  std::vector<const json*> active;
  for (const json* p : mine) {
    if (pod_is_active(*p)) active.push_back(p);
  }
  long long have = static_cast<long long>(active.size());
  std::vector<const json*> remaining = active;
  if (!rs_deleting) {
    if (have < replicas) {
      plan.create = static_cast<int>(replicas - have);
    } else if (have > replicas) {
      auto order = deletion_order(active);
      size_t n = static_cast<size_t>(have - replicas);
      remaining.clear();
      for (size_t i = 0; i < order.size(); ++i) {
        if (i < n) {
          plan.delete_pods.push_back(meta_str(*order[i], "name"));
        } else {
          remaining.push_back(order[i]);
        }
      }
    }
  }
  // Status reflects the pods as observed now (Kubernetes does the same: the next sync after the
  // creations/deletions are observed updates the counts).
  long long fully = 0, ready = 0, available = 0;
  for (const json* p : active) {
    const json& pl = labels_of(*p);
    bool full = true;
    for (auto it = tmpl_labels.begin(); it != tmpl_labels.end(); ++it) {
      if (!pl.contains(it.key()) || pl[it.key()] != it.value()) full = false;
    }
    if (full) ++fully;
    if (pod_is_ready(*p)) ++ready;
    if (pod_is_available(*p, min_ready, now)) {
      ++available;
    } else if (auto since = pod_ready_since(*p)) {
      auto due = std::chrono::duration_cast<std::chrono::milliseconds>(
          *since + std::chrono::seconds(min_ready) - now + std::chrono::milliseconds(100));
      if (due < std::chrono::milliseconds(100)) due = std::chrono::milliseconds(100);
      if (plan.requeue_after.count() == 0 || due < plan.requeue_after) plan.requeue_after = due;
    }
  }
  json status = rs.contains("status") && rs["status"].is_object() ? rs["status"] : json::object();
  status["replicas"] = have;
  status["fullyLabeledReplicas"] = fully;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["observedGeneration"] = rs["metadata"].value("generation", 1LL);
  // Kubernetes omits zero counts (omitempty) except replicas.
  for (const char* f : {"fullyLabeledReplicas", "readyReplicas", "availableReplicas"}) {
    if (status[f] == 0) status.erase(f);
  }
  plan.status = status;
  return plan;
}

}  // namespace k3dpp::controllers
