// k3dpp cluster stop NAME...|--all (k3d: cmd/cluster/clusterStop.go)
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {

void add_cluster_stop(CLI::App& parent, Context& ctx) {
  auto sel = std::make_shared<ClusterSelection>();
  auto* cmd = parent.add_subcommand("stop", "Stop existing cluster(s)");
  add_cluster_selection(*cmd, *sel, "Stop all existing clusters");
  cmd->callback([sel, &ctx] {
    ctx.run = [sel, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto names = selected_clusters(**rt, *sel);
      if (!names) return names.error();
      for (const auto& n : *names) K3DPP_TRY(cluster::stop_cluster(**rt, n));
      return {};
    };
  });
}

}  // namespace k3dpp::cli
