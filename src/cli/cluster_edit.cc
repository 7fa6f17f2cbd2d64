// k3dpp cluster edit NAME --port-add/--port-delete (k3d: cmd/cluster/clusterEdit.go)
#include "cli/cli.h"
#include "cluster/operations.h"
#include "cluster/parse.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::string name;
  std::vector<std::string> add;
  std::vector<std::string> del;
};
}  // namespace

void add_cluster_edit(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("edit", "Edit a cluster's port mappings (recreates the serverlb)");
  cmd->add_option("NAME", o->name, "Cluster name")->required();
  cmd->add_option("--port-add", o->add, "Add a port mapping ([HOST:][HOSTPORT:]CONTAINERPORT[/PROTOCOL][@NODEFILTER])");
  cmd->add_option("--port-delete", o->del, "Delete a port mapping (same format)");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      if (o->add.empty() && o->del.empty()) return fail("nothing to edit: give --port-add or --port-delete", "Invalid");
      std::vector<cluster::PortMapping> add, del;
      for (const auto& p : o->add) {
        auto pm = cluster::parse_port_mapping(p);
        if (!pm) return pm.error();
        add.push_back(*pm);
      }
      for (const auto& p : o->del) {
        auto pm = cluster::parse_port_mapping(p);
        if (!pm) return pm.error();
        del.push_back(*pm);
      }
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      return cluster::edit_cluster_ports(**rt, o->name, add, del, ctx.probes);
    };
  });
}

}  // namespace k3dpp::cli
