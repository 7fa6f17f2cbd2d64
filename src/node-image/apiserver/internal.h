// Shared between the apiserver's .cc files (not part of the public interface).
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <optional>
#include <vector>

#include "apiserver/api_server.h"
#include "apiserver/status.h"
#include "apiserver/watch_cache.h"
#include "common/log.h"
#include "node-image/apimachinery/managed_fields.h"
#include "node-image/schema/schema.h"
#include "store/store.h"

namespace k3dpp::apiserver {

// JSON text for a client or the store. Invalid UTF-8 (a name from the URL such as %FF, a YAML or
// protobuf string) is replaced with U+FFFD, as Go's encoder does, instead of throwing.
inline std::string to_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A parsed API path: /api/v1/namespaces/NS/pods/NAME/status, /apis/apps/v1/deployments, ...
struct RequestInfo {
  std::shared_ptr<const schema::ResourceType> type_owner;  // keeps a custom type alive (watches)
  std::string group, version;
  std::string namespace_;  // from the URL ("" for cluster scope or all namespaces)
  std::string resource;    // plural
  std::string name;
  std::string subresource;
  std::string verb;  // get list watch create update patch delete deletecollection
  const schema::ResourceType* type = nullptr;
};

// Outcome of a handler: a JSON body to send, or an error.
struct Reply {
  int code = 200;
  json body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";
  std::string raw_body;  // when set: sent as is instead of body (pre-serialized JSON)
};

using Outcome = std::variant<Reply, ApiError>;

std::string now_rfc3339();
std::string new_uid();
std::string storage_key(const schema::ResourceType& t, std::string_view ns, std::string_view name);
std::string storage_prefix(const schema::ResourceType& t, std::string_view ns);
GroupResource group_resource(const schema::ResourceType& t);

// The field manager of the calling thread's request (fieldManager, else the User-Agent's
// product), for managedFields; writes outside a request (bootstrap, background loops) have none.
class FieldManagerScope {
 public:
  explicit FieldManagerScope(std::string manager);
  ~FieldManagerScope();
  FieldManagerScope(const FieldManagerScope&) = delete;
  FieldManagerScope& operator=(const FieldManagerScope&) = delete;

 private:
  std::string prev_;
};
// "" outside a request.
const std::string& current_field_manager();

// True while a server-side apply stores its result (its managedFields are already computed).
extern thread_local bool t_applying;
// How lists of a kind merge for server-side apply and managedFields (built-in: the strategic
// merge table; custom: the CRD schema's x-kubernetes-list-type / -list-map-keys / -map-type).
apimachinery::ListTypeOf list_types(const schema::ResourceType& t);

// Marks the calling thread's request as ?dryRun=All for its lifetime.
class DryRunScope {
 public:
  explicit DryRunScope(bool on);
  ~DryRunScope();
  DryRunScope(const DryRunScope&) = delete;
  DryRunScope& operator=(const DryRunScope&) = delete;

 private:
  bool prev_;
};

struct ApiServer::Impl {
  Options opts;
  std::shared_ptr<store::Store> store;
  std::shared_ptr<spdlog::logger> log = log::get("apiserver");
  std::mutex alloc_mu;  // Service ClusterIP / NodePort allocation
  std::atomic<bool> stopping{false};
  std::mutex bg_mu;
  std::condition_variable bg_cv;
  std::thread bg;
  std::map<std::string, http::Handler> connect_handlers;  // "pods/exec" → handler
  DecodedObjects decoded_objects;  // watch events' objects, decoded once for all watchers

  // objects
  Result<json> read(const schema::ResourceType& t, const std::string& ns, const std::string& name,
                    int64_t* revision = nullptr);
  Outcome get(const RequestInfo& ri, const http::Request& req);
  Outcome list(const RequestInfo& ri, const http::Request& req);
  void watch(const RequestInfo& ri, const http::Request& req, http::Responder& resp);
  Outcome create(const RequestInfo& ri, const http::Request& req);
  Outcome update(const RequestInfo& ri, const http::Request& req);
  Outcome patch(const RequestInfo& ri, const http::Request& req);
  Outcome apply(const RequestInfo& ri, const http::Request& req);  // apply-patch+yaml (apply.cc)
  Outcome remove(const RequestInfo& ri, const http::Request& req);
  Outcome remove_collection(const RequestInfo& ri, const http::Request& req);

  // Shared write paths (also used by bootstrap and the namespace finalizer).
  Outcome create_object(const schema::ResourceType& t, const std::string& ns, json obj,
                        std::vector<std::string> warnings = {});
  // Stores `obj` (already merged by the caller) over the current object at `revision`.
  Outcome update_object(const schema::ResourceType& t, const std::string& ns, const std::string& name,
                        const std::string& subresource, json obj, const json& old, int64_t revision,
                        std::vector<std::string> warnings = {});
  Outcome delete_object(const schema::ResourceType& t, const std::string& ns, const std::string& name,
                        const json& options);

  std::optional<ApiError> authorize(const http::User& user, const RequestInfo& ri, const http::Request& req);

  // Store writes that honour ?dryRun=All.
  Result<store::KeyValue> put_new(const std::string& key, const std::string& value);
  Result<store::KeyValue> put(const std::string& key, const std::string& value, int64_t rev);
  Result<store::KeyValue> drop(const std::string& key, int64_t rev);

  // Services
  std::optional<ApiError> allocate_service(const schema::ResourceType& t, json& svc, const json* old);

  // Lifecycle
  Status bootstrap();
  void background_loop();
  void finalize_namespaces();
  void expire_events();
  void release_storage_protection();
  void admit_storage(const schema::ResourceType& t, json& obj);
  void admit_ingress_class(const schema::ResourceType& t, json& obj);

  // CustomResourceDefinitions (custom_resources.cc): served types follow the stored CRDs.
  std::mutex crd_mu;
  std::map<std::string, int64_t> crd_revisions;  // CRD name → revision last reconciled
  void sync_custom_resources();
  void reconcile_custom_resource(const schema::ResourceType& crdt, json crd, int64_t revision);

  // Decoded request body with strict/warn/ignore field validation applied.
  std::variant<json, ApiError> decode_body(const schema::ResourceType& t, const http::Request& req,
                                           std::vector<std::string>& warnings, bool check_fields);
};

}  // namespace k3dpp::apiserver
