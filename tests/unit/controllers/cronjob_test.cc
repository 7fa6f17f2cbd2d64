// plan_cronjob: the CronJob controller's decisions over plain JSON (no threads, no API server).
#include <doctest/doctest.h>

#include "controllers/cronjob.h"

using namespace k3dpp::controllers;
using namespace std::chrono_literals;

namespace {

TimePoint t(const char* s) { return *parse_rfc3339(s); }

json make_cj(const std::string& extra_spec = "{}", const char* created = "2024-03-05T10:00:30Z") {
  json cj = json::parse(R"({"apiVersion":"batch/v1","kind":"CronJob",
    "metadata":{"name":"hello","namespace":"default","uid":"cj-uid"},
    "spec":{"schedule":"*/1 * * * *","concurrencyPolicy":"Allow","suspend":false,
      "successfulJobsHistoryLimit":3,"failedJobsHistoryLimit":1,
      "jobTemplate":{"metadata":{"labels":{"team":"a"}},"spec":{"template":{"spec":{"restartPolicy":"OnFailure",
        "containers":[{"name":"hello","image":"busybox"}]}}}}}})");
  cj["metadata"]["creationTimestamp"] = created;
  cj["spec"].update(json::parse(extra_spec));
  return cj;
}

json make_job(const std::string& name, const std::string& finished = "", const std::string& start = "",
              const std::string& completion = "") {
  json j = {{"apiVersion", "batch/v1"},
            {"kind", "Job"},
            {"metadata",
             {{"name", name},
              {"namespace", "default"},
              {"uid", name + "-uid"},
              {"resourceVersion", "7"},
              {"ownerReferences",
               json::array({{{"apiVersion", "batch/v1"}, {"kind", "CronJob"}, {"name", "hello"}, {"uid", "cj-uid"},
                             {"controller", true}}})}}},
            {"status", json::object()}};
  if (!start.empty()) j["status"]["startTime"] = start;
  if (!finished.empty()) {
    j["status"]["conditions"] = json::array({{{"type", finished}, {"status", "True"}}});
  }
  if (!completion.empty()) j["status"]["completionTime"] = completion;
  return j;
}

std::vector<const json*> ptrs(const std::vector<json>& v) {
  std::vector<const json*> out;
  for (const auto& x : v) out.push_back(&x);
  return out;
}

