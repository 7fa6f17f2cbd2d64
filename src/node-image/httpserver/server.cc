#include "httpserver/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "httpserver/tls_socket.h"

namespace k3dpp::httpserver {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("httpserver");
  return l;
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Splits "host:port", "[v6]:port", ":port".
Result<std::pair<std::string, std::string>> split_listen(const std::string& listen) {
  std::string host, port;
  if (!listen.empty() && listen[0] == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':')
      return fail("invalid listen address " + listen);
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return fail("invalid listen address " + listen + " (want host:port)");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  long long p = 0;
  if (!strings::parse_int(port, p) || p < 0 || p > 65535)
    return fail("invalid port in listen address " + listen);
  return std::make_pair(host, port);
}

std::string sockaddr_string(const sockaddr_storage& ss) {
  char ip[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "unknown";
}

std::vector<std::string> name_entries(X509_NAME* name, int nid) {
  std::vector<std::string> out;
  int idx = -1;
  while ((idx = X509_NAME_get_index_by_NID(name, nid, idx)) >= 0) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(name, idx);
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len >= 0) out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
  }
  return out;
}

// The user behind a verified client certificate; unauthenticated if none was sent.
http::User user_from(SSL* ssl) {
  http::User u;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return u;
  X509_NAME* subject = X509_get_subject_name(cert);
  auto cns = name_entries(subject, NID_commonName);
  if (cns.empty() || cns[0].empty()) return u;
  u.name = cns[0];
  u.groups = name_entries(subject, NID_organizationName);
  u.authenticated = true;
  return u;
}

int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  // Only HTTP/1.1: Go clients (kubectl) offer h2 first and fall back when we pick http/1.1.
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == 8 && std::memcmp(in + i + 1, "http/1.1", 8) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

Result<SSL_CTX*> make_context(const Options& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return fail("SSL_CTX_new: " + openssl_error());
  auto bad = [&](const std::string& what) {
    std::string msg = what + ": " + openssl_error();
    SSL_CTX_free(ctx);
    return fail(msg);
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                               SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Serving certificate chain.
  {
    BIO* bio = BIO_new_mem_buf(o.cert_pem.data(), static_cast<int>(o.cert_pem.size()));
    X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (leaf == nullptr) {
      BIO_free(bio);
      return bad("cannot parse the serving certificate");
    }
    int ok = SSL_CTX_use_certificate(ctx, leaf);
    X509_free(leaf);
    if (ok != 1) {
      BIO_free(bio);
      return bad("cannot use the serving certificate");
    }
    while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      SSL_CTX_add_extra_chain_cert(ctx, extra);  // takes ownership
    }
    ERR_clear_error();  // the loop ends on a "no start line" error
    BIO_free(bio);
  }
  {
    BIO* bio = BIO_new_mem_buf(o.key_pem.data(), static_cast<int>(o.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (key == nullptr) return bad("cannot parse the serving key");
    int ok = SSL_CTX_use_PrivateKey(ctx, key);
    EVP_PKEY_free(key);
    if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1)
      return bad("the serving key does not match the certificate");
  }
  // Client CA: verify client certificates when sent, never require them.
  {
    BIO* bio = BIO_new_mem_buf(o.client_ca_pem.data(), static_cast<int>(o.client_ca_pem.size()));
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int n = 0;
    while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, ca);
      SSL_CTX_add_client_CA(ctx, ca);
      X509_free(ca);
      ++n;
    }
    ERR_clear_error();
    BIO_free(bio);
    if (n == 0) {
      SSL_CTX_free(ctx);
      return fail("no client CA certificate given");
    }
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  static const unsigned char kSid[] = "k3dpp";
  SSL_CTX_set_session_id_context(ctx, kSid, sizeof kSid - 1);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, nullptr);
  return ctx;
}

