#include "controllers/node_lifecycle.h"

#include "common/strings.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

std::string node_ready_status(const json& node) {
  if (!node.contains("status") || !node["status"].contains("conditions")) return "";
  for (const auto& c : node["status"]["conditions"]) {
    if (jvalue(c, "type", "") == "Ready") return jvalue(c, "status", "");
  }
  return "";
}

json reconcile_taints(const json& node, const std::string& now) {
  const json spec = jvalue(node, "spec", json::object());
  json current = jvalue(spec, "taints", json::array());
  std::string ready = node_ready_status(node);
  std::vector<std::pair<std::string, std::string>> want;  // key, effect
  if (ready == "False") {
    want = {{kTaintNotReady, "NoSchedule"}, {kTaintNotReady, "NoExecute"}};
  } else if (ready == "Unknown") {
    want = {{kTaintUnreachable, "NoSchedule"}, {kTaintUnreachable, "NoExecute"}};
  }
  if (jvalue(spec, "unschedulable", false)) want.emplace_back(kTaintUnschedulable, "NoSchedule");
  auto ours = [](const std::string& k) { return k == kTaintNotReady || k == kTaintUnreachable || k == kTaintUnschedulable; };
  json out = json::array();
  for (const auto& t : current) {
    std::string k = jvalue(t, "key", ""), e = jvalue(t, "effect", "");
    if (!ours(k)) {
      out.push_back(t);
      continue;
    }
    if (std::find(want.begin(), want.end(), std::make_pair(k, e)) != want.end()) out.push_back(t);
  }
  for (const auto& [k, e] : want) {
    bool have = false;
    for (const auto& t : out) have |= jvalue(t, "key", "") == k && jvalue(t, "effect", "") == e;
    if (have) continue;
    json t = {{"key", k}, {"effect", e}};
    if (e == "NoExecute") t["timeAdded"] = now;
    out.push_back(t);
  }
  return out;
}

json conditions_unknown(const json& node, const std::string& now) {
  json conds = node.contains("status") ? jvalue(node["status"], "conditions", json::array()) : json::array();
  for (const char* type : {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}) {
    bool found = false;
    for (auto& c : conds) {
      if (jvalue(c, "type", "") != type) continue;
      found = true;
      if (jvalue(c, "status", "") != "Unknown") c["lastTransitionTime"] = now;
      c["status"] = "Unknown";
      c["reason"] = "NodeStatusUnknown";
      c["message"] = "Kubelet stopped posting node status.";
    }
    if (!found) {
      conds.push_back({{"type", type},
                       {"status", "Unknown"},
                       {"reason", "NodeStatusNeverUpdated"},
                       {"message", "Kubelet never posted node status."},
                       {"lastHeartbeatTime", now},
                       {"lastTransitionTime", now}});
    }
  }
  return conds;
}

bool toleration_matches(const json& tol, const json& taint) {
  std::string effect = jvalue(tol, "effect", "");
  if (!effect.empty() && effect != jvalue(taint, "effect", "")) return false;
  std::string key = jvalue(tol, "key", "");
  std::string op = jvalue(tol, "operator", "Equal");
  if (key.empty()) return op == "Exists";
  if (key != jvalue(taint, "key", "")) return false;
  if (op == "Exists") return true;
  return jvalue(tol, "value", "") == jvalue(taint, "value", "");
}

std::optional<TimePoint> eviction_time(const json& pod, const json& taints, TimePoint now) {
  json tols = pod.contains("spec") ? jvalue(pod["spec"], "tolerations", json::array()) : json::array();
  std::optional<TimePoint> due;
  for (const auto& taint : taints) {
    if (jvalue(taint, "effect", "") != "NoExecute") continue;
    bool matched = false;
    std::optional<long long> secs;  // min tolerationSeconds among matches; nullopt = forever
    bool forever = false;
    for (const auto& t : tols) {
      if (!toleration_matches(t, taint)) continue;
      matched = true;
      if (!t.contains("tolerationSeconds") || t["tolerationSeconds"].is_null()) {
        forever = true;
        continue;
      }
      long long s = t["tolerationSeconds"].get<long long>();
      if (!secs || s < *secs) secs = s;
    }
    if (!matched) return now;
    if (!secs) continue;  // tolerated forever
    (void)forever;  // Kubernetes: the smallest tolerationSeconds of the matching tolerations wins
    TimePoint added = parse_rfc3339(jvalue(taint, "timeAdded", "")).value_or(now);
    TimePoint t = added + std::chrono::seconds(std::max(0LL, *secs));
    if (!due || t < *due) due = t;
  }
  return due;
}

int free_cidr_index(const std::set<int>& used) {
  for (int i = 0; i < 256; ++i) {
    if (!used.count(i)) return i;
  }
  return -1;
}

int cidr_index(const std::string& cidr, const std::string& prefix) {
  if (cidr.rfind(prefix, 0) != 0) return -1;
  std::string rest = cidr.substr(prefix.size());
  auto dot = rest.find('.');
  if (dot == std::string::npos || rest.substr(dot) != ".0/24") return -1;
  long long n = 0;
  if (!strings::parse_int(rest.substr(0, dot), n) || n < 0 || n > 255) return -1;
  return static_cast<int>(n);
}

}  // namespace k3dpp::controllers
