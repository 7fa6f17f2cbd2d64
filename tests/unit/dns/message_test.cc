// DNS message codec: golden bytes, round trips, compression, pointer loops, fuzzed input.
#include <doctest/doctest.h>

#include <random>

#include "dns/message.h"

using namespace k3dpp::dns;

namespace {

// Wire form of a dotted name without compression, written independently of the encoder.
std::vector<uint8_t> wire_name(const std::string& dotted) {
  std::vector<uint8_t> out;
  size_t start = 0;
  while (start < dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    out.push_back(static_cast<uint8_t>(dot - start));
    for (size_t i = start; i < dot; ++i) out.push_back(static_cast<uint8_t>(dotted[i]));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Message sample_response() {
  Message m;
  m.header.id = 0xbeef;
  m.header.qr = true;
  m.header.aa = true;
  m.header.rd = true;
  m.header.ra = true;
  m.questions.push_back({"_http._tcp.web.dev.svc.cluster.local", type::kSRV, kClassIN});
  m.answers.push_back(srv_record("_http._tcp.web.dev.svc.cluster.local", 0, 50, 8080, "web.dev.svc.cluster.local", 5));
  m.answers.push_back(cname_record("alias.dev.svc.cluster.local", "web.dev.svc.cluster.local", 5));
  m.answers.push_back(ptr_record("1.2.43.10.in-addr.arpa", "web.dev.svc.cluster.local", 5));
  m.authority.push_back(soa_record("cluster.local", "ns.dns.cluster.local", "hostmaster.cluster.local", 42, 5, 5));
  Record ns;
  ns.name = "cluster.local";
  ns.rtype = type::kNS;
  ns.ttl = 5;
  ns.target = "ns.dns.cluster.local";
  m.authority.push_back(ns);
  m.additional.push_back(a_record("web.dev.svc.cluster.local", "10.43.2.1", 5));
  Record aaaa;
  aaaa.name = "web.dev.svc.cluster.local";
  aaaa.rtype = type::kAAAA;
  aaaa.ttl = 5;
  aaaa.data = std::string(16, '\x01');
  m.additional.push_back(aaaa);
  Record txt;
  txt.name = "t.cluster.local";
  txt.rtype = type::kTXT;
  txt.ttl = 1;
  txt.data = "\x05hello";
  m.additional.push_back(txt);
  Record opt;
  opt.rtype = type::kOPT;
  opt.rclass = 1232;
  m.additional.push_back(opt);
  return m;
}

}  // namespace

TEST_CASE("golden bytes of a query") {
  Message q;
  q.header.id = 0x1234;
  q.header.rd = true;
  q.questions.push_back({"nginx-svc.dev.svc.cluster.local", type::kA, kClassIN});
  auto expected = cat({{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
                       wire_name("nginx-svc.dev.svc.cluster.local"),
                       {0x00, 0x01, 0x00, 0x01}});
  CHECK(encode(q) == expected);
  auto d = decode(expected);
  REQUIRE(d.has_value());
  CHECK(*d == q);
}

TEST_CASE("golden bytes of an answer: the answer name is a pointer to the question") {
  Message r;
  r.header.id = 0x1234;
  r.header.qr = true;
  r.header.aa = true;
  r.header.rd = true;
  r.header.ra = true;
  r.questions.push_back({"web.dev.svc.cluster.local", type::kA, kClassIN});
  r.answers.push_back(a_record("web.dev.svc.cluster.local", "10.43.2.1", 5));
  auto expected = cat({{0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00},
                       wire_name("web.dev.svc.cluster.local"),
                       {0x00, 0x01, 0x00, 0x01},
                       {0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x04, 10, 43, 2, 1}});
  CHECK(encode(r) == expected);
  auto d = decode(expected);
  REQUIRE(d.has_value());
  CHECK(*d == r);
}

TEST_CASE("round trip of every record type, with suffix compression") {
  Message m = sample_response();
  auto bytes = encode(m);
  auto d = decode(bytes);
  REQUIRE_MESSAGE(d.has_value(), d.error().message);
  CHECK(*d == m);
  // "cluster.local" is spelled out once; every later occurrence is a pointer.
  const std::string needle = "\x07" "cluster\x05local";
  std::string s(bytes.begin(), bytes.end());
  size_t count = 0;
  for (size_t pos = 0; (pos = s.find(needle, pos)) != std::string::npos; ++pos) ++count;
  // Once in the question; the SRV target is written uncompressed (RFC 2782).
  CHECK(count == 2);
}

TEST_CASE("decode rejects pointer loops, forward pointers and overlong names") {
  // Header with one question whose name is a pointer to itself.
  std::vector<uint8_t> self = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
  CHECK_FALSE(decode(self).has_value());
  // Two pointers to each other (the second lives in a record name).
  std::vector<uint8_t> pair = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xC0, 16, 0, 1, 0, 1, 0xC0, 12, 0, 1};
  CHECK_FALSE(decode(pair).has_value());
  // Forward pointer.
  std::vector<uint8_t> fwd = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0, 0, 1, 0, 1};
  CHECK_FALSE(decode(fwd).has_value());
  // A 300-byte name.
  std::vector<uint8_t> longname = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 5; ++i) {
    longname.push_back(63);
    for (int k = 0; k < 63; ++k) longname.push_back('x');
  }
  longname.insert(longname.end(), {0, 0, 1, 0, 1});
  auto r = decode(longname);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == "Invalid");
  // Counts larger than the content.
  std::vector<uint8_t> counts = {0, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0};
  CHECK_FALSE(decode(counts).has_value());
}

TEST_CASE("truncation for UDP keeps the question and sets TC") {
  Message m;
  m.header.id = 7;
  m.header.qr = true;
  m.questions.push_back({"big.dev.svc.cluster.local", type::kA, kClassIN});
  for (int i = 0; i < 100; ++i)
    m.answers.push_back(a_record("big.dev.svc.cluster.local", "10.42.0." + std::to_string(i), 5));
  auto full = encode(m);
  CHECK(full.size() > 512);
  auto cut = encode_for_udp(m, 512);
  CHECK(cut.size() <= 512);
  auto d = decode(cut);
  REQUIRE(d.has_value());
  CHECK(d->header.tc);
  CHECK(d->answers.empty());
  CHECK(d->questions == m.questions);
  CHECK(encode_for_udp(m, 4096) == full);
}

TEST_CASE("fuzz: truncations and bit flips never crash and never read out of bounds") {
  std::mt19937 rng(1234);
  auto base = encode(sample_response());
  for (size_t n = 0; n <= base.size(); ++n) {
    std::vector<uint8_t> cut(base.begin(), base.begin() + static_cast<long>(n));
    auto r = decode(cut);
    if (n < base.size()) CHECK_FALSE(r.has_value());
    (void)decode_question(cut);
  }
  size_t decoded = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    auto b = base;
    int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    auto r = decode(b);
    if (r) {
      ++decoded;
      (void)encode(*r);  // whatever decodes must re-encode
    }
    (void)decode_question(b);
  }
  // Random bytes too.
  for (int iter = 0; iter < 5000; ++iter) {
    std::vector<uint8_t> b(rng() % 64);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    (void)decode(b);
  }
  MESSAGE("bit-flipped messages that still decoded: " << decoded);
}
