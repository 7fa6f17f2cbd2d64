#include "runtime/podman/host_firewall.h"

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"

extern char** environ;

namespace k3dpp::runtime::podman::firewall {

CommandRunner system_runner() {
  return [](const std::vector<std::string>& argv) -> Result<std::string> {
    if (argv.empty()) return fail("run: empty command", "Invalid");
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail(std::string("run: pipe: ") + std::strerror(errno), "Engine");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      return fail("run " + argv[0] + ": " + std::strerror(rc), "Unavailable");
    }
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return fail(strings::join(argv, " ") + " failed: " + std::string(strings::trim(out)), "Engine");
    }
    return out;
  };
}

std::vector<std::string> split_rule(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool in_token = false, quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
      in_token = true;
    } else if (c == '"') {
      quoted = !quoted;
      in_token = true;
    } else if (!quoted && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      if (in_token) out.push_back(cur);
      cur.clear();
      in_token = false;
    } else {
      cur += c;
      in_token = true;
    }
  }
  if (in_token) out.push_back(cur);
  return out;
}

std::vector<std::vector<std::string>> rules_for_bridge(const std::string& listing, const std::string& bridge) {
  std::vector<std::vector<std::string>> out;
  if (bridge.empty()) return out;
  for (const auto& line : strings::split(listing, '\n')) {
    auto args = split_rule(line);
    if (args.size() < 2 || args[0] != "-A") continue;
    bool names_bridge = false;
    for (size_t i = 2; i + 1 < args.size(); ++i) {
      if ((args[i] == "-i" || args[i] == "-o" || args[i] == "--in-interface" || args[i] == "--out-interface") &&
          args[i + 1] == bridge) {
        names_bridge = true;
      }
    }
    if (names_bridge) out.push_back(std::move(args));
  }
  return out;
}

Result<int> remove_isolation_rules(const CommandRunner& run, const std::string& bridge) {
  int removed = 0;
  for (const char* chain : kIsolationChains) {
    auto listing = run({"iptables", "-w", "5", "-t", "filter", "-S", chain});
    if (!listing) continue;  // chain absent (no CNI firewall rules ever made here)
    for (auto& rule : rules_for_bridge(*listing, bridge)) {
      std::vector<std::string> argv = {"iptables", "-w", "5", "-t", "filter", "-D"};
      argv.insert(argv.end(), rule.begin() + 1, rule.end());
      auto r = run(argv);
      if (!r) return r.error().wrap("remove stale podman rule in " + std::string(chain));
      ++removed;
    }
  }
  return removed;
}

}  // namespace k3dpp::runtime::podman::firewall