Result<std::pair<int, uint16_t>> bind_listen(const std::string& listen) {
  auto hp = split_listen(listen);
  if (!hp) return unexpected(hp.error());
  auto [host, port] = *hp;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return fail("cannot resolve " + listen + ": " + gai_strerror(rc));
  std::string last_err = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
      uint16_t bound = ss.ss_family == AF_INET6
                           ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                           : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
      ::freeaddrinfo(res);
      return std::make_pair(fd, bound);
    }
    last_err = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return fail("cannot listen on " + listen + ": " + last_err);
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// False when a '%' is not followed by two hex digits (Go's url parser refuses such a path: 400).
bool valid_percent_encoding(std::string_view s) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || !hex(s[i + 1]) || !hex(s[i + 2])) return false;
    i += 2;
  }
  return true;
}


}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Options opts;
  http::Handler handler;
  SSL_CTX* ctx = nullptr;
  int listen_fd = -1;
  int epoll_fd = -1;
  uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  std::atomic<bool> quit{false};  // workers and the supervisor exit

  struct ConnState {
    uint64_t id = 0;
    std::shared_ptr<TlsSocket> sock;
    std::string remote;
    beast::flat_buffer buf;
    http::User user;
    std::atomic<bool> handshaken{false};
    std::atomic<int64_t> parked_at{0};  // steady ns when it last went back to the poller (timeouts)
    std::atomic<bool> idle{true};         // parked in the poller, or between requests
    std::atomic<bool> long_lived{false};  // streaming or upgraded: cut at once on stop()
    std::atomic<bool> authenticated{false};  // handshaken with a verified client certificate
    std::atomic<bool> evicted{false};        // shut by the connection caps (no longer counted)
    // The request being gathered. Its bytes are read without waiting, in the event loop, so a
    // client that stalls mid-header or mid-body holds no thread, only this state; the supervisor
    // shuts it once header_timeout (before the end of the headers) or body_timeout passes.
    std::optional<bhttp::request_parser<bhttp::string_body>> parser;
    std::atomic<int64_t> request_started{0};  // steady ns of the request's first byte; 0 = none
    std::atomic<int64_t> header_done_at{0};   // steady ns the headers were complete; 0 = not yet
    bool early_checked = false;               // 401 / 100-continue decided for this request
  };
  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::shared_ptr<ConnState>> conns;
  uint64_t next_id = 0;
  int64_t last_cap_warning = 0;  // under mu

  // The worker pool: `attached` workers wait in epoll_wait; one busy on a single request past
  // opts.stall_after (a slow client, a slow handler) or that turned long-lived (watch, logs -f,
  // exec/attach/port-forward) is detached — replaced at once by a new worker — and exits when
  // its connection is done. So the loop never waits on one client, and long-lived streams keep
  // their own thread as before.
  struct Worker {
    std::atomic<int64_t> busy_since{0};  // steady-clock ns of the request start; 0 = waiting
    std::atomic<bool> detached{false};
  };
  std::mutex wmu;
  std::vector<std::shared_ptr<Worker>> workers;  // attached ones
  size_t target_workers = 2;
  std::thread supervisor;
  std::condition_variable supervisor_cv;

  ~Impl() {
    if (ctx) SSL_CTX_free(ctx);
    if (listen_fd >= 0) ::close(listen_fd);
    if (epoll_fd >= 0) ::close(epoll_fd);
  }

  void spawn_worker();
  void detach_worker(const std::shared_ptr<Worker>& w);
  void worker_loop(std::shared_ptr<Worker> w);
  void supervise();
  void accept_ready();
  // Serves a connection the poller reported readable; false when it is done (close it).
  bool serve_ready(ConnState& c, const std::shared_ptr<Worker>& w);
  enum class Gather { kReady, kMore, kClose };
  // Reads what the socket has into the connection's request, without waiting: kReady once the
  // request is complete, kMore to wait in the poller for more bytes, kClose when it cannot go on
  // (an error was answered, or the peer left).
  Gather gather(ConnState& c);
  // Answers the gathered request; false when the connection cannot be reused.
  bool serve_request(ConnState& c, const std::shared_ptr<Worker>& w);
  // Connection caps at accept: evicts the oldest idle unauthenticated connections first; false
  // when the new connection must be refused.
  bool admit();
  void park(ConnState& c);
  void drop(uint64_t id);
};

// One request's answer, written straight to the socket.
class ConnResponder final : public http::Responder, public http::Stream, public http::Conn {
 public:
  enum class State { kNone, kSent, kStreaming, kUpgraded };

