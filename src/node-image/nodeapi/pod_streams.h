// API-server side of logs/exec/attach/port-forward: look up the pod and its node, open TLS to the
// node's :10250 (NodeDialer), forward the request with the node path (same method, query and
// upgrade headers) and relay the answer: a 101 and then bytes both ways, a chunked log stream, or
// the node's error as is. kubectl's websocket-first exec (v5 only) gets containerd's 403 back and
// retries with SPDY, which containerd accepts.
#pragma once

#include <memory>

#include "client/api_client.h"
#include "httpserver/http.h"
#include "nodeapi/node_dialer.h"
#include "nodeapi/paths.h"

namespace k3dpp::apiserver {
class ApiServer;
}

namespace k3dpp::nodeapi {

// Registers pods/log, pods/exec, pods/attach and pods/portforward on the API server (before
// start()). Pods and nodes are read in-process (as admin) through ApiServer::handle.
void install_pod_stream_handlers(apiserver::ApiServer& api, NodeDialer dialer);

// One subresource's handler over any ApiClient (tests use a fake one).
http::Handler make_pod_stream_handler(StreamKind kind, std::shared_ptr<client::ApiClient> api,
                                      std::shared_ptr<const NodeDialer> dialer);

}  // namespace k3dpp::nodeapi
