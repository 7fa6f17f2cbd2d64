// k3dpp cluster list [NAME...] [-o json] (k3d: cmd/cluster/clusterList.go)
#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::vector<std::string> names;
  std::string output;
  bool no_headers = false;
};
}  // namespace

void add_cluster_list(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("list", "List cluster(s)");
  cmd->alias("ls")->alias("get");
  cmd->add_option("NAME", o->names, "Only these clusters");
  cmd->add_option("-o,--output", o->output, "Output format (json)")->check(CLI::IsMember({"json", ""}));
  cmd->add_flag("--no-headers", o->no_headers, "Omit the table header");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto all = cluster::load_clusters(**rt);
      if (!all) return all.error();
      std::vector<cluster::ClusterState> shown;
      for (const auto& c : *all) {
        if (o->names.empty() || std::find(o->names.begin(), o->names.end(), c.name) != o->names.end()) shown.push_back(c);
      }
      for (const auto& n : o->names) {
        bool found = false;
        for (const auto& c : shown) found = found || c.name == n;
        if (!found) return fail("cluster '" + n + "' not found", "NotFound");
      }
      if (o->output == "json") {
        *ctx.out << cluster::render_cluster_json(shown);
        return {};
      }
      std::string table = cluster::render_cluster_table(shown);
      if (o->no_headers) table = table.substr(table.find('\n') + 1);
      *ctx.out << table;
      return {};
    };
  });
}

}  // namespace k3dpp::cli
