#include "controllers/util.h"

#include <cstdio>
#include <ctime>

#include "common/strings.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

std::string rfc3339(TimePoint t) {
  std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string now_rfc3339() { return rfc3339(Clock::now()); }

std::optional<TimePoint> parse_rfc3339(std::string_view s) {
  if (s.size() < 20) return std::nullopt;
  std::tm tm{};
  int y, mo, d, h, mi, se;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  std::time_t tt = timegm(&tm);
  TimePoint t = Clock::from_time_t(tt);
  size_t i = 19;
  if (i < str.size() && str[i] == '.') {
    ++i;
    long long frac = 0, scale = 1;
    while (i < str.size() && std::isdigit(static_cast<unsigned char>(str[i]))) {
      if (scale < 1000000000LL) {
        frac = frac * 10 + (str[i] - '0');
        scale *= 10;
      }
      ++i;
    }
    t += std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(frac * (1000000000LL / scale)));
  }
  return t;
}

std::string random_suffix(size_t n) { return strings::random_string(n, kNameAlphabet); }

std::string meta_str(const json& obj, const char* field) {
  if (!obj.is_object() || !obj.contains("metadata")) return "";
  const json& m = obj["metadata"];
  if (!m.contains(field) || !m[field].is_string()) return "";
  return m[field].get<std::string>();
}

namespace {
const json& empty_object() {
  static const json kEmpty = json::object();
  return kEmpty;
}
}  // namespace

const json& labels_of(const json& obj) {
  if (obj.contains("metadata") && obj["metadata"].contains("labels") && obj["metadata"]["labels"].is_object()) {
    return obj["metadata"]["labels"];
  }
  return empty_object();
}

const json& annotations_of(const json& obj) {
  if (obj.contains("metadata") && obj["metadata"].contains("annotations") &&
      obj["metadata"]["annotations"].is_object()) {
    return obj["metadata"]["annotations"];
  }
  return empty_object();
}

bool is_deleting(const json& obj) {
  return obj.contains("metadata") && obj["metadata"].contains("deletionTimestamp") &&
         !obj["metadata"]["deletionTimestamp"].is_null();
}

const json* controller_ref(const json& obj) {
  if (!obj.contains("metadata") || !obj["metadata"].contains("ownerReferences")) return nullptr;
  for (const auto& r : obj["metadata"]["ownerReferences"]) {
    if (r.is_object() && jvalue(r, "controller", false)) return &r;
  }
  return nullptr;
}

json make_controller_ref(const json& owner) {
  return json{{"apiVersion", jvalue(owner, "apiVersion", "")},
              {"kind", jvalue(owner, "kind", "")},
              {"name", meta_str(owner, "name")},
              {"uid", meta_str(owner, "uid")},
              {"controller", true},
              {"blockOwnerDeletion", true}};
}

bool pod_is_active(const json& pod) {
  if (is_deleting(pod)) return false;
  std::string phase = pod.contains("status") ? jvalue(pod["status"], "phase", "") : "";
  return phase != "Succeeded" && phase != "Failed";
}

namespace {
const json* ready_condition(const json& pod) {
  if (!pod.contains("status") || !pod["status"].contains("conditions")) return nullptr;
  for (const auto& c : pod["status"]["conditions"]) {
    if (jvalue(c, "type", "") == "Ready") return &c;
  }
  return nullptr;
}
}  // namespace

bool pod_is_ready(const json& pod) {
  const json* c = ready_condition(pod);
  return c != nullptr && jvalue(*c, "status", "") == "True";
}

std::optional<TimePoint> pod_ready_since(const json& pod) {
  const json* c = ready_condition(pod);
  if (c == nullptr || jvalue(*c, "status", "") != "True") return std::nullopt;
  auto t = parse_rfc3339(jvalue(*c, "lastTransitionTime", ""));
  return t ? t : std::optional<TimePoint>(TimePoint{});
}

bool pod_is_available(const json& pod, long long min_ready_seconds, TimePoint now) {
  auto since = pod_ready_since(pod);
  if (!since) return false;
  if (min_ready_seconds <= 0) return true;
  return *since + std::chrono::seconds(min_ready_seconds) <= now;
}

uint32_t fnv32a(std::string_view data, uint32_t seed) {
  uint32_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string safe_encode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) out += kNameAlphabet[c % kNameAlphabet.size()];
  return out;
}

long long scaled_value(const json& intstr, long long total, bool round_up, long long dflt) {
  if (intstr.is_number_integer()) return intstr.get<long long>();
  if (intstr.is_string()) {
    std::string s = intstr.get<std::string>();
    if (!s.empty() && s.back() == '%') {
      long long pct = 0;
      if (!strings::parse_int(s.substr(0, s.size() - 1), pct)) return dflt;
      long long num = pct * total;
      return round_up ? (num + 99) / 100 : num / 100;
    }
    long long v = 0;
    if (strings::parse_int(s, v)) return v;
  }
  return dflt;
}

}  // namespace k3dpp::controllers
