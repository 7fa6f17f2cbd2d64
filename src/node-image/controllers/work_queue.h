// A rate-free work queue of object keys, like client-go's: a key is queued at most once, never
// processed by two workers at once, and re-queued if it was added while being processed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace k3dpp::controllers {

class WorkQueue {
 public:
  void add(const std::string& key);
  // Adds key after delay; a key already waiting to be added no later than that stays as it is
  // (bursts of events for one key coalesce into one sync).
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  // Blocks until a key is ready; false once shut down.
  bool get(std::string& key);
  void done(const std::string& key);
  void shutdown();
  size_t size() const;

 private:
  void add_locked(const std::string& key);
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> queued_, processing_, dirty_;
  std::multimap<std::chrono::steady_clock::time_point, std::string> delayed_;
  std::map<std::string, std::chrono::steady_clock::time_point> waiting_;  // key → earliest delayed add
  bool shutdown_ = false;
};

}  // namespace k3dpp::controllers
