#include <algorithm>
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cluster/parse.h"
#include "cluster/translate.h"
#include "golden.h"

using namespace k3dpp;
using namespace k3dpp::cluster;
using k3dpp::testing::check_golden;

namespace {

// A stable, readable rendering of a ContainerSpec (every field), for golden files.
std::string spec_json(const runtime::ContainerSpec& s) {
  nlohmann::ordered_json j;
  j["name"] = s.name;
  j["image"] = s.image;
  j["hostname"] = s.hostname;
  j["network"] = s.network;
  j["network_aliases"] = s.network_aliases;
  j["labels"] = s.labels;
  j["env"] = s.env;
  j["entrypoint"] = s.entrypoint;
  j["cmd"] = s.cmd;
  j["binds"] = s.binds;
  j["tmpfs"] = s.tmpfs;
  j["cap_add"] = s.cap_add;
  j["cap_drop"] = s.cap_drop;
  j["security_opt"] = s.security_opt;
  j["sysctls"] = s.sysctls;
  nlohmann::ordered_json ports = nlohmann::ordered_json::array();
  for (const auto& p : s.ports) {
    ports.push_back({{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port},
                     {"protocol", p.protocol}});
  }
  j["ports"] = ports;
  nlohmann::ordered_json ul = nlohmann::ordered_json::array();
  for (const auto& u : s.ulimits) ul.push_back({{"name", u.name}, {"soft", u.soft}, {"hard", u.hard}});
  j["ulimits"] = ul;
  j["device_cgroup_rules"] = s.device_cgroup_rules;
  j["extra_hosts"] = s.extra_hosts;
  j["init"] = s.init;
  j["restart_policy"] = s.restart_policy;
  return j.dump(2) + "\n";
}

NodeContext ctx() { return {"dev", "k3dpp-dev", "k3dpp/node:0.1.0", "0.1.0", ""}; }

}  // namespace

TEST_CASE("server node container spec (golden)") {
  auto s = node_container(ctx(), {Role::kServer, 0, "k3dpp-dev-server-0"}, {"/tmp/data:/data:ro"}, {});
  CHECK(s.cap_add == std::vector<std::string>{"ALL"});
  CHECK(s.cap_drop == std::vector<std::string>{"SYS_RESOURCE"});
  check_golden("server-0.json", spec_json(s));
}

TEST_CASE("agent node container spec (golden)") {
  auto s = node_container(ctx(), {Role::kAgent, 1, "k3dpp-dev-agent-1"}, {}, {});
  CHECK(s.cmd[0] == "agent");
  check_golden("agent-1.json", spec_json(s));
}

TEST_CASE("node create X makes k3dpp-X-N whose volume is prefixed by the cluster") {
  auto s = node_container({"mycluster", "k3dpp-mycluster", "k3dpp/node:0.1.0", "0.1.0", ""},
                          {Role::kAgent, 0, "k3dpp-agent-02-0"}, {}, {});
  CHECK(s.binds.front() == "k3dpp-mycluster-agent-02-0-containerd:/var/lib/containerd");
  CHECK(s.cmd == std::vector<std::string>{"agent", "--node-name", "k3dpp-agent-02-0", "--server",
                                           "https://k3dpp-mycluster-server-0:6443", "--token-file", "/etc/k3dpp/token"});
}

TEST_CASE("the pod network backend reaches the node as env and label") {
  NodeContext c = ctx();
  c.pod_network = "vxlan";
  auto s = node_container(c, {Role::kAgent, 0, "k3dpp-dev-agent-0"}, {}, {});
  CHECK(s.env == std::vector<std::string>{"K3DPP_POD_NETWORK=vxlan"});
  CHECK(s.labels.at("k3dpp.pod-network") == "vxlan");
  auto none = node_container(ctx(), {Role::kAgent, 0, "k3dpp-dev-agent-0"}, {}, {});
  CHECK(none.env.empty());
  CHECK(!none.labels.count("k3dpp.pod-network"));
}

