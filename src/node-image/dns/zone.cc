#include "dns/zone.h"

#include <arpa/inet.h>

#include <algorithm>
#include <ctime>

#include "client/json_fields.h"
#include "common/strings.h"
#include "common/json_read.h"

namespace k3dpp::dns {
namespace {

using client::int_field;
using client::str_field;

bool parse_ipv4(const std::string& s, uint32_t& out) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  out = ntohl(a.s_addr);
  return true;
}

std::string dashed(std::string ip) {
  std::replace(ip.begin(), ip.end(), '.', '-');
  return ip;
}

struct EndpointInfo {
  std::string ip;
  std::string hostname;
  bool ready = true;
  std::map<std::string, std::pair<std::string, int>> ports;  // port name → (protocol, port)
};

std::string lower_name(std::string_view n) {
  std::string s = strings::to_lower(n);
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

Zone::Zone(ZoneConfig config) : config_(std::move(config)) { config_.domain = lower_name(config_.domain); }

std::string Zone::reverse_name(const std::string& ipv4) {
  auto parts = strings::split(ipv4, '.');
  std::reverse(parts.begin(), parts.end());
  return strings::join(parts, ".") + ".in-addr.arpa";
}

void Zone::add(Record r) {
  std::string key = lower_name(r.name);
  add_name(key);
  auto& v = records_[key];
  if (std::find(v.begin(), v.end(), r) == v.end()) v.push_back(std::move(r));
}

void Zone::add_name(const std::string& key) {
  const std::string suffix = "." + config_.domain;
  if (strings::ends_with(key, suffix)) {
    // Every ancestor up to the apex exists (empty non-terminals answer NODATA, not NXDOMAIN).
    std::string n = key;
    while (n.size() > config_.domain.size()) {
      names_.insert(n);
      auto dot = n.find('.');
      if (dot == std::string::npos) break;
      n = n.substr(dot + 1);
    }
  }
  names_.insert(key);
}

size_t Zone::record_count() const {
  size_t n = 0;
  for (const auto& [k, v] : records_) n += v.size();
  return n;
}

Record Zone::soa(const std::string& owner) const {
  return soa_record(owner, "ns.dns." + config_.domain, "hostmaster." + config_.domain,
                    static_cast<uint32_t>(std::time(nullptr)), config_.ttl, config_.ttl);
}

bool Zone::in_cluster_cidrs(const std::string& ipv4) const {
  uint32_t ip = 0;
  if (!parse_ipv4(ipv4, ip)) return false;
  for (const auto& c : config_.cluster_cidrs) {
    auto slash = c.find('/');
    uint32_t net = 0;
    long long bits = 32;
    if (!parse_ipv4(c.substr(0, slash), net)) continue;
    if (slash != std::string::npos && !strings::parse_int(c.substr(slash + 1), bits)) continue;
    if (bits < 0 || bits > 32) continue;
    uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    if ((ip & mask) == (net & mask)) return true;
  }
  return false;
}

Zone Zone::build(const std::vector<json>& services, const std::vector<json>& endpoint_slices,
                 const std::vector<json>& endpoints, ZoneConfig config) {
  Zone z(std::move(config));
  const uint32_t ttl = z.config_.ttl;
  const std::string& domain = z.config_.domain;

  // "ns/service" → endpoints, from slices first, then Endpoints for services without slices.
  std::map<std::string, std::vector<EndpointInfo>> from_slices;
  for (const auto& slice : endpoint_slices) {
    const json meta = jvalue(slice, "metadata", json::object());
    std::string svc = str_field(jvalue(meta, "labels", json::object()), "kubernetes.io/service-name");
    if (svc.empty()) continue;
    std::string at = str_field(slice, "addressType");
    if (!at.empty() && at != "IPv4") continue;
    auto& list = from_slices[str_field(meta, "namespace") + "/" + svc];
    std::map<std::string, std::pair<std::string, int>> ports;
    const json sports = jvalue(slice, "ports", json::array());
    if (sports.is_array())
      for (const auto& p : sports) {
        std::string proto = str_field(p, "protocol");
        ports[str_field(p, "name")] = {proto.empty() ? "TCP" : proto, int_field(p, "port")};
      }
    const json eps = jvalue(slice, "endpoints", json::array());
    if (!eps.is_array()) continue;
    for (const auto& ep : eps) {
      const json cond = jvalue(ep, "conditions", json::object());
      bool ready = !(cond.is_object() && cond.contains("ready") && cond["ready"].is_boolean() &&
                     !cond["ready"].get<bool>());
      const json addrs = jvalue(ep, "addresses", json::array());
      if (!addrs.is_array()) continue;
      for (const auto& a : addrs) {
        if (!a.is_string()) continue;
        list.push_back({a.get<std::string>(), str_field(ep, "hostname"), ready, ports});
      }
    }
  }
  std::map<std::string, std::vector<EndpointInfo>> from_endpoints;
  for (const auto& e : endpoints) {
    const json meta = jvalue(e, "metadata", json::object());
    auto& list = from_endpoints[str_field(meta, "namespace") + "/" + str_field(meta, "name")];
    const json subsets = jvalue(e, "subsets", json::array());
    if (!subsets.is_array()) continue;
    for (const auto& ss : subsets) {
      std::map<std::string, std::pair<std::string, int>> ports;
      const json sports = jvalue(ss, "ports", json::array());
      if (sports.is_array())
        for (const auto& p : sports) {
          std::string proto = str_field(p, "protocol");
          ports[str_field(p, "name")] = {proto.empty() ? "TCP" : proto, int_field(p, "port")};
        }
      for (const char* key : {"addresses", "notReadyAddresses"}) {
        const json addrs = ss.value(key, json::array());
        if (!addrs.is_array()) continue;
        for (const auto& a : addrs) {
          std::string ip = str_field(a, "ip");
          if (!ip.empty()) list.push_back({ip, str_field(a, "hostname"), std::string(key) == "addresses", ports});
        }
      }
    }
  }

  for (const auto& s : services) {
    const json meta = jvalue(s, "metadata", json::object());
    const json spec = jvalue(s, "spec", json::object());
    const std::string ns = strings::to_lower(str_field(meta, "namespace"));
    const std::string name = strings::to_lower(str_field(meta, "name"));
    if (ns.empty() || name.empty()) continue;
    const std::string base = name + "." + ns + ".svc." + domain;
    const std::string type = str_field(spec, "type");
    if (type == "ExternalName") {
      std::string ext = lower_name(str_field(spec, "externalName"));
      if (!ext.empty()) z.add(cname_record(base, ext, ttl));
      continue;
    }
    const std::string cip = str_field(spec, "clusterIP");
    const bool headless = cip.empty() || cip == "None";
    const bool publish_not_ready =
        spec.contains("publishNotReadyAddresses") && spec["publishNotReadyAddresses"].is_boolean() &&
        spec["publishNotReadyAddresses"].get<bool>();
    std::vector<EndpointInfo> eps;
    const std::string key = str_field(meta, "namespace") + "/" + str_field(meta, "name");
    if (auto it = from_slices.find(key); it != from_slices.end()) {
      eps = it->second;
    } else if (auto it2 = from_endpoints.find(key); it2 != from_endpoints.end()) {
      eps = it2->second;
    }
    std::vector<EndpointInfo> visible;
    for (const auto& ep : eps) {
      uint32_t tmp = 0;
      if ((ep.ready || publish_not_ready) && parse_ipv4(ep.ip, tmp) &&
          std::none_of(visible.begin(), visible.end(), [&](const EndpointInfo& v) { return v.ip == ep.ip; }))
        visible.push_back(ep);
    }
    std::sort(visible.begin(), visible.end(), [](const auto& a, const auto& b) { return a.ip < b.ip; });
    auto host_of = [&](const EndpointInfo& ep) {
      return (ep.hostname.empty() ? dashed(ep.ip) : strings::to_lower(ep.hostname)) + "." + base;
    };

    if (!headless) {
      z.add(a_record(base, cip, ttl));
      z.add(ptr_record(reverse_name(cip), base, ttl));
    } else {
      z.add_name(base);  // exists (NODATA) even without ready endpoints
      for (const auto& ep : visible) {
        z.add(a_record(base, ep.ip, ttl));
        z.add(a_record(host_of(ep), ep.ip, ttl));
        z.add(ptr_record(reverse_name(ep.ip), host_of(ep), ttl));
      }
    }
    // Pod IPs of non-headless services resolve back to their pod name.
    for (const auto& ep : eps) {
      uint32_t tmp = 0;
      if (!parse_ipv4(ep.ip, tmp)) continue;
      if (!headless) z.add(ptr_record(reverse_name(ep.ip), dashed(ep.ip) + "." + ns + ".pod." + domain, ttl));
    }

    const json ports = jvalue(spec, "ports", json::array());
    if (!ports.is_array()) continue;
    for (const auto& p : ports) {
      std::string pname = strings::to_lower(str_field(p, "name"));
      if (pname.empty()) continue;
      std::string proto = strings::to_lower(str_field(p, "protocol"));
      if (proto.empty()) proto = "tcp";
      const std::string srv_name = "_" + pname + "._" + proto + "." + base;
      if (!headless) {
        z.add(srv_record(srv_name, 0, 100, static_cast<uint16_t>(int_field(p, "port")), base, ttl));
      } else {
        std::vector<const EndpointInfo*> with_port;
        for (const auto& ep : visible)
          if (auto it = ep.ports.find(str_field(p, "name")); it != ep.ports.end() && it->second.second > 0)
            with_port.push_back(&ep);
        const uint16_t weight = with_port.empty() ? 0 : static_cast<uint16_t>(std::max<size_t>(1, 100 / with_port.size()));
        for (const auto* ep : with_port)
          z.add(srv_record(srv_name, 0, weight, static_cast<uint16_t>(ep->ports.at(str_field(p, "name")).second),
                           host_of(*ep), ttl));
      }
    }
  }
  return z;
}

std::optional<ZoneAnswer> Zone::lookup(const Question& q) const {
  const std::string name = lower_name(q.name);
  const std::string& domain = config_.domain;
  if (q.qclass != kClassIN && q.qclass != 255) return std::nullopt;

  auto matching = [&](const std::vector<Record>& recs, uint16_t qtype) {
    std::vector<Record> out;
    for (const auto& r : recs) {
      if (r.rtype == 0) continue;
      if (qtype == type::kANY || r.rtype == qtype || r.rtype == type::kCNAME) {
        Record copy = r;
        copy.name = q.name;  // echo the asker's spelling
        while (!copy.name.empty() && copy.name.back() == '.') copy.name.pop_back();
        out.push_back(std::move(copy));
      }
    }
    return out;
  };

  if (name == "host.k3dpp.internal") {
    if (config_.host_gateway_ip.empty()) return std::nullopt;
    ZoneAnswer a;
    if (q.qtype == type::kA || q.qtype == type::kANY) a.answers.push_back(a_record(q.name, config_.host_gateway_ip, config_.ttl));
    return a;
  }

  if (strings::ends_with(name, ".in-addr.arpa")) {
    auto labels = strings::split(name.substr(0, name.size() - std::string_view(".in-addr.arpa").size()), '.');
    if (labels.size() != 4) return std::nullopt;
    std::string ip = labels[3] + "." + labels[2] + "." + labels[1] + "." + labels[0];
    uint32_t tmp = 0;
    if (!parse_ipv4(ip, tmp)) return std::nullopt;
    auto it = records_.find(name);
    if (it == records_.end()) {
      if (!in_cluster_cidrs(ip)) return std::nullopt;
      ZoneAnswer a;
      a.rcode = rcode::kNXDomain;
      a.authority.push_back(soa("in-addr.arpa"));
      return a;
    }
    ZoneAnswer a;
    a.answers = matching(it->second, q.qtype);
    if (a.answers.empty()) a.authority.push_back(soa("in-addr.arpa"));
    return a;
  }

  if (name != domain && !strings::ends_with(name, "." + domain)) return std::nullopt;

  ZoneAnswer a;
  if (name == domain) {
    if (q.qtype == type::kSOA || q.qtype == type::kANY) a.answers.push_back(soa(q.name));
    if (q.qtype == type::kNS || q.qtype == type::kANY) {
      Record ns;
      ns.name = q.name;
      ns.rtype = type::kNS;
      ns.ttl = config_.ttl;
      ns.target = "ns.dns." + domain;
      a.answers.push_back(ns);
    }
    if (a.answers.empty()) a.authority.push_back(soa(domain));
    return a;
  }

  // <a-b-c-d>.<ns>.pod.<domain>
  const std::string pod_suffix = ".pod." + domain;
  if (strings::ends_with(name, pod_suffix)) {
    auto labels = strings::split(name.substr(0, name.size() - pod_suffix.size()), '.');
    if (labels.size() == 2) {
      std::string ip = labels[0];
      std::replace(ip.begin(), ip.end(), '-', '.');
      uint32_t tmp = 0;
      if (parse_ipv4(ip, tmp) && std::count(labels[0].begin(), labels[0].end(), '-') == 3) {
        if (q.qtype == type::kA || q.qtype == type::kANY) a.answers.push_back(a_record(q.name, ip, config_.ttl));
        else a.authority.push_back(soa(domain));
        return a;
      }
    }
    if (labels.size() == 1) {  // the namespace node itself: empty non-terminal
      a.authority.push_back(soa(domain));
      return a;
    }
  }

  if (auto it = records_.find(name); it != records_.end()) {
    a.answers = matching(it->second, q.qtype);
    for (const auto& r : a.answers) {
      if (r.rtype != type::kSRV) continue;
      if (auto t = records_.find(lower_name(r.target)); t != records_.end())
        for (const auto& tr : t->second)
          if (tr.rtype == type::kA && std::find(a.additional.begin(), a.additional.end(), tr) == a.additional.end())
            a.additional.push_back(tr);
    }
    if (a.answers.empty()) a.authority.push_back(soa(domain));
    return a;
  }
  if (names_.count(name) || name == "svc." + domain || name == "pod." + domain) {
    a.authority.push_back(soa(domain));
    return a;
  }
  a.rcode = rcode::kNXDomain;
  a.authority.push_back(soa(domain));
  return a;
}

}  // namespace k3dpp::dns
