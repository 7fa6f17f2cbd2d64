// The CronJob controller loop (batch/v1): reads the CronJob and Job caches, applies plan_cronjob
// (cronjob.h): Jobs deleted (Replace, history limits) and created, the status written, events; the
// CronJob is synced again at its next schedule time.
#include "controllers/cronjob.h"
#include "controllers/internal.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

const client::Resource kCronJobs{"batch/v1", "cronjobs"};
const client::Resource kJobs{"batch/v1", "jobs"};

class CronJobController : public Controller {
 public:
  explicit CronJobController(Context ctx)
      : Controller(ctx, "cronjob", 1), cronjobs_(ctx.informers.get(kCronJobs)), jobs_(ctx.informers.get(kJobs)) {}

  void setup() override {
    cronjobs_.add_handlers({[this](const json& o) { enqueue(client::object_key(o)); },
                            [this](const json& old, const json& o) {
                              if (jvalue(old, "spec", json()) != jvalue(o, "spec", json()) ||
                                  is_deleting(o) != is_deleting(old)) {
                                enqueue(client::object_key(o));
                              }
                            },
                            nullptr});
    auto job_h = [this](const json& j) {
      const json* ref = controller_ref(j);
      if (ref != nullptr && jvalue(*ref, "kind", "") == "CronJob") {
        enqueue_soon(client::object_key(meta_str(j, "namespace"), jvalue(*ref, "name", "")));
      }
    };
    jobs_.add_handlers({job_h, [job_h](const json&, const json& j) { job_h(j); }, job_h});
  }

 private:
  std::optional<std::chrono::milliseconds> sync(const std::string& key) override {
    auto cj = cronjobs_.get(key);
    if (!cj) return std::nullopt;
    auto [ns, name] = split_key(key);
    const std::string uid = meta_str(*cj, "uid");
    auto owned = jobs_.list(ns, [&](const json& j) {
      const json* ref = controller_ref(j);
      return ref != nullptr && jvalue(*ref, "uid", "") == uid;
    });
    std::vector<const json*> jobs;
    for (const auto& j : owned) jobs.push_back(j.get());
    auto plan = plan_cronjob(*cj, jobs, Clock::now());
    for (const auto& ev : plan.events) events_.record(*cj, ev.type, ev.reason, ev.message);

    std::optional<std::chrono::milliseconds> again = plan.requeue_after;
    for (const auto& d : plan.delete_jobs) {
      client::DeleteOptions o;
      o.propagation_policy = "Background";
      o.precondition_uid = d.uid;
      auto r = ctx_.client.remove(kJobs, ns, d.name, o);
      if (r || r.error().kind == "NotFound") {
        if (r) events_.record(*cj, "Normal", "SuccessfulDelete", "Deleted job " + d.name);
      } else {
        events_.record(*cj, "Warning", "FailedDelete", "Deleted job: " + r.error().message);
        again = std::chrono::milliseconds(2000);
      }
    }
    if (plan.create_job) {
      auto r = ctx_.client.create(kJobs, ns, *plan.create_job);
      if (r) {
        events_.record(*cj, "Normal", "SuccessfulCreate", "Created job " + meta_str(*r, "name"));
        add_active(plan.status, *r, *plan.scheduled_time);
      } else if (r.error().kind == "AlreadyExists") {
        // Created before (the status write was lost): record it if it is ours.
        auto existing = ctx_.client.get(kJobs, ns, meta_str(*plan.create_job, "name"));
        const json* ref = existing ? controller_ref(*existing) : nullptr;
        if (ref != nullptr && jvalue(*ref, "uid", "") == uid) add_active(plan.status, *existing, *plan.scheduled_time);
      } else if (r.error().message.find("because it is being terminated") == std::string::npos) {
        events_.record(*cj, "Warning", "FailedCreate", "Error creating job: " + r.error().message);
        again = std::chrono::milliseconds(5000);
      }
    }
    json cur = cj->contains("status") ? (*cj)["status"] : json::object();
    if (plan.status != cur) {
      json next = *cj;
      next["status"] = plan.status;
      auto r = ctx_.client.update_status(kCronJobs, ns, next);
      if (!r && r.error().kind != "NotFound") {
        log_->debug("cronjob {}: status: {}", key, r.error().message);
        return std::chrono::milliseconds(500);
      }
    }
    return again;
  }

  client::Informer& cronjobs_;
  client::Informer& jobs_;
  AsyncEventRecorder events_{ctx_.client, "cronjob-controller", 1};
};

}  // namespace

std::unique_ptr<Controller> make_cronjob_controller(Context ctx) { return std::make_unique<CronJobController>(ctx); }

}  // namespace k3dpp::controllers
