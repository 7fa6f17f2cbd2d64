// plan_job: the Job controller's decisions over plain JSON (no threads, no API server).
#include <doctest/doctest.h>

#include "controllers/job.h"

using namespace k3dpp::controllers;

namespace {

const TimePoint kNow = *parse_rfc3339("2025-01-01T00:10:00Z");

json make_job(const std::string& extra_spec = "{}") {
  json j = json::parse(R"({"apiVersion":"batch/v1","kind":"Job",
    "metadata":{"name":"pi","namespace":"default","uid":"job-uid"},
    "spec":{"parallelism":1,"completions":1,"backoffLimit":6,"completionMode":"NonIndexed","suspend":false,
      "podReplacementPolicy":"TerminatingOrFailed",
      "selector":{"matchLabels":{"batch.kubernetes.io/controller-uid":"job-uid"}},
      "template":{"metadata":{"labels":{"batch.kubernetes.io/controller-uid":"job-uid","job-name":"pi"}},
        "spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox"}]}}}})");
  j["spec"].update(json::parse(extra_spec));
  return j;
}

json make_pod(const std::string& name, const std::string& phase, bool finalizer = true, int index = -1,
              int exit_code = -1) {
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata",
             {{"name", name},
              {"namespace", "default"},
              {"uid", name + "-uid"},
              {"creationTimestamp", "2025-01-01T00:00:00Z"},
              {"ownerReferences",
               json::array({{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "pi"}, {"uid", "job-uid"},
                             {"controller", true}}})}}},
            {"spec", {{"nodeName", "n1"}}},
            {"status", {{"phase", phase}}}};
  if (finalizer) p["metadata"]["finalizers"] = json::array({kJobTrackingFinalizer});
  if (index >= 0) p["metadata"]["annotations"][kJobCompletionIndex] = std::to_string(index);
  if (exit_code >= 0) {
    p["status"]["containerStatuses"] = json::array(
        {{{"name", "main"},
          {"restartCount", 0},
          {"state", {{"terminated", {{"exitCode", exit_code}, {"finishedAt", "2025-01-01T00:09:55Z"}}}}}}});
  }
  return p;
}

std::vector<const json*> ptrs(const std::vector<json>& v) {
  std::vector<const json*> out;
  for (const auto& x : v) out.push_back(&x);
  return out;
}

const json* cond(const json& status, const std::string& type) {
  if (!status.contains("conditions")) return nullptr;
  for (const auto& c : status["conditions"]) {
    if (c["type"] == type) return &c;
  }
  return nullptr;
}

// Applies a plan's status to the job (what the API server stores).
json with_status(json job, const JobPlan& p) {
  job["status"] = p.status;
  return job;
}

}  // namespace

TEST_CASE("a new Job gets its first pod and the status Kubernetes writes") {
  auto p = plan_job(make_job(), {}, {}, kNow);
  CHECK(p.create == 1);
  CHECK(p.delete_pods.empty());
  CHECK(p.status["startTime"] == "2025-01-01T00:10:00Z");
  CHECK(p.status["active"] == 1);
  CHECK(p.status["ready"] == 0);
  CHECK(p.status["terminating"] == 0);
  CHECK(p.status["uncountedTerminatedPods"] == json::object());
  CHECK_FALSE(p.status.contains("succeeded"));
  CHECK_FALSE(p.status.contains("conditions"));
  // parallelism 3 of completions 5 → 3 pods; completions 5 with 4 succeeded → 1.
  CHECK(plan_job(make_job(R"({"parallelism":3,"completions":5})"), {}, {}, kNow).create == 3);
  auto j = make_job(R"({"parallelism":3,"completions":5})");
  j["status"]["succeeded"] = 4;
  CHECK(plan_job(j, {}, {}, kNow).create == 1);
}

