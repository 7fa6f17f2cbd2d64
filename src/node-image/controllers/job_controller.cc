// The Job controller loop (batch/v1) and the TTL-after-finished controller: reads the Job and
// pod caches, applies plan_job (job.h) through the ApiClient: pods created (slow-start batches),
// deleted (tracking finalizer dropped first, so a pod the controller deletes is never counted),
// the status written, then the finalizers of the pods that status records removed, events.
#include <atomic>
#include <set>
#include <thread>

#include "controllers/internal.h"
#include "controllers/job.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

const client::Resource kJobs{"batch/v1", "jobs"};

bool owned_by_job(const json& pod, std::string* name) {
  const json* ref = controller_ref(pod);
  if (ref == nullptr || jvalue(*ref, "kind", "") != "Job" || jvalue(*ref, "apiVersion", "") != "batch/v1") return false;
  if (name != nullptr) *name = jvalue(*ref, "name", "");
  return true;
}

bool has_tracking_finalizer(const json& pod) {
  if (!pod.contains("metadata") || !pod["metadata"].contains("finalizers")) return false;
  for (const auto& f : pod["metadata"]["finalizers"]) {
    if (f == kJobTrackingFinalizer) return true;
  }
  return false;
}

class JobController : public Controller {
 public:
  explicit JobController(Context ctx)
      : Controller(ctx, "job", ctx.options.job_workers),
        jobs_(ctx.informers.get(kJobs)),
        pods_(ctx.informers.get(client::res::kPods)),
        index_(ctx.informers.pod_index()) {}

  void setup() override {
    jobs_.add_handlers({[this](const json& o) { enqueue(client::object_key(o)); },
                        [this](const json&, const json& o) { enqueue(client::object_key(o)); },
                        [this](const json& o) { enqueue(client::object_key(o)); }});
    auto pod_h = [this](const json& p) {
      std::string name;
      if (owned_by_job(p, &name)) enqueue_soon(client::object_key(meta_str(p, "namespace"), name));
    };
    pods_.add_handlers({pod_h, [pod_h](const json&, const json& p) { pod_h(p); }, pod_h});
  }

 private:
  struct Expectations {
    std::map<std::string, std::pair<std::shared_ptr<const json>, std::chrono::steady_clock::time_point>> creates;
    std::map<std::string, std::chrono::steady_clock::time_point> deletes;
  };

  Status remove_finalizer(const std::string& ns, const std::string& pod) {
    json patch = {{"metadata", {{"$deleteFromPrimitiveList/finalizers", json::array({kJobTrackingFinalizer})}}}};
    auto r = ctx_.client.patch(client::res::kPods, ns, pod, client::PatchType::kStrategicMerge, patch);
    if (!r && r.error().kind != "NotFound") return unexpected(r.error());
    return {};
  }

  // Pods left with our finalizer by a Job that is gone or being deleted.
  void release_pods(const std::string& ns, const std::string& job_name, const std::string& job_uid) {
    auto pods = pods_.list(ns, [&](const json& p) {
      const json* ref = controller_ref(p);
      if (ref == nullptr || jvalue(*ref, "kind", "") != "Job" || !has_tracking_finalizer(p)) return false;
      return job_uid.empty() ? jvalue(*ref, "name", "") == job_name : jvalue(*ref, "uid", "") == job_uid;
    });
    for (const auto& p : pods) {
      if (auto s = remove_finalizer(ns, meta_str(*p, "name")); !s) {
        log_->debug("job {}/{}: release pod {}: {}", ns, job_name, meta_str(*p, "name"), s.error().message);
      }
    }
  }

  std::optional<std::chrono::milliseconds> sync(const std::string& key) override {
    auto job = jobs_.get(key);
    auto [ns, name] = split_key(key);
    if (!job) {
      {
        std::lock_guard<std::mutex> l(mu_);
        expectations_.erase(key);
        backoff_.erase(key);
      }
      release_pods(ns, name, "");
      return std::nullopt;
    }
    const std::string uid = meta_str(*job, "uid");
    if (is_deleting(*job)) {
      release_pods(ns, name, uid);
      return std::nullopt;
    }
    // TTL after finished (Kubernetes' ttlafterfinished controller): delete once expired.
    if (auto exp = job_ttl_expiry(*job)) {
      auto now = Clock::now();
      if (*exp <= now) {
        client::DeleteOptions o;
        o.propagation_policy = "Foreground";
        o.precondition_uid = uid;
        auto r = ctx_.client.remove(kJobs, ns, name, o);
        if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(2000);
        log_->info("job {}: deleted {} s after it finished (ttlSecondsAfterFinished)", key,
                   jvalue((*job)["spec"], "ttlSecondsAfterFinished", 0LL));
        return std::nullopt;
      }
    }

    auto now_steady = std::chrono::steady_clock::now();
    std::vector<PodFactsPtr> owned;
    std::vector<std::shared_ptr<const json>> virtual_pods;
    std::set<std::string> hidden;
    JobBackoff backoff;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto& e = expectations_[key];
      std::vector<std::string> names;
      for (const auto& [n, c] : e.creates) names.push_back(n);
      for (const auto& [n, t] : e.deletes) names.push_back(n);
      auto v = index_.view(uid, ns, names);
      owned = std::move(v.owned);
      size_t i = 0;
      for (auto it = e.creates.begin(); it != e.creates.end(); ++i) {
        if (v.named[i] || now_steady - it->second.second > std::chrono::seconds(30)) {
          it = e.creates.erase(it);
        } else {
          virtual_pods.push_back(it->second.first);
          ++it;
        }
      }
      for (auto it = e.deletes.begin(); it != e.deletes.end(); ++i) {
        const auto& cur = v.named[i];
        if (!cur || cur->deleting || now_steady - it->second > std::chrono::seconds(30)) {
          it = e.deletes.erase(it);
        } else {
          hidden.insert(it->first);
          ++it;
        }
      }
      backoff = backoff_[key];
    }
    std::vector<const json*> pods;
    for (const auto& f : owned) {
      if (!hidden.count(f->name)) pods.push_back(f->obj.get());
    }
    for (const auto& p : virtual_pods) pods.push_back(p.get());

