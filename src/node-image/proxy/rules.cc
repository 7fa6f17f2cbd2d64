#include "proxy/rules.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "client/json_fields.h"
#include "common/strings.h"
#include "common/json_read.h"

namespace k3dpp::proxy {
namespace {

using client::int_field;
using client::str_field;

std::string protocol_of(const json& port) {
  std::string p = str_field(port, "protocol");
  return p.empty() ? "TCP" : p;
}

std::string lower_proto(const std::string& p) { return strings::to_lower(p); }

// RFC 4648 base32 (no padding) of the first bytes of sha256(input), `chars` characters long.
std::string hash_suffix(const std::string& input, size_t chars) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char byte : digest) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.size() < chars) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
    if (out.size() >= chars) break;
  }
  return out;
}

std::string port_label(const ServiceState& svc, const ServicePortState& port) {
  std::string s = svc.ns + "/" + svc.name;
  if (!port.name.empty()) s += ":" + port.name;
  return s;
}

bool is_dns_port(const ProxyState& st, const ServiceState& svc, const ServicePortState& port) {
  return !st.dns.target_ip.empty() && svc.cluster_ip == st.dns.cluster_ip && port.port == st.dns.port &&
         (port.protocol == "UDP" || port.protocol == "TCP");
}

bool has_cluster_ip(const ServiceState& svc) { return !svc.cluster_ip.empty() && svc.cluster_ip != "None"; }

// TCP gets a reset: the client's connect() fails at once. An ICMP error that arrives while connect()
// still holds its socket (always, when the REJECT runs in the sender's own softirq) only counts as
// a soft error, and the client retries the SYN for a second before giving up.
const char* reject_with(const std::string& proto) { return proto == "tcp" ? "tcp-reset" : "icmp-port-unreachable"; }

std::string probability(size_t remaining) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.11f", 1.0 / static_cast<double>(remaining));
  return buf;
}

}  // namespace

std::string service_chain(const ServiceState& svc, const ServicePortState& port) {
  return "K3DPP-SVC-" + hash_suffix(svc.ns + "/" + svc.name + ":" + port.name + "/" + port.protocol, 16);
}

std::string endpoint_chain(const ServiceState& svc, const ServicePortState& port, const EndpointAddr& ep) {
  return "K3DPP-SEP-" + hash_suffix(svc.ns + "/" + svc.name + ":" + port.name + "/" + port.protocol + "/" + ep.ip +
                                        ":" + std::to_string(ep.port),
                                    16);
}

