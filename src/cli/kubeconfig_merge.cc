// k3dpp kubeconfig merge NAME...|--all (k3d: cmd/kubeconfig/kubeconfigMerge.go). Like k3d: into
// ~/.config/k3dpp/kubeconfig-NAME.yaml unless -d (the default kubeconfig) or -o FILE ('-' =
// stdout); -u=false refuses to replace a differing entry, --overwrite ignores the file's contents.
#include <cstdlib>

#include "cli/cli.h"
#include "cluster/kubeconfig.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {
struct Options {
  ClusterSelection sel;
  std::string output;
  bool merge_default = false;
  bool update = true;
  bool overwrite = false;
  bool switch_context = true;
};

std::string own_kubeconfig_path(const std::string& cluster) {
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.config/k3dpp/kubeconfig-" + cluster + ".yaml";
}
}  // namespace

void add_kubeconfig_merge(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand(
      "merge", "Write/merge the kubeconfig of cluster(s) into a file (default: ~/.config/k3dpp/kubeconfig-NAME.yaml)");
  cmd->alias("write");
  add_cluster_selection(*cmd, o->sel, "All clusters");
  cmd->add_option("-o,--output", o->output, "Kubeconfig file to merge into ('-' = print to stdout)");
  cmd->add_flag("-d,--kubeconfig-merge-default", o->merge_default,
                "Merge into the default kubeconfig ($KUBECONFIG or ~/.kube/config)");
  cmd->add_flag("-u,--update", o->update, "Update conflicting fields in the existing kubeconfig (default true)");
  cmd->add_flag("--overwrite", o->overwrite, "Overwrite the output file, ignoring what it holds");
  cmd->add_flag("-s,--kubeconfig-switch-context", o->switch_context, "Switch current-context to the cluster (default true)");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      if (o->merge_default && !o->output.empty()) return fail("give --output or --kubeconfig-merge-default, not both", "Invalid");
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto names = selected_clusters(**rt, o->sel);
      if (!names) return names.error();
      std::string printed;  // -o -: every cluster merged into one document
      std::vector<std::string> written;
      for (const auto& n : *names) {
        auto kc = cluster::get_kubeconfig(**rt, n);
        if (!kc) return kc.error();
        if (o->output == "-") {
          auto m = cluster::merge_kubeconfig(printed, *kc, o->switch_context || printed.empty());
          if (!m) return m.error();
          printed = *m;
          continue;
        }
        std::string path = o->merge_default ? cluster::default_kubeconfig_path()
                           : o->output.empty() ? own_kubeconfig_path(n)
                                               : o->output;
        // --overwrite replaces the file once; later clusters of the same run merge into it.
        bool first_write = std::find(written.begin(), written.end(), path) == written.end();
        auto st = cluster::merge_into_file(path, *kc, o->switch_context, o->update, o->overwrite && first_write);
        if (!st) return st.error();
        if (first_write) written.push_back(path);
      }
      if (o->output == "-") {
        *ctx.out << printed;
      } else {
        for (const auto& p : written) *ctx.out << p << "\n";
      }
      return {};
    };
  });
}

}  // namespace k3dpp::cli
