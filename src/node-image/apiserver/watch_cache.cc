#include "apiserver/watch_cache.h"

#include <utility>

namespace k3dpp::apiserver {

DecodedObjects::DecodedObjects(size_t slots) : slots_(slots == 0 ? 1 : slots) {}

DecodedObjects::Ptr DecodedObjects::get(const store::KeyValue& kv, const Decoder& decode) {
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
  if (kv.mod_revision >= s.revision) {  // never evict a newer write for an older one
    s.revision = kv.mod_revision;
    s.key = kv.key;
    evicted = std::exchange(s.object, obj);
  }
  return obj;
}

}  // namespace k3dpp::apiserver
