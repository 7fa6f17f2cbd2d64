// DNS messages (RFC 1035): header, questions and resource records; encode with name compression,
// decode that never reads out of bounds and never follows a compression pointer loop.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::dns {

namespace type {
inline constexpr uint16_t kA = 1;
inline constexpr uint16_t kNS = 2;
inline constexpr uint16_t kCNAME = 5;
inline constexpr uint16_t kSOA = 6;
inline constexpr uint16_t kPTR = 12;
inline constexpr uint16_t kMX = 15;
inline constexpr uint16_t kTXT = 16;
inline constexpr uint16_t kAAAA = 28;
inline constexpr uint16_t kSRV = 33;
inline constexpr uint16_t kOPT = 41;
inline constexpr uint16_t kANY = 255;
}  // namespace type

inline constexpr uint16_t kClassIN = 1;

namespace rcode {
inline constexpr uint8_t kNoError = 0;
inline constexpr uint8_t kFormErr = 1;
inline constexpr uint8_t kServFail = 2;
inline constexpr uint8_t kNXDomain = 3;
inline constexpr uint8_t kNotImp = 4;
inline constexpr uint8_t kRefused = 5;
}  // namespace rcode

struct Header {
  uint16_t id = 0;
  bool qr = false;  // response
  uint8_t opcode = 0;
  bool aa = false;
  bool tc = false;
  bool rd = false;
  bool ra = false;
  uint8_t rcode = 0;
  bool operator==(const Header&) const = default;
};

struct Question {
  std::string name;  // dotted, no trailing dot ("" = root)
  uint16_t qtype = type::kA;
  uint16_t qclass = kClassIN;
  bool operator==(const Question&) const = default;
};

// One record. Typed fields are used for the types we build (A/AAAA: address bytes in `data`;
// NS/CNAME/PTR: `target`; SRV: priority/weight/port/target; SOA: the soa_* fields); any other
// type keeps its raw rdata in `data`.
struct Record {
  std::string name;
  uint16_t rtype = type::kA;
  uint16_t rclass = kClassIN;
  uint32_t ttl = 0;
  std::string data;    // A (4 bytes), AAAA (16 bytes), or raw rdata
  std::string target;  // NS, CNAME, PTR, SRV target; SOA mname
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  std::string soa_rname;
  uint32_t soa_serial = 0, soa_refresh = 0, soa_retry = 0, soa_expire = 0, soa_minimum = 0;
  bool operator==(const Record&) const = default;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<Record> answers;
  std::vector<Record> authority;
  std::vector<Record> additional;
  bool operator==(const Message&) const = default;
};

// Record builders.
Record a_record(const std::string& name, const std::string& ipv4, uint32_t ttl);  // ipv4 dotted; empty rdata if bad
Record ptr_record(const std::string& name, const std::string& target, uint32_t ttl);
Record cname_record(const std::string& name, const std::string& target, uint32_t ttl);
Record srv_record(const std::string& name, uint16_t priority, uint16_t weight, uint16_t port,
                  const std::string& target, uint32_t ttl);
Record soa_record(const std::string& zone, const std::string& mname, const std::string& rname, uint32_t serial,
                  uint32_t minimum, uint32_t ttl);

std::vector<uint8_t> encode(const Message& m);
// FormErr-style errors (kind "Invalid") on anything malformed.
Result<Message> decode(std::span<const uint8_t> bytes);
// Only the header and the first question (enough to answer FORMERR/SERVFAIL or route a query).
Result<Message> decode_question(std::span<const uint8_t> bytes);

// Encodes a response for a UDP client that accepts at most max_size bytes: when too large, the
// answer/authority/additional sections are dropped and TC is set.
std::vector<uint8_t> encode_for_udp(const Message& m, size_t max_size);

// EDNS(0): the requestor's UDP payload size from an OPT record in `additional` (512 without one).
size_t udp_payload_size(const Message& query);

std::string type_name(uint16_t t);

}  // namespace k3dpp::dns
