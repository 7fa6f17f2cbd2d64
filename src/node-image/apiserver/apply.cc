// Server-side apply (PATCH with application/apply-patch+yaml) on every kind, built-in or custom:
// the applied configuration is merged into the live object by apimachinery/managed_fields, a
// conflict with another manager is a 409 listing the fields and managers (unless force=true),
// and the result is stored through the ordinary create/update paths (defaults, validation,
// dryRun, finalizers, watch events).
#include "apiserver/internal.h"
#include "node-image/apimachinery/apimachinery.h"
#include "node-image/schema/custom_types.h"
#include "common/json_read.h"

namespace k3dpp::apiserver {

namespace am = apimachinery;

namespace {

std::optional<std::string> query(const http::Request& r, const std::string& name) {
  auto it = r.query.find(name);
  if (it == r.query.end()) return std::nullopt;
  return it->second;
}

// The node of a custom schema at a dotted path (list levels not in the path).
const schema::SchemaNode* node_at(const schema::SchemaNode& root, const std::string& dotted) {
  const schema::SchemaNode* n = &root;
  size_t i = 0;
  while (n && i <= dotted.size() && !dotted.empty()) {
    size_t j = dotted.find('.', i);
    std::string part = dotted.substr(i, j == std::string::npos ? std::string::npos : j - i);
    while (n->items) n = n->items.get();  // through list levels
    auto it = n->properties.find(part);
    if (it != n->properties.end())
      n = &it->second;
    else if (n->additional)
      n = n->additional.get();
    else
      return nullptr;
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return n;
}

}  // namespace

am::ListTypeOf list_types(const schema::ResourceType& t) {
  if (!t.custom) return am::builtin_list_types(t.kind);
  auto info = t.custom;  // keeps the schema alive inside the function object
  return [info](const std::string& dotted, bool is_list) {
    am::ListType lt;
    if (!info->schema) return lt;
    const schema::SchemaNode* n = node_at(info->schema->root(), dotted);
    if (!n) return lt;
    if (n->map_type == "atomic") lt.atomic_map = true;
    if (!is_list) return lt;
    if (n->list_type == "map" && !n->list_map_keys.empty()) {
      lt.kind = am::ListType::Kind::kMap;
      lt.keys = n->list_map_keys;
    } else if (n->list_type == "set") {
      lt.kind = am::ListType::Kind::kSet;
    }
    return lt;
  };
}

Outcome ApiServer::Impl::apply(const RequestInfo& ri, const http::Request& req) {
  const auto& t = *ri.type;
  auto gr = group_resource(t);
  if (!ri.subresource.empty() && ri.subresource != "status") return method_not_allowed();
  std::string manager = query(req, "fieldManager").value_or("");
  if (manager.empty()) {
    return ApiError{422, status_object(422, "Invalid",
                                       "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is "
                                       "required for apply patch")};
  }
  bool force = query(req, "force").value_or("") == "true";
  auto y = am::yaml_to_json(req.body);
  if (!y) return bad_request("error decoding YAML: " + y.error().message);
  json cfg = std::move(*y);
  if (!cfg.is_object()) return bad_request("the body of the request must be a JSON object");
  if (jvalue(cfg, "kind", "").empty()) return bad_request("Object 'Kind' is missing in '" + req.body.substr(0, 200) + "'");
  if (jvalue(cfg, "apiVersion", "") != t.api_version() || jvalue(cfg, "kind", "") != t.kind) {
    return bad_request("the API version in the data (" + jvalue(cfg, "apiVersion", "") +
                       ") does not match the expected API version (" + t.api_version() + ")");
  }
  if (!cfg.contains("metadata") || !cfg["metadata"].is_object()) cfg["metadata"] = json::object();
  std::string body_name = jvalue(cfg["metadata"], "name", "");
  if (!body_name.empty() && body_name != ri.name) {
    return bad_request("the name of the object (" + body_name + ") does not match the name on the URL (" + ri.name + ")");
  }
  cfg["metadata"]["name"] = ri.name;
  if (t.namespaced) {
    std::string body_ns = jvalue(cfg["metadata"], "namespace", "");
    if (!body_ns.empty() && body_ns != ri.namespace_) {
      return bad_request("the namespace of the provided object does not match the namespace sent on the request");
    }
    cfg["metadata"]["namespace"] = ri.namespace_;
  }
  // Field validation of the applied configuration (kubectl sends Strict by default).
  std::vector<std::string> warnings;
  if (auto te = schema::decode_type_error(t, cfg)) return bad_request(*te);
  std::string mode = query(req, "fieldValidation").value_or("Strict");
  auto unknown = schema::unknown_fields(t, cfg);
  if (!unknown.empty()) {
    if (mode == "Strict") return bad_request(schema::strict_decoding_message(t, unknown));
    if (mode == "Warn") warnings = schema::strict_decoding_warnings(unknown);
  }
  schema::drop_unknown_fields(t, cfg);
  bool has_status = t.find_subresource("status") != nullptr;
  if (ri.subresource == "status") {
    json only = {{"apiVersion", cfg["apiVersion"]}, {"kind", cfg["kind"]}, {"metadata", cfg["metadata"]}};
    if (cfg.contains("status")) only["status"] = cfg["status"];
    cfg = std::move(only);
  } else if (has_status) {
    cfg.erase("status");  // the status subresource's fields are not applied through the main resource
  }
  std::string rv = jvalue(cfg["metadata"], "resourceVersion", "");
  cfg["metadata"].erase("resourceVersion");

  am::WriteContext ctx{manager, t.api_version(), ri.subresource, now_rfc3339(), list_types(t)};
  for (int attempt = 0; attempt < 8; ++attempt) {
    int64_t rev = 0;
    auto cur = read(t, ri.namespace_, ri.name, &rev);
    if (!cur && cur.error().kind != "NotFound") return internal_error(cur.error().message);
    if (!rv.empty() && (!cur || rv != std::to_string(rev))) return conflict_modified(gr, ri.name);
    if (!cur && !ri.subresource.empty()) return not_found(gr, ri.name);
    json live = cur ? *cur : json();
    auto result = am::server_side_apply(live, cfg, ctx, force);
    if (!result.conflicts.empty()) {
      json causes = json::array();
      for (const auto& c : result.conflicts)
        causes.push_back({{"reason", "FieldManagerConflict"}, {"message", "conflict with " + c.manager_text},
                          {"field", c.path}});
      json st = status_object(409, "Conflict", result.conflict_message);
      st["details"] = {{"causes", std::move(causes)}};
      return ApiError{409, std::move(st)};
    }
    struct Applying {
      Applying() { t_applying = true; }
      ~Applying() { t_applying = false; }
    } applying;
    if (!cur) {
      auto o = create_object(t, ri.namespace_, std::move(result.object), warnings);
      if (auto* e = std::get_if<ApiError>(&o); e && e->code == 409 && jvalue(e->status, "reason", "") == "AlreadyExists")
        continue;  // created meanwhile: apply onto it
      if (auto* r = std::get_if<Reply>(&o)) {
        for (const auto& w : warnings) r->headers.emplace_back("Warning", "299 - \"" + w + "\"");
      }
      return o;
    }
    result.object["metadata"]["resourceVersion"] = std::to_string(rev);
    auto o = update_object(t, ri.namespace_, ri.name, ri.subresource, std::move(result.object), *cur, rev, warnings);
    if (auto* e = std::get_if<ApiError>(&o);
        e && e->code == 409 && jvalue(e->status, "reason", "") == "Conflict" && rv.empty()) {
      continue;  // a racing write: apply again onto it
    }
    return o;
  }
  return conflict_modified(gr, ri.name);
}

}  // namespace k3dpp::apiserver
