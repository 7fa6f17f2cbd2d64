// Decoded watch objects shared by every watcher of an event (apiserver internal). Each watch gets
// its own copy of a store event; without this each watcher parsed the stored text itself (the
// largest share of the server's CPU in a bind burst with a few pod watchers).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/store.h"

namespace k3dpp::apiserver {

class DecodedObjects {
 public:
  using Ptr = std::shared_ptr<const nlohmann::json>;
  using Decoder = std::function<nlohmann::json(const store::KeyValue&)>;

  // `slots` recent writes are kept, indexed by revision (revisions are consecutive, so the last
  // `slots` writes: a watcher further behind decodes for itself).
  explicit DecodedObjects(size_t slots = 1024);

  // kv (key at mod_revision) decoded by `decode`, once for all callers that ask for it while it is
  // among the recent writes. The same (key, mod_revision) always names the same stored text.
  // live = false for a delete event (kv = the last value): the key is dropped from latest().
  Ptr get(const store::KeyValue& kv, const Decoder& decode, bool live = true);

  // The newest decoded object of a key any watcher asked for, with its revision ({0, null} when none
  // or deleted since): what the store held at that revision, maybe not now. For a write with that
  // revision as its precondition (a Conflict means: read the store), as Kubernetes' GuaranteedUpdate
  // starts from its watch cache.
  struct Latest {
    int64_t revision = 0;
    Ptr object;
  };
  Latest latest(const std::string& key);

 private:
  struct Slot {
    int64_t revision = 0;
    std::string key;
    Ptr object;
  };
  void note_latest(const store::KeyValue& kv, const Ptr& obj, bool live);  // mu_ held

  std::mutex mu_;
  std::vector<Slot> slots_;
  // Newest per key: holds what the in-process informers hold anyway (the objects are shared).
  std::unordered_map<std::string, Latest> latest_;
};

}  // namespace k3dpp::apiserver
