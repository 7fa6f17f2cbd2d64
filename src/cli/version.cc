// k3dpp version [-o json] and the root --version (k3d: cmd/root.go NewCmdVersion, printVersion)
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cluster/types.h"

namespace k3dpp::cli {

std::string version_text(bool json) {
  if (json) {
    nlohmann::ordered_json j = {{"k3dpp", std::string("v") + K3DPP_VERSION},
                                {"kubernetes", K3DPP_KUBE_VERSION},
                                {"nodeImage", cluster::default_node_image()},
                                {"lbImage", cluster::default_lb_image()}};
    return j.dump() + "\n";
  }
  return std::string("k3dpp version v") + K3DPP_VERSION + "\n" + "kubernetes version " + K3DPP_KUBE_VERSION +
         " (k3dpp-node)\n" + "node image " + cluster::default_node_image() + "\n" + "lb image " +
         cluster::default_lb_image() + "\n";
}

void add_version(CLI::App& app, Context& ctx) {
  auto output = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("version", "Show k3dpp and default image versions");
  cmd->add_option("-o,--output", *output, "Output format: json (default: text)")->check(CLI::IsMember({"json", ""}));
  cmd->callback([&ctx, output] {
    ctx.run = [&ctx, output]() -> Status {
      *ctx.out << version_text(*output == "json");
      return {};
    };
  });
}

}  // namespace k3dpp::cli
