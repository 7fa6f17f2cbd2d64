// Leader election on a coordination.k8s.io/v1 Lease, as kube-controller-manager and kube-scheduler
// do it on HA control planes: every candidate tries every retry_period; the holder renews the
// Lease's renewTime; a candidate takes over when it has seen no change of the Lease (its
// resourceVersion) for lease_duration (measured on its own clock, so clock skew does not matter);
// the holder gives up when it could not renew for renew_deadline. Writes use the Lease's
// resourceVersion as precondition, so two candidates never both win. Defaults are
// kube-controller-manager's (15 s, 10 s, 2 s).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "client/api_client.h"

namespace k3dpp::nodecmd {

struct LeaderElectionOptions {
  std::string name;                    // Lease name: "kube-controller-manager", "kube-scheduler"
  std::string ns = "kube-system";
  std::string identity;                // this candidate (k8s: hostname_uuid)
  std::chrono::seconds lease_duration{15};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};
};

class LeaderElector {
 public:
  // on_started_leading / on_stopped_leading run on the elector's thread.
  LeaderElector(client::ApiClient& api, LeaderElectionOptions options, std::function<void()> on_started_leading,
                std::function<void()> on_stopped_leading);
  ~LeaderElector();  // stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  void start();
  // Stops trying; if leading, releases the Lease (holder cleared, so another candidate takes over
  // at its next try instead of after lease_duration), then calls on_stopped_leading.
  void stop();
  bool leading() const { return leading_; }

 private:
  void run();
  // One attempt to acquire or renew; true if we hold the Lease afterwards.
  bool try_acquire_or_renew();
  void release();

  client::ApiClient& api_;
  LeaderElectionOptions opts_;
  std::function<void()> on_start_, on_stop_;
  std::atomic<bool> leading_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  // What we last saw of the Lease, and when (our clock).
  std::string observed_rv_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::chrono::steady_clock::time_point last_renew_{};
};

// "2026-11-27T14:30:00.123456Z" (metav1.MicroTime).
std::string micro_time_now();

}  // namespace k3dpp::nodecmd
