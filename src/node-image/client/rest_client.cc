#include <cstdio>

#include "client/api_client.h"
#include "common/json_read.h"

namespace k3dpp::client {

namespace {

std::string reason_for_code(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "Unknown";
  }
}

Result<json> parse_body(const RawResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return fail("invalid JSON in response: " + r.body.substr(0, 200), "InternalError");
  return j;
}

Result<json> to_result(Result<RawResponse> r) {
  if (!r) return unexpected(r.error());
  if (r->status < 200 || r->status >= 300) return unexpected(error_from_response(r->status, r->body));
  return parse_body(*r);
}

const char* content_type_of(PatchType t) {
  switch (t) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
    case PatchType::kJsonPatch: return "application/json-patch+json";
  }
  return "application/merge-patch+json";
}

std::string selector_query(const ListOptions& opts) {
  std::string q;
  if (!opts.label_selector.empty()) q += "&labelSelector=" + query_escape(opts.label_selector);
  if (!opts.field_selector.empty()) q += "&fieldSelector=" + query_escape(opts.field_selector);
  return q;
}

std::string kind_of_list(const json& list) {
  std::string k = jvalue(list, "kind", "");
  if (k.size() > 4 && k.compare(k.size() - 4, 4, "List") == 0) return k.substr(0, k.size() - 4);
  return k;
}

}  // namespace

std::string query_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string resource_path(const Resource& r, const std::string& ns, const std::string& name,
                          const std::string& subresource) {
  std::string p = r.group_version.find('/') == std::string::npos ? "/api/" + r.group_version
                                                                 : "/apis/" + r.group_version;
  if (!ns.empty() && r.plural != "namespaces") p += "/namespaces/" + ns;
  p += "/" + r.plural;
  if (!name.empty()) p += "/" + name;
  if (!subresource.empty()) p += "/" + subresource;
  return p;
}

Error error_from_response(int status, const std::string& body) {
  json j = json::parse(body, nullptr, false);
  std::string reason, message;
  if (j.is_object()) {
    reason = jvalue(j, "reason", "");
    message = jvalue(j, "message", "");
  }
  if (reason.empty()) reason = reason_for_code(status);
  if (reason == "Gone") reason = "Expired";
  if (message.empty()) message = "HTTP " + std::to_string(status) + ": " + body.substr(0, 200);
  return Error(message, reason);
}

Result<json> RestClient::get(const Resource& r, const std::string& ns, const std::string& name) {
  return to_result(request("GET", resource_path(r, ns, name), "", ""));
}

Result<ListResult> RestClient::list(const Resource& r, const std::string& ns, const ListOptions& opts) {
  std::string q = selector_query(opts);
  std::string target = resource_path(r, ns);
  if (!q.empty()) target += "?" + q.substr(1);
  auto j = to_result(request("GET", target, "", ""));
  if (!j) return unexpected(j.error());
  ListResult out;
  out.resource_version = jvalue((*j)["metadata"], "resourceVersion", "");
  std::string kind = kind_of_list(*j);
  std::string api_version = jvalue(*j, "apiVersion", r.group_version);
  if (j->contains("items") && (*j)["items"].is_array()) {
    for (auto& it : (*j)["items"]) {
      if (!it.contains("kind")) it["kind"] = kind;
      if (!it.contains("apiVersion")) it["apiVersion"] = api_version;
      out.items.push_back(std::move(it));
    }
  }
  return out;
}

Status RestClient::watch(const Resource& r, const std::string& ns, const ListOptions& opts,
                         const std::string& from_resource_version, const WatchCallback& on_event,
                         std::stop_token stop) {
  std::string target = resource_path(r, ns) + "?watch=true&allowWatchBookmarks=true&resourceVersion=" +
                       query_escape(from_resource_version) + selector_query(opts);
  std::string buffer;
  std::optional<Error> stream_error;
  bool ended_by_callback = false;
  // One event, from a text line or handed decoded: false ends the stream.
  auto handle = [&](WatchEvent& e) {
    if (e.type == "ERROR") {
      const json& o = e.obj();
      int code = o.is_object() ? jvalue(o, "code", 500) : 500;
      stream_error = error_from_response(code, o.dump());
      return false;
    }
    if (!on_event(e)) {
      ended_by_callback = true;
      return false;
    }
    return true;
  };
  auto on_chunk = [&](std::string_view chunk) {
    buffer.append(chunk);
    size_t pos;
    while ((pos = buffer.find('\n')) != std::string::npos) {
      std::string line = buffer.substr(0, pos);
      buffer.erase(0, pos + 1);
      if (line.empty()) continue;
      json ev = json::parse(line, nullptr, false);
      if (ev.is_discarded() || !ev.is_object()) continue;
      WatchEvent e;
      e.type = jvalue(ev, "type", "");
      if (auto o = ev.find("object"); o != ev.end()) {
        e.object = std::move(*o);
      } else {
        e.object = json::object();
      }
      if (!handle(e)) return false;
    }
    return !stop.stop_requested();
  };
  auto on_decoded = [&](std::string_view type, std::shared_ptr<const json> object) {
    WatchEvent e;
    e.type = std::string(type);
    if (object) {
      e.shared = std::move(object);
    } else {
      e.object = json::object();
    }
    if (!handle(e)) return false;
    return !stop.stop_requested();
  };
  auto res = stream_watch(target, on_chunk, on_decoded, stop);
  if (stream_error) return unexpected(*stream_error);
  if (ended_by_callback || stop.stop_requested()) return {};
  if (!res) return unexpected(res.error());
  if (res->status < 200 || res->status >= 300) return unexpected(error_from_response(res->status, res->body));
  return {};
}

Result<json> RestClient::create(const Resource& r, const std::string& ns, const json& object) {
  return to_result(request("POST", resource_path(r, ns), "application/json", object.dump()));
}

Result<json> RestClient::update(const Resource& r, const std::string& ns, const json& object) {
  std::string name = jvalue(object["metadata"], "name", "");
  return to_result(request("PUT", resource_path(r, ns, name), "application/json", object.dump()));
}

Result<json> RestClient::update_status(const Resource& r, const std::string& ns, const json& object) {
  std::string name = jvalue(object["metadata"], "name", "");
  return to_result(request("PUT", resource_path(r, ns, name, "status"), "application/json", object.dump()));
}

Result<json> RestClient::patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type,
                               const json& body, const std::string& subresource) {
  return to_result(request("PATCH", resource_path(r, ns, name, subresource), content_type_of(type), body.dump()));
}

Status RestClient::remove(const Resource& r, const std::string& ns, const std::string& name,
                          const DeleteOptions& opts) {
  json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!opts.propagation_policy.empty()) body["propagationPolicy"] = opts.propagation_policy;
  if (!opts.precondition_uid.empty()) body["preconditions"]["uid"] = opts.precondition_uid;
  if (!opts.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = opts.precondition_resource_version;
  }
  if (opts.grace_period_seconds) body["gracePeriodSeconds"] = *opts.grace_period_seconds;
  auto res = to_result(request("DELETE", resource_path(r, ns, name), "application/json", body.dump()));
  if (!res) return unexpected(res.error());
  return {};
}

Status RestClient::bind(const std::string& ns, const std::string& pod, const std::string& node) {
  json b = {{"apiVersion", "v1"},
            {"kind", "Binding"},
            {"metadata", {{"name", pod}, {"namespace", ns}}},
            {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  auto out = to_result(request("POST", resource_path(res::kPods, ns, pod, "binding"), "application/json", b.dump()));
  if (!out) return unexpected(out.error());
  return {};
}

}  // namespace k3dpp::client
