// Jobs and CronJobs end to end against the real ApiServer, controllers, scheduler and hollow nodes
// (whose pods annotated hollow.k3dpp.io/exit-code run to completion at once).
#include <doctest/doctest.h>

#include <set>
#include <thread>

#include "controllers/util.h"
#include "harness.h"

using namespace k3dpp;
using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::Harness;

namespace {

const client::Resource kJobs{"batch/v1", "jobs"};
const client::Resource kCronJobs{"batch/v1", "cronjobs"};

json job(const std::string& name, int completions, int parallelism, const std::string& exit_code,
         const std::string& extra = "{}") {
  json j = {{"apiVersion", "batch/v1"},
            {"kind", "Job"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"completions", completions},
              {"parallelism", parallelism},
              {"template",
               {{"metadata", {{"annotations", {{"hollow.k3dpp.io/exit-code", exit_code}}}}},
                {"spec",
                 {{"restartPolicy", "Never"},
                  {"containers", json::array({{{"name", "main"}, {"image", "busybox"}}})}}}}}}}};
  j["spec"].update(json::parse(extra));
  return j;
}

bool has_condition(const json& obj, const std::string& type) {
  if (obj.is_null() || !obj.contains("status")) return false;
  for (const auto& c : obj["status"].value("conditions", json::array())) {
    if (c.value("type", "") == type && c.value("status", "") == "True") return true;
  }
  return false;
}

std::string summary(Harness& h, const std::string& name) {
  json j = h.get(kJobs, "default", name);
  std::map<std::string, int> phases;
  int with_finalizer = 0;
  for (const auto& p : h.pods("default", "batch.kubernetes.io/job-name=" + name)) {
    ++phases[p["status"].value("phase", "")];
    with_finalizer += p["metadata"].contains("finalizers") ? 1 : 0;
  }
  std::string s = "status=" + j.value("status", json::object()).dump() + " pods:";
  for (const auto& [ph, n] : phases) s += " " + ph + "=" + std::to_string(n);
  return s + " with finalizer=" + std::to_string(with_finalizer);
}

std::vector<json> events_of(Harness& h, const std::string& name) {
  std::vector<json> out;
  auto l = h.api().list(client::res::kEvents, "default");
  if (!l) return out;
  for (const auto& e : l->items) {
    if (e["involvedObject"].value("name", "") == name) out.push_back(e);
  }
  return out;
}

}  // namespace

TEST_CASE("job: 100 completions at parallelism 10 complete with exactly 100 succeeded pods") {
  testing::HarnessOptions o;
  o.hollow_nodes = 4;
  Harness h(o);
  auto c = h.api().create(kJobs, "default", job("hundred", 100, 10, "0"));
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().message));
  // Generated selector and labels, defaults.
  CHECK(c->at("spec")["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == c->at("metadata")["uid"]);
  CHECK(c->at("spec")["template"]["metadata"]["labels"]["job-name"] == "hundred");
  CHECK(c->at("spec")["backoffLimit"] == 6);
  CHECK(c->at("spec")["completionMode"] == "NonIndexed");

  // Never more than 10 active pods on the way.
  long long max_active = 0;
  bool done = Harness::wait_for(
      [&] {
        json j = h.get(kJobs, "default", "hundred");
        max_active = std::max(max_active, j.value("status", json::object()).value("active", 0LL));
        return has_condition(j, "Complete");
      },
      120s);
  REQUIRE_MESSAGE(done, summary(h, "hundred"));
  json j = h.get(kJobs, "default", "hundred");
  CHECK(j["status"]["succeeded"] == 100);
  CHECK_FALSE(j["status"].contains("failed"));
  CHECK_FALSE(j["status"].contains("active"));
  CHECK(j["status"]["uncountedTerminatedPods"] == json::object());
  CHECK(j["status"].contains("completionTime"));
  CHECK(has_condition(j, "SuccessCriteriaMet"));
  CHECK(max_active <= 10);
  auto pods = h.pods("default", "batch.kubernetes.io/job-name=hundred");
  int succeeded = 0;
  for (const auto& p : pods) {
    succeeded += p["status"].value("phase", "") == "Succeeded" ? 1 : 0;
    CHECK_FALSE(p["metadata"].contains("finalizers"));  // every finalizer released
  }
  CHECK(succeeded == 100);
  CHECK(pods.size() == 100);  // no extra pod was ever created
  bool completed_event = false;
  int created = 0;
  for (const auto& e : events_of(h, "hundred")) {
    completed_event |= e.value("reason", "") == "Completed";
    if (e.value("reason", "") == "SuccessfulCreate") created += e.value("count", 1);
  }
  CHECK(completed_event);
  CHECK(created == 100);

  // Deleting a counted pod changes nothing: it is never counted twice.
  REQUIRE(h.api().remove(client::res::kPods, "default", controllers::meta_str(pods[0], "name")).has_value());
  std::this_thread::sleep_for(1s);
  CHECK(h.get(kJobs, "default", "hundred")["status"]["succeeded"] == 100);
}

TEST_CASE("job: a failing Job reaches backoffLimit and fails with BackoffLimitExceeded") {
  Harness h;
  // backoffLimit 0: one failure is past the limit, no back-off wait needed.
  REQUIRE(h.api().create(kJobs, "default", job("fails", 1, 1, "3", R"({"backoffLimit":0})")).has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return has_condition(h.get(kJobs, "default", "fails"), "Failed"); }, 30s),
                  summary(h, "fails"));
  json j = h.get(kJobs, "default", "fails");
  CHECK(j["status"]["failed"] == 1);
  CHECK(has_condition(j, "FailureTarget"));
  for (const auto& c : j["status"]["conditions"]) {
    if (c["type"] == "Failed") {
      CHECK(c["reason"] == "BackoffLimitExceeded");
      CHECK(c["message"] == "Job has reached the specified backoff limit");
    }
  }
  bool warned = false;
  for (const auto& e : events_of(h, "fails")) warned |= e.value("reason", "") == "BackoffLimitExceeded";
  CHECK(warned);
}

