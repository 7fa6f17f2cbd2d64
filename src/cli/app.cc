#include <spdlog/pattern_formatter.h>

#include <chrono>
#include <map>
#include <optional>

#include "cli/cli.h"
#include "common/log.h"
#include "runtime/factory.h"

namespace k3dpp::cli {

Result<std::shared_ptr<runtime::Runtime>> Context::open_runtime() const {
  if (runtime_override) return std::shared_ptr<runtime::Runtime>(runtime_override, [](runtime::Runtime*) {});
  auto rt = runtime::make_runtime(globals.runtime);
  if (!rt) return rt.error().wrap("cannot reach the container engine");
  return std::shared_ptr<runtime::Runtime>(std::move(*rt));
}

Result<std::chrono::seconds> parse_duration(const std::string& text) {
  if (text.empty()) return fail("empty duration", "Invalid");
  long long total = 0, num = 0;
  bool have_num = false, any_unit = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      num = num * 10 + (c - '0');
      have_num = true;
      if (num > 1000000) return fail("duration '" + text + "' is too long", "Invalid");
      continue;
    }
    if (!have_num) return fail("invalid duration '" + text + "' (want e.g. 120s, 2m, 1h)", "Invalid");
    if (c == 's') {
      total += num;
    } else if (c == 'm') {
      total += num * 60;
    } else if (c == 'h') {
      total += num * 3600;
    } else {
      return fail("invalid duration '" + text + "' (want e.g. 120s, 2m, 1h)", "Invalid");
    }
    num = 0;
    have_num = false;
    any_unit = true;
  }
  if (have_num) {
    if (any_unit) return fail("invalid duration '" + text + "' (missing unit)", "Invalid");
    total += num;
  }
  if (total <= 0) return fail("duration '" + text + "' must be positive", "Invalid");
  return std::chrono::seconds(total);
}

namespace {

// k3d flags k3dpp does not offer, and what to do instead.
std::optional<std::string> unsupported_k3d_flag(const std::string& arg) {
  static const std::map<std::string, std::string> kHints = {
      {"--gpus", "nodes get no GPUs; run GPU workloads on a real k3s or kind node"},
      {"--host-pid-mode", "nodes always run in their own PID namespace"},
      {"--registry-config",
       "use --registry-create/--registry-use (k3dpp writes the nodes' containerd mirror files itself)"},
      {"--enforce-registry-port-match", "use --registry-create NAME:PORT to choose the registry's host port"},
      {"--keep-tarball", "image import streams images into the nodes and keeps no tarball"},
      {"--keep-tools", "image import starts no tools node"},
      {"--registries", "delete registries with k3dpp registry delete"},
      {"--k3s-server-arg", "use --server-arg ARG or --k3s-arg ARG@server:*"},
      {"--k3s-agent-arg", "use --agent-arg ARG or --k3s-arg ARG@agent:*"},
      {"--image-volume", "k3dpp clusters have no image volume; use k3dpp image import"},
      {"--no-hostip", "k3dpp does not inject host.k3d.internal; use --host-alias IP:NAME"},
      {"--label", "use --runtime-label KEY=VALUE@NODEFILTER (container labels) or --node-label (Kubernetes labels)"},
      {"--update-default-kubeconfig", "use --kubeconfig-update-default"},
      {"--switch-context", "use --kubeconfig-switch-context"},
      {"--wait-for-server", "use --wait"},
      {"--datastore-endpoint", "servers keep their state in SQLite (1 server) or embedded etcd (--servers 3)"},
  };
  auto name = arg.substr(0, arg.find('='));
  auto it = kHints.find(name);
  if (it == kHints.end()) return std::nullopt;
  return it->second;
}

// "cluster create" for the deepest subcommand parsed.
std::string command_path(const CLI::App& app) {
  std::string out;
  const CLI::App* cur = &app;
  while (true) {
    auto subs = cur->get_subcommands();
    if (subs.empty()) break;
    cur = subs.front();
    out += (out.empty() ? "" : " ") + cur->get_name();
  }
  return out;
}

}  // namespace

