// k3dpp node create NAME --role agent|server --cluster C [--replicas N] (k3d: cmd/node/nodeCreate.go)
#include "cli/cli.h"
#include "cluster/operations.h"
#include "cluster/parse.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::string name;
  std::string role = "agent";
  std::string cluster = "default";
  int replicas = 1;
  std::string image;
  bool wait = true;
  std::string timeout = "120s";
  std::string memory;
  std::vector<std::string> node_labels;
  std::vector<std::string> runtime_labels;
  std::vector<std::string> runtime_ulimits;
  std::vector<std::string> networks;
  std::string token;
};
}  // namespace

void add_node_create(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("create", "Create new node(s) in an existing cluster");
  cmd->add_option("NAME", o->name, "Node name; containers are k3dpp-NAME-0, k3dpp-NAME-1, ...")->required();
  cmd->add_option("--role", o->role, "Node role (agent|server)")->check(CLI::IsMember({"agent", "server"}));
  cmd->add_option("-c,--cluster", o->cluster, "Cluster to add the node(s) to (default: default)");
  cmd->add_option("--replicas", o->replicas, "Number of replicas")->check(CLI::Range(1, 99));
  cmd->add_option("-i,--image", o->image, "Node image (default: the cluster's)");
  cmd->add_option("--memory", o->memory, "Memory limit of the node container(s) (e.g. 1g)");
  cmd->add_option("--node-label,--k3s-node-label", o->node_labels, "Kubernetes label for the node(s) (KEY[=VALUE])");
  cmd->add_option("--runtime-label", o->runtime_labels, "Container label for the node(s) (KEY[=VALUE])");
  cmd->add_option("--runtime-ulimit", o->runtime_ulimits, "Ulimit for the node container(s) (NAME=SOFT[:HARD])");
  cmd->add_option("-n,--network", o->networks, "Also connect the node(s) to this network (repeatable)");
  cmd->add_option("-t,--token", o->token, "The cluster's token (checked against it; default: read from a server)");
  cmd->add_flag("--wait", o->wait, "Wait for the node(s) to be Ready (default true)");
  cmd->add_option("--timeout", o->timeout, "Maximum time to wait (e.g. 120s)");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto t = parse_duration(o->timeout);
      if (!t) return t.error().wrap("--timeout");
      cluster::NodeCreateOptions n;
      n.name = o->name;
      n.role = o->role == "server" ? cluster::Role::kServer : cluster::Role::kAgent;
      n.cluster = o->cluster;
      n.replicas = o->replicas;
      n.image = o->image;
      n.wait = o->wait;
      n.timeout = *t;
      if (!o->memory.empty()) {
        auto m = cluster::parse_memory(o->memory);
        if (!m) return m.error().wrap("--memory");
        n.memory = *m;
      }
      for (const auto& l : o->node_labels) {
        K3DPP_TRY(cluster::validate_label(l, "node label"));
        n.node_labels.push_back(l);
      }
      for (const auto& l : o->runtime_labels) {
        K3DPP_TRY(cluster::validate_label(l, "runtime label"));
        auto eq = l.find('=');
        n.runtime_labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
      }
      for (const auto& u : o->runtime_ulimits) {
        auto ul = cluster::parse_ulimit(u);
        if (!ul) return ul.error();
        n.ulimits.push_back(*ul);
      }
      n.networks = o->networks;
      n.token = o->token;
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      return cluster::create_nodes(**rt, n, ctx.probes);
    };
  });
}

}  // namespace k3dpp::cli
