// The container-engine interface. src/runtime/docker and src/runtime/podman implement it over the
// engine's HTTP API on its unix socket. Only the factory (factory.h) names a concrete backend.
// Engine types never leak out of here: callers see these plain structs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::runtime {

using Labels = std::map<std::string, std::string>;

struct EngineInfo {
  std::string engine;        // "docker" or "podman"
  std::string version;       // engine version, e.g. "20.10.24+dfsg1"
  std::string api_version;   // negotiated API version used for requests, e.g. "1.41"
  std::string os;            // e.g. "Debian GNU/Linux 12 (bookworm)"
  std::string kernel;        // e.g. "6.18.44"
  std::string cgroup_driver; // "cgroupfs" or "systemd"
  std::string cgroup_version;// "1" or "2"
  bool rootless = false;
};

struct PortBinding {
  std::string host_ip;        // "" = all addresses (0.0.0.0)
  uint16_t host_port = 0;     // 0 = engine picks a free port
  uint16_t container_port = 0;
  std::string protocol = "tcp";  // "tcp" or "udp"
};

struct Ulimit {
  std::string name;  // "nofile", "nproc"
  int64_t soft = 0;
  int64_t hard = 0;
};

struct ContainerSpec {
  std::string name;
  std::string image;
  std::string hostname;
  std::string network;                   // network to attach at create time
  std::vector<std::string> network_aliases;
  Labels labels;
  std::vector<std::string> env;          // "KEY=value"
  std::vector<std::string> entrypoint;   // empty = image default
  std::vector<std::string> cmd;          // empty = image default
  std::vector<std::string> binds;        // "volume-or-hostpath:/container/path[:ro]"
  std::map<std::string, std::string> tmpfs;  // path -> mount options ("" = defaults)
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  std::vector<std::string> security_opt; // "seccomp=unconfined", ...
  std::map<std::string, std::string> sysctls;
  std::vector<PortBinding> ports;
  std::vector<Ulimit> ulimits;
  std::vector<std::string> device_cgroup_rules;  // "c 5:1 rwm"
  std::vector<std::string> extra_hosts;  // "name:ip"
  int64_t memory = 0;                    // memory limit in bytes, swap included (0 = none)
  bool init = false;                     // run an init (tini/catatonit) as PID 1
  std::string restart_policy;            // "" / "no" / "unless-stopped" / "always"
};

struct ContainerInfo {
  std::string id;
  std::string name;          // without the leading '/'
  std::string image;
  Labels labels;
  std::string state;         // "created", "running", "exited", ...
  bool running = false;
  int exit_code = 0;
  int pid = 0;
  std::map<std::string, std::string> ips;  // network name -> IPv4 address
  std::vector<PortBinding> ports;          // published ports (as bound by the engine)
  int64_t memory = 0;                      // HostConfig.Memory: limit in bytes (0 = none)
  std::vector<std::string> env;            // Config.Env, "KEY=value"
  std::vector<std::string> extra_hosts;    // HostConfig.ExtraHosts, "name:ip"
};

struct NetworkInfo {
  std::string id;
  std::string name;
  Labels labels;
  std::string subnet;   // e.g. "172.19.0.0/16"
  std::string gateway;  // e.g. "172.19.0.1"
};

struct VolumeInfo {
  std::string name;
  Labels labels;
  std::string mountpoint;
};

struct ImageInfo {
  std::string id;
  std::vector<std::string> tags;
  int64_t size = 0;
};

struct ExecResult {
  int exit_code = 0;
  std::string out;
  std::string err;
};

class Runtime {
 public:
  virtual ~Runtime() = default;

  // Engine identity and capabilities; called before anything is created.
  virtual Result<EngineInfo> info() = 0;

  // Networks (bridge driver).
  // subnet: an IPv4 CIDR for the network's IPAM ("" = the engine picks one).
  virtual Result<NetworkInfo> create_network(const std::string& name, const Labels& labels,
                                             const std::string& subnet = "") = 0;
  virtual Result<NetworkInfo> inspect_network(const std::string& name) = 0;
  virtual Result<std::vector<NetworkInfo>> list_networks(const Labels& label_filter) = 0;
  virtual Status remove_network(const std::string& name) = 0;

  // Volumes (local driver).
  virtual Result<VolumeInfo> create_volume(const std::string& name, const Labels& labels) = 0;
  virtual Result<std::vector<VolumeInfo>> list_volumes(const Labels& label_filter) = 0;
  virtual Status remove_volume(const std::string& name, bool force) = 0;

  // Containers. Names are unique; every call accepts a name or an id.
  virtual Result<std::string> create_container(const ContainerSpec& spec) = 0;  // returns id
  virtual Status start_container(const std::string& name) = 0;
  virtual Status stop_container(const std::string& name, int timeout_seconds) = 0;
  virtual Status remove_container(const std::string& name, bool force) = 0;
  virtual Result<ContainerInfo> inspect_container(const std::string& name) = 0;
  // all = include stopped containers.
  virtual Result<std::vector<ContainerInfo>> list_containers(const Labels& label_filter, bool all) = 0;
  virtual Status connect_network(const std::string& network, const std::string& container) = 0;
  // Detaches a container (running or not) from a network. Backends without it answer
  // "Unsupported" (the default).
  virtual Status disconnect_network(const std::string& network, const std::string& container) {
    return fail("disconnecting " + container + " from network " + network + " is not supported by this engine backend",
                "Unsupported");
  }

  // Runs cmd in a running container and waits; stdin_data (if any) is written then closed.
  virtual Result<ExecResult> exec(const std::string& container, const std::vector<std::string>& cmd,
                                  const std::string& stdin_data = {}) = 0;

  // Files. put_file works on created (not yet started) containers too; parent dirs are created.
  virtual Status put_file(const std::string& container, const std::string& path,
                          const std::string& content, int mode) = 0;
  virtual Result<std::string> read_file(const std::string& container, const std::string& path) = 0;
  // Raw tar archives (the engine's archive API), for bulk copies.
  virtual Status put_archive(const std::string& container, const std::string& dir, const std::string& tar) = 0;
  virtual Result<std::string> get_archive(const std::string& container, const std::string& path) = 0;

  // Images.
  virtual Result<ImageInfo> inspect_image(const std::string& ref) = 0;  // kind "NotFound" if absent
  // Streams `docker save` of refs to out (called with chunks).
  virtual Status save_images(const std::vector<std::string>& refs,
                             const std::function<bool(const char*, size_t)>& out) = 0;
  virtual Status load_image_file(const std::string& tar_path) = 0;

  // Last `tail` lines of stdout+stderr (tail <= 0: all).
  virtual Result<std::string> logs(const std::string& container, int tail) = 0;
};

}  // namespace k3dpp::runtime
