// k3dpp version (k3d: cmd/root.go version)
#include "cli/cli.h"
#include "cluster/types.h"

namespace k3dpp::cli {

void add_version(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("version", "Show k3dpp and default image versions");
  cmd->callback([&ctx] {
    ctx.run = [&ctx]() -> Status {
      *ctx.out << "k3dpp version v" << K3DPP_VERSION << "\n"
               << "kubernetes version " << K3DPP_KUBE_VERSION << " (k3dpp-node)\n"
               << "node image " << cluster::default_node_image() << "\n"
               << "lb image " << cluster::default_lb_image() << "\n";
      return {};
    };
  });
}

}  // namespace k3dpp::cli