TEST_CASE("load balancer container spec with -p mappings (golden)") {
  std::vector<FilterNode> nodes{{Role::kServer, 0, "k3dpp-dev-server-0"}, {Role::kAgent, 0, "k3dpp-dev-agent-0"},
                                {Role::kLoadBalancer, 0, "k3dpp-dev-serverlb"}};
  std::vector<ResolvedPort> ports;
  for (const char* spec : {"30050:30050@server:0", "8080:80@loadbalancer", "127.0.0.1:5353:53/udp@agent:0"}) {
    auto rp = resolve_port(*parse_port_mapping(spec), nodes, true);
    REQUIRE(rp);
    ports.push_back(*rp);
  }
  NodeContext c = ctx();
  c.image = "k3dpp/lb:0.1.0";
  auto s = lb_container(c, {"127.0.0.1", 45273, ""}, ports);
  CHECK(s.ports.at(0).host_ip == "127.0.0.1");
  CHECK(s.ports.at(0).container_port == 6443);
  check_golden("serverlb.json", spec_json(s));

  auto back = parse_ports_label(s.labels.at("k3dpp.ports"));
  REQUIRE(back);
  REQUIRE(back->size() == 3);
  CHECK((*back)[1].nodes == std::vector<std::string>{"k3dpp-dev-server-0", "k3dpp-dev-agent-0"});
  CHECK((*back)[2].protocol == "udp");

  check_golden("ports.json", render_ports_json({"k3dpp-dev-server-0"}, ports));
}

TEST_CASE("ports.json: contract format, servers on 6443, removed nodes dropped") {
  std::vector<ResolvedPort> ports{{"", 30050, 30050, "tcp", {"k3dpp-x-server-0"}, false, "30050:30050@server:0"}};
  CHECK(render_ports_json({"k3dpp-x-server-0"}, ports) ==
        "{\"ports\":[{\"listen\":6443,\"protocol\":\"tcp\",\"upstreams\":[\"k3dpp-x-server-0:6443\"]},"
        "{\"listen\":30050,\"protocol\":\"tcp\",\"upstreams\":[\"k3dpp-x-server-0:30050\"]}]}\n");
  CHECK(render_ports_json({"k3dpp-x-server-0", "k3dpp-x-server-1"}, {}) ==
        "{\"ports\":[{\"listen\":6443,\"protocol\":\"tcp\",\"upstreams\":[\"k3dpp-x-server-0:6443\",\"k3dpp-x-server-1:6443\"]}]}\n");
  // server-0's NodePort entry disappears when only server-1 exists.
  CHECK(render_ports_json({"k3dpp-x-server-1"}, ports, {"k3dpp-x-server-1"}) ==
        "{\"ports\":[{\"listen\":6443,\"protocol\":\"tcp\",\"upstreams\":[\"k3dpp-x-server-1:6443\"]}]}\n");
}

TEST_CASE("mapping the LB's API port is refused") {
  std::vector<ResolvedPort> ports{{"", 7000, 6443, "tcp", {"s0"}, false, "7000:6443@server:0"}};
  auto st = check_lb_port_conflicts(ports);
  REQUIRE_FALSE(st);
  CHECK(st.error().message.find("reserved for the API server") != std::string::npos);
}

