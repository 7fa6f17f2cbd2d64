#include "controllers/cronjob.h"

#include <algorithm>
#include <ctime>
#include <map>

#include "cron/cron.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

const json kEmptyObj = json::object();

const json& obj(const json& o, const char* k) {
  if (!o.is_object()) return kEmptyObj;
  auto it = o.find(k);
  return it != o.end() && it->is_object() ? *it : kEmptyObj;
}

// "Complete" or "Failed" when the Job has that condition True.
std::string finished_condition(const json& job) {
  const json& st = obj(job, "status");
  auto it = st.find("conditions");
  if (it == st.end() || !it->is_array()) return {};
  for (const auto& c : *it) {
    std::string t = jvalue(c, "type", "");
    if ((t == "Complete" || t == "Failed") && jvalue(c, "status", "") == "True") return t;
  }
  return {};
}

enum class Missed { kNone, kFew, kMany };

struct MostRecent {
  TimePoint earliest;
  std::optional<TimePoint> most_recent;
  Missed missed = Missed::kNone;
  bool error = false;  // two schedule times less than a second apart
};

// mostRecentScheduleTime of Kubernetes' cronjob controller.
MostRecent most_recent_schedule_time(const json& cj, TimePoint now, const cron::Schedule& s, bool with_deadline) {
  MostRecent r;
  r.earliest = parse_rfc3339(meta_str(cj, "creationTimestamp")).value_or(now);
  const json& st = obj(cj, "status");
  if (auto l = parse_rfc3339(jvalue(st, "lastScheduleTime", ""))) r.earliest = *l;
  const json& spec = obj(cj, "spec");
  if (with_deadline && spec.contains("startingDeadlineSeconds") && spec["startingDeadlineSeconds"].is_number_integer()) {
    auto deadline = now - std::chrono::seconds(spec["startingDeadlineSeconds"].get<long long>());
    if (deadline > r.earliest) r.earliest = deadline;
  }
  auto t1 = cron::next(s, r.earliest);
  if (!t1) return r;
  auto t2 = cron::next(s, *t1);
  if (now < *t1) return r;
  if (!t2 || now < *t2) {
    r.most_recent = t1;
    return r;
  }
  long long between = std::chrono::duration_cast<std::chrono::seconds>(*t2 - *t1 + std::chrono::milliseconds(500)).count();
  if (between < 1) {
    r.error = true;
    return r;
  }
  long long elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - *t1).count();
  long long missed = elapsed / between + 1;
  auto potential = *t1 + std::chrono::seconds((missed - 2) * between);
  std::optional<TimePoint> mr;
  for (auto t = cron::next(s, potential); t && *t <= now; t = cron::next(s, *t)) mr = t;
  r.missed = missed > 100 ? Missed::kMany : Missed::kFew;
  r.most_recent = mr;
  return r;
}

std::chrono::milliseconds next_schedule_delay(const json& cj, TimePoint now, const cron::Schedule& s) {
  auto r = most_recent_schedule_time(cj, now, s, false);
  TimePoint from = now;
  if (!r.error && !r.most_recent && r.missed == Missed::kNone) from = r.earliest;
  if (!r.error && r.most_recent) from = *r.most_recent;
  auto n = cron::next(s, from);
  if (!n) return std::chrono::hours(24);
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(*n - now) + std::chrono::milliseconds(100);
  return std::max(d, std::chrono::milliseconds(100));
}

bool in_active(const json& status, const std::string& uid) {
  auto it = status.find("active");
  if (it == status.end() || !it->is_array()) return false;
  for (const auto& r : *it) {
    if (jvalue(r, "uid", "") == uid) return true;
  }
  return false;
}

void drop_active(json& status, const std::string& uid) {
  if (!status.contains("active") || !status["active"].is_array()) return;
  json keep = json::array();
  for (const auto& r : status["active"]) {
    if (jvalue(r, "uid", "") != uid) keep.push_back(r);
  }
  if (keep.empty()) {
    status.erase("active");
  } else {
    status["active"] = keep;
  }
}