ProxyState build_state(const std::vector<json>& services, const std::vector<json>& endpoint_slices,
                       const std::vector<json>& endpoints, const std::string& pod_cidr, const DnsRedirect& dns) {
  ProxyState st;
  st.pod_cidr = pod_cidr;
  st.dns = dns;

  // Index endpoints by "ns/service": port key "name/PROTO" → set of addresses.
  using PortMap = std::map<std::string, std::vector<EndpointAddr>>;
  std::map<std::string, PortMap> from_slices;
  for (const auto& slice : endpoint_slices) {
    const json meta = jvalue(slice, "metadata", json::object());
    std::string svc_name = str_field(jvalue(meta, "labels", json::object()), "kubernetes.io/service-name");
    if (svc_name.empty()) continue;
    std::string at = str_field(slice, "addressType");
    if (!at.empty() && at != "IPv4") continue;
    PortMap& pm = from_slices[str_field(meta, "namespace") + "/" + svc_name];
    const json ports = jvalue(slice, "ports", json::array());
    const json eps = jvalue(slice, "endpoints", json::array());
    if (!ports.is_array() || !eps.is_array()) continue;
    for (const auto& p : ports) {
      std::string key = str_field(p, "name") + "/" + protocol_of(p);
      auto& list = pm[key];
      int port_num = int_field(p, "port");
      for (const auto& ep : eps) {
        const json cond = jvalue(ep, "conditions", json::object());
        if (cond.is_object() && cond.contains("ready") && cond["ready"].is_boolean() && !cond["ready"].get<bool>())
          continue;
        const json addrs = jvalue(ep, "addresses", json::array());
        if (!addrs.is_array()) continue;
        for (const auto& a : addrs)
          if (a.is_string() && port_num > 0) list.push_back({a.get<std::string>(), port_num});
      }
    }
  }
  std::map<std::string, PortMap> from_endpoints;
  for (const auto& e : endpoints) {
    const json meta = jvalue(e, "metadata", json::object());
    PortMap& pm = from_endpoints[str_field(meta, "namespace") + "/" + str_field(meta, "name")];
    const json subsets = jvalue(e, "subsets", json::array());
    if (!subsets.is_array()) continue;
    for (const auto& ss : subsets) {
      const json ports = jvalue(ss, "ports", json::array());
      const json addrs = jvalue(ss, "addresses", json::array());
      if (!ports.is_array() || !addrs.is_array()) continue;
      for (const auto& p : ports) {
        auto& list = pm[str_field(p, "name") + "/" + protocol_of(p)];
        int port_num = int_field(p, "port");
        for (const auto& a : addrs) {
          std::string ip = str_field(a, "ip");
          if (!ip.empty() && port_num > 0) list.push_back({ip, port_num});
        }
      }
    }
  }

  for (const auto& s : services) {
    const json meta = jvalue(s, "metadata", json::object());
    const json spec = jvalue(s, "spec", json::object());
    if (str_field(spec, "type") == "ExternalName") continue;
    ServiceState svc;
    svc.ns = str_field(meta, "namespace");
    svc.name = str_field(meta, "name");
    svc.cluster_ip = str_field(spec, "clusterIP");
    svc.client_ip_affinity = str_field(spec, "sessionAffinity") == "ClientIP";
    if (svc.client_ip_affinity) {
      int t = 0;
      if (spec.contains("sessionAffinityConfig"))
        t = int_field(jvalue(spec["sessionAffinityConfig"], "clientIP", json::object()), "timeoutSeconds");
      if (t > 0) svc.affinity_timeout_seconds = t;
    }
    if (str_field(spec, "type") == "LoadBalancer" && str_field(spec, "loadBalancerClass").empty()) {
      const json status = jvalue(s, "status", json::object());
      const json lb = status.is_object() ? jvalue(status, "loadBalancer", json::object()) : json::object();
      const json ingress = lb.is_object() ? jvalue(lb, "ingress", json::array()) : json::array();
      svc.load_balancer = ingress.is_array() && !ingress.empty();
    }
    std::string key = svc.ns + "/" + svc.name;
    const PortMap* pm = nullptr;
    if (auto it = from_slices.find(key); it != from_slices.end()) {
      pm = &it->second;
    } else if (auto it2 = from_endpoints.find(key); it2 != from_endpoints.end()) {
      pm = &it2->second;
    }
    const json ports = jvalue(spec, "ports", json::array());
    if (!ports.is_array()) continue;
    for (const auto& p : ports) {
      ServicePortState sp;
      sp.name = str_field(p, "name");
      sp.protocol = protocol_of(p);
      sp.port = int_field(p, "port");
      sp.node_port = int_field(p, "nodePort");
      if (sp.port <= 0) continue;
      if (pm) {
        if (auto it = pm->find(sp.name + "/" + sp.protocol); it != pm->end()) sp.endpoints = it->second;
      }
      std::sort(sp.endpoints.begin(), sp.endpoints.end(), [](const EndpointAddr& a, const EndpointAddr& b) {
        return a.ip != b.ip ? a.ip < b.ip : a.port < b.port;
      });
      sp.endpoints.erase(std::unique(sp.endpoints.begin(), sp.endpoints.end()), sp.endpoints.end());
      svc.ports.push_back(std::move(sp));
    }
    st.services.push_back(std::move(svc));
  }
  std::sort(st.services.begin(), st.services.end(), [](const ServiceState& a, const ServiceState& b) {
    return a.ns != b.ns ? a.ns < b.ns : a.name < b.name;
  });
  return st;
}

std::string JumpRule::target() const {
  auto pos = spec.rfind("-j ");
  return pos == std::string::npos ? std::string() : spec.substr(pos + 3);
}

const std::vector<JumpRule>& jump_rules() {
  static const std::vector<JumpRule> kRules = {
      {"nat", "PREROUTING", "-j K3DPP-SERVICES"},
      {"nat", "OUTPUT", "-j K3DPP-SERVICES"},
      {"nat", "POSTROUTING", "-j K3DPP-POSTROUTING"},
      {"filter", "INPUT", "-m conntrack --ctstate NEW -j K3DPP-EXTERNAL-SERVICES"},
      {"filter", "FORWARD", "-m conntrack --ctstate NEW -j K3DPP-SERVICES"},
      {"filter", "FORWARD", "-j K3DPP-FORWARD"},
      {"filter", "OUTPUT", "-m conntrack --ctstate NEW -j K3DPP-SERVICES"},
  };
  return kRules;
}

std::vector<JumpRule> present_jumps(const std::string& save) {
  std::vector<JumpRule> out;
  std::string table;
  std::istringstream in(save);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] == '*') {
      table = line.substr(1);
      continue;
    }
    if (!strings::starts_with(line, "-A ")) continue;
    for (const auto& j : jump_rules()) {
      if (j.table != table) continue;
      if (!strings::starts_with(line, "-A " + j.chain + " ")) continue;
      if (!strings::ends_with(line, "-j " + j.target())) continue;
      bool dup = std::any_of(out.begin(), out.end(), [&](const JumpRule& o) {
        return o.table == j.table && o.chain == j.chain && o.target() == j.target();
      });
      if (!dup) out.push_back(j);
    }
  }
  return out;
}

