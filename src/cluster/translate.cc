#include "cluster/translate.h"

#include <map>
#include <nlohmann/json.hpp>

namespace k3dpp::cluster {

std::vector<std::string> server_command(const std::string& cluster, const std::string& node) {
  return {"server",     "--node-name",  node,           "--cluster-name", cluster,
          "--data-dir", kDataDir,       "--listen",     "0.0.0.0:6443",   "--token-file",
          kTokenPath,   "--tls-san",    lb_name(cluster), "--tls-san",      node};
}

std::vector<std::string> agent_command(const std::string& cluster, const std::string& node) {
  return {"agent", "--node-name", node, "--server",
          "https://" + node_name(cluster, Role::kServer, 0) + ":6443", "--token-file", kTokenPath};
}

runtime::ContainerSpec node_container(const NodeContext& ctx, const NodeSpec& node,
                                      const std::vector<std::string>& extra_binds,
                                      const std::vector<runtime::PortBinding>& ports) {
  runtime::ContainerSpec s;
  s.name = node.name;
  s.hostname = node.name;
  s.image = ctx.image;
  s.network = ctx.network;
  s.labels = {{kLabelCluster, ctx.cluster},
              {kLabelRole, role_name(node.role)},
              {kLabelIndex, std::to_string(node.index)},
              {kLabelVersion, ctx.version},
              {kLabelNetwork, ctx.network}};
  if (!ctx.pod_network.empty()) {
    s.labels[kLabelPodNetwork] = ctx.pod_network;
    s.env.push_back("K3DPP_POD_NETWORK=" + ctx.pod_network);
  }
  s.cmd = node.role == Role::kServer ? server_command(ctx.cluster, node.name) : agent_command(ctx.cluster, node.name);
  s.binds.push_back(containerd_volume_name(ctx.cluster, node.name) + ":/var/lib/containerd");
  s.binds.insert(s.binds.end(), extra_binds.begin(), extra_binds.end());
  s.tmpfs = {{"/run", ""}, {"/tmp", ""}};
  s.cap_add = {"ALL"};
  s.cap_drop = {"SYS_RESOURCE"};
  s.security_opt = {"seccomp=unconfined", "apparmor=unconfined"};
  s.sysctls = {{"net.ipv4.ip_forward", "1"}};
  s.ulimits = {{"nofile", 20000, 20000}, {"nproc", 32768, 32768}};
  s.ports = ports;
  s.init = true;
  s.restart_policy = "unless-stopped";
  return s;
}

void apply_ha(runtime::ContainerSpec& s, const NodeSpec& node, const HaContext& ha) {
  if (ha.ha && node.role == Role::kServer) {
    s.labels[kLabelEtcd] = "true";
    s.cmd.insert(s.cmd.end(), {"--advertise-address", node.name, "--server-token-file", kServerTokenPath});
    if (node.index == 0 && ha.join_url.empty()) {
      s.cmd.push_back("--cluster-init");
    } else {
      s.cmd.insert(s.cmd.end(), {"--server", ha.join_url});
    }
  }
  if (node.role == Role::kAgent && !ha.agent_server_url.empty()) {
    for (size_t i = 0; i + 1 < s.cmd.size(); ++i)
      if (s.cmd[i] == "--server") s.cmd[i + 1] = ha.agent_server_url;
  }
}

runtime::ContainerSpec lb_container(const NodeContext& ctx, const ApiPort& api, const std::vector<ResolvedPort>& ports) {
  runtime::ContainerSpec s;
  s.name = lb_name(ctx.cluster);
  s.hostname = s.name;
  s.image = ctx.image;
  s.network = ctx.network;
  std::vector<ResolvedPort> proxied;
  for (const auto& p : ports) {
    if (!p.direct) proxied.push_back(p);
  }
  s.labels = {{kLabelCluster, ctx.cluster},
              {kLabelRole, role_name(Role::kLoadBalancer)},
              {kLabelIndex, "0"},
              {kLabelVersion, ctx.version},
              {kLabelNetwork, ctx.network},
              {kLabelApiHost, api.host_ip},
              {kLabelApiPort, std::to_string(api.host_port)},
              {kLabelPorts, ports_label(proxied)}};
  s.ports.push_back({api.host_ip, api.host_port, kApiContainerPort, "tcp"});
  for (const auto& p : proxied) s.ports.push_back({p.host_ip, p.host_port, p.container_port, p.protocol});
  s.restart_policy = "unless-stopped";
  return s;
}

std::string render_ports_json(const std::vector<std::string>& servers, const std::vector<ResolvedPort>& ports,
                              const std::vector<std::string>& existing) {
  auto keep = [&](const std::string& n) {
    if (existing.empty()) return true;
    for (const auto& e : existing) {
      if (e == n) return true;
    }
    return false;
  };
  // Ordered by first appearance: 6443/tcp first, then the mappings in the order given.
  std::vector<std::pair<uint16_t, std::string>> order;
  std::map<std::pair<uint16_t, std::string>, std::vector<std::string>> upstreams;
  auto add = [&](uint16_t port, const std::string& proto, const std::string& node) {
    auto key = std::make_pair(port, proto);
    if (!upstreams.count(key)) order.push_back(key);
    auto& v = upstreams[key];
    std::string up = node + ":" + std::to_string(port);
    if (!keep(node)) return;
    for (const auto& u : v) {
      if (u == up) return;
    }
    v.push_back(up);
  };
  for (const auto& s : servers) add(kApiContainerPort, "tcp", s);
  for (const auto& p : ports) {
    if (p.direct) continue;
    for (const auto& n : p.nodes) add(p.container_port, p.protocol, n);
  }
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& key : order) {
    const auto& ups = upstreams[key];
    if (ups.empty()) continue;
    arr.push_back({{"listen", key.first}, {"protocol", key.second}, {"upstreams", ups}});
  }
  nlohmann::json doc = {{"ports", arr}};
  return doc.dump() + "\n";
}