  ConnResponder(TlsSocket& sock, beast::flat_buffer& buf, bool keep_alive, bool head,
                std::atomic<bool>* long_lived = nullptr, std::function<void()> on_long_lived = {})
      : sock_(sock), buf_(buf), keep_alive_(keep_alive), head_(head), long_lived_(long_lived),
        on_long_lived_(std::move(on_long_lived)) {}

  void send(http::Response r) override {
    if (state_ != State::kNone) return;
    state_ = State::kSent;
    status_ = r.status;
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
    bool close_asked = false;
    for (auto& [k, v] : r.headers) {
      if (strings::to_lower(k) == "connection" && strings::to_lower(v) == "close") close_asked = true;
      res.insert(k, v);
    }
    if (close_asked) keep_alive_ = false;
    res.body() = std::move(r.body);
    res.keep_alive(keep_alive_);
    res.prepare_payload();
    if (head_) {
      // HEAD: the headers of a GET (Content-Length included), no body.
      bhttp::response_serializer<bhttp::string_body> sr{res};
      beast::error_code ec;
      bhttp::write_header(sock_, sr, ec);
      if (ec) failed_ = true;
      return;
    }
    beast::error_code ec;
    bhttp::write(sock_, res, ec);
    if (ec) failed_ = true;
  }

  http::Stream& stream(int status,
                       const std::vector<std::pair<std::string, std::string>>& headers) override {
    if (state_ == State::kNone) {
      state_ = State::kStreaming;
      if (long_lived_) *long_lived_ = true;
      if (on_long_lived_) on_long_lived_();
      status_ = status;
      bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), 11};
      for (auto& [k, v] : headers) res.insert(k, v);
      res.keep_alive(keep_alive_);
      res.chunked(true);
      bhttp::response_serializer<bhttp::empty_body> sr{res};
      beast::error_code ec;
      bhttp::write_header(sock_, sr, ec);
      if (ec) failed_ = true;
    } else if (state_ != State::kStreaming) {
      failed_ = true;  // misuse: a second answer; the stream reports closed
    }
    return *this;
  }

  http::Conn& upgrade(const std::vector<std::pair<std::string, std::string>>& headers) override {
    if (state_ == State::kNone) {
      state_ = State::kUpgraded;
      if (long_lived_) *long_lived_ = true;
      if (on_long_lived_) on_long_lived_();
      status_ = 101;
      std::string head = "HTTP/1.1 101 Switching Protocols\r\n";
      for (auto& [k, v] : headers) head += k + ": " + v + "\r\n";
      head += "\r\n";
      if (!sock_.write_all(head)) failed_ = true;
      // Bytes the client sent right after its request belong to the new protocol.
      auto data = buf_.data();
      leftover_.assign(static_cast<const char*>(data.data()), data.size());
      buf_.consume(buf_.size());
    } else {
      failed_ = true;
    }
    return *this;
  }

  // Stream
  bool write(std::string_view chunk) override {
    if (state_ == State::kUpgraded) return conn_write(chunk);
    if (failed_ || state_ != State::kStreaming) return false;
    if (chunk.empty()) return true;  // an empty chunk would end the body
    char size[32];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    std::string frame;
    frame.reserve(chunk.size() + static_cast<size_t>(n) + 2);
    frame.append(size, static_cast<size_t>(n));
    frame.append(chunk);
    frame.append("\r\n");
    if (!sock_.write_all(frame)) failed_ = true;
    return !failed_;
  }
  bool closed() override { return failed_ || sock_.peer_closed(); }

  // Conn
  long read(char* buf, size_t n) override {
    if (n == 0) return 0;
    if (!leftover_.empty()) {
      size_t k = std::min(n, leftover_.size());
      std::memcpy(buf, leftover_.data(), k);
      leftover_.erase(0, k);
      return static_cast<long>(k);
    }
    beast::error_code ec;
    size_t got = sock_.read(buf, n, ec);
    if (got > 0) return static_cast<long>(got);
    if (ec == boost::asio::error::eof) return 0;
    return sock_.peer_closed() ? 0 : -1;
  }
  bool conn_write(std::string_view bytes) {
    if (failed_) return false;
    if (!sock_.write_all(bytes)) failed_ = true;
    return !failed_;
  }
  void close() override { sock_.close(); }

  // Ends the exchange after the handler returned. False when the connection cannot be reused.
  bool finish() {
    switch (state_) {
      case State::kNone:
        send(http::status_response(500, "InternalError", "the handler sent no response"));
        return !failed_ && keep_alive_;
      case State::kSent:
        return !failed_ && keep_alive_;
      case State::kStreaming:
        if (!failed_ && !sock_.write_all("0\r\n\r\n")) failed_ = true;
        return !failed_ && keep_alive_;
      case State::kUpgraded:
        return false;
    }
    return false;
  }

  State state() const { return state_; }
  int status() const { return status_; }

 private:
  TlsSocket& sock_;
  beast::flat_buffer& buf_;
  bool keep_alive_;
  bool head_;
  std::atomic<bool>* long_lived_;
  std::function<void()> on_long_lived_;
  State state_ = State::kNone;
  int status_ = 0;
  std::atomic<bool> failed_{false};
  std::string leftover_;
};

