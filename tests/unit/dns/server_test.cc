// DnsServer over real sockets on 127.0.0.1: UDP, TCP, truncation, forwarding to a fake upstream
// (another DnsServer serving example.org), SERVFAIL without upstream, busybox nslookup.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "../proxy/fake_api_client.h"
#include "dns/server.h"

using namespace k3dpp::dns;

namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

std::vector<uint8_t> query_bytes(uint16_t id, const std::string& name, uint16_t t, bool edns = false) {
  Message q;
  q.header.id = id;
  q.header.rd = true;
  q.questions.push_back({name, t, kClassIN});
  if (edns) {
    Record opt;
    opt.rtype = type::kOPT;
    opt.rclass = 4096;
    q.additional.push_back(opt);
  }
  return encode(q);
}

std::vector<uint8_t> udp_exchange(uint16_t port, const std::vector<uint8_t>& q, int timeout_ms = 3000) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  auto a = loopback(port);
  sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  pollfd p{fd, POLLIN, 0};
  std::vector<uint8_t> buf(65535);
  ssize_t n = 0;
  if (poll(&p, 1, timeout_ms) == 1) n = recv(fd, buf.data(), buf.size(), 0);
  close(fd);
  buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return buf;
}

std::vector<uint8_t> tcp_exchange(uint16_t port, const std::vector<uint8_t>& q) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  auto a = loopback(port);
  std::vector<uint8_t> out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::vector<uint8_t> framed = {static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
    framed.insert(framed.end(), q.begin(), q.end());
    (void)!write(fd, framed.data(), framed.size());
    uint8_t len[2];
    if (recv(fd, len, 2, MSG_WAITALL) == 2) {
      out.resize(static_cast<size_t>((len[0] << 8) | len[1]));
      if (recv(fd, out.data(), out.size(), MSG_WAITALL) != static_cast<ssize_t>(out.size())) out.clear();
    }
  }
  close(fd);
  return out;
}

std::shared_ptr<Zone> cluster_zone() {
  std::vector<json> services = {
      json::parse(R"({"metadata":{"namespace":"dev","name":"nginx-svc"},"spec":{"clusterIP":"10.43.2.1","ports":[{"port":8080}]}})"),
      json::parse(R"({"metadata":{"namespace":"dev","name":"big"},"spec":{"clusterIP":"None","ports":[{"port":80}]}})"),
  };
  json slice = json::parse(R"({"metadata":{"namespace":"dev","name":"big-x","labels":{"kubernetes.io/service-name":"big"}},
    "addressType":"IPv4","ports":[{"port":80}],"endpoints":[]})");
  for (int i = 1; i <= 60; ++i) slice["endpoints"].push_back({{"addresses", {"10.42.5." + std::to_string(i)}}});
  return std::make_shared<Zone>(Zone::build(services, {slice}, {}, ZoneConfig{}));
}

struct Servers {
  std::unique_ptr<DnsServer> upstream;
  std::unique_ptr<DnsServer> cluster;
  Servers() {
    DnsServerConfig ucfg;
    ucfg.listen_address = "127.0.0.1";
    ucfg.port = 0;
    ucfg.upstreams = {{"127.0.0.1", 9}};  // never used
    upstream = std::make_unique<DnsServer>(ucfg);
    ZoneConfig uz;
    uz.domain = "example.org";
    upstream->set_zone(std::make_shared<Zone>(Zone::build(
        {json::parse(R"({"metadata":{"namespace":"default","name":"www"},"spec":{"clusterIP":"192.0.2.80"}})")}, {}, {},
        uz)));
    REQUIRE(upstream->start().has_value());
    DnsServerConfig ccfg;
    ccfg.listen_address = "127.0.0.1";
    ccfg.port = 0;
    ccfg.upstreams = {{"127.0.0.1", upstream->port()}};
    cluster = std::make_unique<DnsServer>(ccfg);
    cluster->set_zone(cluster_zone());
    auto st = cluster->start();
    REQUIRE_MESSAGE(st.has_value(), st.error().message);
  }
};

}  // namespace

