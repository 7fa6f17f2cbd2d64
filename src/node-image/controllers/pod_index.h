// What the ReplicaSet and Deployment controllers need to know about a pod, read from its JSON once
// per informer event (PodFacts), and the pods by their controller's uid (PodIndex), so a sync of
// a 10,000-pod ReplicaSet walks 10,000 small structs instead of looking fields up in 10,000 JSON
// objects, and gets only its own pods (plus the namespace's orphans) instead of the namespace's.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/informer.h"
#include "controllers/util.h"

namespace k3dpp::controllers {

struct PodCounts {
  long long active = 0;
  long long available = 0;  // active and Ready for minReadySeconds (counts_owned_by: Ready)
};

struct PodFacts {
  client::ObjectPtr obj;  // the pod itself (labels, adoption patches)
  std::string ns, name, uid;
  // The controller ownerReference (all empty: an orphan).
  std::string owner_uid, owner_kind, owner_name;
  bool deleting = false;
  bool active = false;     // not terminating, phase not Succeeded/Failed (pod_is_active)
  bool scheduled = false;  // spec.nodeName set
  int phase_rank = 0;      // Pending/"" 0, Unknown 1, else 2 (the deletion order)
  std::optional<TimePoint> ready_since;  // set = Ready=True (pod_ready_since)
  TimePoint created{};
  const json* labels_ptr = nullptr;  // metadata.labels inside obj (an empty object if none)
  // The labels as one string ("k=v" joined by \x1f, in key order): pods with the same labels have
  // the same string, so a sync matches a selector once per label set, not once per pod.
  std::string labels_key;

  bool ready() const { return ready_since.has_value(); }
  // pod_is_available.
  bool available(long long min_ready_seconds, TimePoint now) const {
    return ready_since && (min_ready_seconds <= 0 || *ready_since + std::chrono::seconds(min_ready_seconds) <= now);
  }
  const json& labels() const { return *labels_ptr; }
};
using PodFactsPtr = std::shared_ptr<const PodFacts>;

PodFacts pod_facts(client::ObjectPtr pod);
// For callers holding plain JSON (tests): facts over a pod that must outlive them (not copied).
PodFacts pod_facts(const json& pod);

// Whether a pod update can change what the ReplicaSet and Deployment controllers see of the pod:
// labels, controller, deletion, phase, readiness (a binding, which only sets spec.nodeName and
// the PodScheduled condition, cannot).
bool same_for_owner(const json& old_pod, const json& pod);

// Fed by the pod informer (a change handler, which runs before the informer's other handlers, so a
// sync they trigger sees the index up to date). Construct it before the informer starts.
class PodIndex {
 public:
  explicit PodIndex(client::Informer& pods);
  PodIndex() = default;  // fed by apply() alone (tests)
  PodIndex(const PodIndex&) = delete;
  PodIndex& operator=(const PodIndex&) = delete;

  // Pods whose controller ownerReference has this uid.
  std::vector<PodFactsPtr> owned_by(const std::string& owner_uid) const;
  // How many of them are active, and active and Ready, kept as pods change (no walk): what a
  // Deployment without minReadySeconds counts.
  PodCounts counts_owned_by(const std::string& owner_uid) const;
  // Pods of the namespace without a controller ownerReference.
  std::vector<PodFactsPtr> orphans(const std::string& ns) const;
  PodFactsPtr get(const std::string& ns, const std::string& name) const;
  // One consistent snapshot: the owner's pods, the namespace's orphans, and the namespace's pods of
  // the given names (null where absent). A ReplicaSet checks its create/delete expectations
  // against the same snapshot it counts (separate calls could miss a pod added in between).
  struct OwnerView {
    std::vector<PodFactsPtr> owned, orphans, named;
  };
  OwnerView view(const std::string& owner_uid, const std::string& ns, const std::vector<std::string>& names) const;
  // One informer change (old_obj null: added; cur null: deleted).
  void apply(const client::ObjectPtr& old_obj, const client::ObjectPtr& cur);

 private:
  static std::string bucket_of(const PodFacts& f);

  mutable std::mutex mu_;
  std::unordered_map<std::string, PodFactsPtr> by_key_;  // "ns/name"
  struct Bucket {
    std::unordered_map<std::string, PodFactsPtr> pods;  // "ns/name" → facts
    PodCounts counts;                                    // available = active and Ready
  };
  // Owner uid (or "\x1f" + namespace for orphans) → its pods.
  std::unordered_map<std::string, Bucket> by_owner_;
};

}  // namespace k3dpp::controllers
