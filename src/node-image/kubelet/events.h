// Events the kubelet records on pods (v1 Event objects through the API), worded as Kubernetes
// words them: Pulling/Pulled, Created, Started, Killing, BackOff, Failed, Unhealthy.
#pragma once

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "client/api_client.h"

namespace k3dpp::kubelet {

using json = nlohmann::json;

// The Event object (pure; name is "<pod>.<hex of now in ns>"). field_path e.g. "spec.containers{nginx}".
json make_event(const json& pod, const std::string& node, const std::string& type, const std::string& reason,
                const std::string& message, const std::string& field_path, const std::string& now_rfc3339,
                long long now_ns);

// Creates the event; failures are logged, never returned (events are best effort).
void record_event(client::ApiClient& api, const json& pod, const std::string& node, const std::string& type,
                  const std::string& reason, const std::string& message, const std::string& field_path = {});

// Records events with Kubernetes' aggregation: the same (object, type, reason, message, field)
// within 10 minutes bumps count and lastTimestamp of the existing Event (kubectl describe shows
// "(x4 over 2m)") instead of creating another one. Thread-safe.
//
// record() only stamps the time and queues: one sender thread posts the events in the order they
// were recorded, so a pod's start never waits on the API for its Pulled/Created/Started events
// (3 round trips per pod). At most kMaxPending events wait; more are dropped (best effort, as the
// kubelet's broadcaster does). flush() waits until what was queued before it has been sent.
class EventRecorder {
 public:
  static constexpr size_t kMaxPending = 2000;

  EventRecorder(client::ApiClient& api, std::string node);
  ~EventRecorder();  // events still queued are dropped
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  void record(const json& pod, const std::string& type, const std::string& reason, const std::string& message,
              const std::string& field_path = {});
  void flush();

 private:
  struct Pending {
    json pod;  // metadata (namespace, name, uid, resourceVersion) only
    std::string type, reason, message, field_path, now;
    long long now_ns = 0;
  };
  struct Seen {
    std::string ns, name;
    long long count = 0;
    long long last_ns = 0;
  };
  void send(const Pending& e);  // sender thread only
  void run(std::stop_token st);

  client::ApiClient& api_;
  std::string node_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<Pending> queue_;
  unsigned long long queued_ = 0, sent_ = 0;  // counters for flush()
  std::map<std::string, Seen> seen_;          // sender thread only
  std::jthread sender_;
};

// "spec.containers{nginx}" / "spec.initContainers{init}".
std::string container_field_path(const std::string& container, bool init);

}  // namespace k3dpp::kubelet
