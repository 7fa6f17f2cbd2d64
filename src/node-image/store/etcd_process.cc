#include "store/etcd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "common/log.h"

namespace k3dpp::store {


EtcdProcess::EtcdProcess(EtcdProcessOptions options) : opts_(std::move(options)) {}

EtcdProcess::~EtcdProcess() { stop(); }

std::vector<std::string> EtcdProcess::command() const {
  std::vector<std::string> args = {
      opts_.binary,
      "--name=" + opts_.name,
      "--data-dir=" + opts_.data_dir,
      "--listen-client-urls=" + (opts_.listen_client_url.empty() ? opts_.client_url : opts_.listen_client_url),
      "--advertise-client-urls=" + opts_.client_url,
      "--listen-peer-urls=" + (opts_.listen_peer_url.empty() ? opts_.peer_url : opts_.listen_peer_url),
      "--initial-advertise-peer-urls=" + opts_.peer_url,
      "--initial-cluster=" + (opts_.initial_cluster.empty() ? opts_.name + "=" + opts_.peer_url : opts_.initial_cluster),
      "--initial-cluster-state=" + opts_.initial_cluster_state,
      "--initial-cluster-token=" + opts_.initial_cluster_token,
      "--logger=zap",
      "--log-level=warn",
      "--heartbeat-interval=500",
      "--election-timeout=5000",
      "--snapshot-count=10000",
  };
  if (!opts_.ca_file.empty()) {
    args.push_back("--client-cert-auth");
    args.push_back("--trusted-ca-file=" + opts_.ca_file);
    args.push_back("--cert-file=" + opts_.cert_file);
    args.push_back("--key-file=" + opts_.key_file);
    args.push_back("--peer-client-cert-auth");
    args.push_back("--peer-trusted-ca-file=" + opts_.ca_file);
    args.push_back("--peer-cert-file=" + opts_.cert_file);
    args.push_back("--peer-key-file=" + opts_.key_file);
  }
  for (const auto& a : opts_.extra_args) args.push_back(a);
  return args;
}

Result<pid_t> EtcdProcess::spawn() {
  auto args = command();
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log_fd = -1;
  if (!opts_.log_file.empty()) {
    log_fd = ::open(opts_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) return fail("open " + opts_.log_file + ": " + std::strerror(errno));
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    if (log_fd >= 0) ::close(log_fd);
    return fail(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::setpgid(0, 0);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  if (log_fd >= 0) ::close(log_fd);
  return pid;
}

Status EtcdProcess::start() {
  std::error_code ec;
  std::filesystem::create_directories(opts_.data_dir, ec);
  if (ec) return fail("create " + opts_.data_dir + ": " + ec.message());
  std::filesystem::permissions(opts_.data_dir, std::filesystem::perms::owner_all, ec);
  auto pid = spawn();
  if (!pid) return Unexpected<Error>{pid.error()};
  pid_ = *pid;
  stopping_ = false;
  log::get("store")->info("etcd {} started (pid {}), clients {}, peers {}", opts_.name, *pid, opts_.client_url,
                          opts_.peer_url);
  supervisor_ = std::thread([this] { supervise(); });
  return {};
}

void EtcdProcess::supervise() {
  auto lg = log::get("store");
  while (!stopping_) {
    pid_t pid = pid_.load();
    int status = 0;
    pid_t r = ::waitpid(pid, &status, 0);
    if (r < 0 && errno == EINTR) continue;
    if (stopping_) break;
    lg->warn("etcd {} (pid {}) exited (status {}); restarting in 1 s", opts_.name, pid, status);
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::seconds(1), [&] { return stopping_.load(); });
    if (stopping_) break;
    auto np = spawn();
    if (!np) {
      lg->error("etcd restart: {}", np.error().message);
      continue;
    }
    pid_ = *np;
  }
}

Status EtcdProcess::wait_ready(const EtcdOptions& client, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  EtcdOptions o = client;
  o.timeout = std::chrono::seconds(2);
  std::string last = "not tried";
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = open_etcd(o);
    if (s) return {};
    last = s.error().message;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return fail("etcd " + opts_.name + " not ready after " + std::to_string(timeout.count()) + " ms: " + last,
              "Unavailable");
}

void EtcdProcess::stop() {
  if (!supervisor_.joinable()) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  pid_t pid = pid_.load();
  if (pid > 0) {
    ::kill(pid, SIGTERM);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      // The supervisor may reap it first (then kill(0) fails); a zombie still answers kill(0).
      int status = 0;
      gone = ::kill(pid, 0) != 0 || ::waitpid(pid, &status, WNOHANG) == pid;
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!gone) ::kill(pid, SIGKILL);
  }
  supervisor_.join();
  pid_ = 0;
}

}  // namespace k3dpp::store