namespace {
constexpr uint64_t kListenId = ~uint64_t{0};
}  // namespace

void Server::Impl::spawn_worker() {
  auto w = std::make_shared<Worker>();
  try {
    std::thread([self = shared_from_this(), w] { self->worker_loop(w); }).detach();
  } catch (const std::exception& e) {
    logger()->warn("cannot start a worker thread: {}", e.what());
    return;
  }
  workers.push_back(std::move(w));  // wmu held by the caller
}

void Server::Impl::detach_worker(const std::shared_ptr<Worker>& w) {
  std::lock_guard<std::mutex> lock(wmu);
  if (w->detached) return;
  w->detached = true;
  workers.erase(std::remove(workers.begin(), workers.end(), w), workers.end());
  if (!quit) spawn_worker();
}

void Server::Impl::worker_loop(std::shared_ptr<Worker> w) {
  while (!quit && !w->detached) {
    epoll_event ev{};
    int n = ::epoll_wait(epoll_fd, &ev, 1, 200);
    if (n <= 0) continue;
    if (ev.data.u64 == kListenId) {
      accept_ready();
      continue;
    }
    std::shared_ptr<ConnState> c;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = conns.find(ev.data.u64);
      if (it != conns.end()) c = it->second;
    }
    if (!c) continue;
    c->idle = false;
    w->busy_since = now_ns();
    bool keep = serve_ready(*c, w);
    w->busy_since = 0;
    if (keep && !stopping) {
      park(*c);
    } else {
      drop(c->id);
    }
  }
}

void Server::Impl::accept_ready() {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK && !stopping) {
        logger()->warn("accept: {}", std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // EMFILE and friends
      }
      break;
    }
    if (stopping || !admit()) {
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = SSL_new(ctx);
    if (ssl == nullptr) {
      ::close(fd);
      continue;
    }
    auto c = std::make_shared<ConnState>();
    c->sock = std::make_shared<TlsSocket>(fd, ssl);
    c->remote = sockaddr_string(ss);
    c->parked_at = now_ns();
    {
      std::lock_guard<std::mutex> lock(mu);
      c->id = next_id++;
      conns.emplace(c->id, c);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.u64 = c->id;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      logger()->warn("epoll_ctl add: {}", std::strerror(errno));
      drop(c->id);
    }
  }
  if (!stopping) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = kListenId;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, listen_fd, &ev);
  }
}

bool Server::Impl::admit() {
  std::lock_guard<std::mutex> lock(mu);
  size_t total = 0, unauthenticated = 0;
  for (auto& [id, c] : conns) {
    if (c->evicted) continue;
    ++total;
    if (!c->authenticated) ++unauthenticated;
  }
  // Oldest first (ids grow with each accept); only connections parked in the poller, so no
  // worker is using the socket; the shut socket wakes the poller and a worker drops it.
  auto evict_oldest_unauthenticated = [&] {
    for (auto& [id, c] : conns) {
      if (c->evicted || c->authenticated || !c->idle) continue;
      c->evicted = true;
      c->sock->abort();
      return true;
    }
    return false;
  };
  bool refused = false;
  if (unauthenticated >= opts.max_unauthenticated_connections && evict_oldest_unauthenticated()) {
    --total;
  } else if (total >= opts.max_connections) {
    if (evict_oldest_unauthenticated()) --total;
    else refused = true;
  }
  if (refused || unauthenticated >= opts.max_unauthenticated_connections) {
    auto now = now_ns();
    if (now - last_cap_warning > int64_t{10'000'000'000}) {
      last_cap_warning = now;
      logger()->warn("connection cap reached ({} open, {} unauthenticated; caps {} and {}): {}", total,
                     unauthenticated, opts.max_connections, opts.max_unauthenticated_connections,
                     refused ? "refusing new connections" : "dropping the oldest unauthenticated ones");
    }
  }
  return !refused;
}

void Server::Impl::park(ConnState& c) {
  c.parked_at = now_ns();
  c.idle = true;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  ev.data.u64 = c.id;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.sock->fd(), &ev) != 0) drop(c.id);
}

