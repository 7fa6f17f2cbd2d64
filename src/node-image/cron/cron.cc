#include "cron/cron.h"

#include <absl/time/civil_time.h>
#include <absl/time/time.h>

#include <cctype>
#include <climits>
#include <map>
#include <vector>

namespace k3dpp::cron {

struct Zone::Impl {
  absl::TimeZone tz;
};

namespace {

std::shared_ptr<const Zone::Impl> utc_impl() {
  static const auto u = std::make_shared<const Zone::Impl>(Zone::Impl{absl::UTCTimeZone()});
  return u;
}

absl::Time to_absl(TimePoint t) { return absl::FromChrono(t); }
TimePoint from_absl(absl::Time t) {
  return std::chrono::time_point_cast<Clock::duration>(absl::ToChronoTime(t));
}

// Go's strconv.Quote for the ASCII texts a schedule holds.
std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// ---- robfig/cron v3 parser --------------------------------------------------------------------

struct Bounds {
  unsigned min, max;
  const std::map<std::string, unsigned>* names;
};

const std::map<std::string, unsigned> kMonthNames = {{"jan", 1}, {"feb", 2},  {"mar", 3},  {"apr", 4},
                                                     {"may", 5}, {"jun", 6},  {"jul", 7},  {"aug", 8},
                                                     {"sep", 9}, {"oct", 10}, {"nov", 11}, {"dec", 12}};
const std::map<std::string, unsigned> kDowNames = {{"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3},
                                                   {"thu", 4}, {"fri", 5}, {"sat", 6}};
const Bounds kMinutes{0, 59, nullptr}, kHours{0, 23, nullptr}, kDom{1, 31, nullptr}, kMonths{1, 12, &kMonthNames},
    kDow{0, 6, &kDowNames};

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

// strings.Fields / strings.FieldsFunc: non-empty runs between separators.
std::vector<std::string> fields_of(std::string_view s, bool (*is_sep)(char)) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (is_sep(c)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_comma(char c) { return c == ','; }

// Go's strconv.Atoi, then robfig's "negative number" check.
Result<unsigned> must_parse_int(const std::string& expr) {
  std::string_view s = expr;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  bool ok = !s.empty();
  long long v = 0;
  bool range = false;
  for (char c : s) {
    if (c < '0' || c > '9') {
      ok = false;
      break;
    }
    if (v > (LLONG_MAX - (c - '0')) / 10) {
      range = true;
    } else {
      v = v * 10 + (c - '0');
    }
  }
  if (!ok) {
    return fail("failed to parse int from " + expr + ": strconv.Atoi: parsing " + go_quote(expr) + ": invalid syntax",
                "Invalid");
  }
  if (range) {
    return fail("failed to parse int from " + expr + ": strconv.Atoi: parsing " + go_quote(expr) +
                    ": value out of range",
                "Invalid");
  }
  if (neg && v != 0) return fail("negative number (" + std::to_string(-v) + ") not allowed: " + expr, "Invalid");
  if (v > UINT_MAX) return fail("end of range (" + std::to_string(v) + ") above maximum: " + expr, "Invalid");
  return static_cast<unsigned>(v);
}

Result<unsigned> parse_int_or_name(const std::string& expr, const Bounds& r) {
  if (r.names != nullptr) {
    std::string lower;
    for (char c : expr) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = r.names->find(lower);
    if (it != r.names->end()) return it->second;
  }
  return must_parse_int(expr);
}

uint64_t bits(unsigned min, unsigned max, unsigned step) {
  uint64_t b = 0;
  for (unsigned i = min; i <= max && i < 63; i += step) b |= uint64_t{1} << i;
  return b;
}

Result<uint64_t> get_range(const std::string& expr, const Bounds& r) {
  auto range_and_step = split(expr, '/');
  auto low_and_high = split(range_and_step[0], '-');
  bool single = low_and_high.size() == 1;
  unsigned start = 0, end = 0, step = 1;
  uint64_t extra = 0;
  if (low_and_high[0] == "*" || low_and_high[0] == "?") {
    start = r.min;
    end = r.max;
    extra = Schedule::kStar;
  } else {
    auto s = parse_int_or_name(low_and_high[0], r);
    if (!s) return s.error();
    start = *s;
    if (low_and_high.size() == 1) {
      end = start;
    } else if (low_and_high.size() == 2) {
      auto e = parse_int_or_name(low_and_high[1], r);
      if (!e) return e.error();
      end = *e;
    } else {
      return fail("too many hyphens: " + expr, "Invalid");
    }
  }
  if (range_and_step.size() == 2) {
    auto st = must_parse_int(range_and_step[1]);
    if (!st) return st.error();
    step = *st;
    if (single) end = r.max;  // "N/step" means "N-max/step"
    if (step > 1) extra = 0;
  } else if (range_and_step.size() > 2) {
    return fail("too many slashes: " + expr, "Invalid");
  }
  if (start < r.min) {
    return fail("beginning of range (" + std::to_string(start) + ") below minimum (" + std::to_string(r.min) +
                    "): " + expr,
                "Invalid");
  }
  if (end > r.max) {
    return fail("end of range (" + std::to_string(end) + ") above maximum (" + std::to_string(r.max) + "): " + expr,
                "Invalid");
  }
  if (start > end) {
    return fail("beginning of range (" + std::to_string(start) + ") beyond end of range (" + std::to_string(end) +
                    "): " + expr,
                "Invalid");
  }
  if (step == 0) return fail("step of range should be a positive number: " + expr, "Invalid");
  return bits(start, end, step) | extra;
}

Result<uint64_t> get_field(const std::string& field, const Bounds& r) {
  uint64_t b = 0;
  for (const auto& part : fields_of(field, is_comma)) {
    auto x = get_range(part, r);
    if (!x) return x.error();
    b |= *x;
  }
  return b;
}

uint64_t all(const Bounds& r) { return bits(r.min, r.max, 1) | Schedule::kStar; }

Result<Schedule> parse_descriptor(const std::string& d, const Zone& zone) {
  Schedule s;
  s.zone = zone;
  auto one = [](unsigned v) { return uint64_t{1} << v; };
  if (d == "@yearly" || d == "@annually") {
    s.minute = one(0), s.hour = one(0), s.dom = one(1), s.month = one(1), s.dow = all(kDow);
  } else if (d == "@monthly") {
    s.minute = one(0), s.hour = one(0), s.dom = one(1), s.month = all(kMonths), s.dow = all(kDow);
  } else if (d == "@weekly") {
    s.minute = one(0), s.hour = one(0), s.dom = all(kDom), s.month = all(kMonths), s.dow = one(0);
  } else if (d == "@daily" || d == "@midnight") {
    s.minute = one(0), s.hour = one(0), s.dom = all(kDom), s.month = all(kMonths), s.dow = all(kDow);
  } else if (d == "@hourly") {
    s.minute = one(0), s.hour = all(kHours), s.dom = all(kDom), s.month = all(kMonths), s.dow = all(kDow);
  } else if (d.rfind("@every ", 0) == 0) {
    std::string arg = d.substr(7);
    auto dur = parse_go_duration(arg);
    if (!dur) return fail("failed to parse duration " + d + ": " + dur.error().message, "Invalid");
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(*dur);
    if (*dur < std::chrono::seconds(1)) secs = std::chrono::seconds(1);
    s.every = secs;
  } else {
    return fail("unrecognized descriptor: " + d, "Invalid");
  }
  return s;
}

bool day_matches(const Schedule& s, const Zone::Civil& c) {
  bool dom = ((uint64_t{1} << c.day) & s.dom) != 0;
  bool dow = ((uint64_t{1} << c.weekday) & s.dow) != 0;
  if ((s.dom & Schedule::kStar) != 0 || (s.dow & Schedule::kStar) != 0) return dom && dow;
  return dom || dow;
}

}  // namespace

// ---- zones ------------------------------------------------------------------------------------

Zone::Zone() : name_("UTC"), impl_(utc_impl()) {}

Zone::Civil Zone::civil(TimePoint t) const {
  auto ci = impl_->tz.At(to_absl(t));
  const auto& cs = ci.cs;
  int wd = 0;
  switch (absl::GetWeekday(cs)) {
    case absl::Weekday::sunday: wd = 0; break;
    case absl::Weekday::monday: wd = 1; break;
    case absl::Weekday::tuesday: wd = 2; break;
    case absl::Weekday::wednesday: wd = 3; break;
    case absl::Weekday::thursday: wd = 4; break;
    case absl::Weekday::friday: wd = 5; break;
    case absl::Weekday::saturday: wd = 6; break;
  }
  return {static_cast<int>(cs.year()), cs.month(), cs.day(), cs.hour(), cs.minute(), cs.second(), wd};
}

TimePoint Zone::from_civil(long long year, int month, int day, int hour, int minute, int second) const {
  absl::CivilSecond cs(year, month, day, hour, minute, second);  // normalises out-of-range fields
  auto ti = impl_->tz.At(cs);
  // Skipped (DST gap): Go's time.Date uses the offset in effect before the transition, i.e. the
  // instant `pre`; repeated: the first (earlier) instant, which is `pre` as well.
  return from_absl(ti.pre);
}

std::string Zone::rfc3339(TimePoint t) const {
  auto whole = std::chrono::time_point_cast<std::chrono::seconds>(t);
  if (whole > t) whole -= std::chrono::seconds(1);
  std::string s = absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", to_absl(whole), impl_->tz);
  // Go's RFC 3339 layout prints a zero offset as "Z".
  if (s.size() >= 6 && s.compare(s.size() - 6, 6, "+00:00") == 0) s.replace(s.size() - 6, 6, "Z");
  return s;
}

Result<Zone> load_zone(std::string_view name) {
  Zone z;
  if (name.empty() || name == "UTC") return z;
  std::string n(name);
  // Abseil also understands "Fixed/UTC+hh:mm:ss" and "localtime"; Go's LoadLocation does not.
  if (n.rfind("Fixed/", 0) == 0 || n == "localtime" || n == "Local") {
    return fail("unknown time zone " + n, "NotFound");
  }
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(n, &tz)) return fail("unknown time zone " + n, "NotFound");
  z.name_ = n;
  z.impl_ = std::make_shared<const Zone::Impl>(Zone::Impl{tz});
  return z;
}

// ---- parsing ----------------------------------------------------------------------------------

Result<Schedule> parse_standard(std::string_view spec_in, const Zone& zone) {
  std::string spec(spec_in);
  if (spec.empty()) return fail("empty spec string", "Invalid");
  Zone loc = zone;
  if (spec.rfind("TZ=", 0) == 0 || spec.rfind("CRON_TZ=", 0) == 0) {
    size_t sp = spec.find(' ');
    size_t eq = spec.find('=');
    std::string name = spec.substr(eq + 1, sp == std::string::npos ? std::string::npos : sp - eq - 1);
    auto z = load_zone(name);
    if (!z || sp == std::string::npos) {
      return fail("provided bad location " + name + ": " + (z ? "missing schedule" : z.error().message), "Invalid");
    }
    loc = *z;
    spec = spec.substr(sp);
    size_t b = spec.find_first_not_of(" \t\n\r\v\f");
    spec = b == std::string::npos ? std::string() : spec.substr(b);
    size_t e = spec.find_last_not_of(" \t\n\r\v\f");
    if (e != std::string::npos) spec.resize(e + 1);
  }
  if (!spec.empty() && spec[0] == '@') return parse_descriptor(spec, loc);
  auto f = fields_of(spec, is_space);
  if (f.size() != 5) {
    std::string joined = "[";
    for (size_t i = 0; i < f.size(); ++i) joined += (i ? " " : "") + f[i];
    joined += "]";
    return fail("expected exactly 5 fields, found " + std::to_string(f.size()) + ": " + joined, "Invalid");
  }
  Schedule s;
  s.zone = loc;
  const Bounds* bounds[] = {&kMinutes, &kHours, &kDom, &kMonths, &kDow};
  uint64_t* out[] = {&s.minute, &s.hour, &s.dom, &s.month, &s.dow};
  for (int i = 0; i < 5; ++i) {
    auto b = get_field(f[i], *bounds[i]);
    if (!b) return b.error();
    *out[i] = *b;
  }
  return s;
}

// ---- next -------------------------------------------------------------------------------------

std::optional<TimePoint> next(const Schedule& s, TimePoint after) {
  using namespace std::chrono;
  if (s.every) {
    // robfig's ConstantDelaySchedule: after + delay, sub-second part dropped.
    auto secs = time_point_cast<seconds>(after);
    if (secs > after) secs -= seconds(1);
    return time_point_cast<Clock::duration>(secs + *s.every);
  }
  const Zone& z = s.zone;
  // The upcoming whole second.
  auto secs = time_point_cast<seconds>(after);
  if (secs > after) secs -= seconds(1);
  TimePoint t = time_point_cast<Clock::duration>(secs + seconds(1));
  bool added = false;
  int year_limit = z.civil(t).year + 5;
  for (int guard = 0; guard < 100000; ++guard) {
  wrap:
    auto c = z.civil(t);
    if (c.year > year_limit) return std::nullopt;
    while (((uint64_t{1} << c.month) & s.month) == 0) {
      if (!added) {
        added = true;
        t = z.from_civil(c.year, c.month, 1, 0, 0, 0);
        c = z.civil(t);
      }
      t = z.from_civil(c.year, c.month + 1, c.day, c.hour, c.minute, c.second);
      c = z.civil(t);
      if (c.month == 1) goto wrap;
    }
    while (!day_matches(s, c)) {
      if (!added) {
        added = true;
        t = z.from_civil(c.year, c.month, c.day, 0, 0, 0);
        c = z.civil(t);
      }
      t = z.from_civil(c.year, c.month, c.day + 1, c.hour, c.minute, c.second);
      c = z.civil(t);
      // DST moved midnight: back to 0h.
      if (c.hour != 0) {
        t += c.hour > 12 ? hours(24 - c.hour) : -hours(c.hour);
        c = z.civil(t);
      }
      if (c.day == 1) goto wrap;
    }
    while (((uint64_t{1} << c.hour) & s.hour) == 0) {
      if (!added) {
        added = true;
        t = z.from_civil(c.year, c.month, c.day, c.hour, 0, 0);
      }
      t += hours(1);
      c = z.civil(t);
      if (c.hour == 0) goto wrap;
    }
    while (((uint64_t{1} << c.minute) & s.minute) == 0) {
      if (!added) {
        added = true;
        t = time_point_cast<Clock::duration>(floor<minutes>(t));
      }
      t += minutes(1);
      c = z.civil(t);
      if (c.minute == 0) goto wrap;
    }
    // Seconds: the standard parser sets second 0 only.
    if (c.second != 0) {
      added = true;
      t += seconds(60 - c.second);
      goto wrap;
    }
    return t;
  }
  return std::nullopt;
}

// ---- Go durations -----------------------------------------------------------------------------

Result<std::chrono::nanoseconds> parse_go_duration(std::string_view orig) {
  auto invalid = [&] { return fail("time: invalid duration " + go_quote(orig), "Invalid"); };
  std::string_view s = orig;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return invalid();
  static const std::map<std::string, double> kUnits = {{"ns", 1},        {"us", 1e3},  {"\xC2\xB5s", 1e3},
                                                       {"\xCE\xBCs", 1e3}, {"ms", 1e6},  {"s", 1e9},
                                                       {"m", 60e9},      {"h", 3600e9}};
  long double total = 0;
  while (!s.empty()) {
    if (!(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.')) return invalid();
    size_t i = 0;
    std::string num;
    bool digits = false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) num += s[i++], digits = true;
    if (i < s.size() && s[i] == '.') {
      num += s[i++];
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) num += s[i++], digits = true;
    }
    if (!digits) return invalid();
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !std::isdigit(static_cast<unsigned char>(s[u]))) ++u;
    if (u == 0) return fail("time: missing unit in duration " + go_quote(orig), "Invalid");
    std::string unit(s.substr(0, u));
    auto it = kUnits.find(unit);
    if (it == kUnits.end()) {
      return fail("time: unknown unit " + go_quote(unit) + " in duration " + go_quote(orig), "Invalid");
    }
    s.remove_prefix(u);
    total += std::stold(num == "." ? "0" : num) * it->second;
    if (total > 9.2233720368547758e18L) return invalid();
  }
  auto ns = std::chrono::nanoseconds(static_cast<long long>(total));
  return neg ? -ns : ns;
}

}  // namespace k3dpp::cron
