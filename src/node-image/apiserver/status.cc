#include "apiserver/status.h"
#include "common/json_read.h"

namespace k3dpp::apiserver {

namespace {
std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

json details_for(const GroupResource& gr, std::string_view name) {
  json d = json::object();
  if (!name.empty()) d["name"] = std::string(name);
  if (!gr.group.empty()) d["group"] = gr.group;
  if (!gr.resource.empty()) d["kind"] = gr.resource;
  return d;
}
}  // namespace

json status_object(int code, std::string_view reason, std::string_view message, json details) {
  json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", std::string(message)}};
  if (!reason.empty()) s["reason"] = std::string(reason);
  if (!details.is_null()) s["details"] = std::move(details);
  s["code"] = code;
  return s;
}

json status_success(const GroupResource& gr, std::string_view name, std::string_view uid) {
  json d = details_for(gr, name);
  if (!uid.empty()) d["uid"] = std::string(uid);
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
          {"status", "Success"}, {"details", d}};
}

ApiError not_found(const GroupResource& gr, std::string_view name) {
  std::string msg = name.empty() ? gr.str() + " not found" : gr.str() + " " + quoted(name) + " not found";
  return {404, status_object(404, "NotFound", msg, details_for(gr, name))};
}

ApiError already_exists(const GroupResource& gr, std::string_view name) {
  return {409, status_object(409, "AlreadyExists", gr.str() + " " + quoted(name) + " already exists",
                             details_for(gr, name))};
}

ApiError conflict(const GroupResource& gr, std::string_view name, std::string_view why) {
  return {409, status_object(409, "Conflict",
                             "Operation cannot be fulfilled on " + gr.str() + " " + quoted(name) +
                                 ": " + std::string(why),
                             details_for(gr, name))};
}

ApiError conflict_modified(const GroupResource& gr, std::string_view name) {
  return conflict(gr, name,
                  "the object has been modified; please apply your changes to the latest version "
                  "and try again");
}

ApiError bad_request(std::string_view message) {
  return {400, status_object(400, "BadRequest", message)};
}

ApiError forbidden(const GroupResource& gr, std::string_view name, std::string_view why) {
  std::string subject = name.empty() ? gr.str() : gr.str() + " " + quoted(name);
  return {403, status_object(403, "Forbidden", subject + " is forbidden: " + std::string(why),
                             details_for(gr, name))};
}

ApiError method_not_allowed() {
  return {405, status_object(405, "MethodNotAllowed",
                             "the server does not allow this method on the requested resource",
                             json::object())};
}

ApiError path_not_found() {
  return {404, status_object(404, "NotFound", "the server could not find the requested resource",
                             json::object())};
}

ApiError unsupported_media_type(std::string_view content_type, bool patch) {
  std::string msg;
  if (patch) {
    msg = "the server does not support the PATCH media type \"" + std::string(content_type) +
          "\"; accepted media types include: application/json-patch+json, "
          "application/merge-patch+json, application/apply-patch+yaml, "
          "application/strategic-merge-patch+json";
  } else {
    msg = "the body of the request was in an unknown format - accepted media types include: "
          "application/json, application/yaml, application/vnd.kubernetes.protobuf";
  }
  return {415, status_object(415, "UnsupportedMediaType", msg)};
}

ApiError expired(std::string_view message) {
  return {410, status_object(410, "Expired", message)};
}

ApiError internal_error(std::string_view message) {
  return {500, status_object(500, "InternalError",
                             "Internal error occurred: " + std::string(message),
                             json{{"causes", json::array({{{"message", std::string(message)}}})}})};
}

ApiError unauthorized() { return {401, status_object(401, "Unauthorized", "Unauthorized")}; }

ApiError invalid(const GroupResource& gr, std::string_view kind, std::string_view name,
                 const json& causes) {
  // errors.NewInvalid: `<Kind>.<group> "name" is invalid: ...` (kubectl builds its own
  // `The <Kind> "name" is invalid` from the details; commands that wrap the error, such as
  // `kubectl create cronjob`, print this message as it is).
  std::string qualified = std::string(kind) + (gr.group.empty() ? "" : "." + gr.group);
  std::string msg = qualified + " " + quoted(name) + " is invalid";
  if (causes.size() == 1) {
    msg += ": " + jvalue(causes[0], "field", "") + ": " + jvalue(causes[0], "message", "");
  } else if (causes.size() > 1) {
    msg += ": [";
    for (size_t i = 0; i < causes.size(); ++i) {
      if (i) msg += ", ";
      msg += jvalue(causes[i], "field", "") + ": " + jvalue(causes[i], "message", "");
    }
    msg += "]";
  }
  json d = {{"name", std::string(name)}, {"kind", std::string(kind)}, {"causes", causes}};
  if (!gr.group.empty()) d["group"] = gr.group;
  return {422, status_object(422, "Invalid", msg, d)};
}

}  // namespace k3dpp::apiserver
