// Events the kubelet records on pods (v1 Event objects through the API), worded as Kubernetes
// words them: Pulling/Pulled, Created, Started, Killing, BackOff, Failed, Unhealthy.
#pragma once

#include <nlohmann/json.hpp>

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

// "spec.containers{nginx}" / "spec.initContainers{init}".
std::string container_field_path(const std::string& container, bool init);

}  // namespace k3dpp::kubelet
