#include <doctest/doctest.h>

#include <vector>

#include "kubelet/backoff.h"

using namespace k3dpp::kubelet;
using namespace std::chrono_literals;

TEST_CASE("back-off: 10s doubling to 5m") {
  Backoff b;
  auto t = Backoff::Clock::time_point{} + 1000h;
  CHECK(b.get("k") == 0ms);
  std::vector<long long> seen;
  for (int i = 0; i < 8; ++i) {
    b.next("k", t);
    seen.push_back(std::chrono::duration_cast<std::chrono::seconds>(b.get("k")).count());
    t += 1s;
  }
  CHECK(seen == std::vector<long long>{10, 20, 40, 80, 160, 300, 300, 300});
}

TEST_CASE("back-off: in_backoff_since a container's finish time") {
  Backoff b;
  auto t0 = Backoff::Clock::time_point{} + 1000h;
  CHECK_FALSE(b.in_backoff_since("c", t0, t0));  // first crash restarts at once
  b.next("c", t0);
  auto finished = t0 + 2s;
  CHECK(b.in_backoff_since("c", finished, finished + 9s));
  CHECK_FALSE(b.in_backoff_since("c", finished, finished + 10s));
  b.next("c", finished + 10s);
  CHECK(b.get("c") == 20s);
}

TEST_CASE("back-off: an entry untouched for 2 x max starts over") {
  Backoff b;
  auto t = Backoff::Clock::time_point{} + 1000h;
  b.next("k", t);
  b.next("k", t);
  CHECK(b.get("k") == 20s);
  b.next("k", t + 11min);
  CHECK(b.get("k") == 10s);
  b.gc(t + 30min);
  CHECK(b.get("k") == 0ms);
}

TEST_CASE("go_duration formats like Go's Duration.String (ms precision)") {
  CHECK(go_duration(0ms) == "0s");
  CHECK(go_duration(850ms) == "850ms");
  CHECK(go_duration(1200ms) == "1.2s");
  CHECK(go_duration(1234ms) == "1.234s");
  CHECK(go_duration(10s) == "10s");
  CHECK(go_duration(65034ms) == "1m5.034s");
  CHECK(go_duration(300s) == "5m0s");
  CHECK(go_duration(3600s) == "1h0m0s");
}
