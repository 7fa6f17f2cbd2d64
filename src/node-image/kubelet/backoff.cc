#include "kubelet/backoff.h"

#include <algorithm>
#include <cstdio>

namespace k3dpp::kubelet {

void Backoff::next(const std::string& key, Clock::time_point now) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || expired(it->second, now)) {
    entries_[key] = Entry{initial_, now};
    return;
  }
  it->second.delay = std::min(it->second.delay * 2, max_);
  it->second.last_update = now;
}

Backoff::Duration Backoff::get(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? Duration{0} : it->second.delay;
}

bool Backoff::in_backoff_since(const std::string& key, Clock::time_point event_time, Clock::time_point now) const {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || expired(it->second, event_time)) return false;
  return now - event_time < it->second.delay;
}

void Backoff::reset(const std::string& key) {
  std::lock_guard lk(mu_);
  entries_.erase(key);
}

void Backoff::gc(Clock::time_point now) {
  std::lock_guard lk(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (expired(it->second, now)) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string go_duration(std::chrono::milliseconds d) {
  long long ms = d.count();
  if (ms == 0) return "0s";
  std::string sign = ms < 0 ? "-" : "";
  if (ms < 0) ms = -ms;
  if (ms < 1000) return sign + std::to_string(ms) + "ms";
  long long h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60, frac = ms % 1000;
  std::string out = sign;
  if (h) out += std::to_string(h) + "h";
  if (h || m) out += std::to_string(m) + "m";
  out += std::to_string(s);
  if (frac) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03lld", frac);
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "s";
}

}  // namespace k3dpp::kubelet
