// k3dpp node delete NAME...|--all (k3d: cmd/node/nodeDelete.go)
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::vector<std::string> names;
  bool all = false;
};
}  // namespace

void add_node_delete(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("delete", "Delete node(s)");
  cmd->alias("rm");
  cmd->add_option("NAME", o->names, "Node (container) name(s), e.g. k3dpp-agent-02-0");
  cmd->add_flag("-a,--all", o->all, "Delete every k3dpp node (of every cluster; registries stay)");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      if (o->all && !o->names.empty()) return fail("give node names or --all, not both", "Invalid");
      if (!o->all && o->names.empty()) return fail("give node name(s) or --all", "Invalid");
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      std::vector<std::string> names = o->names;
      if (o->all) {
        auto nodes = cluster::list_nodes(**rt);
        if (!nodes) return nodes.error();
        // Agents, then servers (the last one last), then load balancers: no LB update to a node
        // about to go.
        for (auto role : {cluster::Role::kAgent, cluster::Role::kServer, cluster::Role::kLoadBalancer}) {
          for (auto it = nodes->rbegin(); it != nodes->rend(); ++it) {
            if (it->role == role) names.push_back(it->name);
          }
        }
      }
      for (const auto& n : names) K3DPP_TRY(cluster::delete_node(**rt, n));
      return {};
    };
  });
}

}  // namespace k3dpp::cli
