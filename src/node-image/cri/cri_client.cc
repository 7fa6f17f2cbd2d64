#include "cri/cri_client.h"

#include <grpcpp/grpcpp.h>

#include "common/log.h"
#include "cri/cri.grpc.pb.h"

namespace k3dpp::cri {
namespace {

Error to_error(const char* rpc, const grpc::Status& st) {
  std::string kind;
  switch (st.error_code()) {
    case grpc::StatusCode::NOT_FOUND: kind = "NotFound"; break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: kind = "Timeout"; break;
    case grpc::StatusCode::UNAVAILABLE: kind = "Unavailable"; break;
    case grpc::StatusCode::ALREADY_EXISTS: kind = "AlreadyExists"; break;
    case grpc::StatusCode::UNIMPLEMENTED: kind = "Unimplemented"; break;
    default: kind = "Runtime"; break;
  }
  return Error(std::string("CRI ") + rpc + ": " + st.error_message(), kind);
}

class GrpcCriClient final : public CriClient {
 public:
  explicit GrpcCriClient(const CriOptions& o) : opts_(o), log_(log::get("cri")) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);  // ExecSync output, big image lists
    args.SetMaxSendMessageSize(16 << 20);
    channel_ = grpc::CreateCustomChannel(normalize_endpoint(o.endpoint), grpc::InsecureChannelCredentials(), args);
    runtime_ = rt::RuntimeService::NewStub(channel_);
    images_ = rt::ImageService::NewStub(channel_);
  }

  Result<rt::VersionResponse> version() override {
    rt::VersionRequest req;
    req.set_version("v1");
    return call<rt::VersionResponse>("Version", req, &rt::RuntimeService::Stub::Version, *runtime_);
  }

  Result<rt::RuntimeStatus> status() override {
    rt::StatusRequest req;
    auto r = call<rt::StatusResponse>("Status", req, &rt::RuntimeService::Stub::Status, *runtime_);
    if (!r) return r.error();
    return r->status();
  }

  Result<std::string> run_pod_sandbox(const rt::PodSandboxConfig& config) override {
    rt::RunPodSandboxRequest req;
    *req.mutable_config() = config;
    auto r = call<rt::RunPodSandboxResponse>("RunPodSandbox", req, &rt::RuntimeService::Stub::RunPodSandbox,
                                             *runtime_, pull_deadline());
    if (!r) return r.error();
    return r->pod_sandbox_id();
  }

  Status stop_pod_sandbox(const std::string& id) override {
    rt::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    return drop(call<rt::StopPodSandboxResponse>("StopPodSandbox", req, &rt::RuntimeService::Stub::StopPodSandbox,
                                                 *runtime_));
  }

  Status remove_pod_sandbox(const std::string& id) override {
    rt::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    return drop(call<rt::RemovePodSandboxResponse>("RemovePodSandbox", req,
                                                   &rt::RuntimeService::Stub::RemovePodSandbox, *runtime_));
  }

  Result<rt::PodSandboxStatus> pod_sandbox_status(const std::string& id) override {
    rt::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(id);
    auto r = call<rt::PodSandboxStatusResponse>("PodSandboxStatus", req, &rt::RuntimeService::Stub::PodSandboxStatus,
                                                *runtime_);
    if (!r) return r.error();
    return r->status();
  }

  Result<std::vector<rt::PodSandbox>> list_pod_sandbox(const rt::PodSandboxFilter& filter) override {
    rt::ListPodSandboxRequest req;
    *req.mutable_filter() = filter;
    auto r = call<rt::ListPodSandboxResponse>("ListPodSandbox", req, &rt::RuntimeService::Stub::ListPodSandbox,
                                              *runtime_);
    if (!r) return r.error();
    return std::vector<rt::PodSandbox>(r->items().begin(), r->items().end());
  }

  Result<std::string> create_container(const std::string& sandbox_id, const rt::ContainerConfig& config,
                                       const rt::PodSandboxConfig& sandbox_config) override {
    rt::CreateContainerRequest req;
    req.set_pod_sandbox_id(sandbox_id);
    *req.mutable_config() = config;
    *req.mutable_sandbox_config() = sandbox_config;
    auto r = call<rt::CreateContainerResponse>("CreateContainer", req, &rt::RuntimeService::Stub::CreateContainer,
                                               *runtime_);
    if (!r) return r.error();
    return r->container_id();
  }

  Status start_container(const std::string& id) override {
    rt::StartContainerRequest req;
    req.set_container_id(id);
    return drop(call<rt::StartContainerResponse>("StartContainer", req, &rt::RuntimeService::Stub::StartContainer,
                                                 *runtime_));
  }

  Status stop_container(const std::string& id, long long timeout_seconds) override {
    rt::StopContainerRequest req;
    req.set_container_id(id);
    req.set_timeout(timeout_seconds);
    // The runtime waits up to timeout_seconds before SIGKILL: give the call that long plus ours.
    auto deadline = std::chrono::system_clock::now() + opts_.timeout + std::chrono::seconds(timeout_seconds);
    return drop(call<rt::StopContainerResponse>("StopContainer", req, &rt::RuntimeService::Stub::StopContainer,
                                                *runtime_, deadline));
  }

  Status remove_container(const std::string& id) override {
    rt::RemoveContainerRequest req;
    req.set_container_id(id);
    return drop(call<rt::RemoveContainerResponse>("RemoveContainer", req,
                                                  &rt::RuntimeService::Stub::RemoveContainer, *runtime_));
  }

