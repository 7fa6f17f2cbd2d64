// The Podman (4.3, rootful) backend of k3dpp::runtime::Runtime. Only the factory and tests include
// this. Most calls go through podman's Docker-compatible API, served by the docker backend's code
// pointed at the podman socket; the libpod API is used where compat falls short (container create:
// device cgroup rules, rlimits; network inspect for the bridge name). Podman quirks stay here.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "runtime/docker/docker_runtime.h"
#include "runtime/docker/engine_client.h"
#include "runtime/podman/host_firewall.h"
#include "runtime/runtime.h"

namespace k3dpp::runtime::podman {

inline constexpr const char* kDefaultSocket = "/run/podman/podman.sock";

// The podman socket from CONTAINER_HOST (unix://PATH), else kDefaultSocket. Other schemes: "Invalid".
Result<std::string> socket_from_env();

// True if GET /_ping answers OK on the socket within a short time.
bool ping(const std::string& socket_path);

struct PodmanOptions {
  std::string socket_path = kDefaultSocket;
  // Remove the CNI isolation rules podman leaves on the host after a network is removed.
  bool clean_host_firewall = true;
  // Runs iptables for that clean-up; tests inject a fake.
  firewall::CommandRunner run_command;  // empty = firewall::system_runner()
};

class PodmanRuntime final : public Runtime {
 public:
  explicit PodmanRuntime(std::string socket_path);
  explicit PodmanRuntime(PodmanOptions options);

  // engine is always "podman".
  Result<EngineInfo> info() override;

  Result<NetworkInfo> create_network(const std::string& name, const Labels& labels,
                                     const std::string& subnet = "") override;
  Result<NetworkInfo> inspect_network(const std::string& name) override;
  Result<std::vector<NetworkInfo>> list_networks(const Labels& label_filter) override;
  // Also removes the CNI-ISOLATION rules podman leaves behind for this network's bridge.
  Status remove_network(const std::string& name) override;

  Result<VolumeInfo> create_volume(const std::string& name, const Labels& labels) override;
  Result<std::vector<VolumeInfo>> list_volumes(const Labels& label_filter) override;
  Status remove_volume(const std::string& name, bool force) override;

  // Through libpod: rlimits default to nofile 20000 / nproc 32768, device rule c 5:1 rwm always
  // added, unqualified image names resolved to localhost/… first.
  Result<std::string> create_container(const ContainerSpec& spec) override;
  Status start_container(const std::string& name) override;
  Status stop_container(const std::string& name, int timeout_seconds) override;
  // force: SIGKILL through libpod first (podman would wait the stop timeout), as docker does.
  Status remove_container(const std::string& name, bool force) override;
  // image shown without the "localhost/" prefix.
  Result<ContainerInfo> inspect_container(const std::string& name) override;
  Result<std::vector<ContainerInfo>> list_containers(const Labels& label_filter, bool all) override;
  Status connect_network(const std::string& network, const std::string& container) override;
  Status disconnect_network(const std::string& network, const std::string& container) override;

  Result<ExecResult> exec(const std::string& container, const std::vector<std::string>& cmd,
                          const std::string& stdin_data = {}) override;

  Status put_file(const std::string& container, const std::string& path, const std::string& content,
                  int mode) override;
  Result<std::string> read_file(const std::string& container, const std::string& path) override;
  Status put_archive(const std::string& container, const std::string& dir, const std::string& tar) override;
  Result<std::string> get_archive(const std::string& container, const std::string& path) override;

  // "k3dpp/node:0.1.0" finds "localhost/k3dpp/node:0.1.0"; tags are shown without "localhost/".
  Result<ImageInfo> inspect_image(const std::string& ref) override;
  Status save_images(const std::vector<std::string>& refs,
                     const std::function<bool(const char*, size_t)>& out) override;
  // A `docker save` archive; podman names its images localhost/NAME:TAG.
  Status load_image_file(const std::string& tar_path) override;

  Result<std::string> logs(const std::string& container, int tail) override;

  // Extra (not in Runtime): the engine's name for ref (e.g. "localhost/k3dpp/node:0.1.0"), or
  // NotFound. Used by create and by tests.
  Result<std::string> resolve_image(const std::string& ref);
  // Extra: a libpod call (target without the /v4.0.0/libpod prefix); an error status becomes an Error.
  Result<docker::HttpResponse> libpod_call(docker::HttpRequest req);

 private:
  Result<nlohmann::json> libpod_json(const std::string& method, const std::string& target,
                                     const nlohmann::json* body = nullptr);
  // The bridge interface of a network ("cni-podman1"), "" if unknown.
  std::string bridge_of(const std::string& network);

  PodmanOptions options_;
  docker::EngineClient client_;   // libpod calls
  docker::DockerRuntime compat_;  // the Docker-compatible API on the same socket
};

}  // namespace k3dpp::runtime::podman
