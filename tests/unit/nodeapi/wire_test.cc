#include <doctest/doctest.h>

#include <string>

#include "nodeapi/wire.h"

using namespace k3dpp::nodeapi;

namespace {
// Serves a fixed byte string in small pieces, then EOF; records writes.
class ScriptConn : public k3dpp::http::Conn {
 public:
  ScriptConn(std::string data, size_t piece) : data_(std::move(data)), piece_(piece) {}
  long read(char* buf, size_t n) override {
    if (off_ >= data_.size()) return 0;
    size_t k = std::min({n, piece_, data_.size() - off_});
    data_.copy(buf, k, off_);
    off_ += k;
    return static_cast<long>(k);
  }
  bool write(std::string_view b) override {
    written += b;
    return true;
  }
  void close() override { closed = true; }
  std::string written;
  bool closed = false;

 private:
  std::string data_;
  size_t piece_;
  size_t off_ = 0;
};
}  // namespace

TEST_CASE("forwarded_request_headers keeps the upgrade handshake only") {
  k3dpp::http::Headers h = {{"upgrade", "SPDY/3.1"},
                            {"connection", "Upgrade"},
                            {"x-stream-protocol-version", "v5.channel.k8s.io"},
                            {"x-stream-protocol-version", "v4.channel.k8s.io"},
                            {"sec-websocket-protocol", "v5.channel.k8s.io"},
                            {"sec-websocket-key", "abc"},
                            {"authorization", "Bearer secret"},
                            {"host", "127.0.0.1:6443"},
                            {"content-length", "0"}};
  auto f = forwarded_request_headers(h);
  std::string all;
  for (auto& [k, v] : f) all += k + "=" + v + ";";
  CHECK(all ==
        "connection=Upgrade;sec-websocket-key=abc;sec-websocket-protocol=v5.channel.k8s.io;upgrade=SPDY/3.1;"
        "x-stream-protocol-version=v5.channel.k8s.io;x-stream-protocol-version=v4.channel.k8s.io;");
  CHECK(render_request_head("POST", "/exec/t", "127.0.0.1:1", {{"upgrade", "SPDY/3.1"}}) ==
        "POST /exec/t HTTP/1.1\r\nHost: 127.0.0.1:1\r\nupgrade: SPDY/3.1\r\nContent-Length: 0\r\n\r\n");
  CHECK(render_request_head("GET", "/x", "h", {}) == "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
}

TEST_CASE("parse_response_head") {
  auto h = parse_response_head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version:  v4.channel.k8s.io ");
  REQUIRE(h);
  CHECK(h->status == 101);
  CHECK(h->reason == "Switching Protocols");
  CHECK(h->header("upgrade") == "SPDY/3.1");
  CHECK(h->header("x-stream-protocol-version") == "v4.channel.k8s.io");
  CHECK(!parse_response_head("SSH-2.0-OpenSSH"));
  CHECK(!parse_response_head("HTTP/1.1 abc x"));
  CHECK(!parse_response_head("HTTP/1.1 200 OK\r\nno colon here"));
}

TEST_CASE("read_response_head keeps the bytes after the head") {
  ScriptConn c("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x82\x01x", 5);
  std::string left;
  auto h = read_response_head(c, left);
  REQUIRE(h);
  CHECK(h->status == 101);
  CHECK(left.size() <= 3);
  // The rest is still in the conn or in leftover: together they are the 3 frame bytes.
  char buf[16];
  long n = c.read(buf, sizeof buf);
  CHECK(left + std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) == "\x82\x01x");

  ScriptConn eof("", 5);
  std::string l2;
  auto bad = read_response_head(eof, l2);
  REQUIRE(!bad);
  CHECK(bad.error().message == "connection closed before a response");
}

TEST_CASE("read_body: chunked, Content-Length and until close") {
  ScriptConn chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n\r\n", 3);
  std::string left;
  auto h = read_response_head(chunked, left);
  REQUIRE(h);
  std::string body;
  std::vector<std::string> pieces;
  REQUIRE(read_body(chunked, *h, left, [&](std::string_view p) {
    body += p;
    pieces.emplace_back(p);
    return true;
  }));
  CHECK(body == "hello world");
  CHECK(pieces.size() == 3);

  ScriptConn sized("HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbiddenEXTRA", 4);
  left.clear();
  h = read_response_head(sized, left);
  REQUIRE(h);
  body.clear();
  REQUIRE(read_body(sized, *h, left, [&](std::string_view p) {
    body += p;
    return true;
  }));
  CHECK(body == "forbidden");

  ScriptConn until_close("HTTP/1.0 200 OK\r\n\r\nall of it", 2);
  left.clear();
  h = read_response_head(until_close, left);
  REQUIRE(h);
  body.clear();
  REQUIRE(read_body(until_close, *h, left, [&](std::string_view p) {
    body += p;
    return true;
  }));
  CHECK(body == "all of it");

  ScriptConn cut("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", 100);
  left.clear();
  h = read_response_head(cut, left);
  REQUIRE(h);
  auto st = read_body(cut, *h, left, [](std::string_view) { return true; });
  REQUIRE(!st);
  CHECK(st.error().message == "connection closed in a chunk");
}

TEST_CASE("relayed_response_headers drops framing and hop-by-hop headers") {
  ResponseHead h;
  h.headers = {{"Content-Type", "application/json"}, {"Content-Length", "10"}, {"Date", "x"},
               {"Connection", "close"}, {"X-Content-Type-Options", "nosniff"}};
  auto r = relayed_response_headers(h);
  REQUIRE(r.size() == 2);
  CHECK(r[0].first == "Content-Type");
  CHECK(r[1].first == "X-Content-Type-Options");
}
