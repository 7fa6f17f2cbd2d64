// k3dpp config init [-o FILE] [--force] (k3d: cmd/config/configInit.go)
#include <sys/stat.h>

#include "cli/cli.h"
#include "cluster/config_file.h"
#include "cluster/types.h"
#include "common/files.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::string output = "k3dpp-default.yaml";
  bool force = false;
};
}  // namespace

void add_config(CLI::App& app, Context& ctx) {
  auto* config = app.add_subcommand("config", "Work with config file(s)");
  config->require_subcommand(1);
  auto o = std::make_shared<Options>();
  auto* init = config->add_subcommand("init", "Write a commented default config file (k3d's Simple config)");
  init->add_option("-o,--output", o->output, "Write to this file ('-' = stdout; default: k3dpp-default.yaml)");
  init->add_flag("-f,--force", o->force, "Overwrite an existing file");
  init->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      std::string text = cluster::default_config_file("default", cluster::default_node_image());
      if (o->output == "-") {
        *ctx.out << text;
        return {};
      }
      if (files::exists(o->output) && !o->force) {
        return fail("file " + o->output + " exists (use --force to overwrite it)", "Conflict");
      }
      K3DPP_TRY(files::write_atomic(o->output, text, 0644));
      *ctx.out << o->output << "\n";
      return {};
    };
  });
}

}  // namespace k3dpp::cli
