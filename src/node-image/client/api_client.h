// ApiClient: a typeless JSON client for the Kubernetes API, used by the controllers, the scheduler
// and hollow nodes. Two transports share one REST layer (RestClient): in-process over
// ApiServer::handle (no network, same defaulting/validation/watch as kubectl sees) and HTTPS with
// a client certificate (libcurl).
//
// Resources are named by group-version ("v1", "apps/v1") and plural ("pods"). Errors are
// k3dpp::Error values whose kind is the Kubernetes reason: NotFound, AlreadyExists, Conflict,
// Invalid, Expired, Forbidden, BadRequest, ... ("Unavailable" for transport failures).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::client {

using json = nlohmann::json;

// (group/version, plural): {"apps/v1", "deployments"}.
struct Resource {
  std::string group_version;
  std::string plural;
};

// Well-known resources.
namespace res {
inline const Resource kPods{"v1", "pods"};
inline const Resource kNodes{"v1", "nodes"};
inline const Resource kNamespaces{"v1", "namespaces"};
inline const Resource kServices{"v1", "services"};
inline const Resource kEndpoints{"v1", "endpoints"};
inline const Resource kEvents{"v1", "events"};
inline const Resource kServiceAccounts{"v1", "serviceaccounts"};
inline const Resource kPersistentVolumes{"v1", "persistentvolumes"};
inline const Resource kPersistentVolumeClaims{"v1", "persistentvolumeclaims"};
inline const Resource kConfigMaps{"v1", "configmaps"};
inline const Resource kSecrets{"v1", "secrets"};
inline const Resource kReplicaSets{"apps/v1", "replicasets"};
inline const Resource kDeployments{"apps/v1", "deployments"};
inline const Resource kLeases{"coordination.k8s.io/v1", "leases"};
inline const Resource kEndpointSlices{"discovery.k8s.io/v1", "endpointslices"};
inline const Resource kStorageClasses{"storage.k8s.io/v1", "storageclasses"};
}  // namespace res

struct ListOptions {
  std::string label_selector;  // "app=web,tier!=db"
  std::string field_selector;  // "spec.nodeName=n1"
};

struct ListResult {
  std::vector<json> items;       // each item has apiVersion/kind filled in
  std::string resource_version;  // of the list, to watch from
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK
  // A callback may move the object out (the Informer does: one parsed copy per event, not three).
  mutable json object;
  // Set instead of `object` (which is then null) when the transport hands the API server's decoded
  // object itself (the in-process client): shared with other watchers, never to be changed.
  std::shared_ptr<const json> shared{};
  const json& obj() const { return shared ? *shared : object; }
};

// Return false to end the watch.
using WatchCallback = std::function<bool(const WatchEvent&)>;
// A decoded watch event (type, object) handed by a transport without text; false ends the stream.
using EventSink = std::function<bool(std::string_view type, std::shared_ptr<const json> object)>;

enum class PatchType { kMerge, kStrategicMerge, kJsonPatch };

struct DeleteOptions {
  std::string propagation_policy;  // "", "Background", "Foreground", "Orphan"
  std::string precondition_uid;
  std::string precondition_resource_version;
  std::optional<long long> grace_period_seconds;
};

class ApiClient {
 public:
  virtual ~ApiClient() = default;

  virtual Result<json> get(const Resource& r, const std::string& ns, const std::string& name) = 0;
  // ns "" = all namespaces (or a cluster-scoped resource).
  virtual Result<ListResult> list(const Resource& r, const std::string& ns, const ListOptions& opts = {}) = 0;
  // Blocks, calling on_event for each event after from_resource_version, until the stream ends
  // (Ok), on_event returns false (Ok), stop is requested (Ok) or an error (kind "Expired" when
  // the resourceVersion is too old: relist).
  virtual Status watch(const Resource& r, const std::string& ns, const ListOptions& opts,
                       const std::string& from_resource_version, const WatchCallback& on_event,
                       std::stop_token stop) = 0;
  virtual Result<json> create(const Resource& r, const std::string& ns, const json& object) = 0;
  // PUT of the whole object (metadata.resourceVersion as the precondition when set).
  virtual Result<json> update(const Resource& r, const std::string& ns, const json& object) = 0;
  virtual Result<json> update_status(const Resource& r, const std::string& ns, const json& object) = 0;
  // subresource "" or e.g. "status", "scale".
  virtual Result<json> patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type,
                             const json& body, const std::string& subresource = {}) = 0;
  virtual Status remove(const Resource& r, const std::string& ns, const std::string& name,
                        const DeleteOptions& opts = {}) = 0;
  // POST pods/NAME/binding.
  virtual Status bind(const std::string& ns, const std::string& pod, const std::string& node) = 0;
};

// One HTTP exchange as the REST layer sees it.
struct RawResponse {
  int status = 0;
  std::string body;
};

// The REST layer over a transport: paths, query strings, Status → Error, watch line framing.
class RestClient : public ApiClient {
 public:
  Result<json> get(const Resource& r, const std::string& ns, const std::string& name) override;
  Result<ListResult> list(const Resource& r, const std::string& ns, const ListOptions& opts = {}) override;
  Status watch(const Resource& r, const std::string& ns, const ListOptions& opts,
               const std::string& from_resource_version, const WatchCallback& on_event,
               std::stop_token stop) override;
  Result<json> create(const Resource& r, const std::string& ns, const json& object) override;
  Result<json> update(const Resource& r, const std::string& ns, const json& object) override;
  Result<json> update_status(const Resource& r, const std::string& ns, const json& object) override;
  Result<json> patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type,
                     const json& body, const std::string& subresource = {}) override;
  Status remove(const Resource& r, const std::string& ns, const std::string& name,
                const DeleteOptions& opts = {}) override;
  Status bind(const std::string& ns, const std::string& pod, const std::string& node) override;

 protected:
  // target = path plus "?query" (already encoded). Transport errors: kind "Unavailable".
  virtual Result<RawResponse> request(const std::string& method, const std::string& target,
                                      const std::string& content_type, const std::string& body) = 0;
  // Streams a GET; on_chunk gets raw bytes and returns false to stop. Returns the status code and,
  // for non-2xx, the body. Must return soon after stop is requested.
  virtual Result<RawResponse> stream(const std::string& target, const std::function<bool(std::string_view)>& on_chunk,
                                     std::stop_token stop) = 0;
  // A watch stream: as stream(), except that a transport that can hand decoded events (type,
  // object) without text calls on_event for those instead (the in-process client).
  virtual Result<RawResponse> stream_watch(const std::string& target,
                                           const std::function<bool(std::string_view)>& on_chunk,
                                           const EventSink& on_event, std::stop_token stop) {
    (void)on_event;
    return stream(target, on_chunk, stop);
  }
};

// --- Helpers (pure) ---

// "/api/v1/namespaces/NS/pods/NAME/SUB" or "/apis/apps/v1/...".
std::string resource_path(const Resource& r, const std::string& ns, const std::string& name = {},
                          const std::string& subresource = {});
// Percent-encodes a query value (RFC 3986 unreserved characters kept).
std::string query_escape(std::string_view s);
// An Error from a non-2xx response: kind = Status.reason (or derived from the code), message =
// Status.message.
Error error_from_response(int status, const std::string& body);

}  // namespace k3dpp::client
