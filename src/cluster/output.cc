#include "cluster/output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cluster/translate.h"

namespace k3dpp::cluster {
namespace {

using nlohmann::json;
using ordered = nlohmann::ordered_json;

std::string host_of(const std::string& ip, uint16_t port) {
  return (ip.empty() ? "0.0.0.0" : ip) + ":" + std::to_string(port);
}

// docker's "-p" summary of one binding: 127.0.0.1:41000->6443/tcp.
std::string binding_text(const runtime::PortBinding& p) {
  return host_of(p.host_ip, p.host_port) + "->" + std::to_string(p.container_port) + "/" + p.protocol;
}

ordered port_map(const std::vector<runtime::PortBinding>& ports) {
  ordered m = ordered::object();
  for (const auto& p : ports) {
    std::string key = std::to_string(p.container_port) + "/" + p.protocol;
    if (!m.contains(key)) m[key] = ordered::array();
    m[key].push_back({{"HostIp", p.host_ip}, {"HostPort", p.host_port ? std::to_string(p.host_port) : ""}});
  }
  return m;
}

// Docker's memory notation for a byte count: 1g, 512m, 1536k, or bytes.
std::string memory_text(int64_t bytes) {
  if (bytes <= 0) return "";
  const std::pair<int64_t, const char*> units[] = {{1LL << 30, "g"}, {1LL << 20, "m"}, {1LL << 10, "k"}};
  for (const auto& [size, suffix] : units) {
    if (bytes % size == 0) return std::to_string(bytes / size) + suffix;
  }
  return std::to_string(bytes);
}

ordered node_object(const NodeState& n) {
  ordered o = ordered::object();
  o["name"] = n.name;
  o["role"] = role_name(n.role);
  o["image"] = n.image;
  if (!n.ports.empty()) o["portMappings"] = port_map(n.ports);
  o["runtimeLabels"] = ordered::object();
  for (const auto& [k, v] : n.labels) o["runtimeLabels"][k] = v;
  ordered nets = ordered::array();
  for (const auto& [net, _] : n.ips) nets.push_back(net);
  o["Networks"] = nets;
  o["Memory"] = memory_text(n.memory);
  o["State"] = {{"Running", n.running}, {"Status", n.state}, {"Started", ""}};
  std::string ip;
  if (auto it = n.labels.find(kLabelNetwork); it != n.labels.end() && n.ips.count(it->second)) {
    ip = n.ips.at(it->second);
  } else if (!n.ips.empty()) {
    ip = n.ips.begin()->second;
  }
  o["IP"] = {{"IP", ip}, {"Static", false}};
  return o;
}

}  // namespace

std::string render_table(const std::vector<std::vector<std::string>>& rows) {
  size_t cols = 0;
  for (const auto& r : rows) cols = std::max(cols, r.size());
  std::vector<size_t> width(cols, 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string render_node_json(const std::vector<NodeState>& nodes) {
  ordered arr = ordered::array();
  for (const auto& n : nodes) arr.push_back(node_object(n));
  return arr.dump(2) + "\n";
}

std::string render_node_table(const std::vector<NodeState>& nodes, bool wide) {
  std::vector<std::vector<std::string>> rows{{"NAME", "ROLE", "CLUSTER", "STATUS"}};
  if (wide) rows[0].insert(rows[0].end(), {"IMAGE", "IP", "PORTS", "MEMORY"});
  for (const auto& n : nodes) {
    std::vector<std::string> row{n.name, role_name(n.role), n.cluster, n.state};
    if (wide) {
      std::string ip;
      for (const auto& [_, addr] : n.ips) ip += (ip.empty() ? "" : ",") + addr;
      std::string ports;
      for (const auto& p : n.ports) ports += (ports.empty() ? "" : ",") + binding_text(p);
      std::string mem = memory_text(n.memory);
      row.insert(row.end(), {n.image, ip.empty() ? "-" : ip, ports.empty() ? "-" : ports, mem.empty() ? "-" : mem});
    }
    rows.push_back(row);
  }
  return render_table(rows);
}

std::string render_cluster_json(const std::vector<ClusterState>& clusters) {
  ordered arr = ordered::array();
  for (const auto& c : clusters) {
    ordered o = ordered::object();
    o["name"] = c.name;
    o["network"] = {{"name", c.network}, {"id", ""}, {"isExternal", !c.network_owned}};
    ordered nodes = ordered::array();
    for (const auto& n : c.nodes) nodes.push_back(node_object(n));
    o["nodes"] = nodes;
    if (c.api_port) {
      o["kubeAPI"] = {{"Port", std::to_string(kApiContainerPort) + "/tcp"},
                      {"Binding", {{"HostIp", c.api_host}, {"HostPort", std::to_string(c.api_port)}}},
                      {"host", c.api_host}};
    }
    if (const NodeState* lb = c.lb()) {
      ordered ports = ordered::object();
      ports[std::to_string(kApiContainerPort) + ".tcp"] = c.names(Role::kServer);
      for (const auto& p : c.ports) {
        if (p.direct) continue;
        std::string key = std::to_string(p.container_port) + "." + p.protocol;
        if (!ports.contains(key)) ports[key] = ordered::array();
        for (const auto& up : p.nodes) {
          if (std::find(ports[key].begin(), ports[key].end(), up) == ports[key].end()) ports[key].push_back(up);
        }
      }
      o["serverLoadBalancer"] = {{"node", node_object(*lb)}, {"config", {{"ports", ports}}}};
    }
    if (!c.volumes.empty()) o["volumes"] = c.volumes;
    o["serversRunning"] = c.count(Role::kServer, true);
    o["serversCount"] = c.count(Role::kServer, false);
    o["agentsRunning"] = c.count(Role::kAgent, true);
    o["agentsCount"] = c.count(Role::kAgent, false);
    if (c.lb()) o["hasLoadbalancer"] = true;
    arr.push_back(o);
  }
  return arr.dump(2) + "\n";
}

std::string render_cluster_table(const std::vector<ClusterState>& clusters, bool wide) {
  std::vector<std::vector<std::string>> rows{{"NAME", "SERVERS", "AGENTS", "LOADBALANCER"}};
  if (wide) rows[0].insert(rows[0].end(), {"NETWORK", "API", "PORTS"});
  for (const auto& c : clusters) {
    auto frac = [&](Role r) { return std::to_string(c.count(r, true)) + "/" + std::to_string(c.count(r, false)); };
    std::vector<std::string> row{c.name, frac(Role::kServer), frac(Role::kAgent), c.lb() ? "true" : "false"};
    if (wide) {
      std::string ports;
      for (const auto& p : c.ports) {
        ports += (ports.empty() ? "" : ",") + host_of(p.host_ip, p.host_port) + "->" + std::to_string(p.container_port) +
                 "/" + p.protocol;
      }
      row.insert(row.end(), {c.network, c.api_port ? host_of(c.api_host, c.api_port) : "-", ports.empty() ? "-" : ports});
    }
    rows.push_back(row);
  }
  return render_table(rows);
}

std::string render_registry_json(const std::vector<RegistryState>& registries) {
  ordered arr = ordered::array();
  for (const auto& r : registries) {
    ordered o = ordered::object();
    o["name"] = r.name;
    o["role"] = kRoleRegistry;
    o["image"] = r.image;
    o["portMappings"] = port_map({{r.host_ip, r.host_port, kRegistryPort, "tcp"}});
    o["runtimeLabels"] = ordered::object();
    if (!r.cluster.empty()) o["runtimeLabels"][kLabelCluster] = r.cluster;
    o["Networks"] = r.networks;
    o["State"] = {{"Running", r.running}, {"Status", r.state}, {"Started", ""}};
    arr.push_back(o);
  }
  return arr.dump(2) + "\n";
}

std::string render_registry_table(const std::vector<RegistryState>& registries, bool wide) {
  std::vector<std::vector<std::string>> rows{{"NAME", "ROLE", "CLUSTER", "STATUS", "HOST"}};
  if (wide) rows[0].insert(rows[0].end(), {"IMAGE", "NETWORKS"});
  for (const auto& r : registries) {
    std::string host = r.host_port ? host_of(r.host_ip, r.host_port) : "";
    std::vector<std::string> row{r.name, kRoleRegistry, r.cluster, r.state, host};
    if (wide) {
      std::string nets;
      for (const auto& n : r.networks) nets += (nets.empty() ? "" : ",") + n;
      if (host.empty()) row.back() = "-";
      if (r.cluster.empty()) row[2] = "-";
      row.insert(row.end(), {r.image, nets.empty() ? "-" : nets});
    }
    rows.push_back(row);
  }
  return render_table(rows);
}

namespace {
void emit(YAML::Emitter& out, const ordered& j) {
  if (j.is_object()) {
    if (j.empty()) {
      out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
      return;
    }
    out << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      out << YAML::Key << it.key() << YAML::Value;
      emit(out, *it);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    if (j.empty()) {
      out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    out << YAML::BeginSeq;
    for (const auto& e : j) emit(out, e);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    // Quote strings YAML would read back as something else ("", "true", "6443", "null").
    const auto& s = j.get_ref<const std::string&>();
    YAML::Node probe;
    bool plain_ok = !s.empty();
    if (plain_ok) {
      try {
        probe = YAML::Load(s);
        plain_ok = probe.IsScalar() && probe.Scalar() == s && probe.Tag() == "?";
        if (plain_ok) {
          bool b;
          long long n;
          double d;
          plain_ok = !YAML::convert<bool>::decode(probe, b) && !YAML::convert<long long>::decode(probe, n) &&
                     !YAML::convert<double>::decode(probe, d) && s != "null" && s != "~";
        }
      } catch (const YAML::Exception&) {
        plain_ok = false;
      }
    }
    if (plain_ok) {
      out << s;
    } else {
      out << YAML::DoubleQuoted << s;
    }
  } else if (j.is_boolean()) {
    out << (j.get<bool>() ? "true" : "false");
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << j.dump();
  }
}
}  // namespace

Result<std::string> json_to_yaml(const std::string& text) {
  try {
    auto j = ordered::parse(text);
    YAML::Emitter out;
    emit(out, j);
    if (!out.good()) return fail("cannot render YAML: " + out.GetLastError(), "Invalid");
    return std::string(out.c_str()) + "\n";
  } catch (const std::exception& e) {
    return fail(std::string("cannot render YAML: ") + e.what(), "Invalid");
  }
}

}  // namespace k3dpp::cluster
