#include "apiserver/watch_cache.h"

#include <utility>

namespace k3dpp::apiserver {

DecodedObjects::DecodedObjects(size_t slots) : slots_(slots == 0 ? 1 : slots) {}

DecodedObjects::Latest DecodedObjects::latest(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = latest_.find(key);
  return it == latest_.end() ? Latest{} : it->second;
}

void DecodedObjects::note_latest(const store::KeyValue& kv, const Ptr& obj, bool live) {
  auto it = latest_.find(kv.key);
  if (it != latest_.end() && it->second.revision >= kv.mod_revision) return;  // a lagging watcher
  if (!live) {
    if (it != latest_.end()) latest_.erase(it);
    return;
  }
  if (it != latest_.end()) {
    it->second = Latest{kv.mod_revision, obj};
  } else {
    latest_.emplace(kv.key, Latest{kv.mod_revision, obj});
  }
}

DecodedObjects::Ptr DecodedObjects::get(const store::KeyValue& kv, const Decoder& decode, bool live) {
  size_t i = static_cast<uint64_t>(kv.mod_revision) % slots_.size();
  {
    std::lock_guard<std::mutex> l(mu_);
    const Slot& s = slots_[i];
    if (s.object && s.revision == kv.mod_revision && s.key == kv.key) return s.object;
  }
  // Decoded outside the lock: two watchers that miss together both decode (rare; each gets a
  // correct object), the later one keeps the slot.
  auto obj = std::make_shared<const nlohmann::json>(decode(kv));
  Ptr evicted;  // freed after the lock is released
  std::lock_guard<std::mutex> l(mu_);
  Slot& s = slots_[i];
  if (s.object && s.revision == kv.mod_revision && s.key == kv.key) return s.object;
  note_latest(kv, obj, live);
  if (kv.mod_revision >= s.revision) {  // never evict a newer write for an older one
    s.revision = kv.mod_revision;
    s.key = kv.key;
    evicted = std::exchange(s.object, obj);
  }
  return obj;
}

}  // namespace k3dpp::apiserver
