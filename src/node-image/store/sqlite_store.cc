// SQLite (WAL) implementation of Store. One write connection guarded by one mutex (mu_): writes
// are serialized (each one is a revision), which also makes the watch fan-out ordered for free.
//
// Group commit: a writer queues its operation; the first writer that finds no commit running
// becomes the leader, takes every queued operation (its own included) and applies them in queue
// order inside ONE transaction, each with its own revision and its own precondition check (a
// later operation in the batch sees the earlier ones' writes). After the COMMIT the events are
// fanned out in revision order and every writer of the batch gets its result; writers that queued
// meanwhile form the next batch. C concurrent writers cost a few transactions, not C.
//
// get() reads through a second, read-only connection (file databases only) so single-object reads
// never wait behind a commit; it sees every write whose call has returned (WAL snapshot isolation:
// each read starts a new snapshot after the last COMMIT).
//
// Read cache: get() answers keys it read before from memory (ReadCache), so a hot key — the
// namespace every create checks, an object a client polls — costs no SQLite read (the read-only
// connection's page cache is dropped by every commit, so each miss re-reads its B-tree pages).
// Commits update or drop the cached entries of the keys they wrote before their writers return.
//
// Tables: kv (live keys), log (one row per revision: the write, for watch replay and lists at
// older revisions), meta (current and compacted revision). A log row's `prev` is the revision of
// the key's write before it (0 for a creation): lists at an older revision and compaction follow
// it by primary key, so the log needs no (key, rev) index — one random B-tree leaf less per write.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/log.h"
#include "store/store.h"

namespace k3dpp::store {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY, value BLOB NOT NULL, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
  rev INTEGER PRIMARY KEY, key TEXT NOT NULL, type INTEGER NOT NULL, created INTEGER NOT NULL,
  value BLOB NOT NULL, create_rev INTEGER NOT NULL, ts INTEGER NOT NULL, prev INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(name, value) VALUES ('revision', 0), ('compacted', 0);
)sql";

