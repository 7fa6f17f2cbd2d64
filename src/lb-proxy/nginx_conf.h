// Renders nginx.conf (stream module) from a PortsConfig. Pure: no I/O, no DNS.
#pragma once

#include <functional>
#include <string>

#include "lb-proxy/ports_config.h"

namespace k3dpp::lb {

struct RenderOptions {
  // Debian's dynamic stream module (package libnginx-mod-stream).
  std::string stream_module = "/usr/lib/nginx/modules/ngx_stream_module.so";
  std::string pid_file = "/run/nginx.pid";
  std::string error_log = "stderr";
  // Recorded in the header comment only.
  std::string source = "/etc/k3dpp-lb/ports.json";
  int worker_connections = 4096;
};

// Decides whether an upstream host can be used now (e.g. its docker DNS name resolves).
// nginx refuses a whole configuration when one upstream name does not resolve, so the agent
// leaves such upstreams out and re-renders when they appear.
using UpstreamFilter = std::function<bool(const Upstream&)>;

// One `upstream port_<listen>_<proto>` block and one `server` per port, sorted by port.
// Upstreams rejected by `usable` are written as comments; a port left with none gets a
// placeholder server marked down, so clients are refused instead of nginx failing to load.
std::string render_nginx_conf(const PortsConfig& cfg, const RenderOptions& opts = {},
                              const UpstreamFilter& usable = {});

}  // namespace k3dpp::lb
