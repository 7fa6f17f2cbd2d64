// The k3dpp-lb agent: keeps nginx's configuration in step with the ports file.
//
// run(): render nginx.conf, validate it with `nginx -t`, swap it in atomically, start nginx in
// the foreground as a child, then loop: a change of the ports file (inotify), SIGHUP (sent by
// `k3dpp-lb reload`) or a change in what the upstream names resolve to re-renders, validates
// and sends nginx SIGHUP. An invalid new config keeps the running one and logs why.
// SIGTERM/SIGINT are forwarded to nginx; the agent exits when nginx has exited.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

#include "common/result.h"
#include "lb-proxy/nginx_conf.h"
#include "lb-proxy/ports_config.h"

namespace k3dpp::lb {

struct AgentOptions {
  std::string config_path = "/etc/k3dpp-lb/ports.json";
  std::string nginx_conf_path = "/etc/nginx/nginx.conf";
  std::string nginx_binary = "nginx";
  std::string pid_file = "/run/k3dpp-lb.pid";
  RenderOptions render;
  // How often upstream names are re-resolved; a changed answer triggers a reload, since nginx
  // resolves names only when it (re)loads.
  std::chrono::milliseconds dns_interval{std::chrono::seconds(10)};
  // Quiet time after a file event before reloading (editors and `docker cp` write in steps).
  std::chrono::milliseconds debounce{std::chrono::milliseconds(200)};
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds dns_timeout{std::chrono::seconds(3)};
};

// Output and exit status of a finished command.
struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs argv (searching PATH) to completion with signals unblocked and default dispositions.
Result<CommandResult> run_command(const std::vector<std::string>& argv);

// Resolves an upstream's host to its sorted addresses; IP literals resolve to themselves.
// An empty vector means "does not resolve".
std::vector<std::string> resolve_host(const Upstream& up);

// Resolves the hosts of all upstreams in parallel, waiting at most `limit`: a host whose answer
// has not come back by then (an unreachable DNS server) counts as not resolving, so the agent
// never blocks on DNS for long.
std::map<std::string, std::vector<std::string>> resolve_all(const std::vector<Upstream>& ups,
                                                            std::chrono::milliseconds limit);

class Agent {
 public:
  explicit Agent(AgentOptions opts);

  // Runs until nginx exits or a stop signal; returns the process exit code, or an error when
  // the first configuration cannot be loaded or nginx cannot start.
  Result<int> run();

  // Renders, validates and installs the current ports file once (no nginx started). Used by
  // run() and by `k3dpp-lb apply`.
  Status apply(bool force_reload);

 private:
  Status install(const std::string& conf);
  Status start_nginx();
  int stop(int sig);

  AgentOptions opts_;
  pid_t nginx_pid_ = -1;
  std::string current_conf_;
  std::map<std::string, std::vector<std::string>> resolved_;  // host -> addresses at last apply
};

// Sends SIGHUP to the agent whose pid is in pid_file.
Status signal_reload(const std::string& pid_file);

}  // namespace k3dpp::lb
