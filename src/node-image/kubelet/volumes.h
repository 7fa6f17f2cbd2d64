// Pod volumes on the node: emptyDir, hostPath, configMap, secret, persistentVolumeClaim (through
// the bound PV's hostPath or local path), and the kubelet-managed /etc/hosts. Files are written
// below <pods_root>/<uid>/ and bind-mounted into containers through CRI mounts.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "cri/cri_client.h"
#include "kubelet/translate.h"

namespace k3dpp::kubelet {

struct PreparedVolume {
  std::string host_path;  // as the runtime sees it (node path)
  bool read_only = false;
};

struct VolumeContext {
  std::string pods_root = "/var/lib/kubelet/pods";  // node path of the pods dir
  // Prefix of the node's filesystem as the kubelet sees it: "" in the node, "/proc/<pid>/root"
  // in tests that drive a node container from the host. Files are written at node_root + path.
  std::string node_root;
  // Reads configmaps/secrets (namespaced) and persistentvolumeclaims/persistentvolumes.
  ObjectLookup lookup;
};

// Sets up every volume of the pod. Errors read like the kubelet's FailedMount events:
// `MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found`;
// a claim that is not bound yet: kind "NotReady".
Result<std::map<std::string, PreparedVolume>> prepare_volumes(const json& pod, const VolumeContext& ctx);

// The Kubernetes-managed hosts file for a pod IP (plus hostAliases).
std::string render_etc_hosts(const json& pod, const std::string& pod_ip);

// CRI mounts for one container: its volumeMounts (subPath supported) and, unless it mounts
// /etc/hosts itself or the pod uses the host network, etc_hosts_path at /etc/hosts.
std::vector<rt::Mount> container_mounts(const json& pod, const json& container,
                                        const std::map<std::string, PreparedVolume>& volumes,
                                        const std::string& etc_hosts_path);

}  // namespace k3dpp::kubelet
