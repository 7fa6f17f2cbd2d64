// api_load: a small HTTPS load generator for bench/api_throughput.sh (not a test; figures only).
// Keep-alive HTTP/1.1 over TLS with a client certificate, C connections (one thread each), every
// connection sending the same request back to back for a bounded number of requests.
//
//   api_load load --host 127.0.0.1 --port P --cert C --key K --path /x [--method POST
//            --body-file F --content-type T] --connections 8 --requests 200 [--seconds 3]
//     → prints "rps=<n> p50_ms=<n> p99_ms=<n> ok=<n> errors=<n> client_cpu_us=<n>" (closed loop:
//       each connection sends its next request as soon as the last answer arrived; at saturation
//       latency = C / throughput by Little's law). client_cpu_us: this generator's own CPU per
//       request (user + system), the share of the machine the measurement itself takes.
//     [--plain 1]: plain HTTP instead of TLS; [--host-header H]: the Host header sent.
//     [--rate R]: open loop instead — R requests/s in total, spread evenly over the connections,
//       each request sent at its scheduled time (or at once when the connection is still busy)
//       and timed FROM that scheduled time, so a stall counts for every request it delayed (no
//       coordinated omission). Shows latency at a given load rather than at saturation.
//   api_load fanout --host ... --watchers 10 --events 20 --watch-path /api/v1/...?watch=1&...
//            --path /api/v1/namespaces/default/configmaps --body-file F (JSON with NAME in it)
//     → creates an object, times until each watcher saw it; prints "p50_ms= p99_ms= max_ms="
//
// Traffic goes only to the host given (the scripts pass 127.0.0.1).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode, host = "127.0.0.1", cert, key, path, watch_path, method = "GET", body, content_type;
  int port = 0, connections = 1, requests = 100, watchers = 10, events = 20;
  double seconds = 0;  // > 0: each connection stops after this long (or after `requests`)
  double rate = 0;     // > 0: open loop, total requests per second over all connections
  bool plain = false;       // --plain 1: HTTP without TLS (bench/ingress.sh: nginx pods, Ingress on :80)
  std::string host_header;  // --host-header H: the Host header (default: --host)
};

