// k3dpp cluster create NAME (k3d: cmd/cluster/clusterCreate.go)
#include <cstdlib>

#include "cli/cli.h"
#include "cluster/operations.h"
#include "cluster/parse.h"
#include "cluster/registry.h"
#include "common/log.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::string name = "default";
  int servers = 1;
  int agents = 0;
  std::vector<std::string> ports;
  std::vector<std::string> volumes;
  std::string api_port;
  std::string image;
  std::string network;
  std::string pod_network;
  bool wait = true;
  std::string timeout = "120s";
  bool no_rollback = false;
  bool no_lb = false;
  bool kubeconfig_update_default = true;
  bool kubeconfig_switch_context = true;
  std::string registry_create;
  std::vector<std::string> registry_use;
};

Result<cluster::CreateOptions> to_create_options(const Options& o) {
  cluster::CreateOptions c;
  c.spec.name = o.name;
  K3DPP_TRY(cluster::validate_cluster_name(o.name));
  c.spec.servers = o.servers;
  c.spec.agents = o.agents;
  for (const auto& p : o.ports) {
    auto pm = cluster::parse_port_mapping(p);
    if (!pm) return pm.error();
    c.spec.ports.push_back(*pm);
  }
  for (const auto& v : o.volumes) {
    auto vm = cluster::parse_volume(v);
    if (!vm) return vm.error();
    c.spec.volumes.push_back(*vm);
  }
  if (!o.api_port.empty()) {
    auto ap = cluster::parse_api_port(o.api_port);
    if (!ap) return ap.error();
    c.spec.api = *ap;
  }
  c.spec.node_image = o.image;
  if (!o.network.empty()) {
    c.spec.network = o.network;
    c.spec.own_network = false;
  }
  c.spec.with_lb = !o.no_lb;
  c.spec.pod_network = o.pod_network;
  if (c.spec.pod_network.empty()) {
    const char* env = std::getenv("K3DPP_POD_NETWORK");
    if (env != nullptr) c.spec.pod_network = env;
  }
  auto t = parse_duration(o.timeout);
  if (!t) return t.error().wrap("--timeout");
  c.timeout = *t;
  c.wait = o.wait;
  c.rollback = !o.no_rollback;
  c.kubeconfig.update_default = o.kubeconfig_update_default;
  c.kubeconfig.switch_context = o.kubeconfig_switch_context;
  if (!o.registry_create.empty()) {
    auto r = cluster::parse_registry_create(o.registry_create);
    if (!r) return r.error().wrap("--registry-create");
    c.registry_create = *r;
  }
  for (const auto& u : o.registry_use) {
    auto r = cluster::parse_registry_use(u);
    if (!r) return r.error().wrap("--registry-use");
    c.registry_use.push_back(*r);
  }
  return c;
}
}  // namespace

void add_cluster_create(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("create", "Create a new cluster");
  cmd->add_option("NAME", o->name, "Cluster name (default: default)");
  cmd->add_option("-s,--servers", o->servers, "Number of servers")->check(CLI::Range(1, 99));
  cmd->add_option("-a,--agents", o->agents, "Number of agents")->check(CLI::Range(0, 99));
  cmd->add_option("-p,--port", o->ports,
                  "Map ports from the node containers (via the serverlb) to the host "
                  "(Format: [HOST:][HOSTPORT:]CONTAINERPORT[/PROTOCOL][@NODEFILTER])");
  cmd->add_option("-v,--volume", o->volumes, "Mount volumes into the nodes (Format: SOURCE:DEST[:ro|rw][@NODEFILTER])");
  cmd->add_option("--api-port", o->api_port, "Host port for the Kubernetes API server (Format: [HOST:]HOSTPORT)");
  cmd->add_option("-i,--image", o->image, "Node image (default: k3dpp/node:" K3DPP_VERSION ")");
  cmd->add_option("--network", o->network, "Join an existing network instead of creating k3dpp-NAME");
  cmd->add_option("--pod-network", o->pod_network,
                  "Pod network between nodes: host-gw|vxlan (default: $K3DPP_POD_NETWORK, else vxlan on podman, "
                  "host-gw on docker)");
  cmd->add_flag("--wait", o->wait, "Wait for every node to be Ready (default true; --wait=false to skip)");
  cmd->add_option("--timeout", o->timeout, "Rollback changes if the cluster is not up within this time (e.g. 120s, 2m)");
  cmd->add_flag("--no-rollback", o->no_rollback, "Keep what was created when creation fails");
  cmd->add_flag("--no-lb", o->no_lb, "Do not create the serverlb; the API port is published on server-0");
  cmd->add_flag("--kubeconfig-update-default", o->kubeconfig_update_default,
                "Merge the new cluster into the default kubeconfig (default true)");
  cmd->add_flag("--kubeconfig-switch-context", o->kubeconfig_switch_context,
                "Switch the default kubeconfig's current-context to the new cluster (default true)");
  cmd->add_option("--registry-create", o->registry_create,
                  "Create a registry k3dpp-NAME on the cluster network, deleted with the cluster; the nodes pull "
                  "docker.io images through it (Format: NAME[:[HOST:]HOSTPORT])");
  cmd->add_option("--registry-use", o->registry_use,
                  "Connect an existing registry (k3dpp registry create) to the cluster network; the nodes pull "
                  "docker.io images through it (Format: NAME[:HOSTPORT])");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto opts = to_create_options(*o);
      if (!opts) return opts.error();
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto r = cluster::create_cluster(**rt, *opts, ctx.probes);
      if (!r) return r.error();
      auto log = log::get("cluster");
      log->info("You can now use it like this:");
      if (!o->kubeconfig_update_default) {
        *ctx.out << "k3dpp kubeconfig merge " << o->name << "\n";
      } else if (!o->kubeconfig_switch_context) {
        *ctx.out << "kubectl config use-context k3dpp-" << o->name << "\n";
      }
      *ctx.out << "kubectl cluster-info\n";
      return {};
    };
  });
}

}  // namespace k3dpp::cli