    auto plan = plan_job(*job, pods, backoff, Clock::now());
    {
      std::lock_guard<std::mutex> l(mu_);
      backoff_[key] = plan.backoff;
    }
    std::optional<std::chrono::milliseconds> again;
    if (plan.requeue_after.count() > 0) again = plan.requeue_after;

    // Deletions: the finalizer first, so the pod is not counted as a failure.
    for (const auto& pname : plan.delete_pods) {
      (void)remove_finalizer(ns, pname);
      auto r = ctx_.client.remove(client::res::kPods, ns, pname);
      if (r || r.error().kind == "NotFound") {
        std::lock_guard<std::mutex> l(mu_);
        expectations_[key].deletes[pname] = std::chrono::steady_clock::now();
      }
      if (r) {
        events_.record(*job, "Normal", "SuccessfulDelete", "Deleted pod: " + pname);
      } else if (r.error().kind != "NotFound") {
        events_.record(*job, "Warning", "FailedDelete", "Error deleting: " + r.error().message);
        again = std::chrono::milliseconds(2000);
      }
    }

    // Creations in slow-start batches (1, 2, 4, ...), a batch in parallel; a failure stops the rest.
    std::vector<std::optional<int>> to_create;
    for (int i = 0; i < plan.create; ++i) to_create.emplace_back(std::nullopt);
    for (int ix : plan.create_indexes) to_create.emplace_back(ix);
    std::atomic<int> failed_creates{0};
    std::atomic<bool> stop_creating{false};
    auto create_one = [&](std::optional<int> ix) {
      json pod = job_pod(*job, ix);
      auto r = ctx_.client.create(client::res::kPods, ns, pod);
      if (r) {
        std::string pname = meta_str(*r, "name");
        {
          std::lock_guard<std::mutex> l(mu_);
          expectations_[key].creates[pname] = {std::make_shared<const json>(std::move(*r)),
                                               std::chrono::steady_clock::now()};
        }
        events_.record(*job, "Normal", "SuccessfulCreate", "Created pod: " + pname);
        return;
      }
      ++failed_creates;
      stop_creating = true;
      if (r.error().message.find("because it is being terminated") != std::string::npos) return;
      events_.record(*job, "Warning", "FailedCreate", "Error creating: " + r.error().message);
      log_->warn("job {}: create pod: {}", key, r.error().message);
    };
    size_t started = 0;
    for (size_t batch = 1; started < to_create.size() && !stop_creating; batch *= 2) {
      size_t n = std::min(batch, to_create.size() - started);
      std::atomic<size_t> next{0};
      auto work = [&] {
        for (size_t i; (i = next.fetch_add(1)) < n && !stop_creating;) create_one(to_create[started + i]);
      };
      std::vector<std::thread> helpers;
      for (size_t t = 1; t < std::min<size_t>(n, kCreateParallelism); ++t) helpers.emplace_back(work);
      work();
      for (auto& t : helpers) t.join();
      started += n;
    }
    long long not_created = static_cast<long long>(to_create.size()) - static_cast<long long>(started) + failed_creates;
    if (not_created > 0) {
      long long a = jvalue(plan.status, "active", 0LL) - not_created;
      if (a > 0) {
        plan.status["active"] = a;
      } else {
        plan.status.erase("active");
      }
      again = std::chrono::milliseconds(2000);
    }

    // The status, then what needs it written first (finalizers, events).
    json cur_status = job->contains("status") ? (*job)["status"] : json::object();
    if (plan.status != cur_status) {
      json next = *job;
      next["status"] = plan.status;
      auto r = ctx_.client.update_status(kJobs, ns, next);
      if (!r) {
        if (r.error().kind == "NotFound") return std::nullopt;
        log_->debug("job {}: status: {}", key, r.error().message);
        return std::chrono::milliseconds(200);  // a newer Job: plan again before touching finalizers
      }
    }
    for (const auto& ev : plan.events) events_.record(*job, ev.type, ev.reason, ev.message);
    for (const auto& pname : plan.remove_finalizers) {
      if (auto s = remove_finalizer(ns, pname); !s) {
        log_->debug("job {}: finalizer of {}: {}", key, pname, s.error().message);
        again = std::chrono::milliseconds(1000);
      }
    }
    return again;
  }

  static constexpr size_t kCreateParallelism = 8;
  client::Informer& jobs_;
  client::Informer& pods_;
  PodIndex& index_;
  AsyncEventRecorder events_{ctx_.client, "job-controller", 1};
  std::mutex mu_;
  std::map<std::string, Expectations> expectations_;
  std::map<std::string, JobBackoff> backoff_;
};

}  // namespace

std::unique_ptr<Controller> make_job_controller(Context ctx) { return std::make_unique<JobController>(ctx); }

}  // namespace k3dpp::controllers
