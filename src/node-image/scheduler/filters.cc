#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "scheduler/scheduler.h"
#include "common/json_read.h"

namespace k3dpp::scheduler {

namespace {

const json& field(const json& o, const char* a) {
  static const json kNull;
  return o.is_object() && o.contains(a) ? o[a] : kNull;
}

bool node_ready(const json& node) {
  for (const auto& c : field(field(node, "status"), "conditions")) {
    if (jvalue(c, "type", "") == "Ready") return jvalue(c, "status", "") == "True";
  }
  return false;
}

bool tolerates(const json& tol, const json& taint) {
  std::string effect = jvalue(tol, "effect", "");
  if (!effect.empty() && effect != jvalue(taint, "effect", "")) return false;
  std::string key = jvalue(tol, "key", "");
  std::string op = jvalue(tol, "operator", "Equal");
  if (key.empty()) return op == "Exists";
  if (key != jvalue(taint, "key", "")) return false;
  if (op == "Exists") return true;
  return jvalue(tol, "value", "") == jvalue(taint, "value", "");
}

bool match_expression(const json& labels, const json& expr) {
  std::string key = jvalue(expr, "key", "");
  std::string op = jvalue(expr, "operator", "");
  bool has = labels.is_object() && labels.contains(key);
  std::string val = has && labels[key].is_string() ? labels[key].get<std::string>() : "";
  std::vector<std::string> values;
  for (const auto& v : field(expr, "values")) values.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  bool in = std::find(values.begin(), values.end(), val) != values.end();
  if (op == "In") return has && in;
  if (op == "NotIn") return !has || !in;
  if (op == "Exists") return has;
  if (op == "DoesNotExist") return !has;
  if (op == "Gt" || op == "Lt") {
    if (!has || values.empty()) return false;
    try {
      long long a = std::stoll(val), b = std::stoll(values[0]);
      return op == "Gt" ? a > b : a < b;
    } catch (...) {
      return false;
    }
  }
  return false;
}

bool node_selector_terms_match(const json& terms, const json& node) {
  const json& labels = field(field(node, "metadata"), "labels");
  for (const auto& term : terms) {
    bool ok = true;
    bool any = false;
    for (const auto& e : field(term, "matchExpressions")) {
      any = true;
      if (!match_expression(labels, e)) ok = false;
    }
    for (const auto& e : field(term, "matchFields")) {
      any = true;
      json fields = {{"metadata.name", field(field(node, "metadata"), "name")}};
      if (!match_expression(fields, e)) ok = false;
    }
    if (any && ok) return true;
  }
  return false;
}

struct Resources {
  long long cpu = 0, memory = 0, pods = 0;
};

Resources requests_of(const json& pod) {
  Resources r;
  for (const auto& c : field(field(pod, "spec"), "containers")) {
    const json& req = field(field(c, "resources"), "requests");
    if (req.contains("cpu")) r.cpu += parse_cpu_milli(req["cpu"].is_string() ? req["cpu"].get<std::string>() : req["cpu"].dump());
    if (req.contains("memory"))
      r.memory += parse_quantity(req["memory"].is_string() ? req["memory"].get<std::string>() : req["memory"].dump());
  }
  r.pods = 1;
  return r;
}

Resources allocatable_of(const json& node) {
  const json& a = field(field(node, "status"), "allocatable");
  Resources r{1LL << 40, 1LL << 60, 110};
  if (a.contains("cpu")) r.cpu = parse_cpu_milli(a["cpu"].is_string() ? a["cpu"].get<std::string>() : a["cpu"].dump());
  if (a.contains("memory")) r.memory = parse_quantity(a["memory"].is_string() ? a["memory"].get<std::string>() : a["memory"].dump());
  if (a.contains("pods")) r.pods = parse_quantity(a["pods"].is_string() ? a["pods"].get<std::string>() : a["pods"].dump());
  return r;
}

// Requests as scoring sees them: a container without a cpu or memory request counts as 100m and
// 200Mi (Kubernetes' non-zero defaults), so pods without requests still spread by count.
constexpr long long kDefaultCpuMilli = 100;
constexpr long long kDefaultMemory = 200LL * 1024 * 1024;
constexpr double kSpreadWeight = 2.0;  // PodTopologySpread's default weight against least-allocated's 1

Resources score_requests_of(const json& pod) {
  Resources r;
  for (const auto& c : field(field(pod, "spec"), "containers")) {
    const json& req = field(field(c, "resources"), "requests");
    r.cpu += req.contains("cpu")
                 ? parse_cpu_milli(req["cpu"].is_string() ? req["cpu"].get<std::string>() : req["cpu"].dump())
                 : kDefaultCpuMilli;
    r.memory += req.contains("memory") ? parse_quantity(req["memory"].is_string() ? req["memory"].get<std::string>()
                                                                                  : req["memory"].dump())
                                       : kDefaultMemory;
  }
  r.pods = 1;
  return r;
}

double free_fraction(long long used, long long allocatable) {
  if (allocatable <= 0) return 0;
  double f = 1.0 - static_cast<double>(used) / static_cast<double>(allocatable);
  return f < 0 ? 0 : f;
}

std::set<std::string> host_ports(const json& pod) {
  std::set<std::string> out;
  for (const auto& c : field(field(pod, "spec"), "containers")) {
    for (const auto& p : field(c, "ports")) {
      if (p.contains("hostPort") && p["hostPort"].is_number() && p["hostPort"].get<long long>() > 0) {
        out.insert(jvalue(p, "protocol", "TCP") + "/" + jvalue(p, "hostIP", "0.0.0.0") + "/" +
                   std::to_string(p["hostPort"].get<long long>()));
      }
    }
  }
  return out;
}

const json* owner_of(const json& pod) {
  for (const auto& r : field(field(pod, "metadata"), "ownerReferences")) {
    if (jvalue(r, "controller", false)) return &r;
  }
  return nullptr;
}

}  // namespace

long long parse_cpu_milli(const std::string& q) {
  if (q.empty()) return 0;
  try {
    if (q.back() == 'm') return std::stoll(q.substr(0, q.size() - 1));
    return static_cast<long long>(std::llround(std::stod(q) * 1000));
  } catch (...) {
    return 0;
  }
}

long long parse_quantity(const std::string& q) {
  static const std::vector<std::pair<std::string, double>> kSuffixes = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"k", 1e3},     {"M", 1e6},        {"G", 1e9},           {"T", 1e12}, {"m", 1e-3}};
  try {
    for (const auto& [s, mult] : kSuffixes) {
      if (q.size() > s.size() && q.compare(q.size() - s.size(), s.size(), s) == 0) {
        return static_cast<long long>(std::stod(q.substr(0, q.size() - s.size())) * mult);
      }
    }
    return static_cast<long long>(std::stod(q));
  } catch (...) {
    return 0;
  }
}

