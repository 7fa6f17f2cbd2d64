// k3dpp cluster stop NAME...|--all (k3d: cmd/cluster/clusterStop.go)
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::vector<std::string> names;
  bool all = false;
};
}  // namespace

void add_cluster_stop(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("stop", "Stop existing cluster(s)");
  cmd->add_option("NAME", o->names, "Cluster name(s) (default: default)");
  cmd->add_flag("-a,--all", o->all, "Stop all existing clusters");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
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
      for (const auto& n : names) K3DPP_TRY(cluster::stop_cluster(**rt, n));
      return {};
    };
  });
}

}  // namespace k3dpp::cli