TEST_CASE("a succeeded pod is counted once: uncounted, finalizer removed, then counted; then Complete") {
  auto job = make_job();
  std::vector<json> pods = {make_pod("pi-a", "Succeeded", true, -1, 0)};
  auto p1 = plan_job(job, ptrs(pods), {}, kNow);
  CHECK(p1.status["uncountedTerminatedPods"]["succeeded"] == json::array({"pi-a-uid"}));
  CHECK_FALSE(p1.status.contains("succeeded"));
  CHECK(p1.remove_finalizers == std::vector<std::string>{"pi-a"});
  CHECK(cond(p1.status, "SuccessCriteriaMet") != nullptr);
  CHECK((*cond(p1.status, "SuccessCriteriaMet"))["reason"] == "CompletionsReached");
  CHECK(cond(p1.status, "Complete") == nullptr);  // still uncounted
  CHECK(p1.create == 0);

  // The same pod seen again with its finalizer (the patch not observed yet): not recorded twice.
  auto job2 = with_status(job, p1);
  auto p1b = plan_job(job2, ptrs(pods), {}, kNow);
  CHECK(p1b.status["uncountedTerminatedPods"]["succeeded"] == json::array({"pi-a-uid"}));

  // Finalizer gone: counted, Complete with completionTime and the Completed event.
  pods[0]["metadata"].erase("finalizers");
  auto p2 = plan_job(job2, ptrs(pods), {}, kNow);
  CHECK(p2.status["succeeded"] == 1);
  CHECK(p2.status["uncountedTerminatedPods"] == json::object());
  REQUIRE(cond(p2.status, "Complete") != nullptr);
  CHECK((*cond(p2.status, "Complete"))["message"] == "Reached expected number of succeeded pods");
  CHECK(p2.status["completionTime"] == "2025-01-01T00:10:00Z");
  CHECK(p2.finished);
  CHECK(p2.events == std::vector<JobEvent>{{"Normal", "Completed", "Job completed"}});
  // Conditions in Kubernetes' order: SuccessCriteriaMet before Complete.
  CHECK(p2.status["conditions"][0]["type"] == "SuccessCriteriaMet");
  CHECK(p2.status["conditions"][1]["type"] == "Complete");

  // Finished: the pod (deleted and seen again without finalizer) is never counted a second time.
  auto done = with_status(job2, p2);
  auto p3 = plan_job(done, ptrs(pods), {}, kNow);
  CHECK(p3.status["succeeded"] == 1);
  CHECK(p3.create == 0);
}

TEST_CASE("a terminated pod without the finalizer that was never recorded is not counted") {
  auto job = make_job(R"({"completions":2,"parallelism":2})");
  std::vector<json> pods = {make_pod("pi-a", "Succeeded", false, -1, 0), make_pod("pi-b", "Running")};
  auto p = plan_job(job, ptrs(pods), {}, kNow);
  CHECK_FALSE(p.status.contains("succeeded"));
  CHECK(p.status["uncountedTerminatedPods"] == json::object());
  CHECK(p.create == 1);
}

TEST_CASE("backoffLimit: failures past the limit → FailureTarget, then Failed with BackoffLimitExceeded") {
  auto job = make_job(R"({"backoffLimit":1})");
  job["status"]["failed"] = 1;
  std::vector<json> pods = {make_pod("pi-b", "Failed", true, -1, 1)};
  auto p = plan_job(job, ptrs(pods), {}, kNow);
  REQUIRE(cond(p.status, "FailureTarget") != nullptr);
  CHECK((*cond(p.status, "FailureTarget"))["reason"] == "BackoffLimitExceeded");
  CHECK((*cond(p.status, "FailureTarget"))["message"] == "Job has reached the specified backoff limit");
  CHECK(cond(p.status, "Failed") == nullptr);
  CHECK(p.create == 0);
  pods[0]["metadata"].erase("finalizers");
  auto p2 = plan_job(with_status(job, p), ptrs(pods), {}, kNow);
  REQUIRE(cond(p2.status, "Failed") != nullptr);
  CHECK((*cond(p2.status, "Failed"))["reason"] == "BackoffLimitExceeded");
  CHECK(p2.status["failed"] == 2);
  CHECK_FALSE(p2.status.contains("completionTime"));
  CHECK(p2.events == std::vector<JobEvent>{{"Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit"}});
}

