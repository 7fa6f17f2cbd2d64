// StartTrace: where a pod's first start spends its time, for one log line per pod.
//
// The pod worker adds the wall time of each step (RunPodSandbox incl. CNI, image status, create,
// start, status patch, events, ...) as it runs them; the same step may run several times and adds
// up. summary() renders "total 812 ms: queue 3, sandbox 420, ..." in the order steps first ran,
// with total = now - the time the worker saw the pod. Not thread-safe: one worker owns it.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace k3dpp::kubelet {

class StartTrace {
 public:
  using Clock = std::chrono::steady_clock;

  explicit StartTrace(Clock::time_point seen = Clock::now()) : seen_(seen) {}

  void add(const std::string& step, Clock::duration d);

  // Runs f and adds its wall time to step; returns what f returns.
  template <typename F>
  auto timed(const char* step, F&& f) {
    struct Guard {
      StartTrace& t;
      const char* step;
      Clock::time_point t0 = Clock::now();
      ~Guard() { t.add(step, Clock::now() - t0); }
    } g{*this, step};
    return f();
  }

  // Total wall time since the pod was seen and the steps, in milliseconds.
  std::string summary(Clock::time_point now = Clock::now()) const;
  long long total_ms(Clock::time_point now = Clock::now()) const;
  const std::vector<std::pair<std::string, Clock::duration>>& steps() const { return steps_; }

 private:
  Clock::time_point seen_;
  std::vector<std::pair<std::string, Clock::duration>> steps_;
};

}  // namespace k3dpp::kubelet
