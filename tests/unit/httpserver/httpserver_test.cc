// The TLS HTTP server against a real TLS client (Asio ssl::stream + Beast) on 127.0.0.1.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <filesystem>
#include <thread>

#include "httpserver/server.h"
#include "pki/pki.h"

using namespace k3dpp;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Pki {
  pki::CertKey ca, serving, admin, node, foreign;
  Pki() {
    ca = *pki::generate_ca("test-ca");
    serving = *pki::issue_serving(ca, "srv", {"127.0.0.1", "localhost"});
    admin = *pki::issue_client(ca, "admin", {"system:masters"});
    node = *pki::issue_client(ca, "system:node:n1", {"system:nodes"});
    auto other = *pki::generate_ca("evil-ca");
    foreign = *pki::issue_client(other, "admin", {"system:masters"});
  }
};
const Pki& test_pki() {
  static Pki p;
  return p;
}

class Client {
 public:
  Client(uint16_t port, const pki::CertKey* cert) : ctx_(make_context(cert)), s_(ioc_, ctx_) {
    s_.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    s_.handshake(ssl::stream_base::client);
  }

  bhttp::response<bhttp::string_body> request(const std::string& method, const std::string& target,
                                              const std::string& body = "") {
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(s_, req);
    return read_response();
  }
  bhttp::response<bhttp::string_body> read_response() {
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(64 * 1024 * 1024);
    bhttp::read(s_, buf_, p);
    return p.release();
  }
  void write_raw(const std::string& bytes) { asio::write(s_, asio::buffer(bytes)); }
  // Reads until EOF or error; returns what arrived.
  std::string read_to_end() {
    boost::system::error_code ec;
    std::string out(static_cast<const char*>(buf_.data().data()), buf_.size());
    buf_.consume(buf_.size());
    char tmp[4096];
    for (;;) {
      size_t n = s_.read_some(asio::buffer(tmp), ec);
      if (ec) break;
      out.append(tmp, n);
    }
    return out;
  }
  // Reads until `delim` is in the buffer; returns the length up to and including it.
  size_t read_until(const std::string& delim) {
    for (;;) {
      std::string_view have(static_cast<const char*>(buf_.data().data()), buf_.size());
      auto pos = have.find(delim);
      if (pos != std::string_view::npos) return pos + delim.size();
      auto mb = buf_.prepare(4096);
      buf_.commit(s_.read_some(mb));
    }
  }
  ssl::stream<tcp::socket>& stream() { return s_; }
  boost::beast::flat_buffer& buffer() { return buf_; }

 private:
  // The SSL object copies the context's certificate when the stream is built: configure first.
  static ssl::context make_context(const pki::CertKey* cert) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.add_certificate_authority(asio::buffer(test_pki().ca.cert_pem));
    ctx.set_verify_mode(ssl::verify_peer);
    if (cert) {
      ctx.use_certificate_chain(asio::buffer(cert->cert_pem));
      ctx.use_private_key(asio::buffer(cert->key_pem), ssl::context::pem);
    }
    return ctx;
  }
  asio::io_context ioc_;
  ssl::context ctx_;
  ssl::stream<tcp::socket> s_;
  boost::beast::flat_buffer buf_;
};

