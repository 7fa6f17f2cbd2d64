// A small blocking HTTP/1.1-over-TLS client on OpenSSL (no libcurl): one TlsHttpConnection per
// TCP connection, kept alive by the caller between requests. Used by client::HttpsClient (the
// nodes' ApiClient) and agent::HttpsClient (bootstrap, registration). Not linking libcurl keeps
// its ~25 dependent libraries (GnuTLS, Kerberos, LDAP, ssh2, ...) out of every k3dpp-node
// process: ~4.3 MiB of RSS in an agent.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "common/result.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace k3dpp::client {

// "https://host:port[/...]" → host and port ("443" when absent). IPv6 hosts in brackets.
struct HttpsEndpoint {
  std::string host;
  std::string port;
};
Result<HttpsEndpoint> parse_https_url(const std::string& url);

struct TlsConfig {
  std::string ca_pem, ca_file;      // trust anchors; both empty = no verification (bootstrap, tests)
  std::string cert_pem, cert_file;  // client certificate (PEM), optional
  std::string key_pem, key_file;    // its key
};

// An SSL_CTX built once from a TlsConfig; shared by all connections of a client (thread-safe).
class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> make(const TlsConfig& config);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }
  bool verify() const { return verify_; }

 private:
  TlsContext() = default;
  SSL_CTX* ctx_ = nullptr;
  bool verify_ = false;
};

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, last value wins
  std::string body;                            // for a stream: only a non-2xx body
  bool keep_alive = true;                      // the connection may carry another request
};

using Clock = std::chrono::steady_clock;

class TlsHttpConnection {
 public:
  // TCP connect + TLS handshake (the server's certificate checked against the context's CA and
  // the host name or IP) before `deadline`.
  static Result<std::unique_ptr<TlsHttpConnection>> open(std::shared_ptr<TlsContext> ctx, const HttpsEndpoint& ep,
                                                         Clock::time_point deadline);
  ~TlsHttpConnection();
  TlsHttpConnection(const TlsHttpConnection&) = delete;
  TlsHttpConnection& operator=(const TlsHttpConnection&) = delete;

  // One request (`head` holds the request line and headers, without the blank line; Host,
  // Content-Length and Connection are added) and its whole response. With `sink`, a 2xx body is
  // handed to it piece by piece as it arrives (chunked encoding removed) instead of kept; the
  // sink returning false, or `stop`, ends the exchange (returns the status; the connection is
  // then not reusable). `deadline` bounds everything; streams pass Clock::time_point::max().
  // `*got_response` (when given) tells whether any response byte arrived, so a caller can retry
  // a request that failed on a stale keep-alive connection.
  Result<HttpReply> exchange(const std::string& method, const std::string& target, const std::string& headers,
                             std::string_view body, Clock::time_point deadline,
                             const std::function<bool(std::string_view)>* sink = nullptr,
                             std::stop_token stop = {}, bool* got_response = nullptr);

  // The server closed (or wrote to) an idle connection: not worth reusing.
  bool idle_closed() const;
  std::string local_ip() const;

 private:
  TlsHttpConnection() = default;
  Status write_all(std::string_view data, Clock::time_point deadline);
  // Reads more into buf_; 0 bytes = orderly close. Fails on timeout / stop / error.
  Result<size_t> read_some(Clock::time_point deadline, const std::stop_token& stop);
  Status wait(bool for_write, Clock::time_point deadline, const std::stop_token& stop);

  std::shared_ptr<TlsContext> ctx_;
  std::string host_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string buf_;  // received, not yet consumed
};

}  // namespace k3dpp::client
