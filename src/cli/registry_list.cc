// k3dpp registry list [NAME...] [-o json|yaml|wide] (k3d: cmd/registry/registryList.go)
#include "cli/cli.h"
#include "cluster/output.h"
#include "cluster/registry.h"

namespace k3dpp::cli {

void add_registry_list(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<ListOptions>();
  auto* cmd = parent.add_subcommand("list", "List registries");
  cmd->alias("ls")->alias("get");
  add_list_options(*cmd, *o, "Only these registries");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto all = cluster::list_registries(**rt);
      if (!all) return all.error();
      std::vector<std::string> wanted;
      for (const auto& n : o->names) wanted.push_back(cluster::registry_container_name(n));
      auto shown = filter_named(*all, wanted, [](const cluster::RegistryState& r) { return r.name; }, "registry");
      if (!shown) return shown.error();
      return print_listing(ctx, *o, cluster::render_registry_json(*shown), cluster::render_registry_table(*shown),
                           cluster::render_registry_table(*shown, true));
    };
  });
}

}  // namespace k3dpp::cli
