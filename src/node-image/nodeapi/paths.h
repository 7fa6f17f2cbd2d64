// Pure planning for both hops: which node path an API-server subresource request becomes
// (/api/v1/namespaces/NS/pods/P/exec?... → /exec/NS/P/C?...), the Kubernetes errors on the way
// (no host, bad container, completed pod), and parsing the node paths on the node side.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "common/result.h"
#include "httpserver/http.h"

namespace k3dpp::nodeapi {

enum class StreamKind { kLog, kExec, kAttach, kPortForward };

// "log", "exec", "attach", "portforward" (the subresource names).
const char* subresource_name(StreamKind kind);

// The raw query string of a request target ("a=1&b=2" from "/x?a=1&b=2"), "" when none.
std::string_view raw_query(std::string_view target);
// The raw query without the parameters named `name` (encoding of the others kept, order kept).
std::string drop_query_param(std::string_view raw_query, std::string_view name);

struct NodeRequestPlan {
  std::string node_name;
  std::string container;  // "" for port-forward
  std::string target;     // path + query on the node: "/exec/default/p/c?command=ls&stdout=true"
};

// Checks the pod for the subresource and builds the node target. `container` is the request's
// container parameter ("" when absent). Errors carry kind "BadRequest" with Kubernetes' wording:
//   pod P does not have a host assigned
//   container C is not valid for pod P
//   a container name must be specified for pod P, choose one of: [a b]
//   cannot exec into a container in a completed pod; current phase is Succeeded   (exec, attach)
Result<NodeRequestPlan> plan_node_request(StreamKind kind, const nlohmann::json& pod, const std::string& container,
                                          std::string_view raw_query);

// The Node's InternalIP (else its first address); error kind "BadRequest" when it has none.
Result<std::string> node_internal_ip(const nlohmann::json& node);

// An Error as a Kubernetes Status response: NotFound → 404, BadRequest → 400, Forbidden → 403,
// Unavailable → 503, anything else → 500 InternalError.
http::Response error_response(const Error& error);

// Node side: the parsed node path.
struct NodePath {
  StreamKind kind = StreamKind::kLog;
  std::string ns, pod, container;  // container "" for port-forward
};
// /containerLogs/NS/POD/C, /exec/NS/POD/C, /attach/NS/POD/C, /portForward/NS/POD (one optional
// trailing uid segment is accepted and ignored). Error kind "NotFound" otherwise.
Result<NodePath> parse_node_path(std::string_view path);

}  // namespace k3dpp::nodeapi