// The history limits: oldest finished Jobs (by startTime, unset last) beyond each limit.
void cleanup_history(const json& cj, const std::vector<const json*>& jobs, CronJobPlan& plan) {
  const json& spec = obj(cj, "spec");
  for (const auto& [cond, field] : {std::pair{"Complete", "successfulJobsHistoryLimit"},
                                    std::pair{"Failed", "failedJobsHistoryLimit"}}) {
    if (!spec.contains(field) || !spec[field].is_number_integer()) continue;
    long long limit = spec[field].get<long long>();
    std::vector<const json*> done;
    for (const json* j : jobs) {
      if (finished_condition(*j) == cond) done.push_back(j);
    }
    if (static_cast<long long>(done.size()) <= limit) continue;
    std::stable_sort(done.begin(), done.end(), [](const json* a, const json* b) {
      auto sa = parse_rfc3339(jvalue(obj(*a, "status"), "startTime", ""));
      auto sb = parse_rfc3339(jvalue(obj(*b, "status"), "startTime", ""));
      if (!sa && sb) return false;
      if (sa && !sb) return true;
      if (sa == sb) return meta_str(*a, "name") < meta_str(*b, "name");
      return *sa < *sb;
    });
    for (size_t i = 0; i < done.size() - static_cast<size_t>(limit); ++i) {
      plan.delete_jobs.push_back({meta_str(*done[i], "name"), meta_str(*done[i], "uid")});
      drop_active(plan.status, meta_str(*done[i], "uid"));
    }
  }
}

}  // namespace

