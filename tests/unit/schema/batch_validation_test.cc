// Jobs and CronJobs (batch/v1): the generated selector and labels, defaults, and validation with
// Kubernetes' messages (pkg/apis/batch/validation, robfig/cron's schedule errors).
#include <doctest/doctest.h>

#include "node-image/schema/schema.h"

using namespace k3dpp::schema;

namespace {

const ResourceType& type(const char* kind) {
  const ResourceType* t = find_by_kind("batch/v1", kind);
  REQUIRE(t != nullptr);
  return *t;
}

std::vector<std::string> texts(const std::vector<FieldCause>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(cause_text(c));
  return out;
}

// What the API server does on create: defaults, then the uid-dependent preparation.
json created_job(const char* spec) {
  json j = json::parse(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi","uid":"u-1"}})");
  j["spec"] = json::parse(spec);
  apply_defaults(type("Job"), j);
  prepare_create(type("Job"), j);
  return j;
}

const char* kTemplate = R"({"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]})";

json job_spec(const std::string& extra = "{}") {
  json s = {{"template", {{"spec", json::parse(kTemplate)}}}};
  s.update(json::parse(extra));
  return s;
}

json cronjob(const std::string& schedule, const std::string& extra = "{}") {
  json c = json::parse(R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"hello"}})");
  c["spec"] = {{"schedule", schedule}, {"jobTemplate", {{"spec", {{"template", {{"spec", json::parse(kTemplate)}}}}}}}};
  c["spec"].update(json::parse(extra));
  apply_defaults(type("CronJob"), c);
  return c;
}

}  // namespace

TEST_CASE("a Job gets Kubernetes' defaults, its generated selector and labels") {
  json j = created_job(job_spec().dump().c_str());
  CHECK(j["spec"]["parallelism"] == 1);
  CHECK(j["spec"]["completions"] == 1);
  CHECK(j["spec"]["backoffLimit"] == 6);
  CHECK(j["spec"]["completionMode"] == "NonIndexed");
  CHECK(j["spec"]["suspend"] == false);
  CHECK(j["spec"]["podReplacementPolicy"] == "TerminatingOrFailed");
  CHECK(j["spec"]["selector"] == json::parse(R"({"matchLabels":{"batch.kubernetes.io/controller-uid":"u-1"}})"));
  CHECK(j["spec"]["template"]["metadata"]["labels"] ==
        json::parse(R"({"batch.kubernetes.io/controller-uid":"u-1","batch.kubernetes.io/job-name":"pi",
                        "controller-uid":"u-1","job-name":"pi"})"));
  CHECK(j["metadata"]["labels"] == j["spec"]["template"]["metadata"]["labels"]);
  CHECK(validate_create(type("Job"), j).empty());
  // parallelism alone: completions stay unset (a work queue); a podFailurePolicy makes the
  // replacement policy Failed.
  json w = created_job(job_spec(R"({"parallelism":3})").dump().c_str());
  CHECK_FALSE(w["spec"].contains("completions"));
  json p = created_job(
      job_spec(R"({"podFailurePolicy":{"rules":[{"action":"Ignore","onExitCodes":{"operator":"In","values":[1]}}]}})")
          .dump()
          .c_str());
  CHECK(p["spec"]["podReplacementPolicy"] == "Failed");
  CHECK(validate_create(type("Job"), p).empty());
}

