#include "podnet/route_manager.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

extern char** environ;

namespace k3dpp::podnet {
namespace {

using json = nlohmann::json;

// Runs argv (no shell); error with the command's output when it fails.
Status run_command(const std::vector<std::string>& argv) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipefd[1]);
  std::string cmd;
  for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  if (rc != 0) {
    ::close(pipefd[0]);
    return Error(cmd + ": " + std::strerror(rc));
  }
  std::string output;
  char buf[512];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) output.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  return Error(cmd + ": " + (output.empty() ? "failed" : output));
}

class IpCommand : public RouteProgrammer {
 public:
  explicit IpCommand(std::string bin) : bin_(std::move(bin)) {}
  Status replace(const Route& r) override { return run_command({bin_, "route", "replace", r.cidr, "via", r.via}); }
  Status remove(const Route& r) override {
    auto st = run_command({bin_, "route", "del", r.cidr});
    if (!st && st.error().message.find("No such process") != std::string::npos) return {};  // already gone
    return st;
  }

 private:
  std::string bin_;
};

}  // namespace

std::unique_ptr<RouteProgrammer> ip_command_programmer(std::string ip_binary) {
  return std::make_unique<IpCommand>(std::move(ip_binary));
}

RouteManager::RouteManager(client::ApiClient& api, std::string my_node_name, RouteManagerOptions options)
    : api_(api), me_(std::move(my_node_name)), opts_(std::move(options)) {
  if (!opts_.programmer) opts_.programmer = ip_command_programmer();
}

RouteManager::~RouteManager() { stop(); }

Status RouteManager::start() {
  if (opts_.backend == Backend::kVxlan)
    return Error("pod network backend vxlan is not implemented yet (use host-gw)", "Unsupported");
  informer_ = std::make_unique<client::Informer>(api_, client::res::kNodes);
  client::InformerHandlers h;
  h.on_add = [this](const json&) { kick(); };
  h.on_update = [this](const json& a, const json& b) {
    // Only podCIDR, addresses and deletion matter; heartbeats (conditions) do not.
    auto key = [](const json& n) {
      return n.value("spec", json::object()).value("podCIDR", "") +
             n.value("status", json::object()).value("addresses", json::array()).dump() +
             (n.value("metadata", json::object()).contains("deletionTimestamp") ? "D" : "");
    };
    if (key(a) != key(b)) kick();
  };
  h.on_delete = [this](const json&) { kick(); };
  informer_->add_handlers(std::move(h));
  informer_->start();
  worker_ = std::jthread([this](std::stop_token st) { run(st); });
  return {};
}

void RouteManager::stop() {
  if (worker_.joinable()) {
    worker_.request_stop();
    cv_.notify_all();
    worker_.join();
  }
  if (informer_) {
    informer_->stop();
    informer_.reset();
  }
}

std::vector<Route> RouteManager::routes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return programmed_;
}

bool RouteManager::wait_for_sync(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  unsigned long want = syncs_ + 1;
  dirty_ = true;
  cv_.notify_all();
  return cv_.wait_for(lock, timeout, [&] { return syncs_ >= want; });
}

void RouteManager::kick() {
  std::lock_guard<std::mutex> lock(mu_);
  dirty_ = true;
  cv_.notify_all();
}

void RouteManager::run(std::stop_token st) {
  while (!st.stop_requested() && !informer_->wait_for_sync(std::chrono::milliseconds(500))) {
  }
  if (st.stop_requested()) return;
  bool first = true;
  auto last_full = std::chrono::steady_clock::now();
  while (!st.stop_requested()) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, st, opts_.resync, [&] { return dirty_; });
      if (st.stop_requested()) return;
    }
    // Debounce: let a burst of node changes settle.
    if (!first) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, st, opts_.debounce, [] { return false; });
      if (st.stop_requested()) return;
    }
    bool full = first || std::chrono::steady_clock::now() - last_full >= opts_.resync;
    {
      std::lock_guard<std::mutex> lock(mu_);
      dirty_ = false;
    }
    sync(full);
    if (full) last_full = std::chrono::steady_clock::now();
    first = false;
    std::lock_guard<std::mutex> lock(mu_);
    ++syncs_;
    cv_.notify_all();
  }
}

void RouteManager::sync(bool full) {
  auto log = log::get("podnet");
  std::vector<json> nodes;
  for (auto& n : informer_->list()) nodes.push_back(*n);
  auto desired = plan_routes(nodes, me_);
  std::vector<Route> current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current = programmed_;
  }
  auto changes = diff_routes(full ? std::vector<Route>{} : current, desired);
  if (full) {
    // Also drop what we programmed earlier and no longer want.
    changes.remove = diff_routes(current, desired).remove;
  }
  std::vector<Route> now = current;
  auto erase_cidr = [&](const std::string& cidr) {
    now.erase(std::remove_if(now.begin(), now.end(), [&](const Route& r) { return r.cidr == cidr; }), now.end());
  };
  for (auto& r : changes.remove) {
    if (auto s = opts_.programmer->remove(r); !s) {
      log->warn("removing route {} (node {}): {}", r.cidr, r.node, s.error().message);
      continue;
    }
    log->info("removed route {} via {} (node {} gone)", r.cidr, r.via, r.node);
    erase_cidr(r.cidr);
  }
  for (auto& r : changes.replace) {
    if (auto s = opts_.programmer->replace(r); !s) {
      log->warn("route {} via {} (node {}): {}", r.cidr, r.via, r.node, s.error().message);
      erase_cidr(r.cidr);  // retried at the next sync
      std::lock_guard<std::mutex> lock(mu_);
      dirty_ = true;
      continue;
    }
    bool known = false;
    for (auto& c : current) known = known || c == r;
    if (!known) log->info("route {} via {} (node {})", r.cidr, r.via, r.node);
    erase_cidr(r.cidr);
    now.push_back(r);
  }
  std::sort(now.begin(), now.end(), [](const Route& a, const Route& b) { return a.cidr < b.cidr; });
  std::lock_guard<std::mutex> lock(mu_);
  programmed_ = std::move(now);
}

}  // namespace k3dpp::podnet
