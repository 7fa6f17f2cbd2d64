// k3dpp registry list [NAME...] [-o json] (k3d: cmd/registry/registryList.go)
#include <algorithm>

#include "cli/cli.h"
#include "cluster/registry.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::vector<std::string> names;
  std::string output;
  bool no_headers = false;
};
}  // namespace

void add_registry_list(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("list", "List registries");
  cmd->alias("ls")->alias("get");
  cmd->add_option("NAME", o->names, "Only these registries");
  cmd->add_option("-o,--output", o->output, "Output format (json)")->check(CLI::IsMember({"json", ""}));
  cmd->add_flag("--no-headers", o->no_headers, "Omit the table header");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto all = cluster::list_registries(**rt);
      if (!all) return all.error();
      std::vector<std::string> wanted;
      for (const auto& n : o->names) wanted.push_back(cluster::registry_container_name(n));
      std::vector<cluster::RegistryState> shown;
      for (const auto& r : *all) {
        if (wanted.empty() || std::find(wanted.begin(), wanted.end(), r.name) != wanted.end()) shown.push_back(r);
      }
      for (const auto& n : wanted) {
        bool found = std::any_of(shown.begin(), shown.end(), [&](const cluster::RegistryState& r) { return r.name == n; });
        if (!found) return fail("registry '" + n + "' not found", "NotFound");
      }
      if (o->output == "json") {
        *ctx.out << cluster::render_registry_json(shown);
        return {};
      }
      std::string table = cluster::render_registry_table(shown);
      if (o->no_headers) table = table.substr(table.find('\n') + 1);
      *ctx.out << table;
      return {};
    };
  });
}

}  // namespace k3dpp::cli
