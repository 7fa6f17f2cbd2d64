#include "kubelet/start_trace.h"

#include <doctest/doctest.h>

using k3dpp::kubelet::StartTrace;
using namespace std::chrono_literals;

TEST_CASE("StartTrace adds repeated steps up and keeps their first order") {
  auto t0 = StartTrace::Clock::time_point{} + 1h;
  StartTrace t(t0);
  t.add("sandbox", 420ms);
  t.add("image", 5ms);
  t.add("events", 7ms);
  t.add("image", 3ms);
  t.add("events", 2ms);
  CHECK(t.steps().size() == 3);
  CHECK(t.summary(t0 + 812ms) == "total 812 ms: sandbox 420, image 8, events 9");
  CHECK(t.total_ms(t0 + 1500ms) == 1500);
}

TEST_CASE("StartTrace::timed returns the result and records the step") {
  StartTrace t;
  int v = t.timed("work", [] { return 42; });
  CHECK(v == 42);
  REQUIRE(t.steps().size() == 1);
  CHECK(t.steps()[0].first == "work");
  t.timed("void", [] {});
  CHECK(t.steps().size() == 2);
}

TEST_CASE("StartTrace with no steps prints only the total") {
  auto t0 = StartTrace::Clock::time_point{} + 1h;
  StartTrace t(t0);
  CHECK(t.summary(t0 + 3ms) == "total 3 ms");
}
