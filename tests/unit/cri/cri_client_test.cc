// CriClient against an in-process fake CRI server on a unix socket: the request fields reach the
// server, responses come back, gRPC errors become Error kinds, deadlines hold.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <thread>

#include "cri/cri.grpc.pb.h"
#include "cri/cri_client.h"

using namespace k3dpp;
namespace rt = ::runtime::v1;

namespace {

class FakeRuntime final : public rt::RuntimeService::Service {
 public:
  rt::PodSandboxConfig last_sandbox;
  std::vector<std::string> last_cmd;

  grpc::Status Version(grpc::ServerContext*, const rt::VersionRequest* req, rt::VersionResponse* resp) override {
    resp->set_version(req->version());
    resp->set_runtime_name("fake");
    resp->set_runtime_version("9.9");
    resp->set_runtime_api_version("v1");
    return grpc::Status::OK;
  }
  grpc::Status RunPodSandbox(grpc::ServerContext*, const rt::RunPodSandboxRequest* req,
                             rt::RunPodSandboxResponse* resp) override {
    last_sandbox = req->config();
    if (req->config().metadata().name() == "boom") {
      return grpc::Status(grpc::StatusCode::UNKNOWN, "failed to setup network for sandbox");
    }
    resp->set_pod_sandbox_id("sb-" + req->config().metadata().uid());
    return grpc::Status::OK;
  }
  grpc::Status PodSandboxStatus(grpc::ServerContext*, const rt::PodSandboxStatusRequest* req,
                                rt::PodSandboxStatusResponse* resp) override {
    if (req->pod_sandbox_id() != "sb-1") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "an error occurred when try to find sandbox \"" +
                                                           req->pod_sandbox_id() + "\": not found");
    }
    resp->mutable_status()->set_id("sb-1");
    resp->mutable_status()->mutable_network()->set_ip("10.42.0.7");
    return grpc::Status::OK;
  }
  grpc::Status ExecSync(grpc::ServerContext*, const rt::ExecSyncRequest* req, rt::ExecSyncResponse* resp) override {
    last_cmd.assign(req->cmd().begin(), req->cmd().end());
    if (!last_cmd.empty() && last_cmd[0] == "sleep") {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    }
    resp->set_stdout("hello\n");
    resp->set_exit_code(3);
    return grpc::Status::OK;
  }
  grpc::Status StopContainer(grpc::ServerContext*, const rt::StopContainerRequest* req,
                             rt::StopContainerResponse*) override {
    last_stop_timeout = req->timeout();
    return grpc::Status::OK;
  }
  long long last_stop_timeout = -1;
};

class FakeImages final : public rt::ImageService::Service {
 public:
  grpc::Status ImageStatus(grpc::ServerContext*, const rt::ImageStatusRequest* req,
                           rt::ImageStatusResponse* resp) override {
    if (req->image().image() == "busybox:test") {
      resp->mutable_image()->set_id("sha256:abc");
      resp->mutable_image()->set_size(1234);
    }
    return grpc::Status::OK;
  }
};

struct Server {
  FakeRuntime runtime;
  FakeImages images;
  std::unique_ptr<grpc::Server> server;
  std::string path;
  Server() {
    path = "/tmp/k3dpp-cri-test-" + std::to_string(getpid()) + ".sock";
    unlink(path.c_str());
    grpc::ServerBuilder b;
    b.AddListeningPort("unix://" + path, grpc::InsecureServerCredentials());
    b.RegisterService(&runtime);
    b.RegisterService(&images);
    server = b.BuildAndStart();
  }
  ~Server() {
    server->Shutdown();
    unlink(path.c_str());
  }
};

}  // namespace

TEST_CASE("normalize_endpoint") {
  CHECK(cri::normalize_endpoint("/run/containerd/containerd.sock") == "unix:///run/containerd/containerd.sock");
  CHECK(cri::normalize_endpoint("unix:/run/x.sock") == "unix:///run/x.sock");
  CHECK(cri::normalize_endpoint("unix:///run/x.sock") == "unix:///run/x.sock");
}

TEST_CASE("calls reach the fake runtime and errors map to kinds") {
  Server s;
  REQUIRE(s.server);
  cri::CriOptions o;
  o.endpoint = s.path;
  o.timeout = std::chrono::seconds(1);
  auto c = cri::make_grpc_client(o);

  auto v = c->version();
  REQUIRE(v);
  CHECK(v->version() == "v1");
  CHECK(v->runtime_name() == "fake");

  rt::PodSandboxConfig cfg;
  cfg.mutable_metadata()->set_name("web");
  cfg.mutable_metadata()->set_uid("u1");
  cfg.mutable_dns_config()->add_servers("10.43.0.10");
  auto id = c->run_pod_sandbox(cfg);
  REQUIRE(id);
  CHECK(*id == "sb-u1");
  CHECK(s.runtime.last_sandbox.dns_config().servers(0) == "10.43.0.10");

  cfg.mutable_metadata()->set_name("boom");
  auto bad = c->run_pod_sandbox(cfg);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == "Runtime");
  CHECK(bad.error().message == "CRI RunPodSandbox: failed to setup network for sandbox");

  auto st = c->pod_sandbox_status("sb-1");
  REQUIRE(st);
  CHECK(st->network().ip() == "10.42.0.7");
  auto missing = c->pod_sandbox_status("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().is("NotFound"));

  auto ex = c->exec_sync("c1", {"ls", "-al"}, 0);
  REQUIRE(ex);
  CHECK(ex->stdout() == "hello\n");
  CHECK(ex->exit_code() == 3);
  CHECK(s.runtime.last_cmd == std::vector<std::string>{"ls", "-al"});

  CHECK(c->stop_container("c1", 7));
  CHECK(s.runtime.last_stop_timeout == 7);

  auto img = c->image_status("busybox:test");
  REQUIRE(img);
  REQUIRE(img->has_value());
  CHECK((*img)->size() == 1234);
  auto none = c->image_status("nginx");
  REQUIRE(none);
  CHECK_FALSE(none->has_value());

  // Not implemented by the fake: UNIMPLEMENTED.
  auto lst = c->list_containers();
  REQUIRE_FALSE(lst);
  CHECK(lst.error().is("Unimplemented"));
}

TEST_CASE("deadline: a slow call ends with Timeout") {
  Server s;
  cri::CriOptions o;
  o.endpoint = s.path;
  o.timeout = std::chrono::milliseconds(300);
  auto c = cri::make_grpc_client(o);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->exec_sync("c1", {"sleep"}, 0);
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(r);
  // Timeout, not the server's late answer: the deadline ended the call (how long it took is a
  // figure, not asserted).
  CHECK(r.error().is("Timeout"));
  MESSAGE("timed out after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
}

TEST_CASE("absent socket: Unavailable, quickly") {
  cri::CriOptions o;
  o.endpoint = "/tmp/k3dpp-no-such-cri.sock";
  o.timeout = std::chrono::milliseconds(500);
  auto c = cri::make_grpc_client(o);
  auto r = c->version();
  REQUIRE_FALSE(r);
  CHECK((r.error().is("Unavailable") || r.error().is("Timeout")));
  CHECK(r.error().message.rfind("CRI Version: ", 0) == 0);
}
