#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "cli/cli.h"
#include "common/files.h"
#include "fake_runtime.h"
#include "test_data.h"

using namespace k3dpp;
using k3dpp::testing::FakeRuntime;

namespace {

struct Harness {
  FakeRuntime rt;
  std::string dir;
  Harness() {
    char tmpl[] = "/tmp/k3dpp-cli-XXXXXX";
    dir = ::mkdtemp(tmpl);
    ::setenv("KUBECONFIG", (dir + "/config").c_str(), 1);
    rt.admin_kubeconfig = kAdminKubeconfig;
  }
  ~Harness() { std::filesystem::remove_all(dir); }

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
    ctx.probes.https_get = [](const std::string& url, const cluster::ClientCreds&) -> Result<cluster::HttpResponse> {
      if (url.find("/readyz") != std::string::npos) return cluster::HttpResponse{200, "ok"};
      return cluster::HttpResponse{200, R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})"};
    };
    ctx.probes.sleep = [](std::chrono::milliseconds) {};
    int code = cli::run(args, ctx, err);
    return {code, out.str(), err.str()};
  }
};

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST_CASE("durations") {
  CHECK(cli::parse_duration("120s")->count() == 120);
  CHECK(cli::parse_duration("2m")->count() == 120);
  CHECK(cli::parse_duration("1m30s")->count() == 90);
  CHECK(cli::parse_duration("45")->count() == 45);
  CHECK_FALSE(cli::parse_duration("abc"));
  CHECK_FALSE(cli::parse_duration("0s"));
  CHECK_FALSE(cli::parse_duration("1m30"));
}

