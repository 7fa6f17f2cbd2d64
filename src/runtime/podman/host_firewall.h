// Host firewall clean-up for podman's CNI networks. `podman network rm` (4.3, CNI backend) leaves
// the CNI firewall plugin's isolation rules behind in the host's filter table:
//   -A CNI-ISOLATION-STAGE-1 -i cni-podmanN ! -o cni-podmanN ... -j CNI-ISOLATION-STAGE-2
//   -A CNI-ISOLATION-STAGE-2 -o cni-podmanN ... -j DROP
// They name the deleted bridge, and podman hands that bridge name to the next network it creates.
// This removes exactly those rules (by full rule text, never by position) and nothing else.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::runtime::podman::firewall {

// Runs argv (argv[0] looked up in PATH) and returns its stdout+stderr; fails unless it exits 0.
using CommandRunner = std::function<Result<std::string>(const std::vector<std::string>& argv)>;
CommandRunner system_runner();

inline constexpr const char* kIsolationChains[] = {"CNI-ISOLATION-STAGE-1", "CNI-ISOLATION-STAGE-2"};

// Splits one `iptables -S` line into arguments (double quotes group, backslash escapes).
std::vector<std::string> split_rule(const std::string& line);

// From the `iptables -S CHAIN` listing: the "-A CHAIN ..." rules (as arguments, starting at
// "-A") that match input or output interface `bridge` exactly.
std::vector<std::vector<std::string>> rules_for_bridge(const std::string& listing, const std::string& bridge);

// Deletes the isolation rules naming `bridge` from both chains with `iptables -w -D`; returns how
// many were deleted. Missing chains count as nothing to do.
Result<int> remove_isolation_rules(const CommandRunner& run, const std::string& bridge);

}  // namespace k3dpp::runtime::podman::firewall
