#include "node-image/schema/schema.h"
namespace k3dpp::schema {
std::vector<std::string> unknown_fields(const ResourceType&, const json&) { return {}; }
std::string strict_decoding_message(const ResourceType&, const std::vector<std::string>&) { return {}; }
std::vector<std::string> strict_decoding_warnings(const std::vector<std::string>&) { return {}; }
std::optional<std::string> decode_type_error(const ResourceType&, const json&) { return std::nullopt; }
void drop_unknown_fields(const ResourceType&, json&) {}
}  // namespace k3dpp::schema
