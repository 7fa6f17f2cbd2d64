#include "lb-proxy/agent.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <cerrno>
#include <cstring>
#include <set>
#include <thread>
#include <utility>

#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"

extern char** environ;

namespace k3dpp::lb {
namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<spdlog::logger> logger() { return log::get("lb"); }

std::string errno_text() { return std::strerror(errno); }

// Child processes start with an empty signal mask and default handlers: the agent blocks the
// signals it reads through signalfd, and nginx must not inherit that.
struct SpawnAttr {
  posix_spawnattr_t attr{};
  SpawnAttr() {
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    sigset_t dflt;
    sigemptyset(&dflt);
    for (int s : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGPIPE, SIGUSR1, SIGUSR2}) sigaddset(&dflt, s);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  ~SpawnAttr() { posix_spawnattr_destroy(&attr); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
};

std::vector<char*> c_argv(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string dir_name(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Result<CommandResult> run_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return fail("run_command: empty argv");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail("pipe: " + errno_text());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  SpawnAttr attr;
  std::vector<std::string> args = argv;
  auto cargs = c_argv(args);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, cargs[0], &actions, &attr.attr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return fail("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  CommandResult res;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      res.output.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return fail("waitpid " + argv[0] + ": " + errno_text());
  }
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

std::vector<std::string> resolve_host(const Upstream& up) {
  in_addr a4{};
  in6_addr a6{};
  if (up.ipv6 || inet_pton(AF_INET, up.host.c_str(), &a4) == 1 ||
      inet_pton(AF_INET6, up.host.c_str(), &a6) == 1) {
    return {up.host};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(up.host.c_str(), nullptr, &hints, &res) != 0) return {};
  std::set<std::string> addrs;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {0};
    const void* src = ai->ai_family == AF_INET
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    if (inet_ntop(ai->ai_family, src, text, sizeof text) != nullptr) addrs.insert(text);
  }
  ::freeaddrinfo(res);
  return {addrs.begin(), addrs.end()};
}

std::map<std::string, std::vector<std::string>> resolve_all(const std::vector<Upstream>& ups,
                                                            std::chrono::milliseconds limit) {
  // Shared with detached resolver threads that may outlive this call.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, std::vector<std::string>> answers;
  };
  auto shared = std::make_shared<Shared>();
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& up : ups) {
    if (out.count(up.host)) continue;
    out[up.host] = {};
    std::thread([shared, up] {
      auto addrs = resolve_host(up);
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->answers[up.host] = std::move(addrs);
      shared->cv.notify_all();
    }).detach();
  }
  std::unique_lock<std::mutex> lock(shared->mu);
  shared->cv.wait_for(lock, limit, [&] { return shared->answers.size() == out.size(); });
  for (auto& [host, addrs] : out) {
    auto it = shared->answers.find(host);
    if (it != shared->answers.end()) {
      addrs = it->second;
    } else {
      logger()->warn("resolving {} takes longer than {} ms; treating it as unresolvable for now", host,
                     limit.count());
    }
  }
  return out;
}

Agent::Agent(AgentOptions opts) : opts_(std::move(opts)) { opts_.render.source = opts_.config_path; }

Status Agent::install(const std::string& conf) {
  std::string candidate = opts_.nginx_conf_path + ".k3dpp-new";
  K3DPP_TRY(files::write_atomic(candidate, conf, 0644));
  auto check = run_command({opts_.nginx_binary, "-t", "-q", "-c", candidate});
  if (!check) {
    ::unlink(candidate.c_str());
    return unexpected(check.error().wrap("validating the new nginx configuration"));
  }
  if (check->exit_code != 0) {
    ::unlink(candidate.c_str());
    std::string out(strings::trim(check->output));
    return fail("nginx -t rejected the new configuration (exit " + std::to_string(check->exit_code) +
                    "): " + (out.empty() ? "no output" : out),
                "Invalid");
  }
  if (::rename(candidate.c_str(), opts_.nginx_conf_path.c_str()) != 0) {
    std::string err = errno_text();
    ::unlink(candidate.c_str());
    return fail("cannot move the new configuration into " + opts_.nginx_conf_path + ": " + err);
  }
  return {};
}

Status Agent::apply(bool force_reload) {
  auto cfg = load_ports_config(opts_.config_path);
  if (!cfg) return unexpected(cfg.error());

  std::vector<Upstream> all;
  for (const auto& p : cfg->ports) all.insert(all.end(), p.upstreams.begin(), p.upstreams.end());
  auto resolved = resolve_all(all, opts_.dns_timeout);
  auto usable = [&resolved](const Upstream& u) { return !resolved[u.host].empty(); };
  std::string conf = render_nginx_conf(*cfg, opts_.render, usable);

  bool conf_changed = conf != current_conf_;
  bool dns_changed = resolved != resolved_;
  if (!conf_changed && !dns_changed && !force_reload) {
    logger()->debug("configuration unchanged");
    return {};
  }
  for (const auto& [host, addrs] : resolved) {
    if (addrs.empty() && (conf_changed || dns_changed)) {
      logger()->warn("upstream host {} does not resolve yet; left out until it does", host);
    }
  }
  if (conf_changed) {
    K3DPP_TRY(install(conf));
    logger()->info("nginx configuration written to {} ({} port(s))", opts_.nginx_conf_path, cfg->ports.size());
  }
  current_conf_ = std::move(conf);
  resolved_ = std::move(resolved);
  if (nginx_pid_ > 0) {
    if (::kill(nginx_pid_, SIGHUP) != 0) return fail("cannot signal nginx (pid " + std::to_string(nginx_pid_) + "): " + errno_text());
    logger()->info("nginx reloaded ({})", conf_changed ? "new configuration" : dns_changed ? "upstream addresses changed" : "reload requested");
  }
  return {};
}

Status Agent::start_nginx() {
  SpawnAttr attr;
  std::vector<std::string> args = {opts_.nginx_binary, "-c", opts_.nginx_conf_path};
  auto cargs = c_argv(args);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, cargs[0], nullptr, &attr.attr, cargs.data(), environ);
  if (rc != 0) return fail("cannot start " + opts_.nginx_binary + ": " + std::strerror(rc));
  nginx_pid_ = pid;
  logger()->info("nginx started (pid {})", pid);
  return {};
}

