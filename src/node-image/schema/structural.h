// Structural schemas for CustomResourceDefinitions (apiextensions.k8s.io/v1 JSONSchemaProps):
// the structural check a CRD's openAPIV3Schema must pass, and what the API server does with a
// custom object against it — pruning of unknown fields, defaulting, validation — with the field
// paths and messages Kubernetes prints (`spec.replicas: Invalid value: "string": spec.replicas in
// body must be of type integer: "string"`).
//
// Pure functions over nlohmann::json; nothing throws. Regular expressions (`pattern`) run on RE2
// (linear time, bounded memory): a pattern RE2 cannot compile is refused when the CRD is created,
// as Kubernetes refuses what Go's regexp (also RE2 syntax) cannot compile.
//
// Not enforced: CEL rules (`x-kubernetes-validations`). No CEL implementation is packaged for
// C++ in Debian; a CRD that carries rules is accepted with a warning per rule
// (cel_rule_warnings) so the user knows the server does not check them.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "node-image/schema/schema.h"

namespace re2 {
class RE2;
}

namespace k3dpp::schema {

// One node of a compiled structural schema. Value validations under allOf/anyOf/oneOf/not are
// kept as nested nodes (they never declare types or structure once the schema is structural).
struct SchemaNode {
  std::string type;  // "", "object", "array", "string", "integer", "number", "boolean"
  std::string format;
  std::string description;
  bool nullable = false;
  bool preserve_unknown = false;  // x-kubernetes-preserve-unknown-fields: true
  bool int_or_string = false;     // x-kubernetes-int-or-string
  bool embedded = false;          // x-kubernetes-embedded-resource
  std::string list_type;          // x-kubernetes-list-type: atomic|set|map
  std::vector<std::string> list_map_keys;
  std::string map_type;  // x-kubernetes-map-type
  std::map<std::string, SchemaNode> properties;
  std::shared_ptr<SchemaNode> additional;  // additionalProperties as a schema
  bool additional_allows = true;           // additionalProperties: false → false
  bool has_additional = false;             // additionalProperties given (bool or schema)
  std::shared_ptr<SchemaNode> items;
  std::vector<std::string> required;
  std::optional<nlohmann::json> enum_values;  // array
  std::optional<nlohmann::json> default_value;
  std::optional<double> minimum, maximum, multiple_of;
  bool exclusive_minimum = false, exclusive_maximum = false;
  std::optional<int64_t> min_length, max_length, min_items, max_items, min_properties,
      max_properties;
  bool unique_items = false;
  std::string pattern;
  std::shared_ptr<const re2::RE2> pattern_re;  // compiled pattern (null when no pattern)
  std::vector<SchemaNode> all_of, any_of, one_of;
  std::shared_ptr<SchemaNode> not_;
  nlohmann::json x_validations;  // the CEL rules as given (not evaluated)
};

// A CRD version's schema, compiled once when the CRD is stored.
class StructuralSchema {
 public:
  // Compiles an openAPIV3Schema. Fails (kind "Invalid") only on what cannot be compiled at all
  // (a pattern RE2 rejects, a non-object node); run structural_errors first for the messages.
  static Result<std::shared_ptr<const StructuralSchema>> compile(const nlohmann::json& schema);

  const SchemaNode& root() const { return root_; }

  // Removes fields the schema does not specify (outside x-kubernetes-preserve-unknown-fields),
  // keeping apiVersion, kind and metadata at the root and in embedded resources (metadata is then
  // pruned to ObjectMeta's fields). Returns the removed paths as Kubernetes' strict decoding
  // names them ("spec.foo", "spec.list[0].bar"), in document order.
  std::vector<std::string> prune(nlohmann::json& obj) const;

  // Fills `default`s: a missing property (or a null one that is not nullable) gets its default;
  // defaults apply inside items and additionalProperties values too. Top-down, so a defaulted
  // object gets its own fields' defaults.
  void apply_defaults(nlohmann::json& obj) const;

  // Validates the object (after pruning and defaulting) against the schema: types, required,
  // enum, pattern, minimum/maximum (exclusive), multipleOf, min/maxLength, min/maxItems,
  // min/maxProperties, uniqueItems, formats, nullable, int-or-string, list-type set/map
  // uniqueness, allOf/anyOf/oneOf/not. apiVersion/kind/metadata at the root are not validated
  // here (the API server checks ObjectMeta as for every kind).
  std::vector<FieldCause> validate(const nlohmann::json& obj) const;

 private:
  SchemaNode root_;
};

// Structural-schema errors of an openAPIV3Schema (Kubernetes' ValidateStructural plus the
// property-type check), as FieldCauses whose fields start with `path` (e.g.
// "spec.versions[0].schema.openAPIV3Schema"), sorted as Kubernetes sorts them. Empty = structural.
std::vector<FieldCause> structural_errors(const nlohmann::json& schema, const std::string& path);

// One warning per x-kubernetes-validations rule found in the schema: the rules are stored and
// published but not evaluated by this server.
std::vector<std::string> cel_rule_warnings(const nlohmann::json& schema, const std::string& path);

// Validation of a CustomResourceDefinition object (apiextensions.k8s.io/v1), with Kubernetes'
// messages: name = <plural>.<group>, group a domain with a dot, scope, names (DNS labels,
// kind/listKind, singular/listKind defaults must be applied first), versions (DNS-1035 names,
// unique, exactly one storage version, schemas required and structural, pruned defaults valid),
// subresources (scale paths), additionalPrinterColumns, protected groups (*.k8s.io,
// *.kubernetes.io need the api-approved.kubernetes.io annotation). `old` is the stored CRD on
// update (group and plural are immutable), null on create.
std::vector<FieldCause> validate_crd(const nlohmann::json& crd, const nlohmann::json& old = {});

// Defaults of a CRD object (singular, listKind, conversion None, per-version served/storage
// untouched, status.acceptedNames/storedVersions left to the caller).
void default_crd(nlohmann::json& crd);

}  // namespace k3dpp::schema
