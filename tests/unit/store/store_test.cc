#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "store/store.h"

#ifndef K3DPP_STORE_TEST_ETCD
#include <sqlite3.h>
#endif

using namespace k3dpp;
using namespace std::chrono_literals;

namespace {

// The same cases run against each backend: this file is compiled once for SQLite (store_test)
// and once for a real etcd (etcd_store_test, K3DPP_STORE_TEST_ETCD: open_mem() returns a store
// under a fresh key prefix of an etcd the test started). Revisions are checked relative to the
// store's revision at the start of a case (0 for SQLite; etcd's is global and starts at 1).
#ifdef K3DPP_STORE_TEST_ETCD
}  // namespace
std::unique_ptr<store::Store> open_mem();  // etcd_store_test.cc
namespace {
constexpr auto kWait = std::chrono::milliseconds(5000);   // an event that must arrive
constexpr auto kQuiet = std::chrono::milliseconds(1000);  // long enough to say none follows
#else
constexpr auto kWait = std::chrono::milliseconds(100);
constexpr auto kQuiet = std::chrono::milliseconds(50);
std::unique_ptr<store::Store> open_mem() {
  auto s = store::open_sqlite({":memory:"});
  REQUIRE(s.has_value());
  return std::move(*s);
}
#endif

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/k3dpp-store-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// The list tests run on the in-memory store and, for SQLite, on a file database too: there lists
// run on their own read-only connection, in one snapshot, without the writers' lock.
template <typename F>
void on_list_stores(F check) {
  SUBCASE("in memory") {
    auto s = open_mem();
    check(*s);
  }
#ifndef K3DPP_STORE_TEST_ETCD
  SUBCASE("file database") {
    TempDir dir;
    auto s = store::open_sqlite({(dir.path / "state.db").string()});
    REQUIRE(s.has_value());
    check(**s);
  }
#endif
}

}  // namespace

TEST_CASE("create, get, update, remove with revisions") {
  auto s = open_mem();
  const int64_t base = s->current_revision();
  auto a = s->create("/registry/pods/default/a", "A1");
  REQUIRE(a);
  CHECK(a->mod_revision == base + 1);
  CHECK(a->create_revision == base + 1);
  auto dup = s->create("/registry/pods/default/a", "X");
  REQUIRE(!dup);
  CHECK(dup.error().kind == "AlreadyExists");

  auto b = s->create("/registry/pods/other/b", "B1");
  REQUIRE(b);
  CHECK(b->mod_revision == base + 2);

  auto u = s->update("/registry/pods/default/a", "A2", base + 1);
  REQUIRE(u);
  CHECK(u->mod_revision == base + 3);
  CHECK(u->create_revision == base + 1);
  auto stale = s->update("/registry/pods/default/a", "A3", base + 1);
  REQUIRE(!stale);
  CHECK(stale.error().kind == "Conflict");
  auto missing = s->update("/registry/pods/default/zz", "Z", 0);
  REQUIRE(!missing);
  CHECK(missing.error().kind == "NotFound");

  auto g = s->get("/registry/pods/default/a");
  REQUIRE(g);
  CHECK(g->value == "A2");
  CHECK(g->mod_revision == base + 3);

  auto l = s->list("/registry/pods/");
  REQUIRE(l);
  CHECK(l->revision == base + 3);
  REQUIRE(l->items.size() == 2);
  CHECK(l->items[0].key == "/registry/pods/default/a");
  auto ld = s->list("/registry/pods/default/");
  REQUIRE(ld);
  CHECK(ld->items.size() == 1);

  auto badpre = s->remove("/registry/pods/default/a", base + 2);
  REQUIRE(!badpre);
  CHECK(badpre.error().kind == "Conflict");
  auto r = s->remove("/registry/pods/default/a", base + 3);
  REQUIRE(r);
  CHECK(r->value == "A2");
  CHECK(s->current_revision() == base + 4);
  CHECK(s->get("/registry/pods/default/a").error().kind == "NotFound");
}

