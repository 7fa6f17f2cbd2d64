// Resource types served at run time from CustomResourceDefinitions. The API server registers a
// CRD's served versions once the CRD is stored (and removes them when it goes); find_by_plural /
// find_by_kind / discovery / OpenAPI then include them beside the built-in kinds.
//
// Lifetime: a registered ResourceType is immutable. Replacing or removing a CRD retires the old
// objects; a retired type stays alive while a holder of find_shared()'s pointer (a request, a
// watch) keeps it, and the registry itself keeps retired types a few minutes for callers that
// took a raw pointer during a request.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "node-image/schema/schema.h"
#include "node-image/schema/structural.h"

namespace k3dpp::schema {

struct PrinterColumn {
  std::string name, type, format, description, json_path;
  int priority = 0;
};

struct CustomResourceInfo {
  std::string crd_name;  // "crontabs.stable.example.com"
  std::string list_kind;
  std::shared_ptr<const StructuralSchema> schema;  // null: no schema (everything preserved)
  nlohmann::json openapi_schema;                   // the version's openAPIV3Schema as given
  std::vector<PrinterColumn> columns;              // additionalPrinterColumns
  bool status = false;                             // subresources.status
  bool scale = false;                              // subresources.scale
  std::string spec_replicas_path, status_replicas_path, label_selector_path;
  std::string storage_version;
  std::vector<std::string> served_versions;  // in the CRD's order
};

// Builds the ResourceTypes of a stored, valid CRD (one per served version, names from
// status.acceptedNames when set, else spec.names) and publishes them, replacing the CRD's
// previous ones. Returns an error text when a version's schema does not compile.
std::string register_custom_resource(const nlohmann::json& crd);
// Stops serving the CRD's types (no-op when unknown).
void unregister_custom_resource(const std::string& crd_name);
// Every registered custom type (a snapshot).
std::vector<std::shared_ptr<const ResourceType>> custom_types();
// A custom type by URL parts, kept alive by the returned pointer; null when not served.
std::shared_ptr<const ResourceType> find_custom(std::string_view group, std::string_view version,
                                                std::string_view plural);
// The custom types of one CRD (all served versions).
std::vector<std::shared_ptr<const ResourceType>> custom_types_of(const std::string& crd_name);

}  // namespace k3dpp::schema
