#include "controllers/storage.h"

#include <algorithm>
#include <cmath>

#include "apimachinery/selectors.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

long long parse_storage(const std::string& q) {
  if (q.empty()) return -1;
  size_t i = 0;
  while (i < q.size() && (std::isdigit(static_cast<unsigned char>(q[i])) || q[i] == '.')) ++i;
  if (i == 0) return -1;
  double v = 0;
  try {
    v = std::stod(q.substr(0, i));
  } catch (...) {
    return -1;
  }
  std::string suf = q.substr(i);
  static const std::vector<std::pair<std::string, double>> kSuffixes = {
      {"", 1},          {"k", 1e3},           {"M", 1e6},           {"G", 1e9},          {"T", 1e12},
      {"P", 1e15},      {"E", 1e18},          {"Ki", 1024.0},       {"Mi", 1048576.0},   {"Gi", 1073741824.0},
      {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0}, {"m", 1e-3}};
  for (const auto& [s, m] : kSuffixes) {
    if (s == suf) return static_cast<long long>(std::ceil(v * m));
  }
  return -1;
}

json local_path_storage_class() {
  return json{{"apiVersion", "storage.k8s.io/v1"},
              {"kind", "StorageClass"},
              {"metadata",
               {{"name", kLocalPathClass},
                {"annotations", {{kDefaultClassAnnotation, "true"}, {"defaultVolumeType", "local"}}}}},
              {"provisioner", kLocalPathProvisioner},
              {"reclaimPolicy", "Delete"},
              {"volumeBindingMode", "WaitForFirstConsumer"},
              {"allowVolumeExpansion", false}};
}

std::string claim_class(const json& pvc) {
  if (!pvc.contains("spec") || !pvc["spec"].contains("storageClassName") || !pvc["spec"]["storageClassName"].is_string()) {
    return "";
  }
  return pvc["spec"]["storageClassName"].get<std::string>();
}

namespace {

std::string pv_class(const json& pv) {
  if (!pv["spec"].contains("storageClassName") || !pv["spec"]["storageClassName"].is_string()) return "";
  return pv["spec"]["storageClassName"].get<std::string>();
}

long long request_of(const json& pvc) {
  const json& s = pvc["spec"];
  if (!s.contains("resources") || !s["resources"].contains("requests") ||
      !s["resources"]["requests"].contains("storage")) {
    return 0;
  }
  const json& v = s["resources"]["requests"]["storage"];
  return v.is_string() ? parse_storage(v.get<std::string>()) : (v.is_number() ? v.get<long long>() : 0);
}

long long capacity_of(const json& pv) {
  if (!pv["spec"].contains("capacity") || !pv["spec"]["capacity"].contains("storage")) return 0;
  const json& v = pv["spec"]["capacity"]["storage"];
  return v.is_string() ? parse_storage(v.get<std::string>()) : (v.is_number() ? v.get<long long>() : 0);
}

bool match_expr(const json& labels, const std::string& name, const json& e) {
  std::string key = jvalue(e, "key", ""), op = jvalue(e, "operator", "");
  std::string val;
  bool has = false;
  if (key == "metadata.name") {
    has = true;
    val = name;
  } else if (labels.is_object() && labels.contains(key) && labels[key].is_string()) {
    has = true;
    val = labels[key].get<std::string>();
  }
  bool in = false;
  for (const auto& v : jvalue(e, "values", json::array())) in |= v.is_string() && v.get<std::string>() == val;
  if (op == "In") return has && in;
  if (op == "NotIn") return !has || !in;
  if (op == "Exists") return has;
  if (op == "DoesNotExist") return !has;
  return false;
}

}  // namespace

bool volume_node_affinity_matches(const json& pv, const json& node) {
  if (!pv.contains("spec") || !pv["spec"].contains("nodeAffinity") ||
      !pv["spec"]["nodeAffinity"].contains("required")) {
    return true;
  }
  const json labels = node.contains("metadata") ? jvalue(node["metadata"], "labels", json::object()) : json::object();
  std::string name = meta_str(node, "name");
  for (const auto& term : jvalue(pv["spec"]["nodeAffinity"]["required"], "nodeSelectorTerms", json::array())) {
    bool ok = true;
    for (const auto& e : jvalue(term, "matchExpressions", json::array())) ok &= match_expr(labels, name, e);
    for (const auto& e : jvalue(term, "matchFields", json::array())) ok &= match_expr(json::object(), name, e);
    if (ok) return true;
  }
  return false;
}