TEST_CASE("pod failure back-off: 10 s after the first failure, 20 s after the second") {
  auto job = make_job(R"({"backoffLimit":6})");
  std::vector<json> pods = {make_pod("pi-a", "Failed", true, -1, 1)};  // finished 00:09:55
  auto p = plan_job(job, ptrs(pods), {}, kNow);
  CHECK(p.backoff.failures == 1);
  CHECK(p.create == 0);  // 5 s left
  CHECK(p.requeue_after > std::chrono::seconds(4));
  CHECK(p.requeue_after < std::chrono::seconds(6));
  CHECK(plan_job(job, ptrs(pods), {}, kNow + std::chrono::seconds(6)).create == 1);
  JobBackoff two{2, *parse_rfc3339("2025-01-01T00:09:55Z")};
  CHECK(plan_job(make_job(), {}, two, kNow + std::chrono::seconds(14)).create == 0);
  CHECK(plan_job(make_job(), {}, two, kNow + std::chrono::seconds(16)).create == 1);
  JobBackoff many{20, *parse_rfc3339("2025-01-01T00:09:55Z")};  // capped at 10 minutes
  CHECK(plan_job(make_job(), {}, many, kNow + std::chrono::seconds(594)).create == 0);
  CHECK(plan_job(make_job(), {}, many, kNow + std::chrono::seconds(596)).create == 1);
  // A success resets the record.
  std::vector<json> ok = {make_pod("pi-c", "Succeeded", true, -1, 0)};
  CHECK(plan_job(make_job(R"({"completions":2})"), ptrs(ok), two, kNow).backoff.failures == 0);
}