TEST_CASE("apply_ha: server-0 --cluster-init, other servers --server, agents through the LB") {
  HaContext ha;
  ha.ha = true;
  ha.agent_server_url = "https://k3dpp-dev-serverlb:6443";
  auto s0 = node_container(ctx(), {Role::kServer, 0, "k3dpp-dev-server-0"}, {}, {});
  apply_ha(s0, {Role::kServer, 0, "k3dpp-dev-server-0"}, ha);
  CHECK(s0.labels.at(kLabelEtcd) == "true");
  std::vector<std::string> tail0(s0.cmd.end() - 5, s0.cmd.end());
  CHECK(tail0 == std::vector<std::string>{"--advertise-address", "k3dpp-dev-server-0", "--server-token-file",
                                          "/etc/k3dpp/server-token", "--cluster-init"});

  ha.join_url = "https://k3dpp-dev-server-0:6443";
  auto s1 = node_container(ctx(), {Role::kServer, 1, "k3dpp-dev-server-1"}, {}, {});
  apply_ha(s1, {Role::kServer, 1, "k3dpp-dev-server-1"}, ha);
  std::vector<std::string> tail1(s1.cmd.end() - 6, s1.cmd.end());
  CHECK(tail1 == std::vector<std::string>{"--advertise-address", "k3dpp-dev-server-1", "--server-token-file",
                                          "/etc/k3dpp/server-token", "--server", "https://k3dpp-dev-server-0:6443"});
  CHECK(std::find(s1.cmd.begin(), s1.cmd.end(), "--cluster-init") == s1.cmd.end());

  auto a = node_container(ctx(), {Role::kAgent, 0, "k3dpp-dev-agent-0"}, {}, {});
  apply_ha(a, {Role::kAgent, 0, "k3dpp-dev-agent-0"}, ha);
  auto it = std::find(a.cmd.begin(), a.cmd.end(), "--server");
  REQUIRE(it != a.cmd.end());
  CHECK(*(it + 1) == "https://k3dpp-dev-serverlb:6443");
  CHECK(a.labels.count(kLabelEtcd) == 0);

  // Single-server clusters: nothing changes.
  auto plain = node_container(ctx(), {Role::kServer, 0, "k3dpp-dev-server-0"}, {}, {});
  auto before = plain.cmd;
  apply_ha(plain, {Role::kServer, 0, "k3dpp-dev-server-0"}, HaContext{});
  CHECK(plain.cmd == before);
  CHECK(plain.labels.count(kLabelEtcd) == 0);
}

TEST_CASE("k3s args map onto k3dpp-node flags or are refused by name") {
  auto m = map_k3s_arg("--tls-san=my.host.domain");
  REQUIRE(m);
  CHECK(m->node_arg == "--tls-san=my.host.domain");
  m = map_k3s_arg("--node-label=tier=web");
  REQUIRE(m);
  CHECK(m->node_arg == "--node-label=tier=web");
  m = map_k3s_arg("--node-taint=dedicated=gpu:NoSchedule");
  REQUIRE(m);
  CHECK(m->node_arg == "--node-taint=dedicated=gpu:NoSchedule");
  m = map_k3s_arg("--flannel-backend=vxlan");
  REQUIRE(m);
  CHECK(m->node_arg.empty());
  CHECK(m->pod_network == "vxlan");
  m = map_k3s_arg("--disable=traefik,metrics-server");
  REQUIRE(m);
  CHECK(m->node_arg == "--disable=ingress");  // the bundled ingress controller, k3dpp's traefik
  m = map_k3s_arg("--disable=metrics-server");
  REQUIRE(m);
  CHECK(m->node_arg.empty());
  CHECK(m->note.find("no metrics-server") != std::string::npos);

  auto no = map_k3s_arg("--kubelet-arg=max-pods=200");
  REQUIRE_FALSE(no);
  CHECK(no.error().message.find("k3s arg '--kubelet-arg=max-pods=200' is not supported by k3dpp") == 0);
  CHECK(no.error().message.find("k3dpp maps --tls-san") != std::string::npos);
  CHECK(map_k3s_arg("--disable=servicelb").error().message.find("'servicelb' is built into k3dpp-node") != std::string::npos);
  CHECK(map_k3s_arg("--cluster-cidr=10.0.0.0/16").error().message.find("networks are fixed") != std::string::npos);
  CHECK(map_k3s_arg("--cluster-init").error().message.find("k3dpp sets it itself") != std::string::npos);
  CHECK(map_k3s_arg("--flannel-backend=wireguard-native").error().message.find("not supported by k3dpp") !=
        std::string::npos);
  CHECK_FALSE(map_k3s_arg("--tls-san"));
  CHECK_FALSE(map_k3s_arg("tls-san=x"));
}

