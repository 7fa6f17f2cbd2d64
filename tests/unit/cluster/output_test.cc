// Listings: golden JSON/YAML with k3d's field names, and the tables (plain and -o wide).
#include <doctest/doctest.h>

#include "cluster/output.h"
#include "golden.h"

using namespace k3dpp;
using namespace k3dpp::cluster;
using k3dpp::testing::check_golden;

namespace {

NodeState node(const std::string& name, Role role, int index, const std::string& state) {
  NodeState n;
  n.name = name;
  n.cluster = "dev";
  n.role = role;
  n.index = index;
  n.state = state;
  n.running = state == "running";
  n.image = role == Role::kLoadBalancer ? "k3dpp/lb:0.1.0" : "k3dpp/node:0.1.0";
  n.labels = {{kLabelCluster, "dev"}, {kLabelRole, role_name(role)}, {kLabelNetwork, "k3dpp-dev"}};
  n.ips = {{"k3dpp-dev", "172.19.0." + std::to_string(2 + index + (role == Role::kAgent ? 1 : 0))}};
  return n;
}

ClusterState dev_cluster() {
  ClusterState c;
  c.name = "dev";
  c.network = "k3dpp-dev";
  c.network_owned = true;
  auto s0 = node("k3dpp-dev-server-0", Role::kServer, 0, "running");
  s0.memory = 2LL << 30;
  auto a0 = node("k3dpp-dev-agent-0", Role::kAgent, 0, "exited");
  auto lb = node("k3dpp-dev-serverlb", Role::kLoadBalancer, 0, "running");
  lb.ips = {{"k3dpp-dev", "172.19.0.9"}};
  lb.ports = {{"127.0.0.1", 41000, 6443, "tcp"}, {"0.0.0.0", 8080, 80, "tcp"}};
  c.nodes = {s0, a0, lb};
  c.api_host = "127.0.0.1";
  c.api_port = 41000;
  ResolvedPort p;
  p.host_ip = "0.0.0.0";
  p.host_port = 8080;
  p.container_port = 80;
  p.nodes = {"k3dpp-dev-server-0", "k3dpp-dev-agent-0"};
  p.text = "8080:80@loadbalancer";
  c.ports = {p};
  c.volumes = {"k3dpp-dev-agent-0-containerd", "k3dpp-dev-server-0-containerd"};
  return c;
}

}  // namespace

TEST_CASE("cluster list: JSON and YAML with k3d's field names, tables") {
  auto c = dev_cluster();
  check_golden("list_clusters.json", render_cluster_json({c}));
  auto y = json_to_yaml(render_cluster_json({c}));
  REQUIRE(y);
  check_golden("list_clusters.yaml", *y);
  CHECK(render_cluster_table({c}) ==
        "NAME   SERVERS   AGENTS   LOADBALANCER\n"
        "dev    1/1       0/1      true\n");
  CHECK(render_cluster_table({c}, true) ==
        "NAME   SERVERS   AGENTS   LOADBALANCER   NETWORK     API               PORTS\n"
        "dev    1/1       0/1      true           k3dpp-dev   127.0.0.1:41000   0.0.0.0:8080->80/tcp\n");
}

TEST_CASE("node list: JSON with k3d's field names, wide table") {
  auto c = dev_cluster();
  check_golden("list_nodes.json", render_node_json(c.nodes));
  CHECK(render_node_table(c.nodes) ==
        "NAME                 ROLE           CLUSTER   STATUS\n"
        "k3dpp-dev-server-0   server         dev       running\n"
        "k3dpp-dev-agent-0    agent          dev       exited\n"
        "k3dpp-dev-serverlb   loadbalancer   dev       running\n");
  CHECK(render_node_table({c.nodes[0], c.nodes[2]}, true) ==
        "NAME                 ROLE           CLUSTER   STATUS    IMAGE              IP           PORTS"
        "                                            MEMORY\n"
        "k3dpp-dev-server-0   server         dev       running   k3dpp/node:0.1.0   172.19.0.2   -"
        "                                                2g\n"
        "k3dpp-dev-serverlb   loadbalancer   dev       running   k3dpp/lb:0.1.0     172.19.0.9   "
        "127.0.0.1:41000->6443/tcp,0.0.0.0:8080->80/tcp   -\n");
}

TEST_CASE("registry list: k3d's node shape with role registry") {
  RegistryState r;
  r.name = "k3dpp-reg";
  r.state = "running";
  r.running = true;
  r.image = "k3dpp/registry:0.1.0";
  r.host_ip = "0.0.0.0";
  r.host_port = 5111;
  r.cluster = "dev";
  r.networks = {"bridge", "k3dpp-dev"};
  check_golden("list_registries.json", render_registry_json({r}));
  CHECK(render_registry_table({r}, true) ==
        "NAME        ROLE       CLUSTER   STATUS    HOST           IMAGE                  NETWORKS\n"
        "k3dpp-reg   registry   dev       running   0.0.0.0:5111   k3dpp/registry:0.1.0   bridge,k3dpp-dev\n");
}

TEST_CASE("YAML keeps strings that look like numbers or booleans quoted") {
  auto y = json_to_yaml(R"({"a":"6443","b":"true","c":"","d":"text","e":5,"f":false,"g":[],"h":{},"i":null})");
  REQUIRE(y);
  CHECK(*y == "a: \"6443\"\nb: \"true\"\nc: \"\"\nd: text\ne: 5\nf: false\ng: []\nh: {}\ni: ~\n");
  CHECK_FALSE(json_to_yaml("{not json"));
}