TEST_CASE("restartPolicy OnFailure: container restarts reaching backoffLimit fail the Job") {
  auto job = make_job(R"({"backoffLimit":2})");
  job["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure";
  std::vector<json> pods = {make_pod("pi-a", "Running")};
  pods[0]["status"]["containerStatuses"] = json::array({{{"name", "main"}, {"restartCount", 1}}});
  CHECK(cond(plan_job(job, ptrs(pods), {}, kNow).status, "FailureTarget") == nullptr);
  pods[0]["status"]["containerStatuses"][0]["restartCount"] = 2;
  auto p = plan_job(job, ptrs(pods), {}, kNow);
  REQUIRE(cond(p.status, "FailureTarget") != nullptr);
  CHECK(p.delete_pods == std::vector<std::string>{"pi-a"});
}

TEST_CASE("activeDeadlineSeconds: DeadlineExceeded, active pods deleted; requeued until the deadline") {
  auto job = make_job(R"({"activeDeadlineSeconds":60})");
  job["status"]["startTime"] = "2025-01-01T00:09:30Z";
  std::vector<json> pods = {make_pod("pi-a", "Running")};
  auto early = plan_job(job, ptrs(pods), {}, kNow);
  CHECK(cond(early.status, "FailureTarget") == nullptr);
  CHECK(early.requeue_after > std::chrono::seconds(29));
  CHECK(early.requeue_after < std::chrono::seconds(31));
  auto late = plan_job(job, ptrs(pods), {}, kNow + std::chrono::seconds(31));
  REQUIRE(cond(late.status, "FailureTarget") != nullptr);
  CHECK((*cond(late.status, "FailureTarget"))["reason"] == "DeadlineExceeded");
  CHECK((*cond(late.status, "FailureTarget"))["message"] == "Job was active longer than specified deadline");
  CHECK(late.delete_pods == std::vector<std::string>{"pi-a"});
  CHECK(cond(late.status, "Failed") == nullptr);  // until the pod is gone
  auto gone = plan_job(with_status(job, late), {}, {}, kNow + std::chrono::seconds(32));
  REQUIRE(cond(gone.status, "Failed") != nullptr);
  CHECK(gone.events[0].reason == "DeadlineExceeded");
}

TEST_CASE("suspend deletes active pods and sets Suspended; resume resets startTime") {
  auto job = make_job(R"({"suspend":true,"parallelism":2,"completions":4})");
  job["status"]["startTime"] = "2025-01-01T00:00:00Z";
  std::vector<json> pods = {make_pod("pi-a", "Running"), make_pod("pi-b", "Pending")};
  auto p = plan_job(job, ptrs(pods), {}, kNow);
  CHECK(p.delete_pods.size() == 2);
  CHECK(p.create == 0);
  REQUIRE(cond(p.status, "Suspended") != nullptr);
  CHECK((*cond(p.status, "Suspended"))["status"] == "True");
  CHECK((*cond(p.status, "Suspended"))["reason"] == "JobSuspended");
  CHECK(p.events == std::vector<JobEvent>{{"Normal", "Suspended", "Job suspended"}});
  auto suspended = with_status(job, p);
  suspended["spec"]["suspend"] = false;
  auto r = plan_job(suspended, {}, {}, kNow + std::chrono::seconds(5));
  CHECK(r.create == 2);
  CHECK((*cond(r.status, "Suspended"))["status"] == "False");
  CHECK((*cond(r.status, "Suspended"))["reason"] == "JobResumed");
  CHECK(r.status["startTime"] == "2025-01-01T00:10:05Z");
  CHECK(r.events == std::vector<JobEvent>{{"Normal", "Resumed", "Job resumed"}});
  // Created suspended: no startTime, no pods.
  auto fresh = plan_job(make_job(R"({"suspend":true})"), {}, {}, kNow);
  CHECK_FALSE(fresh.status.contains("startTime"));
  CHECK(fresh.create == 0);
}

TEST_CASE("Indexed: one pod per index, completedIndexes, hostname and JOB_COMPLETION_INDEX") {
  auto job = make_job(R"({"completionMode":"Indexed","completions":3,"parallelism":2})");
  auto p = plan_job(job, {}, {}, kNow);
  CHECK(p.create_indexes == std::vector<int>{0, 1});
  std::vector<json> pods = {make_pod("pi-0-x", "Succeeded", true, 0, 0), make_pod("pi-1-y", "Running", true, 1)};
  auto p2 = plan_job(job, ptrs(pods), {}, kNow);
  CHECK(p2.status["completedIndexes"] == "0");
  CHECK(p2.status["succeeded"] == 1);
  CHECK(p2.create_indexes == std::vector<int>{2});
  CHECK(p2.remove_finalizers == std::vector<std::string>{"pi-0-x"});
  // A second succeeded pod of index 0 adds nothing.
  pods.push_back(make_pod("pi-0-z", "Succeeded", true, 0, 0));
  auto p3 = plan_job(with_status(job, p2), ptrs(pods), {}, kNow);
  CHECK(p3.status["succeeded"] == 1);
  // Duplicate active pods of one index: one goes.
  std::vector<json> dup = {make_pod("pi-1-a", "Running", true, 1), make_pod("pi-1-b", "Running", true, 1)};
  CHECK(plan_job(job, ptrs(dup), {}, kNow).delete_pods.size() == 1);

  json pod = job_pod(job, 2);
  CHECK(pod["metadata"]["generateName"] == "pi-2-");
  CHECK(pod["metadata"]["annotations"][kJobCompletionIndex] == "2");
  CHECK(pod["metadata"]["labels"][kJobCompletionIndex] == "2");
  CHECK(pod["metadata"]["finalizers"] == json::array({kJobTrackingFinalizer}));
  CHECK(pod["metadata"]["ownerReferences"][0]["kind"] == "Job");
  CHECK(pod["metadata"]["ownerReferences"][0]["controller"] == true);
  CHECK(pod["spec"]["hostname"] == "pi-2");
  CHECK(pod["spec"]["containers"][0]["env"][0]["name"] == "JOB_COMPLETION_INDEX");
  CHECK(pod["spec"]["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] ==
        "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  CHECK(job_pod(make_job(), std::nullopt)["metadata"]["generateName"] == "pi-");
  CHECK_FALSE(job_pod(make_job(), std::nullopt)["spec"].contains("hostname"));
}

TEST_CASE("completed indexes are written and read as Kubernetes does") {
  CHECK(format_indexes({1, 3, 4, 5, 7}) == "1,3-5,7");
  CHECK(format_indexes({}) == "");
  CHECK(parse_indexes("1,3-5,7", 6) == std::set<int>{1, 3, 4, 5});
  CHECK(parse_indexes("x,2", 6) == std::set<int>{2});
}

TEST_CASE("podFailurePolicy: FailJob on an exit code, Ignore leaves the pod uncounted") {
  auto job = make_job(R"({"podReplacementPolicy":"Failed","podFailurePolicy":{"rules":[
      {"action":"FailJob","onExitCodes":{"containerName":"main","operator":"In","values":[42]}},
      {"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget"}]}]}})");
  std::vector<json> pods = {make_pod("pi-a", "Failed", true, -1, 42)};
  auto p = plan_job(job, ptrs(pods), {}, kNow);
  REQUIRE(cond(p.status, "FailureTarget") != nullptr);
  CHECK((*cond(p.status, "FailureTarget"))["reason"] == "PodFailurePolicy");
  CHECK((*cond(p.status, "FailureTarget"))["message"] ==
        "Container main for pod default/pi-a failed with exit code 42 matching FailJob rule at index 0");

  std::vector<json> evicted = {make_pod("pi-b", "Failed", true, -1, 137)};
  evicted[0]["status"]["conditions"] = json::array({{{"type", "DisruptionTarget"}, {"status", "True"}}});
  auto q = plan_job(job, ptrs(evicted), {}, kNow + std::chrono::minutes(5));
  CHECK(cond(q.status, "FailureTarget") == nullptr);
  CHECK(q.status["uncountedTerminatedPods"] == json::object());
  CHECK(q.remove_finalizers == std::vector<std::string>{"pi-b"});
  CHECK(q.create == 1);  // replaced, no back-off (an ignored failure is not a failure)
  // Another exit code counts toward backoffLimit.
  std::vector<json> other = {make_pod("pi-c", "Failed", true, -1, 1)};
  auto r = plan_job(job, ptrs(other), {}, kNow);
  CHECK(cond(r.status, "FailureTarget") == nullptr);
  CHECK(r.status["uncountedTerminatedPods"]["failed"] == json::array({"pi-c-uid"}));
}