PodUsage usage_of(const json& pod) {
  PodUsage u;
  Resources r = requests_of(pod);
  u.cpu = r.cpu;
  u.memory = r.memory;
  Resources s = score_requests_of(pod);
  u.score_cpu = s.cpu;
  u.score_memory = s.memory;
  const json* o = owner_of(pod);
  if (o != nullptr) u.owner_uid = jvalue(*o, "uid", "");
  u.host_ports = host_ports(pod);
  return u;
}

void NodeUsage::add(const PodUsage& u) {
  cpu += u.cpu;
  memory += u.memory;
  score_cpu += u.score_cpu;
  score_memory += u.score_memory;
  pods += 1;
  if (!u.owner_uid.empty()) owners[u.owner_uid] += 1;
  for (const auto& hp : u.host_ports) host_ports.insert(hp);
}

void NodeUsage::remove(const PodUsage& u) {
  cpu -= u.cpu;
  memory -= u.memory;
  score_cpu -= u.score_cpu;
  score_memory -= u.score_memory;
  pods -= 1;
  if (!u.owner_uid.empty()) {
    auto it = owners.find(u.owner_uid);
    if (it != owners.end() && --it->second <= 0) owners.erase(it);
  }
  for (const auto& hp : u.host_ports) {
    auto it = host_ports.find(hp);
    if (it != host_ports.end()) host_ports.erase(it);
  }
}

std::string filter_node(const json& pod, const json& node, const std::vector<const json*>& pods_on_node) {
  NodeUsage on;
  for (const json* p : pods_on_node) on.add(usage_of(*p));
  return filter_on_usage(pod, node, on);
}

