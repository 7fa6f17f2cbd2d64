// k3dpp kubeconfig merge NAME... (k3d: cmd/kubeconfig/kubeconfigMerge.go)
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {
struct Options {
  ClusterSelection sel;
  std::string output;
  bool switch_context = true;
};
}  // namespace

void add_kubeconfig_merge(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("merge", "Merge the kubeconfig of cluster(s) into the default (or --output) kubeconfig");
  cmd->alias("write");
  add_cluster_selection(*cmd, o->sel, "All clusters");
  cmd->add_option("-o,--output", o->output, "Kubeconfig file to merge into (default: $KUBECONFIG or ~/.kube/config)");
  cmd->add_flag("-s,--kubeconfig-switch-context", o->switch_context, "Switch current-context to the cluster (default true)");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto names = selected_clusters(**rt, o->sel);
      if (!names) return names.error();
      cluster::KubeconfigOptions kc;
      kc.path = o->output;
      kc.switch_context = o->switch_context;
      std::string path;
      for (const auto& n : *names) {
        auto p = cluster::merge_kubeconfig_for(**rt, n, kc);
        if (!p) return p.error();
        path = *p;
      }
      *ctx.out << path << "\n";
      return {};
    };
  });
}

}  // namespace k3dpp::cli