TEST_CASE("cluster create / list / kubeconfig get / delete through the CLI") {
  Harness h;
  auto r = h.run({"cluster", "create", "dev-cluster", "-s", "1", "-a", "1", "-p", "30050:30050@server:0"});
  CHECK(r.err == "");
  REQUIRE(r.code == 0);
  CHECK(r.out == "kubectl cluster-info\n");
  CHECK(h.rt.containers.count("k3dpp-dev-cluster-agent-0"));
  CHECK(h.rt.containers["k3dpp-dev-cluster-serverlb"].spec.ports.at(1).host_port == 30050);

  r = h.run({"cluster", "list"});
  REQUIRE(r.code == 0);
  CHECK(r.out ==
        "NAME          SERVERS   AGENTS   LOADBALANCER\n"
        "dev-cluster   1/1       1/1      true\n");
  r = h.run({"cluster", "list", "-o", "json"});
  CHECK(r.out.find("\"name\": \"dev-cluster\"") != std::string::npos);

  r = h.run({"kubeconfig", "get", "dev-cluster"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("server: https://127.0.0.1:41000") != std::string::npos);
  auto kc = files::read(h.dir + "/config");
  REQUIRE(kc);
  CHECK(kc->find("current-context: k3dpp-dev-cluster") != std::string::npos);

  r = h.run({"node", "create", "agent-02", "--role", "agent", "--cluster", "dev-cluster"});
  REQUIRE(r.code == 0);
  CHECK(h.rt.containers.count("k3dpp-agent-02-0"));
  r = h.run({"cluster", "list", "--no-headers"});
  CHECK(r.out == "dev-cluster   1/1       2/2      true\n");
  r = h.run({"node", "list"});
  CHECK(r.out.find("k3dpp-agent-02-0") != std::string::npos);

  r = h.run({"cluster", "stop", "dev-cluster"});
  REQUIRE(r.code == 0);
  r = h.run({"cluster", "start", "dev-cluster"});
  REQUIRE(r.code == 0);

  r = h.run({"cluster", "delete", "dev-cluster"});
  REQUIRE(r.code == 0);
  CHECK(h.rt.leftovers().empty());
  kc = files::read(h.dir + "/config");
  CHECK(kc->find("k3dpp-dev-cluster") == std::string::npos);
  // k3d: deleting a missing cluster only informs.
  CHECK(h.run({"cluster", "delete", "dev-cluster"}).code == 0);
}

TEST_CASE("bad input: one ERROR line, non-zero exit, nothing created") {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  std::vector<Case> cases{
      {{"cluster", "create", "Bad_Name"}, "ERROR: cluster name 'Bad_Name' is not a valid DNS-1123 label"},
      {{"cluster", "create", std::string(33, 'a')}, "is too long (33 > 32 characters)"},
      {{"cluster", "create", "x", "-p", "99999:80"}, "ERROR: invalid port mapping '99999:80': host port 99999 is out of range"},
      {{"cluster", "create", "x", "-p", "8080:80@agent:0"}, "ERROR: port mapping '8080:80@agent:0': node filter 'agent:0' matches no node"},
      {{"cluster", "create", "x", "-p", "30999:80"}, "ERROR: -p 30999:80: host port 0.0.0.0:30999/tcp is already in use"},
      {{"cluster", "create", "x", "-p", "8080:80@bogus"}, "ERROR: '8080:80@bogus': invalid node filter 'bogus'"},
      {{"cluster", "create", "x", "--api-port", "0"}, "ERROR: invalid --api-port '0'"},
      {{"cluster", "create", "x", "--timeout", "soon"}, "ERROR: --timeout: invalid duration 'soon'"},
      {{"cluster", "create", "x", "-s", "0"}, "ERROR: --servers"},
      {{"cluster", "bogus"}, "ERROR: "},
      {{"--runtime", "lxc", "cluster", "list"}, "ERROR: --runtime"},
      {{"node", "create", "n", "--cluster", "missing"}, "ERROR: cluster 'missing' not found"},
      {{"node", "delete", "k3dpp-nothing-0"}, "ERROR: node 'k3dpp-nothing-0' not found"},
      {{"cluster", "start", "missing"}, "ERROR: cluster 'missing' not found"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args);
    Harness h;
    auto r = h.run(c.args);
    CHECK(r.code != 0);
    CHECK(r.err.find(c.error) != std::string::npos);
    CHECK(r.err.rfind("ERROR: ", 0) == 0);
    CHECK(lines(r.err) == 1);
    CHECK(h.rt.leftovers().empty());
  }
}

TEST_CASE("unreachable engine and duplicate cluster") {
  Harness h;
  h.rt.engine_down = true;
  auto r = h.run({"cluster", "create", "x"});
  CHECK(r.code == 1);
  CHECK(r.err.rfind("ERROR: cannot reach the container engine: ", 0) == 0);
  h.rt.engine_down = false;
  REQUIRE(h.run({"cluster", "create", "x"}).code == 0);
  r = h.run({"cluster", "create", "x"});
  CHECK(r.code == 1);
  CHECK(r.err == "ERROR: cluster 'x' already exists\n");
}

TEST_CASE("version prints k3dpp and image tags") {
  Harness h;
  auto r = h.run({"version"});
  CHECK(r.code == 0);
  CHECK(r.out == "k3dpp version v" K3DPP_VERSION "\nkubernetes version " K3DPP_KUBE_VERSION
                 " (k3dpp-node)\nnode image k3dpp/node:" K3DPP_VERSION "\nlb image k3dpp/lb:" K3DPP_VERSION "\n");
}

TEST_CASE("NAME...|--all commands refuse names together with --all, before touching anything") {
  Harness h;
  for (std::vector<std::string> cmd : {std::vector<std::string>{"cluster", "stop"}, {"cluster", "start"},
                                       {"cluster", "delete"}, {"kubeconfig", "get"}, {"kubeconfig", "merge"}}) {
    cmd.push_back("dev");
    cmd.push_back("--all");
    auto r = h.run(cmd);
    CAPTURE(cmd[0] + " " + cmd[1]);
    CHECK(r.code == 1);
    CHECK(r.err == "ERROR: give cluster names or --all, not both\n");
  }
}

TEST_CASE("cluster list of an unknown name is NotFound; --no-headers drops the header") {
  Harness h;
  auto r = h.run({"cluster", "list", "nosuch"});
  CHECK(r.code == 1);
  CHECK(r.err == "ERROR: cluster 'nosuch' not found\n");
  auto created = h.run({"cluster", "create", "dev", "--agents", "1"});
  REQUIRE(created.code == 0);
  auto with = h.run({"cluster", "list"});
  auto without = h.run({"cluster", "list", "--no-headers"});
  CHECK(lines(with.out) == 2);
  CHECK(lines(without.out) == 1);
  CHECK(without.out.rfind("dev ", 0) == 0);
}
