// Container logs as the runtime writes them (CRI log format, one entry per line):
//   <RFC3339Nano timestamp> <stdout|stderr> <F|P> <message>
// F ends a line, P is a partial line continued by the next entry. Files live at
// /var/log/pods/<ns>_<pod>_<uid>/<container>/<restartCount>.log.
// read_container_log gives `kubectl logs` semantics: tail, since, timestamps, previous,
// limitBytes, follow. The API server calls it (logs subresource) on the node running the pod.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "common/result.h"

namespace k3dpp::kubelet {

struct CriLogEntry {
  std::string timestamp;  // as written (RFC3339Nano)
  long long time_ns = 0;  // parsed
  std::string stream;     // "stdout" | "stderr"
  bool partial = false;
  std::string message;    // without the trailing newline
};

// Parses one line (without its '\n'). Error kind "Invalid" on a malformed line.
Result<CriLogEntry> parse_cri_log_line(std::string_view line);
// "2024-05-01T10:00:00.123456789Z" (or with a +hh:mm offset) → ns since the epoch.
Result<long long> parse_rfc3339_nanos(std::string_view ts);

struct LogOptions {
  std::string pod_uid;                 // empty: the newest /var/log/pods/<ns>_<pod>_* directory
  bool previous = false;               // the attempt before the current one
  std::optional<long long> tail_lines;  // last N lines
  std::optional<long long> since_ns;    // entries at or after this time (since_seconds: caller converts)
  bool timestamps = false;              // prefix each line with its RFC3339Nano timestamp
  std::optional<long long> limit_bytes;
  bool follow = false;
  // While following: called between polls; return false to end (e.g. the container exited).
  std::function<bool()> keep_following;
  std::string log_root = "/var/log/pods";  // tests point this elsewhere
};

// Writes the log to `out` chunk by chunk (out returns false to stop). Errors: kind "NotFound"
// when there is no log for that pod/container (or no previous attempt).
Status read_container_log(const std::string& ns, const std::string& pod, const std::string& container,
                          const LogOptions& opts, const std::function<bool(std::string_view)>& out,
                          std::stop_token stop = {});

// The query of GET /api/v1/namespaces/NS/pods/NAME/log (container, follow, previous, tailLines,
// sinceSeconds, sinceTime, timestamps, limitBytes) as LogOptions; `container` gets the container
// parameter ("" when absent). now_ns anchors sinceSeconds. Errors (kind "BadRequest") name the
// parameter, e.g. `invalid value "x" for tailLines`.
Result<LogOptions> log_options_from_query(const std::map<std::string, std::string>& query, std::string& container,
                                          long long now_ns);

// Convenience: the whole (non-follow) output as a string.
Result<std::string> read_container_log(const std::string& ns, const std::string& pod, const std::string& container,
                                       const LogOptions& opts);

// The path of the log file that read_container_log would read.
Result<std::string> container_log_path(const std::string& ns, const std::string& pod, const std::string& container,
                                       const LogOptions& opts);

}  // namespace k3dpp::kubelet
