#include "podnet/routes.h"
#include "common/json_read.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cstdio>
#include <map>

namespace k3dpp::podnet {

namespace {
std::string strings_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

Result<Backend> parse_backend(const std::string& name) {
  if (name == "host-gw" || name.empty()) return Backend::kHostGw;
  if (name == "vxlan") return Backend::kVxlan;
  return Error("unknown pod network backend \"" + name + "\" (want host-gw or vxlan)", "BadRequest");
}

bool valid_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool valid_ipv4_cidr(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos) return false;
  if (!valid_ipv4(s.substr(0, slash))) return false;
  std::string bits = s.substr(slash + 1);
  int n = -1;
  auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
  return ec == std::errc() && p == bits.data() + bits.size() && !bits.empty() && n >= 0 && n <= 32;
}

namespace {

std::string internal_ip(const nlohmann::json& n) {
  if (n.contains("status") && n["status"].is_object() && n["status"].contains("addresses") &&
      n["status"]["addresses"].is_array()) {
    for (auto& a : n["status"]["addresses"]) {
      if (a.is_object() && jvalue(a, "type", "") == "InternalIP" && a.contains("address") && a["address"].is_string() &&
          valid_ipv4(a["address"].get<std::string>()))
        return a["address"].get<std::string>();
    }
  }
  return {};
}

std::string pod_cidr(const nlohmann::json& n) {
  if (n.contains("spec") && n["spec"].is_object() && n["spec"].contains("podCIDR") && n["spec"]["podCIDR"].is_string()) {
    std::string c = n["spec"]["podCIDR"].get<std::string>();
    if (valid_ipv4_cidr(c)) return c;
  }
  return {};
}

std::string annotation(const nlohmann::json& n, const std::string& key) {
  if (!n.contains("metadata") || !n["metadata"].is_object()) return {};
  const auto& m = n["metadata"];
  if (!m.contains("annotations") || !m["annotations"].is_object()) return {};
  auto it = m["annotations"].find(key);
  if (it == m["annotations"].end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace

bool valid_mac(const std::string& s) {
  if (s.size() != 17) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2) {
      if (s[i] != ':') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  // Unicast only (a multicast VTEP MAC would flood).
  int first = std::stoi(s.substr(0, 2), nullptr, 16);
  return (first & 1) == 0;
}

std::string network_address(const std::string& cidr) {
  if (!valid_ipv4_cidr(cidr)) return {};
  size_t slash = cidr.find('/');
  int bits = std::stoi(cidr.substr(slash + 1));
  in_addr a{};
  inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &a);
  uint32_t host = ntohl(a.s_addr);
  uint32_t mask = bits == 0 ? 0 : (~uint32_t{0} << (32 - bits));
  a.s_addr = htonl(host & mask);
  char buf[INET_ADDRSTRLEN] = {0};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

std::string vtep_mac_for(const std::string& cidr) {
  std::string net = network_address(cidr);
  if (net.empty()) return {};
  in_addr a{};
  inet_pton(AF_INET, net.c_str(), &a);
  uint32_t v = ntohl(a.s_addr);
  char buf[18];
  std::snprintf(buf, sizeof buf, "02:6b:%02x:%02x:%02x:%02x", (v >> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff,
                v & 0xff);
  return buf;
}

SelfInfo self_info(const std::vector<nlohmann::json>& nodes, const std::string& my_node) {
  for (auto& n : nodes) {
    if (!n.is_object() || !n.contains("metadata") || !n["metadata"].is_object()) continue;
    if (jvalue(n["metadata"], "name", "") != my_node) continue;
    return SelfInfo{pod_cidr(n), internal_ip(n), annotation(n, kVtepMacAnnotation)};
  }
  return {};
}

std::vector<Route> plan_routes(const std::vector<nlohmann::json>& nodes, const std::string& my_node, Backend backend) {
  std::map<std::string, Route> by_cidr;
  for (auto& n : nodes) {
    if (!n.is_object() || !n.contains("metadata")) continue;
    std::string name = jvalue(n["metadata"], "name", "");
    if (name.empty() || name == my_node) continue;
    if (n["metadata"].contains("deletionTimestamp") && !n["metadata"]["deletionTimestamp"].is_null()) continue;
    std::string cidr = pod_cidr(n);
    if (cidr.empty()) continue;
    std::string ip = internal_ip(n);
    if (ip.empty()) continue;
    std::string mac;
    if (backend == Backend::kVxlan) {
      mac = strings_lower(annotation(n, kVtepMacAnnotation));
      if (!valid_mac(mac)) continue;
    }
    // Two nodes claiming one CIDR: keep the first name in order, deterministic.
    auto it = by_cidr.find(cidr);
    if (it != by_cidr.end() && it->second.node < name) continue;
    by_cidr[cidr] = Route{cidr, ip, name, mac};
  }
  std::vector<Route> out;
  for (auto& [c, r] : by_cidr) out.push_back(r);
  return out;
}

RouteChanges diff_routes(const std::vector<Route>& current, const std::vector<Route>& desired) {
  RouteChanges ch;
  std::map<std::string, const Route*> cur;
  for (auto& r : current) cur[r.cidr] = &r;
  std::map<std::string, const Route*> want;
  for (auto& r : desired) want[r.cidr] = &r;
  for (auto& [cidr, r] : want) {
    auto it = cur.find(cidr);
    if (it == cur.end() || !(*it->second == *r)) ch.replace.push_back(*r);
    // A VTEP that changed its MAC: its old neighbour/FDB entries go first.
    if (it != cur.end() && !it->second->vtep_mac.empty() && it->second->vtep_mac != r->vtep_mac)
      ch.remove.push_back(*it->second);
  }
  for (auto& [cidr, r] : cur)
    if (!want.count(cidr)) ch.remove.push_back(*r);
  return ch;
}

}  // namespace k3dpp::podnet
