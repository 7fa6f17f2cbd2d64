// k3dpp cluster delete NAME...|--all (k3d: cmd/cluster/clusterDelete.go)
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::vector<std::string> names;
  bool all = false;
};
}  // namespace

void add_cluster_delete(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("delete", "Delete cluster(s)");
  cmd->alias("rm");
  cmd->add_option("NAME", o->names, "Cluster name(s) (default: default)");
  cmd->add_flag("-a,--all", o->all, "Delete all existing clusters");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      if (o->all && !o->names.empty()) return fail("give cluster names or --all, not both", "Invalid");
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      std::vector<std::string> names = o->names;
      if (o->all) {
        auto all = cluster::cluster_names(**rt);
        if (!all) return all.error();
        names = *all;
      } else if (names.empty()) {
        names.push_back("default");
      }
      cluster::KubeconfigOptions kc;
      for (const auto& n : names) K3DPP_TRY(cluster::delete_cluster(**rt, n, kc));
      return {};
    };
  });
}

}  // namespace k3dpp::cli
