// Job (batch/v1) reconcile logic, pure: given a Job, its pods and its back-off record, what to do.
// Follows Kubernetes 1.32's job controller: pods carry the batch.kubernetes.io/job-tracking
// finalizer; a terminated pod is first recorded in status.uncountedTerminatedPods (that status is
// written before its finalizer is removed), and moved into succeeded/failed once the pod no longer
// has the finalizer, so no pod is ever counted twice. A Job that meets its completions gets
// SuccessCriteriaMet, then Complete once no pod is terminating and nothing is uncounted; a failing
// Job gets FailureTarget (BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy), its active
// pods are deleted, then Failed.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controllers/util.h"

namespace k3dpp::controllers {

inline constexpr const char* kJobTrackingFinalizer = "batch.kubernetes.io/job-tracking";
inline constexpr const char* kJobCompletionIndex = "batch.kubernetes.io/job-completion-index";
// Pod failure back-off: 10 s, 20 s, 40 s, ... capped at 10 minutes (DefaultJobPodFailureBackOff and
// MaxJobPodFailureBackOff in Kubernetes' job controller; the documentation's "six minutes" is
// what the cap was before).
inline constexpr std::chrono::seconds kJobPodFailureBackoff{10};
inline constexpr std::chrono::seconds kJobMaxPodFailureBackoff{600};

// Consecutive pod failures since the last success, and when the last one happened.
struct JobBackoff {
  int failures = 0;
  std::optional<TimePoint> last_failure;
  bool operator==(const JobBackoff&) const = default;
};

struct JobEvent {
  std::string type, reason, message;
  bool operator==(const JobEvent&) const = default;
};

struct JobPlan {
  json status;  // the status the Job should have (write it before anything below that needs it)
  int create = 0;                         // NonIndexed: pods to create
  std::vector<int> create_indexes;        // Indexed: one pod per index
  std::vector<std::string> delete_pods;   // active pods to delete (their finalizer removed first)
  std::vector<std::string> remove_finalizers;  // terminated pods, once `status` is written
  std::vector<JobEvent> events;           // recorded once `status` is written
  JobBackoff backoff;                     // the updated record
  // > 0: sync again after this long (back-off, activeDeadlineSeconds, TTL).
  std::chrono::milliseconds requeue_after{0};
  bool finished = false;  // Complete or Failed (now or before)
};

// pods: the Job's pods (controller ownerReference = the Job), including terminating and
// terminated ones.
JobPlan plan_job(const json& job, const std::vector<const json*>& pods, const JobBackoff& backoff, TimePoint now);

// A new pod for the Job (generateName "<job>-", Indexed "<job>-<index>-"): template labels and
// annotations, the controller reference, the tracking finalizer; Indexed pods get the completion
// index annotation and label, hostname "<job>-<index>" and JOB_COMPLETION_INDEX from the
// annotation through the downward API.
json job_pod(const json& job, std::optional<int> index);

// Whether the Job has Complete=True or Failed=True, and when (the condition's lastTransitionTime).
std::optional<TimePoint> job_finished_at(const json& job);
// When ttlSecondsAfterFinished lets the TTL-after-finished controller delete the Job (nullopt: no
// TTL or not finished).
std::optional<TimePoint> job_ttl_expiry(const json& job);

// Completed indexes as Kubernetes writes them: "1,3-5,7".
std::string format_indexes(const std::set<int>& indexes);
// Parses "1,3-5,7" keeping indexes below `limit` (garbage is skipped).
std::set<int> parse_indexes(const std::string& s, int limit);

// The pod's completion index (annotation), or -1.
int pod_completion_index(const json& pod);

// The FailJob/Ignore/Count/FailIndex rule of spec.podFailurePolicy a failed pod matches, with
// Kubernetes' message ("Container main for pod ns/p failed with exit code 42 matching FailJob rule
// at index 0"); nullopt when no rule matches (the pod counts toward backoffLimit).
struct PodFailureMatch {
  std::string action, message;
};
std::optional<PodFailureMatch> match_pod_failure_policy(const json& policy, const json& pod);

}  // namespace k3dpp::controllers