int Agent::stop(int sig) {
  if (nginx_pid_ <= 0) return 0;
  logger()->info("stopping nginx (pid {}) with {}", nginx_pid_, strsignal(sig));
  ::kill(nginx_pid_, sig);
  auto deadline = Clock::now() + opts_.stop_timeout;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(nginx_pid_, &status, WNOHANG);
    if (r == nginx_pid_) break;
    if (r < 0 && errno != EINTR) return 1;
    if (Clock::now() >= deadline) {
      logger()->warn("nginx did not stop within {} ms; killing it", opts_.stop_timeout.count());
      ::kill(nginx_pid_, SIGKILL);
      ::waitpid(nginx_pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  nginx_pid_ = -1;
  logger()->info("nginx stopped ({})", describe_status(status));
  return 0;
}

Result<int> Agent::run() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD}) sigaddset(&set, s);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return fail("sigprocmask: " + errno_text());
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return fail("signalfd: " + errno_text());
  int ifd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (ifd < 0) return fail("inotify_init1: " + errno_text());
  std::string watch_dir = dir_name(opts_.config_path);
  std::string watch_name = base_name(opts_.config_path);
  if (::inotify_add_watch(ifd, watch_dir.c_str(),
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB) < 0) {
    return fail("cannot watch " + watch_dir + ": " + errno_text());
  }
  K3DPP_TRY(files::write_atomic(opts_.pid_file, std::to_string(::getpid()) + "\n", 0644));

  if (auto st = apply(false); !st) return unexpected(st.error().wrap("initial configuration"));
  K3DPP_TRY(start_nginx());

  // A reload is due at pending_at when have_pending (a file event waits out the debounce).
  bool have_pending = false;
  Clock::time_point pending_at{};
  bool pending_force = false;
  auto next_tick = Clock::now() + opts_.dns_interval;
  std::string last_error;
  auto do_apply = [&](bool force) {
    auto st = apply(force);
    if (st) {
      last_error.clear();
    } else if (st.error().message != last_error || force) {
      last_error = st.error().message;
      logger()->error("keeping the current nginx configuration: {}", st.error().message);
    }
  };

  for (;;) {
    auto now = Clock::now();
    auto wake = have_pending ? std::min(pending_at, next_tick) : next_tick;
    int timeout_ms = static_cast<int>(
        std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count()));
    pollfd pfds[2] = {{sfd, POLLIN, 0}, {ifd, POLLIN, 0}};
    int n = ::poll(pfds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) return fail("poll: " + errno_text());

    if (n > 0 && (pfds[0].revents & POLLIN)) {
      signalfd_siginfo si{};
      while (::read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGHUP) {
          logger()->info("reload requested");
          have_pending = true;
          pending_at = Clock::now();
          pending_force = true;
        } else if (sig == SIGCHLD) {
          int status = 0;
          pid_t pid;
          while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == nginx_pid_) {
              nginx_pid_ = -1;
              logger()->error("nginx exited unexpectedly ({})", describe_status(status));
              ::unlink(opts_.pid_file.c_str());
              return 1;
            }
          }
        } else {
          int code = stop(sig == SIGQUIT ? SIGQUIT : SIGTERM);
          ::unlink(opts_.pid_file.c_str());
          ::close(ifd);
          ::close(sfd);
          return code;
        }
      }
    }
    if (n > 0 && (pfds[1].revents & POLLIN)) {
      alignas(inotify_event) char buf[4096];
      ssize_t len;
      while ((len = ::read(ifd, buf, sizeof buf)) > 0) {
        for (char* p = buf; p < buf + len;) {
          auto* ev = reinterpret_cast<inotify_event*>(p);
          if (ev->len > 0 && watch_name == ev->name) {
            if (!have_pending) logger()->debug("{} changed", opts_.config_path);
            auto at = Clock::now() + opts_.debounce;
            if (!have_pending || pending_at < at) pending_at = at;
            have_pending = true;
          }
          p += sizeof(inotify_event) + ev->len;
        }
      }
    }
    now = Clock::now();
    if (have_pending && now >= pending_at) {
      bool force = pending_force;
      have_pending = false;
      pending_force = false;
      do_apply(force);
    }
    if (now >= next_tick) {
      // Catches missed file events too, and names that started (or stopped) resolving.
      do_apply(false);
      next_tick = Clock::now() + opts_.dns_interval;
    }
  }
}

Status signal_reload(const std::string& pid_file) {
  auto text = files::read(pid_file);
  if (!text) return fail("no running k3dpp-lb agent found (" + text.error().message + ")", "NotFound");
  long long pid = 0;
  if (!strings::parse_int(strings::trim(*text), pid) || pid <= 0) {
    return fail(pid_file + " does not hold a process id", "Invalid");
  }
  if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    return fail("cannot signal k3dpp-lb agent (pid " + std::to_string(pid) + "): " + errno_text());
  }
  return {};
}

}  // namespace k3dpp::lb
