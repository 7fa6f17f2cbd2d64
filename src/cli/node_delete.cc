// k3dpp node delete NAME... (k3d: cmd/node/nodeDelete.go)
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {

void add_node_delete(CLI::App& parent, Context& ctx) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = parent.add_subcommand("delete", "Delete node(s)");
  cmd->alias("rm");
  cmd->add_option("NAME", *names, "Node (container) name(s), e.g. k3dpp-agent-02-0")->required();
  cmd->callback([names, &ctx] {
    ctx.run = [names, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      for (const auto& n : *names) K3DPP_TRY(cluster::delete_node(**rt, n));
      return {};
    };
  });
}

}  // namespace k3dpp::cli
