// watch_order_client: drives `k3dpp-node server` (a host process on 127.0.0.1) over TLS with a client
// certificate and checks watch delivery: W concurrent watch streams (one TLS connection each) on the
// configmaps of one namespace, then N writes (create / merge-patch / delete, in that rotation) from one
// keep-alive connection. Every watcher must receive exactly the N events, in the order written
// (type + name), with strictly increasing resourceVersions (no gap, no duplicate, no reordering).
//
//   watch_order_client --port P --cert C --key K [--namespace NS] [--watchers 100] [--writes 1000]
//                      [--timeout-seconds 50]
// Exit 0 and "ok: ..." when every watcher saw everything; exit 1 with "FAIL: ..." lines otherwise.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0, watchers = 100, writes = 1000, timeout_seconds = 50;
  std::string cert, key, ns = "watch-order";
};

// One keep-alive HTTP/1.1 connection over TLS to 127.0.0.1.
class TlsConn {
 public:
  TlsConn(SSL_CTX* ctx, int port, int timeout_seconds) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    timeval tv{timeout_seconds, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    ok_ = SSL_connect(ssl_) == 1;
  }
  ~TlsConn() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
  }
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;
  bool ok() const { return ok_; }

  bool send(const std::string& method, const std::string& path, const std::string& body = "",
            const std::string& ctype = "application/json") {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n";
    if (!body.empty()) req += "Content-Type: " + ctype + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    for (size_t off = 0; off < req.size();) {
      int n = SSL_write(ssl_, req.data() + off, static_cast<int>(req.size() - off));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads the status line and headers; returns the status (0 on error) and whether the body is chunked.
  int read_head(bool* chunked, size_t* content_length) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return 0;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
    *chunked = head.find("transfer-encoding: chunked") != std::string::npos;
    auto p = head.find("content-length:");
    *content_length = p == std::string::npos ? 0 : std::strtoul(head.c_str() + p + 15, nullptr, 10);
    return head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
  }

  // Reads one chunk of a chunked body into `out`; false on error or on the last (empty) chunk.
  bool read_chunk(std::string* out) {
    size_t e;
    while ((e = buf_.find("\r\n")) == std::string::npos)
      if (!fill()) return false;
    size_t len = std::strtoul(buf_.c_str(), nullptr, 16);
    buf_.erase(0, e + 2);
    while (buf_.size() < len + 2)
      if (!fill()) return false;
    out->append(buf_, 0, len);
    buf_.erase(0, len + 2);
    return len > 0;
  }

  // A whole response: status and body.
  int request(const std::string& method, const std::string& path, std::string* body_out,
              const std::string& body = "", const std::string& ctype = "application/json") {
    if (!send(method, path, body, ctype)) return 0;
    bool chunked;
    size_t cl;
    int st = read_head(&chunked, &cl);
    if (st == 0) return 0;
    std::string b;
    if (chunked) {
      while (read_chunk(&b)) {
      }
    } else {
      while (buf_.size() < cl)
        if (!fill()) return 0;
      b = buf_.substr(0, cl);
      buf_.erase(0, cl);
    }
    if (body_out) *body_out = std::move(b);
    return st;
  }

  // Raw body bytes of a non-chunked streaming response (whatever arrived).
  bool read_raw(std::string* out) {
    if (!buf_.empty()) {
      out->append(buf_);
      buf_.clear();
      return true;
    }
    if (!fill()) return false;
    out->append(buf_);
    buf_.clear();
    return true;
  }

 private:
  bool fill() {
    char tmp[16384];
    int n = SSL_read(ssl_, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  std::string buf_;
};

// The string value of the first `"key":"…"` in s (good enough for the flat fields checked here).
std::string field(const std::string& s, const std::string& key, size_t from = 0) {
  std::string needle = "\"" + key + "\":\"";
  auto p = s.find(needle, from);
  if (p == std::string::npos) return "";
  p += needle.size();
  auto e = s.find('"', p);
  return e == std::string::npos ? "" : s.substr(p, e - p);
}

struct Event {
  std::string type, name;
  unsigned long long rv = 0;
};

Event parse_event(const std::string& line) {
  Event ev;
  ev.type = field(line, "type");
  auto md = line.find("\"metadata\":");
  if (md == std::string::npos) md = 0;
  ev.name = field(line, "name", md);
  ev.rv = std::strtoull(field(line, "resourceVersion", md).c_str(), nullptr, 10);
  return ev;
}

struct Watcher {
  std::unique_ptr<TlsConn> conn;
  std::vector<Event> events;
  std::string error;
};

// Reads watch events until `want` arrived (or an error / the deadline).
void run_watcher(Watcher* w, size_t want, Clock::time_point deadline) {
  bool chunked;
  size_t cl;
  int st = w->conn->read_head(&chunked, &cl);
  if (st != 200) {
    w->error = "watch answered " + std::to_string(st);
    return;
  }
  std::string pending;
  while (w->events.size() < want) {
    if (Clock::now() > deadline) {
      w->error = "deadline";
      return;
    }
    bool got = chunked ? w->conn->read_chunk(&pending) : w->conn->read_raw(&pending);
    if (!got) {
      w->error = "stream ended or timed out";
      return;
    }
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      w->events.push_back(parse_event(line));
    }
  }
}

int run(const Options& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // loopback; the server is the one we started
  if (SSL_CTX_use_certificate_file(ctx, o.cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, o.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::printf("FAIL: cannot load client certificate %s / %s\n", o.cert.c_str(), o.key.c_str());
    return 1;
  }
  auto deadline = Clock::now() + std::chrono::seconds(o.timeout_seconds);
  TlsConn writer(ctx, o.port, o.timeout_seconds);
  if (!writer.ok()) {
    std::printf("FAIL: writer could not connect\n");
    return 1;
  }
  std::string body;
  int st = writer.request("POST", "/api/v1/namespaces", &body,
                          R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + o.ns + R"("}})");
  if (st != 201 && st != 409) {
    std::printf("FAIL: create namespace answered %d: %s\n", st, body.c_str());
    return 1;
  }
  const std::string base = "/api/v1/namespaces/" + o.ns + "/configmaps";
  st = writer.request("GET", base, &body);
  std::string list_rv = field(body, "resourceVersion", body.find("\"metadata\":"));
  if (st != 200 || list_rv.empty()) {
    std::printf("FAIL: list answered %d without a resourceVersion\n", st);
    return 1;
  }

  // Watchers: one TLS connection each, all from the list's resourceVersion.
  std::vector<Watcher> ws(static_cast<size_t>(o.watchers));
  for (size_t i = 0; i < ws.size(); ++i) {
    ws[i].conn = std::make_unique<TlsConn>(ctx, o.port, o.timeout_seconds);
    if (!ws[i].conn->ok() || !ws[i].conn->send("GET", base + "?watch=1&resourceVersion=" + list_rv)) {
      std::printf("FAIL: watcher %zu could not connect\n", i);
      return 1;
    }
  }
  std::vector<std::thread> threads;
  for (auto& w : ws) threads.emplace_back(run_watcher, &w, static_cast<size_t>(o.writes), deadline);

  // Writes: create, patch, delete in rotation (the last round may stop after its create or patch).
  std::vector<Event> written;
  auto t0 = Clock::now();
  for (int i = 0; static_cast<int>(written.size()) < o.writes; ++i) {
    std::string name = "cm-" + std::to_string(i);
    st = writer.request("POST", base, &body,
                        R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"("},"data":{"k":"v"}})");
    if (st != 201) {
      std::printf("FAIL: create %s answered %d: %s\n", name.c_str(), st, body.c_str());
      std::fflush(stdout);
      std::_Exit(1);  // watcher threads still blocked in reads
    }
    written.push_back({"ADDED", name, 0});
    if (static_cast<int>(written.size()) == o.writes) break;
    st = writer.request("PATCH", base + "/" + name, &body, R"({"data":{"k":"v2"}})", "application/merge-patch+json");
    if (st != 200) {
      std::printf("FAIL: patch %s answered %d: %s\n", name.c_str(), st, body.c_str());
      std::fflush(stdout);
      std::_Exit(1);  // watcher threads still blocked in reads
    }
    written.push_back({"MODIFIED", name, 0});
    if (static_cast<int>(written.size()) == o.writes) break;
    st = writer.request("DELETE", base + "/" + name, &body);
    if (st != 200) {
      std::printf("FAIL: delete %s answered %d: %s\n", name.c_str(), st, body.c_str());
      std::fflush(stdout);
      std::_Exit(1);  // watcher threads still blocked in reads
    }
    written.push_back({"DELETED", name, 0});
  }
  double write_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& t : threads) t.join();
  double all_secs = std::chrono::duration<double>(Clock::now() - t0).count();

  int failures = 0;
  for (size_t i = 0; i < ws.size(); ++i) {
    const auto& w = ws[i];
    std::string why = w.error;
    if (why.empty() && w.events.size() != written.size())
      why = "saw " + std::to_string(w.events.size()) + " events, want " + std::to_string(written.size());
    for (size_t k = 0; why.empty() && k < written.size(); ++k) {
      const auto& e = w.events[k];
      if (e.type != written[k].type || e.name != written[k].name)
        why = "event " + std::to_string(k) + " is " + e.type + " " + e.name + ", want " + written[k].type + " " +
              written[k].name;
      else if (k > 0 && e.rv <= w.events[k - 1].rv)
        why = "event " + std::to_string(k) + " resourceVersion " + std::to_string(e.rv) + " after " +
              std::to_string(w.events[k - 1].rv);
    }
    if (!why.empty()) {
      if (++failures <= 5) std::printf("FAIL: watcher %zu: %s (saw %zu events)\n", i, why.c_str(), w.events.size());
    }
  }
  SSL_CTX_free(ctx);
  if (failures > 0) {
    std::printf("FAIL: %d of %d watchers missed, duplicated or reordered events\n", failures, o.watchers);
    return 1;
  }
  std::printf("ok: %d watchers each saw all %zu events in order (writes %.2fs, all delivered %.2fs)\n", o.watchers,
              written.size(), write_secs, all_secs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::map<std::string, std::string> kv;
  for (int i = 1; i + 1 < argc; i += 2) kv[argv[i]] = argv[i + 1];
  auto num = [&](const char* k, int d) { return kv.count(k) ? std::atoi(kv[k].c_str()) : d; };
  o.port = num("--port", 0);
  o.watchers = std::clamp(num("--watchers", o.watchers), 1, 500);
  o.writes = std::clamp(num("--writes", o.writes), 1, 100000);
  o.timeout_seconds = std::clamp(num("--timeout-seconds", o.timeout_seconds), 1, 600);
  o.cert = kv["--cert"];
  o.key = kv["--key"];
  if (kv.count("--namespace")) o.ns = kv["--namespace"];
  if (o.port == 0 || o.cert.empty() || o.key.empty()) {
    std::fprintf(stderr, "usage: watch_order_client --port P --cert C --key K [--watchers N] [--writes N]\n");
    return 2;
  }
  return run(o);
}
