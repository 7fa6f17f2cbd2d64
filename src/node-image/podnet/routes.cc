#include "podnet/routes.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <map>

namespace k3dpp::podnet {

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

std::vector<Route> plan_routes(const std::vector<nlohmann::json>& nodes, const std::string& my_node) {
  std::map<std::string, Route> by_cidr;
  for (auto& n : nodes) {
    if (!n.is_object() || !n.contains("metadata")) continue;
    std::string name = n["metadata"].value("name", "");
    if (name.empty() || name == my_node) continue;
    if (n["metadata"].contains("deletionTimestamp") && !n["metadata"]["deletionTimestamp"].is_null()) continue;
    std::string cidr;
    if (n.contains("spec") && n["spec"].contains("podCIDR") && n["spec"]["podCIDR"].is_string())
      cidr = n["spec"]["podCIDR"].get<std::string>();
    if (!valid_ipv4_cidr(cidr)) continue;
    std::string ip;
    if (n.contains("status") && n["status"].contains("addresses") && n["status"]["addresses"].is_array()) {
      for (auto& a : n["status"]["addresses"]) {
        if (a.is_object() && a.value("type", "") == "InternalIP" && valid_ipv4(a.value("address", ""))) {
          ip = a.value("address", "");
          break;
        }
      }
    }
    if (ip.empty()) continue;
    // Two nodes claiming one CIDR: keep the first name in order, deterministic.
    auto it = by_cidr.find(cidr);
    if (it != by_cidr.end() && it->second.node < name) continue;
    by_cidr[cidr] = Route{cidr, ip, name};
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
    if (it == cur.end() || it->second->via != r->via) ch.replace.push_back(*r);
  }
  for (auto& [cidr, r] : cur)
    if (!want.count(cidr)) ch.remove.push_back(*r);
  return ch;
}

}  // namespace k3dpp::podnet
