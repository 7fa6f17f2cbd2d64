#include "cluster/parse.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/strings.h"

namespace k3dpp::cluster {
namespace {

Unexpected<Error> invalid(const std::string& msg) { return fail(msg, "Invalid"); }

Status validate_dns_label(const std::string& what, const std::string& name, size_t max_len) {
  if (name.empty()) return invalid(what + " must not be empty");
  if (name.size() > max_len) {
    return invalid(what + " '" + name + "' is too long (" + std::to_string(name.size()) +
                   " > " + std::to_string(max_len) + " characters)");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) {
      return invalid(what + " '" + name +
                     "' is not a valid DNS-1123 label: only lower-case letters, digits and '-' are allowed");
    }
  }
  if (name.front() == '-' || name.back() == '-') {
    return invalid(what + " '" + name + "' is not a valid DNS-1123 label: it must start and end with a letter or digit");
  }
  return {};
}

Result<uint16_t> parse_port_number(const std::string& what, const std::string& s) {
  long long v = 0;
  if (!strings::parse_int(s, v)) return invalid(what + " '" + s + "' is not a number");
  if (v < 1 || v > 65535) return invalid(what + " " + s + " is out of range (1-65535)");
  return static_cast<uint16_t>(v);
}

bool is_ip_like(const std::string& s) {
  if (s.empty()) return false;
  if (s == "localhost") return true;
  int dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  if (dots != 3) return false;
  for (const auto& part : strings::split(s, '.')) {
    long long v = 0;
    if (!strings::parse_int(part, v) || v < 0 || v > 255) return false;
  }
  return true;
}

Result<std::vector<NodeFilter>> parse_filters_after_at(const std::string& text, size_t at,
                                                       const std::string& dflt) {
  std::vector<NodeFilter> out;
  std::string ftxt = at == std::string::npos ? dflt : text.substr(at + 1);
  if (ftxt.empty()) return invalid("empty node filter in '" + text + "'");
  // k3d allows several filters separated by ';' inside one flag value.
  for (const auto& part : strings::split(ftxt, ';')) {
    auto f = parse_node_filter(part);
    if (!f) return invalid("'" + text + "': " + f.error().message);
    out.push_back(*f);
  }
  return out;
}

}  // namespace

Status validate_cluster_name(const std::string& name) {
  return validate_dns_label("cluster name", name, kMaxClusterNameLength);
}

// Containers are k3dpp-NAME-N and their hostname must stay within 63 characters.
Status validate_node_name(const std::string& name) { return validate_dns_label("node name", name, 50); }

Result<NodeFilter> parse_node_filter(const std::string& text) {
  NodeFilter f;
  f.text = text;
  auto parts = strings::split(text, ':');
  if (parts.size() > 3) return invalid("invalid node filter '" + text + "': expected GROUP[:SUBSET[:SUFFIX]]");
  std::string group = parts[0];
  if (group == "server" || group == "servers") {
    f.group = "server";
  } else if (group == "agent" || group == "agents") {
    f.group = "agent";
  } else if (group == "loadbalancer" || group == "all") {
    f.group = group;
  } else {
    return invalid("invalid node filter '" + text +
                   "': group must be one of server, servers, agent, agents, loadbalancer, all");
  }
  if (parts.size() >= 2) {
    const std::string& subset = parts[1];
    if (subset.empty()) return invalid("invalid node filter '" + text + "': empty subset");
    if (subset != "*") {
      if (f.group == "loadbalancer" || f.group == "all") {
        return invalid("invalid node filter '" + text + "': group '" + group + "' takes no index");
      }
      f.all_indices = false;
      std::set<int> idx;
      for (const auto& item : strings::split(subset, ',')) {
        auto dash = item.find('-');
        long long a = 0, b = 0;
        if (dash == std::string::npos) {
          if (!strings::parse_int(item, a) || a < 0) {
            return invalid("invalid node filter '" + text + "': '" + item + "' is not a node index");
          }
          b = a;
        } else {
          if (!strings::parse_int(item.substr(0, dash), a) || !strings::parse_int(item.substr(dash + 1), b) ||
              a < 0 || b < a) {
            return invalid("invalid node filter '" + text + "': '" + item + "' is not a valid range");
          }
        }
        if (b - a > 1000) return invalid("invalid node filter '" + text + "': range too large");
        for (long long i = a; i <= b; ++i) idx.insert(static_cast<int>(i));
      }
      f.indices.assign(idx.begin(), idx.end());
    }
  }
  if (parts.size() == 3) {
    if (parts[2] != "direct" && parts[2] != "proxy") {
      return invalid("invalid node filter '" + text + "': suffix must be 'direct' or 'proxy'");
    }
    f.suffix = parts[2];
  }
  return f;
}