TEST_CASE("job: Indexed completions, podFailurePolicy FailJob, suspend, TTL after finished") {
  Harness h;
  REQUIRE(h.api()
              .create(kJobs, "default", job("idx", 4, 2, "0", R"({"completionMode":"Indexed"})"))
              .has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return has_condition(h.get(kJobs, "default", "idx"), "Complete"); }, 30s),
                  summary(h, "idx"));
  json j = h.get(kJobs, "default", "idx");
  CHECK(j["status"]["completedIndexes"] == "0-3");
  CHECK(j["status"]["succeeded"] == 4);
  std::set<std::string> hosts;
  for (const auto& p : h.pods("default", "batch.kubernetes.io/job-name=idx")) {
    hosts.insert(p["spec"].value("hostname", ""));
    CHECK(p["spec"]["containers"][0]["env"][0]["name"] == "JOB_COMPLETION_INDEX");
  }
  CHECK(hosts == std::set<std::string>{"idx-0", "idx-1", "idx-2", "idx-3"});

  REQUIRE(h.api()
              .create(kJobs, "default",
                      job("pfp", 1, 1, "42",
                          R"({"podFailurePolicy":{"rules":[{"action":"FailJob","onExitCodes":{"operator":"In","values":[42]}}]}})"))
              .has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return has_condition(h.get(kJobs, "default", "pfp"), "Failed"); }, 30s),
                  summary(h, "pfp"));
  for (const auto& c : h.get(kJobs, "default", "pfp")["status"]["conditions"]) {
    if (c["type"] == "Failed") {
      CHECK(c["reason"] == "PodFailurePolicy");
      CHECK(c["message"].get<std::string>().find("failed with exit code 42 matching FailJob rule at index 0") !=
            std::string::npos);
    }
  }

  // Suspended at creation: no pods, condition Suspended; resumed: runs to completion.
  REQUIRE(h.api().create(kJobs, "default", job("later", 2, 2, "0", R"({"suspend":true})")).has_value());
  REQUIRE(Harness::wait_for([&] { return has_condition(h.get(kJobs, "default", "later"), "Suspended"); }, 10s));
  CHECK(h.pods("default", "batch.kubernetes.io/job-name=later").empty());
  REQUIRE(h.api()
              .patch(kJobs, "default", "later", client::PatchType::kMerge, json{{"spec", {{"suspend", false}}}})
              .has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return has_condition(h.get(kJobs, "default", "later"), "Complete"); }, 30s),
                  summary(h, "later"));

  // ttlSecondsAfterFinished 0: deleted as soon as it finished, its pods with it.
  REQUIRE(h.api().create(kJobs, "default", job("ttl", 1, 1, "0", R"({"ttlSecondsAfterFinished":0})")).has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return h.get(kJobs, "default", "ttl").is_null(); }, 30s), summary(h, "ttl"));
  CHECK(Harness::wait_for([&] { return h.pods("default", "batch.kubernetes.io/job-name=ttl").empty(); }, 15s));
}

TEST_CASE("cronjob: an every-minute CronJob creates its Job; invalid schedules are refused") {
  Harness h;
  json cj = {{"apiVersion", "batch/v1"},
             {"kind", "CronJob"},
             {"metadata", {{"name", "tick"}}},
             {"spec",
              {{"schedule", "* * * * *"},
               {"jobTemplate",
                {{"spec",
                  {{"template",
                    {{"metadata", {{"annotations", {{"hollow.k3dpp.io/exit-code", "0"}}}}},
                     {"spec",
                      {{"restartPolicy", "OnFailure"},
                       {"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}}}}}}}}}};
  auto bad = cj;
  bad["metadata"]["name"] = "bad";
  bad["spec"]["schedule"] = "61 * * * *";
  auto r = h.api().create(kCronJobs, "default", bad);
  REQUIRE_FALSE(r.has_value());
  CHECK_MESSAGE(r.error().message.find("spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61") !=
                    std::string::npos,
                r.error().message);
  REQUIRE(h.api().create(kCronJobs, "default", cj).has_value());
  // The first run is at the next minute boundary: at most ~60 s.
  bool ran = Harness::wait_for(
      [&] {
        json c = h.get(kCronJobs, "default", "tick");
        return c.contains("status") && c["status"].contains("lastSuccessfulTime");
      },
      75s);
  json c = h.get(kCronJobs, "default", "tick");
  REQUIRE_MESSAGE(ran, c.dump());
  CHECK(c["status"].contains("lastScheduleTime"));
  auto jobs = h.api().list(kJobs, "default");
  REQUIRE(jobs.has_value());
  REQUIRE(jobs->items.size() >= 1);
  const json& j = jobs->items[0];
  std::string name = controllers::meta_str(j, "name");
  CHECK(name.rfind("tick-", 0) == 0);
  CHECK(controllers::annotations_of(j).contains("batch.kubernetes.io/cronjob-scheduled-timestamp"));
  auto sched = controllers::parse_rfc3339(controllers::annotations_of(j).value("batch.kubernetes.io/cronjob-scheduled-timestamp", ""));
  REQUIRE(sched.has_value());
  long long minutes = std::chrono::duration_cast<std::chrono::seconds>(sched->time_since_epoch()).count() / 60;
  CHECK(name == "tick-" + std::to_string(minutes));
}
