// k3dpp cluster delete NAME...|--all|-c FILE (k3d: cmd/cluster/clusterDelete.go)
#include "cli/cli.h"
#include "cluster/config_file.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {
struct Options {
  ClusterSelection sel;
  std::string config;
};
}  // namespace

void add_cluster_delete(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("delete", "Delete cluster(s)");
  cmd->alias("rm");
  add_cluster_selection(*cmd, o->sel, "Delete all existing clusters");
  cmd->add_option("-c,--config", o->config, "Delete the cluster a config file describes (its metadata.name)");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      ClusterSelection sel = o->sel;
      if (!o->config.empty()) {
        if (sel.all || !sel.names.empty()) return fail("give cluster names, --all or --config, not several", "Invalid");
        auto cfg = cluster::load_config_file(o->config);
        if (!cfg) return cfg.error();
        sel.names.push_back(cfg->name.value_or("default"));
      }
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto names = selected_clusters(**rt, sel);
      if (!names) return names.error();
      cluster::KubeconfigOptions kc;
      for (const auto& n : *names) K3DPP_TRY(cluster::delete_cluster(**rt, n, kc));
      return {};
    };
  });
}

}  // namespace k3dpp::cli
