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
  if (parts.size() > 3 || spec.empty()) {
    return invalid("invalid volume '" + text + "': expected [SOURCE:]DEST[:ro|rw][@NODEFILTER]");
  }
  // DEST, DEST:MODE, SOURCE:DEST, SOURCE:DEST:MODE (DEST is absolute, a mode is ro or rw).
  auto is_mode = [](const std::string& s) { return s == "ro" || s == "rw"; };
  if (parts.size() == 3) {
    v.host_path = parts[0];
    v.node_path = parts[1];
    v.mode = parts[2];
    if (!is_mode(v.mode)) return invalid("invalid volume '" + text + "': mode must be ro or rw");
  } else if (parts.size() == 2 && is_mode(parts[1])) {
    v.node_path = parts[0];
    v.mode = parts[1];
  } else if (parts.size() == 2) {
    v.host_path = parts[0];
    v.node_path = parts[1];
  } else {
    v.node_path = parts[0];
  }
  if (v.node_path.empty() || v.node_path[0] != '/') {
    return invalid("invalid volume '" + text + "': node path must be absolute");
  }
  if (parts.size() >= 2 && !is_mode(parts[1]) && v.host_path.empty()) {
    return invalid("invalid volume '" + text + "': empty source");
  }
  if (!v.host_path.empty() && v.host_path.find('/') == std::string::npos) {
    // A named volume: docker's rule for names.
    bool ok = std::isalnum(static_cast<unsigned char>(v.host_path[0])) != 0;
    for (char c : v.host_path) {
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-');
    }
    if (!ok) return invalid("invalid volume '" + text + "': '" + v.host_path + "' is neither a path nor a volume name");
  }
  return v;
}

Result<std::vector<PortMapping>> parse_port_mappings(const std::string& text) {
  auto at = text.find('@');
  std::string spec = text.substr(0, at);
  std::string tail = at == std::string::npos ? "" : text.substr(at);
  std::string proto;
  if (auto slash = spec.find('/'); slash != std::string::npos) {
    proto = spec.substr(slash);
    spec = spec.substr(0, slash);
  }
  auto parts = strings::split(spec, ':');
  auto is_range = [](const std::string& p) {
    return p.find('-') != std::string::npos && !p.empty() && std::isdigit(static_cast<unsigned char>(p[0]));
  };
  if (parts.empty() || std::none_of(parts.begin(), parts.end(), is_range)) {
    auto one = parse_port_mapping(text);
    if (!one) return one.error();
    return std::vector<PortMapping>{*one};
  }
  auto range = [&](const std::string& p, long long& lo, long long& hi) -> Status {
    auto dash = p.find('-');
    if (dash == std::string::npos) {
      if (!strings::parse_int(p, lo)) return invalid("invalid port mapping '" + text + "': '" + p + "' is not a port");
      hi = lo;
      return {};
    }
    if (!strings::parse_int(p.substr(0, dash), lo) || !strings::parse_int(p.substr(dash + 1), hi) || lo < 1 ||
        hi > 65535 || hi < lo) {
      return invalid("invalid port mapping '" + text + "': '" + p + "' is not a port range (LOW-HIGH)");
    }
    return {};
  };
  long long clo = 0, chi = 0, hlo = 0, hhi = 0;
  K3DPP_TRY(range(parts.back(), clo, chi));
  std::string ip;
  bool host_given = false;
  if (parts.size() == 2 && !is_ip_like(parts[0])) {
    host_given = true;
    K3DPP_TRY(range(parts[0], hlo, hhi));
  } else if (parts.size() == 2) {
    ip = parts[0];
  } else if (parts.size() == 3) {
    ip = parts[0];
    if (!parts[1].empty()) {
      host_given = true;
      K3DPP_TRY(range(parts[1], hlo, hhi));
    }
  } else if (parts.size() > 3) {
    return invalid("invalid port mapping '" + text + "': expected [HOST:][HOSTPORT:]CONTAINERPORT[/PROTOCOL][@NODEFILTER]");
  }
  if (host_given && hhi - hlo != chi - clo) {
    return invalid("invalid port mapping '" + text + "': host and container port ranges differ in size");
  }
  if (chi - clo >= 1000) return invalid("invalid port mapping '" + text + "': a range may hold at most 1000 ports");
  std::vector<PortMapping> out;
  for (long long i = 0; i <= chi - clo; ++i) {
    std::string one = (ip.empty() && parts.size() < 3 ? "" : ip + ":") +
                      (host_given ? std::to_string(hlo + i) + ":" : (parts.size() == 3 ? ":" : "")) +
                      std::to_string(clo + i) + proto + tail;
    auto pm = parse_port_mapping(one);
    if (!pm) return pm.error();
    pm->text = one;
    out.push_back(*pm);
  }
  return out;
}