std::string rfc1123z(TimePoint t) {
  std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string cronjob_job_name(const std::string& cronjob, TimePoint scheduled) {
  long long minutes = std::chrono::duration_cast<std::chrono::seconds>(scheduled.time_since_epoch()).count() / 60;
  return cronjob + "-" + std::to_string(minutes);
}

std::optional<json> job_from_cronjob(const json& cj, TimePoint scheduled) {
  const json& spec = obj(cj, "spec");
  auto zone = cron::load_zone(jvalue(spec, "timeZone", ""));
  if (!zone) return std::nullopt;
  const json& jt = obj(spec, "jobTemplate");
  const json& jmeta = obj(jt, "metadata");
  json meta = json::object();
  meta["name"] = cronjob_job_name(meta_str(cj, "name"), scheduled);
  meta["namespace"] = meta_str(cj, "namespace");
  meta["labels"] = obj(jmeta, "labels");
  json ann = obj(jmeta, "annotations");
  ann[kCronJobScheduledTimestamp] = zone->rfc3339(scheduled);
  meta["annotations"] = ann;
  meta["ownerReferences"] = json::array({make_controller_ref(cj)});
  if (meta["labels"].empty()) meta.erase("labels");
  return json{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", meta}, {"spec", obj(jt, "spec")}};
}

void add_active(json& status, const json& job, TimePoint scheduled) {
  if (!status.contains("active") || !status["active"].is_array()) status["active"] = json::array();
  if (!in_active(status, meta_str(job, "uid"))) {
    status["active"].push_back({{"apiVersion", "batch/v1"},
                                {"kind", "Job"},
                                {"name", meta_str(job, "name")},
                                {"namespace", meta_str(job, "namespace")},
                                {"resourceVersion", meta_str(job, "resourceVersion")},
                                {"uid", meta_str(job, "uid")}});
  }
  status["lastScheduleTime"] = rfc3339(scheduled);
}

CronJobPlan plan_cronjob(const json& cj, const std::vector<const json*>& jobs, TimePoint now) {
  CronJobPlan plan;
  json status = cj.contains("status") && cj["status"].is_object() ? cj["status"] : json::object();
  const json& spec = obj(cj, "spec");
  const std::string name = meta_str(cj, "name");

  // 1. The active list and lastSuccessfulTime follow the Jobs.
  std::map<std::string, const json*> by_uid;
  for (const json* j : jobs) {
    const std::string uid = meta_str(*j, "uid");
    by_uid[uid] = j;
    bool found = in_active(status, uid);
    std::string fin = finished_condition(*j);
    if (!found && fin.empty()) {
      plan.events.push_back({"Warning", "UnexpectedJob",
                             "Saw a job that the controller did not create or forgot: " + meta_str(*j, "name")});
    } else if (found && !fin.empty()) {
      drop_active(status, uid);
      plan.events.push_back({"Normal", "SawCompletedJob",
                             "Saw completed job: " + meta_str(*j, "name") + ", condition: " + fin});
    }
    if (fin == "Complete") {
      auto ct = parse_rfc3339(jvalue(obj(*j, "status"), "completionTime", ""));
      auto last = parse_rfc3339(jvalue(status, "lastSuccessfulTime", ""));
      if (ct && (!last || *ct > *last)) status["lastSuccessfulTime"] = rfc3339(*ct);
    }
  }
  if (status.contains("active") && status["active"].is_array()) {
    json copy = status["active"];
    for (const auto& r : copy) {
      if (!by_uid.count(jvalue(r, "uid", ""))) {
        plan.events.push_back({"Normal", "MissingJob", "Active job went missing: " + jvalue(r, "name", "")});
        drop_active(status, jvalue(r, "uid", ""));
      }
    }
  }
  plan.status = status;
  cleanup_history(cj, jobs, plan);
  if (is_deleting(cj) || jvalue(spec, "suspend", false) == true) return plan;

  // 2. The schedule, in its time zone.
  std::string schedule = jvalue(spec, "schedule", "");
  cron::Zone zone;
  if (spec.contains("timeZone") && spec["timeZone"].is_string()) {
    std::string tz = spec["timeZone"].get<std::string>();
    auto z = cron::load_zone(tz);
    if (!z) {
      plan.events.push_back({"Warning", "UnknownTimeZone", "invalid timeZone: \"" + tz + "\": " + z.error().message});
      return plan;
    }
    zone = *z;
  }
  if (schedule.find("TZ") != std::string::npos) {
    plan.events.push_back({"Warning", "UnsupportedSchedule",
                           "CRON_TZ or TZ used in schedule \"" + schedule +
                               "\" is not officially supported, see "
                               "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details"});
  }
  auto sched = cron::parse_standard(schedule, zone);
  if (!sched) {
    plan.events.push_back(
        {"Warning", "UnparseableSchedule", "unparseable schedule: \"" + schedule + "\" : " + sched.error().message});
    return plan;
  }

  // 3. The most recent unmet time.
  json view = cj;
  view["status"] = plan.status;
  auto mr = most_recent_schedule_time(view, now, *sched, true);
  plan.requeue_after = next_schedule_delay(view, now, *sched);
  if (mr.error) {
    plan.events.push_back({"Warning", "InvalidSchedule",
                           "invalid schedule: " + schedule + " : time difference between two schedules is less than 1 second"});
    return plan;
  }
  if (!mr.most_recent || *mr.most_recent > now) return plan;
  if (mr.missed == Missed::kMany) {
    plan.events.push_back({"Warning", "TooManyMissedTimes",
                           "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"});
  }
  TimePoint scheduled = *mr.most_recent;
  if (spec.contains("startingDeadlineSeconds") && spec["startingDeadlineSeconds"].is_number_integer() &&
      scheduled + std::chrono::seconds(spec["startingDeadlineSeconds"].get<long long>()) < now) {
    plan.events.push_back({"Warning", "MissSchedule", "Missed scheduled time to start a job: " + rfc1123z(scheduled)});
    return plan;
  }
  const std::string job_name = cronjob_job_name(name, scheduled);
  bool processed = parse_rfc3339(jvalue(plan.status, "lastScheduleTime", "")) == scheduled;
  if (plan.status.contains("active") && plan.status["active"].is_array()) {
    for (const auto& r : plan.status["active"]) processed |= jvalue(r, "name", "") == job_name;
  }
  if (processed) return plan;
  std::string policy = jvalue(spec, "concurrencyPolicy", "Allow");
  bool has_active = plan.status.contains("active") && !plan.status["active"].empty();
  if (policy == "Forbid" && has_active) {
    plan.events.push_back({"Normal", "JobAlreadyActive",
                           "Not starting job because prior execution is running and concurrency policy is Forbid"});
    return plan;
  }
  if (policy == "Replace" && has_active) {
    for (const auto& r : json(plan.status["active"])) {
      plan.delete_jobs.push_back({jvalue(r, "name", ""), jvalue(r, "uid", "")});
      drop_active(plan.status, jvalue(r, "uid", ""));
    }
  }
  plan.create_job = job_from_cronjob(cj, scheduled);
  plan.scheduled_time = scheduled;
  if (!plan.create_job) {
    plan.events.push_back({"Warning", "UnknownTimeZone", "invalid timeZone: \"" + jvalue(spec, "timeZone", "") + "\""});
  }
  return plan;
}

}  // namespace k3dpp::controllers
