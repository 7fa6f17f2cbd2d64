// The CLI run against the in-memory runtime with host probes that always succeed (port 30999 is
// taken), for the CLI tests.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "fake_runtime.h"
#include "test_data.h"

namespace k3dpp::testing {

struct CliHarness {
  FakeRuntime rt;
  std::string dir;
  CliHarness() {
    char tmpl[] = "/tmp/k3dpp-cli-k3d-XXXXXX";
    dir = ::mkdtemp(tmpl);
    ::setenv("KUBECONFIG", (dir + "/config").c_str(), 1);
    ::setenv("HOME", dir.c_str(), 1);
    rt.admin_kubeconfig = kAdminKubeconfig;
  }
  ~CliHarness() { std::filesystem::remove_all(dir); }

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
    ctx.probes.port_free = [](const std::string&, uint16_t port, const std::string&) -> Status {
      if (port == 30999) return fail("host port 0.0.0.0:30999/tcp is already in use", "Conflict");
      return {};
    };
    ctx.probes.pick_free_port = [](const std::string&) -> Result<uint16_t> { return static_cast<uint16_t>(41000); };
    ctx.probes.https_get = [this](const std::string& url, const cluster::ClientCreds&) -> Result<cluster::HttpResponse> {
      if (never_ready) return cluster::HttpResponse{503, "not ready"};
      if (url.find("/readyz") != std::string::npos) return cluster::HttpResponse{200, "ok"};
      return cluster::HttpResponse{200, R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})"};
    };
    ctx.probes.sleep = [this](std::chrono::milliseconds d) { fake_now += d; };
    ctx.probes.now = [this]() { return std::chrono::steady_clock::time_point{} + fake_now; };
    int code = cli::run(args, ctx, err);
    return {code, out.str(), err.str()};
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  bool never_ready = false;
  std::chrono::milliseconds fake_now{0};
};

}  // namespace k3dpp::testing