Result<PortMapping> parse_port_mapping(const std::string& text) {
  PortMapping pm;
  pm.text = text;
  if (text.empty()) return invalid("empty port mapping");
  auto at = text.find('@');
  std::string spec = text.substr(0, at);
  auto filters = parse_filters_after_at(text, at, "loadbalancer");
  if (!filters) return filters.error();
  pm.filters = *filters;

  auto slash = spec.find('/');
  if (slash != std::string::npos) {
    pm.protocol = strings::to_lower(spec.substr(slash + 1));
    spec = spec.substr(0, slash);
    if (pm.protocol != "tcp" && pm.protocol != "udp") {
      return invalid("invalid port mapping '" + text + "': protocol must be tcp or udp");
    }
  }
  auto parts = strings::split(spec, ':');
  if (parts.size() > 3) {
    return invalid("invalid port mapping '" + text + "': expected [HOST:][HOSTPORT:]CONTAINERPORT[/PROTOCOL][@NODEFILTER]");
  }
  for (const auto& p : parts) {
    if (p.find('-') != std::string::npos && !p.empty() && std::isdigit(static_cast<unsigned char>(p[0]))) {
      return invalid("invalid port mapping '" + text + "': port ranges are not supported");
    }
  }
  auto cport = parse_port_number("container port", parts.back());
  if (!cport) return invalid("invalid port mapping '" + text + "': " + cport.error().message);
  pm.container_port = *cport;
  if (parts.size() == 2) {
    if (is_ip_like(parts[0])) {
      pm.host_ip = parts[0];
    } else {
      auto hp = parse_port_number("host port", parts[0]);
      if (!hp) return invalid("invalid port mapping '" + text + "': " + hp.error().message);
      pm.host_port = *hp;
    }
  } else if (parts.size() == 3) {
    if (!parts[0].empty() && !is_ip_like(parts[0])) {
      return invalid("invalid port mapping '" + text + "': '" + parts[0] + "' is not an IPv4 address");
    }
    pm.host_ip = parts[0];
    if (!parts[1].empty()) {
      auto hp = parse_port_number("host port", parts[1]);
      if (!hp) return invalid("invalid port mapping '" + text + "': " + hp.error().message);
      pm.host_port = *hp;
    }
  }
  if (pm.host_ip == "localhost") pm.host_ip = "127.0.0.1";
  return pm;
}

Result<ApiPort> parse_api_port(const std::string& text) {
  ApiPort ap;
  if (text.empty()) return invalid("empty --api-port");
  auto parts = strings::split(text, ':');
  if (parts.size() > 2) return invalid("invalid --api-port '" + text + "': expected [HOST:]PORT");
  if (parts.size() == 2) {
    if (!is_ip_like(parts[0])) return invalid("invalid --api-port '" + text + "': '" + parts[0] + "' is not an IPv4 address");
    ap.host_ip = parts[0] == "localhost" ? "127.0.0.1" : parts[0];
  }
  auto p = parse_port_number("API port", parts.back());
  if (!p) return invalid("invalid --api-port '" + text + "': " + p.error().message);
  ap.host_port = *p;
  return ap;
}

