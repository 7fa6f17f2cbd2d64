#include "controllers/work_queue.h"

namespace k3dpp::controllers {

void WorkQueue::add_locked(const std::string& key) {
  if (processing_.count(key)) {
    dirty_.insert(key);
    return;
  }
  if (queued_.insert(key).second) queue_.push_back(key);
}

void WorkQueue::add(const std::string& key) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (shutdown_) return;
    add_locked(key);
  }
  cv_.notify_one();
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) return add(key);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (shutdown_) return;
    auto at = std::chrono::steady_clock::now() + delay;
    auto w = waiting_.find(key);
    if (w != waiting_.end() && w->second <= at) return;
    waiting_[key] = at;
    delayed_.emplace(at, key);
  }
  cv_.notify_all();
}

bool WorkQueue::get(std::string& key) {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    if (shutdown_) return false;
    auto now = std::chrono::steady_clock::now();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      const std::string& k = delayed_.begin()->second;
      auto w = waiting_.find(k);
      if (w != waiting_.end() && w->second <= now) waiting_.erase(w);
      add_locked(k);
      delayed_.erase(delayed_.begin());
    }
    if (!queue_.empty()) {
      key = queue_.front();
      queue_.pop_front();
      queued_.erase(key);
      processing_.insert(key);
      return true;
    }
    if (delayed_.empty()) {
      cv_.wait(l);
    } else {
      cv_.wait_until(l, delayed_.begin()->first);
    }
  }
}

void WorkQueue::done(const std::string& key) {
  {
    std::lock_guard<std::mutex> l(mu_);
    processing_.erase(key);
    if (dirty_.erase(key)) add_locked(key);
  }
  cv_.notify_one();
}

void WorkQueue::shutdown() {
  {
    std::lock_guard<std::mutex> l(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
}

size_t WorkQueue::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size();
}

}  // namespace k3dpp::controllers