// A page cache that holds the hot B-tree pages (8 MiB at most; it grows only as pages are used).
constexpr const char* kTuning = "PRAGMA cache_size=-8192;";
// WAL checkpoints (file databases): a background thread on its own connection copies the WAL back
// into the database (PASSIVE: writers go on meanwhile; its fsyncs never hold up a commit) once the
// WAL has kCheckpointPages pages (32 MiB: each round ends in a tail that holds writers, so fewer
// rounds mean fewer stalls, and a hot page is copied back once per round), then copies the few
// pages written meanwhile with writers held off, so the checkpoint completes and the next write
// restarts the WAL (its size stays bounded).
// Should the passes fall behind and the WAL reach kWalHardPages (96 MiB), the tail comes at once
// and the writers wait for it (wait_for_wal_room). That wait stops every writer for the rest of a
// round (27-224 ms measured), so the bound sits well above where rounds end: at C=50 creates a
// round takes 120-580 ms while the WAL grows ~80 MiB/s, so it peaks at 50-80 MiB (at 64 MiB the
// writers waited 9 times in 18 s at load 4-6, 319 ms in all; at 128 MiB never, peak 73 MB).
// (The committing writer used to checkpoint itself there, but its attempts made the background
// checkpointer's concurrent pass fail BUSY, so under sustained writes neither completed and the
// WAL grew past 180 MB in 9 s of C=50 creates.)
constexpr int kCheckpointPages = 8000;
// Every connection opens the file through SQLite's "unix-excl" VFS: the process takes one
// exclusive POSIX lock on the database when its first connection locks it, and from then on the
// connections of this process lock each other in memory only, with the WAL index in process memory
// instead of a mmap'ed -shm file. With the plain "unix" VFS each transaction took ~6 fcntl() lock
// calls on the -shm file (read mark, write lock, their releases): 7 % of the server's CPU at C=50
// creates, syscalls being dear on this paravirtualized VM. Another process (a sqlite3 shell, a
// second server on the same data dir) now gets "database is locked" while the server runs instead
// of sharing the file. All connections are opened read-write (the read-only ones with
// query_only): a read-only handle would fall back to real fcntl locks and could drop the
// process's exclusive lock.
constexpr const char* kVfs = "unix-excl";
constexpr int kWalHardPages = 24000;
constexpr int kTailPages = 64;

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Smallest string greater than every string with this prefix ("" = unbounded).
std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto c = static_cast<unsigned char>(end.back());
    if (c < 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    return s_;
  }
  bool ok() const { return s_ != nullptr; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Resets a statement when the scope ends. A statement left after a SQLITE_ROW keeps its read
// snapshot open, and an open snapshot on the write connection stops every checkpoint from
// restarting the WAL (it then grows without bound).
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* s) : s_(s) {}
  ~ResetOnExit() { sqlite3_reset(s_); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* s_;
};

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void bind_blob(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
std::string column_string(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

// Values get() read recently, kept fresh by the commits. A read inserts its row only if no
// commit ran while it read (gen_ unchanged): a read that raced a commit may have seen the old row
// after the commit already updated the cache. Commits update entries that exist (they do not
// insert: a create-heavy load would churn the cache) and erase deleted keys. Bounded by bytes
// (cleared when full: entries come back on their next read).
class ReadCache {
 public:
  static constexpr size_t kMaxBytes = 4u << 20;
  static constexpr size_t kMaxValue = 64u << 10;

  std::optional<KeyValue> find(const std::string& key, uint64_t* gen) {
    std::lock_guard<std::mutex> l(mu_);
    *gen = gen_;
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  void insert(uint64_t gen, const KeyValue& kv) {
    if (kv.value.size() > kMaxValue) return;
    std::lock_guard<std::mutex> l(mu_);
    if (gen != gen_) return;
    if (bytes_ + cost(kv) > kMaxBytes) clear_locked();
    auto [it, fresh] = map_.try_emplace(kv.key, kv);
    if (fresh) bytes_ += cost(kv);
  }
  // A commit: puts update cached keys, deletes erase them; ends every read begun before it.
  void apply(const std::vector<Event>& events) {
    std::lock_guard<std::mutex> l(mu_);
    ++gen_;
    if (map_.empty()) return;
    for (const auto& e : events) {
      auto it = map_.find(e.kv.key);
      if (it == map_.end()) continue;
      bytes_ -= cost(it->second);
      if (e.type == EventType::kDelete || e.kv.value.size() > kMaxValue) {
        map_.erase(it);
      } else {
        it->second = e.kv;
        bytes_ += cost(it->second);
      }
    }
  }
  void clear() {
    std::lock_guard<std::mutex> l(mu_);
    ++gen_;
    clear_locked();
  }

 private:
  static size_t cost(const KeyValue& kv) { return kv.key.size() * 2 + kv.value.size() + 64; }
  void clear_locked() {
    map_.clear();
    bytes_ = 0;
  }
  std::mutex mu_;
  std::unordered_map<std::string, KeyValue> map_;
  size_t bytes_ = 0;
  uint64_t gen_ = 0;
};

class SqliteWatch;

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteOptions o) : opts_(std::move(o)), log_(log::get("store")) {}
  ~SqliteStore() override;

  Status open();
  // Another connection of this process to the file (kVfs, busy timeout); query_only for readers.
  Status open_side(sqlite3** db, const char* purpose, bool query_only);

  Result<KeyValue> get(const std::string& key) override;
  using Store::list;
  Result<ListResult> list(const std::string& prefix, const ListOptions& options) override;
  Result<KeyValue> create(const std::string& key, const std::string& value) override;
  Result<KeyValue> update(const std::string& key, const std::string& value,
                          int64_t expected_revision) override;
  Result<KeyValue> remove(const std::string& key, int64_t expected_revision) override;
  Result<std::unique_ptr<Watch>> watch(const std::string& prefix, int64_t from_revision) override;
  int64_t current_revision() override {
    std::lock_guard<std::mutex> l(mu_);
    return revision_;
  }
  int64_t compacted_revision() override {
    std::lock_guard<std::mutex> l(mu_);
    return compacted_;
  }
  Status compact(int64_t revision) override;
  Status compact_keep(int64_t keep_revisions, std::chrono::seconds min_age) override;

  void unregister(SqliteWatch* w);

 private:
  // One queued write (create / update / remove) and, once its batch committed, its result.
  struct WriteOp {
    enum class Kind { kCreate, kUpdate, kRemove };
    Kind kind;
    const std::string& key;
    const std::string& value;
    int64_t expected_revision;
    std::optional<Result<KeyValue>> result;  // set under qmu_
    std::condition_variable cv;  // woken when result is set or when this op may lead the next batch
  };
  // Queues op and returns its result (leading a batch when no commit is running).
  Result<KeyValue> submit(WriteOp& op);
  // Applies ops in order in one transaction and fans out the events. mu_ held.
  std::vector<Result<KeyValue>> commit_batch(const std::vector<WriteOp*>& ops);
  Error db_error(const std::string& what) const {
    return Error(what + ": " + sqlite3_errmsg(db_), "Internal");
  }
  Status exec(const char* sql);
  std::optional<KeyValue> read_key(const std::string& key);  // mu_ held
  // Appends revision `rev` (log row) and applies it to kv, inside the open transaction. mu_ held.
  Status write(int64_t rev, const std::string& key, const std::string& value, EventType type,
               bool created, int64_t create_rev, int64_t prev);
  // Databases written before `prev` existed (or by such a binary since): fills it in through
  // their log_key_rev index, then drops the index.
  Status migrate_prev();
  void fan_out(const Event& e);  // mu_ held
  Status compact_locked(int64_t revision);
  Status save_revision();  // meta's 'revision' = revision_. mu_ held.

  SqliteOptions opts_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  int64_t revision_ = 0;
  int64_t compacted_ = 0;
  std::vector<SqliteWatch*> watchers_;
  // Group commit queue.
  std::mutex qmu_;
  std::vector<WriteOp*> pending_;
  bool committing_ = false;
  // Read-only connection for get() (nullptr for ":memory:": get() then uses db_ under mu_).
  std::mutex rmu_;
  sqlite3* rdb_ = nullptr;
  std::unique_ptr<Stmt> rget_;
  ReadCache cache_;
  // Background checkpoints (file databases only).
  sqlite3* ckdb_ = nullptr;
  std::thread checkpointer_;
  std::mutex ckmu_;
  std::condition_variable ckcv_;
  std::condition_variable ckdone_;  // a checkpoint round ended (ckmu_)
  void wait_for_wal_room();
  bool ck_stop_ = false;
  int wal_fd_ = -1;  // the WAL file, for the checkpointer's fsyncs before its tail
  int db_fd_ = -1;   // the database file, likewise
  std::atomic<int> wal_pages_{0};
  static int wal_hook(void* self, sqlite3* db, const char* name, int pages);
  void checkpoint_loop();
  std::unique_ptr<Stmt> get_, list_, upsert_, del_, log_ins_, meta_set_, replay_;
  // Lists on file databases run on their own read-only connection in one read transaction (a
  // snapshot), so a long list (kubectl's 500-object pages of 10,000 pods, rebuilt at the first
  // page's revision while they change) never holds mu_ and the writers wait for nothing.
  struct ListStmts {
    std::unique_ptr<Stmt> list_at, count_at, changed_since, log_row;
  };
  Status prepare_list_stmts(sqlite3* db, ListStmts& out);
  Result<ListResult> list_in(ListStmts& st, const std::string& prefix, const ListOptions& o, int64_t current,
                             int64_t compacted);
  std::mutex lmu_;
  sqlite3* ldb_ = nullptr;
  ListStmts lst_;
  std::unique_ptr<Stmt> lbegin_, lend_, lrev_;
  ListStmts main_list_;  // on db_ under mu_ (":memory:" databases)
  std::unique_ptr<Stmt> begin_, commit_;  // the batch transaction (prepared once, not parsed per batch)
  Status step_done(Stmt& st, const char* what);
};

class SqliteWatch final : public QueuedWatch {
 public:
  SqliteWatch(SqliteStore* store, std::string prefix, size_t max_backlog)
      : store_(store), prefix_(std::move(prefix)), max_backlog_(max_backlog) {}
  ~SqliteWatch() override {
    if (store_) store_->unregister(this);
  }

  const std::string& prefix() const { return prefix_; }
  void push(const Event& e) {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return;
    if (q_.size() >= max_backlog_) {
      closed_ = true;  // too slow: the client re-watches (and may get Expired)
      q_.clear();
    } else {
      q_.push_back(e);
    }
    cv_.notify_all();
  }
  void detach() {
    store_ = nullptr;
    close();
  }

 private:
  SqliteStore* store_;
  std::string prefix_;
  size_t max_backlog_;
};

SqliteStore::~SqliteStore() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (db_ && meta_set_ && meta_set_->ok()) (void)save_revision();  // older binaries read it there
    for (auto* w : watchers_) w->detach();
    watchers_.clear();
    get_.reset();
    list_.reset();
    upsert_.reset();
    del_.reset();
    log_ins_.reset();
    meta_set_.reset();
    replay_.reset();
    main_list_ = ListStmts{};
    begin_.reset();
    commit_.reset();
  }
  {
    std::lock_guard<std::mutex> l(rmu_);
    rget_.reset();
  }
  {
    std::lock_guard<std::mutex> l(lmu_);
    lst_ = ListStmts{};
    lbegin_.reset();
    lend_.reset();
    lrev_.reset();
  }
  if (checkpointer_.joinable()) {
    {
      std::lock_guard<std::mutex> l(ckmu_);
      ck_stop_ = true;
    }
    ckcv_.notify_all();
    checkpointer_.join();
  }
  if (ckdb_) sqlite3_close(ckdb_);
  if (rdb_) sqlite3_close(rdb_);
  if (ldb_) sqlite3_close(ldb_);
  if (db_) sqlite3_close(db_);
  if (wal_fd_ >= 0) ::close(wal_fd_);
  if (db_fd_ >= 0) ::close(db_fd_);
}

