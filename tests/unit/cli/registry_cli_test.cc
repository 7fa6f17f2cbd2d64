// `k3dpp registry create|list|delete` and `cluster create --registry-create/--registry-use`
// through the CLI against the in-memory runtime.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "cli/cli.h"
#include "fake_runtime.h"
#include "test_data.h"

using namespace k3dpp;
using k3dpp::testing::FakeRuntime;

namespace {

struct RegHarness {
  FakeRuntime rt;
  std::string dir;
  RegHarness() {
    char tmpl[] = "/tmp/k3dpp-cli-reg-XXXXXX";
    dir = ::mkdtemp(tmpl);
    ::setenv("KUBECONFIG", (dir + "/config").c_str(), 1);
    rt.admin_kubeconfig = kAdminKubeconfig;
    rt.images.insert("k3dpp/registry:" K3DPP_VERSION);
  }
  ~RegHarness() { std::filesystem::remove_all(dir); }

  struct Out {
    int code;
    std::string out;
    std::string err;
  };
  Out run(std::vector<std::string> args) {
    cli::Context ctx;
    std::ostringstream out, err;
    ctx.out = &out;
    ctx.runtime_override = &rt;
    ctx.logging_setup = false;
    ctx.probes.port_free = [](const std::string&, uint16_t, const std::string&) -> Status { return {}; };
    ctx.probes.pick_free_port = [](const std::string&) -> Result<uint16_t> { return static_cast<uint16_t>(41000); };
    ctx.probes.https_get = [](const std::string& url, const cluster::ClientCreds&) -> Result<cluster::HttpResponse> {
      if (url.find("/readyz") != std::string::npos) return cluster::HttpResponse{200, "ok"};
      return cluster::HttpResponse{200, R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})"};
    };
    ctx.probes.sleep = [](std::chrono::milliseconds) {};
    int code = cli::run(args, ctx, err);
    return {code, out.str(), err.str()};
  }
};

}  // namespace

TEST_CASE("registry create / list / delete through the CLI") {
  RegHarness h;
  auto r = h.run({"registry", "create", "myreg", "-p", "5111"});
  CHECK(r.err == "");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("k3dpp cluster create --registry-use k3dpp-myreg:5111\n") != std::string::npos);
  CHECK(r.out.find("docker push 127.0.0.1:5111/mynginx:v0.1\n") != std::string::npos);
  REQUIRE(h.rt.containers.count("k3dpp-myreg"));
  CHECK(h.rt.containers["k3dpp-myreg"].spec.ports.at(0).host_port == 5111);

  r = h.run({"registry", "create", "other", "--no-help"});
  REQUIRE(r.code == 0);
  CHECK(r.out == "");
  CHECK(h.rt.containers["k3dpp-other"].spec.ports.at(0).host_port == 41000);

  r = h.run({"registry", "list"});
  REQUIRE(r.code == 0);
  CHECK(r.out ==
        "NAME          ROLE       CLUSTER   STATUS    HOST\n"
        "k3dpp-myreg   registry             running   127.0.0.1:5111\n"
        "k3dpp-other   registry             running   127.0.0.1:41000\n");
  r = h.run({"registry", "ls", "myreg", "--no-headers"});
  REQUIRE(r.code == 0);
  CHECK(r.out == "k3dpp-myreg   registry             running   127.0.0.1:5111\n");
  r = h.run({"registry", "list", "nope"});
  CHECK(r.code == 1);
  CHECK(r.err == "ERROR: registry 'k3dpp-nope' not found\n");

  r = h.run({"registry", "delete", "k3dpp-myreg", "other"});
  CHECK(r.err == "");
  REQUIRE(r.code == 0);
  CHECK(h.rt.leftovers().empty());
  r = h.run({"registry", "delete"});
  CHECK(r.code == 1);
  CHECK(r.err == "ERROR: give a registry name (or --all)\n");
}

TEST_CASE("registry flags are checked before anything is created") {
  RegHarness h;
  auto r = h.run({"registry", "create", "Bad_Name"});
  CHECK(r.code == 1);
  CHECK(r.err.find("registry name 'Bad_Name' is not valid") != std::string::npos);
  r = h.run({"registry", "create", "ok", "-p", "host:5000"});
  CHECK(r.code == 1);
  CHECK(r.err.find("invalid --port: 'host:5000': 'host' is not an IPv4 address") != std::string::npos);
  r = h.run({"cluster", "create", "dev", "--registry-create", "reg:99999"});
  CHECK(r.code == 1);
  CHECK(r.err == "ERROR: --registry-create: 'reg:99999': port 99999 is out of range (1-65535)\n");
  r = h.run({"cluster", "create", "dev", "--registry-use", "missing"});
  CHECK(r.code == 1);
  CHECK(r.err.find("--registry-use missing: registry 'k3dpp-missing' not found") != std::string::npos);
  CHECK(h.rt.leftovers().empty());
}

TEST_CASE("cluster create --registry-create / --registry-use through the CLI") {
  RegHarness h;
  REQUIRE(h.run({"registry", "create", "shared", "--no-help"}).code == 0);
  auto r = h.run({"cluster", "create", "dev", "--registry-create", "own:5222", "--registry-use", "k3dpp-shared:41000"});
  CHECK(r.err == "");
  REQUIRE(r.code == 0);
  auto& files = h.rt.containers["k3dpp-dev-server-0"].files;
  REQUIRE(files.count("/etc/containerd/certs.d/docker.io/hosts.toml"));
  const auto& hub = files["/etc/containerd/certs.d/docker.io/hosts.toml"];
  // Sorted by name: k3dpp-own before k3dpp-shared.
  CHECK(hub.find("http://k3dpp-own:5000") < hub.find("http://k3dpp-shared:5000"));
  r = h.run({"registry", "list", "--no-headers"});
  CHECK(r.out ==
        "k3dpp-own      registry   dev       running   127.0.0.1:5222\n"
        "k3dpp-shared   registry             running   127.0.0.1:41000\n");
  REQUIRE(h.run({"cluster", "delete", "dev"}).code == 0);
  r = h.run({"registry", "list", "--no-headers"});
  CHECK(r.out == "k3dpp-shared   registry             running   127.0.0.1:41000\n");
}
