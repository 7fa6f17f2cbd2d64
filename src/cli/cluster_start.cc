// k3dpp cluster start NAME...|--all (k3d: cmd/cluster/clusterStart.go)
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {
struct Options {
  ClusterSelection sel;
  bool wait = true;
  std::string timeout = "120s";
};
}  // namespace

void add_cluster_start(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("start", "Start existing cluster(s)");
  add_cluster_selection(*cmd, o->sel, "Start all existing clusters");
  cmd->add_flag("--wait", o->wait, "Wait for the API server to be ready (default true)");
  cmd->add_option("--timeout", o->timeout, "Maximum time to wait (e.g. 120s)");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto t = parse_duration(o->timeout);
      if (!t) return t.error().wrap("--timeout");
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto names = selected_clusters(**rt, o->sel);
      if (!names) return names.error();
      for (const auto& n : *names) K3DPP_TRY(cluster::start_cluster(**rt, n, o->wait, *t, ctx.probes));
      return {};
    };
  });
}

}  // namespace k3dpp::cli
