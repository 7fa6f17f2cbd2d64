// k3dpp registry create NAME [-p [HOST:]PORT] [-i IMAGE] (k3d: cmd/registry/registryCreate.go)
#include "cli/cli.h"
#include "cluster/registry.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::string name;
  std::string port;
  std::string image;
  std::string network;
  bool no_help = false;
};
}  // namespace

void add_registry_create(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("create", "Create a new registry");
  cmd->add_option("NAME", o->name, "Registry name (the container is k3dpp-NAME)")->required();
  cmd->add_option("-p,--port", o->port,
                  "Host port the registry is published on (Format: [HOST:]HOSTPORT, default: 127.0.0.1 and a random port)");
  cmd->add_option("-i,--image", o->image, "Registry image (default: k3dpp/registry:" K3DPP_VERSION ")");
  cmd->add_option("--default-network", o->network, "Network to attach the registry to (default: the engine's default)");
  cmd->add_flag("--no-help", o->no_help, "Do not print how to use the registry");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      cluster::RegistrySpec spec;
      K3DPP_TRY(cluster::validate_registry_name(o->name));
      spec.name = cluster::registry_container_name(o->name);
      if (!o->port.empty()) {
        auto hp = cluster::parse_registry_port(o->port);
        if (!hp) return hp.error();
        spec.host = *hp;
      }
      spec.image = o->image;
      spec.network = o->network;
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto reg = cluster::create_registry(**rt, spec, ctx.probes);
      if (!reg) return reg.error();
      if (!o->no_help) *ctx.out << cluster::registry_usage_hint(*reg);
      return {};
    };
  });
}

}  // namespace k3dpp::cli
