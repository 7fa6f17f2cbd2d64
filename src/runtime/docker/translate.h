// Pure translations between k3dpp::runtime types and Docker Engine API JSON. No I/O: tested
// with golden JSON in tests/unit/runtime.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "common/result.h"
#include "runtime/runtime.h"

namespace k3dpp::runtime::docker {

// Body of POST /containers/create?name=... for a spec.
nlohmann::json container_create_body(const ContainerSpec& spec);

// `filters` query value for label filters: {"label":["k=v",...]} (JSON, not yet URL-encoded).
std::string label_filters(const Labels& labels);

// From GET /containers/{id}/json.
ContainerInfo parse_container_inspect(const nlohmann::json& j);
// From GET /networks/{id} or one element of GET /networks.
NetworkInfo parse_network(const nlohmann::json& j);
// From POST /volumes/create or one element of GET /volumes' "Volumes".
VolumeInfo parse_volume(const nlohmann::json& j);
// From GET /images/{name}/json.
ImageInfo parse_image(const nlohmann::json& j);
// From GET /info and GET /version.
EngineInfo parse_engine_info(const nlohmann::json& info, const nlohmann::json& version,
                             const std::string& api_version);

// Maps an error answer to an Error: {"message": ...} bodies; kind by status
// (404 NotFound, 409 Conflict, 400 Invalid, 5xx/other: "Engine").
Error error_from_response(long status, const std::string& body, const std::string& what);

// Picks the API version to use: the server's, capped at kMaxApiVersion. "" if unparsable.
inline constexpr const char* kMaxApiVersion = "1.43";
std::string negotiate_api_version(const std::string& server_api_version);

// Parses JSON, turning exceptions into an Error naming `what`.
Result<nlohmann::json> parse_json(const std::string& body, const std::string& what);

}  // namespace k3dpp::runtime::docker
