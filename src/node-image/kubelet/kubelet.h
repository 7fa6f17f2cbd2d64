// Kubelet: runs the pods bound to this node on containerd through CRI.
//
// Watches pods with spec.nodeName = node (an Informer); one worker thread per pod (by uid) syncs
// it: sandbox (RunPodSandbox), images (per imagePullPolicy, with back-off), init containers in
// order, then app containers, restarts per restartPolicy with Kubernetes' back-off, probes, and
// the pod status through the pods/status subresource. Deletion: graceful StopContainer,
// StopPodSandbox, RemovePodSandbox, pod cgroup and log dir removed, then the final delete
// (gracePeriodSeconds=0). At start (and every 10 s) sandboxes of pods that no longer exist are
// torn down; NOTREADY sandboxes (node container restarted) are replaced.
//
// Wiring (agent/cmd): Kubelet kubelet(api, node_name, pod_cidr); kubelet.start(); ... kubelet.stop();
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/api_client.h"
#include "client/informer.h"
#include "common/result.h"
#include "cri/cri_client.h"
#include "kubelet/backoff.h"
#include "kubelet/events.h"
#include "kubelet/logs.h"
#include "kubelet/translate.h"
#include "kubelet/volumes.h"

namespace k3dpp::kubelet {

struct KubeletOptions {
  std::string node_name;
  std::string pod_cidr;       // "10.42.0.0/24": the CNI config is written for it (empty: not written)
  std::string host_ip;        // empty: the first non-loopback IPv4 address of this node
  PodDefaults defaults;
  std::string cni_conf_path = "/etc/cni/net.d/10-k3dpp.conflist";
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string log_root = "/var/log/pods";
  // Prefix under which the kubelet sees the node's filesystem for volume and /etc/hosts files:
  // "" in the node; "/proc/<pid>/root" when a test drives a node container from the host.
  std::string node_root;
  std::chrono::milliseconds resync{1000};          // per-pod status/probe loop
  std::chrono::milliseconds housekeeping{10000};   // orphan sandboxes, back-off GC
  std::chrono::milliseconds volume_refresh{10000}; // configMap/secret/downwardAPI volume files
  // A steady pod (Running, every container up, no probes, nothing waiting) whose sandboxes and
  // containers did not change in the shared runtime relist is not synced on every resync, only
  // at least this often (volume refresh, status drift).
  std::chrono::milliseconds full_sync{10000};
  cri::CriOptions cri;
  // The services of a namespace from a cache someone else keeps (the node's service proxy watches
  // them all), for the containers' service environment variables; nullopt (or no function) until
  // that cache has synced, and then each container start LISTs them from the API server.
  std::function<std::optional<std::vector<json>>(const std::string& ns)> cached_services;
};

class Kubelet {
 public:
  // Uses a gRPC CriClient on options.cri.endpoint.
  Kubelet(client::ApiClient& api, KubeletOptions options);
  Kubelet(client::ApiClient& api, const std::string& node_name, const std::string& pod_cidr);
  // With a given runtime (tests).
  Kubelet(client::ApiClient& api, std::shared_ptr<cri::CriClient> cri, KubeletOptions options);
  ~Kubelet();
  Kubelet(const Kubelet&) = delete;
  Kubelet& operator=(const Kubelet&) = delete;

  // Writes the CNI config, checks the runtime (Version), cleans orphans, starts watching.
  Status start();
  void stop();

  // --- For the node's stream endpoints (exec/attach/port-forward/logs) ---
  // The CRI container id of a pod's current container ("" container = the first one).
  Result<std::string> container_id(const std::string& ns, const std::string& pod, const std::string& container);
  Result<std::string> sandbox_id(const std::string& ns, const std::string& pod);
  Result<rt::ExecSyncResponse> exec_sync(const std::string& ns, const std::string& pod, const std::string& container,
                                         const std::vector<std::string>& cmd, long long timeout_seconds);
  // One-time URLs on containerd's streaming server (see README: "Streams").
  Result<std::string> exec_url(const std::string& ns, const std::string& pod, const std::string& container,
                               const std::vector<std::string>& cmd, bool tty, bool stdin, bool stdout, bool stderr);
  Result<std::string> attach_url(const std::string& ns, const std::string& pod, const std::string& container,
                                 bool tty, bool stdin, bool stdout, bool stderr);
  Result<std::string> port_forward_url(const std::string& ns, const std::string& pod, const std::vector<int>& ports);

  // `kubectl logs` for a pod on this node: fills the pod uid and log root, defaults the container
  // to the first one, and with follow ends once the container is no longer running.
  Status logs(const std::string& ns, const std::string& pod, const std::string& container, LogOptions opts,
              const std::function<bool(std::string_view)>& out, std::stop_token stop = {});

  cri::CriClient& runtime() { return *cri_; }
  // Waits until the events recorded so far have been posted (they are sent asynchronously; tests).
  void flush_events() { events_->flush(); }
  const std::string& host_ip() const { return opts_.host_ip; }

  struct PodWorker;  // one per pod uid (kubelet.cc)

 private:
  void on_pod(const json& pod, bool deleted);
  void housekeeping_loop(std::stop_token st);
  Status cleanup_orphans();
  client::ObjectPtr find_pod(const std::string& ns, const std::string& name);
  void start_local_path_cleaner();
  // PLEG-like relist shared by all pod workers: per pod uid a fingerprint of its sandboxes and
  // containers (ids, states, attempts), from one ListPodSandbox + one ListContainers, refreshed
  // at most once per resync period. Null when the runtime could not be listed.
  std::shared_ptr<const std::map<std::string, std::string>> runtime_fingerprints();

  client::ApiClient& api_;
  std::shared_ptr<cri::CriClient> cri_;
  KubeletOptions opts_;
  std::unique_ptr<client::Informer> informer_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<PodWorker>> workers_;  // by uid
  std::unique_ptr<EventRecorder> events_;
  Backoff restart_backoff_;
  Backoff image_backoff_;
  std::jthread housekeeping_;
  std::atomic<bool> running_{false};
  std::once_flag local_path_once_;
  std::unique_ptr<LocalPathCleaner> local_path_;  // once this node holds local-path volumes
  std::mutex relist_mu_;
  std::shared_ptr<const std::map<std::string, std::string>> relist_;
  std::chrono::steady_clock::time_point relist_at_{};

};

// The first non-loopback IPv4 address of this host ("" when none).
std::string detect_host_ip();

// Waits until the node lifecycle controller has set the Node's spec.podCIDR (polls every 250 ms).
// Error kind "Timeout" after `timeout`, "Cancelled" when stop is requested.
Result<std::string> wait_for_pod_cidr(client::ApiClient& api, const std::string& node_name,
                                      std::chrono::milliseconds timeout, std::stop_token stop = {});

}  // namespace k3dpp::kubelet
