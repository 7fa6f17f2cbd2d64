#include "nodeapi/paths.h"
#include "common/json_read.h"

#include <vector>

namespace k3dpp::nodeapi {
namespace {

using json = nlohmann::json;

std::string str(const json& j, const json::json_pointer& p) {
  if (!j.contains(p)) return {};
  const json& v = j.at(p);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    if (next > pos) out.emplace_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

std::vector<std::string> container_names(const json& pod, const char* field) {
  std::vector<std::string> names;
  const json* list = nullptr;
  if (pod.contains("spec") && pod["spec"].contains(field)) list = &pod["spec"][field];
  if (list && list->is_array())
    for (auto& c : *list)
      if (c.contains("name") && c["name"].is_string()) names.push_back(c["name"].get<std::string>());
  return names;
}

}  // namespace

const char* subresource_name(StreamKind kind) {
  switch (kind) {
    case StreamKind::kLog: return "log";
    case StreamKind::kExec: return "exec";
    case StreamKind::kAttach: return "attach";
    case StreamKind::kPortForward: return "portforward";
  }
  return "";
}

std::string_view raw_query(std::string_view target) {
  size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

std::string drop_query_param(std::string_view raw, std::string_view name) {
  std::string out;
  size_t pos = 0;
  while (pos <= raw.size() && !raw.empty()) {
    size_t amp = raw.find('&', pos);
    if (amp == std::string_view::npos) amp = raw.size();
    std::string_view part = raw.substr(pos, amp - pos);
    if (!part.empty()) {
      std::string_view key = part.substr(0, part.find('='));
      if (http::url_decode(key, true) != name) {
        if (!out.empty()) out += '&';
        out += part;
      }
    }
    pos = amp + 1;
  }
  return out;
}

Result<NodeRequestPlan> plan_node_request(StreamKind kind, const json& pod, const std::string& container,
                                          std::string_view query) {
  std::string name = str(pod, "/metadata/name"_json_pointer);
  std::string ns = str(pod, "/metadata/namespace"_json_pointer);
  NodeRequestPlan plan;
  plan.node_name = str(pod, "/spec/nodeName"_json_pointer);
  if (plan.node_name.empty()) return Error("pod " + name + " does not have a host assigned", "BadRequest");
  std::string rest = drop_query_param(query, "container");
  if (kind == StreamKind::kPortForward) {
    plan.target = "/portForward/" + ns + "/" + name;
  } else {
    std::string phase = str(pod, "/status/phase"_json_pointer);
    if ((kind == StreamKind::kExec || kind == StreamKind::kAttach) && (phase == "Succeeded" || phase == "Failed")) {
      return Error(std::string("cannot ") + (kind == StreamKind::kExec ? "exec into" : "attach to") +
                       " a container in a completed pod; current phase is " + phase,
                   "BadRequest");
    }
    auto app = container_names(pod, "containers");
    plan.container = container;
    if (plan.container.empty()) {
      if (app.size() == 1) {
        plan.container = app[0];
      } else {
        std::string list;
        for (auto& c : app) list += (list.empty() ? "" : " ") + c;
        return Error("a container name must be specified for pod " + name + ", choose one of: [" + list + "]",
                     "BadRequest");
      }
    } else {
      bool known = false;
      for (const char* field : {"containers", "initContainers", "ephemeralContainers"})
        for (auto& c : container_names(pod, field)) known = known || c == plan.container;
      if (!known) return Error("container " + plan.container + " is not valid for pod " + name, "BadRequest");
    }
    const char* prefix = kind == StreamKind::kLog ? "/containerLogs/" : kind == StreamKind::kExec ? "/exec/" : "/attach/";
    plan.target = prefix + ns + "/" + name + "/" + plan.container;
  }
  if (!rest.empty()) plan.target += "?" + rest;
  return plan;
}

Result<std::string> node_internal_ip(const json& node) {
  std::string first;
  if (node.contains("status") && node["status"].contains("addresses") && node["status"]["addresses"].is_array()) {
    for (auto& a : node["status"]["addresses"]) {
      std::string type = jvalue(a, "type", "");
      std::string addr = jvalue(a, "address", "");
      if (addr.empty()) continue;
      if (type == "InternalIP") return addr;
      if (first.empty() && type != "Hostname") first = addr;
    }
  }
  if (!first.empty()) return first;
  return Error("node " + str(node, "/metadata/name"_json_pointer) + " has no InternalIP address", "BadRequest");
}

http::Response error_response(const Error& error) {
  if (error.is("NotFound")) return http::status_response(404, "NotFound", error.message);
  if (error.is("BadRequest")) return http::status_response(400, "BadRequest", error.message);
  if (error.is("Forbidden")) return http::status_response(403, "Forbidden", error.message);
  if (error.is("Unavailable")) return http::status_response(503, "ServiceUnavailable", error.message);
  return http::status_response(500, "InternalError", error.message);
}

Result<NodePath> parse_node_path(std::string_view path) {
  auto parts = split_path(path);
  NodePath out;
  if (parts.empty()) return Error("no such path", "NotFound");
  const std::string& verb = parts[0];
  size_t want;
  if (verb == "containerLogs") {
    out.kind = StreamKind::kLog;
    want = 4;
  } else if (verb == "exec") {
    out.kind = StreamKind::kExec;
    want = 4;
  } else if (verb == "attach") {
    out.kind = StreamKind::kAttach;
    want = 4;
  } else if (verb == "portForward") {
    out.kind = StreamKind::kPortForward;
    want = 3;
  } else {
    return Error("no such path: " + std::string(path), "NotFound");
  }
  // exec/attach/portForward accept one extra uid segment (the kubelet's /exec/ns/pod/uid/container
  // form is not used by us: the uid form is only accepted for portForward).
  bool ok = parts.size() == want || (out.kind == StreamKind::kPortForward && parts.size() == want + 1);
  if (!ok) return Error("malformed path: " + std::string(path), "NotFound");
  out.ns = parts[1];
  out.pod = parts[2];
  if (want == 4) out.container = parts[3];
  return out;
}

}  // namespace k3dpp::nodeapi