void Server::Impl::drop(uint64_t id) {
  std::shared_ptr<ConnState> c;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = conns.find(id);
    if (it == conns.end()) return;
    c = std::move(it->second);
    conns.erase(it);
    cv.notify_all();
  }
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->sock->fd(), nullptr);
  c->sock->close();
}

void Server::Impl::supervise() {
  auto last_sweep = Clock::now();
  std::unique_lock<std::mutex> lock(wmu);
  while (!quit) {
    supervisor_cv.wait_for(lock, std::chrono::milliseconds(10));
    if (quit) break;
    // Workers stuck on one request past stall_after are replaced (they finish on their own).
    int64_t limit = now_ns() - std::chrono::duration_cast<std::chrono::nanoseconds>(opts.stall_after).count();
    std::vector<std::shared_ptr<Worker>> stalled;
    for (auto& w : workers) {
      int64_t b = w->busy_since;
      if (b != 0 && b < limit) stalled.push_back(w);
    }
    for (auto& w : stalled) {
      w->detached = true;
      workers.erase(std::remove(workers.begin(), workers.end(), w), workers.end());
      spawn_worker();
    }
    // Parked connections past the handshake or keep-alive idle timeout are shut (a worker then
    // sees the hang-up and drops them).
    auto now = Clock::now();
    if (now - last_sweep < std::chrono::milliseconds(250)) continue;
    last_sweep = now;
    int64_t now_n = now_ns();
    lock.unlock();
    {
      std::lock_guard<std::mutex> clock(mu);
      auto ns = [](std::chrono::milliseconds d) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
      };
      for (auto& [id, c] : conns) {
        if (!c->idle) continue;
        int64_t started = c->request_started, header_done = c->header_done_at;
        bool expired;
        if (!c->handshaken) expired = now_n - c->parked_at > ns(opts.handshake_timeout);
        else if (header_done != 0) expired = now_n - header_done > ns(opts.body_timeout);
        else if (started != 0) expired = now_n - started > ns(opts.header_timeout);
        else expired = now_n - c->parked_at > ns(opts.idle_timeout);
        if (expired) c->sock->abort();
      }
    }
    lock.lock();
  }
}

bool Server::Impl::serve_ready(ConnState& c, const std::shared_ptr<Worker>& w) {
  if (!c.handshaken) {
    std::string err;
    auto deadline = Clock::time_point(std::chrono::nanoseconds(c.parked_at.load())) + opts.handshake_timeout;
    int r = c.sock->handshake_step(deadline, err);
    if (r < 0) {
      logger()->debug("{}: TLS handshake failed: {}", c.remote, err);
      return false;
    }
    if (r == 0) return true;  // more handshake bytes to come
    c.user = user_from(c.sock->ssl());
    c.authenticated = c.user.authenticated;
    c.handshaken = true;
    if (c.buf.size() == 0 && !c.sock->has_buffered()) return true;
  }
  for (;;) {
    if (stopping) return false;
    auto g = gather(c);
    if (g == Gather::kClose) return false;
    if (g == Gather::kMore) return true;  // back to the poller until more bytes come
    if (!serve_request(c, w)) return false;
    if (w->detached) {
      // This worker was replaced (slow request or long-lived stream); it ends with its
      // connection's current exchange. The connection goes back to the shared poller.
      return true;
    }
    // Pipelined bytes or decrypted data already here: serve on; otherwise back to the poller.
    if (c.buf.size() == 0 && !c.sock->has_buffered()) return true;
    w->busy_since = now_ns();
  }
}

