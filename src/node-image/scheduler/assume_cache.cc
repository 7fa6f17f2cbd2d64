#include "scheduler/assume_cache.h"
#include "common/json_read.h"

namespace k3dpp::scheduler {

void AssumeCache::assume(const std::string& key, const std::string& uid, const std::string& node) {
  std::lock_guard<std::mutex> l(mu_);
  entries_[key] = {uid, node};
}

std::vector<AssumeCache::json> AssumeCache::in_flight(const Lookup& cached,
                                                     const std::function<bool(const std::string&)>& observed_bound) {
  std::vector<json> out;
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto cur = cached(it->first);
    bool drop = cur == nullptr || observed_bound(it->first);
    if (!drop) {
      const json& meta = cur->contains("metadata") ? (*cur)["metadata"] : json::object();
      drop = jvalue(meta, "uid", "") != it->second.uid;
    }
    if (drop) {
      it = entries_.erase(it);
      continue;
    }
    json p = *cur;
    p["spec"]["nodeName"] = it->second.node;
    out.push_back(std::move(p));
    ++it;
  }
  return out;
}

size_t AssumeCache::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

}  // namespace k3dpp::scheduler
