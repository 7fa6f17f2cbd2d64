// The Docker Engine API backend of k3dpp::runtime::Runtime. Only the factory and tests include this.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "runtime/docker/engine_client.h"
#include "runtime/runtime.h"

namespace k3dpp::runtime::docker {

inline constexpr const char* kDefaultSocket = "/var/run/docker.sock";

// The engine socket from DOCKER_HOST (unix://PATH), else kDefaultSocket. Other schemes: "Invalid".
Result<std::string> socket_from_env();

// True if GET /_ping answers OK on the socket within a short time.
bool ping(const std::string& socket_path);

class DockerRuntime final : public Runtime {
 public:
  explicit DockerRuntime(std::string socket_path);

  Result<EngineInfo> info() override;

  Result<NetworkInfo> create_network(const std::string& name, const Labels& labels,
                                     const std::string& subnet = "") override;
  Result<NetworkInfo> inspect_network(const std::string& name) override;
  Result<std::vector<NetworkInfo>> list_networks(const Labels& label_filter) override;
  Status remove_network(const std::string& name) override;

  Result<VolumeInfo> create_volume(const std::string& name, const Labels& labels) override;
  Result<std::vector<VolumeInfo>> list_volumes(const Labels& label_filter) override;
  Status remove_volume(const std::string& name, bool force) override;

  Result<std::string> create_container(const ContainerSpec& spec) override;
  Status start_container(const std::string& name) override;
  Status stop_container(const std::string& name, int timeout_seconds) override;
  Status remove_container(const std::string& name, bool force) override;
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

  Result<ImageInfo> inspect_image(const std::string& ref) override;
  Status save_images(const std::vector<std::string>& refs,
                     const std::function<bool(const char*, size_t)>& out) override;
  Status load_image_file(const std::string& tar_path) override;

  Result<std::string> logs(const std::string& container, int tail) override;

  // Extra (not in Runtime): the negotiated API version ("1.41"), negotiating on first use.
  Result<std::string> api_version();
  // Extra: skip the negotiation (GET /version) with an engine known to speak API v (the podman
  // backend: podman 4.x's compat API is 1.41, and its /version takes seconds).
  void assume_api_version(std::string v);
  // Extra: a versioned call returning the answer; an HTTP error status becomes an Error.
  // `req.target` is the unversioned path ("/containers/json"). Used by integration tests too.
  Result<HttpResponse> call(HttpRequest req);

 private:
  Result<nlohmann::json> call_json(const std::string& method, const std::string& target,
                                   const nlohmann::json* body = nullptr, long timeout_ms = kDefaultTimeoutMs);
  Status put_archive_once(const std::string& container, const std::string& dir, const std::string& tar);

  static constexpr long kDefaultTimeoutMs = 120000;

  EngineClient client_;
  std::mutex mu_;
  std::string api_version_;  // guarded by mu_
};

}  // namespace k3dpp::runtime::docker
