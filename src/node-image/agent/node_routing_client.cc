#include "agent/node_routing_client.h"

#include "agent/agent.h"
#include "client/https_client.h"
#include "common/json_read.h"

namespace k3dpp::agent {

NodeRoutingClient::NodeRoutingClient(std::string server_url, std::string token, std::string default_node)
    : server_url_(std::move(server_url)), token_(std::move(token)), default_node_(std::move(default_node)) {}

Result<client::ApiClient*> NodeRoutingClient::for_node(const std::string& node_in) {
  const std::string node = node_in.empty() ? default_node_ : node_in;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = clients_.find(node);
    if (it != clients_.end()) return it->second.get();
  }
  auto creds = bootstrap(server_url_, token_, node);
  if (!creds) return unexpected(creds.error().wrap("credentials for node " + node));
  client::HttpsOptions o;
  o.server = server_url_;
  o.ca_pem = creds->ca_pem;
  o.cert_pem = creds->cert_pem;
  o.key_pem = creds->key_pem;
  std::lock_guard<std::mutex> l(mu_);
  auto& slot = clients_[node];
  if (!slot) slot = std::make_unique<client::HttpsClient>(o);
  return slot.get();
}

std::string NodeRoutingClient::owner(const client::Resource& r, const std::string& ns, const std::string& name,
                                     const json* object) {
  std::string n = name;
  if (n.empty() && object && object->contains("metadata")) n = jvalue((*object)["metadata"], "name", "");
  if (r.group_version == "v1" && r.plural == "nodes") return n;
  if (r.plural == "leases" && ns == "kube-node-lease") return n;
  if (r.group_version == "v1" && r.plural == "pods") {
    if (object && object->contains("spec") && (*object)["spec"].is_object()) {
      std::string node = jvalue((*object)["spec"], "nodeName", "");
      if (!node.empty()) return node;
    }
    auto reader = for_node(default_node_);
    if (!reader) return {};
    auto pod = (*reader)->get(r, ns, n);
    if (pod && pod->contains("spec")) return jvalue((*pod)["spec"], "nodeName", "");
  }
  return {};
}

#define K3DPP_ROUTE(node_expr)                  \
  auto c = for_node(node_expr);                 \
  if (!c) return unexpected(c.error());         \
  client::ApiClient& target = **c

Result<json> NodeRoutingClient::get(const client::Resource& r, const std::string& ns, const std::string& name) {
  K3DPP_ROUTE(default_node_);
  return target.get(r, ns, name);
}

Result<client::ListResult> NodeRoutingClient::list(const client::Resource& r, const std::string& ns,
                                                   const client::ListOptions& opts) {
  K3DPP_ROUTE(default_node_);
  return target.list(r, ns, opts);
}

Status NodeRoutingClient::watch(const client::Resource& r, const std::string& ns, const client::ListOptions& opts,
                                const std::string& from_resource_version, const client::WatchCallback& on_event,
                                std::stop_token stop) {
  K3DPP_ROUTE(default_node_);
  return target.watch(r, ns, opts, from_resource_version, on_event, stop);
}

Result<json> NodeRoutingClient::create(const client::Resource& r, const std::string& ns, const json& object) {
  K3DPP_ROUTE(owner(r, ns, "", &object));
  return target.create(r, ns, object);
}

Result<json> NodeRoutingClient::update(const client::Resource& r, const std::string& ns, const json& object) {
  K3DPP_ROUTE(owner(r, ns, "", &object));
  return target.update(r, ns, object);
}

Result<json> NodeRoutingClient::update_status(const client::Resource& r, const std::string& ns, const json& object) {
  K3DPP_ROUTE(owner(r, ns, "", &object));
  return target.update_status(r, ns, object);
}

Result<json> NodeRoutingClient::patch(const client::Resource& r, const std::string& ns, const std::string& name,
                                      client::PatchType type, const json& body, const std::string& subresource) {
  K3DPP_ROUTE(owner(r, ns, name, nullptr));
  return target.patch(r, ns, name, type, body, subresource);
}

Status NodeRoutingClient::remove(const client::Resource& r, const std::string& ns, const std::string& name,
                                 const client::DeleteOptions& opts) {
  K3DPP_ROUTE(owner(r, ns, name, nullptr));
  return target.remove(r, ns, name, opts);
}

Status NodeRoutingClient::bind(const std::string& ns, const std::string& pod, const std::string& node) {
  K3DPP_ROUTE(default_node_);
  return target.bind(ns, pod, node);
}

#undef K3DPP_ROUTE

}  // namespace k3dpp::agent
