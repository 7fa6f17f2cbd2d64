// k3dpp node list [NAME...] (k3d: cmd/node/nodeList.go)
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::vector<std::string> names;
  bool no_headers = false;
};
}  // namespace

void add_node_list(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("list", "List node(s)");
  cmd->alias("ls")->alias("get");
  cmd->add_option("NAME", o->names, "Only these nodes");
  cmd->add_flag("--no-headers", o->no_headers, "Omit the table header");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto nodes = cluster::list_nodes(**rt);
      if (!nodes) return nodes.error();
      std::vector<cluster::NodeState> shown;
      for (const auto& n : *nodes) {
        if (o->names.empty() || std::find(o->names.begin(), o->names.end(), n.name) != o->names.end()) shown.push_back(n);
      }
      std::string table = cluster::render_node_table(shown);
      if (o->no_headers) table = table.substr(table.find('\n') + 1);
      *ctx.out << table;
      return {};
    };
  });
}

}  // namespace k3dpp::cli