Result<FilteredValue> parse_filtered(const std::string& text, const std::string& default_filter, const std::string& what) {
  FilteredValue fv;
  fv.text = text;
  auto at = text.rfind('@');
  fv.value = text.substr(0, at);
  if (fv.value.empty()) return invalid("invalid " + what + " '" + text + "': empty value");
  auto filters = parse_filters_after_at(text, at, default_filter);
  if (!filters) return invalid("invalid " + what + " " + filters.error().message);
  fv.filters = *filters;
  return fv;
}

namespace {
// A DNS-1123 subdomain (label prefixes) or a label name (63 chars: alnum, '-', '_', '.').
bool valid_label_name(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  if (!std::isalnum(static_cast<unsigned char>(s.front())) || !std::isalnum(static_cast<unsigned char>(s.back())))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
}
}  // namespace

Status validate_label(const std::string& kv, const std::string& what) {
  auto eq = kv.find('=');
  std::string key = kv.substr(0, eq);
  std::string value = eq == std::string::npos ? "" : kv.substr(eq + 1);
  std::string name = key;
  if (auto slash = key.find('/'); slash != std::string::npos) {
    std::string prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (!valid_label_name(prefix, 253)) return invalid("invalid " + what + " '" + kv + "': bad prefix '" + prefix + "'");
  }
  if (!valid_label_name(name, 63)) {
    return invalid("invalid " + what + " '" + kv +
                   "': a key is [prefix/]name, name up to 63 letters, digits, '-', '_' or '.', starting and ending "
                   "with a letter or digit");
  }
  if (!value.empty() && !valid_label_name(value, 63)) {
    return invalid("invalid " + what + " '" + kv + "': bad value '" + value + "'");
  }
  return {};
}

Status validate_env(const std::string& kv) {
  auto eq = kv.find('=');
  std::string key = kv.substr(0, eq);
  if (key.empty()) return invalid("invalid env '" + kv + "': expected KEY[=VALUE]");
  for (char c : key) {
    if (c == '\0' || std::isspace(static_cast<unsigned char>(c))) return invalid("invalid env '" + kv + "': bad key");
  }
  return {};
}

Result<int64_t> parse_memory(const std::string& text) {
  std::string t = strings::to_lower(std::string(strings::trim(text)));
  if (!t.empty() && t.back() == 'b') t.pop_back();  // 512mb, 1gb
  if (t.empty()) return invalid("invalid memory limit '" + text + "'");
  double mult = 1;
  switch (t.back()) {
    case 'k': mult = 1024.0; break;
    case 'm': mult = 1024.0 * 1024; break;
    case 'g': mult = 1024.0 * 1024 * 1024; break;
    case 't': mult = 1024.0 * 1024 * 1024 * 1024; break;
    default: break;
  }
  if (mult != 1) t.pop_back();
  if (t.empty() || !std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; }) ||
      std::count(t.begin(), t.end(), '.') > 1 || t == "." || t.size() > 20) {
    return invalid("invalid memory limit '" + text + "' (want e.g. 512m, 1g, 1.5g)");
  }
  double v = std::stod(t) * mult;
  if (v > 1024.0 * 1024 * 1024 * 1024 * 64) return invalid("memory limit '" + text + "' is too large");
  if (v < 6.0 * 1024 * 1024) return invalid("memory limit '" + text + "' is below docker's minimum of 6m");
  return static_cast<int64_t>(v);
}

