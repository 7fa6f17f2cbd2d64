// Decoding of Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf), which
// kubectl sends for `create namespace|configmap|deployment|service|secret|...`. A small
// wire-format reader of our own (no libprotobuf); only known fields are decoded, unknown ones
// are skipped. Output is the object's JSON as the API server would receive it from a JSON client
// (omitempty: empty strings, zero numbers, false and empty lists/maps are left out).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace k3dpp::apimachinery {

inline constexpr std::string_view kProtobufMagic{"k8s\0", 4};
inline constexpr std::string_view kProtobufContentType = "application/vnd.kubernetes.protobuf";

// True when the body starts with the "k8s\0" magic.
bool is_protobuf_envelope(std::string_view body);

// runtime.Unknown, the envelope after the magic.
struct ProtobufEnvelope {
  std::string api_version;  // TypeMeta.apiVersion, e.g. "v1", "apps/v1"
  std::string kind;         // TypeMeta.kind
  std::string raw;          // the object's own protobuf bytes
  std::string content_encoding;
  std::string content_type;
};
// Errors: kind "BadRequest" (no magic, truncated or malformed message).
Result<ProtobufEnvelope> decode_protobuf_envelope(std::string_view body);

// Envelope + object → JSON object with "apiVersion" and "kind" set.
// Errors: kind "BadRequest" for garbage/truncation ("protobuf: ..." messages);
// kind "UnsupportedMediaType" for a kind we have no schema for.
Result<nlohmann::json> decode_protobuf_object(std::string_view body);

// Decode a raw object of a known apiVersion/kind (without envelope).
Result<nlohmann::json> decode_protobuf_raw(std::string_view raw, const std::string& api_version,
                                           const std::string& kind);

// Kinds decode_protobuf_object understands, as "apiVersion/Kind" ("v1/Namespace", "apps/v1/Deployment").
std::vector<std::string> protobuf_supported_kinds();

}  // namespace k3dpp::apimachinery
