#include "kubelet/logs.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/strings.h"

namespace k3dpp::kubelet {
namespace fs = std::filesystem;

Result<long long> parse_rfc3339_nanos(std::string_view ts) {
  auto bad = [&] { return fail("invalid RFC3339 timestamp \"" + std::string(ts) + "\"", "Invalid"); };
  if (ts.size() < 20 || ts[4] != '-' || ts[7] != '-' || (ts[10] != 'T' && ts[10] != 't') || ts[13] != ':' ||
      ts[16] != ':') {
    return bad();
  }
  auto num = [&](size_t pos, size_t len, int& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (ts[i] < '0' || ts[i] > '9') return false;
      out = out * 10 + (ts[i] - '0');
    }
    return true;
  };
  std::tm tm{};
  int y, mo, d, h, mi, s;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, s)) {
    return bad();
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  size_t i = 19;
  long long frac = 0;
  if (i < ts.size() && ts[i] == '.') {
    ++i;
    int digits = 0;
    while (i < ts.size() && ts[i] >= '0' && ts[i] <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (ts[i] - '0');
        ++digits;
      }
      ++i;
    }
    if (digits == 0) return bad();
    for (; digits < 9; ++digits) frac *= 10;
  }
  long long offset = 0;
  if (i < ts.size() && (ts[i] == 'Z' || ts[i] == 'z')) {
    ++i;
  } else if (i + 6 == ts.size() && (ts[i] == '+' || ts[i] == '-') && ts[i + 3] == ':') {
    int oh, om;
    if (!num(i + 1, 2, oh) || !num(i + 4, 2, om)) return bad();
    offset = (oh * 3600LL + om * 60LL) * (ts[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return bad();
  }
  if (i != ts.size()) return bad();
  long long secs = static_cast<long long>(timegm(&tm)) - offset;
  return secs * 1000000000LL + frac;
}

Result<CriLogEntry> parse_cri_log_line(std::string_view line) {
  auto bad = [&] { return fail("malformed CRI log line \"" + std::string(line.substr(0, 80)) + "\"", "Invalid"); };
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return bad();
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return bad();
  CriLogEntry e;
  e.timestamp = std::string(line.substr(0, sp1));
  auto t = parse_rfc3339_nanos(e.timestamp);
  if (!t) return bad();
  e.time_ns = *t;
  e.stream = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  if (e.stream != "stdout" && e.stream != "stderr") return bad();
  // The tag field: "F" or "P" (possibly more tags after a ':' in newer runtimes).
  auto sp3 = line.find(' ', sp2 + 1);
  std::string_view tag = line.substr(sp2 + 1, sp3 == std::string_view::npos ? std::string_view::npos : sp3 - sp2 - 1);
  if (tag.empty()) return bad();
  std::string_view first = tag.substr(0, tag.find(':'));
  if (first == "P") {
    e.partial = true;
  } else if (first != "F") {
    return bad();
  }
  e.message = sp3 == std::string_view::npos ? std::string() : std::string(line.substr(sp3 + 1));
  return e;
}

namespace {

Result<std::string> pod_dir(const std::string& ns, const std::string& pod, const LogOptions& opts) {
  if (!opts.pod_uid.empty()) {
    std::string d = opts.log_root + "/" + ns + "_" + pod + "_" + opts.pod_uid;
    if (!fs::is_directory(d)) return fail("no logs for pod " + ns + "/" + pod, "NotFound");
    return d;
  }
  std::string prefix = ns + "_" + pod + "_";
  std::error_code ec;
  std::string best;
  fs::file_time_type best_time{};
  for (const auto& ent : fs::directory_iterator(opts.log_root, ec)) {
    std::string name = ent.path().filename().string();
    // The uid has no '_', so the rest after the prefix must not contain one either.
    if (!strings::starts_with(name, prefix) || name.find('_', prefix.size()) != std::string::npos) continue;
    auto t = fs::last_write_time(ent.path(), ec);
    if (best.empty() || t > best_time) {
      best = ent.path().string();
      best_time = t;
    }
  }
  if (best.empty()) return fail("no logs for pod " + ns + "/" + pod, "NotFound");
  return best;
}

}  // namespace

Result<std::string> container_log_path(const std::string& ns, const std::string& pod, const std::string& container,
                                       const LogOptions& opts) {
  auto dir = pod_dir(ns, pod, opts);
  if (!dir) return dir.error();
  std::vector<long long> attempts;
  std::error_code ec;
  for (const auto& ent : fs::directory_iterator(*dir + "/" + container, ec)) {
    std::string name = ent.path().filename().string();
    long long n;
    if (strings::ends_with(name, ".log") && strings::parse_int(name.substr(0, name.size() - 4), n)) {
      attempts.push_back(n);
    }
  }
  std::sort(attempts.begin(), attempts.end());
  if (attempts.empty()) {
    return fail("container \"" + container + "\" in pod \"" + pod + "\" has no logs", "NotFound");
  }
  if (opts.previous) {
    if (attempts.size() < 2) {
      return fail("previous terminated container \"" + container + "\" in pod \"" + pod + "\" not found", "NotFound");
    }
    return *dir + "/" + container + "/" + std::to_string(attempts[attempts.size() - 2]) + ".log";
  }
  return *dir + "/" + container + "/" + std::to_string(attempts.back()) + ".log";
}

Status read_container_log(const std::string& ns, const std::string& pod, const std::string& container,
                          const LogOptions& opts, const std::function<bool(std::string_view)>& out,
                          std::stop_token stop) {
  auto path = container_log_path(ns, pod, container, opts);
  if (!path) return path.error();
  std::ifstream in(*path, std::ios::binary);
  if (!in) return fail("cannot open " + *path, "NotFound");

  long long budget = opts.limit_bytes.value_or(-1);
  bool stopped = false;
  auto emit = [&](const CriLogEntry& e) {
    if (stopped) return;
    if (opts.since_ns && e.time_ns < *opts.since_ns) return;
    std::string s = opts.timestamps ? e.timestamp + " " + e.message : e.message;
    if (!e.partial) s += '\n';
    if (budget >= 0) {
      if (budget == 0) {
        stopped = true;
        return;
      }
      if (static_cast<long long>(s.size()) > budget) s.resize(static_cast<size_t>(budget));
      budget -= static_cast<long long>(s.size());
    }
    if (!out(s)) stopped = true;
  };

  // Initial read: everything up to the last complete line (tail applied here).
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t consumed = content.rfind('\n');
  consumed = consumed == std::string::npos ? 0 : consumed + 1;
  std::deque<CriLogEntry> entries;
  size_t pos = 0;
  while (pos < consumed) {
    size_t nl = content.find('\n', pos);
    auto e = parse_cri_log_line(std::string_view(content).substr(pos, nl - pos));
    pos = nl + 1;
    if (!e) continue;  // skip garbage, as the kubelet does
    if (opts.since_ns && e->time_ns < *opts.since_ns) continue;
    entries.push_back(std::move(*e));
  }
  if (opts.tail_lines) {
    // Count whole lines (an F entry ends one) from the end.
    long long lines = 0;
    size_t keep_from = entries.size();
    for (size_t i = entries.size(); i-- > 0;) {
      if (!entries[i].partial) {
        if (lines == *opts.tail_lines) break;
        ++lines;
      }
      keep_from = i;
    }
    if (*opts.tail_lines <= 0) keep_from = entries.size();
    entries.erase(entries.begin(), entries.begin() + static_cast<long>(keep_from));
  }
  for (const auto& e : entries) emit(e);
  if (!opts.follow || stopped) return {};

  // Follow: poll for appended data.
  std::string pending = content.substr(consumed);
  auto offset = static_cast<std::streamoff>(content.size());
  while (!stop.stop_requested() && !stopped) {
    in.clear();
    in.seekg(offset);
    std::string more((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!more.empty()) {
      offset += static_cast<std::streamoff>(more.size());
      pending += more;
      size_t p = 0, nl;
      while ((nl = pending.find('\n', p)) != std::string::npos) {
        auto e = parse_cri_log_line(std::string_view(pending).substr(p, nl - p));
        if (e) emit(*e);
        p = nl + 1;
      }
      pending.erase(0, p);
      continue;
    }
    if (opts.keep_following && !opts.keep_following()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {};
}

Result<LogOptions> log_options_from_query(const std::map<std::string, std::string>& query, std::string& container,
                                          long long now_ns) {
  LogOptions o;
  auto get = [&](const char* k) -> const std::string* {
    auto it = query.find(k);
    return it == query.end() ? nullptr : &it->second;
  };
  auto boolean = [&](const char* k, bool& out) -> Status {
    if (const std::string* v = get(k)) {
      if (*v == "true" || *v == "1" || v->empty()) {
        out = true;
      } else if (*v == "false" || *v == "0") {
        out = false;
      } else {
        return fail("invalid value \"" + *v + "\" for " + k, "BadRequest");
      }
    }
    return {};
  };
  auto integer = [&](const char* k, std::optional<long long>& out, long long min) -> Status {
    if (const std::string* v = get(k)) {
      long long n;
      if (!strings::parse_int(*v, n) || n < min) return fail("invalid value \"" + *v + "\" for " + k, "BadRequest");
      out = n;
    }
    return {};
  };
  container = get("container") ? *get("container") : "";
  K3DPP_TRY(boolean("follow", o.follow));
  K3DPP_TRY(boolean("previous", o.previous));
  K3DPP_TRY(boolean("timestamps", o.timestamps));
  K3DPP_TRY(integer("tailLines", o.tail_lines, 0));
  K3DPP_TRY(integer("limitBytes", o.limit_bytes, 1));
  std::optional<long long> since_seconds;
  K3DPP_TRY(integer("sinceSeconds", since_seconds, 1));
  if (since_seconds) o.since_ns = now_ns - *since_seconds * 1000000000LL;
  if (const std::string* v = get("sinceTime")) {
    if (since_seconds) return fail("at most one of sinceTime or sinceSeconds may be specified", "BadRequest");
    auto t = parse_rfc3339_nanos(*v);
    if (!t) return fail("invalid value \"" + *v + "\" for sinceTime", "BadRequest");
    o.since_ns = *t;
  }
  return o;
}

Result<std::string> read_container_log(const std::string& ns, const std::string& pod, const std::string& container,
                                       const LogOptions& opts) {
  LogOptions o = opts;
  o.follow = false;
  std::string all;
  auto st = read_container_log(ns, pod, container, o, [&](std::string_view s) {
    all.append(s);
    return true;
  });
  if (!st) return st.error();
  return all;
}

}  // namespace k3dpp::kubelet