TEST_CASE("watch replays history then delivers live events in order") {
  auto s = open_mem();
  const int64_t base = s->current_revision();
  REQUIRE(s->create("/registry/pods/ns/a", "1"));
  REQUIRE(s->create("/registry/services/ns/a", "svc"));
  REQUIRE(s->update("/registry/pods/ns/a", "2", 0));
  auto w = s->watch("/registry/pods/", base);
  REQUIRE(w);
  auto e1 = (*w)->next(kWait);
  REQUIRE(e1);
  CHECK(e1->type == store::EventType::kPut);
  CHECK(e1->created);
  CHECK(e1->kv.value == "1");
  CHECK(e1->kv.mod_revision == base + 1);
  auto e2 = (*w)->next(kWait);
  REQUIRE(e2);
  CHECK(!e2->created);
  CHECK(e2->kv.mod_revision == base + 3);
  CHECK(!(*w)->next(20ms));  // the service is filtered out; nothing else

  REQUIRE(s->remove("/registry/pods/ns/a", 0));
  auto e3 = (*w)->next(kWait);
  REQUIRE(e3);
  CHECK(e3->type == store::EventType::kDelete);
  CHECK(e3->kv.value == "2");
  CHECK(e3->kv.mod_revision == base + 4);

  // From the current revision: only new events.
  auto w2 = s->watch("/registry/", s->current_revision());
  REQUIRE(w2);
  CHECK(!(*w2)->next(10ms));
  REQUIRE(s->create("/registry/pods/ns/c", "c"));
  auto e4 = (*w2)->next(kWait);
  REQUIRE(e4);
  CHECK(e4->kv.key == "/registry/pods/ns/c");
}

