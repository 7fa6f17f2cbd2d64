// k3dpp cluster create [NAME] [-c FILE] (k3d: cmd/cluster/clusterCreate.go)
#include <cstdlib>

#include "cli/cli.h"
#include "cluster/config_file.h"
#include "cluster/operations.h"
#include "cluster/parse.h"
#include "cluster/registry.h"
#include "cluster/translate.h"
#include "common/log.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::string config;
  std::string name = "default";
  int servers = 1;
  int agents = 0;
  std::vector<std::string> ports;
  std::vector<std::string> volumes;
  std::vector<std::string> env;
  std::string api_port;
  std::string api_host;  // config only: kubeAPI.host
  std::string image;
  std::string network;
  std::string subnet;
  std::string token;
  std::string pod_network;
  bool disable_ingress = false;
  bool wait = true;
  std::string timeout = "120s";
  bool no_rollback = false;
  bool no_lb = false;
  bool no_image_volume = false;
  bool kubeconfig_update_default = true;
  bool kubeconfig_switch_context = true;
  std::string registry_create;
  std::vector<std::string> registry_use;
  std::vector<std::string> k3s_args;     // ARG@FILTER
  std::vector<std::string> server_args;  // ARG (servers)
  std::vector<std::string> agent_args;   // ARG (agents)
  std::vector<std::string> node_labels;
  std::vector<std::string> runtime_labels;
  std::vector<std::string> runtime_ulimits;
  std::vector<std::string> host_aliases;
  std::string servers_memory;
  std::string agents_memory;
  std::vector<std::string> lb_config_overrides;
  std::vector<std::string> notes;  // accepted without effect, logged
};

// Values from the config file for every flag not given on the command line; list values are
// the file's followed by the flags' (as k3d does). The NAME argument overrides metadata.name.
Status merge_config(Options& o, const cluster::ConfigFile& c, const CLI::App& cmd) {
  auto given = [&](const char* flag) { return cmd.count(flag) > 0; };
  if (!given("NAME") && c.name) o.name = *c.name;
  if (!given("--servers") && c.servers) o.servers = *c.servers;
  if (!given("--agents") && c.agents) o.agents = *c.agents;
  if (!given("--image") && c.image) {
    if (c.image->find("rancher/k3s") != std::string::npos) {
      return fail(c.path + ": image: " + *c.image +
                      " is a k3s image; k3dpp nodes run k3dpp/node images (drop the field or override it with -i)",
                  "Invalid");
    }
    o.image = *c.image;
  }
  if (!given("--network") && c.network) o.network = *c.network;
  if (!given("--subnet") && c.subnet) o.subnet = *c.subnet;
  if (!given("--token") && c.token) o.token = *c.token;
  if (!given("--api-port") && c.api_port) o.api_port = *c.api_port;
  if (c.api_host) o.api_host = *c.api_host;
  if (!given("--wait") && c.wait) o.wait = *c.wait;
  if (!given("--timeout") && c.timeout) o.timeout = *c.timeout;
  if (!given("--no-lb") && c.no_lb) o.no_lb = *c.no_lb;
  if (!given("--no-rollback") && c.no_rollback) o.no_rollback = *c.no_rollback;
  if (!given("--kubeconfig-update-default") && c.update_default_kubeconfig)
    o.kubeconfig_update_default = *c.update_default_kubeconfig;
  if (!given("--kubeconfig-switch-context") && c.switch_context) o.kubeconfig_switch_context = *c.switch_context;
  if (!given("--registry-create") && c.registry_create) o.registry_create = *c.registry_create;
  if (!given("--servers-memory") && c.servers_memory) o.servers_memory = *c.servers_memory;
  if (!given("--agents-memory") && c.agents_memory) o.agents_memory = *c.agents_memory;
  auto prepend = [](std::vector<std::string>& flags, const std::vector<std::string>& file) {
    flags.insert(flags.begin(), file.begin(), file.end());
  };
  prepend(o.ports, c.ports);
  prepend(o.volumes, c.volumes);
  prepend(o.env, c.env);
  prepend(o.registry_use, c.registry_use);
  prepend(o.host_aliases, c.host_aliases);
  prepend(o.k3s_args, c.k3s_args);
  prepend(o.node_labels, c.node_labels);
  prepend(o.runtime_labels, c.runtime_labels);
  prepend(o.runtime_ulimits, c.runtime_ulimits);
  prepend(o.lb_config_overrides, c.lb_config_overrides);
  o.notes.insert(o.notes.end(), c.notes.begin(), c.notes.end());
  return {};
}

