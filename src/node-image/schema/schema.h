// Resource schema for the API server: the type registry (what kubectl discovers), the discovery
// and OpenAPI v3 documents, known fields (strict decoding), defaulting and validation, all over
// nlohmann::json objects with Kubernetes' exact field names and messages.
// Pure functions, no I/O, thread-safe (the tables are built once, on first use).
//
// Write pipeline the API server follows (create and update alike):
//   decode_type_error → unknown_fields (Strict: 400 strict_decoding_message; Warn: warnings)
//   → drop_unknown_fields → apply_defaults → validate_create / validate_update → 422 invalid_status.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace k3dpp::schema {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Type registry

// A subresource such as pods/status or deployments/scale. group/version/kind is the response
// kind; empty group+version+kind for "log", "exec", ... (no object) ; "Scale" is autoscaling/v1.
struct Subresource {
  std::string name;  // "status", "scale", "log", "exec", ...
  std::string group, version, kind;
  std::vector<std::string> verbs;
};

struct CustomResourceInfo;  // custom_types.h

struct ResourceType {
  std::string group;    // "" for core
  std::string version;  // "v1"
  std::string kind;     // "Deployment"
  std::string plural;   // "deployments"
  std::string singular; // "deployment"
  bool namespaced = true;
  std::vector<std::string> short_names;  // {"deploy"}
  std::vector<std::string> categories;   // {"all"}
  std::vector<std::string> verbs;        // sorted, as Kubernetes lists them
  std::vector<Subresource> subresources;
  // Set for kinds served from a CustomResourceDefinition (schema, printer columns, scale paths).
  std::shared_ptr<const CustomResourceInfo> custom;

  // "v1" for core, "apps/v1" otherwise.
  std::string api_version() const;
  // "DeploymentList"
  std::string list_kind() const;
  // "deployments.apps" / "pods": the resource name used in messages (`deployments.apps "x" not found`).
  std::string group_resource() const;
  const Subresource* find_subresource(std::string_view name) const;
};

// Every built-in type, core first, then groups in discovery order (custom types: custom_types.h).
const std::vector<ResourceType>& all_types();
// By URL parts: ("apps","v1","deployments"); group "" is core. Custom types too (the pointer
// stays valid for minutes after the CRD changes; keep find_custom's shared_ptr for longer).
const ResourceType* find_by_plural(std::string_view group, std::string_view version,
                                   std::string_view plural);
// By a body's apiVersion and kind: ("apps/v1","Deployment"), ("v1","Pod").
const ResourceType* find_by_kind(std::string_view api_version, std::string_view kind);
// Group-versions in discovery order: "v1" (core), "apps/v1", "batch/v1", ..., then custom ones.
std::vector<std::string> group_versions();

// ---------------------------------------------------------------------------------------------
// Discovery documents

inline constexpr std::string_view kContentTypeDiscoveryV2 =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
inline constexpr std::string_view kContentTypeDiscoveryV2Beta1 =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
inline constexpr std::string_view kContentTypeJson = "application/json";

// Aggregated (apidiscovery.k8s.io/v2 APIGroupDiscoveryList): /api (one item, name "") and /apis.
// Serve with kContentTypeDiscoveryV2 when the Accept header asks for it (v2beta1: same body with
// apiVersion "apidiscovery.k8s.io/v2beta1", see discovery_as_v2beta1).
json discovery_aggregated_core();
json discovery_aggregated_groups();
json discovery_as_v2beta1(json doc);
// Legacy: /api (APIVersions), /apis (APIGroupList), /api/v1 and /apis/G/V (APIResourceList).
// server_address is put in serverAddressByClientCIDRs (e.g. "10.0.0.2:6443"); empty → omitted.
json discovery_legacy_api(std::string_view server_address = {});
json discovery_legacy_groups();
// /apis/G (APIGroup) for a known group; nullopt for unknown.
std::optional<json> discovery_legacy_group(std::string_view group);
// nullopt for an unknown group-version. group "" = core ("/api/v1").
std::optional<json> discovery_resource_list(std::string_view group, std::string_view version);

// ---------------------------------------------------------------------------------------------
// OpenAPI v3 (just enough for kubectl to use server-side field validation)