Status SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown";
    sqlite3_free(err);
    return fail(std::string("sqlite: ") + msg, "Internal");
  }
  return {};
}

Status SqliteStore::step_done(Stmt& st, const char* what) {
  auto* s = st.get();
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return fail(std::string("sqlite: ") + what + ": " + sqlite3_errmsg(db_), "Internal");
  return {};
}

Status SqliteStore::open_side(sqlite3** db, const char* purpose, bool query_only) {
  // Read-write even for readers (query_only): a read-only handle would fall back to real fcntl
  // locks (see kVfs).
  if (sqlite3_open_v2(opts_.path.c_str(), db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, kVfs) != SQLITE_OK ||
      (query_only && sqlite3_exec(*db, "PRAGMA query_only=1;", nullptr, nullptr, nullptr) != SQLITE_OK)) {
    std::string msg = *db ? sqlite3_errmsg(*db) : "out of memory";
    return fail("open " + opts_.path + " for " + purpose + ": " + msg, "Internal");
  }
  sqlite3_busy_timeout(*db, 5000);
  return {};
}

Status SqliteStore::open() {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(opts_.path.c_str(), &db_, flags, kVfs) != SQLITE_OK) {
    return db_error("open " + opts_.path);
  }
  sqlite3_busy_timeout(db_, 5000);
  K3DPP_TRY(exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;"));
  // Checkpoints in larger steps (a hot page is copied back once per checkpoint, however often it
  // was written) and a page cache that holds the hot B-tree pages (grows only as pages are used).
  K3DPP_TRY(exec(kTuning));
  K3DPP_TRY(exec(kSchema));
  K3DPP_TRY(migrate_prev());
  get_ = std::make_unique<Stmt>(db_, "SELECT value, create_rev, mod_rev FROM kv WHERE key = ?");
  list_ = std::make_unique<Stmt>(
      db_, "SELECT key, value, create_rev, mod_rev FROM kv WHERE key >= ?1 AND (?2 = '' OR key < ?2) ORDER BY key");
  upsert_ = std::make_unique<Stmt>(
      db_, "INSERT INTO kv(key, value, create_rev, mod_rev) VALUES (?1, ?2, ?3, ?4) "
           "ON CONFLICT(key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev");
  del_ = std::make_unique<Stmt>(db_, "DELETE FROM kv WHERE key = ?");
  log_ins_ = std::make_unique<Stmt>(
      db_, "INSERT INTO log(rev, key, type, created, value, create_rev, ts, prev) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  meta_set_ = std::make_unique<Stmt>(db_, "UPDATE meta SET value = ? WHERE name = ?");
  K3DPP_TRY(prepare_list_stmts(db_, main_list_));
  replay_ = std::make_unique<Stmt>(
      db_, "SELECT rev, key, type, created, value, create_rev FROM log WHERE rev > ?1 "
           "AND key >= ?2 AND (?3 = '' OR key < ?3) ORDER BY rev");
  begin_ = std::make_unique<Stmt>(db_, "BEGIN IMMEDIATE");
  commit_ = std::make_unique<Stmt>(db_, "COMMIT");
  for (auto* s : {get_.get(), list_.get(), upsert_.get(), del_.get(), log_ins_.get(), meta_set_.get(),
                  replay_.get(), begin_.get(), commit_.get()}) {
    if (!s->ok()) return db_error("prepare");
  }
  Stmt meta(db_, "SELECT name, value FROM meta");
  auto* s = meta.get();
  while (sqlite3_step(s) == SQLITE_ROW) {
    std::string name = column_string(s, 0);
    if (name == "revision") revision_ = sqlite3_column_int64(s, 1);
    if (name == "compacted") compacted_ = sqlite3_column_int64(s, 1);
  }
  {
    // Commits do not write meta's revision: the last log row has it (meta's holds it across a
    // compaction that deleted that row).
    Stmt last(db_, "SELECT MAX(rev) FROM log");
    auto* q = last.get();
    if (sqlite3_step(q) == SQLITE_ROW) revision_ = std::max<int64_t>(revision_, sqlite3_column_int64(q, 0));
    sqlite3_reset(q);
  }
  if (!opts_.path.empty() && opts_.path != ":memory:" && opts_.path.rfind("file:", 0) != 0) {
    K3DPP_TRY(open_side(&rdb_, "reading", true));
    rget_ = std::make_unique<Stmt>(rdb_, "SELECT value, create_rev, mod_rev FROM kv WHERE key = ?");
    if (!rget_->ok()) return fail(std::string("prepare read: ") + sqlite3_errmsg(rdb_), "Internal");
    K3DPP_TRY(open_side(&ldb_, "lists", true));
    (void)sqlite3_exec(ldb_, kTuning, nullptr, nullptr, nullptr);
    K3DPP_TRY(prepare_list_stmts(ldb_, lst_));
    lbegin_ = std::make_unique<Stmt>(ldb_, "BEGIN");
    lend_ = std::make_unique<Stmt>(ldb_, "COMMIT");
    // The snapshot's revision: its last log row, or meta's (kept across a compaction that deleted
    // that row); and its compacted revision.
    lrev_ = std::make_unique<Stmt>(
        ldb_, "SELECT MAX(COALESCE((SELECT MAX(rev) FROM log), 0), (SELECT value FROM meta WHERE name = 'revision')), "
              "(SELECT value FROM meta WHERE name = 'compacted')");
    for (auto* st : {lbegin_.get(), lend_.get(), lrev_.get()}) {
      if (!st->ok()) return fail(std::string("prepare list: ") + sqlite3_errmsg(ldb_), "Internal");
    }
    K3DPP_TRY(open_side(&ckdb_, "checkpoints", false));
    // A connection learns the WAL mode on its first read (until then a checkpoint is a no-op).
    if (sqlite3_exec(ckdb_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr, nullptr) !=
        SQLITE_OK)
      return fail(std::string("checkpoint connection: ") + sqlite3_errmsg(ckdb_), "Internal");
    sqlite3_wal_hook(db_, &SqliteStore::wal_hook, this);  // replaces SQLite's auto-checkpoint
    checkpointer_ = std::thread([this] { checkpoint_loop(); });
  }
  log_->debug("opened {} at revision {} (compacted {})", opts_.path, revision_, compacted_);
  return {};
}

Status SqliteStore::migrate_prev() {
  bool has_prev = false, has_index = false;
  {
    Stmt cols(db_, "SELECT name FROM pragma_table_info('log')");
    auto* s = cols.get();
    while (sqlite3_step(s) == SQLITE_ROW) has_prev = has_prev || column_string(s, 0) == "prev";
    sqlite3_reset(s);
    Stmt idx(db_, "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'log_key_rev'");
    auto* i = idx.get();
    has_index = sqlite3_step(i) == SQLITE_ROW;
    sqlite3_reset(i);
  }
  if (has_prev && !has_index) return {};
  K3DPP_TRY(exec("BEGIN IMMEDIATE"));
  auto st = [&]() -> Status {
    if (!has_prev) K3DPP_TRY(exec("ALTER TABLE log ADD COLUMN prev INTEGER NOT NULL DEFAULT 0"));
    // An index left means rows written without `prev` (this one's, or an older binary's since).
    if (has_index) {
      K3DPP_TRY(exec("UPDATE log SET prev = COALESCE((SELECT MAX(l2.rev) FROM log AS l2 "
                     "WHERE l2.key = log.key AND l2.rev < log.rev), 0) WHERE prev = 0"));
      K3DPP_TRY(exec("DROP INDEX log_key_rev"));
    }
    return {};
  }();
  if (!st) {
    (void)exec("ROLLBACK");
    return st;
  }
  K3DPP_TRY(exec("COMMIT"));
  log_->info("log rows linked to their key's previous write; index log_key_rev dropped");
  return {};
}

std::optional<KeyValue> SqliteStore::read_key(const std::string& key) {
  auto* s = get_->get();
  ResetOnExit reset(s);
  bind_text(s, 1, key);
  if (sqlite3_step(s) != SQLITE_ROW) return std::nullopt;
  KeyValue kv;
  kv.key = key;
  kv.value = column_string(s, 0);
  kv.create_revision = sqlite3_column_int64(s, 1);
  kv.mod_revision = sqlite3_column_int64(s, 2);
  return kv;
}

int SqliteStore::wal_hook(void* self, sqlite3*, const char*, int pages) {
  auto* st = static_cast<SqliteStore*>(self);
  st->wal_pages_ = pages;
  if (pages >= kCheckpointPages) st->ckcv_.notify_one();
  return SQLITE_OK;
}

void SqliteStore::checkpoint_loop() {
  std::unique_lock<std::mutex> l(ckmu_);
  while (!ck_stop_) {
    ckcv_.wait_for(l, std::chrono::seconds(1));
    if (ck_stop_) break;
    if (wal_pages_ < kCheckpointPages) continue;
    l.unlock();
    // Unlocked passes (writers go on) until the pages appended during a pass are few (< 64: the
    // tail's copy and fsyncs then hold writers ~1-8 ms here instead of 2-40 ms with < 256), then the
    // short tail with writers held off: only a complete checkpoint lets the next write restart
    // the WAL (`log_frames` is the WAL's end when a pass started).
    int log_frames = 0, done = 0, prev_end = 0, rc = SQLITE_OK;
    // Past kWalHardPages (the passes do not keep up with the writers) the tail comes at once:
    // writers wait while it copies what is left, and the WAL restarts.
    for (int pass = 0; pass < 8 && wal_pages_ < kWalHardPages; ++pass) {
      rc = sqlite3_wal_checkpoint_v2(ckdb_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done);
      if (rc != SQLITE_OK || log_frames - prev_end < kTailPages) break;
      prev_end = log_frames;
    }
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) log_->warn("checkpoint: {}", sqlite3_errmsg(ckdb_));
    if (rc == SQLITE_OK) {
      // The tail's pass fsyncs the WAL before it copies and, being the pass that completes the
      // checkpoint, the database file after it: the only database fsync of the round, so with
      // writers held it flushed every page the unlocked passes had copied (11-20 ms at C=50
      // creates, the whole stall). Flush both files now, while writers go on, and catch up with
      // an unlocked pass after each flush while passes still find many new frames (up to 8 times:
      // each round of pass + flush leaves fewer frames for the next; writers held 243 ms in all
      // over 21 rounds with at most 2, 85 ms with at most 8, and half the tails then had nothing
      // left to copy), so the held fsyncs have only the tail's few pages to write. (The
      // descriptors stay open until the store closes: closing any descriptor of a file drops the
      // process's POSIX locks on it.)
      if (wal_fd_ < 0) wal_fd_ = ::open((opts_.path + "-wal").c_str(), O_RDONLY | O_CLOEXEC);
      if (db_fd_ < 0) db_fd_ = ::open(opts_.path.c_str(), O_RDONLY | O_CLOEXEC);
      auto flush = [this] {
        if (wal_fd_ >= 0) (void)::fdatasync(wal_fd_);
        if (db_fd_ >= 0) (void)::fdatasync(db_fd_);
      };
      flush();
      for (int catch_up = 0; catch_up < 8; ++catch_up) {
        rc = sqlite3_wal_checkpoint_v2(ckdb_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done);
        if (rc != SQLITE_OK) break;
        bool few = log_frames - prev_end < kTailPages;
        prev_end = log_frames;
        flush();
        if (few) break;
      }
    }
    if (rc == SQLITE_OK) {
      auto t0 = std::chrono::steady_clock::now();
      std::lock_guard<std::mutex> w(mu_);
      auto t1 = std::chrono::steady_clock::now();
      rc = sqlite3_wal_checkpoint_v2(ckdb_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done);
      auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count() / 1000.0; };
      log_->debug("checkpoint tail: {} frames, writers held {:.1f} ms (waited {:.1f} ms for them)",
                  log_frames - prev_end, ms(std::chrono::steady_clock::now() - t1), ms(t1 - t0));
    }
    if (rc == SQLITE_OK && done >= log_frames) wal_pages_ = 0;
    l.lock();
    ckdone_.notify_all();
  }
}