Result<cluster::CreateOptions> to_create_options(Options& o) {
  cluster::CreateOptions c;
  c.spec.name = o.name;
  K3DPP_TRY(cluster::validate_cluster_name(o.name));
  c.spec.servers = o.servers;
  c.spec.agents = o.agents;
  for (const auto& p : o.ports) {
    auto pms = cluster::parse_port_mappings(p);
    if (!pms) return pms.error();
    c.spec.ports.insert(c.spec.ports.end(), pms->begin(), pms->end());
  }
  for (const auto& v : o.volumes) {
    auto vm = cluster::parse_volume(v);
    if (!vm) return vm.error();
    c.spec.volumes.push_back(*vm);
  }
  for (const auto& e : o.env) {
    auto fv = cluster::parse_filtered(e, "all", "env");
    if (!fv) return fv.error();
    K3DPP_TRY(cluster::validate_env(fv->value));
    c.spec.env.push_back(*fv);
  }
  for (const auto& l : o.runtime_labels) {
    auto fv = cluster::parse_filtered(l, "all", "runtime label");
    if (!fv) return fv.error();
    K3DPP_TRY(cluster::validate_label(fv->value, "runtime label"));
    c.spec.runtime_labels.push_back(*fv);
  }
  for (const auto& l : o.node_labels) {
    auto fv = cluster::parse_filtered(l, "all", "node label");
    if (!fv) return fv.error();
    K3DPP_TRY(cluster::validate_label(fv->value, "node label"));
    c.spec.node_labels.push_back(*fv);
  }
  // --server-arg ARG and --agent-arg ARG are --k3s-arg ARG@server:* / ARG@agent:*.
  std::vector<std::string> k3s = o.k3s_args;
  if (o.disable_ingress) k3s.push_back("--disable=traefik@server:*");
  for (const auto& a : o.server_args) k3s.push_back(a + "@server:*");
  for (const auto& a : o.agent_args) k3s.push_back(a + "@agent:*");
  for (const auto& a : k3s) {
    auto fv = cluster::parse_filtered(a, "all", "k3s arg");
    if (!fv) return fv.error();
    auto m = cluster::map_k3s_arg(fv->value);
    if (!m) return m.error();
    if (!m->note.empty()) o.notes.push_back(m->note);
    if (!m->pod_network.empty()) {
      if (!o.pod_network.empty() && o.pod_network != m->pod_network) {
        return fail("k3s arg '" + a + "' contradicts --pod-network " + o.pod_network, "Invalid");
      }
      o.pod_network = m->pod_network;
    }
    if (!m->node_arg.empty()) {
      fv->value = m->node_arg;
      c.spec.node_args.push_back(*fv);
    }
  }
  for (const auto& u : o.runtime_ulimits) {
    auto ul = cluster::parse_ulimit(u);
    if (!ul) return ul.error();
    c.spec.ulimits.push_back(*ul);
  }
  for (const auto& h : o.host_aliases) {
    auto ha = cluster::parse_host_alias(h);
    if (!ha) return ha.error();
    c.spec.host_aliases.push_back(*ha);
  }
  if (!o.servers_memory.empty()) {
    auto m = cluster::parse_memory(o.servers_memory);
    if (!m) return m.error().wrap("--servers-memory");
    c.spec.servers_memory = *m;
  }
  if (!o.agents_memory.empty()) {
    auto m = cluster::parse_memory(o.agents_memory);
    if (!m) return m.error().wrap("--agents-memory");
    c.spec.agents_memory = *m;
  }
  if (!o.subnet.empty()) K3DPP_TRY(cluster::validate_subnet(o.subnet));
  c.spec.subnet = o.subnet;
  if (!o.token.empty()) K3DPP_TRY(cluster::validate_token(o.token));
  c.spec.token = o.token;
  if (!o.api_port.empty()) {
    auto ap = cluster::parse_api_port(o.api_port);
    if (!ap) return ap.error();
    c.spec.api = *ap;
  }
  c.spec.api.host = o.api_host;
  c.spec.node_image = o.image;
  if (!o.network.empty()) {
    c.spec.network = o.network;
    c.spec.own_network = false;
  }
  c.spec.with_lb = !o.no_lb;
  if (!o.lb_config_overrides.empty()) {
    auto s = cluster::parse_lb_overrides(o.lb_config_overrides);
    if (!s) return s.error();
    c.spec.lb_settings = *s;
    if (!c.spec.with_lb) return fail("--lb-config-override needs the load balancer (drop --no-lb)", "Invalid");
  }
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
  cmd->add_option("NAME", o->name, "Cluster name (default: default, or the config file's metadata.name)");
  cmd->add_option("-c,--config", o->config,
                  "k3d Simple config file (apiVersion k3d.io/v1alpha5 or k3dpp.io/v1alpha1); flags override it");
  cmd->add_option("-s,--servers", o->servers, "Number of servers")->check(CLI::Range(1, 99));
  cmd->add_option("-a,--agents", o->agents, "Number of agents")->check(CLI::Range(0, 99));
  cmd->add_option("-p,--port", o->ports,
                  "Map ports from the node containers (via the serverlb) to the host "
                  "(Format: [HOST:][HOSTPORT:]CONTAINERPORT[/PROTOCOL][@NODEFILTER]; ranges: 8080-8082:80-82)");
  cmd->add_option("-v,--volume", o->volumes,
                  "Mount volumes into the nodes (Format: [SOURCE:]DEST[:ro|rw][@NODEFILTER]; SOURCE: a host path or a "
                  "volume name; DEST alone: a volume per node, deleted with the cluster)");
  cmd->add_option("-e,--env", o->env, "Add environment variables to nodes (Format: KEY[=VALUE][@NODEFILTER[;NODEFILTER...]])");
  cmd->add_option("--api-port", o->api_port, "Host port for the Kubernetes API server (Format: [HOST:]HOSTPORT)");
  cmd->add_option("-i,--image", o->image, "Node image (default: k3dpp/node:" K3DPP_VERSION ")");
  cmd->add_option("--network", o->network, "Join this network (created, and deleted with the cluster, if missing)");
  cmd->add_option("--subnet", o->subnet, "Subnet of the network the cluster creates (e.g. 172.28.0.0/16)");
  cmd->add_option("--token", o->token, "Cluster token the nodes join with (default: generated)");
  cmd->add_option("--pod-network", o->pod_network,
                  "Pod network between nodes: host-gw|vxlan (default: $K3DPP_POD_NETWORK, else vxlan on podman, "
                  "host-gw on docker)");
  cmd->add_option("--k3s-arg", o->k3s_args,
                  "k3s argument for the nodes (Format: ARG@NODEFILTER[;NODEFILTER...]); k3dpp maps --tls-san, "
                  "--node-label, --node-taint, --flannel-backend, --disable=traefik|metrics-server and refuses the rest");
  cmd->add_option("--server-arg", o->server_args, "k3s argument for every server (as --k3s-arg ARG@server:*)");
  cmd->add_option("--agent-arg", o->agent_args, "k3s argument for every agent (as --k3s-arg ARG@agent:*)");
  cmd->add_option("--node-label,--k3s-node-label", o->node_labels,
                  "Kubernetes label for nodes (Format: KEY[=VALUE][@NODEFILTER[;NODEFILTER...]])");
  cmd->add_option("--runtime-label", o->runtime_labels,
                  "Container label for nodes (Format: KEY[=VALUE][@NODEFILTER[;NODEFILTER...]])");
  cmd->add_option("--runtime-ulimit", o->runtime_ulimits, "Ulimit for the node containers (Format: NAME=SOFT[:HARD])");
  cmd->add_option("--host-alias", o->host_aliases, "/etc/hosts entry in every node (Format: IP:NAME[,NAME...])");
  cmd->add_option("--servers-memory", o->servers_memory, "Memory limit of the server containers (e.g. 2g)");
  cmd->add_option("--agents-memory", o->agents_memory, "Memory limit of the agent containers (e.g. 1g)");
  cmd->add_option("--lb-config-override", o->lb_config_overrides,
                  "Load balancer setting (Format: settings.workerConnections=N)");
  cmd->add_flag("--wait", o->wait, "Wait for every node to be Ready (default true; --wait=false to skip)");
  cmd->add_option("--timeout", o->timeout, "Rollback changes if the cluster is not up within this time (e.g. 120s, 2m)");
  cmd->add_flag("--no-rollback", o->no_rollback, "Keep what was created when creation fails");
  cmd->add_flag("--disable-ingress", o->disable_ingress,
                "Do not run the bundled ingress controller (k3d: --k3s-arg \"--disable=traefik@server:*\")");
  cmd->add_flag("--no-lb", o->no_lb, "Do not create the serverlb; the API port is published on server-0");
  cmd->add_flag("--no-image-volume", o->no_image_volume,
                "Accepted for k3d: k3dpp clusters have no image volume (image import streams into every node)");
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
  cmd->callback([o, cmd, &ctx] {
    ctx.run = [o, cmd, &ctx]() -> Status {
      auto log = log::get("cluster");
      if (!o->config.empty()) {
        auto cfg = cluster::load_config_file(o->config);
        if (!cfg) return cfg.error();
        K3DPP_TRY(merge_config(*o, *cfg, *cmd));
        log->info("Using config file {}", o->config);
      }
      auto opts = to_create_options(*o);
      if (!opts) return opts.error();
      for (const auto& n : o->notes) log->info("{}", n);
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto r = cluster::create_cluster(**rt, *opts, ctx.probes);
      if (!r) return r.error();
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
