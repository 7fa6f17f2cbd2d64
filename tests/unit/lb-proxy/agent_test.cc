// The k3dpp-lb run loop, end to end against a fake nginx (a shell script): first render,
// reload on a file change, an invalid config kept out, `k3dpp-lb reload`, SIGTERM forwarding.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "common/strings.h"
#include "lb-proxy/agent.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

// -t: rejects any config listening on port 666. Otherwise: records its pid, each SIGHUP, and
// the SIGTERM that stops it.
constexpr const char* kFakeNginx = R"(#!/bin/sh
state=$(dirname "$0")
if [ "$1" = -t ]; then
  if grep -q 'listen 666 ' "$4"; then echo "nginx: [emerg] port 666 is cursed in $4" >&2; exit 1; fi
  exit 0
fi
trap 'echo hup >>"$state/hups"' HUP
trap 'echo term >>"$state/stopped"; exit 0' TERM
echo $$ >"$state/nginx.pid"
while :; do sleep 0.05; done
)";

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "k3dpp-lb-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string slurp(const std::string& path) { return k3dpp::files::read(path).value_or(std::string()); }

bool eventually(const std::function<bool()>& cond, int ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

size_t count_lines(const std::string& path) {
  auto text = slurp(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

pid_t spawn_lb(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<std::string> argv = {K3DPP_LB_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, cargs[0], &fa, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return pid;
}

// Waits for a child; -1 if it did not exit in time.
int wait_exit(pid_t pid, int ms = 5000) {
  int status = 0;
  bool done = eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, ms);
  if (!done) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Fixture {
  TempDir dir;
  std::string ports = dir.file("ports.json");
  std::string conf = dir.file("nginx.conf");
  std::string pid_file = dir.file("lb.pid");
  std::string log = dir.file("agent.log");
  std::string hups = dir.file("hups");

  Fixture() {
    std::string nginx = dir.file("nginx");
    REQUIRE(k3dpp::files::write_atomic(nginx, kFakeNginx, 0755).has_value());
  }
  [[nodiscard]] std::vector<std::string> run_args() const {
    return {"run", "--config", ports, "--nginx", dir.file("nginx"), "--nginx-conf", conf, "--pid-file", pid_file,
            "--log-level", "debug"};
  }
  void write_ports(const std::string& json) const { REQUIRE(k3dpp::files::write_atomic(ports, json).has_value()); }
  // Rewrites the file in place (same inode), as `echo > file` or docker cp do.
  void overwrite_ports(const std::string& json) const {
    std::ofstream out(ports, std::ios::trunc);
    out << json;
  }
};

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("agent: renders, starts nginx, reloads on change, keeps the old config when the new one is bad") {
  Fixture f;
  f.write_ports(R"({"ports":[{"listen":6443,"upstreams":["127.0.0.1:16443"]}]})");
  pid_t agent = spawn_lb(f.run_args(), f.log);

  REQUIRE_MESSAGE(eventually([&] { return k3dpp::files::exists(f.dir.file("nginx.pid")); }), slurp(f.log));
  CHECK(has(slurp(f.conf), "listen 6443 so_keepalive=on;"));
  CHECK(slurp(f.pid_file) == std::to_string(agent) + "\n");
  CHECK_FALSE(k3dpp::files::exists(f.conf + ".k3dpp-new"));

  // A new file moved into place (atomic write): new config and one SIGHUP.
  f.write_ports(R"({"ports":[{"listen":6443,"upstreams":["127.0.0.1:16443"]},
                             {"listen":30050,"upstreams":["127.0.0.1:30050"]}]})");
  CHECK_MESSAGE(eventually([&] { return count_lines(f.hups) == 1; }), slurp(f.log));
  CHECK(has(slurp(f.conf), "listen 30050 so_keepalive=on;"));

  // nginx -t refuses: the old config stays, nginx is not signalled, the log says why.
  f.overwrite_ports(R"({"ports":[{"listen":666,"upstreams":["127.0.0.1:1"]}]})");
  CHECK_MESSAGE(eventually([&] { return has(slurp(f.log), "port 666 is cursed"); }), slurp(f.log));
  CHECK(has(slurp(f.log), "keeping the current nginx configuration"));
  CHECK(has(slurp(f.conf), "listen 30050 so_keepalive=on;"));
  CHECK_FALSE(has(slurp(f.conf), "listen 666"));
  CHECK_FALSE(k3dpp::files::exists(f.conf + ".k3dpp-new"));
  CHECK(count_lines(f.hups) == 1);

  // Broken JSON: same.
  f.overwrite_ports(R"({"ports": [)");
  CHECK_MESSAGE(eventually([&] { return has(slurp(f.log), "invalid JSON"); }), slurp(f.log));
  CHECK(has(slurp(f.conf), "listen 30050 so_keepalive=on;"));
  CHECK(count_lines(f.hups) == 1);

  // Fixed again: applied.
  f.overwrite_ports(R"({"ports":[{"listen":7000,"protocol":"udp","upstreams":["127.0.0.1:7000"]}]})");
  CHECK_MESSAGE(eventually([&] { return count_lines(f.hups) == 2; }), slurp(f.log));
  CHECK(has(slurp(f.conf), "listen 7000 udp;"));
  CHECK_FALSE(has(slurp(f.conf), "listen 30050"));

  // `k3dpp-lb reload` reloads nginx even when nothing changed (nginx re-resolves names).
  pid_t reload = spawn_lb({"reload", "--pid-file", f.pid_file}, f.log);
  CHECK(wait_exit(reload) == 0);
  CHECK_MESSAGE(eventually([&] { return count_lines(f.hups) == 3; }), slurp(f.log));

  // SIGTERM goes to nginx; the agent exits 0 and removes its pid file.
  REQUIRE(::kill(agent, SIGTERM) == 0);
  CHECK(wait_exit(agent) == 0);
  CHECK(slurp(f.dir.file("stopped")) == "term\n");
  CHECK_FALSE(k3dpp::files::exists(f.pid_file));
}

TEST_CASE("agent: exits non-zero when nginx dies") {
  Fixture f;
  f.write_ports(R"({"ports":[]})");
  pid_t agent = spawn_lb(f.run_args(), f.log);
  REQUIRE_MESSAGE(eventually([&] { return k3dpp::files::exists(f.dir.file("nginx.pid")); }), slurp(f.log));
  long long nginx = 0;
  REQUIRE(k3dpp::strings::parse_int(k3dpp::strings::trim(slurp(f.dir.file("nginx.pid"))), nginx));
  ::kill(static_cast<pid_t>(nginx), SIGKILL);
  CHECK(wait_exit(agent) == 1);
  CHECK(has(slurp(f.log), "nginx exited unexpectedly"));
}

TEST_CASE("agent: a bad first config is fatal with a clear message") {
  Fixture f;
  f.write_ports(R"({"ports":[{"listen":6443,"upstreams":["nocolon"]}]})");
  pid_t agent = spawn_lb(f.run_args(), f.log);
  CHECK(wait_exit(agent) == 1);
  std::string log = slurp(f.log);
  CHECK(has(log, "ERROR: initial configuration: " + f.ports + ": ports[0].upstreams[0]: \"nocolon\" is not host:port"));
  CHECK_FALSE(k3dpp::files::exists(f.dir.file("nginx.pid")));
}

TEST_CASE("reload without a running agent fails clearly") {
  TempDir dir;
  pid_t reload = spawn_lb({"reload", "--pid-file", dir.file("none.pid")}, dir.file("log"));
  CHECK(wait_exit(reload) == 1);
  CHECK(has(slurp(dir.file("log")), "ERROR: no running k3dpp-lb agent found"));
}

TEST_CASE("run_command captures output and exit code") {
  auto r = k3dpp::lb::run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE(r.has_value());
  CHECK(r->exit_code == 3);
  CHECK(r->output == "out\nerr\n");
  auto missing = k3dpp::lb::run_command({"/nonexistent/k3dpp-nginx"});
  CHECK_FALSE(missing.has_value());
}

TEST_CASE("resolve_host: IP literals resolve to themselves, localhost resolves") {
  CHECK(k3dpp::lb::resolve_host({"10.1.2.3", 1, false}) == std::vector<std::string>{"10.1.2.3"});
  CHECK(k3dpp::lb::resolve_host({"::1", 1, true}) == std::vector<std::string>{"::1"});
  CHECK_FALSE(k3dpp::lb::resolve_host({"localhost", 1, false}).empty());
}

TEST_CASE("resolve_all: one answer per host, IP literals without DNS") {
  std::vector<k3dpp::lb::Upstream> ups = {{"10.0.0.1", 80, false}, {"localhost", 80, false}, {"10.0.0.1", 81, false}};
  auto res = k3dpp::lb::resolve_all(ups, std::chrono::seconds(3));
  CHECK(res.size() == 2);
  CHECK(res["10.0.0.1"] == std::vector<std::string>{"10.0.0.1"});
  CHECK_FALSE(res["localhost"].empty());
}