NodeInfo node_info(std::shared_ptr<const json> node) {
  NodeInfo ni;
  const json& n = *node;
  ni.name = field(field(n, "metadata"), "name").is_string() ? field(field(n, "metadata"), "name").get<std::string>() : "";
  Resources a = allocatable_of(n);
  ni.alloc_cpu = a.cpu;
  ni.alloc_memory = a.memory;
  ni.alloc_pods = a.pods;
  for (const auto& t : field(field(n, "spec"), "taints")) ni.taints.push_back(t);
  if (jvalue(field(n, "spec"), "unschedulable", false)) {
    ni.taints.push_back({{"key", "node.kubernetes.io/unschedulable"}, {"effect", "NoSchedule"}});
  }
  if (!node_ready(n)) {
    bool has = std::any_of(ni.taints.begin(), ni.taints.end(),
                           [](const json& t) { return jvalue(t, "key", "") == "node.kubernetes.io/not-ready"; });
    if (!has) ni.taints.push_back({{"key", "node.kubernetes.io/not-ready"}, {"effect", "NoSchedule"}});
  }
  ni.object = std::move(node);
  ni.labels = &field(field(*ni.object, "metadata"), "labels");
  return ni;
}

bool same_for_scheduling(const NodeInfo& a, const NodeInfo& b) {
  return a.alloc_cpu == b.alloc_cpu && a.alloc_memory == b.alloc_memory && a.alloc_pods == b.alloc_pods &&
         a.taints == b.taints &&
         field(field(*a.object, "metadata"), "labels") == field(field(*b.object, "metadata"), "labels");
}

std::string filter_on_usage(const json& pod, const json& node, const NodeUsage& on_node) {
  return filter_prepared(pod, usage_of(pod), node_info(std::make_shared<const json>(node)), on_node);
}

PodInfo pod_info(const json& pod) { return pod_info(pod, usage_of(pod)); }

PodInfo pod_info(const json& pod, PodUsage usage) {
  PodInfo p;
  p.usage = std::move(usage);
  const json& spec = field(pod, "spec");
  const json& tol = field(spec, "tolerations");
  if (tol.is_array() && !tol.empty()) p.tolerations = &tol;
  const json& ns = field(spec, "nodeSelector");
  if (ns.is_object() && !ns.empty()) p.node_selector = &ns;
  const json& aff = field(spec, "affinity");
  if (!aff.is_null()) {
    const json& req =
        field(field(field(aff, "nodeAffinity"), "requiredDuringSchedulingIgnoredDuringExecution"), "nodeSelectorTerms");
    if (req.is_array() && !req.empty()) p.required_terms = &req;
  }
  return p;
}

std::string filter_prepared(const json& pod, const PodUsage& want, const NodeInfo& info, const NodeUsage& on_node) {
  return filter_slot(pod_info(pod, want), info, on_node);
}

std::string filter_slot(const PodInfo& pod, const NodeInfo& info, const NodeUsage& on_node) {
  const PodUsage& want = pod.usage;
  const json& node = *info.object;
  for (const auto& t : info.taints) {
    std::string effect = jvalue(t, "effect", "");
    if (effect != "NoSchedule" && effect != "NoExecute") continue;
    bool ok = false;
    if (pod.tolerations != nullptr) {
      for (const auto& tol : *pod.tolerations) {
        if (tolerates(tol, t)) ok = true;
      }
    }
    if (!ok) {
      if (jvalue(t, "key", "") == "node.kubernetes.io/unschedulable") return "node(s) were unschedulable";
      std::string v = t.contains("value") && t["value"].is_string() && !t["value"].get<std::string>().empty()
                          ? ": " + t["value"].get<std::string>()
                          : "";
      return "node(s) had untolerated taint {" + jvalue(t, "key", "") + v + "}";
    }
  }
  if (pod.node_selector != nullptr) {
    const json& labels = info.labels != nullptr ? *info.labels : field(field(node, "metadata"), "labels");
    for (auto it = pod.node_selector->begin(); it != pod.node_selector->end(); ++it) {
      if (!labels.is_object()) return "node(s) didn't match Pod's node affinity/selector";
      auto l = labels.find(it.key());
      if (l == labels.end() || *l != it.value()) return "node(s) didn't match Pod's node affinity/selector";
    }
  }
  if (pod.required_terms != nullptr && !node_selector_terms_match(*pod.required_terms, node)) {
    return "node(s) didn't match Pod's node affinity/selector";
  }
  if (on_node.pods + 1 > info.alloc_pods) return "Too many pods";
  if (want.cpu > 0 && on_node.cpu + want.cpu > info.alloc_cpu) return "Insufficient cpu";
  if (want.memory > 0 && on_node.memory + want.memory > info.alloc_memory) return "Insufficient memory";
  for (const auto& hp : want.host_ports) {
    if (on_node.host_ports.count(hp)) return "node(s) didn't have free ports for the requested pod ports";
  }
  return "";
}

