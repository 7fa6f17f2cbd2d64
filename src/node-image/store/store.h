// The revisioned key-value store behind the API server (etcd's model, so etcd can back it later).
// Keys look like "/registry/pods/default/web"; values are opaque bytes (JSON objects without
// metadata.resourceVersion, which the API server fills in from mod_revision).
//
// Every write gets the next global revision. Errors carry a kind: "NotFound", "AlreadyExists",
// "Conflict" (expected revision mismatch), "Expired" (watch from a compacted revision),
// "Internal".
#pragma once

#include <chrono>
#include <mutex>
#include <deque>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::store {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision of the write that created the key
  int64_t mod_revision = 0;     // revision of the last write (the resourceVersion)
};

struct ListResult {
  std::vector<KeyValue> items;  // sorted by key
  int64_t revision = 0;         // the store's revision at the time of the list (or the one asked for)
  bool more = false;            // ListOptions::limit cut the list: keys after the last item exist
  int64_t remaining = 0;        // with `more`: how many keys follow the last item
};

// A page of a list, as etcd serves Kubernetes' limit/continue: keys >= start (under the prefix),
// at most `limit` of them, as they were at `revision` (a consistent snapshot across pages).
struct ListOptions {
  std::string start;     // full key to start at (inclusive); "" = the prefix itself
  int64_t limit = 0;     // 0 = no limit
  int64_t revision = 0;  // 0 = now; older than the compacted revision → "Expired"
  // Fill ListResult::remaining (a count over the rest of the range; a selector-filtered list does
  // not report it, as Kubernetes does not).
  bool count_remaining = true;
};

enum class EventType { kPut, kDelete };

struct Event {
  EventType type = EventType::kPut;
  // For kPut: the new value, mod_revision = revision of the event.
  // For kDelete: the last value before deletion, with mod_revision = revision of the delete.
  KeyValue kv;
  bool created = false;  // kPut that created the key (ADDED) rather than updated it (MODIFIED)
};

// A live watch. Events arrive in revision order, each exactly once, none skipped.
class Watch {
 public:
  virtual ~Watch() = default;
  // Waits up to `timeout` for the next event. nullopt on timeout or once the watch is closed.
  virtual std::optional<Event> next(std::chrono::milliseconds timeout) = 0;
  // True when the store dropped this watch (closed store, or the watcher fell too far behind).
  virtual bool closed() = 0;
};

// The event queue both backends' watches share: the backend appends under mu_ and notifies cv_;
// closed_ ends the watch once the queue is drained.
class QueuedWatch : public Watch {
 public:
  std::optional<Event> next(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, timeout, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return std::nullopt;
    Event e = std::move(q_.front());
    q_.pop_front();
    return e;
  }
  bool closed() override {
    std::lock_guard<std::mutex> l(mu_);
    return closed_ && q_.empty();
  }
  void close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    cv_.notify_all();
  }

 protected:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> q_;
  bool closed_ = false;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<KeyValue> get(const std::string& key) = 0;
  // Every key starting with prefix, plus the current revision (consistent with the items).
  Result<ListResult> list(const std::string& prefix) { return list(prefix, ListOptions{}); }
  // A page of the keys starting with prefix (see ListOptions). "Expired" when options.revision
  // is older than the compacted revision or its history is gone.
  virtual Result<ListResult> list(const std::string& prefix, const ListOptions& options) = 0;
  // AlreadyExists if the key exists.
  virtual Result<KeyValue> create(const std::string& key, const std::string& value) = 0;
  // expected_revision > 0: Conflict unless the key's mod_revision equals it. NotFound if absent.
  virtual Result<KeyValue> update(const std::string& key, const std::string& value,
                                  int64_t expected_revision) = 0;
  // Deletes and returns the last value (mod_revision = the key's last write). Same preconditions.
  virtual Result<KeyValue> remove(const std::string& key, int64_t expected_revision) = 0;
  // Events for keys under prefix with revision > from_revision: history first, then live.
  // Expired if from_revision is older than the compacted revision.
  virtual Result<std::unique_ptr<Watch>> watch(const std::string& prefix, int64_t from_revision) = 0;

  virtual int64_t current_revision() = 0;
  virtual int64_t compacted_revision() = 0;
  // Drops history (not live keys) at or below `revision`; the last write of each live key at or
  // below it is kept, so lists at any revision after the compacted one stay answerable.
  virtual Status compact(int64_t revision) = 0;
  // Compacts keeping the last keep_revisions revisions and anything younger than min_age.
  virtual Status compact_keep(int64_t keep_revisions, std::chrono::seconds min_age) = 0;
};

struct SqliteOptions {
  std::string path;  // database file; ":memory:" for tests (no persistence)
  size_t max_watch_backlog = 200000;  // a watcher further behind than this is closed
};

// Opens (creating if needed) a SQLite store in WAL mode.
Result<std::unique_ptr<Store>> open_sqlite(const SqliteOptions& options);

}  // namespace k3dpp::store
