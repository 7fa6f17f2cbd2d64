// k3dpp-lb: the load balancer agent of the k3dpp-NAME-serverlb container.
//   k3dpp-lb render --config FILE [--out FILE]
//   k3dpp-lb run    --config FILE [--nginx-conf FILE] [--nginx BIN] [--pid-file FILE]
//   k3dpp-lb reload [--pid-file FILE]
//   k3dpp-lb version
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "lb-proxy/agent.h"
#include "lb-proxy/nginx_conf.h"
#include "lb-proxy/ports_config.h"

namespace {

constexpr const char* kUsage =
    "usage: k3dpp-lb COMMAND [options]\n"
    "  render --config FILE [--out FILE]   print (or write) the nginx.conf for a ports file\n"
    "  run --config FILE                   keep nginx running with that ports file\n"
    "      [--nginx-conf FILE] [--nginx BIN] [--pid-file FILE] [--dns-interval SECONDS]\n"
    "  reload [--pid-file FILE]            make the running agent re-read its ports file\n"
    "  version                             print the version\n"
    "common options: --log-level trace|debug|info|warn|error\n";

int error_exit(const std::string& msg) {
  std::fprintf(stderr, "ERROR: %s\n", msg.c_str());
  return 1;
}

// Parses "--name value" / "--name=value" pairs; only the names in `known` are accepted.
bool parse_flags(const std::vector<std::string>& args, const std::vector<std::string>& known,
                 std::map<std::string, std::string>& out, std::string& err) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    bool has_value = false;
    if (auto eq = a.find('='); k3dpp::strings::starts_with(a, "--") && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    bool ok = false;
    for (const auto& k : known) ok = ok || a == "--" + k;
    if (!ok) {
      err = "unknown option '" + args[i] + "'";
      return false;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        err = "option " + a + " needs a value";
        return false;
      }
      value = args[++i];
    }
    out[a.substr(2)] = value;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  std::map<std::string, std::string> flags;
  std::string err;

  if (cmd == "version") {
    std::printf("k3dpp-lb %s\n", K3DPP_VERSION);
    return 0;
  }
  if (cmd == "render") {
    if (!parse_flags(args, {"config", "out", "log-level"}, flags, err)) return error_exit(err + "\n" + kUsage);
    if (flags.count("log-level")) k3dpp::log::set_level(flags["log-level"]);
    if (!flags.count("config")) return error_exit("render needs --config FILE");
    auto cfg = k3dpp::lb::load_ports_config(flags["config"]);
    if (!cfg) return error_exit(cfg.error().message);
    k3dpp::lb::RenderOptions opts;
    opts.source = flags["config"];
    std::string conf = k3dpp::lb::render_nginx_conf(*cfg, opts);
    if (flags.count("out") && flags["out"] != "-") {
      auto st = k3dpp::files::write_atomic(flags["out"], conf, 0644);
      if (!st) return error_exit(st.error().message);
    } else {
      std::fwrite(conf.data(), 1, conf.size(), stdout);
    }
    return 0;
  }
  if (cmd == "run") {
    if (!parse_flags(args, {"config", "nginx-conf", "nginx", "pid-file", "dns-interval", "log-level"}, flags, err)) {
      return error_exit(err + "\n" + kUsage);
    }
    if (flags.count("log-level")) k3dpp::log::set_level(flags["log-level"]);
    k3dpp::lb::AgentOptions opts;
    if (flags.count("config")) opts.config_path = flags["config"];
    if (flags.count("nginx-conf")) opts.nginx_conf_path = flags["nginx-conf"];
    if (flags.count("nginx")) opts.nginx_binary = flags["nginx"];
    if (flags.count("pid-file")) opts.pid_file = flags["pid-file"];
    if (flags.count("dns-interval")) {
      long long secs = 0;
      if (!k3dpp::strings::parse_int(flags["dns-interval"], secs) || secs < 1) {
        return error_exit("--dns-interval must be a whole number of seconds >= 1");
      }
      opts.dns_interval = std::chrono::seconds(secs);
    }
    k3dpp::lb::Agent agent(opts);
    auto code = agent.run();
    if (!code) return error_exit(code.error().message);
    return *code;
  }
  if (cmd == "reload") {
    if (!parse_flags(args, {"pid-file", "log-level"}, flags, err)) return error_exit(err + "\n" + kUsage);
    auto st = k3dpp::lb::signal_reload(flags.count("pid-file") ? flags["pid-file"] : "/run/k3dpp-lb.pid");
    if (!st) return error_exit(st.error().message);
    return 0;
  }
  return error_exit("unknown command '" + cmd + "'\n" + kUsage);
}