// A handler that covers every responder path.
void test_handler(const http::Request& req, http::Responder& r) {
  if (req.path == "/echo" || req.path == "/cacerts" || req.path == "/a b") {
    http::Response res;
    res.headers.emplace_back("Content-Type", "text/plain");
    std::string q;
    for (auto& [k, v] : req.query) q += k + "=" + v + ";";
    res.body = req.method + " " + req.path + " user=" + req.user.name + " groups=" +
               (req.user.groups.empty() ? "" : req.user.groups[0]) +
               " auth=" + (req.user.authenticated ? "yes" : "no") + " q=" + q +
               " body=" + std::to_string(req.body.size());
    r.send(std::move(res));
  } else if (req.path == "/stream") {
    auto& s = r.stream(200, {{"Content-Type", "application/json"}});
    for (int i = 0; i < 3; ++i) s.write("{\"n\":" + std::to_string(i) + "}\n");
  } else if (req.path == "/hold") {
    // A watch: one event, then wait until the client leaves.
    auto& s = r.stream(200, {{"Content-Type", "application/json"}});
    s.write("hello\n");
    while (!s.closed()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } else if (req.path == "/upgrade") {
    auto& c = r.upgrade({{"Upgrade", "echo"}, {"Connection", "Upgrade"}});
    char buf[1024];
    for (;;) {
      long n = c.read(buf, sizeof buf);
      if (n <= 0) break;
      std::string s(buf, static_cast<size_t>(n));
      if (!c.write(s)) break;
      if (s.find("bye") != std::string::npos) break;
    }
  } else if (req.path == "/throw") {
    throw std::runtime_error("boom");
  } else if (req.path == "/nothing") {
    // no answer at all
  } else {
    r.send(http::status_response(404, "NotFound", "not found"));
  }
}

struct Fixture {
  std::unique_ptr<httpserver::Server> server;
  uint16_t port = 0;
  Fixture() {
    const auto& p = test_pki();
    httpserver::Options o;
    o.listen = "127.0.0.1:0";
    o.cert_pem = p.serving.cert_pem;
    o.key_pem = p.serving.key_pem;
    o.client_ca_pem = p.ca.cert_pem;
    o.header_timeout = std::chrono::milliseconds(1500);
    o.idle_timeout = std::chrono::milliseconds(3000);
    auto s = httpserver::Server::start(o, test_handler);
    REQUIRE(s);
    server = std::move(*s);
    port = server->port();
  }
};

}  // namespace

TEST_CASE("query and path decoding") {
  auto q = http::parse_query("a=1&b=x%20y&c=p+q&a=2&flag&=v&d=%zz");
  CHECK(q.count("a") == 2);
  CHECK(q.find("b")->second == "x y");
  CHECK(q.find("c")->second == "p q");
  CHECK(q.find("flag")->second == "");
  CHECK(q.find("d")->second == "%zz");
  CHECK(http::url_decode("/api/v1/namespaces/a%2Fb+c", false) == "/api/v1/namespaces/a/b+c");
  auto st = http::status_response(401, "Unauthorized", "Unauthorized");
  CHECK(st.body ==
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})");
}

TEST_CASE_FIXTURE(Fixture, "no client certificate: 401 Status, except anonymous paths") {
  Client c(port, nullptr);
  auto res = c.request("GET", "/echo");
  CHECK(res.result_int() == 401);
  CHECK(res[bhttp::field::content_type] == "application/json");
  CHECK(res.body() ==
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})");
  auto ca = c.request("GET", "/cacerts");
  CHECK(ca.result_int() == 200);
  CHECK(ca.body() == "GET /cacerts user= groups= auth=no q= body=0");
}

TEST_CASE_FIXTURE(Fixture, "client certificate: user and groups, keep-alive, decoding") {
  Client c(port, &test_pki().admin);
  auto r1 = c.request("GET", "/echo?limit=500&labelSelector=app%3Dweb");
  CHECK(r1.result_int() == 200);
  CHECK(r1.body() == "GET /echo user=admin groups=system:masters auth=yes q=labelSelector=app=web;limit=500; body=0");
  CHECK(r1.keep_alive());
  // Second request on the same connection.
  auto r2 = c.request("POST", "/a%20b", std::string(1000, 'x'));
  CHECK(r2.result_int() == 200);
  CHECK(r2.body() == "POST /a b user=admin groups=system:masters auth=yes q= body=1000");
  auto r3 = c.request("GET", "/missing");
  CHECK(r3.result_int() == 404);

  Client n(port, &test_pki().node);
  CHECK(n.request("GET", "/echo").body() == "GET /echo user=system:node:n1 groups=system:nodes auth=yes q= body=0");
}

