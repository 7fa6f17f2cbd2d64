// Local image registries (k3d's `registry create|list|delete`, `cluster create --registry-create
// / --registry-use`). A registry is one container k3dpp-NAME running k3dpp/registry (Debian's
// docker-registry, the Docker Distribution registry) on port 5000, published on the host
// (127.0.0.1:HOSTPORT), with its data in the volume k3dpp-NAME-data. Like clusters, registries
// live only in container labels.
//
// Nodes reach a registry through the cluster network by its container name. The CLI writes
// containerd hosts.toml files into every node before it starts (docs/node-contract.md):
//   /etc/containerd/certs.d/docker.io/hosts.toml        docker.io pulled through the registry
//   /etc/containerd/certs.d/k3dpp-NAME:5000/hosts.toml   the registry's own name, plain http
//   /etc/containerd/certs.d/k3dpp-NAME:HOSTPORT/...      the name k3d users tag with (host port)
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/probes.h"
#include "common/result.h"
#include "runtime/runtime.h"

namespace k3dpp::cluster {

inline constexpr const char* kRoleRegistry = "registry";           // k3dpp.role value
inline constexpr const char* kLabelRegistryHostIp = "k3dpp.registry.host.ip";
inline constexpr const char* kLabelRegistryHostPort = "k3dpp.registry.host.port";
// Set on a registry created with a cluster (--registry-create): deleted with that cluster.
inline constexpr const char* kLabelRegistryCluster = "k3dpp.registry.cluster";
inline constexpr uint16_t kRegistryPort = 5000;
inline constexpr const char* kRegistryDataDir = "/var/lib/docker-registry";  // images/registry/config.yml
inline constexpr const char* kContainerdCertsDir = "/etc/containerd/certs.d";
inline constexpr const char* kDockerHubUpstream = "https://registry-1.docker.io";

// "reg" and "k3dpp-reg" both name the container k3dpp-reg.
std::string registry_container_name(const std::string& name);
// The data volume of a registry container: k3dpp-NAME-data.
std::string registry_volume_name(const std::string& container);
// K3DPP_REGISTRY_IMAGE or k3dpp/registry:<version>.
std::string default_registry_image();

// Registry names: lower-case alphanumerics, '-' and '.', starting and ending alphanumeric;
// k3dpp-NAME at most 63 characters (it is a host name on the cluster network).
Status validate_registry_name(const std::string& name);

// A registry as a flag names it.
//   --registry-create NAME[:[HOST:]PORT]  PORT = host port to publish (default random, HOST 127.0.0.1)
//   --registry-use NAME[:PORT]            PORT = the registry's host port or 5000 (checked), optional
struct RegistryRef {
  std::string name;                   // container name, k3dpp-NAME
  std::string host_ip = "127.0.0.1";
  uint16_t port = 0;                  // 0 = not given
  std::string text;                   // as typed
};
Result<RegistryRef> parse_registry_create(const std::string& text);
Result<RegistryRef> parse_registry_use(const std::string& text);

// `registry create -p [HOST:]PORT`.
struct RegistryHostPort {
  std::string host_ip = "127.0.0.1";
  uint16_t host_port = 0;             // 0 = the engine picks one
};
Result<RegistryHostPort> parse_registry_port(const std::string& text);

struct RegistrySpec {
  std::string name;                   // container name k3dpp-NAME
  std::string image;                  // "" = default_registry_image()
  RegistryHostPort host;
  std::string network;                // "" = the engine's default network
  std::string cluster;                // created with this cluster ("" = standalone)
  std::string version;                // K3DPP_VERSION
};

// The registry container: labels, volume at kRegistryDataDir, port 5000 published on host.
runtime::ContainerSpec registry_container(const RegistrySpec& spec);

// A registry as the engine reports it.
struct RegistryState {
  std::string name;
  std::string state;                  // running, exited, created...
  bool running = false;
  std::string image;
  std::string host_ip;
  uint16_t host_port = 0;             // as bound by the engine (0 while not running)
  std::string cluster;                // owning cluster ("" = standalone)
  std::vector<std::string> networks;  // networks it is attached to
};
// False when the container is not a k3dpp registry.
bool registry_from_container(const runtime::ContainerInfo& c, RegistryState& out);

// ---- node side: containerd hosts.toml files

// certs.d/docker.io/hosts.toml: upstream kDockerHubUpstream, the registries (in order) as
// mirrors over plain http (pull + resolve).
std::string render_docker_hub_hosts_toml(const std::vector<std::string>& mirror_hosts);
// certs.d/<name>/hosts.toml for a registry's own name: server http://HOST (all capabilities).
std::string render_registry_hosts_toml(const std::string& host);
// Every file a node needs for these registries: absolute path -> content (empty for none).
std::map<std::string, std::string> registry_host_files(const std::vector<RegistryState>& registries);

// ---- operations (progress on the "cluster" logger)

// Creates and starts the registry (volume, container, network); everything is removed again on
// failure. Returns the state with the host port the engine bound.
Result<RegistryState> create_registry(runtime::Runtime& rt, const RegistrySpec& spec, const HostProbes& probes);
// Removes the container and its volume. Kind "NotFound" when there is no such registry.
Status delete_registry(runtime::Runtime& rt, const std::string& name);
Result<RegistryState> get_registry(runtime::Runtime& rt, const std::string& name);
Result<std::vector<RegistryState>> list_registries(runtime::Runtime& rt);
// The registries attached to a network (what a cluster on that network uses), sorted by name.
Result<std::vector<RegistryState>> network_registries(runtime::Runtime& rt, const std::string& network);
// Puts registry_host_files(registries) into a (created, not necessarily started) node.
Status put_registry_files(runtime::Runtime& rt, const std::string& node, const std::vector<RegistryState>& registries);

// ---- registries of a cluster (cluster create --registry-create / --registry-use, delete)

class Rollback;

struct ClusterRegistries {
  std::string cluster;
  std::string network;
  std::optional<RegistrySpec> create;  // --registry-create: created on the cluster network
  std::vector<RegistryState> use;      // --registry-use: existing, connected to the network
  std::vector<RegistryState> attached; // after attach: what the nodes are configured for
};

// Preflight (nothing is created): the new registry's name is free, its image exists, its host
// port is free (or picked); every used registry exists, and a PORT given with it is its host
// port or 5000.
Result<ClusterRegistries> plan_cluster_registries(runtime::Runtime& rt, const std::string& cluster,
                                                  const std::string& network, const std::optional<RegistryRef>& create,
                                                  const std::vector<RegistryRef>& use, const HostProbes& probes);
// Pipeline step (after the network exists): creates/connects, records the undo in rb.
Status attach_cluster_registries(runtime::Runtime& rt, ClusterRegistries& plan, Rollback& rb, const HostProbes& probes);
// On cluster delete, before the network goes: registries created with the cluster are deleted,
// used ones are disconnected from the cluster's network (when it is the cluster's own).
Status detach_cluster_registries(runtime::Runtime& rt, const std::string& cluster, const std::string& network,
                                 bool network_owned);

// Tables and JSON of registry list: output.h.

// What `registry create` prints after creating: how to push and use it.
std::string registry_usage_hint(const RegistryState& reg);

}  // namespace k3dpp::cluster