// Back-pressure: past kWalHardPages the next batch waits (holding no lock the checkpointer needs)
// until a checkpoint round has restarted the WAL, so its size stays bounded however little CPU the
// checkpointer gets next to the writers. Bounded (2 s): a checkpoint that cannot complete (a long
// read snapshot) slows writers down but never stops them.
void SqliteStore::wait_for_wal_room() {
  if (!checkpointer_.joinable() || wal_pages_ < kWalHardPages) return;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  std::unique_lock<std::mutex> l(ckmu_);
  while (wal_pages_ >= kWalHardPages && !ck_stop_ && std::chrono::steady_clock::now() < until) {
    ckcv_.notify_one();  // again each slice: a round that was running may have missed the first
    ckdone_.wait_for(l, std::chrono::milliseconds(50));
  }
}

Result<KeyValue> SqliteStore::get(const std::string& key) {
  uint64_t gen = 0;
  if (auto hit = cache_.find(key, &gen)) return std::move(*hit);
  if (rget_) {
    std::lock_guard<std::mutex> l(rmu_);
    auto* s = rget_->get();
    bind_text(s, 1, key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      KeyValue kv;
      kv.key = key;
      kv.value = column_string(s, 0);
      kv.create_revision = sqlite3_column_int64(s, 1);
      kv.mod_revision = sqlite3_column_int64(s, 2);
      sqlite3_reset(s);  // ends the read snapshot (it would hold back checkpoints)
      cache_.insert(gen, kv);
      return kv;
    }
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) return fail("key not found: " + key, "NotFound");
    return fail(std::string("get ") + key + ": " + sqlite3_errmsg(rdb_), "Internal");
  }
  std::lock_guard<std::mutex> l(mu_);
  auto kv = read_key(key);
  if (!kv) return fail("key not found: " + key, "NotFound");
  cache_.insert(gen, *kv);
  return *kv;
}

