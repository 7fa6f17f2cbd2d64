#include "node-image/schema/schema.h"
namespace k3dpp::schema {
std::vector<FieldCause> validate_create(const ResourceType&, const json&) { return {}; }
std::vector<FieldCause> validate_update(const ResourceType&, const json&, const json&) { return {}; }
std::string cause_text(const FieldCause& c) { return c.field + ": " + c.message; }
std::string invalid_message(const ResourceType&, std::string_view, const std::vector<FieldCause>&) { return {}; }
json invalid_status(const ResourceType&, std::string_view, const std::vector<FieldCause>&) { return {}; }
}  // namespace k3dpp::schema
