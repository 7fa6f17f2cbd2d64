// k3dpp registry delete NAME...|--all (k3d: cmd/registry/registryDelete.go)
#include "cli/cli.h"
#include "cluster/registry.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::vector<std::string> names;
  bool all = false;
};
}  // namespace

void add_registry_delete(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("delete", "Delete registry/registries");
  cmd->alias("del")->alias("rm");
  cmd->add_option("NAME", o->names, "Registry name(s)");
  cmd->add_flag("-a,--all", o->all, "Delete all existing registries");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      if (o->all && !o->names.empty()) return fail("give registry names or --all, not both", "Invalid");
      if (!o->all && o->names.empty()) return fail("give a registry name (or --all)", "Invalid");
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      std::vector<std::string> names = o->names;
      if (o->all) {
        auto all = cluster::list_registries(**rt);
        if (!all) return all.error();
        names.clear();
        for (const auto& r : *all) names.push_back(r.name);
      }
      for (const auto& n : names) K3DPP_TRY(cluster::delete_registry(**rt, n));
      return {};
    };
  });
}

}  // namespace k3dpp::cli
