// Pods this scheduler has bound but its pod informer does not show bound yet (kube-scheduler's
// "assumed" pods). They count on their node at once, so replicas created together spread over the
// nodes instead of all landing where the cache looked emptiest.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace k3dpp::scheduler {

class AssumeCache {
 public:
  using json = nlohmann::json;
  // Cached pod by "ns/name" (nullptr when the cache has none).
  using Lookup = std::function<std::shared_ptr<const json>(const std::string&)>;

  // After a successful binding of pod (key "ns/name", its uid) to node.
  void assume(const std::string& key, const std::string& uid, const std::string& node);

  // The assumed pods still in flight, as copies of the cached pod with spec.nodeName set to the
  // node they were bound to. observed_bound(key): the caller's snapshot of bound pods (the one it
  // counts) has the pod. An entry is dropped once that snapshot has it — not merely the live cache,
  // which may have moved on since the snapshot was taken and the pod would count nowhere — or when
  // the pod is gone or replaced by another of the same name (another uid).
  std::vector<json> in_flight(const Lookup& cached, const std::function<bool(const std::string&)>& observed_bound);

  size_t size() const;

 private:
  struct Entry {
    std::string uid;
    std::string node;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace k3dpp::scheduler
