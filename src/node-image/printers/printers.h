// Server-side Tables: what `kubectl get` prints, built the way a Kubernetes API server builds
// them (meta.k8s.io/v1 Table, one row per object, every column including the priority-1 "wide"
// ones, since kubectl hides those itself unless -o wide).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace k3dpp::printers {

// What each row's "object" holds (the ?includeObject= query parameter of a Table request).
enum class IncludeObject {
  kNone,      // no "object"
  kMetadata,  // {"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{...}} (default)
  kObject,    // the full object as given
};

// Builds a Table for objects of one kind (group "" for core, e.g. ("apps","Deployment")).
// `objects` are the stored JSON objects (one for a GET of a single object, the items of a list).
// `now` is the server's clock (ages are computed from it); `resource_version` goes into the
// Table's metadata (the list's resourceVersion, or the object's for a single GET).
// Kinds without a specific printer get Kubernetes' default table: Name, Created At (RFC3339).
// The row object is PartialObjectMetadata with the object's metadata minus managedFields.
// Never throws: missing or mistyped fields print as a real server prints an empty field.
nlohmann::json to_table(const std::string& group, const std::string& kind,
                        const std::vector<nlohmann::json>& objects,
                        std::chrono::system_clock::time_point now,
                        const std::string& resource_version, bool include_object_metadata = true);

// Same, with full control over the row objects and the list's continue token.
nlohmann::json to_table(const std::string& group, const std::string& kind,
                        const std::vector<nlohmann::json>& objects,
                        std::chrono::system_clock::time_point now,
                        const std::string& resource_version, IncludeObject include,
                        const std::string& continue_token = {});

// Tables of custom resources: Name, then the CRD's additionalPrinterColumns (Kubernetes'
// tableconvertor: cells from simple JSONPaths; "date" cells as ages, integer/number/boolean cells
// typed, strings as printed; a missing value is a null cell, which kubectl shows as <none>).
struct CustomColumn {
  std::string name, type, format, description, json_path;
  int priority = 0;
};
nlohmann::json to_custom_table(const std::vector<CustomColumn>& columns, const std::vector<nlohmann::json>& objects,
                               std::chrono::system_clock::time_point now, const std::string& resource_version,
                               IncludeObject include, const std::string& continue_token = {});
// The value at a simple JSONPath (`.spec.replicas`, `{.status.conditions[0].type}`,
// `.metadata.labels['app']`); nullptr when absent or the path is not a simple one.
const nlohmann::json* json_path_value(const nlohmann::json& obj, const std::string& path);

// The column definitions a Table for this kind carries (Kubernetes' names, types, formats,
// descriptions and priorities).
nlohmann::json column_definitions(const std::string& group, const std::string& kind);

// True when the kind has a specific printer (false: the default Name / Created At table).
bool has_printer(const std::string& group, const std::string& kind);

// Kubernetes' duration.HumanDuration: "<invalid>" below -1s, "0s" for -1s..0s, then
// 45s, 119s, 2m, 5m30s, 10m, 179m, 3h, 3h15m, 8h, 47h, 2d, 3d4h, 8d, 729d, 2y, 2y30d, 8y.
std::string format_age(std::chrono::system_clock::duration d);

// Parses an RFC3339 timestamp ("2024-05-01T10:00:00Z", fractional seconds and offsets
// allowed). False when the text is not one.
bool parse_time(const std::string& text, std::chrono::system_clock::time_point& out);

// Formats a time as RFC3339 in UTC with second precision ("2024-05-01T10:00:00Z").
std::string format_time(std::chrono::system_clock::time_point t);

}  // namespace k3dpp::printers
