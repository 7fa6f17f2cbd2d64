// Pure translation of a Pod (JSON, as the API serves it) into CRI configs, the way the kubelet
// does it: sandbox metadata, hostname, DNS, hostPorts, log directory, cgroup parent, labels and
// annotations; container command/args, env, workingDir, resources, security context, tty/stdin.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "cri/cri_client.h"

namespace k3dpp::kubelet {

using json = nlohmann::json;
namespace rt = ::runtime::v1;

// Cluster-wide settings the kubelet puts into every pod.
struct PodDefaults {
  std::string cluster_dns = "10.43.0.10";
  std::string cluster_domain = "cluster.local";
  std::string kubernetes_service_host = "10.43.0.1";
  int kubernetes_service_port = 443;
  std::string pods_root = "/var/lib/kubelet/pods";  // volumes live in <root>/<uid>/volumes/...
};

// Label keys the kubelet puts on sandboxes and containers (and finds them by).
inline constexpr const char* kLabelPodName = "io.kubernetes.pod.name";
inline constexpr const char* kLabelPodNamespace = "io.kubernetes.pod.namespace";
inline constexpr const char* kLabelPodUid = "io.kubernetes.pod.uid";
inline constexpr const char* kLabelContainerName = "io.kubernetes.container.name";
inline constexpr const char* kAnnotationRestartCount = "io.kubernetes.container.restartCount";

// "/var/log/pods/<ns>_<name>_<uid>".
std::string pod_log_directory(const json& pod);
// "BestEffort" | "Burstable" | "Guaranteed" (status.qosClass when set, else computed from the spec).
std::string qos_class(const json& pod);
// "/kubepods/pod<uid>" (Guaranteed), "/kubepods/burstable/pod<uid>", "/kubepods/besteffort/pod<uid>".
std::string pod_cgroup_parent(const json& pod);

// Kubernetes quantities: "100m" → 0.1, "1.5" → 1.5, "64Mi" → 67108864, "1G" → 1e9, "1e3" → 1000.
Result<double> parse_quantity(const std::string& q);

rt::PodSandboxConfig make_sandbox_config(const json& pod, uint32_t attempt, const PodDefaults& d = {});

// Looks up a ConfigMap or Secret ("configmaps"/"secrets") in the pod's namespace.
using ObjectLookup = std::function<Result<json>(const std::string& plural, const std::string& ns,
                                               const std::string& name)>;

// What the env of a container depends on besides the spec.
// Lists the Services of a namespace (for the service environment variables).
using ServiceLister = std::function<Result<std::vector<json>>(const std::string& ns)>;

struct EnvContext {
  std::string pod_ip;
  std::string host_ip;
  std::string node_name;
  ObjectLookup lookup;  // may be empty when no valueFrom/envFrom needs it
  ServiceLister services;  // may be empty: then only the KUBERNETES_* variables
};

// The variables a Service gives the containers of its namespace, as the kubelet writes them
// (Docker-link style): NAME_SERVICE_HOST, NAME_SERVICE_PORT[_PORTNAME], NAME_PORT and
// NAME_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]. None for a Service without a cluster IP.
std::vector<std::pair<std::string, std::string>> service_env(const json& service);

// The container's environment, in Kubernetes order: KUBERNETES_* service variables, the other
// services of the pod's namespace (unless enableServiceLinks is false; sorted by name; a failed
// listing just leaves them out), envFrom, then env (later entries win; $(VAR) references
// expanded as Kubernetes does).
// Errors (kind "CreateContainerConfigError") name the missing ConfigMap/Secret or key.
Result<std::vector<std::pair<std::string, std::string>>> resolve_env(const json& pod, const json& container,
                                                                     const EnvContext& ctx,
                                                                     const PodDefaults& d = {});

// runAsNonRoot as the kubelet checks it before creating a container: with the effective
// (container over pod) runAsNonRoot true, a runAsUser of 0, or an image whose user is root (or
// unknown: no uid and no user name means root) or a non-numeric name, is refused with
// Kubernetes' message (kind "CreateContainerConfigError"). image_uid/image_user come from the
// runtime's ImageStatus.
Status verify_run_as_non_root(const json& pod, const json& container, std::optional<long long> image_uid,
                              const std::string& image_user);

// Expands $(VAR) in s with env ("$$" escapes, unknown references stay as written).
std::string expand_vars(const std::string& s, const std::map<std::string, std::string>& env);

// The container config for attempt N (log path "<name>/<N>.log").
rt::ContainerConfig make_container_config(const json& pod, const json& container, uint32_t attempt,
                                          const std::vector<std::pair<std::string, std::string>>& env,
                                          const std::vector<rt::Mount>& mounts = {});

// CPU/memory of a container's resources into Linux cgroup settings.
rt::LinuxContainerResources container_resources(const json& container);

// Protobuf message as JSON (proto field names, sorted keys, 2-space indent): golden tests, debugging.
std::string to_json(const google::protobuf::Message& m);

}  // namespace k3dpp::kubelet
