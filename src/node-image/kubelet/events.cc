#include "kubelet/events.h"

#include <chrono>
#include <cstdio>

#include "common/log.h"
#include "kubelet/pod_status.h"
#include "common/json_read.h"

namespace k3dpp::kubelet {

json make_event(const json& pod, const std::string& node, const std::string& type, const std::string& reason,
                const std::string& message, const std::string& field_path, const std::string& now, long long now_ns) {
  const json md = jvalue(pod, "metadata", json::object());
  std::string ns = jvalue(md, "namespace", "default"), name = jvalue(md, "name", "");
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "%llx", static_cast<unsigned long long>(now_ns));
  json involved = {{"kind", "Pod"}, {"namespace", ns}, {"name", name}, {"uid", jvalue(md, "uid", "")},
                   {"apiVersion", "v1"}, {"resourceVersion", jvalue(md, "resourceVersion", "")}};
  if (!field_path.empty()) involved["fieldPath"] = field_path;
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"name", name + "." + suffix}, {"namespace", ns}}},
          {"involvedObject", involved},
          {"reason", reason},
          {"message", message},
          {"source", {{"component", "kubelet"}, {"host", node}}},
          {"firstTimestamp", now},
          {"lastTimestamp", now},
          {"count", 1},
          {"type", type},
          {"eventTime", nullptr},
          {"reportingComponent", "kubelet"},
          {"reportingInstance", node}};
}

void record_event(client::ApiClient& api, const json& pod, const std::string& node, const std::string& type,
                  const std::string& reason, const std::string& message, const std::string& field_path) {
  long long now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  json ev = make_event(pod, node, type, reason, message, field_path, rfc3339_now(), now_ns);
  std::string ns = jvalue(ev["metadata"], "namespace", "default");
  auto r = api.create(client::res::kEvents, ns, ev);
  if (!r) log::get("kubelet")->debug("event {} for {}/{} not recorded: {}", reason, ns, ev["involvedObject"]["name"].get<std::string>(), r.error().message);
}

EventRecorder::EventRecorder(client::ApiClient& api, std::string node) : api_(api), node_(std::move(node)) {
  sender_ = std::jthread([this](std::stop_token st) { run(st); });
}

EventRecorder::~EventRecorder() {
  sender_.request_stop();
  cv_.notify_all();
}

void EventRecorder::record(const json& pod, const std::string& type, const std::string& reason,
                           const std::string& message, const std::string& field_path) {
  Pending e;
  const json md = jvalue(pod, "metadata", json::object());
  json m = json::object();
  for (const char* k : {"namespace", "name", "uid", "resourceVersion"}) {
    if (md.contains(k)) m[k] = md[k];
  }
  e.pod = {{"metadata", std::move(m)}};
  e.type = type;
  e.reason = reason;
  e.message = message;
  e.field_path = field_path;
  e.now = rfc3339_now();
  e.now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  {
    std::lock_guard lk(mu_);
    if (queue_.size() >= kMaxPending) {
      log::get("kubelet")->debug("event {} dropped: {} events waiting", reason, queue_.size());
      return;
    }
    queue_.push_back(std::move(e));
    ++queued_;
  }
  cv_.notify_all();
}

void EventRecorder::flush() {
  std::unique_lock lk(mu_);
  unsigned long long target = queued_;
  cv_.wait(lk, sender_.get_stop_token(), [&] { return sent_ >= target; });
}

void EventRecorder::run(std::stop_token st) {
  std::unique_lock lk(mu_);
  while (!st.stop_requested()) {
    cv_.wait(lk, st, [&] { return !queue_.empty(); });
    if (st.stop_requested()) break;
    Pending e = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    send(e);
    lk.lock();
    ++sent_;
    cv_.notify_all();
  }
}

void EventRecorder::send(const Pending& e) {
  const long long kWindow = 600LL * 1000000000LL;
  const json md = jvalue(e.pod, "metadata", json::object());
  std::string key = jvalue(md, "uid", "") + "\n" + e.type + "\n" + e.reason + "\n" + e.message + "\n" + e.field_path;
  for (auto it = seen_.begin(); it != seen_.end();) {  // forget old entries
    it = e.now_ns - it->second.last_ns > kWindow ? seen_.erase(it) : std::next(it);
  }
  if (auto it = seen_.find(key); it != seen_.end()) {
    Seen& s = it->second;
    json patch = {{"count", s.count + 1}, {"lastTimestamp", e.now}};
    if (api_.patch(client::res::kEvents, s.ns, s.name, client::PatchType::kMerge, patch)) {
      s.count++;
      s.last_ns = e.now_ns;
      return;
    }
    seen_.erase(it);  // gone (expired by the API server): create it anew
  }
  json ev = make_event(e.pod, node_, e.type, e.reason, e.message, e.field_path, e.now, e.now_ns);
  std::string ns = jvalue(ev["metadata"], "namespace", "default");
  auto r = api_.create(client::res::kEvents, ns, ev);
  if (!r) {
    log::get("kubelet")->debug("event {} not recorded: {}", e.reason, r.error().message);
    return;
  }
  seen_[key] = Seen{ns, ev["metadata"]["name"].get<std::string>(), 1, e.now_ns};
}

std::string container_field_path(const std::string& container, bool init) {
  return std::string(init ? "spec.initContainers{" : "spec.containers{") + container + "}";
}

}  // namespace k3dpp::kubelet