Status SqliteStore::prepare_list_stmts(sqlite3* db, ListStmts& out) {
  // Pages: live keys in [start, end) last written at or before ?3 (-1 = LIMIT none).
  out.list_at = std::make_unique<Stmt>(
      db, "SELECT key, value, create_rev, mod_rev FROM kv WHERE key >= ?1 AND (?2 = '' OR key < ?2) "
          "AND mod_rev <= ?3 ORDER BY key LIMIT ?4");
  out.count_at = std::make_unique<Stmt>(
      db, "SELECT COUNT(*) FROM kv WHERE key >= ?1 AND (?2 = '' OR key < ?2) AND mod_rev <= ?3");
  // Keys written after revision ?3, each with its first write after ?3 (SQLite takes the bare
  // columns from the MIN row): its `prev` is the key's last write at or before ?3.
  out.changed_since = std::make_unique<Stmt>(
      db, "SELECT key, MIN(rev), created, prev FROM log WHERE rev > ?3 AND key >= ?1 AND (?2 = '' OR key < ?2) "
          "GROUP BY key ORDER BY key");
  out.log_row = std::make_unique<Stmt>(db, "SELECT type, value, create_rev FROM log WHERE rev = ?1");
  for (auto* st : {out.list_at.get(), out.count_at.get(), out.changed_since.get(), out.log_row.get()}) {
    if (!st->ok()) return fail(std::string("prepare list: ") + sqlite3_errmsg(db), "Internal");
  }
  return {};
}

