// k3dpp image import IMAGE|FILE.tar... [-c CLUSTER] [-m auto|direct|tools] (k3d: cmd/image/imageImport.go)
#include <cstdlib>

#include "cli/cli.h"
#include "cluster/images.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::vector<std::string> images;
  std::vector<std::string> clusters;
  std::string mode = "auto";
};
}  // namespace

void add_image_import(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("import", "Import image(s) from the container engine into the cluster's nodes");
  cmd->alias("load");
  cmd->add_option("IMAGE", o->images,
                  "Image name(s) in the engine, e.g. nginx:1.24 busybox, or archive(s) from docker save (FILE.tar)")
      ->required();
  cmd->add_option("-c,--cluster", o->clusters, "Cluster(s) to import into (default: default)");
  cmd->add_option("-m,--mode", o->mode,
                  "auto|direct: stream the archive into each node's containerd; tools: copy it into each node and "
                  "import it from there (k3dpp starts no tools node)")
      ->check(CLI::IsMember({"auto", "direct", "tools"}));
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      std::vector<std::string> clusters = o->clusters;
      if (clusters.empty()) clusters.push_back("default");
      for (const auto& c : clusters) {
        cluster::ImageImportOptions opts;
        opts.images = o->images;
        opts.cluster = c;
        // Escape hatch (and for measuring): copy the archive into the node instead of piping it.
        if (const char* t = std::getenv("K3DPP_IMAGE_IMPORT_TRANSPORT"); t && std::string(t) == "archive") {
          opts.transport = cluster::ImportTransport::kArchive;
        }
        if (o->mode == "tools") opts.transport = cluster::ImportTransport::kArchive;
        auto r = cluster::import_images(**rt, opts);
        if (!r) return r.error();
      }
      return {};
    };
  });
}

}  // namespace k3dpp::cli
