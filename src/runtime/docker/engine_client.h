// HTTP/1.1 client for a container engine's unix socket: libcurl for ordinary calls (buffered or
// streamed bodies), and a small raw client for hijacked (upgraded) connections such as exec with
// stdin. Knows nothing about the Docker API beyond the transport; thread-safe (one curl handle per call).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::runtime::docker {

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path and query, e.g. "/v1.41/containers/json?all=1"
  std::string body;
  std::string content_type;  // set when there is a body
  // Streamed upload instead of body: fills buf, returns bytes written (0 = end) or -1 on error.
  std::function<long(char* buf, size_t n)> body_source;
  int64_t body_size = -1;  // size of the streamed upload if known
  // Streamed download of a 2xx body instead of buffering; return false to abort.
  std::function<bool(const char*, size_t)> sink;
  long timeout_ms = 0;      // 0 = no overall limit
  bool log_bodies = true;   // false for binary or secret bodies (never logged then)
};

struct HttpResponse {
  long status = 0;
  std::string body;  // empty if streamed into sink (unless the status is an error)
  std::string content_type;
};

class EngineClient {
 public:
  // engine_name is used in messages ("Docker"); socket_path is the unix socket.
  EngineClient(std::string socket_path, std::string engine_name = "Docker");

  // Transport errors come back as kind "Unavailable"; HTTP error statuses are returned as responses.
  Result<HttpResponse> send(const HttpRequest& req) const;

  // POST target with a JSON body on a raw connection with "Connection: Upgrade / Upgrade: tcp",
  // then writes stdin_data, half-closes (SHUT_WR) and reads the raw stream until the engine
  // closes it. Output and input are interleaved with poll(), so large stdin cannot deadlock.
  // On a non-101/200 status the response body is returned as-is with that status.
  Result<HttpResponse> hijack(const std::string& target, const std::string& json_body,
                              const std::string& stdin_data) const;

  [[nodiscard]] const std::string& socket_path() const { return socket_path_; }

 private:
  [[nodiscard]] Error unreachable(const std::string& detail) const;

  std::string socket_path_;
  std::string engine_name_;
};

// Percent-encodes a query value (RFC 3986 unreserved characters stay).
std::string url_encode(const std::string& s);

}  // namespace k3dpp::runtime::docker
