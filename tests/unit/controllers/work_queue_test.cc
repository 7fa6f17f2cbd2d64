#include <doctest/doctest.h>

#include <thread>

#include "controllers/work_queue.h"

using namespace k3dpp::controllers;

TEST_CASE("work queue deduplicates and re-queues keys added while processing") {
  WorkQueue q;
  q.add("a");
  q.add("a");
  q.add("b");
  CHECK(q.size() == 2);
  std::string k;
  REQUIRE(q.get(k));
  CHECK(k == "a");
  q.add("a");  // while processing: must come back after done()
  CHECK(q.size() == 1);
  REQUIRE(q.get(k));
  CHECK(k == "b");
  q.done("a");
  REQUIRE(q.get(k));
  CHECK(k == "a");
  q.done("a");
  q.done("b");
  q.add_after("c", std::chrono::milliseconds(50));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(q.get(k));
  CHECK(k == "c");
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(45));
  std::thread t([&] { q.shutdown(); });
  t.join();
  CHECK_FALSE(q.get(k));
}

TEST_CASE("work queue: a burst of delayed adds of one key is one sync") {
  WorkQueue q;
  for (int i = 0; i < 100; ++i) q.add_after("rs", std::chrono::milliseconds(40));
  q.add_after("rs", std::chrono::milliseconds(80));  // later than the one waiting: coalesced
  q.add_after("other", std::chrono::milliseconds(60));
  std::string k;
  REQUIRE(q.get(k));
  CHECK(k == "rs");
  q.done("rs");
  REQUIRE(q.get(k));
  CHECK(k == "other");
  q.done("other");
  // Nothing else comes: the 100 adds and the later one were one.
  q.add_after("end", std::chrono::milliseconds(150));
  REQUIRE(q.get(k));
  CHECK(k == "end");
  q.done("end");
  // An earlier deadline than the waiting one still wins.
  q.add_after("x", std::chrono::milliseconds(5000));
  auto t0 = std::chrono::steady_clock::now();
  q.add_after("x", std::chrono::milliseconds(20));
  REQUIRE(q.get(k));
  CHECK(k == "x");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(4000));
  q.shutdown();
}
