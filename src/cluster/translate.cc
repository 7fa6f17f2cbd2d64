#include "cluster/translate.h"

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cluster/parse.h"
#include "common/strings.h"

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
  if (!api.host.empty()) s.labels[kLabelApiHostName] = api.host;
  s.ports.push_back({api.host_ip, api.host_port, kApiContainerPort, "tcp"});
  for (const auto& p : proxied) s.ports.push_back({p.host_ip, p.host_port, p.container_port, p.protocol});
  s.restart_policy = "unless-stopped";
  return s;
}

int lb_worker_connections(const runtime::Labels& lb_labels) {
  auto it = lb_labels.find(kLabelLbWorkerConnections);
  long long n = 0;
  if (it == lb_labels.end() || !strings::parse_int(it->second, n) || n < 1 || n > 65535) return 0;
  return static_cast<int>(n);
}

std::string render_ports_json(const std::vector<std::string>& servers, const std::vector<ResolvedPort>& ports,
                              const std::vector<std::string>& existing, int worker_connections) {
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
  if (worker_connections > 0) doc["settings"] = {{"workerConnections", worker_connections}};
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

Result<std::map<std::string, NodeExtras>> node_extras(const ClusterSpec& spec, const std::vector<FilterNode>& nodes) {
  std::map<std::string, NodeExtras> out;
  std::map<std::string, Role> role_of;
  for (const auto& n : nodes) {
    out[n.name];
    role_of[n.name] = n.role;
  }
  auto each = [&](const std::vector<FilteredValue>& values, const std::string& what,
                  const std::function<Status(const std::string&, Role, const FilteredValue&)>& fn) -> Status {
    for (const auto& fv : values) {
      std::set<std::string> hit;
      for (const auto& f : fv.filters) {
        auto names = resolve_filter(f, nodes);
        if (!names) return names.error().wrap(what + " '" + fv.text + "'");
        for (const auto& n : *names) {
          if (hit.insert(n).second) K3DPP_TRY(fn(n, role_of[n], fv));
        }
      }
    }
    return {};
  };
  K3DPP_TRY(each(spec.env, "env", [&](const std::string& n, Role, const FilteredValue& fv) -> Status {
    out[n].env.push_back(fv.value);
    return {};
  }));
  K3DPP_TRY(each(spec.runtime_labels, "runtime label", [&](const std::string& n, Role, const FilteredValue& fv) -> Status {
    auto eq = fv.value.find('=');
    std::string key = fv.value.substr(0, eq);
    if (key.rfind("k3dpp.", 0) == 0) {
      return fail("runtime label '" + fv.text + "': labels k3dpp.* belong to k3dpp", "Invalid");
    }
    out[n].runtime_labels[key] = eq == std::string::npos ? "" : fv.value.substr(eq + 1);
    return {};
  }));
  auto node_only = [&](const std::string& prefix) {
    return [&, prefix](const std::string& n, Role r, const FilteredValue& fv) -> Status {
      if (r == Role::kLoadBalancer) {
        out[n].warnings.push_back("'" + fv.text + "' does not apply to the load balancer " + n + " (not a Kubernetes node)");
        return {};
      }
      std::string arg = prefix.empty() ? fv.value : prefix + fv.value;
      if (r == Role::kAgent && arg.rfind("--tls-san", 0) == 0) {
        return fail("'" + fv.text + "': --tls-san is a server flag; filter it to servers (@server:*)", "Invalid");
      }
      out[n].node_args.push_back(arg);
      return {};
    };
  };
  K3DPP_TRY(each(spec.node_labels, "node label", node_only("--node-label=")));
  K3DPP_TRY(each(spec.node_args, "k3s arg", node_only("")));
  for (auto& [name, e] : out) {
    if (role_of[name] == Role::kServer) e.memory = spec.servers_memory;
    if (role_of[name] == Role::kAgent) e.memory = spec.agents_memory;
  }
  return out;
}

void apply_extras(runtime::ContainerSpec& cs, const NodeExtras& extras, const ClusterSpec& spec) {
  bool node = cs.labels.count(kLabelRole) && cs.labels.at(kLabelRole) != role_name(Role::kLoadBalancer);
  cs.env.insert(cs.env.end(), extras.env.begin(), extras.env.end());
  for (const auto& [k, v] : extras.runtime_labels) cs.labels[k] = v;
  if (node) {
    cs.cmd.insert(cs.cmd.end(), extras.node_args.begin(), extras.node_args.end());
    cs.memory = extras.memory;
    for (const auto& [name, limits] : spec.ulimits) {
      bool replaced = false;
      for (auto& u : cs.ulimits) {
        if (u.name == name) {
          u.soft = limits.first;
          u.hard = limits.second;
          replaced = true;
        }
      }
      if (!replaced) cs.ulimits.push_back({name, limits.first, limits.second});
    }
  }
  for (const auto& ha : spec.host_aliases) {
    for (const auto& h : ha.hostnames) cs.extra_hosts.push_back(h + ":" + ha.ip);
  }
}

Result<MappedK3sArg> map_k3s_arg(const std::string& arg) {
  MappedK3sArg m;
  auto eq = arg.find('=');
  std::string name = arg.substr(0, eq);
  std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
  const std::string mapped =
      " (k3dpp maps --tls-san, --node-label, --node-taint, --flannel-backend=vxlan|host-gw, "
      "--disable=traefik|ingress|metrics-server)";
  if (name.rfind("--", 0) != 0) {
    return fail("k3s arg '" + arg + "': expected --flag[=value]" + mapped, "Invalid");
  }
  if (name == "--tls-san" || name == "--node-label" || name == "--node-taint") {
    if (value.empty()) return fail("k3s arg '" + arg + "': " + name + " needs a value (" + name + "=VALUE)", "Invalid");
    m.node_arg = name + "=" + value;
    return m;
  }
  if (name == "--flannel-backend") {
    if (value != "vxlan" && value != "host-gw") {
      return fail("k3s arg '" + arg + "' is not supported by k3dpp: the pod network is vxlan or host-gw", "Invalid");
    }
    m.pod_network = value;
    return m;
  }
  if (name == "--disable") {
    // traefik (and k3dpp's own name, ingress) is k3dpp's bundled ingress controller:
    // k3dpp-node --disable=ingress (agents accept and ignore it: they run no ingress).
    bool ingress = false;
    for (const auto& item : strings::split(value, ',')) {
      if (item == "traefik" || item == "ingress") {
        ingress = true;
        continue;
      }
      if (item != "metrics-server") {
        return fail("k3s arg '" + arg + "' is not supported by k3dpp: '" + item +
                        "' is built into k3dpp-node and cannot be disabled (traefik/ingress turns off the bundled "
                        "ingress controller; metrics-server is accepted, k3dpp deploys none)",
                    "Invalid");
      }
    }
    if (ingress) {
      m.node_arg = "--disable=ingress";
    } else {
      m.note = "k3s arg '" + arg + "': k3dpp deploys no metrics-server; nothing to disable";
    }
    return m;
  }
  std::string why = "k3dpp-node has no equivalent";
  if (name == "--cluster-init" || name == "--server" || name == "--token" || name == "--agent-token" ||
      name == "--datastore-endpoint" || name == "--node-name" || name == "--data-dir") {
    why = "k3dpp sets it itself";
  } else if (name == "--cluster-cidr" || name == "--service-cidr" || name == "--cluster-dns" ||
             name == "--cluster-domain") {
    why = "k3dpp's networks are fixed (pods 10.42.0.0/16, services 10.43.0.0/16, DNS 10.43.0.10, cluster.local)";
  } else if (name == "--kubelet-arg" || name == "--kube-apiserver-arg" || name == "--kube-controller-manager-arg" ||
             name == "--kube-scheduler-arg" || name == "--kube-proxy-arg" || name == "--etcd-arg") {
    why = "k3dpp's components are its own and take no upstream component flags";
  }
  return fail("k3s arg '" + arg + "' is not supported by k3dpp: " + why + mapped, "Invalid");
}

}  // namespace k3dpp::cluster