TEST_CASE("Job validation messages") {
  json j = created_job(job_spec(R"({"parallelism":-1,"completionMode":"Indexed","activeDeadlineSeconds":0})").dump().c_str());
  j["spec"].erase("completions");
  auto t = texts(validate_create(type("Job"), j));
  CHECK(std::find(t.begin(), t.end(), "spec.parallelism: Invalid value: -1: must be greater than or equal to 0") != t.end());
  CHECK(std::find(t.begin(), t.end(), "spec.completions: Required value: when completion mode is Indexed") != t.end());
  CHECK(std::find(t.begin(), t.end(), "spec.activeDeadlineSeconds: Invalid value: 0: must be greater than 0") != t.end());

  // A user selector without manualSelector: not the generated one.
  json s = created_job(job_spec(R"({"selector":{"matchLabels":{"app":"x"}},
                                    "template":{"metadata":{"labels":{"app":"x"}},"spec":{"restartPolicy":"Never",
                                    "containers":[{"name":"c","image":"busybox"}]}}})")
                           .dump()
                           .c_str());
  auto st = texts(validate_create(type("Job"), s));
  REQUIRE_FALSE(st.empty());
  CHECK(st.back().find("spec.selector: Invalid value: ") == 0);
  CHECK(st.back().find("`selector` not auto-generated") != std::string::npos);
  // With manualSelector: true it is the user's.
  json m = created_job(job_spec(R"({"manualSelector":true,"selector":{"matchLabels":{"app":"x"}},
                                    "template":{"metadata":{"labels":{"app":"x"}},"spec":{"restartPolicy":"Never",
                                    "containers":[{"name":"c","image":"busybox"}]}}})")
                           .dump()
                           .c_str());
  CHECK(validate_create(type("Job"), m).empty());

  // restartPolicy Always is not for Jobs; podFailurePolicy needs Never.
  json a = created_job(job_spec().dump().c_str());
  a["spec"]["template"]["spec"]["restartPolicy"] = "Always";
  auto at = texts(validate_create(type("Job"), a));
  REQUIRE(at.size() == 1);
  CHECK(at[0] == "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"");

  // Immutable fields on update.
  json old = created_job(job_spec(R"({"completions":3})").dump().c_str());
  json upd = old;
  upd["spec"]["completions"] = 4;
  CHECK(texts(validate_update(type("Job"), upd, old)) ==
        std::vector<std::string>{"spec.completions: Invalid value: 4: field is immutable"});
  upd = old;
  upd["spec"]["parallelism"] = 2;  // parallelism may change
  CHECK(validate_update(type("Job"), upd, old).empty());
}

TEST_CASE("CronJob schedules are refused with robfig's messages, TZ in the schedule too") {
  auto check = [](const std::string& schedule, const std::string& want) {
    auto t = texts(validate_create(type("CronJob"), cronjob(schedule)));
    REQUIRE_MESSAGE(t.size() == 1, schedule);
    CHECK(t[0] == want);
  };
  check("61 * * * *", "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61");
  check("every minute", "spec.schedule: Invalid value: \"every minute\": expected exactly 5 fields, found 2: [every minute]");
  check("@often", "spec.schedule: Invalid value: \"@often\": unrecognized descriptor: @often");
  check("CRON_TZ=UTC 0 * * * *",
        "spec.schedule: Invalid value: \"CRON_TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
  for (const char* ok : {"*/1 * * * *", "@hourly", "@every 2h", "0 9 * JAN-MAR MON-FRI"}) {
    CHECK_MESSAGE(validate_create(type("CronJob"), cronjob(ok)).empty(), ok);
  }
  CHECK(texts(validate_create(type("CronJob"), cronjob("", "{}"))) ==
        std::vector<std::string>{"spec.schedule: Required value"});
}

TEST_CASE("CronJob timeZone, name length, defaults and the job template's selector") {
  CHECK(validate_create(type("CronJob"), cronjob("0 9 * * *", R"({"timeZone":"Europe/Amsterdam"})")).empty());
  CHECK(texts(validate_create(type("CronJob"), cronjob("0 9 * * *", R"({"timeZone":"Mars/Olympus"})"))) ==
        std::vector<std::string>{"spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"});
  CHECK(texts(validate_create(type("CronJob"), cronjob("0 9 * * *", R"({"timeZone":"Local"})"))) ==
        std::vector<std::string>{"spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as "
                                 "defined in https://www.iana.org/time-zones"});
  json c = cronjob("* * * * *");
  CHECK(c["spec"]["concurrencyPolicy"] == "Allow");
  CHECK(c["spec"]["successfulJobsHistoryLimit"] == 3);
  CHECK(c["spec"]["failedJobsHistoryLimit"] == 1);
  CHECK(c["spec"]["suspend"] == false);
  c["metadata"]["name"] = std::string(53, 'a');
  CHECK(texts(validate_create(type("CronJob"), c)) ==
        std::vector<std::string>{"metadata.name: Invalid value: \"" + std::string(53, 'a') +
                                 "\": must be no more than 52 characters"});
  json p = cronjob("* * * * *", R"({"concurrencyPolicy":"Sometimes"})");
  CHECK(texts(validate_create(type("CronJob"), p)) ==
        std::vector<std::string>{"spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: "
                                 "\"Allow\", \"Forbid\", \"Replace\""});
  // An update may keep a TZ= schedule it already had (AllowTZInSchedule).
  json old = cronjob("* * * * *");
  old["spec"]["schedule"] = "TZ=UTC 0 * * * *";
  json upd = old;
  upd["spec"]["suspend"] = true;
  CHECK(validate_update(type("CronJob"), upd, old).empty());
}