// /openapi/v3: {"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=H"},...}}.
json openapi_v3_root();
// /openapi/v3/<gv> for gv "api/v1", "apis/apps/v1" (no leading slash, no query); nullopt if unknown.
std::optional<json> openapi_v3_group_version(std::string_view gv);

// ---------------------------------------------------------------------------------------------
// Known fields: strict decoding

// Paths of fields the Kind does not define, as Kubernetes prints them, in document order
// (objects iterate keys sorted, like the body kubectl sends): "spec.x",
// "spec.containers[0].imagee", "metadata.foo". Free-form places are not checked: label and
// annotation maps, data maps, `status` (set by controllers), x-kubernetes-preserve-unknown-fields.
std::vector<std::string> unknown_fields(const ResourceType& type, const json& obj);
// `Deployment in version "v1" cannot be handled as a Deployment: strict decoding error:
// unknown field "spec.containers", unknown field "spec.spec"` (400 BadRequest message).
std::string strict_decoding_message(const ResourceType& type,
                                    const std::vector<std::string>& unknown);
// For fieldValidation=Warn: one warning text per unknown field, `unknown field "spec.x"`
// (send each as header `Warning: 299 - "<text with \" escaped>"`).
std::vector<std::string> strict_decoding_warnings(const std::vector<std::string>& unknown);
// JSON type mismatches, checked before unknown fields (Kubernetes fails on them even with
// fieldValidation=Ignore): `Pod in version "v1" cannot be handled as a Pod: json: cannot
// unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container`.
// nullopt when every known field has an acceptable JSON type. Also rejects a non-object body.
std::optional<std::string> decode_type_error(const ResourceType& type, const json& obj);
// Removes unknown fields (what Kubernetes' typed decoding does with Warn/Ignore) and nulls.
void drop_unknown_fields(const ResourceType& type, json& obj);

// ---------------------------------------------------------------------------------------------
// Defaulting (scheme defaults + the DefaultTolerationSeconds admission plugin for pods)

// Fills defaults in place. Works on a full object (apiVersion/kind/metadata/spec/...).
// Pod template specs inside workloads get the pod defaults too (not the tolerations).
void apply_defaults(const ResourceType& type, json& obj);

// Create-time preparation that needs the new object's uid (Kubernetes' PrepareForCreate), after
// apply_defaults: a Job without manualSelector: true gets the generated selector
// (batch.kubernetes.io/controller-uid) and the batch.kubernetes.io/job-name, job-name,
// batch.kubernetes.io/controller-uid, controller-uid template labels (and, when it has no labels
// of its own, those as its labels, as Kubernetes' read-time defaulting shows them).
void prepare_create(const ResourceType& type, json& obj);

// ---------------------------------------------------------------------------------------------
// Validation

// One cause of a 422 Invalid Status (details.causes[]). reason is the CauseType string
// ("FieldValueRequired", "FieldValueInvalid", "FieldValueNotSupported", "FieldValueDuplicate",
// "FieldValueForbidden", "FieldValueTooLong"), message the error body ("Required value",
// `Invalid value: "Foo": a lowercase RFC 1123 ...`), field the path ("spec.containers[0].image").
struct FieldCause {
  std::string reason, message, field;
  bool operator==(const FieldCause&) const = default;
};

// Validation of a defaulted object for create / for an update against the stored old object.
std::vector<FieldCause> validate_create(const ResourceType& type, const json& obj);
std::vector<FieldCause> validate_update(const ResourceType& type, const json& obj, const json& old);

// "field: message" (the form kubectl prints per cause).
std::string cause_text(const FieldCause& cause);
// The Status message Kubernetes builds for a 422: `The Pod "x" is invalid: spec.containers[0].image:
// Required value`, several causes → `The Pod "x" is invalid: [a: m1, b: m2]`.
std::string invalid_message(const ResourceType& type, std::string_view name,
                            const std::vector<FieldCause>& causes);
// The whole 422 Status object (kind Status, reason Invalid, details {name, group, kind, causes}).
json invalid_status(const ResourceType& type, std::string_view name,
                    const std::vector<FieldCause>& causes);

}  // namespace k3dpp::schema
