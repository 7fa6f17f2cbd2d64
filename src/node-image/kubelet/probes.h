// Container probes (liveness, readiness, startup): exec through CRI ExecSync, tcpSocket and
// httpGet from the node to the pod IP. Results as Kubernetes reports them in Unhealthy events.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

#include "cri/cri_client.h"

namespace k3dpp::kubelet {

using json = nlohmann::json;

struct ProbeResult {
  bool success = false;
  std::string output;  // failure detail for the event ("HTTP probe failed with statuscode: 500")
};

// Kubernetes' probe timing fields with their defaults.
struct ProbeTiming {
  int initial_delay_seconds = 0;
  int period_seconds = 10;
  int timeout_seconds = 1;
  int success_threshold = 1;
  int failure_threshold = 3;
};
ProbeTiming probe_timing(const json& probe);

// Resolves a probe port (number or the name of a container port); 0 when unknown.
int resolve_probe_port(const json& port, const json& container);

ProbeResult tcp_probe(const std::string& host, int port, std::chrono::milliseconds timeout);
// GET http://host:port/path; success for status 200..399 (redirects are not followed).
ProbeResult http_probe(const std::string& host, int port, const std::string& path, const json& headers,
                       std::chrono::milliseconds timeout);
ProbeResult exec_probe(cri::CriClient& cri, const std::string& container_id, const std::vector<std::string>& cmd,
                       int timeout_seconds);

// Runs the probe described by `probe` (one of exec/tcpSocket/httpGet) against a container.
ProbeResult run_probe(const json& probe, const json& container, const std::string& pod_ip, cri::CriClient& cri,
                      const std::string& container_id);

}  // namespace k3dpp::kubelet
