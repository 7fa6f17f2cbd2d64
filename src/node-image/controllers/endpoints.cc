#include "controllers/endpoints.h"

#include <algorithm>
#include <map>

#include "apimachinery/selectors.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

bool selects(const json& service, const json& pod) {
  if (!service.contains("spec") || !service["spec"].contains("selector")) return false;
  const json& sel = service["spec"]["selector"];
  if (!sel.is_object() || sel.empty()) return false;
  if (meta_str(pod, "namespace") != meta_str(service, "namespace")) return false;
  const json& labels = labels_of(pod);
  for (auto it = sel.begin(); it != sel.end(); ++it) {
    if (!labels.contains(it.key()) || labels[it.key()] != it.value()) return false;
  }
  return true;
}

std::string pod_ip(const json& pod) {
  if (!pod.contains("status") || !pod["status"].is_object()) return "";
  return jvalue(pod["status"], "podIP", "");
}

bool terminal(const json& pod) {
  std::string phase = pod.contains("status") ? jvalue(pod["status"], "phase", "") : "";
  return phase == "Succeeded" || phase == "Failed";
}

json target_ref(const json& pod) {
  return json{{"kind", "Pod"},
              {"namespace", meta_str(pod, "namespace")},
              {"name", meta_str(pod, "name")},
              {"uid", meta_str(pod, "uid")}};
}

// Resolved ports of every service port on this pod; empty when a named port is missing.
json resolved_ports(const json& service, const json& pod, bool for_slice) {
  json out = json::array();
  for (const auto& sp : jvalue(service["spec"], "ports", json::array())) {
    int port = resolve_target_port(sp, pod);
    if (port < 0) return json::array();
    json p = {{"port", port}, {"protocol", jvalue(sp, "protocol", "TCP")}};
    // Endpoints omit the name of a single unnamed port; slices always carry it ("" when unnamed).
    if (sp.contains("name") && !sp["name"].get<std::string>().empty()) {
      p["name"] = sp["name"];
    } else if (for_slice) {
      p["name"] = "";
    }
    if (sp.contains("appProtocol")) p["appProtocol"] = sp["appProtocol"];
    out.push_back(p);
  }
  return out;
}

bool publish_not_ready(const json& service) { return jvalue(service["spec"], "publishNotReadyAddresses", false); }

std::vector<const json*> selected(const json& service, const std::vector<const json*>& pods) {
  std::vector<const json*> out;
  for (const json* p : pods) {
    if (selects(service, *p) && !pod_ip(*p).empty() && !terminal(*p)) out.push_back(p);
  }
  std::sort(out.begin(), out.end(), [](const json* a, const json* b) {
    return std::make_pair(pod_ip(*a), meta_str(*a, "name")) < std::make_pair(pod_ip(*b), meta_str(*b, "name"));
  });
  return out;
}

}  // namespace

int resolve_target_port(const json& sp, const json& pod) {
  const json tp = sp.contains("targetPort") ? sp["targetPort"] : jvalue(sp, "port", json(0));
  if (tp.is_number_integer()) return tp.get<int>();
  if (tp.is_string()) {
    std::string name = tp.get<std::string>();
    if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) return std::stoi(name);
    std::string proto = jvalue(sp, "protocol", "TCP");
    for (const char* list : {"containers", "initContainers"}) {
      for (const auto& c : pod["spec"].value(list, json::array())) {
        for (const auto& cp : jvalue(c, "ports", json::array())) {
          if (jvalue(cp, "name", "") == name && jvalue(cp, "protocol", "TCP") == proto) {
            return jvalue(cp, "containerPort", -1);
          }
        }
      }
    }
    return -1;
  }
  return -1;
}

