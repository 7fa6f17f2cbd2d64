// k3dpp kubeconfig get NAME...|--all (k3d: cmd/kubeconfig/kubeconfigGet.go)
#include "cli/cli.h"
#include "cluster/kubeconfig.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::vector<std::string> names;
  bool all = false;
};
}  // namespace

void add_kubeconfig_get(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("get", "Print the kubeconfig of cluster(s)");
  cmd->add_option("NAME", o->names, "Cluster name(s) (default: default)");
  cmd->add_flag("-a,--all", o->all, "All clusters (merged into one document)");
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
      std::string doc;
      for (const auto& n : names) {
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