TEST_CASE_FIXTURE(Fixture, "a certificate from another CA is refused") {
  bool refused = false;
  try {
    Client c(port, &test_pki().foreign);
    auto r = c.request("GET", "/echo");
    refused = r.result_int() == 401;
  } catch (const std::exception&) {
    refused = true;  // handshake alert
  }
  CHECK(refused);
}

TEST_CASE_FIXTURE(Fixture, "chunked stream, then the connection is reused") {
  Client c(port, &test_pki().admin);
  auto r = c.request("GET", "/stream");
  CHECK(r.result_int() == 200);
  CHECK(r.chunked());
  CHECK(r.body() == "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
  CHECK(c.request("GET", "/echo").result_int() == 200);
}

TEST_CASE_FIXTURE(Fixture, "handler errors become 500 Status") {
  Client c(port, &test_pki().admin);
  auto r = c.request("GET", "/throw");
  CHECK(r.result_int() == 500);
  CHECK(r.body().find("\"reason\":\"InternalError\"") != std::string::npos);
  auto r2 = c.request("GET", "/nothing");
  CHECK(r2.result_int() == 500);
}

TEST_CASE_FIXTURE(Fixture, "101 upgrade hands over the raw stream, bytes sent early included") {
  Client c(port, &test_pki().admin);
  // The request and the first upgraded bytes in one write: the server must not lose them.
  c.write_raw("GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly-");
  size_t n = c.read_until("\r\n\r\n");
  std::string head(static_cast<const char*>(c.buffer().data().data()), n);
  c.buffer().consume(n);
  CHECK(head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
  CHECK(head.find("Upgrade: echo\r\n") != std::string::npos);
  auto read_exact = [&](size_t k) {
    while (c.buffer().size() < k) {
      auto mb = c.buffer().prepare(4096);
      size_t got = c.stream().read_some(mb);
      c.buffer().commit(got);
    }
    std::string s(static_cast<const char*>(c.buffer().data().data()), k);
    c.buffer().consume(k);
    return s;
  };
  CHECK(read_exact(6) == "early-");
  c.write_raw("ping");
  CHECK(read_exact(4) == "ping");
  c.write_raw("bye");
  CHECK(read_exact(3) == "bye");
  // The handler returned: the server closes the connection.
  CHECK(c.read_to_end().empty());
}

TEST_CASE_FIXTURE(Fixture, "body over 3 MiB gets 413") {
  Client c(port, &test_pki().admin);
  c.write_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(4 * 1024 * 1024) +
              "\r\n\r\n" + std::string(1024, 'x'));
  auto r = c.read_response();
  CHECK(r.result_int() == 413);
  CHECK(r.body().find("\"code\":413") != std::string::npos);

  // Chunked bodies are counted too.
  Client c2(port, &test_pki().admin);
  std::string big(1024 * 1024, 'y');
  c2.write_raw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  int code = 0;
  try {
    for (int i = 0; i < 4; ++i) {
      char hdr[32];
      std::snprintf(hdr, sizeof hdr, "%zx\r\n", big.size());
      c2.write_raw(hdr + big + "\r\n");
    }
  } catch (const std::exception&) {
  }
  try {
    code = c2.read_response().result_int();
  } catch (const std::exception&) {
  }
  CHECK(code == 413);

  // Exactly at the limit is fine.
  Client c3(port, &test_pki().admin);
  auto ok = c3.request("POST", "/echo", std::string(3 * 1024 * 1024, 'z'));
  CHECK(ok.result_int() == 200);
  CHECK(ok.body().find("body=3145728") != std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "garbage closes the connection; the server lives on") {
  {
    Client c(port, &test_pki().admin);
    c.write_raw("\x01\x02 NOT HTTP AT ALL\r\n\r\n");
    std::string rest = c.read_to_end();
    CHECK((rest.empty() || rest.rfind("HTTP/1.1 400", 0) == 0));
  }
  {
    // Not even TLS.
    asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    asio::write(s, asio::buffer(std::string("GET / HTTP/1.1\r\n\r\n")));
    boost::system::error_code ec;
    char buf[256];
    while (!ec) s.read_some(asio::buffer(buf), ec);
    CHECK(ec);
  }
  Client c(port, &test_pki().admin);
  CHECK(c.request("GET", "/echo").result_int() == 200);
}

TEST_CASE_FIXTURE(Fixture, "a client that stops mid-header is cut off by the header timeout") {
  Client c(port, &test_pki().admin);
  c.write_raw("GET /echo HTTP/1.1\r\nHost: x\r\n");
  auto start = std::chrono::steady_clock::now();
  c.read_to_end();
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= std::chrono::milliseconds(1000));
  CHECK(waited < std::chrono::milliseconds(5000));
}

TEST_CASE_FIXTURE(Fixture, "150 concurrent streams, each sees its event; closed clients free their threads") {
  constexpr int kN = 150;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kN; ++i) {
    clients.push_back(std::make_unique<Client>(port, &test_pki().admin));
    clients.back()->write_raw("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  int ok = 0;
  for (auto& c : clients) {
    size_t n = c->read_until("hello\n");
    if (n > 0) ++ok;
  }
  CHECK(ok == kN);
  CHECK(server->active_connections() == kN);
  clients.clear();  // closes every socket
  for (int i = 0; i < 100 && server->active_connections() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(server->active_connections() == 0);
}

TEST_CASE_FIXTURE(Fixture, "stop() ends idle and streaming connections promptly") {
  Client idle(port, &test_pki().admin);
  CHECK(idle.request("GET", "/echo").result_int() == 200);
  Client watch(port, &test_pki().admin);
  watch.write_raw("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
  watch.read_until("hello\n");
  auto start = std::chrono::steady_clock::now();
  server->stop(std::chrono::milliseconds(10'000));
  // Idle and streaming connections do not wait for the grace period.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1500));
  CHECK(server->active_connections() == 0);
  bool refused = false;
  try {
    Client late(port, &test_pki().admin);
  } catch (const std::exception&) {
    refused = true;
  }
  CHECK(refused);
}

TEST_CASE_FIXTURE(Fixture, "mutated requests never take the server down") {
  const std::vector<std::string> base = {
      "GET /echo?a=%41&b HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      "GET /upgrade HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nbye",
      "GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\n\r\n",
  };
  uint32_t seed = 12345;
  auto rnd = [&](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % n;
  };
  for (int i = 0; i < 200; ++i) {
    std::string b = base[rnd(static_cast<uint32_t>(base.size()))];
    for (uint32_t k = rnd(8); k > 0 && !b.empty(); --k) {
      size_t p = rnd(static_cast<uint32_t>(b.size()));
      switch (rnd(3)) {
        case 0: b[p] = static_cast<char>(rnd(256)); break;
        case 1: b.erase(p, 1); break;
        default: b.insert(p, std::string(1 + rnd(20), static_cast<char>(rnd(256))));
      }
    }
    try {
      Client c(port, &test_pki().admin);
      c.write_raw(b);
    } catch (const std::exception&) {
    }
  }
  Client c(port, &test_pki().admin);
  CHECK(c.request("GET", "/echo").result_int() == 200);
}

namespace {
// A raw TCP connection that sends `bytes` and then stalls (slowloris).
tcp::socket stalled_tcp(asio::io_context& ioc, uint16_t port, const std::string& bytes) {
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  if (!bytes.empty()) asio::write(s, asio::buffer(bytes));
  return s;
}
}  // namespace

TEST_CASE_FIXTURE(Fixture, "slow clients never stall the event loop for others") {
  // More stalled clients than event-loop workers, in every phase: no TLS hello at all, half a
  // hello, TLS done but half a header, and a 2 MB body that stops half way (3 MiB+ gets 413 at once).
  asio::io_context ioc;
  std::vector<tcp::socket> raw;
  for (int i = 0; i < 8; ++i) raw.push_back(stalled_tcp(ioc, port, ""));
  for (int i = 0; i < 8; ++i) raw.push_back(stalled_tcp(ioc, port, std::string("\x16\x03\x01\x02\x00\x01", 6)));
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 8; ++i) {
    slow.push_back(std::make_unique<Client>(port, &test_pki().admin));
    slow.back()->write_raw("GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::make_unique<Client>(port, &test_pki().admin));
    slow.back()->write_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" +
                           std::string(1024 * 1024, 'x'));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // A normal client is served at once, request after request.
  Client c(port, &test_pki().admin);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) CHECK(c.request("GET", "/echo").result_int() == 200);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1000));
  // The stalled header clients are still cut off by the header timeout (1.5 s here).
  auto cut = slow[0]->read_to_end();
  CHECK(cut.find("200") == std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "many idle keep-alive connections are served by a few workers") {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 60; ++i) {
    clients.push_back(std::make_unique<Client>(port, &test_pki().admin));
    CHECK(clients.back()->request("GET", "/echo").result_int() == 200);
  }
  CHECK(server->active_connections() == 60);
  // Every connection again, round robin: all still open and served.
  for (int round = 0; round < 3; ++round)
    for (auto& c : clients) CHECK(c->request("GET", "/echo?r=" + std::to_string(round)).result_int() == 200);
  // Threads in this process: the workers stay few (no thread per idle connection).
  auto threads = [] {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
      (void)e;
      ++n;
    }
    return n;
  };
  CHECK(threads() < 20);
}

TEST_CASE("stalled clients hold no thread; past the cap the oldest unauthenticated ones go first") {
  const auto& p = test_pki();
  httpserver::Options o;
  o.listen = "127.0.0.1:0";
  o.cert_pem = p.serving.cert_pem;
  o.key_pem = p.serving.key_pem;
  o.client_ca_pem = p.ca.cert_pem;
  o.max_unauthenticated_connections = 20;
  o.max_connections = 40;
  auto started = httpserver::Server::start(o, test_handler);
  REQUIRE(started);
  auto& server = *started;
  auto threads = [] {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
      (void)e;
      ++n;
    }
    return n;
  };
  size_t before = threads();
  // Authenticated clients stalled mid-header and mid-body: they stay open, and cost no thread.
  std::vector<std::unique_ptr<Client>> admins;
  for (int i = 0; i < 10; ++i) {
    admins.push_back(std::make_unique<Client>(server->port(), &p.admin));
    // One request first: the server has seen the certificate (a connection still in its
    // handshake counts as unauthenticated and could be evicted).
    REQUIRE(admins.back()->request("GET", "/echo").result_int() == 200);
    admins.back()->write_raw(i % 2 ? "GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: "
                                   : "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
  }
  // 60 unauthenticated ones stalled mid-header: only the newest 20 stay.
  std::vector<std::unique_ptr<Client>> anons;
  for (int i = 0; i < 60; ++i) {
    anons.push_back(std::make_unique<Client>(server->port(), nullptr));
    anons.back()->write_raw("GET /cacerts HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(threads() <= before + 2);  // a replaced worker at most; never one per stalled client
  CHECK(server->active_connections() <= 10 + 20 + 1);
  // The oldest unauthenticated connection was closed; the newest is still open.
  CHECK(anons.front()->read_to_end().find("HTTP/1.1") == std::string::npos);
  anons.back()->write_raw("\r\n\r\n");
  CHECK(anons.back()->read_response().result_int() == 200);
  // A stalled authenticated client finishes its request and is served.
  admins[1]->write_raw("x\r\n\r\n");
  CHECK(admins[1]->read_response().result_int() == 200);
  admins[0]->write_raw(std::string(97, 'x'));
  auto r = admins[0]->read_response();
  CHECK(r.result_int() == 200);
  CHECK(r.body().find("body=100") != std::string::npos);
  // New clients with a certificate are served while all this is open.
  Client c(server->port(), &p.admin);
  CHECK(c.request("GET", "/echo").result_int() == 200);
  // Unauthenticated with a body: 401 at once, the body never read.
  Client anon(server->port(), nullptr);
  anon.write_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
  CHECK(anon.read_response().result_int() == 401);
}
