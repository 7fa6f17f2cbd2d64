#include "podnet/route_manager.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/json_read.h"

extern char** environ;

namespace k3dpp::podnet {
namespace {

using json = nlohmann::json;

// Runs argv (no shell); its output (stdout+stderr), or an error with that output when it fails.
Result<std::string> run_output(const std::vector<std::string>& argv) {
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
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return output;
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  return Error(cmd + ": " + (output.empty() ? "failed" : output));
}

Status run_command(const std::vector<std::string>& argv) {
  auto r = run_output(argv);
  if (!r) return r.error();
  return {};
}

// A delete of something already gone is a success.
Status ignore_missing(Status st) {
  if (st) return st;
  const auto& m = st.error().message;
  for (const char* gone : {"No such process", "No such file or directory", "Cannot find device", "does not exist",
                           "Cannot assign requested address"}) {
    if (m.find(gone) != std::string::npos) return {};
  }
  return st;
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

// The interface holding `ip` (the VXLAN underlay), "" when none does.
std::string interface_of(const std::string& ip) {
  std::string out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    char buf[INET_ADDRSTRLEN] = {0};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
    if (ip == buf) {
      out = i->ifa_name;
      break;
    }
  }
  ::freeifaddrs(list);
  return out;
}

class VxlanCommand : public RouteProgrammer {
 public:
  VxlanCommand(std::string ip, std::string bridge) : ip_(std::move(ip)), bridge_(std::move(bridge)) {}

  Result<std::string> prepare(const std::string& local_ip, const std::string& pod_cidr) override {
    const std::string mac = vtep_mac_for(pod_cidr);
    const std::string net = network_address(pod_cidr);
    if (mac.empty() || !valid_ipv4(local_ip)) return Error("vxlan: bad node IP " + local_ip + " or podCIDR " + pod_cidr);
    const std::string dev = kVxlanDevice;
    // An existing device is kept only when it is ours with the same settings (a node IP that
    // changed across a restart needs a new local address).
    if (auto shown = run_output({ip_, "-d", "-j", "link", "show", "dev", dev}); shown) {
      json j = json::parse(*shown, nullptr, false);
      bool same = false;
      if (j.is_array() && !j.empty() && j[0].is_object()) {
        const auto& l = j[0];
        json data = jvalue(jvalue(l, "linkinfo", json::object()), "info_data", json::object());
        same = jvalue(jvalue(l, "linkinfo", json::object()), "info_kind", "") == "vxlan" &&
               jvalue(data, "id", -1) == kVxlanVni && jvalue(data, "local", "") == local_ip &&
               jvalue(data, "port", -1) == kVxlanPort && jvalue(l, "address", "") == mac;
      }
      if (!same) K3DPP_TRY(run_command({ip_, "link", "del", dev}));
      else return finish(dev, net, mac);
    }
    std::vector<std::string> add{ip_,    "link",  "add",     dev,       "address", mac,
                                 "type", "vxlan", "id",      std::to_string(kVxlanVni),
                                 "local", local_ip, "dstport", std::to_string(kVxlanPort), "nolearning"};
    if (auto under = interface_of(local_ip); !under.empty()) {
      add.push_back("dev");
      add.push_back(under);
    }
    K3DPP_TRY(run_command(add));
    return finish(dev, net, mac);
  }

  Status replace(const Route& r) override {
    const std::string net = network_address(r.cidr);
    if (net.empty() || !valid_mac(r.vtep_mac)) return Error("vxlan: route " + r.cidr + " has no VTEP MAC");
    K3DPP_TRY(run_command({bridge_, "fdb", "replace", r.vtep_mac, "dev", kVxlanDevice, "dst", r.via}));
    K3DPP_TRY(run_command({ip_, "neigh", "replace", net, "lladdr", r.vtep_mac, "dev", kVxlanDevice, "nud", "permanent"}));
    return run_command({ip_, "route", "replace", r.cidr, "via", net, "dev", kVxlanDevice, "onlink"});
  }

  Status remove(const Route& r) override {
    const std::string net = network_address(r.cidr);
    K3DPP_TRY(ignore_missing(run_command({ip_, "route", "del", r.cidr, "dev", kVxlanDevice})));
    if (!net.empty()) K3DPP_TRY(ignore_missing(run_command({ip_, "neigh", "del", net, "dev", kVxlanDevice})));
    if (valid_mac(r.vtep_mac))
      K3DPP_TRY(ignore_missing(run_command({bridge_, "fdb", "del", r.vtep_mac, "dev", kVxlanDevice, "dst", r.via})));
    return {};
  }

