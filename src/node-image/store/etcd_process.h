// EtcdProcess: runs the etcd binary (Debian's etcd-server, 3.4) as a supervised child process —
// started with the flags below, restarted after a crash, stopped with SIGTERM (then SIGKILL).
// Used by `k3dpp-node server` on HA servers and by tests (a real etcd on 127.0.0.1).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "store/etcd_store.h"

namespace k3dpp::store {

struct EtcdProcessOptions {
  std::string binary = "etcd";
  std::string name;       // member name (unique in the etcd cluster)
  std::string data_dir;
  std::string client_url;  // advertised, e.g. https://k3dpp-dev-server-0:2379
  std::string peer_url;    // advertised, e.g. https://k3dpp-dev-server-0:2380
  // Listened on (IPs only, etcd's rule); empty = the advertised URL, e.g. https://0.0.0.0:2379.
  std::string listen_client_url;
  std::string listen_peer_url;
  // "name=peer_url,..." and "new" (first member) or "existing" (joining); ignored once data_dir
  // holds a member (etcd then restarts from its own data).
  std::string initial_cluster;
  std::string initial_cluster_state = "new";
  std::string initial_cluster_token = "k3dpp-etcd";
  // TLS (paths; all empty = plain http). The same CA checks clients and peers.
  std::string ca_file;
  std::string cert_file;  // server and peer certificate (SANs: node IP, 127.0.0.1, "etcd")
  std::string key_file;
  std::string log_file;   // etcd's stdout+stderr (appended); empty = ours
  std::vector<std::string> extra_args;
};

class EtcdProcess {
 public:
  explicit EtcdProcess(EtcdProcessOptions options);
  ~EtcdProcess();  // stop()
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // Starts etcd and a supervisor thread that restarts it (after 1 s) if it exits.
  Status start();
  // Waits until etcd answers a KV request through `client` (endpoints + TLS), up to timeout.
  Status wait_ready(const EtcdOptions& client, std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after 10 s; the supervisor stops restarting.
  void stop();
  pid_t pid() const { return pid_.load(); }

  // The command line start() runs (for logs and tests).
  std::vector<std::string> command() const;

 private:
  Result<pid_t> spawn();
  void supervise();

  EtcdProcessOptions opts_;
  std::atomic<pid_t> pid_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread supervisor_;
};

}  // namespace k3dpp::store