int run(const std::vector<std::string>& args, Context& ctx, std::ostream& err) {
  CLI::App app{"k3dpp: run Kubernetes clusters (k3dpp-node) in containers", "k3dpp"};
  build_app(app, ctx);
  if (args.empty()) {  // like k3d: no command prints the help
    *ctx.out << app.help();
    return 0;
  }
  if (args.front() == "__complete") {  // the completion scripts' entry point (completion.cc)
    std::vector<std::string> words(args.begin() + 1, args.end());
    if (words.empty()) words.emplace_back();
    auto res = complete_words(app, ctx, words);
    for (const auto& c : res.candidates) *ctx.out << c << "\n";
    *ctx.out << (res.files ? ":1" : ":0") << "\n";
    return 0;
  }
  try {
    std::vector<std::string> rev(args.rbegin(), args.rend());  // CLI11 wants them reversed
    app.parse(rev);
  } catch (const CLI::CallForHelp& e) {
    *ctx.out << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp& e) {
    *ctx.out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion& e) {
    *ctx.out << version_text(false);
    return 0;
  } catch (const CLI::ExtrasError& e) {
    // A k3d flag k3dpp does not have gets one line saying what to do instead.
    for (const auto& extra : app.remaining()) {
      if (auto hint = unsupported_k3d_flag(extra)) {
        err << "ERROR: " << extra.substr(0, extra.find('=')) << " is not supported by k3dpp: " << *hint << "\n";
        return 1;
      }
    }
    err << "ERROR: " << e.what() << " (see k3dpp " << command_path(app) << " --help)\n";
    return 1;
  } catch (const CLI::ParseError& e) {
    err << "ERROR: " << e.what() << "\n";
    return e.get_exit_code() == 0 ? 1 : e.get_exit_code();
  }
  if (ctx.logging_setup) setup_logging(ctx.globals);
  if (!ctx.run) return 0;
  auto st = ctx.run();
  if (!st) {
    err << "ERROR: " << st.error().message << "\n";
    return 1;
  }
  return 0;
}

void add_image_import(CLI::App& image, Context& ctx);  // image_import.cc

void build_app(CLI::App& app, Context& ctx) {
  app.require_subcommand(1);
  // Global flags are accepted after the command too (cobra's persistent flags): subcommands
  // created below inherit fallthrough and hand unknown options up to here.
  app.fallthrough();
  app.set_version_flag("--version", std::string("k3dpp v") + K3DPP_VERSION, "Show k3dpp and default image versions");
  app.add_option("--runtime", ctx.globals.runtime, "Container runtime (docker|podman; default: auto)")
      ->check(CLI::IsMember({"docker", "podman"}));
  app.add_flag("--verbose", ctx.globals.verbose, "Enable verbose output (debug logging)");
  app.add_flag("--trace", ctx.globals.trace, "Enable super verbose output (trace logging)");

  auto* cluster = app.add_subcommand("cluster", "Manage cluster(s)");
  cluster->require_subcommand(1);
  add_cluster_create(*cluster, ctx);
  add_cluster_delete(*cluster, ctx);
  add_cluster_list(*cluster, ctx);
  add_cluster_start(*cluster, ctx);
  add_cluster_stop(*cluster, ctx);
  add_cluster_edit(*cluster, ctx);
  add_cluster_logs(*cluster, ctx);

  auto* node = app.add_subcommand("node", "Manage node(s)");
  node->require_subcommand(1);
  add_node_create(*node, ctx);
  add_node_list(*node, ctx);
  add_node_delete(*node, ctx);
  add_node_start(*node, ctx);
  add_node_stop(*node, ctx);
  add_node_edit(*node, ctx);

  auto* kc = app.add_subcommand("kubeconfig", "Manage kubeconfig(s)");
  kc->require_subcommand(1);
  add_kubeconfig_get(*kc, ctx);
  add_kubeconfig_merge(*kc, ctx);

  auto* image = app.add_subcommand("image", "Handle container images");
  image->require_subcommand(1);
  add_image_import(*image, ctx);

  auto* registry = app.add_subcommand("registry", "Manage registry/registries");
  registry->alias("reg");
  registry->require_subcommand(1);
  add_registry_create(*registry, ctx);
  add_registry_list(*registry, ctx);
  add_registry_delete(*registry, ctx);

  add_version(app, ctx);
  add_completion(app, ctx);
  add_config(app, ctx);
}

namespace {

const auto kStart = std::chrono::steady_clock::now();

// "INFO[0003]" like logrus' text formatter that k3d uses.
class K3dLevelFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const char* lvl = "INFO";
    switch (msg.level) {
      case spdlog::level::trace: lvl = "TRAC"; break;
      case spdlog::level::debug: lvl = "DEBU"; break;
      case spdlog::level::info: lvl = "INFO"; break;
      case spdlog::level::warn: lvl = "WARN"; break;
      case spdlog::level::err: lvl = "ERRO"; break;
      case spdlog::level::critical: lvl = "FATA"; break;
      default: break;
    }
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - kStart).count();
    char buf[32];
    int n = std::snprintf(buf, sizeof(buf), "%s[%04lld]", lvl, static_cast<long long>(secs));
    dest.append(buf, buf + n);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<K3dLevelFlag>(); }
};

}  // namespace

void setup_logging(const Globals& g) {
  log::set_level(g.trace ? "trace" : g.verbose ? "debug" : "info");
  // Create the loggers we know of now, so they all get the k3d format.
  for (const char* name : {"cli", "cluster", "runtime", "runtime.docker", "runtime.podman"}) log::get(name);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<K3dLevelFlag>('*').set_pattern("%^%*%$ %v");
    l->set_formatter(std::move(f));
  });
}

}  // namespace k3dpp::cli