Result<std::pair<std::string, std::pair<int64_t, int64_t>>> parse_ulimit(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return invalid("invalid ulimit '" + text + "': expected NAME=SOFT[:HARD]");
  std::string name = text.substr(0, eq);
  static const char* kNames[] = {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
                                 "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"};
  if (std::none_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return name == n; })) {
    return invalid("invalid ulimit '" + text + "': unknown name '" + name + "'");
  }
  auto vals = strings::split(text.substr(eq + 1), ':');
  long long soft = 0, hard = 0;
  if (vals.empty() || vals.size() > 2 || !strings::parse_int(vals[0], soft) ||
      (vals.size() == 2 && !strings::parse_int(vals[1], hard))) {
    return invalid("invalid ulimit '" + text + "': expected NAME=SOFT[:HARD] with numbers (-1 = unlimited)");
  }
  if (vals.size() == 1) hard = soft;
  if (soft < -1 || hard < -1 || (hard != -1 && (soft == -1 || soft > hard))) {
    return invalid("invalid ulimit '" + text + "': the soft limit must not exceed the hard limit");
  }
  return std::make_pair(name, std::make_pair(static_cast<int64_t>(soft), static_cast<int64_t>(hard)));
}

Result<HostAlias> parse_host_alias(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos) return invalid("invalid host alias '" + text + "': expected IP:NAME[,NAME...]");
  HostAlias ha;
  ha.ip = text.substr(0, colon);
  if (!is_ip_like(ha.ip) || ha.ip == "localhost") return invalid("invalid host alias '" + text + "': '" + ha.ip + "' is not an IPv4 address");
  for (const auto& n : strings::split(text.substr(colon + 1), ',')) {
    if (n.empty() || n.size() > 253 || !valid_label_name(n, 253)) {
      return invalid("invalid host alias '" + text + "': '" + n + "' is not a host name");
    }
    ha.hostnames.push_back(n);
  }
  return ha;
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

Result<LbSettings> parse_lb_overrides(const std::vector<std::string>& overrides) {
  LbSettings s;
  for (const auto& o : overrides) {
    auto eq = o.find('=');
    std::string key = o.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : o.substr(eq + 1);
    if (key == "settings.workerConnections") {
      long long n = 0;
      if (!strings::parse_int(value, n) || n < 1 || n > 65535) {
        return invalid("--lb-config-override '" + o + "': workerConnections must be a number in 1-65535");
      }
      s.worker_connections = static_cast<int>(n);
      continue;
    }
    return invalid("--lb-config-override '" + o + "' is not supported by k3dpp: its load balancer takes only "
                   "settings.workerConnections=N (ports come from -p and cluster edit)");
  }
  return s;
}

Status validate_subnet(const std::string& cidr) {
  auto slash = cidr.find('/');
  long long bits = 0;
  if (slash == std::string::npos || !is_ip_like(cidr.substr(0, slash)) || cidr.substr(0, slash) == "localhost" ||
      !strings::parse_int(cidr.substr(slash + 1), bits) || bits < 8 || bits > 30) {
    return invalid("invalid subnet '" + cidr + "': want an IPv4 CIDR like 172.28.0.0/16 (prefix 8-30)");
  }
  return {};
}

Status validate_token(const std::string& token) {
  if (token.empty() || token.size() > 256) return invalid("the token must have 1 to 256 characters");
  for (char c : token) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return invalid("the token must not contain blanks or control characters");
  }
  return {};
}

}  // namespace k3dpp::cluster