Decision schedule_one(const json& pod, const std::vector<const json*>& nodes, const std::vector<const json*>& pods) {
  UsageByNode usage;
  for (const json* p : pods) {
    const json& nn = field(field(*p, "spec"), "nodeName");
    usage[nn.is_string() ? nn.get<std::string>() : ""].add(usage_of(*p));
  }
  return schedule_on_usage(pod, nodes, usage);
}

Decision schedule_on_usage(const json& pod, const std::vector<const json*>& nodes, const UsageByNode& usage) {
  std::vector<NodeInfo> infos;
  infos.reserve(nodes.size());
  for (const json* n : nodes) infos.push_back(node_info(std::make_shared<const json>(*n)));
  std::vector<const NodeInfo*> ptrs;
  for (const auto& i : infos) ptrs.push_back(&i);
  return schedule_prepared(pod, usage_of(pod), ptrs, usage);
}

Decision schedule_prepared(const json& pod, const PodUsage& want, const std::vector<const NodeInfo*>& nodes,
                           const UsageByNode& usage) {
  std::vector<NodeSlot> slots;
  slots.reserve(nodes.size());
  for (const NodeInfo* n : nodes) {
    auto uit = usage.find(n->name);
    slots.push_back({n, uit != usage.end() ? &uit->second : nullptr});
  }
  return schedule_slots(pod_info(pod, want), slots);
}

Decision schedule_slots(const PodInfo& pod, const std::vector<NodeSlot>& nodes) {
  static const NodeUsage kEmpty;
  std::map<std::string, int> reasons;
  const PodUsage& want = pod.usage;
  const std::string& owner_uid = want.owner_uid;
  struct Candidate {
    const std::string* name = nullptr;
    double least_allocated = 0;  // 0..100
    long long same_owner = 0;
    size_t pods = 0;
  };
  std::vector<Candidate> feasible;
  feasible.reserve(nodes.size());
  for (const NodeSlot& slot : nodes) {
    const NodeInfo* n = slot.info;
    const NodeUsage& on = slot.usage != nullptr ? *slot.usage : kEmpty;
    std::string why = filter_slot(pod, *n, on);
    if (!why.empty()) {
      reasons[why]++;
      continue;
    }
    Candidate c;
    c.name = &n->name;
    c.pods = static_cast<size_t>(on.pods);
    if (!owner_uid.empty()) {
      auto oit = on.owners.find(owner_uid);
      if (oit != on.owners.end()) c.same_owner = oit->second;
    }
    c.least_allocated = (free_fraction(want.score_cpu + on.score_cpu, n->alloc_cpu) +
                         free_fraction(want.score_memory + on.score_memory, n->alloc_memory)) *
                        50.0;
    feasible.push_back(c);
  }
  long long max_same = 0, min_same = 0;
  if (!feasible.empty()) {
    min_same = feasible.front().same_owner;
    for (const auto& c : feasible) {
      max_same = std::max(max_same, c.same_owner);
      min_same = std::min(min_same, c.same_owner);
    }
  }
  const std::string* best = nullptr;
  double best_score = -1e18;
  size_t best_pods = 0;
  for (const auto& c : feasible) {
    double spread = max_same == min_same ? 100.0
                                         : 100.0 * static_cast<double>(max_same - c.same_owner) /
                                               static_cast<double>(max_same - min_same);
    double score = c.least_allocated + kSpreadWeight * spread;
    bool better = score > best_score + 1e-9 ||
                  (std::abs(score - best_score) <= 1e-9 && (c.pods < best_pods || (c.pods == best_pods && *c.name < *best)));
    if (best == nullptr || better) {
      best_score = score;
      best = c.name;
      best_pods = c.pods;
    }
  }
  Decision d;
  if (best != nullptr) {
    d.node = *best;
    return d;
  }
  // "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are
  // available: 2 Preemption is not helpful for scheduling."
  std::vector<std::string> parts;
  for (const auto& [why, n] : reasons) parts.push_back(std::to_string(n) + " " + why);
  std::sort(parts.begin(), parts.end());
  std::string total = std::to_string(nodes.size());
  std::string msg = "0/" + total + " nodes are available";
  if (!parts.empty()) {
    msg += ": ";
    for (size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
  }
  msg += ". preemption: 0/" + total + " nodes are available";
  if (!nodes.empty()) msg += ": " + total + " Preemption is not helpful for scheduling";
  msg += ".";
  d.message = msg;
  return d;
}

}  // namespace k3dpp::scheduler