TEST_CASE("concurrent writers; every watcher sees every event once, in revision order") {
  auto s = open_mem();
  const int64_t base = s->current_revision();
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 150;
  constexpr int kWatchers = 10;
  std::vector<std::unique_ptr<store::Watch>> watches;
  for (int i = 0; i < kWatchers; ++i) {
    auto w = s->watch("/registry/", base);
    REQUIRE(w);
    watches.push_back(std::move(*w));
  }
  std::atomic<int> conflicts{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerWriter; ++i) {
        std::string key = "/registry/configmaps/ns/w" + std::to_string(t) + "-" + std::to_string(i % 10);
        if (i < 10) {
          (void)s->create(key, std::to_string(i));
        } else {
          auto cur = s->get(key);
          if (!cur) continue;
          auto u = s->update(key, std::to_string(i), cur->mod_revision);
          if (!u) conflicts++;
        }
      }
    });
  }
  // A shared counter key: contended read-modify-write must never lose an increment.
  REQUIRE(s->create("/registry/counter", "0"));
  std::vector<std::thread> incs;
  for (int t = 0; t < 2; ++t) {
    incs.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        for (;;) {
          auto cur = s->get("/registry/counter");
          int v = std::stoi(cur->value);
          if (s->update("/registry/counter", std::to_string(v + 1), cur->mod_revision)) break;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  for (auto& t : incs) t.join();
  CHECK(s->get("/registry/counter")->value == "100");
  CHECK(conflicts.load() == 0);  // each key has one writer

  int64_t last = s->current_revision();
  CHECK(last - base == kWriters * kPerWriter + 1 + 100);
  for (auto& w : watches) {
    int64_t expect = base + 1;
    while (expect <= last) {
      auto e = w->next(1000ms);
      REQUIRE(e);
      CHECK(e->kv.mod_revision == expect);
      ++expect;
    }
    CHECK(!w->next(1ms));
  }
}

#ifndef K3DPP_STORE_TEST_ETCD  // etcd_store_test.cc has its own restart case
TEST_CASE("data survives a restart") {
  TempDir dir;
  std::string db = (dir.path / "state.db").string();
  {
    auto s = store::open_sqlite({db});
    REQUIRE(s);
    REQUIRE((*s)->create("/registry/namespaces/dev", "{\"a\":1}"));
    REQUIRE((*s)->create("/registry/namespaces/tmp", "x"));
    REQUIRE((*s)->remove("/registry/namespaces/tmp", 0));
  }
  auto s = store::open_sqlite({db});
  REQUIRE(s);
  CHECK((*s)->current_revision() == 3);
  auto g = (*s)->get("/registry/namespaces/dev");
  REQUIRE(g);
  CHECK(g->value == "{\"a\":1}");
  CHECK(g->mod_revision == 1);
  auto n = (*s)->create("/registry/namespaces/next", "y");
  REQUIRE(n);
  CHECK(n->mod_revision == 4);
  auto w = (*s)->watch("/registry/namespaces/", 1);  // history persisted too
  REQUIRE(w);
  auto e = (*w)->next(kWait);
  REQUIRE(e);
  CHECK(e->kv.mod_revision == 2);
}

// Commits do not write the revision into meta (one page less each): it comes back from the log's
// last row, and from meta when a compaction removed that row. A store that is never closed (a
// crash: the first store is leaked, its connection still open) must still resume its revisions.
TEST_CASE("the revision survives a crash, also after a compaction removed the log's last row") {
  TempDir dir;
  std::string db = (dir.path / "state.db").string();
  {
    auto s = store::open_sqlite({db});
    REQUIRE(s);
    REQUIRE((*s)->create("/registry/namespaces/a", "1"));
    REQUIRE((*s)->create("/registry/namespaces/b", "2"));
    REQUIRE((*s)->remove("/registry/namespaces/b", 0));  // revision 3: a delete, compacted away below
    REQUIRE((*s)->compact(3));
    (void)s->release();  // no clean close
  }
  {
    auto s = store::open_sqlite({db});
    REQUIRE(s);
    CHECK((*s)->current_revision() == 3);
    auto c = (*s)->create("/registry/namespaces/c", "3");
    REQUIRE(c);
    CHECK(c->mod_revision == 4);
    (void)s->release();
  }
  auto s = store::open_sqlite({db});
  REQUIRE(s);
  CHECK((*s)->current_revision() == 4);
  auto d = (*s)->create("/registry/namespaces/d", "4");
  REQUIRE(d);
  CHECK(d->mod_revision == 5);
  CHECK(!(*s)->get("/registry/namespaces/b"));
  CHECK((*s)->get("/registry/namespaces/a"));
}

// A database written before log rows carried `prev` (log_key_rev index instead): opening it links
// each row to its key's previous write and drops the index; lists at older revisions and
// compaction then work from the links.
TEST_CASE("a database from before log.prev: migrated, its history still answers lists") {
  TempDir dir;
  std::string db = (dir.path / "state.db").string();
  {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    const char* old = R"sql(
      PRAGMA journal_mode=WAL;
      CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, create_rev INTEGER NOT NULL,
                       mod_rev INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE log (rev INTEGER PRIMARY KEY, key TEXT NOT NULL, type INTEGER NOT NULL,
                        created INTEGER NOT NULL, value BLOB NOT NULL, create_rev INTEGER NOT NULL,
                        ts INTEGER NOT NULL);
      CREATE INDEX log_key_rev ON log(key, rev);
      CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO meta VALUES ('revision', 5), ('compacted', 0);
      INSERT INTO log VALUES (1, '/r/a', 0, 1, 'A1', 1, 0), (2, '/r/b', 0, 1, 'B1', 2, 0),
                             (3, '/r/a', 0, 0, 'A2', 1, 0), (4, '/r/b', 1, 0, 'B1', 2, 0),
                             (5, '/r/b', 0, 1, 'B2', 5, 0);
      INSERT INTO kv VALUES ('/r/a', 'A2', 1, 3), ('/r/b', 'B2', 5, 5);
    )sql";
    REQUIRE(sqlite3_exec(h, old, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(h);
  }
  auto s = store::open_sqlite({db});
  REQUIRE(s);
  auto& st = **s;
  CHECK(st.current_revision() == 5);
  auto at = [&](int64_t rev) {
    store::ListOptions o;
    o.revision = rev;
    auto l = st.list("/r/", o);
    REQUIRE(l);
    std::string out;
    for (auto& kv : l->items) out += kv.value + "@" + std::to_string(kv.mod_revision) + " ";
    return out;
  };
  CHECK(at(1) == "A1@1 ");
  CHECK(at(2) == "A1@1 B1@2 ");
  CHECK(at(3) == "A2@3 B1@2 ");
  CHECK(at(4) == "A2@3 ");
  REQUIRE(st.update("/r/a", "A3", 3));  // revision 6, written with prev = 3
  CHECK(at(5) == "A2@3 B2@5 ");
  REQUIRE(st.compact(4));  // drops A1 (superseded by 3), B1 and its delete (4)
  CHECK(at(4) == "A2@3 ");
  CHECK(at(5) == "A2@3 B2@5 ");
  auto w = st.watch("/r/", 4);
  REQUIRE(w);
  int n = 0;
  while ((*w)->next(kQuiet)) ++n;
  CHECK(n == 2);  // revisions 5 and 6
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  auto count = [&](const char* sql) {
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, sql, -1, &q, nullptr) == SQLITE_OK);
    int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    return v;
  };
  CHECK(count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'log_key_rev'") == 0);
  CHECK(count("SELECT COUNT(*) FROM log") == 3);  // 3 (A2: a's last write at 4), 5, 6
  CHECK(count("SELECT prev FROM log WHERE rev = 6") == 3);
  sqlite3_close(h);
}
#endif

TEST_CASE("compaction makes old watches Expired") {
  auto s = open_mem();
  const int64_t base = s->current_revision();
  for (int i = 0; i < 20; ++i) REQUIRE(s->create("/registry/k/" + std::to_string(i), "v"));
  // Everything is younger than 5 minutes: compact_keep must not drop anything.
  REQUIRE(s->compact_keep(5, std::chrono::seconds(300)));
  CHECK(s->compacted_revision() == 0);
  REQUIRE(s->compact_keep(5, std::chrono::seconds(-10)));
  CHECK(s->compacted_revision() == base + 15);
  auto old = s->watch("/registry/", base + 3);
  REQUIRE(!old);
  CHECK(old.error().kind == "Expired");
  auto ok = s->watch("/registry/", base + 15);
  REQUIRE(ok);
  auto e = (*ok)->next(kWait);
  REQUIRE(e);
  CHECK(e->kv.mod_revision == base + 16);
  CHECK(s->list("/registry/")->items.size() == 20);  // live keys are kept
}

TEST_CASE("100 concurrent watches through 1,000 writes each see every event in order") {
  auto s = open_mem();
  const int64_t base = s->current_revision();
  constexpr int kWatches = 100;
  constexpr int kWrites = 1000;
  std::vector<std::unique_ptr<store::Watch>> watches;
  for (int i = 0; i < kWatches; ++i) watches.push_back(s->watch("/registry/pods/", base).value());
  std::vector<int> seen(kWatches, 0);
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      for (int i = r; i < kWatches; i += 4) {
        int64_t expect = base + 1;
        while (expect <= base + kWrites) {
          auto e = watches[static_cast<size_t>(i)]->next(std::chrono::seconds(5));
          if (!e || e->kv.mod_revision != expect) {
            bad++;
            break;
          }
          ++expect;
        }
        seen[static_cast<size_t>(i)] = static_cast<int>(expect - 1 - base);
      }
    });
  }
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) {
      std::string key = "/registry/pods/ns/p" + std::to_string(i % 50);
      if (i < 50) (void)s->create(key, "v");
      else (void)s->update(key, std::to_string(i), 0);
    }
  });
  writer.join();
  for (auto& t : readers) t.join();
  CHECK(bad.load() == 0);
  for (int n : seen) CHECK(n == kWrites);
}

