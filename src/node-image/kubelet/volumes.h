// Pod volumes on the node: emptyDir (medium Memory as tmpfs), hostPath (type checks), configMap,
// secret, downwardAPI, projected (configMap/secret/downwardAPI sources), persistentVolumeClaim
// (through the bound PV's hostPath or local path), and the kubelet-managed /etc/hosts. Files are
// written below <pods_root>/<uid>/volumes/ and bind-mounted into containers through CRI mounts.
//
// configMap, secret, downwardAPI and projected volumes are written like the kubelet's atomic
// writer: the files live in a timestamped `..<ts>` directory, `..data` is a symlink to it and
// every top-level name is a symlink through `..data`. An update writes a new `..<ts>` directory
// and swaps `..data` with one rename, so a container that bind-mounted the volume directory sees
// the new files at once (a subPath mount of one file keeps the old file, as in Kubernetes).
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/api_client.h"
#include "client/informer.h"
#include "common/result.h"
#include "cri/cri_client.h"
#include "kubelet/translate.h"

namespace k3dpp::kubelet {

// Where the local-path provisioner puts its volumes on a node (controllers/storage.h builds the
// PV paths below it); the kubelet only ever removes directories below it.
inline constexpr const char* kLocalPathStorageRoot = "/var/lib/k3dpp/storage";

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
  // Mount a tmpfs for emptyDir medium Memory (off in unit tests that run unprivileged).
  bool mount_tmpfs = true;
};

// Sets up every volume of the pod. Errors read like the kubelet's FailedMount events:
// `MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found`;
// a claim that is not bound yet: kind "NotReady".
Result<std::map<std::string, PreparedVolume>> prepare_volumes(const json& pod, const VolumeContext& ctx);

// Rewrites the configMap, secret, downwardAPI and projected volumes of a running pod from the
// current objects (the kubelet calls it periodically). Unchanged volumes are not touched; a
// volume whose source cannot be read keeps its files. Returns the first error (for a log line).
Status refresh_volumes(const json& pod, const VolumeContext& ctx);

// Unmounts what prepare_volumes mounted below a pod's directory (tmpfs of Memory emptyDirs).
// pod_dir is the kubelet's view (node_root + pods_root + "/" + uid). Call before removing it.
void teardown_volumes(const std::string& pod_dir);

// Files of an atomic-writer volume: relative path → (content, mode).
using VolumePayload = std::map<std::string, std::pair<std::string, int>>;

// Makes dir hold exactly payload (see the header comment). A no-op when it already does.
Status write_payload(const std::string& dir, const VolumePayload& payload);

// The content of a downwardAPI fieldRef for a volume file (metadata.name, namespace, uid,
// labels, annotations, labels['k'], annotations['k']): maps as sorted `key="value"` lines.
Result<std::string> downward_field(const json& pod, const std::string& field_path);

// The kubelet-managed hosts file for a pod IP (plus hostAliases).
std::string render_etc_hosts(const json& pod, const std::string& pod_ip);

// CRI mounts for one container: its volumeMounts (subPath supported) and, unless it mounts
// /etc/hosts itself or the pod uses the host network, etc_hosts_path at /etc/hosts.
std::vector<rt::Mount> container_mounts(const json& pod, const json& container,
                                        const std::map<std::string, PreparedVolume>& volumes,
                                        const std::string& etc_hosts_path);

// Removes the node directory of a local-path PersistentVolume pinned to this node once the PV
// is deleted with reclaim policy Delete — the job local-path-provisioner's helper pod does in
// k3s. Watches persistentvolumes (nodes may read them). A PV deleted while the node was down is
// caught by a sweep once the cache is loaded: a `pvc-*` directory without a PV is removed unless
// its PV was last seen with a policy other than Delete (a marker under `<root>/.retain/`).
class LocalPathCleaner {
 public:
  LocalPathCleaner(client::ApiClient& api, std::string node_name, std::string node_root = {});
  ~LocalPathCleaner();
  LocalPathCleaner(const LocalPathCleaner&) = delete;
  LocalPathCleaner& operator=(const LocalPathCleaner&) = delete;

  void start();
  void stop();

  // The node path to remove for a deleted PV, or "" when it is not ours to remove: provisioned
  // by rancher.io/local-path, pinned to node_name (annotation or nodeAffinity), reclaim policy
  // Delete, hostPath/local path directly below kLocalPathStorageRoot.
  static std::string directory_to_remove(const json& pv, const std::string& node_name);
  // The same without the policy check: the directory of a local-path PV of this node, or "".
  static std::string local_path_dir(const json& pv, const std::string& node_name);

  // Removes directories of vanished Delete volumes (see above); returns how many.
  size_t sweep();

 private:
  void remember(const json& pv);
  void on_delete(const json& pv);
  void remove_dir(const std::string& path, const std::string& pv_name, const char* why);
  std::string retain_marker(const std::string& dir) const;

  client::ApiClient& api_;
  std::string node_name_;
  std::string node_root_;
  std::unique_ptr<client::Informer> informer_;
  std::jthread sweeper_;
};

}  // namespace k3dpp::kubelet