Server::Impl::Gather Server::Impl::gather(ConnState& c) {
  TlsSocket& sock = *c.sock;
  beast::flat_buffer& buf = c.buf;
  auto reply_and_close = [&](int code, const char* reason, const std::string& message) {
    ConnResponder r(sock, buf, false, false);
    r.send(http::status_response(code, reason, message));
    sock.close();
    return Gather::kClose;
  };
  if (!c.parser) {
    c.parser.emplace();
    c.parser->header_limit(static_cast<std::uint32_t>(opts.header_limit));
    c.parser->body_limit(opts.body_limit);
    c.request_started = 0;
    c.header_done_at = 0;
    c.early_checked = false;
  }
  auto& parser = *c.parser;
  for (;;) {
    if (buf.size() > 0) {
      if (c.request_started == 0) c.request_started = now_ns();
      beast::error_code ec;
      size_t used = parser.put(buf.data(), ec);
      buf.consume(used);
      if (ec == bhttp::error::body_limit) {
        return reply_and_close(413, "RequestEntityTooLarge",
                               "Request entity too large: limit is " + std::to_string(opts.body_limit));
      }
      if (ec == bhttp::error::header_limit) {
        return reply_and_close(431, "RequestHeaderFieldsTooLarge", "Request Header Fields Too Large");
      }
      if (ec && ec != bhttp::error::need_more) {
        logger()->debug("{}: bad request: {}", c.remote, ec.message());
        return reply_and_close(400, "BadRequest", "malformed HTTP request");
      }
      if (parser.is_header_done() && !c.early_checked) {
        c.early_checked = true;
        c.header_done_at = now_ns();
        auto& h = parser.get();
        // No certificate and not an anonymous path, and a body to come: 401 now, without reading
        // (or waiting for) the body. Without a body the request is answered 401 as usual.
        std::string_view target(h.target().data(), h.target().size());
        std::string path = http::url_decode(target.substr(0, target.find('?')), false);
        bool anonymous = std::find(opts.anonymous_paths.begin(), opts.anonymous_paths.end(), path) !=
                         opts.anonymous_paths.end();
        if (!c.user.authenticated && !anonymous && !parser.is_done()) {
          return reply_and_close(401, "Unauthorized", "Unauthorized");
        }
        if (!parser.is_done() && strings::to_lower(std::string(h[bhttp::field::expect])) == "100-continue") {
          if (!sock.write_all("HTTP/1.1 100 Continue\r\n\r\n")) return Gather::kClose;
        }
      }
      if (parser.is_done()) return Gather::kReady;
      if (used > 0 && buf.size() > 0) continue;
    }
    // What the socket has now, without waiting (a deadline of now: poll() returns at once).
    sock.set_read_deadline(Clock::now());
    auto space = buf.prepare(16 * 1024);
    beast::error_code ec;
    size_t n = sock.read(static_cast<char*>(space.data()), space.size(), ec);
    sock.set_read_deadline(std::nullopt);
    if (n > 0) {
      buf.commit(n);
      continue;
    }
    if (ec == boost::asio::error::timed_out) return Gather::kMore;
    if (c.request_started != 0 && ec != boost::asio::error::eof) {
      logger()->debug("{}: reading a request: {}", c.remote, ec.message());
    }
    return Gather::kClose;
  }
}

