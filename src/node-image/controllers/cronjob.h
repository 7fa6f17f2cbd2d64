// CronJob (batch/v1) reconcile logic, pure: given a CronJob, the Jobs it controls and the time,
// what to do. Follows Kubernetes 1.32's cronjob controller (v2): the active list and
// lastSuccessfulTime follow the Jobs, the most recent unmet schedule time (at most one per sync;
// "too many missed start times" past 100), startingDeadlineSeconds, concurrencyPolicy
// Allow/Forbid/Replace, suspend, the history limits; Jobs named "<cronjob>-<minutes since epoch>".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "controllers/util.h"

namespace k3dpp::controllers {

inline constexpr const char* kCronJobScheduledTimestamp = "batch.kubernetes.io/cronjob-scheduled-timestamp";

struct CronJobEvent {
  std::string type, reason, message;
  bool operator==(const CronJobEvent&) const = default;
};

struct CronJobPlan {
  json status;  // active refs and times, as they should be once the deletions below are done
  // Jobs to delete (Replace, history limits): name and the event recorded once deleted.
  struct Deletion {
    std::string name, uid;
  };
  std::vector<Deletion> delete_jobs;
  std::optional<json> create_job;         // the Job to create; add_active() once created
  std::optional<TimePoint> scheduled_time;
  std::vector<CronJobEvent> events;       // recorded now (not the delete/create ones)
  std::optional<std::chrono::milliseconds> requeue_after;  // the next schedule time (+100 ms)
};

// jobs: the Jobs whose controller ownerReference is this CronJob.
CronJobPlan plan_cronjob(const json& cj, const std::vector<const json*>& jobs, TimePoint now);

// The Job for one scheduled time: "<name>-<scheduled unix time / 60>", the template's labels and
// annotations plus batch.kubernetes.io/cronjob-scheduled-timestamp (RFC 3339 in the CronJob's time
// zone), the controller reference, the template's spec. nullopt when the time zone is unknown.
std::optional<json> job_from_cronjob(const json& cj, TimePoint scheduled);
std::string cronjob_job_name(const std::string& cronjob, TimePoint scheduled);

// Records a created Job in status.active (an ObjectReference) and lastScheduleTime.
void add_active(json& status, const json& job, TimePoint scheduled);

// Go's time.RFC1123Z in UTC ("Tue, 05 Mar 2024 10:00:00 +0000"), as the MissSchedule event shows it.
std::string rfc1123z(TimePoint t);

}  // namespace k3dpp::controllers