TEST_CASE("a deleted running pod counts as failed (TerminatingOrFailed), not with podReplacementPolicy Failed") {
  std::vector<json> pods = {make_pod("pi-a", "Running")};
  pods[0]["metadata"]["deletionTimestamp"] = "2025-01-01T00:09:59Z";
  auto p = plan_job(make_job(), ptrs(pods), {}, kNow);
  CHECK(p.status["uncountedTerminatedPods"]["failed"] == json::array({"pi-a-uid"}));
  CHECK(p.status["terminating"] == 1);
  auto q = plan_job(make_job(R"({"podReplacementPolicy":"Failed"})"), ptrs(pods), {}, kNow);
  CHECK(q.status["uncountedTerminatedPods"] == json::object());
  CHECK(q.create == 0);  // the terminating pod still holds its place
}

TEST_CASE("ttlSecondsAfterFinished: expiry from the finish condition") {
  auto job = make_job(R"({"ttlSecondsAfterFinished":30})");
  CHECK_FALSE(job_ttl_expiry(job).has_value());
  job["status"]["conditions"] = json::array(
      {{{"type", "Complete"}, {"status", "True"}, {"lastTransitionTime", "2025-01-01T00:09:00Z"}}});
  REQUIRE(job_ttl_expiry(job).has_value());
  CHECK(*job_ttl_expiry(job) == *parse_rfc3339("2025-01-01T00:09:30Z"));
  auto p = plan_job(job, {}, {}, *parse_rfc3339("2025-01-01T00:09:10Z"));
  CHECK(p.finished);
  CHECK(p.requeue_after > std::chrono::seconds(19));
}
