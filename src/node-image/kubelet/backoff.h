// Kubernetes' restart/pull back-off (client-go flowcontrol.Backoff as the kubelet uses it):
// per key, the delay starts at 10 s and doubles up to 5 min; an entry untouched for twice the
// maximum starts over. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace k3dpp::kubelet {

class Backoff {
 public:
  using Clock = std::chrono::system_clock;
  using Duration = std::chrono::milliseconds;

  explicit Backoff(Duration initial = std::chrono::seconds(10), Duration max = std::chrono::minutes(5))
      : initial_(initial), max_(max) {}

  // Records one more back-off step for key at now: the first (or after expiry) is `initial`,
  // then each doubles, capped at `max`.
  void next(const std::string& key, Clock::time_point now);
  // The current delay of key (0 when it has none).
  Duration get(const std::string& key) const;
  // True while now is within the key's delay after event_time (e.g. the container's finish time).
  bool in_backoff_since(const std::string& key, Clock::time_point event_time, Clock::time_point now) const;
  void reset(const std::string& key);
  // Drops entries that have expired (untouched for 2 × max).
  void gc(Clock::time_point now);

 private:
  struct Entry {
    Duration delay{0};
    Clock::time_point last_update;
  };
  bool expired(const Entry& e, Clock::time_point t) const { return t - e.last_update > 2 * max_; }

  Duration initial_, max_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// Go's time.Duration.String() of d truncated to milliseconds: "850ms", "1.2s", "1m5.034s".
std::string go_duration(std::chrono::milliseconds d);

}  // namespace k3dpp::kubelet