TEST_CASE("list pages: limit, start, remaining, and a consistent snapshot at an older revision") {
  on_list_stores([](store::Store& st) {
    auto* s = &st;
    for (const char* n : {"a", "b", "c", "d", "e"}) REQUIRE(s->create(std::string("/registry/pods/default/") + n, n));
    REQUIRE(s->create("/registry/pods/other/x", "x"));
    REQUIRE(s->create("/registry/services/default/a", "svc"));
    const std::string prefix = "/registry/pods/default/";

    store::ListOptions o;
    o.limit = 2;
    auto p1 = s->list(prefix, o);
    REQUIRE(p1);
    REQUIRE(p1->items.size() == 2);
    CHECK(p1->items[1].key == prefix + "b");
    CHECK(p1->more);
    CHECK(p1->remaining == 3);
    int64_t at = p1->revision;

    // Writes after the first page do not show in the later pages of the same snapshot.
    REQUIRE(s->remove(prefix + "c", 0));
    REQUIRE(s->update(prefix + "d", "D2", 0));
    REQUIRE(s->create(prefix + "bb", "new"));
    o.start = prefix + "b" + std::string(1, '\0');
    o.revision = at;
    auto p2 = s->list(prefix, o);
    REQUIRE(p2);
    REQUIRE(p2->items.size() == 2);
    CHECK(p2->items[0].key == prefix + "c");
    CHECK(p2->items[0].value == "c");
    CHECK(p2->items[1].key == prefix + "d");
    CHECK(p2->items[1].value == "d");
    CHECK(p2->items[1].mod_revision <= at);
    CHECK(p2->revision == at);
    CHECK(p2->more);
    CHECK(p2->remaining == 1);
    o.start = prefix + "d" + std::string(1, '\0');
    auto p3 = s->list(prefix, o);
    REQUIRE(p3);
    REQUIRE(p3->items.size() == 1);
    CHECK(p3->items[0].key == prefix + "e");
    CHECK_FALSE(p3->more);

    // Now (revision 0): the current state.
    auto now = s->list(prefix, store::ListOptions{});
    REQUIRE(now);
    std::vector<std::string> keys;
    for (auto& kv : now->items) keys.push_back(kv.key.substr(prefix.size()));
    CHECK(keys == std::vector<std::string>{"a", "b", "bb", "d", "e"});
    CHECK_FALSE(now->more);
  });
}

