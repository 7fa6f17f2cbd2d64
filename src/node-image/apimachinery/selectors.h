// Label and field selectors (?labelSelector=, ?fieldSelector=, metav1.LabelSelector).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace k3dpp::apimachinery {

enum class SelectorOp { kEquals, kDoubleEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };

struct LabelRequirement {
  std::string key;
  SelectorOp op = SelectorOp::kEquals;
  std::vector<std::string> values;  // sorted; one value for =, ==, !=; none for exists/!exists
  bool matches(const nlohmann::json& labels) const;
  std::string to_string() const;  // "a=b", "a in (x,y)", "!a", ...
};

class LabelSelector {
 public:
  // The empty selector: matches everything.
  LabelSelector() = default;
  static LabelSelector everything() { return LabelSelector(); }
  // Matches no object (what a null metav1.LabelSelector means to controllers).
  static LabelSelector nothing();

  // String form: "a=b,c!=d,e in (x,y),f notin (z),g,!h" (comma = AND, whitespace tolerant).
  // Errors (kind "BadRequest"): "unable to parse requirement: ..." and
  // "found '...', expected: ..." like Kubernetes, invalid label keys/values.
  static Result<LabelSelector> parse(std::string_view text);

  // metav1.LabelSelector JSON {matchLabels:{}, matchExpressions:[{key, operator, values}]}.
  // null → nothing(); {} → everything(). Errors (kind "Invalid") for a bad operator or values.
  static Result<LabelSelector> from_json(const nlohmann::json& selector);

  // labels: the object's metadata.labels (an object, or null/absent = no labels).
  bool matches(const nlohmann::json& labels) const;
  bool empty() const { return !nothing_ && requirements_.empty(); }
  // Canonical form: requirements sorted by key, e.g. "app=web,tier in (a,b)". "" when empty.
  std::string to_string() const;
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<LabelRequirement> requirements_;
  bool nothing_ = false;
};

struct FieldRequirement {
  std::string field;  // dotted path, e.g. "metadata.name", "spec.nodeName"
  SelectorOp op = SelectorOp::kEquals;  // kEquals, kDoubleEquals or kNotEquals
  std::string value;
};

class FieldSelector {
 public:
  FieldSelector() = default;
  // "k=v,k2==v2,k3!=v3" (comma = AND; "\," "\=" "\\" escape in values).
  // Errors (kind "BadRequest"): "invalid selector: '...'; can't understand '...'".
  static Result<FieldSelector> parse(std::string_view text);

  // Looks each field up as a dotted path into the object; a missing field reads as "" (so
  // "spec.nodeName=" matches unscheduled pods); booleans/numbers read as their JSON text.
  bool matches(const nlohmann::json& object) const;
  // Kind-aware: reads field labels the way Kubernetes computes them for that kind (Event "source"
  // is source.component, a missing Pod spec.hostNetwork is "false", a missing
  // ReplicaSet status.replicas is "0", ...). Prefer this one in the API server.
  bool matches(const nlohmann::json& object, const std::string& kind) const;
  bool empty() const { return requirements_.empty(); }
  std::string to_string() const;
  // The server rejects fields it does not support per kind with
  // "field label not supported: <field>" (kind BadRequest).
  const std::vector<FieldRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<FieldRequirement> requirements_;
};

// Field labels Kubernetes accepts in ?fieldSelector= for a kind: metadata.name and
// metadata.namespace for every kind, plus e.g. Pod spec.nodeName/status.phase/..., Event
// involvedObject.*/reason/type/source, Node spec.unschedulable, Secret type.
std::vector<std::string> supported_field_labels(const std::string& kind);
// Rejects a selector using a field the kind does not support:
// Error kind "BadRequest", message "field label not supported: <field>".
Status check_field_selector(const std::string& kind, const FieldSelector& selector);

// Value of a dotted path ("metadata.name") inside an object as a field selector sees it;
// nullopt when absent or when the value is an object/array.
std::optional<std::string> field_value(const nlohmann::json& object, std::string_view dotted_path);

// Label key / value validation (qualified name with optional DNS prefix; value <= 63 chars).
// Return an empty string when valid, else the Kubernetes error text.
std::string validate_label_key(std::string_view key);
std::string validate_label_value(std::string_view value);

}  // namespace k3dpp::apimachinery