Result<ListResult> SqliteStore::list(const std::string& prefix, const ListOptions& o) {
  if (ldb_) {
    std::lock_guard<std::mutex> l(lmu_);
    auto* b = lbegin_->get();
    ResetOnExit reset_b(b);
    if (sqlite3_step(b) != SQLITE_DONE) return fail(std::string("list: begin: ") + sqlite3_errmsg(ldb_), "Internal");
    auto end = [&] {
      auto* e = lend_->get();
      (void)sqlite3_step(e);
      sqlite3_reset(e);
    };
    auto* q = lrev_->get();
    ResetOnExit reset_q(q);
    if (sqlite3_step(q) != SQLITE_ROW) {
      std::string msg = sqlite3_errmsg(ldb_);
      sqlite3_reset(q);
      end();
      return fail("list: revision: " + msg, "Internal");
    }
    int64_t current = sqlite3_column_int64(q, 0), compacted = sqlite3_column_int64(q, 1);
    sqlite3_reset(q);
    auto r = list_in(lst_, prefix, o, current, compacted);
    end();  // ends the snapshot (it would hold back checkpoints)
    return r;
  }
  std::lock_guard<std::mutex> l(mu_);
  return list_in(main_list_, prefix, o, revision_, compacted_);
}

Result<ListResult> SqliteStore::list_in(ListStmts& st, const std::string& prefix, const ListOptions& o,
                                        int64_t current, int64_t compacted) {
  ListResult out;
  int64_t at = o.revision > 0 && o.revision < current ? o.revision : current;
  if (at < compacted) {
    return fail("revision " + std::to_string(at) + " has been compacted (" + std::to_string(compacted) + ")",
                "Expired");
  }
  out.revision = at;
  std::string start = o.start.empty() || o.start < prefix ? prefix : o.start;
  std::string end = prefix_end(prefix);
  auto row = [](sqlite3_stmt* s) {
    KeyValue kv;
    kv.key = column_string(s, 0);
    kv.value = column_string(s, 1);
    kv.create_revision = sqlite3_column_int64(s, 2);
    kv.mod_revision = sqlite3_column_int64(s, 3);
    return kv;
  };
  auto bind_range = [&](sqlite3_stmt* s) {
    bind_text(s, 1, start);
    bind_text(s, 2, end);
    sqlite3_bind_int64(s, 3, at);
  };
  // Keys unchanged since `at` (one more than the page, to know whether more follow).
  std::vector<KeyValue> live;
  {
    auto* s = st.list_at->get();
    ResetOnExit reset_list_at(s);
    bind_range(s);
    sqlite3_bind_int64(s, 4, o.limit > 0 ? o.limit + 1 : -1);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) live.push_back(row(s));
    if (rc != SQLITE_DONE) return db_error("list");
  }
  // Keys written after `at`: rebuilt from the log as they were at `at`. A key whose first write
  // after `at` was not its creation existed then (after a delete the next write is a create). With
  // a page limit only the first limit + 1 keys of live + those matter, so the log lookups are for
  // the page's own keys, not for every key changed since `at` (kubectl's later pages of a list that
  // started before a burst of writes).
  std::vector<KeyValue> past;
  int64_t past_beyond = 0;  // keys that existed at `at` past the page (for the count)
  if (at < current) {
    struct Changed {
      std::string key;
      bool created;  // its first write after `at` created it: absent at `at`
      int64_t prev;  // else its last write at or before `at`
    };
    std::vector<Changed> keys;
    auto* s = st.changed_since->get();
    ResetOnExit reset_changed_since(s);
    bind_range(s);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      if (sqlite3_column_int(s, 2) != 0) continue;  // absent at `at`
      keys.push_back({column_string(s, 0), false, sqlite3_column_int64(s, 3)});
    }
    if (rc != SQLITE_DONE) return db_error("list history");
    if (o.limit > 0) {
      // Where the page ends in key order (both lists are sorted by key).
      size_t i = 0, j = 0, n = 0, page = static_cast<size_t>(o.limit);
      while (n <= page && j < keys.size()) {
        if (i < live.size() && live[i].key < keys[j].key) {
          ++i;
        } else {
          ++j;
        }
        ++n;
      }
      if (n > page) {
        past_beyond = static_cast<int64_t>(keys.size() - j);
        keys.resize(j);
      }
    }
    for (const auto& k : keys) {
      if (k.created) continue;
      auto* q = st.log_row->get();
      ResetOnExit reset_q(q);
      sqlite3_bind_int64(q, 1, k.prev);
      rc = k.prev > 0 ? sqlite3_step(q) : SQLITE_DONE;
      if (rc == SQLITE_ROW) {
        if (sqlite3_column_int(q, 0) != 0) continue;  // deleted at `at`
        KeyValue kv;
        kv.key = k.key;
        kv.value = column_string(q, 1);
        kv.create_revision = sqlite3_column_int64(q, 2);
        kv.mod_revision = k.prev;
        past.push_back(std::move(kv));
        continue;
      }
      if (rc != SQLITE_DONE) return db_error("list history");
      // The key existed at `at` (its next write was not its creation) but its write then is gone:
      // compaction keeps it, so this history was compacted away by an older version of this store.
      return fail("history of " + k.key + " at revision " + std::to_string(at) + " is gone", "Expired");
    }
    std::sort(past.begin(), past.end(), [](const KeyValue& x, const KeyValue& y) { return x.key < y.key; });
  }
  std::vector<KeyValue> merged;
  merged.reserve(live.size() + past.size());
  std::merge(std::make_move_iterator(live.begin()), std::make_move_iterator(live.end()),
             std::make_move_iterator(past.begin()), std::make_move_iterator(past.end()), std::back_inserter(merged),
             [](const KeyValue& x, const KeyValue& y) { return x.key < y.key; });
  if (o.limit > 0 && merged.size() > static_cast<size_t>(o.limit)) {
    merged.resize(static_cast<size_t>(o.limit));
    out.more = true;
    if (!o.count_remaining) {
      out.items = std::move(merged);
      return out;
    }
    auto* c = st.count_at->get();
    ResetOnExit reset_c(c);
    bind_range(c);
    if (sqlite3_step(c) != SQLITE_ROW) return db_error("list count");
    int64_t total = sqlite3_column_int64(c, 0) + static_cast<int64_t>(past.size()) + past_beyond;
    out.remaining = total - o.limit;
  }
  out.items = std::move(merged);
  return out;
}