Result<VolumeMount> parse_volume(const std::string& text) {
  VolumeMount v;
  v.text = text;
  auto at = text.find('@');
  std::string spec = text.substr(0, at);
  auto filters = parse_filters_after_at(text, at, "all");
  if (!filters) return filters.error();
  v.filters = *filters;
  auto parts = strings::split(spec, ':');
  if (parts.size() < 2 || parts.size() > 3) {
    return invalid("invalid volume '" + text + "': expected HOSTPATH:NODEPATH[:ro|rw][@NODEFILTER]");
  }
  v.host_path = parts[0];
  v.node_path = parts[1];
  if (parts.size() == 3) {
    if (parts[2] != "ro" && parts[2] != "rw") return invalid("invalid volume '" + text + "': mode must be ro or rw");
    v.mode = parts[2];
  }
  if (v.host_path.empty() || v.host_path[0] != '/') {
    return invalid("invalid volume '" + text + "': host path must be absolute");
  }
  if (v.node_path.empty() || v.node_path[0] != '/') {
    return invalid("invalid volume '" + text + "': node path must be absolute");
  }
  return v;
}

Result<std::vector<std::string>> resolve_filter(const NodeFilter& filter, const std::vector<FilterNode>& nodes) {
  std::vector<std::string> out;
  int servers = 0, agents = 0;
  for (const auto& n : nodes) {
    if (n.role == Role::kServer) ++servers;
    if (n.role == Role::kAgent) ++agents;
  }
  for (const auto& n : nodes) {
    bool match = false;
    if (filter.group == "all") {
      match = true;
    } else if (filter.group == "loadbalancer") {
      match = n.role == Role::kLoadBalancer;
    } else {
      Role want = filter.group == "server" ? Role::kServer : Role::kAgent;
      match = n.role == want &&
              (filter.all_indices ||
               std::binary_search(filter.indices.begin(), filter.indices.end(), n.index));
    }
    if (match) out.push_back(n.name);
  }
  if (out.empty()) {
    return invalid("node filter '" + filter.text + "' matches no node (cluster has " + std::to_string(servers) +
                   " server(s), " + std::to_string(agents) + " agent(s))");
  }
  // An index list naming nodes that do not exist is an error too (k3d: "index out of range").
  if (!filter.all_indices && out.size() != filter.indices.size()) {
    return invalid("node filter '" + filter.text + "' names a node that does not exist (cluster has " +
                   std::to_string(servers) + " server(s), " + std::to_string(agents) + " agent(s))");
  }
  return out;
}

Result<ResolvedPort> resolve_port(const PortMapping& pm, const std::vector<FilterNode>& nodes, bool has_lb) {
  ResolvedPort rp;
  rp.host_ip = pm.host_ip;
  rp.host_port = pm.host_port;
  rp.container_port = pm.container_port;
  rp.protocol = pm.protocol;
  rp.text = pm.text;
  std::vector<std::string> names;
  for (const auto& f : pm.filters) {
    if (f.suffix == "direct") rp.direct = true;
    if (f.group == "loadbalancer" || f.group == "all") {
      if (f.group == "loadbalancer" && !has_lb) {
        return invalid("port mapping '" + pm.text + "': node filter 'loadbalancer' matches no node (cluster has no load balancer)");
      }
      if (f.suffix == "direct") {
        return invalid("port mapping '" + pm.text + "': suffix 'direct' needs a server or agent filter");
      }
      // k3d v5: a port on the load balancer is forwarded to every server and agent.
      for (const auto& n : nodes) {
        if (n.role != Role::kLoadBalancer) names.push_back(n.name);
      }
      continue;
    }
    auto r = resolve_filter(f, nodes);
    if (!r) return invalid("port mapping '" + pm.text + "': " + r.error().message);
    names.insert(names.end(), r->begin(), r->end());
  }
  if (!rp.direct && !has_lb) {
    return invalid("port mapping '" + pm.text + "' needs the load balancer (or the ':direct' suffix)");
  }
  for (const auto& n : names) {
    if (std::find(rp.nodes.begin(), rp.nodes.end(), n) == rp.nodes.end()) rp.nodes.push_back(n);
  }
  if (rp.nodes.empty()) return invalid("port mapping '" + pm.text + "': node filter matches no node");
  if (rp.direct && rp.nodes.size() > 1 && rp.host_port != 0) {
    return invalid("port mapping '" + pm.text + "': a fixed host port can be published directly on one node only");
  }
  return rp;
}

}  // namespace k3dpp::cluster
