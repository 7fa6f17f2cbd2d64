// A watch stream that also takes decoded objects. The API server's watch checks whether the
// http::Stream it writes to implements this; the in-process client's stream does, so in-process
// informers get the server's one decoded copy of each event's object (shared by every watcher of
// that event) instead of text they would parse again. Header only: the client includes it.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string_view>

namespace k3dpp::apiserver {

class WatchObjectSink {
 public:
  virtual ~WatchObjectSink() = default;
  // One event (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) with its object, which other watchers
  // share: never changed after this call. Returns false once the receiver wants no more.
  virtual bool write_event(std::string_view type, std::shared_ptr<const nlohmann::json> object) = 0;
};

}  // namespace k3dpp::apiserver
