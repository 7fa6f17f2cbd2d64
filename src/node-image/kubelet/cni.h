// The node's CNI configuration: one conflist for its podCIDR (bridge cni0 + host-local + portmap).
// containerd's CRI plugin reads the first file of /etc/cni/net.d and adds the loopback interface
// itself, so no separate loopback config is written.
#pragma once

#include <string>

#include "common/result.h"

namespace k3dpp::kubelet {

inline constexpr const char* kCniConfPath = "/etc/cni/net.d/10-k3dpp.conflist";
inline constexpr const char* kCniNetworkName = "k3dpp";  // host-local keeps leases in /var/lib/cni/networks/k3dpp

// Validates pod_cidr ("10.42.0.0/24") and renders the conflist (2-space indented JSON, trailing newline).
Result<std::string> render_cni_conflist(const std::string& pod_cidr);
// Renders and writes atomically (only when the content changed). Returns true when written.
Result<bool> write_cni_conflist(const std::string& pod_cidr, const std::string& path = kCniConfPath);

}  // namespace k3dpp::kubelet
