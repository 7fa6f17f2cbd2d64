// CriClient: the kubelet's view of the container runtime, CRI v1 over gRPC on a unix socket
// (containerd's CRI plugin at /run/containerd/containerd.sock inside the node container).
//
// An abstract interface (so the kubelet can be tested against a fake) with one gRPC
// implementation. Every call has a deadline; gRPC status codes become Error kinds:
// NOT_FOUND → "NotFound", DEADLINE_EXCEEDED → "Timeout", UNAVAILABLE → "Unavailable",
// anything else → "Runtime". Messages read "CRI <Rpc>: <runtime's message>".
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "cri/cri.pb.h"

namespace k3dpp::cri {

namespace rt = ::runtime::v1;

inline constexpr const char* kDefaultEndpoint = "unix:///run/containerd/containerd.sock";

struct CriOptions {
  std::string endpoint = kDefaultEndpoint;  // "unix:///path" (or "unix:/path")
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};         // every call but pulls
  std::chrono::milliseconds pull_timeout{std::chrono::minutes(10)};    // PullImage
};

class CriClient {
 public:
  virtual ~CriClient() = default;

  // --- RuntimeService ---
  virtual Result<rt::VersionResponse> version() = 0;
  virtual Result<rt::RuntimeStatus> status() = 0;

  // Returns the sandbox id.
  virtual Result<std::string> run_pod_sandbox(const rt::PodSandboxConfig& config) = 0;
  virtual Status stop_pod_sandbox(const std::string& sandbox_id) = 0;
  virtual Status remove_pod_sandbox(const std::string& sandbox_id) = 0;
  virtual Result<rt::PodSandboxStatus> pod_sandbox_status(const std::string& sandbox_id) = 0;
  virtual Result<std::vector<rt::PodSandbox>> list_pod_sandbox(const rt::PodSandboxFilter& filter = {}) = 0;

  // Returns the container id.
  virtual Result<std::string> create_container(const std::string& sandbox_id, const rt::ContainerConfig& config,
                                               const rt::PodSandboxConfig& sandbox_config) = 0;
  virtual Status start_container(const std::string& container_id) = 0;
  // Stop signal, then SIGKILL after timeout_seconds (done by the runtime).
  virtual Status stop_container(const std::string& container_id, long long timeout_seconds) = 0;
  virtual Status remove_container(const std::string& container_id) = 0;
  virtual Result<std::vector<rt::Container>> list_containers(const rt::ContainerFilter& filter = {}) = 0;
  virtual Result<rt::ContainerStatus> container_status(const std::string& container_id) = 0;

  // Runs cmd in the container and waits (timeout_seconds 0 = the client's deadline only).
  virtual Result<rt::ExecSyncResponse> exec_sync(const std::string& container_id, const std::vector<std::string>& cmd,
                                                 long long timeout_seconds) = 0;
  // Streaming sessions: the runtime answers with a one-time URL on its streaming server.
  virtual Result<std::string> exec(const rt::ExecRequest& request) = 0;
  virtual Result<std::string> attach(const rt::AttachRequest& request) = 0;
  virtual Result<std::string> port_forward(const std::string& sandbox_id, const std::vector<int>& ports) = 0;

  // --- ImageService ---
  virtual Result<std::vector<rt::Image>> list_images() = 0;
  // nullopt when the image is not present.
  virtual Result<std::optional<rt::Image>> image_status(const std::string& image) = 0;
  // Returns the image reference (id) of the pulled image.
  virtual Result<std::string> pull_image(const std::string& image, const rt::PodSandboxConfig* sandbox_config) = 0;
  virtual Status remove_image(const std::string& image) = 0;
  virtual Result<rt::ImageFsInfoResponse> image_fs_info() = 0;
};

// A client over gRPC. Connecting is lazy: an absent socket shows up as "Unavailable" on the first
// call, not here.
std::unique_ptr<CriClient> make_grpc_client(const CriOptions& options = {});

// "unix:/run/x.sock" and "/run/x.sock" → "unix:///run/x.sock".
std::string normalize_endpoint(const std::string& endpoint);

}  // namespace k3dpp::cri