bool volume_matches(const json& pv, const json& pvc, const json* node) {
  if (is_deleting(pv)) return false;
  std::string phase = pv.contains("status") ? jvalue(pv["status"], "phase", "") : "";
  if (phase == "Released" || phase == "Failed") return false;
  if (pv["spec"].contains("claimRef") && pv["spec"]["claimRef"].is_object()) {
    const json& ref = pv["spec"]["claimRef"];
    if (jvalue(ref, "name", "") != meta_str(pvc, "name") || jvalue(ref, "namespace", "") != meta_str(pvc, "namespace")) {
      return false;
    }
    std::string uid = jvalue(ref, "uid", "");
    if (!uid.empty() && uid != meta_str(pvc, "uid")) return false;
  }
  if (pv_class(pv) != claim_class(pvc)) return false;
  for (const auto& m : jvalue(pvc["spec"], "accessModes", json::array())) {
    auto modes = jvalue(pv["spec"], "accessModes", json::array());
    if (std::find(modes.begin(), modes.end(), m) == modes.end()) return false;
  }
  if (capacity_of(pv) < request_of(pvc)) return false;
  if (jvalue(pv["spec"], "volumeMode", "Filesystem") != jvalue(pvc["spec"], "volumeMode", "Filesystem")) return false;
  if (pvc["spec"].contains("selector") && !pvc["spec"]["selector"].is_null()) {
    auto sel = apimachinery::LabelSelector::from_json(pvc["spec"]["selector"]);
    if (!sel || !sel->matches(labels_of(pv))) return false;
  }
  if (node != nullptr && !volume_node_affinity_matches(pv, *node)) return false;
  return true;
}

const json* find_best_volume(const std::vector<const json*>& pvs, const json& pvc, const json* node) {
  const json* best = nullptr;
  for (const json* pv : pvs) {
    if (!volume_matches(*pv, pvc, node)) continue;
    bool prebound = (*pv)["spec"].contains("claimRef") && (*pv)["spec"]["claimRef"].is_object();
    if (prebound) return pv;
    if (best == nullptr || capacity_of(*pv) < capacity_of(*best) ||
        (capacity_of(*pv) == capacity_of(*best) && meta_str(*pv, "name") < meta_str(*best, "name"))) {
      best = pv;
    }
  }
  return best;
}

json local_path_volume(const json& pvc, const json& sc, const std::string& node) {
  std::string uid = meta_str(pvc, "uid"), ns = meta_str(pvc, "namespace"), name = meta_str(pvc, "name");
  json storage = jvalue(pvc["spec"]["resources"]["requests"], "storage", json("0"));
  return json{
      {"apiVersion", "v1"},
      {"kind", "PersistentVolume"},
      {"metadata",
       {{"name", "pvc-" + uid},
        {"annotations", {{kProvisionedByAnnotation, jvalue(sc, "provisioner", kLocalPathProvisioner)},
                         {"local.path.provisioner/selected-node", node}}}}},
      {"spec",
       {{"capacity", {{"storage", storage}}},
        {"accessModes", jvalue(pvc["spec"], "accessModes", json::array({"ReadWriteOnce"}))},
        {"persistentVolumeReclaimPolicy", jvalue(sc, "reclaimPolicy", "Delete")},
        {"storageClassName", meta_str(sc, "name")},
        {"volumeMode", jvalue(pvc["spec"], "volumeMode", "Filesystem")},
        {"hostPath",
         {{"path", std::string(kLocalPathRoot) + "/pvc-" + uid + "_" + ns + "_" + name}, {"type", "DirectoryOrCreate"}}},
        {"nodeAffinity",
         {{"required",
           {{"nodeSelectorTerms",
             json::array({{{"matchExpressions", json::array({{{"key", "kubernetes.io/hostname"},
                                                               {"operator", "In"},
                                                               {"values", json::array({node})}}})}}})}}}}},
        {"claimRef",
         {{"kind", "PersistentVolumeClaim"},
          {"namespace", ns},
          {"name", name},
          {"uid", uid},
          {"apiVersion", "v1"},
          {"resourceVersion", meta_str(pvc, "resourceVersion")}}}}}};
}

}  // namespace k3dpp::controllers
