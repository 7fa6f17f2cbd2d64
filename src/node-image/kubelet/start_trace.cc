#include "kubelet/start_trace.h"

namespace k3dpp::kubelet {

namespace {
long long ms(StartTrace::Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}
}  // namespace

void StartTrace::add(const std::string& step, Clock::duration d) {
  for (auto& [name, total] : steps_) {
    if (name == step) {
      total += d;
      return;
    }
  }
  steps_.emplace_back(step, d);
}

long long StartTrace::total_ms(Clock::time_point now) const { return ms(now - seen_); }

std::string StartTrace::summary(Clock::time_point now) const {
  std::string out = "total " + std::to_string(total_ms(now)) + " ms";
  for (size_t i = 0; i < steps_.size(); ++i) {
    out += (i == 0 ? ": " : ", ") + steps_[i].first + " " + std::to_string(ms(steps_[i].second));
  }
  return out;
}

}  // namespace k3dpp::kubelet
