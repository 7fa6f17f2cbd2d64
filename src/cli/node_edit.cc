// k3dpp node edit NODE --port-add/--port-delete (k3d: cmd/node/nodeEdit.go; like k3d, only the
// load balancer's ports can be edited: it is recreated with the new mappings).
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::string name;
  std::vector<std::string> add;
  std::vector<std::string> del;
};
}  // namespace

void add_node_edit(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("edit", "Edit the load balancer's port mappings (recreates it)");
  cmd->add_option("NAME", o->name, "The load balancer node, e.g. k3dpp-dev-serverlb")->required();
  cmd->add_option("--port-add", o->add, "Add a port mapping ([HOST:][HOSTPORT:]CONTAINERPORT[/PROTOCOL][@NODEFILTER])");
  cmd->add_option("--port-delete", o->del, "Delete a port mapping (same format)");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto ci = (*rt)->inspect_container(o->name);
      if (!ci) {
        if (ci.error().is("NotFound")) return fail("node '" + o->name + "' not found", "NotFound");
        return ci.error();
      }
      cluster::NodeState n;
      if (!cluster::node_from_container(*ci, n)) return fail("container '" + o->name + "' is not a k3dpp node", "Invalid");
      if (n.role != cluster::Role::kLoadBalancer) {
        return fail("node '" + o->name + "' is a " + cluster::role_name(n.role) +
                        ": only the load balancer's ports can be edited (k3dpp node edit " + cluster::lb_name(n.cluster) +
                        " --port-add ...)",
                    "Invalid");
      }
      return edit_cluster_ports_cli(ctx, n.cluster, o->add, o->del);
    };
  });
}

}  // namespace k3dpp::cli