class Conn {
 public:
  Conn(SSL_CTX* ctx, const Args& a) : a_(a) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(a.port));
    inet_pton(AF_INET, a.host.c_str(), &sa.sin_addr);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (a.plain) {
      ok_ = true;
      return;
    }
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    ok_ = SSL_connect(ssl_) == 1;
  }
  ~Conn() {
    if (ssl_) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return ok_; }

  bool send(const std::string& method, const std::string& path, const std::string& body,
            const std::string& ctype) {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + (a_.host_header.empty() ? a_.host : a_.host_header) + "\r\nAccept: application/json\r\n"
                      "User-Agent: k3dpp-api-load\r\nConnection: keep-alive\r\n";
    if (!body.empty() || method == "POST" || method == "PUT") {
      req += "Content-Type: " + (ctype.empty() ? std::string("application/json") : ctype) + "\r\n";
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n" + body;
    size_t off = 0;
    while (off < req.size()) {
      int n = ssl_ ? SSL_write(ssl_, req.data() + off, static_cast<int>(req.size() - off))
                   : static_cast<int>(::write(fd_, req.data() + off, req.size() - off));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads one full response; returns the status code (0 on error).
  int read_response(std::string* body_out = nullptr) {
    size_t hdr_end;
    while ((hdr_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return 0;
    }
    std::string head = buf_.substr(0, hdr_end);
    buf_.erase(0, hdr_end + 4);
    int status = 0;
    if (head.size() > 12) status = std::atoi(head.c_str() + 9);
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string body;
    if (lower.find("transfer-encoding: chunked") != std::string::npos) {
      for (;;) {
        size_t e;
        while ((e = buf_.find("\r\n")) == std::string::npos) {
          if (!fill()) return 0;
        }
        size_t len = std::stoul(buf_.substr(0, e), nullptr, 16);
        buf_.erase(0, e + 2);
        while (buf_.size() < len + 2) {
          if (!fill()) return 0;
        }
        body += buf_.substr(0, len);
        buf_.erase(0, len + 2);
        if (len == 0) break;
      }
    } else {
      size_t cl = 0;
      auto p = lower.find("content-length:");
      if (p != std::string::npos) cl = std::stoul(lower.substr(p + 15));
      while (buf_.size() < cl) {
        if (!fill()) return 0;
      }
      body = buf_.substr(0, cl);
      buf_.erase(0, cl);
    }
    if (body_out) *body_out = std::move(body);
    return status;
  }

  // Streaming: waits until `needle` shows up in what arrived (after the headers), consuming it.
  bool wait_for(const std::string& needle) {
    for (;;) {
      auto p = buf_.find(needle);
      if (p != std::string::npos) {
        buf_.erase(0, p + needle.size());
        return true;
      }
      if (buf_.size() > needle.size()) buf_.erase(0, buf_.size() - needle.size());
      if (!fill()) return false;
    }
  }

 private:
  bool fill() {
    char tmp[16384];
    int n = ssl_ ? SSL_read(ssl_, tmp, sizeof tmp) : static_cast<int>(::read(fd_, tmp, sizeof tmp));
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  const Args& a_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  std::string buf_;
};

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

SSL_CTX* make_ctx(const Args& a) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // loopback only; both ends are ours
  if (!a.cert.empty() && SSL_CTX_use_certificate_file(ctx, a.cert.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::fprintf(stderr, "api_load: cannot load %s\n", a.cert.c_str());
    return nullptr;
  }
  if (!a.key.empty() && SSL_CTX_use_PrivateKey_file(ctx, a.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::fprintf(stderr, "api_load: cannot load %s\n", a.key.c_str());
    return nullptr;
  }
  return ctx;
}

int run_load(const Args& a, SSL_CTX* ctx) {
  std::mutex mu;
  std::vector<double> lat;
  std::atomic<int> ok{0}, errors{0};
  std::vector<std::thread> threads;
  // Every connection does its TLS handshake first; the clock starts when all are up (the
  // handshakes would otherwise count as the first requests' latency and eat into the run).
  std::mutex start_mu;
  std::condition_variable start_cv;
  int ready = 0;
  bool started = false;
  Clock::time_point t0;
  for (int c = 0; c < a.connections; ++c) {
    threads.emplace_back([&, c] {
      Conn conn(ctx, a);
      {
        std::unique_lock<std::mutex> l(start_mu);
        ++ready;
        start_cv.notify_all();
        start_cv.wait(l, [&] { return started; });
      }
      if (!conn.ok()) {
        errors += a.requests;
        return;
      }
      std::vector<double> mine;
      mine.reserve(static_cast<size_t>(a.requests));
      auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.seconds));
      // Open loop: this connection's requests are due every C/rate seconds, phase-shifted by its
      // index so the connections' sends interleave.
      Clock::duration period{}, phase{};
      if (a.rate > 0) {
        period = std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(static_cast<double>(a.connections) / a.rate));
        phase = period * c / a.connections;
      }
      for (int i = 0; i < a.requests; ++i) {
        auto s = Clock::now();
        if (a.rate > 0) {
          auto due = t0 + phase + period * i;
          if (due > s) {
            std::this_thread::sleep_until(due);
          }
          s = due;
        }
        if (a.seconds > 0 && s >= deadline) break;
        if (!conn.send(a.method, a.path, a.body, a.content_type)) {
          errors += a.requests - i;
          break;
        }
        int st = conn.read_response();
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        if (st >= 200 && st < 300) ++ok;
        else {
          ++errors;
          if (st == 0) {
            errors += a.requests - i - 1;
            break;
          }
        }
      }
      std::lock_guard<std::mutex> l(mu);
      lat.insert(lat.end(), mine.begin(), mine.end());
    });
  }
  {
    std::unique_lock<std::mutex> l(start_mu);
    start_cv.wait(l, [&] { return ready == a.connections; });
    t0 = Clock::now();
    started = true;
    start_cv.notify_all();
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  double cpu_us = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                  static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  std::printf("rps=%.1f p50_ms=%.3f p99_ms=%.3f ok=%d errors=%d client_cpu_us=%.1f\n", ok.load() / secs,
              pct(lat, 50), pct(lat, 99), ok.load(), errors.load(),
              ok.load() > 0 ? cpu_us / ok.load() : 0.0);
  return errors.load() == 0 ? 0 : 1;
}

int run_fanout(const Args& a, SSL_CTX* ctx) {
  std::vector<std::unique_ptr<Conn>> ws;
  for (int i = 0; i < a.watchers; ++i) {
    auto c = std::make_unique<Conn>(ctx, a);
    if (!c->ok() || !c->send("GET", a.watch_path, "", "")) {
      std::fprintf(stderr, "api_load: watcher %d failed to connect\n", i);
      return 1;
    }
    ws.push_back(std::move(c));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // watches registered
  Conn writer(ctx, a);
  if (!writer.ok()) return 1;
  std::vector<double> all, worst;
  for (int e = 0; e < a.events; ++e) {
    std::string name = "fanout-" + std::to_string(getpid()) + "-" + std::to_string(e);
    std::string body = a.body;
    for (size_t p; (p = body.find("NAME")) != std::string::npos;) body.replace(p, 4, name);
    std::string needle = "\"name\":\"" + name + "\"";
    std::vector<double> seen(ws.size(), -1);
    std::vector<std::thread> th;
    auto t0 = Clock::now();
    for (size_t i = 0; i < ws.size(); ++i) {
      th.emplace_back([&, i] {
        if (ws[i]->wait_for(needle)) seen[i] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      });
    }
    writer.send("POST", a.path, body, a.content_type);
    int st = writer.read_response();
    for (auto& t : th) t.join();
    if (st != 201) {
      std::fprintf(stderr, "api_load: create answered %d\n", st);
      return 1;
    }
    double w = 0;
    for (double s : seen) {
      if (s < 0) return 1;
      all.push_back(s);
      w = std::max(w, s);
    }
    worst.push_back(w);
  }
  double mx = *std::max_element(worst.begin(), worst.end());
  std::printf("p50_ms=%.3f p99_ms=%.3f all_seen_p50_ms=%.3f max_ms=%.3f\n", pct(all, 50), pct(all, 99),
              pct(worst, 50), mx);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (argc < 2) {
    std::fprintf(stderr, "usage: api_load load|fanout --port P --path /x [options]\n");
    return 2;
  }
  a.mode = argv[1];
  std::map<std::string, std::string> kv;
  for (int i = 2; i + 1 < argc; i += 2) kv[argv[i]] = argv[i + 1];
  auto get = [&](const char* k, const std::string& d) { return kv.count(k) ? kv[k] : d; };
  a.host = get("--host", a.host);
  a.port = std::stoi(get("--port", "0"));
  a.cert = get("--cert", "");
  a.key = get("--key", "");
  a.path = get("--path", "/");
  a.watch_path = get("--watch-path", "");
  a.method = get("--method", "GET");
  a.content_type = get("--content-type", "");
  a.connections = std::stoi(get("--connections", "1"));
  a.requests = std::min(std::stoi(get("--requests", "100")), 100000);
  a.seconds = std::min(std::stod(get("--seconds", "0")), 60.0);
  a.rate = std::stod(get("--rate", "0"));
  a.plain = get("--plain", "0") == "1";
  a.host_header = get("--host-header", "");
  a.watchers = std::min(std::stoi(get("--watchers", "10")), 200);
  a.events = std::min(std::stoi(get("--events", "20")), 1000);
  if (kv.count("--body-file")) {
    std::ifstream f(kv["--body-file"]);
    std::stringstream ss;
    ss << f.rdbuf();
    a.body = ss.str();
  }
  if (a.host != "127.0.0.1" && a.host != "localhost") {
    std::fprintf(stderr, "api_load: only 127.0.0.1 is allowed\n");
    return 2;
  }
  if (a.host == "localhost") a.host = "127.0.0.1";
  SSL_CTX* ctx = make_ctx(a);
  if (!ctx) return 2;
  int rc = a.mode == "fanout" ? run_fanout(a, ctx) : run_load(a, ctx);
  SSL_CTX_free(ctx);
  return rc;
}
