// Informer: list+watch one resource into a thread-safe cache, calling handlers on add, update and
// delete from its own thread. Relists on Expired (410) and after errors; a relist reports the
// difference to the cache as adds/updates/deletes, so handlers never miss a change.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "client/api_client.h"

namespace k3dpp::client {

using ObjectPtr = std::shared_ptr<const json>;

struct InformerHandlers {
  std::function<void(const json& obj)> on_add;
  std::function<void(const json& old_obj, const json& new_obj)> on_update;
  std::function<void(const json& obj)> on_delete;
};

// "ns/name" (or "name" for cluster-scoped objects).
std::string object_key(const json& obj);
std::string object_key(const std::string& ns, const std::string& name);

class Informer {
 public:
  Informer(ApiClient& client, Resource resource, std::string ns = {}, ListOptions opts = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Before start().
  void add_handlers(InformerHandlers h);
  // The same changes as the cached pointers (old_obj null on add, cur null on delete), before the
  // handlers above: for an index that keeps objects or facts derived from them without a copy.
  using ChangeHandler = std::function<void(const ObjectPtr& old_obj, const ObjectPtr& cur)>;
  void add_change_handler(ChangeHandler h);
  void start();
  // Asks the watch loop to end without waiting for it (a watch notices within ~1 s); stop() also joins.
  // Stopping many informers: request_stop() on all, then stop() on each, so they end together.
  void request_stop();
  void stop();
  // True once the first list has been loaded into the cache.
  bool synced() const;
  bool wait_for_sync(std::chrono::milliseconds timeout) const;

  ObjectPtr get(const std::string& ns, const std::string& name) const;
  ObjectPtr get(const std::string& key) const;
  // Every object (ns "" = all), optionally filtered.
  std::vector<ObjectPtr> list(const std::string& ns = {},
                              const std::function<bool(const json&)>& filter = nullptr) const;
  size_t size() const;
  const Resource& resource() const { return resource_; }

 private:
  void run(std::stop_token stop);
  bool relist(std::string& rv);
  void upsert(json obj);
  void upsert(ObjectPtr obj);
  // shared: the event's object when it came as a shared pointer (handed on instead of a copy).
  void erase(const json& obj, const ObjectPtr& shared = nullptr);

  ApiClient& client_;
  Resource resource_;
  std::string ns_;
  ListOptions opts_;
  std::vector<ChangeHandler> change_handlers_;
  std::vector<InformerHandlers> handlers_;
  mutable std::mutex mu_;
  mutable std::condition_variable synced_cv_;
  std::map<std::string, ObjectPtr> cache_;
  bool synced_ = false;
  std::jthread thread_;
};

}  // namespace k3dpp::client