bool Server::Impl::serve_request(ConnState& c, const std::shared_ptr<Worker>& w) {
  TlsSocket& sock = *c.sock;
  beast::flat_buffer& buf = c.buf;
  const std::string& remote = c.remote;
  auto msg = c.parser->release();
  c.parser.reset();
  c.request_started = 0;
  c.header_done_at = 0;
  http::Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  auto q = req.target.find('?');
  if (!valid_percent_encoding(std::string_view(req.target).substr(0, q))) {
    // Go's net/http refuses such a URL before any handler runs.
    ConnResponder r(sock, buf, false, false);
    r.send(http::status_response(400, "BadRequest", "invalid URL escape in the request path"));
    sock.close();
    return false;
  }
  req.path = http::url_decode(std::string_view(req.target).substr(0, q), false);
  if (q != std::string::npos) req.query = http::parse_query(std::string_view(req.target).substr(q + 1));
  for (const auto& f : msg) req.headers.emplace(strings::to_lower(std::string(f.name_string())), std::string(f.value()));
  req.body = std::move(msg.body());
  req.user = c.user;
  req.remote = remote;

  bool keep_alive = msg.keep_alive() && !stopping;
  ConnResponder responder(sock, buf, keep_alive, req.method == "HEAD", &c.long_lived,
                          [this, w] { detach_worker(w); });
  auto started = Clock::now();
  bool anonymous = std::find(opts.anonymous_paths.begin(), opts.anonymous_paths.end(), req.path) !=
                   opts.anonymous_paths.end();
  if (!c.user.authenticated && !anonymous) {
    responder.send(http::status_response(401, "Unauthorized", "Unauthorized"));
  } else {
    try {
      handler(req, responder);
    } catch (const std::exception& e) {
      logger()->error("{} {}: handler failed: {}", req.method, req.path, e.what());
      if (responder.state() == ConnResponder::State::kNone)
        responder.send(http::status_response(500, "InternalError", "internal error"));
    }
  }
  bool again = responder.finish();
  c.long_lived = false;
  logger()->debug("{} {} {} {} {}ms", remote, req.method, req.target, responder.status(),
                  std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
  return again;
}

Result<std::unique_ptr<Server>> Server::start(Options options, http::Handler handler) {
  ::signal(SIGPIPE, SIG_IGN);
  auto impl = std::make_shared<Impl>();
  impl->opts = std::move(options);
  impl->handler = std::move(handler);
  auto ctx = make_context(impl->opts);
  if (!ctx) return unexpected(ctx.error().wrap("TLS setup"));
  impl->ctx = *ctx;
  auto bound = bind_listen(impl->opts.listen);
  if (!bound) return unexpected(bound.error());
  impl->listen_fd = bound->first;
  impl->port = bound->second;
  int flags = ::fcntl(impl->listen_fd, F_GETFL, 0);
  ::fcntl(impl->listen_fd, F_SETFL, flags | O_NONBLOCK);
  impl->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (impl->epoll_fd < 0) return fail(std::string("epoll_create1: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = kListenId;
  if (::epoll_ctl(impl->epoll_fd, EPOLL_CTL_ADD, impl->listen_fd, &ev) != 0)
    return fail(std::string("epoll_ctl: ") + std::strerror(errno));
  size_t n = impl->opts.threads;
  if (const char* env = std::getenv("K3DPP_HTTP_THREADS"); n == 0 && env != nullptr) {
    long long v = 0;
    if (strings::parse_int(env, v) && v > 0 && v <= 64) n = static_cast<size_t>(v);
  }
  if (n == 0) n = std::clamp<size_t>(std::thread::hardware_concurrency(), 2, 4);
  impl->target_workers = n;
  {
    std::lock_guard<std::mutex> lock(impl->wmu);
    for (size_t i = 0; i < n; ++i) impl->spawn_worker();
  }
  impl->supervisor = std::thread([raw = impl.get()] { raw->supervise(); });
  logger()->info("serving TLS on {} (port {})", impl->opts.listen, impl->port);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::~Server() { stop(); }

uint16_t Server::port() const { return impl_->port; }

size_t Server::active_connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->conns.size();
}

void Server::stop(std::chrono::milliseconds grace) {
  if (impl_->stopped.exchange(true)) return;
  impl_->stopping = true;
  ::shutdown(impl_->listen_fd, SHUT_RDWR);
  {
    std::unique_lock<std::mutex> lock(impl_->mu);
    for (auto& [id, c] : impl_->conns)
      if (c->idle || c->long_lived) c->sock->abort();
    impl_->cv.wait_for(lock, grace, [&] { return impl_->conns.empty(); });
    for (auto& [id, c] : impl_->conns) c->sock->abort();
    impl_->cv.wait_for(lock, std::chrono::seconds(2), [&] { return impl_->conns.empty(); });
    if (!impl_->conns.empty())
      logger()->warn("{} connection(s) still busy after shutdown", impl_->conns.size());
  }
  // Workers exit within their 200 ms poll; busy ones when their request ends (they keep the
  // server state alive until then).
  {
    std::lock_guard<std::mutex> lock(impl_->wmu);
    impl_->quit = true;
  }
  impl_->supervisor_cv.notify_all();
  if (impl_->supervisor.joinable()) impl_->supervisor.join();
}

}  // namespace k3dpp::httpserver
