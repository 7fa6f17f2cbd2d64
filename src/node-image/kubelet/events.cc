#include "kubelet/events.h"

#include <chrono>
#include <cstdio>

#include "common/log.h"
#include "kubelet/pod_status.h"

namespace k3dpp::kubelet {

json make_event(const json& pod, const std::string& node, const std::string& type, const std::string& reason,
                const std::string& message, const std::string& field_path, const std::string& now, long long now_ns) {
  const json md = pod.value("metadata", json::object());
  std::string ns = md.value("namespace", "default"), name = md.value("name", "");
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "%llx", static_cast<unsigned long long>(now_ns));
  json involved = {{"kind", "Pod"}, {"namespace", ns}, {"name", name}, {"uid", md.value("uid", "")},
                   {"apiVersion", "v1"}, {"resourceVersion", md.value("resourceVersion", "")}};
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
  std::string ns = ev["metadata"].value("namespace", "default");
  auto r = api.create(client::res::kEvents, ns, ev);
  if (!r) log::get("kubelet")->debug("event {} for {}/{} not recorded: {}", reason, ns, ev["involvedObject"]["name"].get<std::string>(), r.error().message);
}

void EventRecorder::record(const json& pod, const std::string& type, const std::string& reason,
                           const std::string& message, const std::string& field_path) {
  const long long kWindow = 600LL * 1000000000LL;
  long long now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string now = rfc3339_now();
  const json md = pod.value("metadata", json::object());
  std::string key = md.value("uid", "") + "\n" + type + "\n" + reason + "\n" + message + "\n" + field_path;
  std::unique_lock lk(mu_);
  for (auto it = seen_.begin(); it != seen_.end();) {  // forget old entries
    it = now_ns - it->second.last_ns > kWindow ? seen_.erase(it) : std::next(it);
  }
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    Seen s = it->second;
    s.count++;
    s.last_ns = now_ns;
    it->second = s;
    lk.unlock();
    json patch = {{"count", s.count}, {"lastTimestamp", now}};
    auto r = api_.patch(client::res::kEvents, s.ns, s.name, client::PatchType::kMerge, patch);
    if (r) return;
    lk.lock();
    seen_.erase(key);  // gone (expired by the API server): create it anew
    lk.unlock();
  } else {
    lk.unlock();
  }
  json ev = make_event(pod, node_, type, reason, message, field_path, now, now_ns);
  std::string ns = ev["metadata"].value("namespace", "default");
  auto r = api_.create(client::res::kEvents, ns, ev);
  if (!r) {
    log::get("kubelet")->debug("event {} not recorded: {}", reason, r.error().message);
    return;
  }
  lk.lock();
  seen_[key] = Seen{ns, ev["metadata"]["name"].get<std::string>(), 1, now_ns};
}

std::string container_field_path(const std::string& container, bool init) {
  return std::string(init ? "spec.initContainers{" : "spec.containers{") + container + "}";
}

}  // namespace k3dpp::kubelet
