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