Status SqliteStore::write(int64_t rev, const std::string& key, const std::string& value, EventType type,
                          bool created, int64_t create_rev, int64_t prev) {
  if (type == EventType::kPut) {
    auto* s = upsert_->get();
    bind_text(s, 1, key);
    bind_blob(s, 2, value);
    sqlite3_bind_int64(s, 3, create_rev ? create_rev : rev);
    sqlite3_bind_int64(s, 4, rev);
    if (sqlite3_step(s) != SQLITE_DONE) return db_error("write " + key);
  } else {
    auto* s = del_->get();
    bind_text(s, 1, key);
    if (sqlite3_step(s) != SQLITE_DONE) return db_error("delete " + key);
  }
  auto* s = log_ins_->get();
  sqlite3_bind_int64(s, 1, rev);
  bind_text(s, 2, key);
  sqlite3_bind_int(s, 3, type == EventType::kPut ? 0 : 1);
  sqlite3_bind_int(s, 4, created ? 1 : 0);
  bind_blob(s, 5, value);
  sqlite3_bind_int64(s, 6, create_rev ? create_rev : rev);
  sqlite3_bind_int64(s, 7, now_unix());
  sqlite3_bind_int64(s, 8, prev);
  if (sqlite3_step(s) != SQLITE_DONE) return db_error("log " + key);
  return {};
}

std::vector<Result<KeyValue>> SqliteStore::commit_batch(const std::vector<WriteOp*>& ops) {
  std::vector<Result<KeyValue>> results;
  results.reserve(ops.size());
  auto fail_all = [&](const Error& e) {
    std::vector<Result<KeyValue>> out(ops.size(), Result<KeyValue>(e));
    return out;
  };
  if (auto st = step_done(*begin_, "begin"); !st) return fail_all(st.error());
  int64_t rev = revision_;
  std::vector<Event> events;
  events.reserve(ops.size());
  for (auto* op : ops) {
    auto cur = read_key(op->key);
    if (op->kind == WriteOp::Kind::kCreate) {
      if (cur) {
        results.emplace_back(fail("key exists: " + op->key, "AlreadyExists"));
        continue;
      }
    } else {
      if (!cur) {
        results.emplace_back(fail("key not found: " + op->key, "NotFound"));
        continue;
      }
      if (op->expected_revision > 0 && cur->mod_revision != op->expected_revision) {
        if (op->kind == WriteOp::Kind::kUpdate) {
          results.emplace_back(fail("revision mismatch on " + op->key + ": have " +
                                        std::to_string(cur->mod_revision) + ", expected " +
                                        std::to_string(op->expected_revision),
                                    "Conflict"));
        } else {
          results.emplace_back(fail("revision mismatch on " + op->key, "Conflict"));
        }
        continue;
      }
    }
    Event e;
    e.type = op->kind == WriteOp::Kind::kRemove ? EventType::kDelete : EventType::kPut;
    e.created = op->kind == WriteOp::Kind::kCreate;
    int64_t create_rev = cur ? cur->create_revision : 0;
    const std::string& value = op->kind == WriteOp::Kind::kRemove ? cur->value : op->value;
    if (auto st = write(rev + 1, op->key, value, e.type, e.created, create_rev, cur ? cur->mod_revision : 0); !st) {
      (void)exec("ROLLBACK");
      return fail_all(st.error());
    }
    ++rev;
    e.kv = KeyValue{op->key, value, create_rev ? create_rev : rev, rev};
    if (op->kind == WriteOp::Kind::kRemove) {
      results.emplace_back(*cur);  // the last value, with the key's last write as mod_revision
    } else {
      results.emplace_back(e.kv);
    }
    events.push_back(std::move(e));
  }
  if (events.empty()) {
    (void)exec("ROLLBACK");
    return results;
  }
  // No meta row per batch (one page less per commit): the revision is the log's last row, and
  // meta's 'revision' is written before compaction could delete that row (and on close).
  if (auto st = step_done(*commit_, "commit"); !st) {
    (void)exec("ROLLBACK");
    return fail_all(st.error());
  }
  revision_ = rev;
  cache_.apply(events);
  for (const auto& e : events) fan_out(e);
  return results;
}

void SqliteStore::fan_out(const Event& e) {
  for (auto* w : watchers_) {
    if (e.kv.key.compare(0, w->prefix().size(), w->prefix()) == 0) w->push(e);
  }
}

