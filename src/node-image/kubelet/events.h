// Events the kubelet records on pods (v1 Event objects through the API), worded as Kubernetes
// words them: Pulling/Pulled, Created, Started, Killing, BackOff, Failed, Unhealthy.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>
#include <string>

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
class EventRecorder {
 public:
  EventRecorder(client::ApiClient& api, std::string node) : api_(api), node_(std::move(node)) {}
  void record(const json& pod, const std::string& type, const std::string& reason, const std::string& message,
              const std::string& field_path = {});

 private:
  struct Seen {
    std::string ns, name;
    long long count = 0;
    long long last_ns = 0;
  };
  client::ApiClient& api_;
  std::string node_;
  std::mutex mu_;
  std::map<std::string, Seen> seen_;
};

// "spec.containers{nginx}" / "spec.initContainers{init}".
std::string container_field_path(const std::string& container, bool init);

}  // namespace k3dpp::kubelet