bool has_event(const CronJobPlan& p, const std::string& reason) {
  for (const auto& e : p.events) {
    if (e.reason == reason) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("the due schedule time creates one Job named <cronjob>-<minutes since epoch>") {
  auto p = plan_cronjob(make_cj(), {}, t("2024-03-05T10:01:05Z"));
  REQUIRE(p.create_job.has_value());
  const json& j = *p.create_job;
  long long minutes = std::chrono::duration_cast<std::chrono::seconds>(t("2024-03-05T10:01:00Z").time_since_epoch()).count() / 60;
  CHECK(j["metadata"]["name"] == "hello-" + std::to_string(minutes));
  CHECK(j["metadata"]["labels"]["team"] == "a");
  CHECK(j["metadata"]["annotations"][kCronJobScheduledTimestamp] == "2024-03-05T10:01:00Z");
  CHECK(j["metadata"]["ownerReferences"][0]["kind"] == "CronJob");
  CHECK(j["metadata"]["ownerReferences"][0]["controller"] == true);
  CHECK(j["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure");
  CHECK(*p.scheduled_time == t("2024-03-05T10:01:00Z"));
  REQUIRE(p.requeue_after.has_value());
  CHECK(*p.requeue_after > 54s);
  CHECK(*p.requeue_after < 56s);
  // Before the first time: nothing, requeued for it.
  auto early = plan_cronjob(make_cj(), {}, t("2024-03-05T10:00:40Z"));
  CHECK_FALSE(early.create_job.has_value());
  CHECK(*early.requeue_after > 19s);
  CHECK(*early.requeue_after < 21s);

  json status = json::object();
  add_active(status, make_job("hello-1"), t("2024-03-05T10:01:00Z"));
  CHECK(status["lastScheduleTime"] == "2024-03-05T10:01:00Z");
  CHECK(status["active"][0] == json({{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "hello-1"},
                                     {"namespace", "default"}, {"resourceVersion", "7"}, {"uid", "hello-1-uid"}}));
}

TEST_CASE("a time already scheduled is not scheduled again") {
  auto cj = make_cj();
  cj["status"]["lastScheduleTime"] = "2024-03-05T10:01:00Z";
  CHECK_FALSE(plan_cronjob(cj, {}, t("2024-03-05T10:01:30Z")).create_job.has_value());
  CHECK(plan_cronjob(cj, {}, t("2024-03-05T10:02:01Z")).create_job.has_value());
}

TEST_CASE("concurrencyPolicy Forbid skips, Replace deletes the running Job") {
  std::vector<json> jobs = {make_job("hello-1")};
  for (const char* policy : {"Forbid", "Replace", "Allow"}) {
    auto cj = make_cj(std::string(R"({"concurrencyPolicy":")") + policy + "\"}");
    cj["status"]["lastScheduleTime"] = "2024-03-05T10:01:00Z";
    add_active(cj["status"], jobs[0], t("2024-03-05T10:01:00Z"));
    auto p = plan_cronjob(cj, ptrs(jobs), t("2024-03-05T10:02:01Z"));
    if (std::string(policy) == "Forbid") {
      CHECK_FALSE(p.create_job.has_value());
      CHECK(has_event(p, "JobAlreadyActive"));
    } else if (std::string(policy) == "Replace") {
      CHECK(p.create_job.has_value());
      REQUIRE(p.delete_jobs.size() == 1);
      CHECK(p.delete_jobs[0].name == "hello-1");
      CHECK_FALSE(p.status.contains("active"));
    } else {
      CHECK(p.create_job.has_value());
      CHECK(p.delete_jobs.empty());
    }
  }
}

TEST_CASE("finished Jobs leave the active list; lastSuccessfulTime; missing Jobs") {
  std::vector<json> jobs = {make_job("hello-1", "Complete", "2024-03-05T10:01:01Z", "2024-03-05T10:01:09Z")};
  auto cj = make_cj();
  cj["status"]["lastScheduleTime"] = "2024-03-05T10:01:00Z";
  add_active(cj["status"], jobs[0], t("2024-03-05T10:01:00Z"));
  add_active(cj["status"], make_job("hello-gone"), t("2024-03-05T10:01:00Z"));
  auto p = plan_cronjob(cj, ptrs(jobs), t("2024-03-05T10:01:30Z"));
  CHECK_FALSE(p.status.contains("active"));
  CHECK(p.status["lastSuccessfulTime"] == "2024-03-05T10:01:09Z");
  CHECK(has_event(p, "SawCompletedJob"));
  CHECK(p.events[0].message == "Saw completed job: hello-1, condition: Complete");
  CHECK(has_event(p, "MissingJob"));
  // A running Job it did not create (kubectl create job --from=cronjob/hello): UnexpectedJob.
  std::vector<json> manual = {make_job("manual")};
  CHECK(has_event(plan_cronjob(make_cj(), ptrs(manual), t("2024-03-05T10:00:40Z")), "UnexpectedJob"));
}

TEST_CASE("history limits delete the oldest finished Jobs") {
  std::vector<json> jobs;
  for (int i = 1; i <= 5; ++i) {
    jobs.push_back(make_job("ok-" + std::to_string(i), "Complete", "2024-03-05T10:0" + std::to_string(i) + ":00Z"));
  }
  jobs.push_back(make_job("bad-1", "Failed", "2024-03-05T10:01:00Z"));
  jobs.push_back(make_job("bad-2", "Failed", "2024-03-05T10:02:00Z"));
  jobs.push_back(make_job("running"));
  auto p = plan_cronjob(make_cj(R"({"suspend":true})"), ptrs(jobs), t("2024-03-05T10:10:00Z"));
  std::vector<std::string> names;
  for (const auto& d : p.delete_jobs) names.push_back(d.name);
  CHECK(names == std::vector<std::string>{"ok-1", "ok-2", "bad-1"});
  CHECK_FALSE(p.create_job.has_value());  // suspended
}

TEST_CASE("startingDeadlineSeconds and too many missed start times") {
  // Created a day ago, never scheduled: > 100 missed, the most recent one is still started.
  auto cj = make_cj("{}", "2024-03-04T10:00:30Z");
  auto p = plan_cronjob(cj, {}, t("2024-03-05T10:01:05Z"));
  CHECK(has_event(p, "TooManyMissedTimes"));
  REQUIRE(p.create_job.has_value());
  CHECK(*p.scheduled_time == t("2024-03-05T10:01:00Z"));
  // With a deadline of 200 s only the last 200 s count: no warning, same time.
  auto d = plan_cronjob(make_cj(R"({"startingDeadlineSeconds":200})", "2024-03-04T10:00:30Z"), {},
                        t("2024-03-05T10:01:05Z"));
  CHECK_FALSE(has_event(d, "TooManyMissedTimes"));
  REQUIRE(d.create_job.has_value());
  // An hourly job whose time passed 30 minutes ago with a 60 s deadline: nothing started.
  auto late = plan_cronjob(make_cj(R"({"schedule":"0 * * * *","startingDeadlineSeconds":60})", "2024-03-05T09:50:00Z"),
                           {}, t("2024-03-05T10:30:00Z"));
  CHECK_FALSE(late.create_job.has_value());
}

TEST_CASE("timeZone: the schedule in the zone, the annotation with its offset") {
  auto cj = make_cj(R"({"schedule":"0 9 * * *","timeZone":"Europe/Amsterdam"})", "2024-03-04T12:00:00Z");
  auto p = plan_cronjob(cj, {}, t("2024-03-05T08:00:30Z"));
  REQUIRE(p.create_job.has_value());
  CHECK(*p.scheduled_time == t("2024-03-05T08:00:00Z"));
  CHECK((*p.create_job)["metadata"]["annotations"][kCronJobScheduledTimestamp] == "2024-03-05T09:00:00+01:00");
  auto bad = plan_cronjob(make_cj(R"({"timeZone":"Mars/Base"})"), {}, t("2024-03-05T10:01:05Z"));
  CHECK(has_event(bad, "UnknownTimeZone"));
  CHECK_FALSE(bad.create_job.has_value());
  CHECK(rfc1123z(t("2024-03-05T10:00:00Z")) == "Tue, 05 Mar 2024 10:00:00 +0000");
}
