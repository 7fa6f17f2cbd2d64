// k3dpp node start NAME... (k3d: cmd/node/nodeStart.go)
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {

void add_node_start(CLI::App& parent, Context& ctx) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = parent.add_subcommand("start", "Start existing node(s)");
  cmd->add_option("NAME", *names, "Node (container) name(s), e.g. k3dpp-agent-02-0")->required();
  cmd->callback([names, &ctx] {
    ctx.run = [names, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      for (const auto& n : *names) K3DPP_TRY(cluster::start_node(**rt, n));
      return {};
    };
  });
}

}  // namespace k3dpp::cli
