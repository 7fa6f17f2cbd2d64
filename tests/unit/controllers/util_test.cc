#include <doctest/doctest.h>

#include "controllers/util.h"

using namespace k3dpp::controllers;

TEST_CASE("pod name suffixes use the Kubernetes alphabet") {
  for (int i = 0; i < 200; ++i) {
    std::string s = random_suffix();
    REQUIRE(s.size() == 5);
    for (char c : s) CHECK(kNameAlphabet.find(c) != std::string_view::npos);
  }
  CHECK(kNameAlphabet == "bcdfghjklmnpqrstvwxz2456789");
}

TEST_CASE("safe_encode maps decimal digits like Kubernetes' SafeEncodeString") {
  CHECK(safe_encode("0123456789") == "456789bcdf");
}

TEST_CASE("rfc3339 round trip and fractional seconds") {
  auto t = parse_rfc3339("2025-11-16T11:32:56Z");
  REQUIRE(t);
  CHECK(rfc3339(*t) == "2025-11-16T11:32:56Z");
  auto f = parse_rfc3339("2025-11-16T11:32:56.500000Z");
  REQUIRE(f);
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(*f - *t).count() == 500);
  CHECK_FALSE(parse_rfc3339("garbage"));
}

TEST_CASE("intstr percentages round as maxSurge (up) and maxUnavailable (down)") {
  CHECK(scaled_value(json("25%"), 10, true, 0) == 3);
  CHECK(scaled_value(json("25%"), 10, false, 0) == 2);
  CHECK(scaled_value(json(1), 10, true, 0) == 1);
  CHECK(scaled_value(json("3"), 10, true, 0) == 3);
  CHECK(scaled_value(json("x%"), 10, true, 7) == 7);
}

TEST_CASE("pod availability honours minReadySeconds") {
  auto now = *parse_rfc3339("2025-01-01T00:00:30Z");
  json pod = {{"status", {{"phase", "Running"},
                          {"conditions", {{{"type", "Ready"}, {"status", "True"},
                                           {"lastTransitionTime", "2025-01-01T00:00:25Z"}}}}}}};
  CHECK(pod_is_ready(pod));
  CHECK(pod_is_available(pod, 0, now));
  CHECK(pod_is_available(pod, 5, now));
  CHECK_FALSE(pod_is_available(pod, 10, now));
  pod["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:29Z";
  CHECK_FALSE(pod_is_active(pod));
}
