// Cron schedules: robfig/cron's ParseStandard errors (what Kubernetes prints for a bad
// spec.schedule), Next over ranges, steps, lists, names, descriptors, DOM/DOW rules and zones.
#include <doctest/doctest.h>

#include "cron/cron.h"

using namespace k3dpp;
using cron::TimePoint;

namespace {

TimePoint at(const std::string& rfc, const cron::Zone& z = cron::Zone()) {
  int y, mo, d, h, mi, s;
  REQUIRE(sscanf(rfc.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) == 6);
  return z.from_civil(y, mo, d, h, mi, s);
}

std::string next_of(const std::string& spec, const std::string& after, const cron::Zone& z = cron::Zone()) {
  auto s = cron::parse_standard(spec, z);
  REQUIRE_MESSAGE(s.has_value(), spec, ": ", s ? "" : s.error().message);
  auto n = cron::next(*s, at(after, z));
  return n ? z.rfc3339(*n) : "none";
}

std::string error_of(const std::string& spec) {
  auto s = cron::parse_standard(spec);
  return s ? "ok" : s.error().message;
}

}  // namespace

TEST_CASE("parse errors are robfig's texts") {
  CHECK(error_of("") == "empty spec string");
  CHECK(error_of("foo") == "expected exactly 5 fields, found 1: [foo]");
  CHECK(error_of("* * * *") == "expected exactly 5 fields, found 4: [* * * *]");
  CHECK(error_of("0 0 * * * *") == "expected exactly 5 fields, found 6: [0 0 * * * *]");
  CHECK(error_of("60 * * * *") == "end of range (60) above maximum (59): 60");
  CHECK(error_of("* 24 * * *") == "end of range (24) above maximum (23): 24");
  CHECK(error_of("* * 0 * *") == "beginning of range (0) below minimum (1): 0");
  CHECK(error_of("* * * 13 *") == "end of range (13) above maximum (12): 13");
  CHECK(error_of("* * * * 7") == "end of range (7) above maximum (6): 7");
  CHECK(error_of("5-1 * * * *") == "beginning of range (5) beyond end of range (1): 5-1");
  CHECK(error_of("*/0 * * * *") == "step of range should be a positive number: */0");
  CHECK(error_of("1-2-3 * * * *") == "too many hyphens: 1-2-3");
  CHECK(error_of("*/2/3 * * * *") == "too many slashes: */2/3");
  CHECK(error_of("x * * * *") == "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax");
  CHECK(error_of("* * * FOO *") == "failed to parse int from FOO: strconv.Atoi: parsing \"FOO\": invalid syntax");
  CHECK(error_of("@often") == "unrecognized descriptor: @often");
  CHECK(error_of("@every x") == "failed to parse duration @every x: time: invalid duration \"x\"");
  CHECK(error_of("@every 5") == "failed to parse duration @every 5: time: missing unit in duration \"5\"");
  CHECK(error_of("TZ=Nowhere/Land * * * * *") ==
        "provided bad location Nowhere/Land: unknown time zone Nowhere/Land");
  for (const char* ok : {"*/1 * * * *", "0 9-17/2 * JAN-MAR mon,WED,fri", "? * * * ?", "@hourly", "@daily",
                         "@midnight", "@weekly", "@monthly", "@yearly", "@annually", "@every 1h30m",
                         "CRON_TZ=UTC 0 0 * * *", "0,30 * 1,15 * *"}) {
    CHECK_MESSAGE(error_of(ok) == "ok", ok);
  }
}

TEST_CASE("next: minutes, steps, ranges, lists and names") {
  CHECK(next_of("*/1 * * * *", "2024-03-01T10:00:00") == "2024-03-01T10:01:00Z");
  CHECK(next_of("*/1 * * * *", "2024-03-01T10:00:30") == "2024-03-01T10:01:00Z");
  CHECK(next_of("*/15 * * * *", "2024-03-01T10:16:00") == "2024-03-01T10:30:00Z");
  CHECK(next_of("5/20 * * * *", "2024-03-01T10:46:00") == "2024-03-01T11:05:00Z");  // N/step = N-59/step
  CHECK(next_of("0 9-17/4 * * *", "2024-03-01T13:00:00") == "2024-03-01T17:00:00Z");
  CHECK(next_of("0 9-17/4 * * *", "2024-03-01T17:00:00") == "2024-03-02T09:00:00Z");
  CHECK(next_of("30 6 * * MON", "2024-03-01T00:00:00") == "2024-03-04T06:30:00Z");  // 2024-03-01 is a Friday
  CHECK(next_of("0 0 1 jan *", "2024-03-01T00:00:00") == "2025-01-01T00:00:00Z");
  CHECK(next_of("0 0 29 2 *", "2024-03-01T00:00:00") == "2028-02-29T00:00:00Z");
  CHECK(next_of("0 0 30 2 *", "2024-03-01T00:00:00") == "none");
  CHECK(next_of("0 12 31 * *", "2024-04-01T00:00:00") == "2024-05-31T12:00:00Z");
}

TEST_CASE("next: day of month OR day of week when both are restricted, AND when one is *") {
  // The 13th, or any Friday: from Sat 2024-03-02 the next is Fri 03-08 (before the 13th).
  CHECK(next_of("0 0 13 * 5", "2024-03-02T00:00:00") == "2024-03-08T00:00:00Z");
  // "*/2" in day of week has no star bit (a step > 1): OR again.
  CHECK(next_of("0 0 13 * */2", "2024-03-02T00:00:00") == "2024-03-03T00:00:00Z");
  // Day of week "*": the 13th only.
  CHECK(next_of("0 0 13 * *", "2024-03-02T00:00:00") == "2024-03-13T00:00:00Z");
}

