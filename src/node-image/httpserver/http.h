// The HTTP surface the API server is written against. httpserver/ implements it with Boost.Beast
// over TLS (an epoll event loop with a few workers, HTTP/1.1 keep-alive); apiserver/ only sees these types.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace k3dpp::http {

// Case-insensitive header map (names compared lower-cased; stored lower-cased).
using Headers = std::multimap<std::string, std::string>;

// Who is calling, from the verified client certificate: CN = name, O = groups.
struct User {
  std::string name;                  // "admin", "system:node:k3dpp-dev-agent-0"
  std::vector<std::string> groups;   // "system:masters", "system:nodes"
  bool authenticated = false;        // false only on the unauthenticated paths (/cacerts)
};

struct Request {
  std::string method;   // "GET", "POST", ...
  std::string target;   // raw request target, "/api/v1/pods?limit=500"
  std::string path;     // decoded path without the query, "/api/v1/pods"
  std::multimap<std::string, std::string> query;  // decoded query parameters, in order
  Headers headers;      // lower-cased names
  std::string body;
  User user;
  std::string remote;   // "ip:port"

  // First value of a header (name lower-case) or query parameter, if present.
  std::optional<std::string> header(const std::string& lower_name) const;
  std::optional<std::string> param(const std::string& name) const;
  std::vector<std::string> params(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"Content-Type","application/json"}
  std::string body;
};

// A long-lived response body sent with chunked transfer encoding (watch, logs -f).
class Stream {
 public:
  virtual ~Stream() = default;
  // Sends one chunk (flushed at once). Returns false once the client has gone away.
  virtual bool write(std::string_view chunk) = 0;
  // True once the peer closed or a write failed; cheap, non-blocking.
  virtual bool closed() = 0;
};

// A connection after a successful 101 Switching Protocols (websocket, SPDY/3.1): a byte duplex.
class Conn {
 public:
  virtual ~Conn() = default;
  // Reads up to n bytes; returns 0 on EOF/close, -1 on error. Blocks.
  virtual long read(char* buf, size_t n) = 0;
  // Writes all bytes; false on error. Safe to call from another thread than read().
  virtual bool write(std::string_view bytes) = 0;
  virtual void close() = 0;
};

// How a handler answers: exactly one of send(), stream() or upgrade() per request.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void send(Response r) = 0;
  // Starts a chunked response with the given status and headers; the caller writes until done,
  // then returns from the handler (which ends the chunked body).
  virtual Stream& stream(int status, const std::vector<std::pair<std::string, std::string>>& headers) = 0;
  // Answers 101 with the given headers (Upgrade, Connection, Sec-WebSocket-Accept, protocol...) and
  // hands over the raw connection. The handler owns it until it returns; the connection is then closed.
  virtual Conn& upgrade(const std::vector<std::pair<std::string, std::string>>& headers) = 0;
};

using Handler = std::function<void(const Request&, Responder&)>;

// --- Helpers (httpserver/http.cc) ---

// Percent-decodes s; with plus_as_space, '+' becomes ' ' (query strings). Invalid escapes are kept.
std::string url_decode(std::string_view s, bool plus_as_space);
// Splits a raw query string "a=1&b=x%20y" into decoded (name, value) pairs, in order.
std::multimap<std::string, std::string> parse_query(std::string_view raw);
// A Kubernetes Status response: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
// "message":message,"reason":reason,"code":code} with Content-Type application/json.
Response status_response(int code, std::string_view reason, std::string_view message);

}  // namespace k3dpp::http