TEST_CASE("pages at an older revision while most keys change: the same items and counts as one full list") {
  on_list_stores([](store::Store& st) {
    auto* s = &st;
    const std::string prefix = "/registry/pods/ns/";
    auto key = [&](int i) {
      char b[16];
      std::snprintf(b, sizeof b, "p%03d", i);
      return prefix + b;
    };
    for (int i = 0; i < 120; ++i) REQUIRE(s->create(key(i), "v1-" + std::to_string(i)));
    store::ListOptions o;
    o.limit = 7;
    auto first = s->list(prefix, o);
    REQUIRE(first);
    int64_t at = first->revision;
    // After the snapshot: most keys updated, some deleted, some deleted and created again, new ones.
    for (int i = 0; i < 120; ++i) {
      if (i % 5 == 0) {
        REQUIRE(s->remove(key(i), 0));
        if (i % 10 == 0) REQUIRE(s->create(key(i), "again"));
      } else if (i % 7 != 0) {
        REQUIRE(s->update(key(i), "v2-" + std::to_string(i), 0));
      }
    }
    for (int i = 120; i < 130; ++i) REQUIRE(s->create(key(i), "late"));

    store::ListOptions all;
    all.revision = at;
    auto full = s->list(prefix, all);
    REQUIRE(full);
    REQUIRE(full->items.size() == 120);
    std::vector<std::string> paged;
    for (const auto& kv : first->items) paged.push_back(kv.key + "=" + kv.value);
    o.revision = at;
    o.start = first->items.back().key + std::string(1, '\0');
    int64_t expect_remaining = first->remaining;
    for (int guard = 0; guard < 100; ++guard) {
      auto p = s->list(prefix, o);
      REQUIRE(p);
      CHECK(p->revision == at);
      CHECK(static_cast<int64_t>(p->items.size()) + (p->more ? p->remaining : 0) == expect_remaining);
      for (const auto& kv : p->items) paged.push_back(kv.key + "=" + kv.value);
      if (!p->more) break;
      expect_remaining = p->remaining;
      o.start = p->items.back().key + std::string(1, '\0');
    }
    std::vector<std::string> want;
    for (const auto& kv : full->items) want.push_back(kv.key + "=" + kv.value);
    CHECK(paged == want);
    for (const auto& v : paged) CHECK(v.find("=v1-") != std::string::npos);
  });
}

