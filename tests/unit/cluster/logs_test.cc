// `cluster logs`: which containers, in which order, their logs and containerd's log file,
// against the in-memory runtime.
#include <doctest/doctest.h>

#include "cluster/logs.h"
#include "cluster/registry.h"
#include "cluster/types.h"
#include "fake_runtime.h"

using namespace k3dpp;
using namespace k3dpp::cluster;

namespace {

// The fake's logs() answers one fixed line; this one answers per container and records tails.
class LogsRuntime : public testing::FakeRuntime {
 public:
  std::map<std::string, std::string> container_logs;
  std::vector<int> tails;
  Result<std::string> logs(const std::string& name, int tail) override {
    tails.push_back(tail);
    if (should_fail("logs", name)) return injected("logs");
    auto it = container_logs.find(name);
    return it == container_logs.end() ? std::string() : tail_lines(it->second, tail);
  }
  void add(const std::string& name, runtime::Labels labels, const std::string& state) {
    Container c;
    c.spec.name = name;
    c.spec.labels = std::move(labels);
    c.state = state;
    containers[name] = c;
  }
  void add_node(const std::string& cluster, const std::string& role, int index, const std::string& name,
                const std::string& state = "running") {
    add(name, {{kLabelCluster, cluster}, {kLabelRole, role}, {kLabelIndex, std::to_string(index)}}, state);
  }
};

}  // namespace

TEST_CASE("tail_lines") {
  CHECK(tail_lines("a\nb\nc\n", 2) == "b\nc\n");
  CHECK(tail_lines("a\nb\nc", 2) == "b\nc");
  CHECK(tail_lines("a\nb\nc\n", 3) == "a\nb\nc\n");
  CHECK(tail_lines("a\nb\nc\n", 10) == "a\nb\nc\n");
  CHECK(tail_lines("a\nb\nc\n", 0) == "a\nb\nc\n");
  CHECK(tail_lines("a\nb\nc\n", 1) == "c\n");
  CHECK(tail_lines("", 3) == "");
}

TEST_CASE("collect_cluster_logs: nodes in order, containerd log from nodes, own registry only") {
  LogsRuntime rt;
  rt.add_node("c1", "loadbalancer", 0, "k3dpp-c1-serverlb");
  rt.add_node("c1", "agent", 0, "k3dpp-c1-agent-0", "exited");
  rt.add_node("c1", "server", 0, "k3dpp-c1-server-0");
  rt.add_node("other", "server", 0, "k3dpp-other-server-0");
  rt.add("k3dpp-c1reg", {{kLabelRole, kRoleRegistry}, {kLabelRegistryCluster, "c1"}}, "running");
  rt.add("k3dpp-shared", {{kLabelRole, kRoleRegistry}}, "running");
  rt.container_logs["k3dpp-c1-server-0"] = "starting k3dpp-node\nserver ready\n";
  rt.container_logs["k3dpp-c1-serverlb"] = "lb up\n";
  rt.containers["k3dpp-c1-server-0"].files[kContainerdLogFile] = "l1\nl2\nl3\n";

  auto r = collect_cluster_logs(rt, "c1", 2);
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 4);
  const auto& v = *r;
  CHECK(v[0].container == "k3dpp-c1-server-0");
  CHECK(v[0].role == "server");
  CHECK(v[0].state == "running");
  CHECK(v[0].log == "starting k3dpp-node\nserver ready\n");
  REQUIRE(v[0].containerd_log.has_value());
  CHECK(*v[0].containerd_log == "l2\nl3\n");  // tail applies to the file too
  CHECK(v[1].container == "k3dpp-c1-agent-0");
  CHECK(v[1].role == "agent");
  CHECK(v[1].state == "exited");
  CHECK_FALSE(v[1].containerd_log.has_value());  // no such file in it
  CHECK(v[2].container == "k3dpp-c1-serverlb");
  CHECK(v[2].role == "loadbalancer");
  CHECK(v[2].log == "lb up\n");
  CHECK_FALSE(v[2].containerd_log.has_value());
  CHECK(v[3].container == "k3dpp-c1reg");
  CHECK(v[3].role == "registry");
  for (int t : rt.tails) CHECK(t == 2);
  // The load balancer and the registry have no containerd: their files are not asked for.
  for (const auto& c : rt.calls) {
    CHECK(c != "read_file:k3dpp-c1-serverlb");
    CHECK(c != "read_file:k3dpp-c1reg");
  }
}

TEST_CASE("collect_cluster_logs: an unreadable log is reported, not fatal") {
  LogsRuntime rt;
  rt.add_node("c1", "server", 0, "k3dpp-c1-server-0");
  rt.add_node("c1", "agent", 0, "k3dpp-c1-agent-0");
  rt.container_logs["k3dpp-c1-agent-0"] = "agent line\n";
  rt.fail_on = "logs:k3dpp-c1-server-0";
  auto r = collect_cluster_logs(rt, "c1", 0);
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 2);
  CHECK((*r)[0].log_error.find("injected failure") != std::string::npos);
  CHECK((*r)[1].log_error == "");
  CHECK((*r)[1].log == "agent line\n");
}

TEST_CASE("collect_cluster_logs: unknown cluster") {
  LogsRuntime rt;
  rt.add_node("c1", "server", 0, "k3dpp-c1-server-0");
  auto r = collect_cluster_logs(rt, "nope", 0);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "cluster 'nope' not found");
  CHECK(r.error().kind == "NotFound");
}
