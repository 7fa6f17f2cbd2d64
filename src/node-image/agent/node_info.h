// What the agent reports about its node: facts gathered from the host (/proc, cgroups,
// /etc/os-release, uname, containerd) and the Node/Lease JSON built from them (pure functions).
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <utility>

#include "common/result.h"

namespace k3dpp::agent {

struct NodeFacts {
  std::string name;
  std::string internal_ip;
  std::string hostname;
  long long cpus = 1;
  long long memory_kib = 0;
  long long ephemeral_storage_kib = 0;
  long long max_pods = 110;
  std::string os_image = "Debian GNU/Linux";
  std::string kernel_version;
  std::string architecture = "amd64";
  std::string container_runtime_version;  // "containerd://1.6.20~ds1" or ""
  std::string machine_id, system_uuid, boot_id;
  bool control_plane = false;  // server nodes carry the control-plane/master role labels
  bool etcd = false;           // HA servers also carry the etcd role label
  std::map<std::string, std::string> extra_labels;  // --node-label KEY=VALUE (never replace the ones above)
  nlohmann::json taints = nlohmann::json::array();  // --node-taint, set at registration (spec.taints)
};

// --node-taint KEY[=VALUE]:EFFECT (k3s's form) -> {"key","value","effect"}; effect NoSchedule,
// PreferNoSchedule or NoExecute. --node-label KEY[=VALUE]. Errors name the bad text.
Result<nlohmann::json> parse_node_taint(const std::string& text);
Result<std::pair<std::string, std::string>> parse_node_label(const std::string& text);

// Reads the host. name/internal_ip/control_plane are the caller's.
NodeFacts gather_facts();
// The first non-loopback, non-link-local IPv4 address of this host ("" if none).
std::string first_host_ipv4();

// RFC 3339 in UTC, seconds ("2026-01-02T03:04:05Z") and micro ("...05.000000Z", for Leases).
std::string rfc3339_now();
std::string micro_time_now();

nlohmann::json node_labels(const NodeFacts& f);
// The status block: capacity, allocatable, conditions (Ready=True ...), addresses, nodeInfo.
// `previous` (the stored status) keeps lastTransitionTime of unchanged conditions.
nlohmann::json node_status(const NodeFacts& f, const nlohmann::json& previous = nullptr);
// A whole Node for registration.
nlohmann::json node_object(const NodeFacts& f);
// The node's Lease in kube-node-lease (owner: the Node when its uid is known).
nlohmann::json lease_object(const std::string& node_name, const std::string& node_uid,
                            int duration_seconds);

}  // namespace k3dpp::agent
