#include "client/informer.h"

#include <condition_variable>

#include "client/json_fields.h"
#include "common/log.h"

namespace k3dpp::client {

std::string object_key(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

std::string object_key(const json& obj) {
  static const json kNone = json::object();
  const json& m = obj.is_object() && obj.contains("metadata") ? obj["metadata"] : kNone;
  return object_key(str_field(m, "namespace"), str_field(m, "name"));
}

namespace {
// Runs one handler; an exception (a wrongly typed field in an odd object) is logged and skipped:
// it must neither end the informer's thread (std::terminate) nor keep the other handlers from
// seeing the event.
template <typename F>
void guarded(const char* what, const std::string& plural, const std::string& key, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    log::get("client")->warn("{} handler for {} {}: {} (event skipped)", what, plural, key, e.what());
  }
}
}  // namespace

Informer::Informer(ApiClient& client, Resource resource, std::string ns, ListOptions opts)
    : client_(client), resource_(std::move(resource)), ns_(std::move(ns)), opts_(std::move(opts)) {}

Informer::~Informer() { stop(); }

void Informer::add_handlers(InformerHandlers h) { handlers_.push_back(std::move(h)); }

void Informer::add_change_handler(ChangeHandler h) { change_handlers_.push_back(std::move(h)); }

void Informer::start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token st) { run(st); });
}

void Informer::request_stop() {
  if (thread_.joinable()) thread_.request_stop();
}

void Informer::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

bool Informer::synced() const {
  std::lock_guard<std::mutex> l(mu_);
  return synced_;
}

bool Informer::wait_for_sync(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> l(mu_);
  return synced_cv_.wait_for(l, timeout, [&] { return synced_; });
}

ObjectPtr Informer::get(const std::string& ns, const std::string& name) const { return get(object_key(ns, name)); }

ObjectPtr Informer::get(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Informer::list(const std::string& ns, const std::function<bool(const json&)>& filter) const {
  std::vector<ObjectPtr> out;
  std::lock_guard<std::mutex> l(mu_);
  auto begin = cache_.begin();
  if (!ns.empty()) begin = cache_.lower_bound(ns + "/");
  for (auto it = begin; it != cache_.end(); ++it) {
    if (!ns.empty() && it->first.compare(0, ns.size() + 1, ns + "/") != 0) break;
    if (!filter || filter(*it->second)) out.push_back(it->second);
  }
  return out;
}

size_t Informer::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return cache_.size();
}

void Informer::upsert(json obj) { upsert(std::make_shared<const json>(std::move(obj))); }

void Informer::upsert(ObjectPtr ptr) {
  std::string key = object_key(*ptr);
  ObjectPtr old;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      old = it->second;
      it->second = ptr;
    } else {
      cache_.emplace(key, ptr);
    }
  }
  for (auto& h : change_handlers_) guarded("change", resource_.plural, key, [&] { h(old, ptr); });
  for (auto& h : handlers_) {
    if (old) {
      if (h.on_update) guarded("update", resource_.plural, key, [&] { h.on_update(*old, *ptr); });
    } else if (h.on_add) {
      guarded("add", resource_.plural, key, [&] { h.on_add(*ptr); });
    }
  }
}

void Informer::erase(const json& obj, const ObjectPtr& shared) {
  std::string key = object_key(obj);
  ObjectPtr old;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      old = it->second;
      cache_.erase(it);
    }
  }
  if (!change_handlers_.empty()) {
    ObjectPtr gone = old ? old : shared ? shared : std::make_shared<const json>(obj);  // not cached: the event's
    for (auto& h : change_handlers_) guarded("change", resource_.plural, key, [&] { h(gone, nullptr); });
  }
  for (auto& h : handlers_) {
    if (h.on_delete) guarded("delete", resource_.plural, key, [&] { h.on_delete(old ? *old : obj); });
  }
}

bool Informer::relist(std::string& rv) {
  auto l = client_.list(resource_, ns_, opts_);
  if (!l) {
    log::get("client")->debug("list {}: {}", resource_.plural, l.error().message);
    return false;
  }
  std::map<std::string, bool> seen;
  for (auto& item : l->items) {
    std::string key = object_key(item);
    seen[key] = true;
    ObjectPtr cur = get(key);
    auto rv_of = [](const json& o) {
      return o.is_object() && o.contains("metadata") ? str_field(o["metadata"], "resourceVersion") : std::string();
    };
    if (cur && rv_of(*cur) == rv_of(item)) {
      continue;
    }
    upsert(std::move(item));
  }
  std::vector<ObjectPtr> gone;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& [k, v] : cache_) {
      if (!seen.count(k)) gone.push_back(v);
    }
  }
  for (auto& g : gone) erase(*g, g);
  rv = l->resource_version;
  {
    std::lock_guard<std::mutex> lk(mu_);
    synced_ = true;
  }
  synced_cv_.notify_all();
  return true;
}

void Informer::run(std::stop_token stop) {
  std::mutex sleep_mu;
  std::condition_variable_any sleep_cv;
  auto pause = [&](std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(sleep_mu);
    sleep_cv.wait_for(l, stop, d, [] { return false; });
  };
  std::string rv;
  bool need_list = true;
  while (!stop.stop_requested()) {
    if (need_list) {
      if (!relist(rv)) {
        pause(std::chrono::milliseconds(500));
        continue;
      }
      need_list = false;
    }
    auto st = client_.watch(
        resource_, ns_, opts_, rv,
        [&](const WatchEvent& e) {
          const json& o = e.obj();
          if (o.is_object() && o.contains("metadata")) {
            std::string erv = str_field(o["metadata"], "resourceVersion");
            if (!erv.empty()) rv = erv;
          }
          if (e.type == "ADDED" || e.type == "MODIFIED") {
            if (e.shared) {
              upsert(e.shared);  // the API server's decoded object, shared: no copy
            } else {
              upsert(std::move(e.object));  // the event is ours alone: no copy
            }
          } else if (e.type == "DELETED") {
            erase(o, e.shared);
          }
          return !stop.stop_requested();
        },
        stop);
    if (stop.stop_requested()) break;
    if (!st) {
      if (st.error().kind != "Expired") {
        log::get("client")->debug("watch {}: {}", resource_.plural, st.error().message);
        pause(std::chrono::milliseconds(500));
      }
      need_list = true;
    }
  }
}

}  // namespace k3dpp::client
