// What the pipelines need from the host besides the engine: port checks, API readiness over TLS.
// Tests replace them with fakes; real_probes() returns the libcurl/socket implementations.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cluster/kubeconfig.h"
#include "common/result.h"

namespace k3dpp::cluster {

struct HttpResponse {
  long status = 0;
  std::string body;
};

struct HostProbes {
  // Ok when ip:port/proto can be bound on the host now (ip "" = 0.0.0.0). Error kind "Conflict".
  std::function<Status(const std::string& ip, uint16_t port, const std::string& proto)> port_free;
  // A free TCP port on ip, chosen by the kernel.
  std::function<Result<uint16_t>(const std::string& ip)> pick_free_port;
  // One GET over TLS with the kubeconfig's CA and client cert (url is absolute).
  std::function<Result<HttpResponse>(const std::string& url, const ClientCreds& creds)> https_get;
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<std::chrono::steady_clock::time_point()> now;
};

HostProbes real_probes();

Status check_port_free(const std::string& ip, uint16_t port, const std::string& proto);
Result<uint16_t> pick_free_port(const std::string& ip);
Result<HttpResponse> https_get(const std::string& url, const ClientCreds& creds);

// Polls GET <server>/readyz until 200 "ok" or the deadline.
Status wait_api_ready(const HostProbes& p, const ClientCreds& creds, std::chrono::steady_clock::time_point deadline);
// Polls GET /api/v1/nodes/NAME until condition Ready=True for every node, or the deadline.
Status wait_nodes_ready(const HostProbes& p, const ClientCreds& creds, const std::vector<std::string>& nodes,
                        std::chrono::steady_clock::time_point deadline);
// True when a Node object (JSON) has condition Ready=True.
bool node_json_ready(const std::string& json);

}  // namespace k3dpp::cluster
