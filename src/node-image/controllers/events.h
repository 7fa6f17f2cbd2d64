// Events (core/v1) with the reasons kubectl describe shows, deduplicated: the same object, type,
// reason and message bump count and lastTimestamp of one Event instead of creating another.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/api_client.h"
#include "controllers/util.h"

namespace k3dpp::controllers {

class EventRecorder {
 public:
  EventRecorder(client::ApiClient& client, std::string component);
  // type: "Normal" or "Warning". Errors are logged, never returned (events are best effort).
  void record(const json& object, const std::string& type, const std::string& reason, const std::string& message);

 private:
  struct Seen {
    std::string name, ns;
    long long count = 0;
  };
  client::ApiClient& client_;
  std::string component_;
  std::mutex mu_;
  std::map<std::string, Seen> seen_;
};

// Records events from background threads so a hot loop (the scheduler's binds, ReplicaSet creates)
// never waits for the write. Only the involved object's identity is kept. Past max_pending queued
// events new ones are dropped and counted (events are best effort; client-go's broadcaster drops
// too when its queue is full).
class AsyncEventRecorder {
 public:
  AsyncEventRecorder(client::ApiClient& client, std::string component, int workers = 2, size_t max_pending = 20000);
  ~AsyncEventRecorder();
  AsyncEventRecorder(const AsyncEventRecorder&) = delete;
  AsyncEventRecorder& operator=(const AsyncEventRecorder&) = delete;
  void record(const json& object, const std::string& type, const std::string& reason, const std::string& message);
  // Waits until every queued event is written (tests), then returns the number dropped so far.
  size_t flush();
  void stop();

 private:
  struct Item {
    json object;
    std::string type, reason, message;
  };
  EventRecorder inner_;
  size_t max_pending_;
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Item> queue_;
  size_t busy_ = 0, dropped_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace k3dpp::controllers