Result<KeyValue> SqliteStore::submit(WriteOp& op) {
  constexpr size_t kMaxBatch = 512;
  std::unique_lock<std::mutex> q(qmu_);
  pending_.push_back(&op);
  op.cv.wait(q, [&] { return op.result.has_value() || !committing_; });
  if (op.result) return std::move(*op.result);
  // Leader: commit what is queued (our own op is among it, not yet taken by another leader).
  committing_ = true;
  std::vector<WriteOp*> batch;
  if (pending_.size() <= kMaxBatch) {
    batch.swap(pending_);
  } else {
    // Our op may sit beyond the cut: always take it, keep the queue order otherwise.
    batch.assign(pending_.begin(), pending_.begin() + kMaxBatch);
    pending_.erase(pending_.begin(), pending_.begin() + kMaxBatch);
    if (std::find(batch.begin(), batch.end(), &op) == batch.end()) {
      batch.insert(batch.end(), pending_.begin(), pending_.end());
      pending_.clear();
    }
  }
  q.unlock();
  wait_for_wal_room();
  std::vector<Result<KeyValue>> results;
  {
    std::lock_guard<std::mutex> l(mu_);
    results = commit_batch(batch);
  }
  q.lock();
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->result = std::move(results[i]);
    if (batch[i] != &op) batch[i]->cv.notify_one();  // only the waiters of this batch wake
  }
  committing_ = false;
  // The oldest queued writer leads the next batch (the others sleep until their result is set).
  if (!pending_.empty()) pending_.front()->cv.notify_one();
  q.unlock();
  return std::move(*op.result);
}

Result<KeyValue> SqliteStore::create(const std::string& key, const std::string& value) {
  WriteOp op{WriteOp::Kind::kCreate, key, value, 0, std::nullopt, {}};
  return submit(op);
}

Result<KeyValue> SqliteStore::update(const std::string& key, const std::string& value,
                                     int64_t expected_revision) {
  WriteOp op{WriteOp::Kind::kUpdate, key, value, expected_revision, std::nullopt, {}};
  return submit(op);
}

Result<KeyValue> SqliteStore::remove(const std::string& key, int64_t expected_revision) {
  static const std::string kNone;
  WriteOp op{WriteOp::Kind::kRemove, key, kNone, expected_revision, std::nullopt, {}};
  return submit(op);
}

Result<std::unique_ptr<Watch>> SqliteStore::watch(const std::string& prefix, int64_t from_revision) {
  std::lock_guard<std::mutex> l(mu_);
  if (from_revision < compacted_) {
    return fail("The resourceVersion for the provided watch is too old.", "Expired");
  }
  auto w = std::make_unique<SqliteWatch>(this, prefix, opts_.max_watch_backlog);
  if (from_revision < revision_) {
    auto* s = replay_->get();
    ResetOnExit reset_replay(s);
    sqlite3_bind_int64(s, 1, from_revision);
    bind_text(s, 2, prefix);
    bind_text(s, 3, prefix_end(prefix));
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      Event e;
      e.type = sqlite3_column_int(s, 2) == 0 ? EventType::kPut : EventType::kDelete;
      e.created = sqlite3_column_int(s, 3) != 0;
      e.kv.key = column_string(s, 1);
      e.kv.value = column_string(s, 4);
      e.kv.create_revision = sqlite3_column_int64(s, 5);
      e.kv.mod_revision = sqlite3_column_int64(s, 0);
      w->push(e);
    }
    if (rc != SQLITE_DONE) return db_error("watch replay");
  }
  watchers_.push_back(w.get());
  return std::unique_ptr<Watch>(std::move(w));
}

void SqliteStore::unregister(SqliteWatch* w) {
  std::lock_guard<std::mutex> l(mu_);
  watchers_.erase(std::remove(watchers_.begin(), watchers_.end(), w), watchers_.end());
}

Status SqliteStore::save_revision() {
  auto* m = meta_set_->get();
  sqlite3_bind_int64(m, 1, revision_);
  bind_text(m, 2, "revision");
  int rc = sqlite3_step(m);
  sqlite3_reset(m);
  if (rc != SQLITE_DONE) return db_error("meta revision");
  return {};
}

Status SqliteStore::compact_locked(int64_t revision) {
  if (revision <= compacted_) return {};
  revision = std::min(revision, revision_);
  // The delete below may remove the log's last row, which is where open() finds the revision.
  K3DPP_TRY(save_revision());
  // Keep each key's last write at or below the new compacted revision unless it was a delete:
  // lists at revisions after it (continue tokens) rebuild a key's past value from that row. A
  // write is superseded at the revision when a later write of its key at or below it names it
  // as `prev`.
  Stmt del(db_,
           "DELETE FROM log WHERE rev <= ?1 AND (type = 1 OR rev IN "
           "(SELECT prev FROM log WHERE rev <= ?1 AND prev > 0))");
  auto* s = del.get();
  sqlite3_bind_int64(s, 1, revision);
  if (sqlite3_step(s) != SQLITE_DONE) return db_error("compact");
  auto* m = meta_set_->get();
  sqlite3_bind_int64(m, 1, revision);
  bind_text(m, 2, "compacted");
  if (sqlite3_step(m) != SQLITE_DONE) return db_error("compact meta");
  compacted_ = revision;
  log_->debug("compacted to revision {}", revision);
  return {};
}

Status SqliteStore::compact(int64_t revision) {
  std::lock_guard<std::mutex> l(mu_);
  return compact_locked(revision);
}

Status SqliteStore::compact_keep(int64_t keep_revisions, std::chrono::seconds min_age) {
  std::lock_guard<std::mutex> l(mu_);
  int64_t by_count = revision_ - keep_revisions;
  if (by_count <= compacted_) return {};
  // The newest revision older than min_age: never compact past it.
  Stmt q(db_, "SELECT COALESCE(MAX(rev), 0) FROM log WHERE ts < ?");
  auto* s = q.get();
  sqlite3_bind_int64(s, 1, now_unix() - min_age.count());
  int64_t by_age = 0;
  if (sqlite3_step(s) == SQLITE_ROW) by_age = sqlite3_column_int64(s, 0);
  return compact_locked(std::min(by_count, by_age));
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite(const SqliteOptions& options) {
  auto s = std::make_unique<SqliteStore>(options);
  if (auto st = s->open(); !st) return st.error();
  return std::unique_ptr<Store>(std::move(s));
}

}  // namespace k3dpp::store