TEST_CASE("compaction keeps each live key's last write: lists after it stay answerable, before it Expired") {
  on_list_stores([](store::Store& st) {
    auto* s = &st;
    const std::string prefix = "/registry/configmaps/default/";
    REQUIRE(s->create(prefix + "a", "A1"));
    REQUIRE(s->create(prefix + "b", "B1"));
    REQUIRE(s->update(prefix + "a", "A2", 0));
    REQUIRE(s->create(prefix + "gone", "G"));
    REQUIRE(s->remove(prefix + "gone", 0));
    int64_t snapshot = s->current_revision();  // a=A2, b=B1
    REQUIRE(s->update(prefix + "b", "B2", 0));
    REQUIRE(s->remove(prefix + "a", 0));
    REQUIRE(s->create(prefix + "gone", "G2"));
    REQUIRE(s->compact(snapshot));

    store::ListOptions o;
    o.revision = snapshot;
    auto l = s->list(prefix, o);
    REQUIRE(l);
    REQUIRE(l->items.size() == 2);
    CHECK(l->items[0].value == "A2");
    CHECK(l->items[1].value == "B1");

    o.revision = snapshot - 1;
    auto old = s->list(prefix, o);
    REQUIRE_FALSE(old);
    CHECK(old.error().kind == "Expired");

    // Watches from the compacted revision still replay only what came after it.
    auto w = s->watch(prefix, snapshot);
    REQUIRE(w);
    int n = 0;
    while ((*w)->next(kQuiet)) ++n;
    CHECK(n == 3);
  });
}

