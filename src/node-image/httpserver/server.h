// The TLS HTTP/1.1 server the node binary serves the Kubernetes API with.
// An event loop: a few worker threads (sized to the cores) wait in one epoll set for any
// connection to become readable, read what it has without waiting (a request is gathered across
// wake-ups, so a client stalling mid-header or mid-body holds no thread), and once a request is
// complete handle and answer it with synchronous Beast over TlsSocket and put the connection back
// (keep-alive). A client without a certificate gets its 401 as soon as its headers are in. A worker stuck on one request (a slow
// client, a slow handler) or whose request became long-lived — chunked streams (watch, logs -f),
// 101 upgrades (websocket, SPDY) handing the raw TLS byte stream to the handler — is replaced by a
// fresh worker and keeps its thread until that exchange ends.
// Authentication: client certificates signed by the cluster CA (CN -> user, O -> groups). The
// handshake asks for a certificate but does not require one, so the anonymous paths (/cacerts and
// the token-authenticated bootstrap) work; every other path without a verified certificate gets a
// 401 Status before the handler sees it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "httpserver/http.h"

namespace k3dpp::httpserver {

struct Options {
  // "host:port", "[v6]:port" or ":port" (all addresses). Port 0 picks a free port (see port()).
  std::string listen = "127.0.0.1:0";
  std::string cert_pem;       // serving certificate (then any intermediates)
  std::string key_pem;        // its private key
  std::string client_ca_pem;  // CA(s) that sign client certificates
  // Paths served without a client certificate (request.user.authenticated == false).
  std::vector<std::string> anonymous_paths = {"/cacerts"};
  size_t body_limit = 3 * 1024 * 1024;  // larger bodies get 413 (Kubernetes' limit)
  size_t header_limit = 1024 * 1024;    // Go's default MaxHeaderBytes
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{120'000};   // keep-alive wait for the next request
  std::chrono::milliseconds header_timeout{30'000};  // first byte to end of headers
  std::chrono::milliseconds body_timeout{60'000};    // end of headers to end of body
  // Connection caps. Past max_unauthenticated_connections (no verified client certificate: a
  // handshake in progress, an anonymous or stalled client) a new connection evicts the oldest idle
  // unauthenticated one; past max_connections likewise, and when none can go the new connection
  // is closed at once. Clients with a certificate are never evicted for a new one.
  size_t max_connections = 4096;
  size_t max_unauthenticated_connections = 256;
  // Event-loop workers waiting in epoll (0 = the cores, at least 2, at most 4).
  size_t threads = 0;
  // A worker busy on one request this long (slow client or handler) is replaced by a new one.
  std::chrono::milliseconds stall_after{20};
};

class Server {
 public:
  // Binds, listens and starts accepting. Ignores SIGPIPE process-wide (writes to closed sockets
  // must fail, not kill the process).
  static Result<std::unique_ptr<Server>> start(Options options, http::Handler handler);
  ~Server();  // stop()

  uint16_t port() const;
  // Stops accepting, closes idle keep-alive connections and cuts streams (watches) and upgraded
  // connections at once (clients reconnect), lets plain requests in flight finish for up to
  // `grace`, and returns once every connection has ended (or 2 s after the grace period; late
  // threads keep the server state alive and exit on their own).
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  size_t active_connections() const;

  struct Impl;

 private:
  explicit Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace k3dpp::httpserver
