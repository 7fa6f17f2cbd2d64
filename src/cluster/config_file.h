// k3d's `Simple` config file (apiVersion k3d.io/v1alpha5, or k3dpp.io/v1alpha1 for the same
// shape), read into the flag values `cluster create` takes, so one set of parsers checks both.
// Every field k3d defines either maps to a k3dpp option or is refused by name; an unknown field,
// a wrong type or a refused field is an error "FILE:LINE: FIELD: message". ${VAR} and $VAR are
// expanded from the environment first, as k3d does.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::cluster {

inline constexpr const char* kConfigApiVersionK3d = "k3d.io/v1alpha5";
inline constexpr const char* kConfigApiVersionK3dpp = "k3dpp.io/v1alpha1";

// Values as `cluster create` flags spell them (nodeFilters joined as "VALUE@F1;F2").
struct ConfigFile {
  std::string path;
  std::optional<std::string> name;             // metadata.name
  std::optional<int> servers, agents;          // servers, agents
  std::optional<std::string> image;            // image
  std::optional<std::string> network, subnet, token;
  std::optional<std::string> api_port;         // --api-port [HOST:]PORT from kubeAPI.hostIP/hostPort
  std::optional<std::string> api_host;         // kubeAPI.host: the kubeconfig's server name
  std::vector<std::string> ports;              // -p
  std::vector<std::string> volumes;            // -v
  std::vector<std::string> env;                // -e
  std::optional<std::string> registry_create;  // --registry-create NAME[:[HOST:]PORT]
  std::vector<std::string> registry_use;       // --registry-use
  std::vector<std::string> host_aliases;       // --host-alias IP:NAME[,NAME]
  std::optional<bool> wait, no_lb, no_rollback;
  std::optional<std::string> timeout;          // options.k3d.timeout
  std::vector<std::string> lb_config_overrides;  // options.k3d.loadbalancer.configOverrides
  std::vector<std::string> k3s_args;           // --k3s-arg ARG@FILTER
  std::vector<std::string> node_labels;        // --node-label KEY=VALUE@FILTER
  std::optional<bool> update_default_kubeconfig, switch_context;
  std::optional<std::string> servers_memory, agents_memory;
  std::vector<std::string> runtime_labels;     // --runtime-label
  std::vector<std::string> runtime_ulimits;    // --runtime-ulimit NAME=SOFT:HARD
  // Fields accepted although they change nothing in k3dpp, with why (logged at info).
  std::vector<std::string> notes;
};

// $VAR and ${VAR} replaced by the environment's value ("" when unset); other '$' stay.
std::string expand_env(const std::string& text);

// Parses the text of a config file; path is used in messages only.
Result<ConfigFile> parse_config_file(const std::string& text, const std::string& path);
// Reads and parses FILE ("-" = stdin).
Result<ConfigFile> load_config_file(const std::string& path);

// The commented file `k3dpp config init` writes.
std::string default_config_file(const std::string& name, const std::string& node_image);

}  // namespace k3dpp::cluster