std::string ports_label(const std::vector<ResolvedPort>& ports) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& p : ports) {
    nlohmann::json j = {{"hostIP", p.host_ip},       {"hostPort", p.host_port}, {"port", p.container_port},
                        {"protocol", p.protocol},    {"nodes", p.nodes},        {"spec", p.text}};
    if (p.direct) j["direct"] = true;
    arr.push_back(j);
  }
  return arr.dump();
}

Result<std::vector<ResolvedPort>> parse_ports_label(const std::string& json) {
  std::vector<ResolvedPort> out;
  if (json.empty()) return out;
  try {
    auto arr = nlohmann::json::parse(json);
    if (!arr.is_array()) return fail("k3dpp.ports label is not a JSON array", "Invalid");
    for (const auto& j : arr) {
      ResolvedPort p;
      p.host_ip = j.value("hostIP", "");
      p.host_port = j.value("hostPort", static_cast<uint16_t>(0));
      p.container_port = j.value("port", static_cast<uint16_t>(0));
      p.protocol = j.value("protocol", "tcp");
      p.nodes = j.value("nodes", std::vector<std::string>{});
      p.direct = j.value("direct", false);
      p.text = j.value("spec", "");
      out.push_back(p);
    }
  } catch (const std::exception& e) {
    return fail(std::string("cannot parse k3dpp.ports label: ") + e.what(), "Invalid");
  }
  return out;
}

Status check_lb_port_conflicts(const std::vector<ResolvedPort>& ports) {
  for (const auto& p : ports) {
    if (!p.direct && p.container_port == kApiContainerPort && p.protocol == "tcp") {
      return fail("port mapping '" + p.text + "': port 6443/tcp of the load balancer is reserved for the API server "
                  "(use --api-port)", "Invalid");
    }
  }
  return {};
}

}  // namespace k3dpp::cluster
