#include "node-image/schema/schema.h"
namespace k3dpp::schema {
void apply_defaults(const ResourceType&, json&) {}
}  // namespace k3dpp::schema
