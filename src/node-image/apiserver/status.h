// Kubernetes Status errors (meta/v1 Status) with the reasons, codes and messages a real API
// server sends, so kubectl prints them the same way.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace k3dpp::apiserver {

using json = nlohmann::json;

// An error on its way to the client: HTTP code + Status body.
struct ApiError {
  int code = 500;
  json status;
};

// Resource naming for messages: resource "pods", group "" → `pods "x"`; ("deployments","apps")
// → `deployments.apps "x"`.
struct GroupResource {
  std::string group;
  std::string resource;
  std::string str() const { return group.empty() ? resource : resource + "." + group; }
};

json status_object(int code, std::string_view reason, std::string_view message,
                   json details = nullptr);
json status_success(const GroupResource& gr, std::string_view name, std::string_view uid);

ApiError not_found(const GroupResource& gr, std::string_view name);
ApiError already_exists(const GroupResource& gr, std::string_view name);
ApiError conflict(const GroupResource& gr, std::string_view name, std::string_view why);
ApiError conflict_modified(const GroupResource& gr, std::string_view name);
ApiError bad_request(std::string_view message);
ApiError forbidden(const GroupResource& gr, std::string_view name, std::string_view why);
ApiError method_not_allowed();
ApiError path_not_found();
ApiError unsupported_media_type(std::string_view content_type, bool patch);
ApiError expired(std::string_view message);
ApiError internal_error(std::string_view message);
ApiError unauthorized();
// 422 with details.causes; causes: [{reason, message, field}], kind = the Kind ("Service").
ApiError invalid(const GroupResource& gr, std::string_view kind, std::string_view name,
                 const json& causes);

}  // namespace k3dpp::apiserver
