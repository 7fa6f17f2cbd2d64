#include "cmd/leader_election.h"

#include <ctime>

#include "common/log.h"
#include "common/json_read.h"

namespace k3dpp::nodecmd {

namespace {
using Clock = std::chrono::steady_clock;
std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("leader");
  return l;
}
}  // namespace

std::string micro_time_now() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(us % 1'000'000));
  return out;
}

LeaderElector::LeaderElector(client::ApiClient& api, LeaderElectionOptions options,
                             std::function<void()> on_started_leading, std::function<void()> on_stopped_leading)
    : api_(api),
      opts_(std::move(options)),
      on_start_(std::move(on_started_leading)),
      on_stop_(std::move(on_stopped_leading)) {}

LeaderElector::~LeaderElector() { stop(); }

void LeaderElector::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void LeaderElector::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void LeaderElector::run() {
  for (;;) {
    bool held = try_acquire_or_renew();
    auto now = Clock::now();
    if (held) {
      last_renew_ = now;
      if (!leading_) {
        leading_ = true;
        logger()->info("{}: {} became the leader (Lease {}/{})", opts_.name, opts_.identity, opts_.ns, opts_.name);
        if (on_start_) on_start_();
      }
    } else if (leading_ && now - last_renew_ > opts_.renew_deadline) {
      leading_ = false;
      logger()->warn("{}: {} lost the lease (no renewal for {} ms)", opts_.name, opts_.identity,
                     opts_.renew_deadline.count());
      if (on_stop_) on_stop_();
    }
    std::unique_lock<std::mutex> l(mu_);
    if (cv_.wait_for(l, opts_.retry_period, [&] { return stopping_; })) break;
  }
  if (leading_) {
    // Release first: stopping the control loops can take seconds (watches winding down), and the
    // next leader should not wait for that (nor for the lease to expire). The loops are already
    // being stopped, and every write they might still make is guarded by resourceVersion.
    leading_ = false;
    release();
    if (on_stop_) on_stop_();
  }
}

bool LeaderElector::try_acquire_or_renew() {
  const std::string now = micro_time_now();
  auto got = api_.get(client::res::kLeases, opts_.ns, opts_.name);
  if (!got) {
    if (!got.error().is("NotFound")) {
      logger()->debug("{}: reading the Lease: {}", opts_.name, got.error().message);
      return false;
    }
    client::json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", opts_.name}, {"namespace", opts_.ns}}},
        {"spec",
         {{"holderIdentity", opts_.identity},
          {"leaseDurationSeconds", opts_.lease_duration.count()},
          {"acquireTime", now},
          {"renewTime", now},
          {"leaseTransitions", 0}}}};
    auto made = api_.create(client::res::kLeases, opts_.ns, lease);
    if (made) {
      observed_rv_ = jvalue((*made)["metadata"], "resourceVersion", "");
      observed_at_ = Clock::now();
    }
    return static_cast<bool>(made);
  }
  client::json lease = *got;
  std::string rv = jvalue(lease["metadata"], "resourceVersion", "");
  if (rv != observed_rv_) {
    observed_rv_ = rv;
    observed_at_ = Clock::now();
  }
  client::json& spec = lease["spec"];
  if (!spec.is_object()) spec = client::json::object();
  std::string holder = jvalue(spec, "holderIdentity", "");
  bool mine = holder == opts_.identity;
  long long duration = jvalue(spec, "leaseDurationSeconds", static_cast<long long>(opts_.lease_duration.count()));
  bool expired = holder.empty() || Clock::now() - observed_at_ > std::chrono::seconds(duration);
  if (!mine && !expired) return false;
  if (!mine) {
    spec["holderIdentity"] = opts_.identity;
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = jvalue(spec, "leaseTransitions", 0LL) + 1;
    logger()->info("{}: taking over from '{}'", opts_.name, holder);
  }
  spec["renewTime"] = now;
  spec["leaseDurationSeconds"] = opts_.lease_duration.count();
  auto updated = api_.update(client::res::kLeases, opts_.ns, lease);  // resourceVersion precondition
  if (!updated) {
    logger()->debug("{}: {} the Lease: {}", opts_.name, mine ? "renewing" : "acquiring", updated.error().message);
    return false;
  }
  observed_rv_ = jvalue((*updated)["metadata"], "resourceVersion", "");
  observed_at_ = Clock::now();
  return true;
}

void LeaderElector::release() {
  auto got = api_.get(client::res::kLeases, opts_.ns, opts_.name);
  if (!got) return;
  client::json lease = *got;
  if (jvalue(lease["spec"], "holderIdentity", "") != opts_.identity) return;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = micro_time_now();
  if (api_.update(client::res::kLeases, opts_.ns, lease)) logger()->info("{}: released the Lease", opts_.name);
}

}  // namespace k3dpp::nodecmd
