// k3dpp cluster delete NAME...|--all (k3d: cmd/cluster/clusterDelete.go)
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {

void add_cluster_delete(CLI::App& parent, Context& ctx) {
  auto sel = std::make_shared<ClusterSelection>();
  auto* cmd = parent.add_subcommand("delete", "Delete cluster(s)");
  cmd->alias("rm");
  add_cluster_selection(*cmd, *sel, "Delete all existing clusters");
  cmd->callback([sel, &ctx] {
    ctx.run = [sel, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto names = selected_clusters(**rt, *sel);
      if (!names) return names.error();
      cluster::KubeconfigOptions kc;
      for (const auto& n : *names) K3DPP_TRY(cluster::delete_cluster(**rt, n, kc));
      return {};
    };
  });
}

}  // namespace k3dpp::cli
