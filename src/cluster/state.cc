#include "cluster/state.h"

#include <algorithm>
#include <map>

#include "cluster/translate.h"
#include "common/strings.h"

namespace k3dpp::cluster {

const NodeState* ClusterState::lb() const {
  for (const auto& n : nodes) {
    if (n.role == Role::kLoadBalancer) return &n;
  }
  return nullptr;
}

std::vector<const NodeState*> ClusterState::with_role(Role r) const {
  std::vector<const NodeState*> out;
  for (const auto& n : nodes) {
    if (n.role == r) out.push_back(&n);
  }
  return out;
}

std::vector<std::string> ClusterState::names(Role r) const {
  std::vector<std::string> out;
  for (const auto* n : with_role(r)) out.push_back(n->name);
  return out;
}

int ClusterState::count(Role r, bool running_only) const {
  int c = 0;
  for (const auto& n : nodes) {
    if (n.role == r && (!running_only || n.running)) ++c;
  }
  return c;
}

std::vector<FilterNode> ClusterState::filter_nodes() const {
  std::vector<FilterNode> out;
  for (const auto& n : nodes) out.push_back({n.role, n.index, n.name});
  return out;
}

bool node_from_container(const runtime::ContainerInfo& c, NodeState& out) {
  auto cl = c.labels.find(kLabelCluster);
  auto role = c.labels.find(kLabelRole);
  if (cl == c.labels.end() || role == c.labels.end()) return false;
  out = NodeState{};
  out.name = c.name;
  out.cluster = cl->second;
  if (role->second == "server") {
    out.role = Role::kServer;
  } else if (role->second == "agent") {
    out.role = Role::kAgent;
  } else if (role->second == "loadbalancer") {
    out.role = Role::kLoadBalancer;
  } else {
    return false;
  }
  long long idx = 0;
  auto il = c.labels.find(kLabelIndex);
  if (il != c.labels.end() && strings::parse_int(il->second, idx)) out.index = static_cast<int>(idx);
  out.state = c.state;
  out.running = c.running || c.state == "running";
  out.image = c.image;
  out.labels = c.labels;
  out.ips = c.ips;
  out.ports = c.ports;
  out.memory = c.memory;
  return true;
}

namespace {

void finish(ClusterState& cs) {
  std::sort(cs.nodes.begin(), cs.nodes.end(), [](const NodeState& a, const NodeState& b) {
    if (a.role != b.role) return static_cast<int>(a.role) < static_cast<int>(b.role);
    if (a.index != b.index) return a.index < b.index;
    return a.name < b.name;
  });
  if (cs.network.empty()) cs.network = network_name(cs.name);
  for (const auto& n : cs.nodes) {
    auto net = n.labels.find(kLabelNetwork);
    if (net != n.labels.end() && !net->second.empty()) cs.network = net->second;
    auto ap = n.labels.find(kLabelApiPort);
    if (ap != n.labels.end()) {
      long long p = 0;
      if (strings::parse_int(ap->second, p)) cs.api_port = static_cast<uint16_t>(p);
      auto ah = n.labels.find(kLabelApiHost);
      if (ah != n.labels.end()) cs.api_host = ah->second;
      auto hn = n.labels.find(kLabelApiHostName);
      if (hn != n.labels.end()) cs.api_hostname = hn->second;
    }
    auto pl = n.labels.find(kLabelPorts);
    if (pl != n.labels.end()) {
      auto ports = parse_ports_label(pl->second);
      if (ports) cs.ports = *ports;
    }
  }
}

}  // namespace

Result<ClusterState> load_cluster(runtime::Runtime& rt, const std::string& name) {
  runtime::Labels filter{{kLabelCluster, name}};
  auto cs = rt.list_containers(filter, true);
  if (!cs) return cs.error().wrap("listing containers of cluster '" + name + "'");
  ClusterState st;
  st.name = name;
  for (const auto& c : *cs) {
    NodeState n;
    if (node_from_container(c, n) && n.cluster == name) st.nodes.push_back(n);
  }
  auto vols = rt.list_volumes(filter);
  if (!vols) return vols.error().wrap("listing volumes of cluster '" + name + "'");
  for (const auto& v : *vols) st.volumes.push_back(v.name);
  std::sort(st.volumes.begin(), st.volumes.end());
  finish(st);
  auto nets = rt.list_networks(filter);
  if (!nets) return nets.error().wrap("listing networks of cluster '" + name + "'");
  for (const auto& n : *nets) {
    if (st.nodes.empty() || n.name == st.network) {
      st.network = n.name;
      st.network_owned = true;
    }
  }
  if (st.nodes.empty() && st.volumes.empty() && !st.network_owned) {
    return fail("cluster '" + name + "' not found", "NotFound");
  }
  return st;
}

Result<std::vector<ClusterState>> load_clusters(runtime::Runtime& rt) {
  // Key-only filter: every container carrying k3dpp.cluster, whatever its value.
  auto cs = rt.list_containers({{kLabelCluster, ""}}, true);
  if (!cs) return cs.error().wrap("listing containers");
  std::map<std::string, ClusterState> by_name;
  for (const auto& c : *cs) {
    NodeState n;
    if (!node_from_container(c, n)) continue;
    auto& st = by_name[n.cluster];
    st.name = n.cluster;
    st.nodes.push_back(n);
  }
  std::vector<ClusterState> out;
  for (auto& [_, st] : by_name) {
    finish(st);
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace k3dpp::cluster