 private:
  Result<std::string> finish(const std::string& dev, const std::string& net, const std::string& mac) {
    K3DPP_TRY(run_command({ip_, "addr", "replace", net + "/32", "dev", dev}));
    K3DPP_TRY(run_command({ip_, "link", "set", "dev", dev, "mtu", std::to_string(kVxlanMtu), "up"}));
    return mac;
  }

  std::string ip_, bridge_;
};

}  // namespace

std::unique_ptr<RouteProgrammer> ip_command_programmer(std::string ip_binary) {
  return std::make_unique<IpCommand>(std::move(ip_binary));
}

std::unique_ptr<RouteProgrammer> vxlan_command_programmer(std::string ip_binary, std::string bridge_binary) {
  return std::make_unique<VxlanCommand>(std::move(ip_binary), std::move(bridge_binary));
}

RouteManager::RouteManager(client::ApiClient& api, std::string my_node_name, RouteManagerOptions options)
    : api_(api), me_(std::move(my_node_name)), opts_(std::move(options)) {
  if (!opts_.programmer)
    opts_.programmer = opts_.backend == Backend::kVxlan ? vxlan_command_programmer() : ip_command_programmer();
}

RouteManager::~RouteManager() { stop(); }

Status RouteManager::start() {
  informer_ = std::make_unique<client::Informer>(api_, client::res::kNodes);
  client::InformerHandlers h;
  h.on_add = [this](const json&) { kick(); };
  h.on_update = [this](const json& a, const json& b) {
    // Only podCIDR, addresses, the VTEP MAC and deletion matter; heartbeats (conditions) do not.
    auto key = [](const json& n) {
      auto md = jvalue(n, "metadata", json::object());
      return jvalue(jvalue(n, "spec", json::object()), "podCIDR", "") +
             jvalue(md, "annotations", json::object()).value(kVtepMacAnnotation, "") +
             jvalue(jvalue(n, "status", json::object()), "addresses", json::array()).dump() +
             (jvalue(n, "metadata", json::object()).contains("deletionTimestamp") ? "D" : "");
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
  if (opts_.backend == Backend::kVxlan) {
    // My own VTEP first: without it no route can work, and the others need its MAC.
    auto self = self_info(nodes, me_);
    auto retry = [&] {
      std::lock_guard<std::mutex> lock(mu_);
      dirty_ = true;
    };
    if (self.pod_cidr.empty() || self.internal_ip.empty()) {
      log->debug("vxlan: node {} has no podCIDR/InternalIP yet", me_);
      retry();
      return;
    }
    std::string want = self.internal_ip + " " + self.pod_cidr;
    // A device made for another address is recreated empty: every route goes in again.
    if (prepared_ != want) full = true;
    if (full) {
      auto mac = opts_.programmer->prepare(self.internal_ip, self.pod_cidr);
      if (!mac) {
        log->warn("vxlan device {}: {}", kVxlanDevice, mac.error().message);
        prepared_.clear();
        retry();
        return;
      }
      if (prepared_ != want)
        log->info("vxlan device {} (VNI {}, UDP {}, local {}, MAC {})", kVxlanDevice, kVxlanVni, kVxlanPort,
                  self.internal_ip, *mac);
      prepared_ = want;
      if (!mac->empty() && self.vtep_mac != *mac) {
        json patch = {{"metadata", {{"annotations", {{kVtepMacAnnotation, *mac}}}}}};
        if (auto p = api_.patch(client::res::kNodes, "", me_, client::PatchType::kMerge, patch); !p) {
          log->warn("publishing {}={} on node {}: {}", kVtepMacAnnotation, *mac, me_, p.error().message);
          retry();
        } else {
          log->info("published {}={} on node {}", kVtepMacAnnotation, *mac, me_);
        }
      }
    }
  }
  auto desired = plan_routes(nodes, me_, opts_.backend);
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
    if (!known) {
      if (r.vtep_mac.empty())
        log->info("route {} via {} (node {})", r.cidr, r.via, r.node);
      else
        log->info("route {} via {} (node {}, VTEP {} {})", r.cidr, kVxlanDevice, r.node, r.via, r.vtep_mac);
    }
    erase_cidr(r.cidr);
    now.push_back(r);
  }
  std::sort(now.begin(), now.end(), [](const Route& a, const Route& b) { return a.cidr < b.cidr; });
  std::lock_guard<std::mutex> lock(mu_);
  programmed_ = std::move(now);
}

}  // namespace k3dpp::podnet
