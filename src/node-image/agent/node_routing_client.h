// NodeRoutingClient — for hollow nodes (`k3dpp-node agent --hollow N`): one ApiClient that acts
// as many nodes at once under the API server's node restriction. Every node it speaks for gets its
// own client certificate (bootstrap with the node token, lazily, on first use); writes go out with
// the certificate of the node they concern:
//   nodes/NAME, kube-node-lease leases/NAME → node NAME;
//   pods (status, patch, delete)            → the pod's spec.nodeName (read first when needed);
//   everything else (events, reads, watches) → the first node's certificate.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "client/api_client.h"

namespace k3dpp::agent {

using json = nlohmann::json;

class NodeRoutingClient : public client::ApiClient {
 public:
  // default_node: the identity for reads and anything not tied to one node.
  NodeRoutingClient(std::string server_url, std::string token, std::string default_node);

  // The client of one node (bootstraps its credentials on first use).
  Result<client::ApiClient*> for_node(const std::string& node);

  Result<json> get(const client::Resource& r, const std::string& ns, const std::string& name) override;
  Result<client::ListResult> list(const client::Resource& r, const std::string& ns,
                                  const client::ListOptions& opts = {}) override;
  Status watch(const client::Resource& r, const std::string& ns, const client::ListOptions& opts,
               const std::string& from_resource_version, const client::WatchCallback& on_event,
               std::stop_token stop) override;
  Result<json> create(const client::Resource& r, const std::string& ns, const json& object) override;
  Result<json> update(const client::Resource& r, const std::string& ns, const json& object) override;
  Result<json> update_status(const client::Resource& r, const std::string& ns, const json& object) override;
  Result<json> patch(const client::Resource& r, const std::string& ns, const std::string& name,
                     client::PatchType type, const json& body, const std::string& subresource = {}) override;
  Status remove(const client::Resource& r, const std::string& ns, const std::string& name,
                const client::DeleteOptions& opts = {}) override;
  Status bind(const std::string& ns, const std::string& pod, const std::string& node) override;

 private:
  // The node a write concerns ("" = default node). object may be null.
  std::string owner(const client::Resource& r, const std::string& ns, const std::string& name, const json* object);

  std::string server_url_, token_, default_node_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<client::ApiClient>> clients_;
};

}  // namespace k3dpp::agent
