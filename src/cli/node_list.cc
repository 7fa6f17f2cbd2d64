// k3dpp node list [NAME...] [-o json|yaml|wide] (k3d: cmd/node/nodeList.go)
#include "cli/cli.h"
#include "cluster/operations.h"
#include "cluster/output.h"

namespace k3dpp::cli {

void add_node_list(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<ListOptions>();
  auto* cmd = parent.add_subcommand("list", "List node(s)");
  cmd->alias("ls")->alias("get");
  add_list_options(*cmd, *o, "Only these nodes");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto nodes = cluster::list_nodes(**rt);
      if (!nodes) return nodes.error();
      auto shown = filter_named(*nodes, o->names, [](const cluster::NodeState& n) { return n.name; }, "node");
      if (!shown) return shown.error();
      return print_listing(ctx, *o, cluster::render_node_json(*shown), cluster::render_node_table(*shown),
                           cluster::render_node_table(*shown, true));
    };
  });
}

}  // namespace k3dpp::cli