TEST_CASE("parse_resolv_conf picks IPv4 nameservers") {
  auto ups = parse_resolv_conf("# docker\nsearch example.com\nnameserver 127.0.0.11\nnameserver ::1\noptions ndots:0\n"
                               "nameserver 10.0.0.2\n");
  REQUIRE(ups.size() == 2);
  CHECK(ups[0].ip == "127.0.0.11");
  CHECK(ups[0].port == 53);
  CHECK(ups[1].ip == "10.0.0.2");
  auto u = parse_upstream("127.0.0.1:5353");
  REQUIRE(u.has_value());
  CHECK(u->port == 5353);
  CHECK_FALSE(parse_upstream("nope").has_value());
  CHECK_FALSE(parse_upstream("1.2.3.4:99999").has_value());
}

TEST_CASE("UDP and TCP answers from the zone") {
  Servers s;
  auto r = decode(udp_exchange(s.cluster->port(), query_bytes(0x4242, "nginx-svc.dev.svc.cluster.local", type::kA)));
  REQUIRE(r.has_value());
  CHECK(r->header.id == 0x4242);
  CHECK(r->header.qr);
  CHECK(r->header.aa);
  CHECK(r->header.rcode == rcode::kNoError);
  REQUIRE(r->answers.size() == 1);
  CHECK(r->answers[0].data == std::string("\x0a\x2b\x02\x01", 4));
  auto t = decode(tcp_exchange(s.cluster->port(), query_bytes(7, "missing.dev.svc.cluster.local", type::kA)));
  REQUIRE(t.has_value());
  CHECK(t->header.id == 7);
  CHECK(t->header.rcode == rcode::kNXDomain);
  REQUIRE(t->authority.size() == 1);
  CHECK(t->authority[0].rtype == type::kSOA);
}

TEST_CASE("large answers are truncated over UDP and complete over TCP") {
  Servers s;
  auto q = query_bytes(9, "big.dev.svc.cluster.local", type::kA);
  auto u = decode(udp_exchange(s.cluster->port(), q));
  REQUIRE(u.has_value());
  CHECK(u->header.tc);
  CHECK(u->answers.empty());
  auto e = decode(udp_exchange(s.cluster->port(), query_bytes(10, "big.dev.svc.cluster.local", type::kA, true)));
  REQUIRE(e.has_value());  // EDNS 4096 is capped at our 1232: 60 A records (about 1 KB) fit
  CHECK_FALSE(e->header.tc);
  CHECK(e->answers.size() == 60);
  auto t = decode(tcp_exchange(s.cluster->port(), q));
  REQUIRE(t.has_value());
  CHECK_FALSE(t->header.tc);
  CHECK(t->answers.size() == 60);
}

TEST_CASE("other names are forwarded to the upstream over UDP and TCP") {
  Servers s;
  for (bool tcp : {false, true}) {
    auto q = query_bytes(0x1111, "www.default.svc.example.org", type::kA);
    auto bytes = tcp ? tcp_exchange(s.cluster->port(), q) : udp_exchange(s.cluster->port(), q);
    auto r = decode(bytes);
    REQUIRE(r.has_value());
    CHECK(r->header.id == 0x1111);
    REQUIRE(r->answers.size() == 1);
    CHECK(r->answers[0].data == std::string("\xc0\x00\x02\x50", 4));
  }
  auto nx = decode(udp_exchange(s.cluster->port(), query_bytes(3, "nothing.example.org", type::kA)));
  REQUIRE(nx.has_value());
  CHECK(nx->header.rcode == rcode::kNXDomain);
}

