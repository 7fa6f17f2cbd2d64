// k3dpp kubeconfig get NAME...|--all (k3d: cmd/kubeconfig/kubeconfigGet.go)
#include "cli/cli.h"
#include "cluster/kubeconfig.h"
#include "cluster/operations.h"

namespace k3dpp::cli {

void add_kubeconfig_get(CLI::App& parent, Context& ctx) {
  auto sel = std::make_shared<ClusterSelection>();
  auto* cmd = parent.add_subcommand("get", "Print the kubeconfig of cluster(s)");
  add_cluster_selection(*cmd, *sel, "All clusters (merged into one document)");
  cmd->callback([sel, &ctx] {
    ctx.run = [sel, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto names = selected_clusters(**rt, *sel);
      if (!names) return names.error();
      std::string doc;
      for (const auto& n : *names) {
        auto kc = cluster::get_kubeconfig(**rt, n);
        if (!kc) return kc.error();
        if (doc.empty()) {
          doc = *kc;
        } else {
          auto merged = cluster::merge_kubeconfig(doc, *kc, false);
          if (!merged) return merged.error();
          doc = *merged;
        }
      }
      *ctx.out << doc;
      return {};
    };
  });
}

}  // namespace k3dpp::cli
