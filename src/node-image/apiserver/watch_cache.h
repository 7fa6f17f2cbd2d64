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
  Ptr get(const store::KeyValue& kv, const Decoder& decode);

 private:
  struct Slot {
    int64_t revision = 0;
    std::string key;
    Ptr object;
  };
  std::mutex mu_;
  std::vector<Slot> slots_;
};

}  // namespace k3dpp::apiserver