#ifndef K3DPP_STORE_TEST_ETCD  // the SQLite store's group commit and its read connection
TEST_CASE("group commit: racing writers of one key, each op checked in queue order") {
  TempDir dir;
  auto opened = store::open_sqlite({(dir.path / "state.db").string()});
  REQUIRE(opened);
  auto& s = *opened;
  auto w = s->watch("/registry/", 0);
  REQUIRE(w);
  constexpr int kThreads = 32;
  std::atomic<int> created{0}, exists{0}, other{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      auto r = s->create("/registry/configmaps/ns/same", std::to_string(t));
      if (r) {
        created++;
      } else if (r.error().kind == "AlreadyExists") {
        exists++;
      } else {
        other++;
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(created.load() == 1);
  CHECK(exists.load() == kThreads - 1);
  CHECK(other.load() == 0);
  CHECK(s->current_revision() == 1);

  // Conditional updates racing on the same expected revision: exactly one wins per round.
  for (int round = 0; round < 5; ++round) {
    auto cur = s->get("/registry/configmaps/ns/same");
    REQUIRE(cur);
    std::atomic<int> won{0}, conflict{0};
    ts.clear();
    for (int t = 0; t < 16; ++t) {
      ts.emplace_back([&, t] {
        auto r = s->update("/registry/configmaps/ns/same", "v" + std::to_string(t), cur->mod_revision);
        if (r) {
          won++;
        } else if (r.error().kind == "Conflict") {
          conflict++;
        }
      });
    }
    for (auto& t : ts) t.join();
    CHECK(won.load() == 1);
    CHECK(conflict.load() == 15);
  }
  CHECK(s->current_revision() == 6);

  // Many writers of distinct keys: every write returns, a get right after it sees it (the read
  // connection never serves a snapshot older than a returned write), revisions are dense.
  ts.clear();
  std::atomic<int> stale{0};
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string key = "/registry/configmaps/ns/k" + std::to_string(t) + "-" + std::to_string(i);
        auto r = s->create(key, "x");
        if (!r) {
          other++;
          continue;
        }
        auto g = s->get(key);
        if (!g || g->mod_revision != r->mod_revision) stale++;
        auto rm = s->remove(key, r->mod_revision);
        if (!rm || rm->mod_revision != r->mod_revision) other++;
        if (s->get(key)) stale++;
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(stale.load() == 0);
  CHECK(other.load() == 0);
  int64_t last = s->current_revision();
  CHECK(last == 6 + kThreads * 20 * 2);
  // The watcher saw every revision once, in order, creates as created and deletes as deletes.
  int64_t expect = 1;
  while (expect <= last) {
    auto e = w.value()->next(1000ms);
    REQUIRE(e);
    CHECK(e->kv.mod_revision == expect);
    if (expect == 1) CHECK(e->created);
    ++expect;
  }
  CHECK(!w.value()->next(1ms));
}
#endif

#ifndef K3DPP_STORE_TEST_ETCD
TEST_CASE("the WAL stays bounded under a stream of writes and reads (checkpoints restart it)") {
  TempDir dir;
  std::string db = (dir.path / "state.db").string();
  auto opened = store::open_sqlite({db});
  REQUIRE(opened);
  auto& s = *opened;
  std::string value(1000, 'v');
  for (int i = 0; i < 10000; ++i) {
    std::string key = "/registry/configmaps/ns/c" + std::to_string(i);
    REQUIRE(s->create(key, value));
    if (i % 3 == 0) REQUIRE(s->get(key));
    if (i % 500 == 0) REQUIRE(s->list("/registry/configmaps/ns/", store::ListOptions{"", 10, 0}));
  }
  // ~10 MB of values, ~45k page writes: a WAL that never restarts passes 180 MB; the background
  // checkpointer keeps it near 32 MiB, writers wait for it at 96 MiB.
  auto wal = std::filesystem::file_size(db + "-wal");
  CHECK(wal < 100u * 1024 * 1024);
}

// The same with concurrent writers (group commit batches): the background checkpointer must
// still restart the WAL. It once did not: past 64 MiB each commit tried its own checkpoint, which
// made the background pass fail BUSY, so neither completed and the WAL grew without bound.
TEST_CASE("the WAL stays bounded under concurrent writers") {
  TempDir dir;
  std::string db = (dir.path / "state.db").string();
  auto opened = store::open_sqlite({db});
  REQUIRE(opened);
  auto& s = *opened;
  std::string value(1500, 'v');
  std::atomic<int> failed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 3000; ++i) {
        if (!s->create("/registry/configmaps/ns/t" + std::to_string(t) + "-" + std::to_string(i), value)) ++failed;
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(failed.load() == 0);
  auto wal = std::filesystem::file_size(db + "-wal");
  CHECK(wal < 100u * 1024 * 1024);
}
#endif

// get() answers hot keys from a cache the commits keep fresh: a read that returns after a write
// returned must see that write (or a later one), never an older cached row — also when reads
// race the commits and refill the cache meanwhile. Runs on both backends (etcd has no cache: the
// same guarantee must hold).
TEST_CASE("get sees every returned write at once: updates and deletes racing cached reads") {
#ifdef K3DPP_STORE_TEST_ETCD
  auto s = open_mem();
  constexpr int kRounds = 200;
#else
  TempDir dir;
  auto opened = store::open_sqlite({(dir.path / "state.db").string()});
  REQUIRE(opened);
  auto s = std::move(*opened);
  constexpr int kRounds = 2000;
#endif
  const std::string key = "/registry/configmaps/ns/hot";
  auto first = s->create(key, "v0");
  REQUIRE(first);
  std::atomic<bool> stop{false};
  std::atomic<int> stale{0}, reads{0};
  std::atomic<int64_t> returned{first->mod_revision};  // mod_revision of the last write that returned
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        int64_t floor = returned.load();
        auto got = s->get(key);
        ++reads;
        if (got && got->mod_revision < floor) ++stale;
      }
    });
  }
  int64_t rev = first->mod_revision;
  for (int i = 1; i <= kRounds; ++i) {
    auto u = s->update(key, "v" + std::to_string(i), rev);
    REQUIRE(u);
    rev = u->mod_revision;
    returned = rev;
    auto got = s->get(key);
    REQUIRE(got);
    CHECK(got->mod_revision == rev);
    CHECK(got->value == "v" + std::to_string(i));
  }
  stop = true;
  for (auto& t : readers) t.join();
  CHECK(stale.load() == 0);
  CHECK(reads.load() > 0);
  // A delete is seen at once, and a re-create with its new value.
  REQUIRE(s->get(key));
  REQUIRE(s->remove(key, 0));
  auto gone = s->get(key);
  REQUIRE(!gone);
  CHECK(gone.error().kind == "NotFound");
  auto again = s->create(key, "reborn");
  REQUIRE(again);
  auto got = s->get(key);
  REQUIRE(got);
  CHECK(got->value == "reborn");
  CHECK(got->create_revision == again->mod_revision);
}