TEST_CASE("node extras: env, labels, args, memory, ulimits and host aliases per node") {
  ClusterSpec spec;
  spec.name = "x";
  auto fv = [](const std::string& text, const std::string& dflt) { return *parse_filtered(text, dflt, "test"); };
  spec.env = {fv("A=1@server:0", "all"), fv("B=2", "all")};
  spec.runtime_labels = {fv("team=blue@agent:*;loadbalancer", "all")};
  spec.node_labels = {fv("tier=web@agent:0", "all"), fv("zone=a@loadbalancer", "all")};
  spec.node_args = {fv("--tls-san=api.example@server:*", "all")};
  spec.servers_memory = 1LL << 30;
  spec.agents_memory = 512LL << 20;
  spec.ulimits = {{"nofile", {4096, 8192}}, {"memlock", {-1, -1}}};
  spec.host_aliases = {{"1.2.3.4", {"a.local", "b.local"}}};
  std::vector<FilterNode> nodes{{Role::kServer, 0, "k3dpp-x-server-0"},
                                {Role::kAgent, 0, "k3dpp-x-agent-0"},
                                {Role::kLoadBalancer, 0, "k3dpp-x-serverlb"}};
  auto ex = node_extras(spec, nodes);
  REQUIRE(ex);
  const auto& s0 = ex->at("k3dpp-x-server-0");
  const auto& a0 = ex->at("k3dpp-x-agent-0");
  const auto& lb = ex->at("k3dpp-x-serverlb");
  CHECK(s0.env == std::vector<std::string>{"A=1", "B=2"});
  CHECK(a0.env == std::vector<std::string>{"B=2"});
  CHECK(lb.env == std::vector<std::string>{"B=2"});
  CHECK(s0.runtime_labels.empty());
  CHECK(a0.runtime_labels.at("team") == "blue");
  CHECK(lb.runtime_labels.at("team") == "blue");
  CHECK(s0.node_args == std::vector<std::string>{"--tls-san=api.example"});
  CHECK(a0.node_args == std::vector<std::string>{"--node-label=tier=web"});
  CHECK(lb.node_args.empty());
  REQUIRE(lb.warnings.size() == 1);
  CHECK(lb.warnings[0].find("does not apply to the load balancer") != std::string::npos);
  CHECK(s0.memory == 1LL << 30);
  CHECK(a0.memory == 512LL << 20);

  NodeContext ctx{"x", "k3dpp-x", "k3dpp/node:test", "0.1.0", "host-gw"};
  auto cs = node_container(ctx, {Role::kAgent, 0, "k3dpp-x-agent-0"}, {}, {});
  apply_extras(cs, a0, spec);
  CHECK(cs.memory == 512LL << 20);
  CHECK(std::find(cs.env.begin(), cs.env.end(), "B=2") != cs.env.end());
  CHECK(cs.labels.at("team") == "blue");
  CHECK(cs.cmd.back() == "--node-label=tier=web");
  CHECK(cs.extra_hosts == std::vector<std::string>{"a.local:1.2.3.4", "b.local:1.2.3.4"});
  bool nofile = false, memlock = false;
  for (const auto& u : cs.ulimits) {
    if (u.name == "nofile") nofile = u.soft == 4096 && u.hard == 8192;
    if (u.name == "memlock") memlock = u.soft == -1 && u.hard == -1;
  }
  CHECK(nofile);
  CHECK(memlock);

  // Refusals: a filter that matches nothing, --tls-san on an agent, a k3dpp.* runtime label.
  ClusterSpec bad = spec;
  bad.env = {fv("A=1@agent:3", "all")};
  CHECK(node_extras(bad, nodes).error().message.find("env 'A=1@agent:3'") == 0);
  bad = spec;
  bad.node_args = {fv("--tls-san=x@all", "all")};
  CHECK(node_extras(bad, nodes).error().message.find("--tls-san is a server flag") != std::string::npos);
  bad = spec;
  bad.runtime_labels = {fv("k3dpp.cluster=evil", "all")};
  CHECK(node_extras(bad, nodes).error().message.find("labels k3dpp.* belong to k3dpp") != std::string::npos);
}

TEST_CASE("ports.json carries the LB settings of --lb-config-override") {
  CHECK(render_ports_json({"k3dpp-x-server-0"}, {}, {}, 2048) ==
        "{\"ports\":[{\"listen\":6443,\"protocol\":\"tcp\",\"upstreams\":[\"k3dpp-x-server-0:6443\"]}],"
        "\"settings\":{\"workerConnections\":2048}}\n");
  CHECK(lb_worker_connections({{kLabelLbWorkerConnections, "2048"}}) == 2048);
  CHECK(lb_worker_connections({{kLabelLbWorkerConnections, "x"}}) == 0);
  CHECK(lb_worker_connections({}) == 0);
}
