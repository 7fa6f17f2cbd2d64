// `k3dpp cluster logs` through the CLI against the in-memory runtime (its logs() answers
// "log line" for every container).
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "cluster/logs.h"
#include "cluster/types.h"
#include "fake_runtime.h"

using namespace k3dpp;
using k3dpp::testing::FakeRuntime;

namespace {

struct LogsHarness {
  FakeRuntime rt;
  std::string dir;
  LogsHarness() {
    char tmpl[] = "/tmp/k3dpp-cli-logs-XXXXXX";
    dir = ::mkdtemp(tmpl);
    add_node("server", 0, "k3dpp-lc-server-0", "running");
    add_node("agent", 0, "k3dpp-lc-agent-0", "exited");
    add_node("loadbalancer", 0, "k3dpp-lc-serverlb", "running");
    rt.containers["k3dpp-lc-server-0"].files[cluster::kContainerdLogFile] = "containerd line 1\ncontainerd line 2\n";
  }
  ~LogsHarness() { std::filesystem::remove_all(dir); }
  void add_node(const std::string& role, int index, const std::string& name, const std::string& state) {
    FakeRuntime::Container c;
    c.spec.name = name;
    c.spec.labels = {{cluster::kLabelCluster, "lc"}, {cluster::kLabelRole, role},
                     {cluster::kLabelIndex, std::to_string(index)}};
    c.state = state;
    rt.containers[name] = c;
  }
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
    int code = cli::run(args, ctx, err);
    return {code, out.str(), err.str()};
  }
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("cluster logs NAME prints every container under a header") {
  LogsHarness h;
  auto r = h.run({"cluster", "logs", "lc", "--tail", "1"});
  CHECK(r.err == "");
  REQUIRE(r.code == 0);
  CHECK(r.out ==
        "===== k3dpp-lc-server-0 (server, running) =====\n"
        "log line\n"
        "===== k3dpp-lc-server-0 containerd (/var/log/containerd.log) =====\n"
        "containerd line 2\n"
        "===== k3dpp-lc-agent-0 (agent, exited) =====\n"
        "log line\n"
        "===== k3dpp-lc-serverlb (loadbalancer, running) =====\n"
        "log line\n");
}

TEST_CASE("cluster logs --output-dir writes one file per log and prints the directory") {
  LogsHarness h;
  std::string out_dir = h.dir + "/export";
  auto r = h.run({"cluster", "logs", "lc", "--output-dir", out_dir});
  CHECK(r.err == "");
  REQUIRE(r.code == 0);
  CHECK(r.out == out_dir + "\n");
  CHECK(slurp(out_dir + "/k3dpp-lc-server-0.log") == "log line\n");
  CHECK(slurp(out_dir + "/k3dpp-lc-server-0-containerd.log") == "containerd line 1\ncontainerd line 2\n");
  CHECK(slurp(out_dir + "/k3dpp-lc-agent-0.log") == "log line\n");
  CHECK(slurp(out_dir + "/k3dpp-lc-serverlb.log") == "log line\n");
  CHECK_FALSE(std::filesystem::exists(out_dir + "/k3dpp-lc-agent-0-containerd.log"));
  CHECK_FALSE(std::filesystem::exists(out_dir + "/k3dpp-lc-serverlb-containerd.log"));
}

TEST_CASE("cluster logs of an unknown cluster fails") {
  LogsHarness h;
  auto r = h.run({"cluster", "logs", "x"});
  CHECK(r.code == 1);
  CHECK(r.out == "");
  CHECK(r.err == "ERROR: cluster 'x' not found\n");
  CHECK(h.run({"cluster", "logs", "lc", "--tail", "-3"}).code != 0);
}
