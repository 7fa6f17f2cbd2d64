// Cron schedules as Kubernetes' CronJobs understand them (robfig/cron v3 ParseStandard and Next),
// with IANA time zones from the system's tzdata. Pure apart from reading zone files; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace k3dpp::cron {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

// An IANA time zone ("Europe/Amsterdam"; "" and "UTC" are UTC). Copyable, cheap.
class Zone {
 public:
  Zone();  // UTC
  const std::string& name() const { return name_; }
  // Wall-clock fields of t in this zone.
  struct Civil {
    int year, month, day, hour, minute, second;
    int weekday;  // 0 = Sunday
  };
  Civil civil(TimePoint t) const;
  // The instant of a wall-clock time (fields normalised as Go's time.Date does: month 13 is next
  // January); a time skipped by a DST jump maps as Go maps it (the offset before the transition).
  TimePoint from_civil(long long year, int month, int day, int hour, int minute, int second) const;
  // RFC 3339 with this zone's offset ("2024-03-01T10:00:00+01:00", "Z" for UTC), as Go's
  // time.Format(time.RFC3339) prints a time in a location.
  std::string rfc3339(TimePoint t) const;

  struct Impl;

 private:
  friend Result<Zone> load_zone(std::string_view name);
  std::string name_;
  std::shared_ptr<const Impl> impl_;
};

// Go's time.LoadLocation: "" and "UTC" are UTC; otherwise a zone file under the tzdata directory.
// Error message "unknown time zone NAME" (kind "NotFound").
Result<Zone> load_zone(std::string_view name);

struct Schedule {
  // Bit i set: value i matches. kStar marks a field given as "*" or "?" (robfig's starBit).
  static constexpr uint64_t kStar = uint64_t{1} << 63;
  uint64_t minute = 0, hour = 0, dom = 0, month = 0, dow = 0;
  // @every: a constant delay (whole seconds, at least 1 s); the fields above are unused then.
  std::optional<std::chrono::seconds> every;
  Zone zone;  // from a TZ=/CRON_TZ= prefix, else the zone passed to parse_standard
};

// robfig/cron's ParseStandard: error texts as robfig returns them (kind "Invalid"), e.g.
// "expected exactly 5 fields, found 1: [foo]", "end of range (60) above maximum (59): 60".
Result<Schedule> parse_standard(std::string_view spec, const Zone& zone = Zone());

// The first activation strictly after `after` (robfig's Next: seconds are always 0 for five
// fields); nullopt when none within five years (e.g. "0 0 30 2 *").
std::optional<TimePoint> next(const Schedule& s, TimePoint after);

// Go's time.ParseDuration (for @every): error texts as Go's ("time: invalid duration \"x\"").
Result<std::chrono::nanoseconds> parse_go_duration(std::string_view s);

}  // namespace k3dpp::cron
