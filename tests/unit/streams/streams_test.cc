// Unit tests of the streams module: websocket framing and handshake, SPDY/3.1 frames, header
// compression (against header blocks captured from the real kubectl), sessions, and the exec and
// port-forward protocol layers over in-memory connections.
#include <doctest/doctest.h>
#include <zlib.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "streams/byte_stream.h"
#include "streams/client.h"
#include "streams/portforward.h"
#include "streams/remotecommand.h"
#include "streams/spdy.h"
#include "streams/upgrade.h"
#include "streams/websocket.h"

using namespace k3dpp::streams;
using k3dpp::http::Headers;

namespace {

std::string read_fixture(const std::string& name) {
  std::ifstream f(std::string(K3DPP_STREAMS_FIXTURES) + "/" + name, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "missing fixture " << name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Two in-memory connections wired to each other.
struct ConnPair {
  std::unique_ptr<ByteStream> a, b;
  std::unique_ptr<StreamConn> ca, cb;
  ConnPair() {
    make_pipe_pair(a, b);
    ca = std::make_unique<StreamConn>(*a);
    cb = std::make_unique<StreamConn>(*b);
  }
};

Headers ws_request_headers(const std::string& protocols) {
  Headers h;
  h.emplace("upgrade", "websocket");
  h.emplace("connection", "Upgrade");
  h.emplace("sec-websocket-version", "13");
  h.emplace("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
  if (!protocols.empty()) h.emplace("sec-websocket-protocol", protocols);
  return h;
}

}  // namespace

TEST_CASE("websocket accept key: RFC 6455 section 1.3 example") {
  CHECK(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("websocket server handshake chooses an offered subprotocol") {
  auto hs = ws::server_handshake("GET", ws_request_headers("v4.channel.k8s.io, v5.channel.k8s.io"),
                                 {"v5.channel.k8s.io"});
  REQUIRE(hs);
  CHECK(hs->protocol == "v5.channel.k8s.io");
  std::map<std::string, std::string> m(hs->headers.begin(), hs->headers.end());
  CHECK(m["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(m["Sec-WebSocket-Protocol"] == "v5.channel.k8s.io");
  CHECK(m["Upgrade"] == "websocket");

  auto none = ws::server_handshake("GET", ws_request_headers("base64.channel.k8s.io"), {"v5.channel.k8s.io"});
  REQUIRE_FALSE(none);
  CHECK(none.error().is("BadRequest"));
  CHECK(none.error().message.find("base64.channel.k8s.io") != std::string::npos);

  auto post = ws::server_handshake("POST", ws_request_headers("v5.channel.k8s.io"), {"v5.channel.k8s.io"});
  CHECK_FALSE(post);
  Headers bad_key = ws_request_headers("v5.channel.k8s.io");
  bad_key.erase("sec-websocket-key");
  bad_key.emplace("sec-websocket-key", "c2hvcnQ=");
  auto bk = ws::server_handshake("GET", bad_key, {"v5.channel.k8s.io"});
  REQUIRE_FALSE(bk);
  CHECK(bk.error().message.find("16 bytes") != std::string::npos);
}

TEST_CASE("websocket frames round trip with 7-bit, 16-bit and 64-bit lengths, masked and not") {
  for (size_t len : {size_t{0}, size_t{5}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536}, size_t{200000}}) {
    std::string payload(len, '\0');
    for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(i * 7);
    for (bool masked : {false, true}) {
      std::optional<std::array<uint8_t, 4>> mask;
      if (masked) mask = std::array<uint8_t, 4>{0x12, 0x34, 0x56, 0x78};
      std::string wire = ws::encode_frame(ws::Opcode::kBinary, payload, true, mask);
      size_t header = (len < 126 ? 2 : len <= 0xFFFF ? 4 : 10) + (masked ? 4 : 0);
      CHECK(wire.size() == header + len);
      ws::Frame f;
      // Incomplete input asks for more.
      auto part = ws::decode_frame(std::string_view(wire).substr(0, wire.size() - 1), masked, 1u << 20, f);
      REQUIRE(part);
      CHECK(*part == 0);
      auto used = ws::decode_frame(wire, masked, 1u << 20, f);
      REQUIRE(used);
      CHECK(*used == wire.size());
      CHECK(f.payload == payload);
      CHECK(f.fin);
      CHECK(f.opcode == ws::Opcode::kBinary);
    }
  }
  // Known bytes: an unmasked "Hello" text frame (RFC 6455 section 5.7).
  CHECK(ws::encode_frame(ws::Opcode::kText, "Hello", true, std::nullopt) == std::string("\x81\x05Hello"));
  // And the masked one from the same section.
  ws::Frame f;
  std::string masked_hello("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
  REQUIRE(ws::decode_frame(masked_hello, true, 100, f));
  CHECK(f.payload == "Hello");
}

TEST_CASE("websocket frame guards") {
  ws::Frame f;
  std::string big = ws::encode_frame(ws::Opcode::kBinary, std::string(2000, 'x'), true, std::nullopt);
  auto r = ws::decode_frame(big, false, 1000, f);
  REQUIRE_FALSE(r);
  CHECK(r.error().is("TooBig"));
  // A server must refuse unmasked client frames.
  auto um = ws::decode_frame(ws::encode_frame(ws::Opcode::kBinary, "x", true, std::nullopt), true, 1000, f);
  REQUIRE_FALSE(um);
  CHECK(um.error().message.find("not masked") != std::string::npos);
  // Fragmented control frame.
  auto frag = ws::decode_frame(std::string("\x09\x00", 2), false, 1000, f);
  CHECK_FALSE(frag);
  // Reserved bits.
  CHECK_FALSE(ws::decode_frame(std::string("\xC2\x00", 2), false, 1000, f));
  // 64-bit length with the top bit set.
  CHECK_FALSE(ws::decode_frame(std::string("\x82\x7F\x80\x00\x00\x00\x00\x00\x00\x01", 10), false, 1000, f));
}

TEST_CASE("websocket endpoints: fragmentation, ping/pong, close handshake") {
  ConnPair p;
  ws::WebSocket server(*p.ca, ws::Role::kServer);
  ws::WebSocket client(*p.cb, ws::Role::kClient);
  // The client sends a fragmented message with a ping in between, then a close.
  std::array<uint8_t, 4> m{1, 2, 3, 4};
  p.b->write(ws::encode_frame(ws::Opcode::kBinary, "hel", false, m));
  p.b->write(ws::encode_frame(ws::Opcode::kPing, "pp", true, m));
  p.b->write(ws::encode_frame(ws::Opcode::kContinuation, "lo", true, m));
  auto msg = server.read();
  REQUIRE(msg);
  CHECK(msg->opcode == ws::Opcode::kBinary);
  CHECK(msg->payload == "hello");
  // The server answered the ping with a pong the client skips; then it gets the server's message.
  server.send(ws::Opcode::kText, "world");
  auto back = client.read();
  REQUIRE(back);
  CHECK(back->opcode == ws::Opcode::kText);
  CHECK(back->payload == "world");
  // Close from the client: the server answers with the same code.
  client.close(1000, "bye");
  auto c = server.read();
  REQUIRE(c);
  CHECK(c->opcode == ws::Opcode::kClose);
  CHECK(c->close_code == 1000);
  CHECK(c->payload == "bye");
  CHECK(server.close_sent());
  auto echo = client.read();
  REQUIRE(echo);
  CHECK(echo->opcode == ws::Opcode::kClose);
  CHECK(echo->close_code == 1000);
  // A message over the limit closes with 1009.
  ConnPair q;
  ws::WebSocket small(*q.ca, ws::Role::kServer, 10);
  q.b->write(ws::encode_frame(ws::Opcode::kBinary, "0123456789ABC", true, m));
  auto tb = small.read();
  REQUIRE_FALSE(tb);
  CHECK(tb.error().is("TooBig"));
  ws::WebSocket peer(*q.cb, ws::Role::kClient);
  auto cl = peer.read();
  REQUIRE(cl);
  CHECK(cl->close_code == 1009);
}

TEST_CASE("websocket message byte stream ignores message boundaries") {
  ConnPair p;
  ws::WebSocket server(*p.ca, ws::Role::kServer);
  ws::WebSocket client(*p.cb, ws::Role::kClient);
  ws::MessageByteConn bytes(server);
  client.send_binary("ab");
  client.send_binary("");
  client.send_binary("cdef");
  client.close();
  std::string got;
  char buf[3];
  long n;
  while ((n = bytes.read(buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  CHECK(got == "abcdef");
}

TEST_CASE("SPDY/3 dictionary: size and the zlib dictionary id kubectl uses") {
  auto d = spdy::dictionary();
  CHECK(d.size() == 1423);
  uLong id = adler32(adler32(0, nullptr, 0), reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()));
  CHECK(id == 0xe3c6a7c2);  // the DICTID in the zlib header of kubectl's header blocks (fixture)
  CHECK(d.substr(0, 11) == std::string_view("\0\0\0\x07options", 11));
  CHECK(d.substr(d.size() - 6) == "enq=0.");
}

TEST_CASE("SPDY frames encode and decode") {
  std::string syn = spdy::encode_control(spdy::FrameType::kSynStream, spdy::kFlagFin,
                                         spdy::syn_stream_payload(5, 0, 0, "BLOCK"));
  CHECK(syn.substr(0, 8) == std::string("\x80\x03\x00\x01\x01\x00\x00\x0f", 8));
  spdy::RawFrame f;
  auto used = spdy::decode_frame(syn, 1 << 20, f);
  REQUIRE(used);
  CHECK(*used == syn.size());
  CHECK(f.control);
  CHECK(f.type == 1);
  CHECK(f.flags == spdy::kFlagFin);
  CHECK(spdy::read_u32(f.payload, 0) == 5);
  CHECK(f.payload.substr(10) == "BLOCK");

  std::string data = spdy::encode_data(7, spdy::kFlagFin, "xyz");
  CHECK(data == std::string("\x00\x00\x00\x07\x01\x00\x00\x03xyz", 11));
  REQUIRE(spdy::decode_frame(data, 1 << 20, f));
  CHECK_FALSE(f.control);
  CHECK(f.stream_id == 7);
  CHECK(f.payload == "xyz");
  // Incomplete and wrong version.
  auto inc = spdy::decode_frame(std::string_view(data).substr(0, 9), 1 << 20, f);
  REQUIRE(inc);
  CHECK(*inc == 0);
  std::string v2 = syn;
  v2[1] = 2;
  CHECK_FALSE(spdy::decode_frame(v2, 1 << 20, f));
  CHECK(spdy::rst_stream_payload(3, spdy::kCancel) == std::string("\0\0\0\x03\0\0\0\x05", 8));
  CHECK(spdy::goaway_payload(9, 0) == std::string("\0\0\0\x09\0\0\0\0", 8));
}

TEST_CASE("SPDY header blocks: compression round trip over one context per direction") {
  spdy::HeaderCompressor c;
  spdy::HeaderDecompressor d;
  for (int i = 0; i < 5; ++i) {
    spdy::HeaderList h = {{"streamtype", i % 2 ? "data" : "error"}, {"port", "80"}, {"requestid", std::to_string(i)}};
    auto block = c.compress(h);
    // A sync flush ends every block.
    REQUIRE(block.size() > 4);
    CHECK(block.substr(block.size() - 4) == std::string("\0\0\xff\xff", 4));
    auto back = d.decompress(block);
    REQUIRE(back);
    CHECK(*back == h);
  }
  spdy::HeaderDecompressor fresh;
  CHECK_FALSE(fresh.decompress("garbage that is not zlib"));
  CHECK_FALSE(spdy::decode_header_block(std::string("\0\0\0\x02\0\0\0\x01", 8)));
}

TEST_CASE("SPDY: decode the frames the real kubectl 1.32 sent for a port-forward connection") {
  // Captured by tools/capture_portforward.py: SYN_STREAM error, DATA+FIN, SYN_STREAM data, DATA.
  std::string wire = read_fixture("kubectl_portforward_spdy.bin");
  spdy::HeaderDecompressor d;
  std::vector<spdy::RawFrame> frames;
  std::string_view rest = wire;
  while (!rest.empty()) {
    spdy::RawFrame f;
    auto used = spdy::decode_frame(rest, 1 << 20, f);
    REQUIRE(used);
    REQUIRE(*used > 0);
    frames.push_back(f);
    rest.remove_prefix(*used);
  }
  REQUIRE(frames.size() == 4);
  REQUIRE(frames[0].control);
  CHECK(frames[0].type == 1);
  CHECK(spdy::read_u32(frames[0].payload, 0) == 1);
  auto h1 = d.decompress(std::string_view(frames[0].payload).substr(10));
  REQUIRE(h1);
  CHECK(spdy::find_header(*h1, "streamtype") == "error");
  CHECK(spdy::find_header(*h1, "port") == "80");
  CHECK(spdy::find_header(*h1, "requestID") == "0");
  CHECK_FALSE(frames[1].control);
  CHECK(frames[1].stream_id == 1);
  CHECK(frames[1].flags == spdy::kFlagFin);
  CHECK(frames[1].payload.empty());
  REQUIRE(frames[2].control);
  CHECK(spdy::read_u32(frames[2].payload, 0) == 3);
  // The second block only decodes with the context the first one left behind.
  auto h2 = d.decompress(std::string_view(frames[2].payload).substr(10));
  REQUIRE(h2);
  CHECK(spdy::find_header(*h2, "streamtype") == "data");
  CHECK(spdy::find_header(*h2, "requestid") == "0");
  CHECK(frames[3].stream_id == 3);
  CHECK(frames[3].payload == "hello from the client\n");
}

TEST_CASE("SPDY sessions: streams, data, FIN, ping echo, reset, goaway") {
  ConnPair p;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> events;
  auto note = [&](std::string e) {
    std::lock_guard lk(mu);
    events.push_back(std::move(e));
    cv.notify_all();
  };
  spdy::Session* server_ptr = nullptr;
  spdy::Callbacks scb;
  scb.on_stream = [&](uint32_t id, const spdy::HeaderList& h, bool) {
    server_ptr->reply(id, {{"ok", "1"}});
    note("stream " + std::to_string(id) + " " + spdy::find_header(h, "streamtype").value_or("?"));
  };
  scb.on_data = [&](uint32_t id, std::string_view d) {
    server_ptr->send_data(id, "echo:" + std::string(d));
    note("data " + std::to_string(id) + " " + std::string(d));
  };
  scb.on_fin = [&](uint32_t id) {
    server_ptr->send_data(id, "", true);
    note("fin " + std::to_string(id));
  };
  scb.on_reset = [&](uint32_t id, uint32_t st) { note("reset " + std::to_string(id) + " " + std::to_string(st)); };
  spdy::Session server(*p.ca, spdy::Role::kServer, scb);
  server_ptr = &server;

  std::string client_got;
  bool client_fin = false, replied = false;
  spdy::Callbacks ccb;
  ccb.on_reply = [&](uint32_t, const spdy::HeaderList& h) {
    std::lock_guard lk(mu);
    replied = spdy::find_header(h, "ok") == "1";
    cv.notify_all();
  };
  ccb.on_data = [&](uint32_t, std::string_view d) {
    std::lock_guard lk(mu);
    client_got += d;
    cv.notify_all();
  };
  ccb.on_fin = [&](uint32_t) {
    std::lock_guard lk(mu);
    client_fin = true;
    cv.notify_all();
  };
  spdy::Session client(*p.cb, spdy::Role::kClient, ccb);
  std::thread st([&] { CHECK(server.run()); });
  std::thread ct([&] { CHECK(client.run()); });

  auto id = client.open_stream({{"streamtype", "data"}});
  REQUIRE(id);
  CHECK(*id == 1);
  CHECK(client.send_data(*id, "abc"));
  CHECK(client.send_data(*id, "", true));
  {
    std::unique_lock lk(mu);
    REQUIRE(cv.wait_for(lk, std::chrono::seconds(5), [&] { return client_fin && replied; }));
    CHECK(client_got == "echo:abc");
  }
  CHECK(client.open_streams() == 0);  // both sides closed
  auto id2 = client.open_stream({{"streamtype", "other"}});
  REQUIRE(id2);
  CHECK(*id2 == 3);
  client.reset(*id2, spdy::kCancel);
  client.ping(1);
  client.goaway();
  st.join();
  CHECK(server.goaway_received());
  client.close();
  ct.join();
  std::vector<std::string> want = {"stream 1 data", "data 1 abc", "fin 1", "stream 3 other", "reset 3 5"};
  CHECK(events == want);
}

TEST_CASE("upgrade plan: websocket, SPDY, and neither") {
  k3dpp::http::Request r;
  r.method = "GET";
  r.headers = ws_request_headers("v5.channel.k8s.io");
  auto p = plan_upgrade(r, Kind::kExec);
  REQUIRE(p);
  CHECK(p->transport == Transport::kWebsocket);
  CHECK(p->protocol == "v5.channel.k8s.io");

  r.headers = ws_request_headers("SPDY/3.1+portforward.k8s.io");
  p = plan_upgrade(r, Kind::kPortForward);
  REQUIRE(p);
  CHECK(p->protocol == "SPDY/3.1+portforward.k8s.io");
  // Exec's subprotocol on port-forward is refused.
  CHECK_FALSE(plan_upgrade(r, Kind::kExec));

  k3dpp::http::Request s;
  s.method = "POST";
  s.headers.emplace("upgrade", "SPDY/3.1");
  s.headers.emplace("connection", "Upgrade");
  for (const char* v : {"v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"}) {
    s.headers.emplace("x-stream-protocol-version", v);
  }
  p = plan_upgrade(s, Kind::kExec);
  REQUIRE(p);
  CHECK(p->transport == Transport::kSpdy);
  CHECK(p->protocol == "v4.channel.k8s.io");
  std::map<std::string, std::string> h(p->headers.begin(), p->headers.end());
  CHECK(h["X-Stream-Protocol-Version"] == "v4.channel.k8s.io");
  CHECK(h["Upgrade"] == "SPDY/3.1");
  CHECK_FALSE(plan_upgrade(s, Kind::kPortForward));

  k3dpp::http::Request plain;
  plain.method = "GET";
  auto e = plan_upgrade(plain, Kind::kExec);
  REQUIRE_FALSE(e);
  auto resp = upgrade_error_response(e.error());
  CHECK(resp.status == 400);
  auto j = nlohmann::json::parse(resp.body);
  CHECK(j["kind"] == "Status");
  CHECK(j["reason"] == "BadRequest");
  CHECK(j["code"] == 400);
  CHECK(j["message"] == "Upgrade request required");
}

TEST_CASE("exec status JSON matches the kubelet's") {
  CHECK(exit_status_json(0) == R"({"metadata":{},"status":"Success"})");
  CHECK(exit_status_json(2) ==
        R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 2",)"
        R"("reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"2"}]}})");
  auto s = parse_terminal_size(R"({"Width":120,"Height":40})");
  REQUIRE(s);
  CHECK(s->width == 120);
  CHECK(s->height == 40);
  CHECK_FALSE(parse_terminal_size("nope"));
}

TEST_CASE("ExecSession over websocket v5: stdin, close-stdin frame, resize, exit status, close 1000") {
  ConnPair p;
  ExecOptions opt;
  opt.stdin = true;
  opt.tty = false;
  std::thread server([&] {
    auto s = ExecSession::start(*p.ca, Transport::kWebsocket, opt);
    REQUIRE(s);
    std::vector<TerminalSize> sizes;
    (*s)->on_resize([&](TerminalSize t) { sizes.push_back(t); });
    std::string in;
    for (;;) {
      auto chunk = (*s)->read_stdin_some();
      if (chunk.empty()) break;
      in += chunk;
    }
    (*s)->write_stdout("got:" + in);
    (*s)->write_stderr("warn");
    CHECK((*s)->finish(3));
    REQUIRE(sizes.size() == 1);
    CHECK(sizes[0] == TerminalSize{80, 24});
  });
  ws::WebSocket client(*p.cb, ws::Role::kClient);
  client.send_binary(std::string("\x04{\"Width\":80,\"Height\":24}", 26));
  client.send_binary(std::string("\x00hello ", 7));
  client.send_binary(std::string("\x00world", 6));
  client.send_binary(std::string("\xff\x00", 2));
  std::string out, err, status;
  uint16_t close_code = 0;
  for (;;) {
    auto m = client.read();
    REQUIRE(m);
    if (m->opcode == ws::Opcode::kClose) {
      close_code = m->close_code;
      break;
    }
    REQUIRE_FALSE(m->payload.empty());
    if (m->payload[0] == 1) out += m->payload.substr(1);
    if (m->payload[0] == 2) err += m->payload.substr(1);
    if (m->payload[0] == 3) status += m->payload.substr(1);
  }
  server.join();
  CHECK(out == "got:hello world");
  CHECK(err == "warn");
  CHECK(status == exit_status_json(3));
  CHECK(close_code == 1000);
}

TEST_CASE("ExecSession over SPDY v4: streams by streamtype, stdin FIN, Status on the error stream") {
  ConnPair p;
  ExecOptions opt;
  opt.stdin = true;
  std::thread server([&] {
    auto s = ExecSession::start(*p.ca, Transport::kSpdy, opt, std::chrono::seconds(5));
    REQUIRE(s);
    std::string in;
    for (;;) {
      auto chunk = (*s)->read_stdin_some();
      if (chunk.empty()) break;
      in += chunk;
    }
    (*s)->write_stdout(in);
    (*s)->write_stderr("e");
    CHECK((*s)->finish(0, std::chrono::seconds(5)));
  });
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint32_t, std::string> got;
  std::set<uint32_t> fins;
  spdy::Callbacks cb;
  cb.on_data = [&](uint32_t id, std::string_view d) {
    std::lock_guard lk(mu);
    got[id] += d;
  };
  cb.on_fin = [&](uint32_t id) {
    std::lock_guard lk(mu);
    fins.insert(id);
    cv.notify_all();
  };
  spdy::Session client(*p.cb, spdy::Role::kClient, cb);
  std::thread reader([&] { CHECK(client.run()); });
  auto e = client.open_stream({{"streamtype", "error"}});
  auto i = client.open_stream({{"streamtype", "stdin"}});
  auto o = client.open_stream({{"streamtype", "stdout"}});
  auto r = client.open_stream({{"streamtype", "stderr"}});
  REQUIRE((e && i && o && r));
  client.send_data(*i, "input bytes");
  client.send_data(*i, "", true);
  {
    std::unique_lock lk(mu);
    REQUIRE(cv.wait_for(lk, std::chrono::seconds(5), [&] { return fins.count(*e) != 0; }));
    CHECK(got[*o] == "input bytes");
    CHECK(got[*r] == "e");
    CHECK(got[*e] == exit_status_json(0));
    CHECK(fins.count(*o) == 1);
  }
  client.goaway();
  server.join();
  client.close();
  reader.join();
}

TEST_CASE("PortForwardSession over SPDY: echo pod, two requests, connect failure, ping") {
  ConnPair p;
  std::vector<std::thread> pods;
  std::mutex pods_mu;
  PortConnector connector = [&](uint16_t port) -> k3dpp::Result<std::unique_ptr<ByteStream>> {
    if (port != 80) return k3dpp::fail("dial tcp 10.42.0.5:" + std::to_string(port) + ": connect: connection refused");
    std::unique_ptr<ByteStream> mine, theirs;
    make_pipe_pair(mine, theirs);
    std::shared_ptr<ByteStream> pod(std::move(theirs));
    std::lock_guard lk(pods_mu);
    pods.emplace_back([pod] {  // an echo server that upper-cases nothing: echoes, closes on EOF
      char buf[1024];
      long n;
      while ((n = pod->read(buf, sizeof buf)) > 0) pod->write(std::string_view(buf, static_cast<size_t>(n)));
      pod->close_write();
    });
    return mine;
  };
  PortForwardStats stats;
  std::thread server([&] { CHECK(PortForwardSession::serve(*p.ca, Transport::kSpdy, connector, &stats)); });

  std::mutex mu;
  std::condition_variable cv;
  std::map<uint32_t, std::string> got;
  std::set<uint32_t> fins;
  spdy::Callbacks cb;
  cb.on_data = [&](uint32_t id, std::string_view d) {
    std::lock_guard lk(mu);
    got[id] += d;
  };
  cb.on_fin = [&](uint32_t id) {
    std::lock_guard lk(mu);
    fins.insert(id);
    cv.notify_all();
  };
  spdy::Session client(*p.cb, spdy::Role::kClient, cb);
  std::thread reader([&] { CHECK(client.run()); });
  auto open_pair = [&](const std::string& port, const std::string& req) {
    auto e = client.open_stream({{"streamtype", "error"}, {"port", port}, {"requestid", req}});
    client.send_data(*e, "", true);
    auto d = client.open_stream({{"streamtype", "data"}, {"port", port}, {"requestid", req}});
    return std::make_pair(*e, *d);
  };
  auto [e0, d0] = open_pair("80", "0");
  auto [e1, d1] = open_pair("80", "1");
  client.send_data(d1, "second");
  client.send_data(d0, "first");
  client.send_data(d0, "", true);
  client.send_data(d1, "", true);
  auto [e2, d2] = open_pair("81", "2");
  {
    std::unique_lock lk(mu);
    REQUIRE(cv.wait_for(lk, std::chrono::seconds(5), [&] {
      return fins.count(d0) && fins.count(d1) && fins.count(e0) && fins.count(e1) && fins.count(e2);
    }));
    CHECK(got[d0] == "first");
    CHECK(got[d1] == "second");
    CHECK(got[e0].empty());
    CHECK(got[e2] == "error forwarding port 81 to pod: dial tcp 10.42.0.5:81: connect: connection refused");
  }
  client.goaway();
  server.join();
  client.close();
  reader.join();
  for (auto& t : pods) t.join();
  CHECK(stats.requests == 3);
  CHECK(stats.connect_errors == 1);
}

TEST_CASE("exit codes from remotecommand Status") {
  CHECK(exit_code_from_status(exit_status_json(0)).value() == 0);
  CHECK(exit_code_from_status(exit_status_json(42)).value() == 42);
  CHECK(exit_code_from_status("").value() == 0);
  auto f = exit_code_from_status(failure_status_json("container not found (\"c\")"));
  REQUIRE_FALSE(f);
  CHECK(f.error().message == "container not found (\"c\")");
}

TEST_CASE("ExecClient against ExecSession over SPDY (the kubelet-to-runtime path)") {
  ConnPair p;
  ExecOptions opt;
  opt.stdin = true;
  opt.command = {"cat"};
  std::thread server([&] {
    auto s = ExecSession::start(*p.ca, Transport::kSpdy, opt, std::chrono::seconds(5));
    REQUIRE(s);
    std::string in;
    for (;;) {
      auto chunk = (*s)->read_stdin_some();
      if (chunk.empty()) break;
      in += chunk;
    }
    (*s)->write_stdout("out:" + in);
    (*s)->write_stderr("err:" + in);
    CHECK((*s)->finish(7, std::chrono::seconds(5)));
  });
  std::mutex mu;
  std::string out, err;
  ExecClientIO io;
  io.on_stdout = [&](std::string_view d) {
    std::lock_guard lk(mu);
    out += d;
  };
  io.on_stderr = [&](std::string_view d) {
    std::lock_guard lk(mu);
    err += d;
  };
  auto c = ExecClient::start(*p.cb, opt, io);
  REQUIRE(c);
  CHECK((*c)->write_stdin("abc"));
  (*c)->close_stdin();
  auto code = (*c)->wait();
  REQUIRE(code);
  CHECK(*code == 7);
  server.join();
  CHECK(out == "out:abc");
  CHECK(err == "err:abc");
}

TEST_CASE("PortForwardClient against PortForwardSession: concurrent forwards and a remote error") {
  ConnPair p;
  std::mutex pods_mu;
  std::vector<std::thread> pods;
  PortConnector connector = [&](uint16_t port) -> k3dpp::Result<std::unique_ptr<ByteStream>> {
    if (port != 80) return k3dpp::fail("nothing on " + std::to_string(port));
    std::unique_ptr<ByteStream> mine, theirs;
    make_pipe_pair(mine, theirs);
    std::shared_ptr<ByteStream> pod(std::move(theirs));
    std::lock_guard lk(pods_mu);
    pods.emplace_back([pod] {
      char buf[1024];
      long n;
      while ((n = pod->read(buf, sizeof buf)) > 0) pod->write(std::string_view(buf, static_cast<size_t>(n)));
      pod->close_write();
    });
    return mine;
  };
  std::thread server([&] { CHECK(PortForwardSession::serve(*p.ca, Transport::kSpdy, connector)); });
  auto client = PortForwardClient::start(*p.cb);
  REQUIRE(client);
  auto run_one = [&](uint16_t port, std::string data) {
    std::unique_ptr<ByteStream> app, local;
    make_pipe_pair(app, local);
    std::string got;
    std::thread user([&] {
      app->write(data);
      app->close_write();
      char buf[1024];
      long n;
      while ((n = app->read(buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    });
    auto st = (*client)->forward(port, *local);
    user.join();
    return std::make_pair(st, got);
  };
  auto f1 = std::async(std::launch::async, run_one, 80, std::string(100000, 'x'));
  auto f2 = std::async(std::launch::async, run_one, 80, std::string("small"));
  auto r1 = f1.get();
  auto r2 = f2.get();
  CHECK(r1.first);
  CHECK(r1.second == std::string(100000, 'x'));
  CHECK(r2.first);
  CHECK(r2.second == "small");
  auto r3 = run_one(81, "x");
  REQUIRE_FALSE(r3.first);
  CHECK(r3.first.error().message == "error forwarding port 81 to pod: nothing on 81");
  (*client)->close();
  server.join();
  for (auto& t : pods) t.join();
}

TEST_CASE("bridge_exec proxies a websocket v5 exec to an upstream SPDY exec") {
  ConnPair front_pair, back_pair;
  ExecOptions opt;
  opt.stdin = true;
  // The upstream "kubelet": echoes stdin upper-cased, exits 9.
  std::thread upstream([&] {
    auto s = ExecSession::start(*back_pair.ca, Transport::kSpdy, opt, std::chrono::seconds(5));
    REQUIRE(s);
    std::string in;
    for (;;) {
      auto c = (*s)->read_stdin_some();
      if (c.empty()) break;
      in += c;
    }
    for (auto& ch : in) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    (*s)->write_stdout(in);
    (*s)->write_stderr("upstream stderr");
    CHECK((*s)->finish(9));
  });
  // The API server in the middle.
  std::thread middle([&] {
    auto front = ExecSession::start(*front_pair.ca, Transport::kWebsocket, opt);
    REQUIRE(front);
    CHECK(bridge_exec(**front, opt, *back_pair.cb));
  });
  ws::WebSocket client(*front_pair.cb, ws::Role::kClient);
  client.send_binary(std::string("\x00quiet words", 12));
  client.send_binary(std::string("\xff\x00", 2));
  std::string out, err, status;
  for (;;) {
    auto m = client.read();
    REQUIRE(m);
    if (m->opcode == ws::Opcode::kClose) break;
    if (m->payload[0] == 1) out += m->payload.substr(1);
    if (m->payload[0] == 2) err += m->payload.substr(1);
    if (m->payload[0] == 3) status += m->payload.substr(1);
  }
  middle.join();
  upstream.join();
  CHECK(out == "QUIET WORDS");
  CHECK(err == "upstream stderr");
  CHECK(status == exit_status_json(9));
}
