// Shared by the controllers' .cc files: shared informers and the worker-loop base class.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "client/informer.h"
#include "common/log.h"
#include "controllers/events.h"
#include "controllers/manager.h"
#include "controllers/pod_index.h"
#include "controllers/util.h"
#include "controllers/work_queue.h"

namespace k3dpp::controllers {

// One informer per resource, shared by every controller.
class SharedInformers {
 public:
  explicit SharedInformers(client::ApiClient& c) : client_(c) {}
  client::Informer& get(const client::Resource& r) {
    std::lock_guard<std::mutex> l(mu_);
    auto& slot = informers_[r.group_version + "/" + r.plural];
    if (!slot) slot = std::make_unique<client::Informer>(client_, r);
    return *slot;
  }
  // The pods by controller uid, shared by the ReplicaSet and Deployment controllers (the first
  // call registers its handler: before start_all()).
  PodIndex& pod_index() {
    client::Informer& pods = get(client::res::kPods);
    std::lock_guard<std::mutex> l(mu_);
    if (!pod_index_) pod_index_ = std::make_unique<PodIndex>(pods);
    return *pod_index_;
  }
  void start_all() {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [k, i] : informers_) i->start();
  }
  bool wait_all(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [k, i] : informers_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (!i->wait_for_sync(std::max(left, std::chrono::milliseconds(1)))) return false;
    }
    return true;
  }
  void stop_all() {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [k, i] : informers_) i->request_stop();  // all at once: each takes up to ~1 s to notice
    for (auto& [k, i] : informers_) i->stop();
  }

 private:
  client::ApiClient& client_;
  std::mutex mu_;
  std::unique_ptr<PodIndex> pod_index_;  // destroyed after the informers whose thread feeds it
  std::map<std::string, std::unique_ptr<client::Informer>> informers_;
};

struct Context {
  client::ApiClient& client;
  SharedInformers& informers;
  EventRecorder& recorder;
  const ManagerOptions& options;
};

// A controller: handlers enqueue keys, workers call sync(key).
class Controller {
 public:
  Controller(Context ctx, std::string name, int workers)
      : ctx_(ctx), name_(std::move(name)), workers_(workers), log_(log::get("controllers")) {}
  virtual ~Controller() { stop(); }
  // Registers informer handlers (before the informers start).
  virtual void setup() = 0;
  virtual void start() {
    for (int i = 0; i < workers_; ++i) {
      threads_.emplace_back([this] {
        std::string key;
        while (queue_.get(key)) {
          std::optional<std::chrono::milliseconds> again;
          auto t0 = std::chrono::steady_clock::now();
          try {
            again = sync(key);
          } catch (const std::exception& e) {
            log_->warn("{} {}: {}", name_, key, e.what());
            again = std::chrono::milliseconds(1000);
          }
          note_sync_cost(key, std::chrono::steady_clock::now() - t0);
          queue_.done(key);
          if (again) queue_.add_after(key, *again);
        }
      });
    }
  }
  virtual void stop() {
    queue_.shutdown();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }
  void enqueue(const std::string& key) { queue_.add(key); }
  // For high-rate triggers (pod events of a big ReplicaSet): one sync per window, not one per event.
  // The window is 100 ms, or 10 times the key's last sync if that took longer (a sync that walks
  // 10,000 pods), up to 2 s: event-triggered syncs of one key take at most ~10% of a core.
  void enqueue_soon(const std::string& key) { queue_.add_after(key, coalesce_window(key)); }
  static constexpr std::chrono::milliseconds kCoalesceWindow{100};
  static constexpr std::chrono::milliseconds kMaxCoalesceWindow{2000};
  std::chrono::milliseconds coalesce_window(const std::string& key) {
    std::lock_guard<std::mutex> l(cost_mu_);
    auto it = sync_cost_.find(key);
    if (it == sync_cost_.end()) return kCoalesceWindow;
    auto w = std::chrono::duration_cast<std::chrono::milliseconds>(it->second * 10);
    return std::clamp(w, kCoalesceWindow, kMaxCoalesceWindow);
  }

 protected:
  // Returns a delay to sync the key again (errors, time-based conditions), or nullopt.
  virtual std::optional<std::chrono::milliseconds> sync(const std::string& key) = 0;
  Context ctx_;
  std::string name_;
  int workers_;
  std::shared_ptr<spdlog::logger> log_;
  WorkQueue queue_;

 private:
  void note_sync_cost(const std::string& key, std::chrono::steady_clock::duration d) {
    std::lock_guard<std::mutex> l(cost_mu_);
    if (d * 10 > kCoalesceWindow) {
      sync_cost_[key] = d;
    } else {
      sync_cost_.erase(key);  // cheap again: the default window
    }
  }
  std::vector<std::thread> threads_;
  std::mutex cost_mu_;
  std::map<std::string, std::chrono::steady_clock::duration> sync_cost_;  // only keys slower than 10 ms
};

std::unique_ptr<Controller> make_replicaset_controller(Context ctx);
std::unique_ptr<Controller> make_deployment_controller(Context ctx);
std::unique_ptr<Controller> make_garbage_collector(Context ctx);
std::unique_ptr<Controller> make_endpoints_controller(Context ctx);
std::unique_ptr<Controller> make_node_lifecycle_controller(Context ctx);
std::unique_ptr<Controller> make_storage_controller(Context ctx);
std::unique_ptr<Controller> make_namespace_controller(Context ctx);

inline std::pair<std::string, std::string> split_key(const std::string& key) {
  auto p = key.find('/');
  if (p == std::string::npos) return {"", key};
  return {key.substr(0, p), key.substr(p + 1)};
}

}  // namespace k3dpp::controllers
