// Pure computation of a Pod's status from what the runtime and the kubelet know: phase,
// conditions, IPs, container statuses (waiting/running/terminated, lastState, restartCount).
// Follows the kubelet's rules (getPhase, conditions generation) so kubectl shows the same STATUS.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cri/cri_client.h"

namespace k3dpp::kubelet {

using json = nlohmann::json;
namespace rt = ::runtime::v1;

// What the kubelet knows about one container of the spec.
struct ContainerInfo {
  std::optional<rt::ContainerStatus> current;   // latest attempt in the runtime
  std::optional<rt::ContainerStatus> previous;  // the attempt before it (lastState)
  // Kubelet-side waiting reason when there is no running/exited current attempt, or when a
  // restart is held back: ErrImagePull, ImagePullBackOff, CrashLoopBackOff, ErrImageNeverPull,
  // CreateContainerConfigError, CreateContainerError, ContainerCreating, PodInitializing.
  std::string waiting_reason;
  std::string waiting_message;
  bool ready = false;    // readiness (no probe: running means ready)
  bool started = false;  // startup probe passed (no probe: running means started)
};

struct PodInfo {
  bool sandbox_ready = false;
  std::vector<std::string> pod_ips;
  std::string host_ip;
  std::map<std::string, ContainerInfo> init_containers;  // by name
  std::map<std::string, ContainerInfo> containers;
};

// Nanoseconds since the epoch → "2024-05-01T10:00:00Z" (seconds, like metav1.Time).
std::string rfc3339_from_nanos(long long ns);
// Now in the same format.
std::string rfc3339_now();

// The phase Kubernetes derives from container statuses (json statuses as produced below).
std::string compute_phase(const json& pod_spec, const json& init_statuses, const json& statuses);

// The container status JSON for one container.
json container_status(const json& container_spec, const ContainerInfo& info, bool init, const std::string& pod_ns,
                      const std::string& pod_name);

// The full pod status. `old_status` keeps PodScheduled, startTime, qosClass and the
// lastTransitionTime of conditions whose status did not change. now = RFC3339 timestamp.
json compute_pod_status(const json& pod, const PodInfo& info, const std::string& now);

}  // namespace k3dpp::kubelet