TEST_CASE("next: descriptors and @every") {
  CHECK(next_of("@hourly", "2024-03-01T10:00:00") == "2024-03-01T11:00:00Z");
  CHECK(next_of("@daily", "2024-03-01T10:00:00") == "2024-03-02T00:00:00Z");
  CHECK(next_of("@weekly", "2024-03-01T10:00:00") == "2024-03-03T00:00:00Z");
  CHECK(next_of("@monthly", "2024-03-01T10:00:00") == "2024-04-01T00:00:00Z");
  CHECK(next_of("@yearly", "2024-03-01T10:00:00") == "2025-01-01T00:00:00Z");
  CHECK(next_of("@every 90s", "2024-03-01T10:00:00") == "2024-03-01T10:01:30Z");
  CHECK(next_of("@every 1ms", "2024-03-01T10:00:00") == "2024-03-01T10:00:01Z");  // at least 1 s
}

TEST_CASE("zones: IANA names from tzdata, Go's errors, DST") {
  auto bad = cron::load_zone("Mars/Olympus");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "unknown time zone Mars/Olympus");
  CHECK_FALSE(cron::load_zone("Local").has_value());
  REQUIRE(cron::load_zone("").has_value());
  auto ams = cron::load_zone("Europe/Amsterdam");
  REQUIRE(ams.has_value());
  // 09:00 every day in Amsterdam: 08:00Z in winter, 07:00Z in summer.
  auto s = cron::parse_standard("0 9 * * *", *ams);
  REQUIRE(s.has_value());
  auto w = cron::next(*s, at("2024-01-10T00:00:00"));
  REQUIRE(w.has_value());
  CHECK(cron::Zone().rfc3339(*w) == "2024-01-10T08:00:00Z");
  CHECK(ams->rfc3339(*w) == "2024-01-10T09:00:00+01:00");
  auto su = cron::next(*s, at("2024-07-10T00:00:00"));
  REQUIRE(su.has_value());
  CHECK(cron::Zone().rfc3339(*su) == "2024-07-10T07:00:00Z");
  // 02:30 does not exist on 2024-03-31 in Amsterdam (02:00 → 03:00): the next day's 02:30 or the
  // shifted instant, never a loop or a time before `after`.
  auto s2 = cron::parse_standard("30 2 * * *", *ams);
  REQUIRE(s2.has_value());
  auto after = at("2024-03-30T12:00:00");
  auto n = cron::next(*s2, after);
  REQUIRE(n.has_value());
  CHECK(*n > after);
  // A TZ= prefix overrides the zone passed in.
  auto tokyo = cron::parse_standard("CRON_TZ=Asia/Tokyo 0 9 * * *");
  REQUIRE(tokyo.has_value());
  CHECK(tokyo->zone.name() == "Asia/Tokyo");
  auto t = cron::next(*tokyo, at("2024-03-01T01:00:00"));
  REQUIRE(t.has_value());
  CHECK(cron::Zone().rfc3339(*t) == "2024-03-02T00:00:00Z");
}

TEST_CASE("Go durations") {
  CHECK(cron::parse_go_duration("1h30m").value() == std::chrono::minutes(90));
  CHECK(cron::parse_go_duration("1.5s").value() == std::chrono::milliseconds(1500));
  CHECK(cron::parse_go_duration("0").value() == std::chrono::nanoseconds(0));
  CHECK(cron::parse_go_duration("3d").error().message == "time: unknown unit \"d\" in duration \"3d\"");
  CHECK(cron::parse_go_duration("").error().message == "time: invalid duration \"\"");
}

TEST_CASE("fuzz: random schedules never crash; next() always ends and moves forward") {
  const std::string alphabet = "0123456789*/-,? @abcdefghijklmnopqrstuvwxyzJANFEBMONTUEZ=";
  uint32_t seed = 12345;
  auto rnd = [&] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  auto after = at("2024-03-01T10:00:00");
  int parsed = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string spec;
    size_t len = rnd() % 24;
    for (size_t k = 0; k < len; ++k) spec += alphabet[rnd() % alphabet.size()];
    if (i % 2 == 0) {
      // Five fields of cron-shaped tokens (often valid, sometimes out of range).
      const char* names[] = {"JAN", "dec", "MON", "sun", "Fri", "x"};
      auto tok = [&]() -> std::string {
        switch (rnd() % 7) {
          case 0: return "*";
          case 1: return "*/" + std::to_string(rnd() % 40);
          case 2: return std::to_string(rnd() % 65);
          case 3: return std::to_string(rnd() % 32) + "-" + std::to_string(rnd() % 65);
          case 4: return std::to_string(rnd() % 32) + "-" + std::to_string(rnd() % 65) + "/" + std::to_string(rnd() % 9);
          case 5: return std::to_string(rnd() % 32) + "," + std::to_string(rnd() % 32);
          default: return names[rnd() % 6];
        }
      };
      spec.clear();
      for (int f = 0; f < 5; ++f) spec += (f ? " " : "") + tok();
    }
    auto s = cron::parse_standard(spec);
    if (!s) {
      CHECK_FALSE(s.error().message.empty());
      continue;
    }
    ++parsed;
    auto n = cron::next(*s, after);
    if (n) CHECK(*n > after);
  }
  MESSAGE(parsed << " of 4000 random schedules parsed");
  // Sparse valid ones: the 31st of February never comes (nullopt, bounded by five years).
  auto feb = cron::parse_standard("0 0 31 2 *");
  REQUIRE(feb.has_value());
  CHECK_FALSE(cron::next(*feb, after).has_value());
}
