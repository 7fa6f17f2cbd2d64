#include "controllers/events.h"

#include <cstdio>

#include "common/log.h"
#include "common/strings.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

EventRecorder::EventRecorder(client::ApiClient& client, std::string component)
    : client_(client), component_(std::move(component)) {}

void EventRecorder::record(const json& object, const std::string& type, const std::string& reason,
                           const std::string& message) {
  std::string ns = meta_str(object, "namespace");
  if (ns.empty()) ns = "default";
  std::string uid = meta_str(object, "uid");
  std::string key = uid + "\x1f" + meta_str(object, "name") + "\x1f" + type + "\x1f" + reason + "\x1f" + message;
  std::string now = now_rfc3339();
  Seen prev;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = seen_.find(key);
    if (it != seen_.end()) {
      it->second.count++;
      prev = it->second;
    }
    if (seen_.size() > 20000) seen_.clear();
  }
  if (prev.count > 0) {
    json patch = {{"count", prev.count}, {"lastTimestamp", now}};
    auto r = client_.patch(client::res::kEvents, prev.ns, prev.name, client::PatchType::kMerge, patch);
    if (r || r.error().kind != "NotFound") return;
  }
  // Kubernetes names events <object>.<16 hex digits of time>.
  char hex[17];
  auto ns_now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(ns_now));
  std::string name = meta_str(object, "name") + "." + hex;
  json involved = {{"kind", jvalue(object, "kind", "")},
                   {"namespace", meta_str(object, "namespace")},
                   {"name", meta_str(object, "name")},
                   {"uid", uid},
                   {"apiVersion", jvalue(object, "apiVersion", "")},
                   {"resourceVersion", meta_str(object, "resourceVersion")}};
  if (meta_str(object, "namespace").empty()) involved.erase("namespace");
  json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", name}, {"namespace", ns}}},
             {"involvedObject", involved},
             {"reason", reason},
             {"message", message},
             {"source", {{"component", component_}}},
             {"firstTimestamp", now},
             {"lastTimestamp", now},
             {"count", 1},
             {"type", type},
             {"eventTime", nullptr},
             {"reportingComponent", component_},
             {"reportingInstance", ""}};
  auto r = client_.create(client::res::kEvents, ns, ev);
  if (!r) {
    log::get("controllers")->debug("event {} {}: {}", reason, meta_str(object, "name"), r.error().message);
    return;
  }
  std::lock_guard<std::mutex> l(mu_);
  seen_[key] = Seen{name, ns, 1};
}

AsyncEventRecorder::AsyncEventRecorder(client::ApiClient& client, std::string component, int workers, size_t max_pending)
    : inner_(client, std::move(component)), max_pending_(max_pending) {
  for (int i = 0; i < workers; ++i) {
    threads_.emplace_back([this] {
      std::unique_lock<std::mutex> l(mu_);
      while (true) {
        cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        Item it = std::move(queue_.front());
        queue_.pop_front();
        ++busy_;
        l.unlock();
        inner_.record(it.object, it.type, it.reason, it.message);
        l.lock();
        --busy_;
        if (queue_.empty() && busy_ == 0) idle_cv_.notify_all();
      }
    });
  }
}

AsyncEventRecorder::~AsyncEventRecorder() { stop(); }

void AsyncEventRecorder::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    queue_.clear();  // shutting down: what is not written yet is dropped
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void AsyncEventRecorder::record(const json& object, const std::string& type, const std::string& reason,
                                const std::string& message) {
  // The identity the event names (involvedObject), not the whole object.
  json meta = json::object();
  for (const char* k : {"name", "namespace", "uid", "resourceVersion"}) {
    std::string v = meta_str(object, k);
    if (!v.empty()) meta[k] = v;
  }
  json id = {{"kind", jvalue(object, "kind", "")}, {"apiVersion", jvalue(object, "apiVersion", "")}, {"metadata", meta}};
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return;
    if (queue_.size() >= max_pending_) {
      if (dropped_++ % 1000 == 0) log::get("controllers")->warn("events: queue full, dropping {} {}", reason, meta_str(object, "name"));
      return;
    }
    queue_.push_back(Item{std::move(id), type, reason, message});
  }
  cv_.notify_one();
}

size_t AsyncEventRecorder::flush() {
  std::unique_lock<std::mutex> l(mu_);
  idle_cv_.wait(l, [&] { return (queue_.empty() && busy_ == 0) || threads_.empty(); });
  return dropped_;
}

}  // namespace k3dpp::controllers
