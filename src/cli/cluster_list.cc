// k3dpp cluster list [NAME...] [-o json|yaml|wide] (k3d: cmd/cluster/clusterList.go)
#include "cli/cli.h"
#include "cluster/operations.h"
#include "cluster/output.h"

namespace k3dpp::cli {

void add_cluster_list(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<ListOptions>();
  auto* cmd = parent.add_subcommand("list", "List cluster(s)");
  cmd->alias("ls")->alias("get");
  add_list_options(*cmd, *o, "Only these clusters");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto all = cluster::load_clusters(**rt);
      if (!all) return all.error();
      auto shown = filter_named(*all, o->names, [](const cluster::ClusterState& c) { return c.name; }, "cluster");
      if (!shown) return shown.error();
      return print_listing(ctx, *o, cluster::render_cluster_json(*shown), cluster::render_cluster_table(*shown),
                           cluster::render_cluster_table(*shown, true));
    };
  });
}

}  // namespace k3dpp::cli
