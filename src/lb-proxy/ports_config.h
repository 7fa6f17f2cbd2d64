// The LB ports file (docs/node-contract.md): which ports the load balancer listens on and where
// each one forwards. Parsing and validation only; no I/O besides reading the file.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::lb {

enum class Protocol { kTcp, kUdp };

std::string to_string(Protocol p);

// One upstream, "host:port". host is a DNS name (docker resolves container names), an IPv4
// address or a bracketed IPv6 address ("[fd00::1]:6443").
struct Upstream {
  std::string host;  // without brackets for IPv6
  int port = 0;
  bool ipv6 = false;

  // "host:port" as nginx wants it (brackets around IPv6).
  [[nodiscard]] std::string address() const;
  bool operator==(const Upstream&) const = default;
};

struct PortSpec {
  int listen = 0;
  Protocol protocol = Protocol::kTcp;
  std::vector<Upstream> upstreams;
};

struct PortsConfig {
  std::vector<PortSpec> ports;  // sorted by (listen, protocol)
  int worker_connections = 0;   // "settings": {"workerConnections": N} (0 = the renderer's default)
};

// Parses {"ports":[{"listen":6443,"protocol":"tcp","upstreams":["host:6443"]}, ...]} and the
// optional "settings": {"workerConnections": N} (k3dpp cluster create --lb-config-override).
// "protocol" defaults to tcp. Errors name the offending field, e.g.
// "ports[1].upstreams[0]: \"server-0\" is not host:port". Kind "Invalid".
Result<PortsConfig> parse_ports_config(const std::string& json_text);

// Reads and parses a ports file; errors start with the path.
Result<PortsConfig> load_ports_config(const std::string& path);

// Parses one "host:port" upstream.
Result<Upstream> parse_upstream(const std::string& text);

}  // namespace k3dpp::lb