  Result<std::vector<rt::Container>> list_containers(const rt::ContainerFilter& filter) override {
    rt::ListContainersRequest req;
    *req.mutable_filter() = filter;
    auto r = call<rt::ListContainersResponse>("ListContainers", req, &rt::RuntimeService::Stub::ListContainers,
                                              *runtime_);
    if (!r) return r.error();
    return std::vector<rt::Container>(r->containers().begin(), r->containers().end());
  }

  Result<rt::ContainerStatus> container_status(const std::string& id) override {
    rt::ContainerStatusRequest req;
    req.set_container_id(id);
    auto r = call<rt::ContainerStatusResponse>("ContainerStatus", req, &rt::RuntimeService::Stub::ContainerStatus,
                                               *runtime_);
    if (!r) return r.error();
    return r->status();
  }

  Result<rt::ExecSyncResponse> exec_sync(const std::string& id, const std::vector<std::string>& cmd,
                                         long long timeout_seconds) override {
    rt::ExecSyncRequest req;
    req.set_container_id(id);
    for (const auto& c : cmd) req.add_cmd(c);
    req.set_timeout(timeout_seconds);
    auto deadline = std::chrono::system_clock::now() + opts_.timeout + std::chrono::seconds(timeout_seconds);
    return call<rt::ExecSyncResponse>("ExecSync", req, &rt::RuntimeService::Stub::ExecSync, *runtime_, deadline);
  }

  Result<std::string> exec(const rt::ExecRequest& req) override {
    auto r = call<rt::ExecResponse>("Exec", req, &rt::RuntimeService::Stub::Exec, *runtime_);
    if (!r) return r.error();
    return r->url();
  }

  Result<std::string> attach(const rt::AttachRequest& req) override {
    auto r = call<rt::AttachResponse>("Attach", req, &rt::RuntimeService::Stub::Attach, *runtime_);
    if (!r) return r.error();
    return r->url();
  }

  Result<std::string> port_forward(const std::string& sandbox_id, const std::vector<int>& ports) override {
    rt::PortForwardRequest req;
    req.set_pod_sandbox_id(sandbox_id);
    for (int p : ports) req.add_port(p);
    auto r = call<rt::PortForwardResponse>("PortForward", req, &rt::RuntimeService::Stub::PortForward, *runtime_);
    if (!r) return r.error();
    return r->url();
  }

  Result<std::vector<rt::Image>> list_images() override {
    rt::ListImagesRequest req;
    auto r = call<rt::ListImagesResponse>("ListImages", req, &rt::ImageService::Stub::ListImages, *images_);
    if (!r) return r.error();
    return std::vector<rt::Image>(r->images().begin(), r->images().end());
  }

  Result<std::optional<rt::Image>> image_status(const std::string& image) override {
    rt::ImageStatusRequest req;
    req.mutable_image()->set_image(image);
    auto r = call<rt::ImageStatusResponse>("ImageStatus", req, &rt::ImageService::Stub::ImageStatus, *images_);
    if (!r) return r.error();
    if (!r->has_image()) return std::optional<rt::Image>{};
    return std::optional<rt::Image>(r->image());
  }

  Result<std::string> pull_image(const std::string& image, const rt::PodSandboxConfig* sandbox_config) override {
    rt::PullImageRequest req;
    req.mutable_image()->set_image(image);
    if (sandbox_config) *req.mutable_sandbox_config() = *sandbox_config;
    auto r = call<rt::PullImageResponse>("PullImage", req, &rt::ImageService::Stub::PullImage, *images_,
                                         pull_deadline());
    if (!r) return r.error();
    return r->image_ref();
  }

  Status remove_image(const std::string& image) override {
    rt::RemoveImageRequest req;
    req.mutable_image()->set_image(image);
    return drop(call<rt::RemoveImageResponse>("RemoveImage", req, &rt::ImageService::Stub::RemoveImage, *images_));
  }

  Result<rt::ImageFsInfoResponse> image_fs_info() override {
    rt::ImageFsInfoRequest req;
    return call<rt::ImageFsInfoResponse>("ImageFsInfo", req, &rt::ImageService::Stub::ImageFsInfo, *images_);
  }

 private:
  std::chrono::system_clock::time_point pull_deadline() const {
    return std::chrono::system_clock::now() + opts_.pull_timeout;
  }

  // One unary call with a deadline; gRPC never throws, so no try/catch is needed here.
  template <typename Resp, typename Req, typename Stub>
  Result<Resp> call(const char* rpc, const Req& req,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), Stub& stub,
                    std::optional<std::chrono::system_clock::time_point> deadline = std::nullopt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline.value_or(std::chrono::system_clock::now() + opts_.timeout));
    Resp resp;
    log_->debug("CRI {}", rpc);
    grpc::Status st = (stub.*method)(&ctx, req, &resp);
    if (!st.ok()) {
      Error e = to_error(rpc, st);
      log_->debug("{}", e.message);
      return e;
    }
    return resp;
  }

  template <typename T>
  static Status drop(const Result<T>& r) {
    if (!r) return r.error();
    return {};
  }

  CriOptions opts_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rt::RuntimeService::Stub> runtime_;
  std::unique_ptr<rt::ImageService::Stub> images_;
};

}  // namespace

std::string normalize_endpoint(const std::string& endpoint) {
  if (endpoint.rfind("unix://", 0) == 0) return endpoint;
  if (endpoint.rfind("unix:", 0) == 0) return "unix://" + endpoint.substr(5);
  if (!endpoint.empty() && endpoint[0] == '/') return "unix://" + endpoint;
  return endpoint;
}

std::unique_ptr<CriClient> make_grpc_client(const CriOptions& options) {
  return std::make_unique<GrpcCriClient>(options);
}

}  // namespace k3dpp::cri