std::set<std::string> dynamic_chains(const ProxyState& st) {
  std::set<std::string> out;
  for (const auto& svc : st.services) {
    for (const auto& p : svc.ports) {
      if (is_dns_port(st, svc, p) || p.endpoints.empty()) continue;
      if (!has_cluster_ip(svc) && p.node_port == 0 && !svc.load_balancer) continue;
      out.insert(service_chain(svc, p));
      for (const auto& ep : p.endpoints) out.insert(endpoint_chain(svc, p, ep));
    }
  }
  return out;
}

std::set<std::string> dynamic_chains_in_save(const std::string& save) {
  std::set<std::string> out;
  std::istringstream in(save);
  std::string line;
  while (std::getline(in, line)) {
    if (strings::starts_with(line, ":K3DPP-SVC-") || strings::starts_with(line, ":K3DPP-SEP-")) {
      auto sp = line.find(' ');
      out.insert(line.substr(1, sp == std::string::npos ? std::string::npos : sp - 1));
    }
  }
  return out;
}

std::string render_rules(const ProxyState& st, const std::vector<JumpRule>& present,
                         const std::set<std::string>& stale_chains) {
  auto is_present = [&](const JumpRule& j) {
    return std::any_of(present.begin(), present.end(), [&](const JumpRule& p) {
      return p.table == j.table && p.chain == j.chain && p.target() == j.target();
    });
  };
  const std::string cidr = st.pod_cidr;
  std::set<std::string> live = dynamic_chains(st);

  std::ostringstream chains;  // nat chain declarations
  std::ostringstream rules;   // nat rules
  std::ostringstream fchains;
  std::ostringstream frules;

  for (const char* c : {kServicesChain, kNodePortsChain, kPostroutingChain, kMarkMasqChain})
    chains << ":" << c << " - [0:0]\n";
  for (const char* c : {kServicesChain, kExternalServicesChain, kForwardChain}) fchains << ":" << c << " - [0:0]\n";

  for (const auto& j : jump_rules()) {
    if (is_present(j)) continue;
    (j.table == "nat" ? rules : frules) << "-I " << j.chain << " 1 " << j.spec << "\n";
  }

  rules << "-A " << kMarkMasqChain << " -j MARK --or-mark 0x4000\n";
  rules << "-A " << kPostroutingChain << " -s " << cidr << " ! -d " << cidr
        << " -m comment --comment \"pod egress\" -j MASQUERADE\n";
  rules << "-A " << kPostroutingChain << " -m mark ! --mark " << kMasqMark << " -j RETURN\n";
  rules << "-A " << kPostroutingChain << " -j MARK --xor-mark 0x4000\n";
  rules << "-A " << kPostroutingChain << " -m comment --comment \"k3dpp service traffic requiring SNAT\" -j MASQUERADE\n";

  if (!st.dns.target_ip.empty()) {
    for (const char* proto : {"udp", "tcp"}) {
      rules << "-A " << kServicesChain << " -d " << st.dns.cluster_ip << "/32 -p " << proto
            << " -m comment --comment \"cluster DNS to node-local server\" -m " << proto << " --dport " << st.dns.port
            << " -j DNAT --to-destination " << st.dns.target_ip << ":" << st.dns.target_port << "\n";
    }
  }

  std::ostringstream svc_rules;   // K3DPP-SVC-* and K3DPP-SEP-* bodies
  std::ostringstream node_ports;  // K3DPP-NODEPORTS body
  for (const auto& svc : st.services) {
    for (const auto& p : svc.ports) {
      if (is_dns_port(st, svc, p)) continue;
      const std::string label = port_label(svc, p);
      const std::string proto = lower_proto(p.protocol);
      const bool cip = has_cluster_ip(svc);
      if (p.endpoints.empty()) {
        if (cip)
          frules << "-A " << kServicesChain << " -d " << svc.cluster_ip << "/32 -p " << proto << " -m comment --comment \""
                 << label << " has no endpoints\" -m " << proto << " --dport " << p.port
                 << " -j REJECT --reject-with " << reject_with(proto) << "\n";
        if (p.node_port > 0)
          frules << "-A " << kExternalServicesChain << " -p " << proto << " -m comment --comment \"" << label
                 << " has no endpoints\" -m addrtype --dst-type LOCAL -m " << proto << " --dport " << p.node_port
                 << " -j REJECT --reject-with " << reject_with(proto) << "\n";
        if (svc.load_balancer)
          frules << "-A " << kExternalServicesChain << " ! -d 127.0.0.0/8 -p " << proto << " -m comment --comment \""
                 << label << " loadbalancer has no endpoints\" -m addrtype --dst-type LOCAL -m " << proto
                 << " --dport " << p.port << " -j REJECT --reject-with " << reject_with(proto) << "\n";
        continue;
      }
      if (!cip && p.node_port == 0 && !svc.load_balancer) continue;
      const std::string svc_chain = service_chain(svc, p);
      chains << ":" << svc_chain << " - [0:0]\n";
      if (cip) {
        rules << "-A " << kServicesChain << " -d " << svc.cluster_ip << "/32 -p " << proto << " -m comment --comment \""
              << label << " cluster IP\" -m " << proto << " --dport " << p.port << " -j " << svc_chain << "\n";
        svc_rules << "-A " << svc_chain << " ! -s " << cidr << " -d " << svc.cluster_ip << "/32 -p " << proto
                  << " -m comment --comment \"" << label << " cluster IP\" -m " << proto << " --dport " << p.port
                  << " -j " << kMarkMasqChain << "\n";
      }
      if (p.node_port > 0) {
        node_ports << "-A " << kNodePortsChain << " -p " << proto << " -m comment --comment \"" << label << "\" -m "
                   << proto << " --dport " << p.node_port << " -j " << kMarkMasqChain << "\n";
        node_ports << "-A " << kNodePortsChain << " -p " << proto << " -m comment --comment \"" << label << "\" -m "
                   << proto << " --dport " << p.node_port << " -j " << svc_chain << "\n";
      }
      if (svc.load_balancer) {
        // The service's own port on every node address, like a hostPort (never on loopback: a
        // node process talking to 127.0.0.1 keeps its local service).
        for (const std::string& target : {std::string(kMarkMasqChain), svc_chain})
          node_ports << "-A " << kNodePortsChain << " ! -d 127.0.0.0/8 -p " << proto << " -m comment --comment \""
                     << label << " loadbalancer\" -m " << proto << " --dport " << p.port << " -j " << target << "\n";
      }
      const size_t n = p.endpoints.size();
      if (svc.client_ip_affinity) {
        for (const auto& ep : p.endpoints) {
          const std::string sep = endpoint_chain(svc, p, ep);
          svc_rules << "-A " << svc_chain << " -m comment --comment \"" << label << " -> " << ep.ip << ":" << ep.port
                    << "\" -m recent --name " << sep << " --rcheck --seconds " << svc.affinity_timeout_seconds
                    << " --reap -j " << sep << "\n";
        }
      }
      for (size_t i = 0; i < n; ++i) {
        const auto& ep = p.endpoints[i];
        const std::string sep = endpoint_chain(svc, p, ep);
        svc_rules << "-A " << svc_chain << " -m comment --comment \"" << label << " -> " << ep.ip << ":" << ep.port
                  << "\"";
        if (i + 1 < n) svc_rules << " -m statistic --mode random --probability " << probability(n - i);
        svc_rules << " -j " << sep << "\n";
      }
      for (const auto& ep : p.endpoints) {
        const std::string sep = endpoint_chain(svc, p, ep);
        chains << ":" << sep << " - [0:0]\n";
        svc_rules << "-A " << sep << " -s " << ep.ip << "/32 -m comment --comment \"" << label << "\" -j "
                  << kMarkMasqChain << "\n";
        svc_rules << "-A " << sep << " -p " << proto << " -m comment --comment \"" << label << "\"";
        if (svc.client_ip_affinity) svc_rules << " -m recent --name " << sep << " --set";
        svc_rules << " -m " << proto << " -j DNAT --to-destination " << ep.ip << ":" << ep.port << "\n";
      }
    }
  }
  rules << "-A " << kServicesChain
        << " -m comment --comment \"k3dpp service nodeports\" -m addrtype --dst-type LOCAL -j " << kNodePortsChain
        << "\n";
  rules << node_ports.str() << svc_rules.str();

  std::ostringstream stale;
  for (const auto& c : stale_chains) {
    if (live.count(c)) continue;
    chains << ":" << c << " - [0:0]\n";
    stale << "-X " << c << "\n";
  }

  frules << "-A " << kForwardChain << " -m comment --comment \"k3dpp forwarding rules\" -m mark --mark " << kMasqMark
         << " -j ACCEPT\n";
  frules << "-A " << kForwardChain << " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n";

  std::ostringstream out;
  out << "*filter\n" << fchains.str() << frules.str() << "COMMIT\n";
  out << "*nat\n" << chains.str() << rules.str() << stale.str() << "COMMIT\n";
  return out.str();
}

}  // namespace k3dpp::proxy