TEST_CASE("no reachable upstream: SERVFAIL after the timeout; malformed queries get FORMERR") {
  // An upstream port with nothing listening: find one by binding and closing.
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  auto a = loopback(0);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  uint16_t dead = ntohs(a.sin_port);
  close(fd);
  DnsServerConfig cfg;
  cfg.listen_address = "127.0.0.1";
  cfg.port = 0;
  cfg.upstreams = {{"127.0.0.1", dead}};
  cfg.upstream_timeout = std::chrono::milliseconds(300);
  DnsServer server(cfg);
  REQUIRE(server.start().has_value());
  auto t0 = std::chrono::steady_clock::now();
  auto r = decode(udp_exchange(server.port(), query_bytes(5, "deb.debian.org", type::kA)));
  REQUIRE(r.has_value());
  CHECK(r->header.rcode == rcode::kServFail);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  // Header plus garbage question.
  std::vector<uint8_t> bad = {0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF};
  auto f = decode(udp_exchange(server.port(), bad));
  REQUIRE(f.has_value());
  CHECK(f->header.id == 0xabcd);
  CHECK(f->header.rcode == rcode::kFormErr);
  // Fuzzed queries never bring the server down.
  auto base = query_bytes(1, "nginx-svc.dev.svc.cluster.local", type::kA, true);
  for (size_t i = 0; i < base.size(); ++i) {
    auto b = base;
    b[i] ^= 0xff;
    (void)server.answer_locally(b, 512);
    std::vector<uint8_t> cut(base.begin(), base.begin() + static_cast<long>(i));
    (void)server.answer_locally(cut, 512);
  }
  server.set_zone(cluster_zone());
  auto ok = decode(udp_exchange(server.port(), query_bytes(6, "nginx-svc.dev.svc.cluster.local", type::kA)));
  REQUIRE(ok.has_value());
  CHECK(ok->answers.size() == 1);
  server.stop();
}

TEST_CASE("busybox nslookup resolves through the server") {
  if (access("/bin/busybox", X_OK) != 0) {
    MESSAGE("skipped: no /bin/busybox");
    return;
  }
  Servers s;
  std::string cmd = "/bin/busybox nslookup -type=a nginx-svc.dev.svc.cluster.local 127.0.0.1:" +
                    std::to_string(s.cluster->port()) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int rc = pclose(p);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("10.43.2.1") != std::string::npos);
}

TEST_CASE("ClusterDns serves services seen by its informers") {
  k3dpp::testing::FakeApiClient api;
  api.set(k3dpp::client::res::kServices,
          {json::parse(R"({"metadata":{"namespace":"dev","name":"nginx-svc","resourceVersion":"1"},
            "spec":{"clusterIP":"10.43.2.1","ports":[{"port":8080}]}})")});
  DnsServerConfig cfg;
  cfg.listen_address = "127.0.0.1";
  cfg.port = 0;
  cfg.upstreams = {{"127.0.0.1", 9}};
  ClusterDns dns(api, cfg, ZoneConfig{});
  REQUIRE(dns.start().has_value());
  auto resolve = [&](const std::string& name) {
    auto r = decode(udp_exchange(dns.server().port(), query_bytes(1, name, type::kA)));
    return r ? r->answers.size() : size_t{999};
  };
  auto wait_answers = [&](const std::string& name, size_t n) {
    for (int i = 0; i < 100; ++i) {
      if (resolve(name) == n) return true;
      usleep(10 * 1000);
    }
    return false;
  };
  CHECK(wait_answers("nginx-svc.dev.svc.cluster.local", 1));
  api.emit(k3dpp::client::res::kServices, "ADDED",
           json::parse(R"({"metadata":{"namespace":"dev","name":"second"},"spec":{"clusterIP":"10.43.2.2"}})"));
  CHECK(wait_answers("second.dev.svc.cluster.local", 1));
  api.emit(k3dpp::client::res::kServices, "DELETED",
           json::parse(R"({"metadata":{"namespace":"dev","name":"nginx-svc"},"spec":{}})"));
  CHECK(wait_answers("nginx-svc.dev.svc.cluster.local", 0));
  dns.stop();
}