json desired_endpoints(const json& service, const std::vector<const json*>& pods) {
  json ep = {{"apiVersion", "v1"},
             {"kind", "Endpoints"},
             {"metadata", {{"name", meta_str(service, "name")}, {"namespace", meta_str(service, "namespace")}}}};
  json labels = labels_of(service);
  if (jvalue(service["spec"], "clusterIP", "") == "None") labels["service.kubernetes.io/headless"] = "";
  if (!labels.empty()) ep["metadata"]["labels"] = labels;
  // port set (dumped) → subset
  std::map<std::string, json> subsets;
  bool pnr = publish_not_ready(service);
  for (const json* p : selected(service, pods)) {
    if (is_deleting(*p) && !pnr) continue;
    json ports = resolved_ports(service, *p, false);
    if (ports.empty() && !jvalue(service["spec"], "ports", json::array()).empty()) continue;
    json addr = {{"ip", pod_ip(*p)}, {"targetRef", target_ref(*p)}};
    std::string node = p->contains("spec") ? jvalue((*p)["spec"], "nodeName", "") : "";
    if (!node.empty()) addr["nodeName"] = node;
    std::string hostname = jvalue((*p)["spec"], "hostname", "");
    if (!hostname.empty() && jvalue((*p)["spec"], "subdomain", "") == meta_str(service, "name")) {
      addr["hostname"] = hostname;
    }
    json& s = subsets[ports.dump()];
    if (s.is_null()) s = {{"ports", ports}};
    bool ready = pod_is_ready(*p) || pnr;
    s[ready ? "addresses" : "notReadyAddresses"].push_back(addr);
  }
  if (!subsets.empty()) {
    json arr = json::array();
    for (auto& [k, s] : subsets) {
      if (s["ports"].empty()) s.erase("ports");
      arr.push_back(s);
    }
    ep["subsets"] = arr;
  }
  return ep;
}

std::vector<SliceContent> desired_slices(const json& service, const std::vector<const json*>& pods) {
  std::map<std::string, SliceContent> by_ports;
  bool pnr = publish_not_ready(service);
  for (const json* p : selected(service, pods)) {
    json ports = resolved_ports(service, *p, true);
    if (ports.empty() && !jvalue(service["spec"], "ports", json::array()).empty()) continue;
    bool terminating = is_deleting(*p);
    bool ready = pod_is_ready(*p);
    json e = {{"addresses", json::array({pod_ip(*p)})},
              {"conditions",
               {{"ready", (ready && !terminating) || pnr}, {"serving", ready || pnr}, {"terminating", terminating}}},
              {"targetRef", target_ref(*p)}};
    std::string node = jvalue((*p)["spec"], "nodeName", "");
    if (!node.empty()) e["nodeName"] = node;
    std::string hostname = jvalue((*p)["spec"], "hostname", "");
    if (!hostname.empty() && jvalue((*p)["spec"], "subdomain", "") == meta_str(service, "name")) e["hostname"] = hostname;
    auto& sc = by_ports[ports.dump()];
    if (sc.ports.is_null()) {
      sc.ports = ports;
      sc.endpoints = json::array();
    }
    sc.endpoints.push_back(e);
  }
  std::vector<SliceContent> out;
  for (auto& [k, v] : by_ports) {
    // At most 100 endpoints per slice, as the endpointslice controller does.
    for (size_t i = 0; i < v.endpoints.size(); i += 100) {
      SliceContent part{v.ports, json::array()};
      for (size_t j = i; j < std::min(v.endpoints.size(), i + 100); ++j) part.endpoints.push_back(v.endpoints[j]);
      out.push_back(std::move(part));
    }
  }
  if (out.empty()) out.push_back(SliceContent{json::array(), json::array()});  // placeholder
  return out;
}

json slice_labels(const json& service) {
  json labels = labels_of(service);
  labels[kServiceNameLabel] = meta_str(service, "name");
  labels[kManagedByLabel] = kEndpointSliceController;
  if (jvalue(service["spec"], "clusterIP", "") == "None") labels["service.kubernetes.io/headless"] = "";
  return labels;
}

}  // namespace k3dpp::controllers
