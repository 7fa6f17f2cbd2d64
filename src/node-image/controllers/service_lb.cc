#include "controllers/service_lb.h"
#include "common/json_read.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace k3dpp::controllers {
namespace {

std::string str_at(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int int_at(const json& obj, const char* key) {
  if (!obj.is_object()) return 0;
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int>() : 0;
}

const json& spec_of(const json& obj) {
  static const json kEmpty = json::object();
  auto it = obj.find("spec");
  return it != obj.end() && it->is_object() ? *it : kEmpty;
}

const json& ports_of(const json& svc) {
  static const json kEmpty = json::array();
  const json& spec = spec_of(svc);
  auto it = spec.find("ports");
  return it != spec.end() && it->is_array() ? *it : kEmpty;
}

std::string protocol_of(const json& port) {
  std::string p = str_at(port, "protocol");
  return p.empty() ? "TCP" : p;
}

bool has_ingress(const json& svc) {
  auto st = svc.find("status");
  if (st == svc.end() || !st->is_object()) return false;
  auto lb = st->find("loadBalancer");
  if (lb == st->end() || !lb->is_object()) return false;
  auto ing = lb->find("ingress");
  return ing != lb->end() && ing->is_array() && !ing->empty();
}

bool node_ready(const json& node) {
  const json st = jvalue(node, "status", json::object());
  for (const auto& c : jvalue(st, "conditions", json::array())) {
    if (str_at(c, "type") == "Ready") return str_at(c, "status") == "True";
  }
  return false;
}

std::string node_address(const json& node) {
  const json st = jvalue(node, "status", json::object());
  std::string internal, external;
  for (const auto& a : jvalue(st, "addresses", json::array())) {
    const std::string type = str_at(a, "type");
    if (type == "ExternalIP" && external.empty()) external = str_at(a, "address");
    if (type == "InternalIP" && internal.empty()) internal = str_at(a, "address");
  }
  return external.empty() ? internal : external;
}

std::string port_text(int port, const std::string& protocol) { return std::to_string(port) + "/" + protocol; }

}  // namespace

const std::vector<ReservedPort>& node_reserved_ports() {
  static const std::vector<ReservedPort> kPorts = {
      {6443, "TCP", "the API server"},
      {10250, "TCP", "the kubelet"},
      {53, "UDP", "the node-local DNS server"},
      {53, "TCP", "the node-local DNS server"},
  };
  return kPorts;
}

bool is_managed_load_balancer(const json& service) {
  const json& spec = spec_of(service);
  return str_at(spec, "type") == "LoadBalancer" && str_at(spec, "loadBalancerClass").empty();
}

std::vector<std::string> load_balancer_addresses(const std::vector<const json*>& nodes) {
  std::set<std::string> ready, all;
  for (const json* n : nodes) {
    if (!n) continue;
    std::string ip = node_address(*n);
    if (ip.empty()) continue;
    all.insert(ip);
    if (node_ready(*n)) ready.insert(ip);
  }
  const auto& use = ready.empty() ? all : ready;
  return {use.begin(), use.end()};
}

std::vector<LoadBalancerPlan> plan_load_balancers(const std::vector<const json*>& services,
                                                  const std::vector<const json*>& nodes,
                                                  const std::vector<ReservedPort>& reserved) {
  using PortKey = std::pair<int, std::string>;  // (port, protocol)
  // Who holds a port already: the node itself, or a NodePort of any service.
  std::map<PortKey, std::string> taken;
  for (const auto& r : reserved) taken[{r.port, r.protocol}] = "it is used by " + r.owner + " on every node";
  for (const json* s : services) {
    if (!s) continue;
    for (const auto& p : ports_of(*s)) {
      int np = int_at(p, "nodePort");
      if (np <= 0) continue;
      taken.emplace(PortKey{np, protocol_of(p)}, "it is the NodePort of service " + meta_str(*s, "namespace") + "/" +
                                                     meta_str(*s, "name"));
    }
  }

  std::vector<const json*> managed;
  for (const json* s : services) {
    if (s && is_managed_load_balancer(*s) && !is_deleting(*s)) managed.push_back(s);
  }
  // Services already serving keep their ports; then the oldest first.
  std::sort(managed.begin(), managed.end(), [](const json* a, const json* b) {
    auto key = [](const json* s) {
      return std::make_tuple(!has_ingress(*s), meta_str(*s, "creationTimestamp"), meta_str(*s, "namespace"),
                             meta_str(*s, "name"));
    };
    return key(a) < key(b);
  });

  const std::vector<std::string> addrs = load_balancer_addresses(nodes);
  json ingress = json::array();
  for (const auto& ip : addrs) ingress.push_back({{"ip", ip}, {"ipMode", "VIP"}});

  std::vector<LoadBalancerPlan> out;
  for (const json* s : managed) {
    LoadBalancerPlan plan;
    plan.ns = meta_str(*s, "namespace");
    plan.name = meta_str(*s, "name");
    const std::string self = plan.ns + "/" + plan.name;
    std::vector<PortKey> mine;
    for (const auto& p : ports_of(*s)) {
      int port = int_at(p, "port");
      if (port <= 0) continue;
      PortKey key{port, protocol_of(p)};
      if (std::find(mine.begin(), mine.end(), key) != mine.end()) continue;
      auto it = taken.find(key);
      // Our own NodePort equal to our own port is no clash.
      if (it != taken.end() && it->second != "it is the NodePort of service " + self) {
        plan.conflict = "port " + port_text(port, key.second) + " is not available: " + it->second;
        break;
      }
      mine.push_back(key);
    }
    if (plan.conflict.empty()) {
      for (const auto& k : mine) taken[k] = "it is already used by LoadBalancer service " + self;
      plan.ingress = ingress;
    }
    out.push_back(std::move(plan));
  }
  return out;
}

}  // namespace k3dpp::controllers
