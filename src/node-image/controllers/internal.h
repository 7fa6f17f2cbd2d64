// Shared by the controllers' .cc files: shared informers and the worker-loop base class.
#pragma once

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
    for (auto& [k, i] : informers_) i->stop();
  }

 private:
  client::ApiClient& client_;
  std::mutex mu_;
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
          try {
            again = sync(key);
          } catch (const std::exception& e) {
            log_->warn("{} {}: {}", name_, key, e.what());
            again = std::chrono::milliseconds(1000);
          }
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
  void enqueue_soon(const std::string& key) { queue_.add_after(key, kCoalesceWindow); }
  static constexpr std::chrono::milliseconds kCoalesceWindow{100};

 protected:
  // Returns a delay to sync the key again (errors, time-based conditions), or nullopt.
  virtual std::optional<std::chrono::milliseconds> sync(const std::string& key) = 0;
  Context ctx_;
  std::string name_;
  int workers_;
  std::shared_ptr<spdlog::logger> log_;
  WorkQueue queue_;

 private:
  std::vector<std::thread> threads_;
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
