// k3dpp cluster logs NAME [--output-dir DIR] [--tail N] (kind: export logs). Every container of
// the cluster: its own log and, for nodes, containerd's log file. Without --output-dir they go to
// stdout, each under a "===== NAME (ROLE, STATE) =====" header; with it, into DIR/NAME.log and
// DIR/NAME-containerd.log, and the directory is printed.
#include <filesystem>
#include <fstream>

#include "cli/cli.h"
#include "cluster/logs.h"

namespace k3dpp::cli {
namespace {
struct Options {
  std::string name = "default";
  std::string output_dir;
  int tail = 0;
};

std::string with_newline(std::string s) {
  if (!s.empty() && s.back() != '\n') s += '\n';
  return s;
}

std::string container_text(const cluster::ContainerLogs& c) {
  if (!c.log_error.empty()) return "(log not available: " + c.log_error + ")\n";
  return with_newline(c.log);
}

Status write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return fail("cannot write " + path.string());
  f << content;
  f.close();
  if (!f) return fail("cannot write " + path.string());
  return {};
}
}  // namespace

void add_cluster_logs(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("logs", "Print or export the logs of a cluster's containers");
  cmd->add_option("NAME", o->name, "Cluster name (default: default)");
  cmd->add_option("-o,--output-dir", o->output_dir, "Write DIR/<container>.log (and <container>-containerd.log) files");
  cmd->add_option("--tail", o->tail, "Only the last N lines of each log (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status {
      auto rt = ctx.open_runtime();
      if (!rt) return rt.error();
      auto logs = cluster::collect_cluster_logs(**rt, o->name, o->tail);
      if (!logs) return logs.error();
      std::ostream& out = *ctx.out;
      if (o->output_dir.empty()) {
        for (const auto& c : *logs) {
          out << "===== " << c.container << " (" << c.role << ", " << c.state << ") =====\n" << container_text(c);
          if (c.containerd_log) {
            out << "===== " << c.container << " containerd (" << cluster::kContainerdLogFile << ") =====\n"
                << with_newline(*c.containerd_log);
          }
        }
        return {};
      }
      std::filesystem::path dir(o->output_dir);
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) return fail("cannot create " + dir.string() + ": " + ec.message());
      for (const auto& c : *logs) {
        K3DPP_TRY(write_file(dir / (c.container + ".log"), container_text(c)));
        if (c.containerd_log) K3DPP_TRY(write_file(dir / (c.container + "-containerd.log"), *c.containerd_log));
      }
      out << dir.string() << "\n";
      return {};
    };
  });
}

}  // namespace k3dpp::cli
