#include "dns/message.h"

#include <arpa/inet.h>

#include <map>

#include "common/strings.h"

namespace k3dpp::dns {
namespace {

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void bytes(const std::string& s) { out_.insert(out_.end(), s.begin(), s.end()); }
  // Name with compression against every name suffix written so far.
  void name(const std::string& n, bool compress = true) {
    std::vector<std::string> labels;
    if (!n.empty()) labels = strings::split(n, '.');
    for (size_t i = 0; i < labels.size(); ++i) {
      std::string suffix;
      for (size_t j = i; j < labels.size(); ++j) suffix += (j > i ? "." : "") + strings::to_lower(labels[j]);
      if (auto it = suffixes_.find(suffix); compress && it != suffixes_.end()) {
        u16(static_cast<uint16_t>(0xC000 | it->second));
        return;
      }
      if (out_.size() < 0x3FFF) suffixes_.emplace(suffix, static_cast<uint16_t>(out_.size()));
      std::string label = labels[i].substr(0, 63);
      u8(static_cast<uint8_t>(label.size()));
      bytes(label);
    }
    u8(0);
  }
  size_t size() const { return out_.size(); }
  void patch_u16(size_t at, uint16_t v) {
    out_[at] = static_cast<uint8_t>(v >> 8);
    out_[at + 1] = static_cast<uint8_t>(v);
  }
  std::vector<uint8_t>& out() { return out_; }

 private:
  std::vector<uint8_t> out_;
  std::map<std::string, uint16_t> suffixes_;
};

void write_header(Writer& w, const Header& h, size_t qd, size_t an, size_t ns, size_t ar) {
  w.u16(h.id);
  uint16_t flags = 0;
  if (h.qr) flags |= 0x8000;
  flags |= static_cast<uint16_t>((h.opcode & 0xF) << 11);
  if (h.aa) flags |= 0x0400;
  if (h.tc) flags |= 0x0200;
  if (h.rd) flags |= 0x0100;
  if (h.ra) flags |= 0x0080;
  flags |= h.rcode & 0xF;
  w.u16(flags);
  w.u16(static_cast<uint16_t>(qd));
  w.u16(static_cast<uint16_t>(an));
  w.u16(static_cast<uint16_t>(ns));
  w.u16(static_cast<uint16_t>(ar));
}

void write_record(Writer& w, const Record& r) {
  w.name(r.name);
  w.u16(r.rtype);
  w.u16(r.rclass);
  w.u32(r.ttl);
  size_t len_at = w.size();
  w.u16(0);
  size_t start = w.size();
  switch (r.rtype) {
    case type::kNS:
    case type::kCNAME:
    case type::kPTR:
      w.name(r.target);
      break;
    case type::kSRV:
      w.u16(r.priority);
      w.u16(r.weight);
      w.u16(r.port);
      w.name(r.target, false);  // RFC 2782: no compression in the SRV target
      break;
    case type::kSOA:
      w.name(r.target);
      w.name(r.soa_rname);
      w.u32(r.soa_serial);
      w.u32(r.soa_refresh);
      w.u32(r.soa_retry);
      w.u32(r.soa_expire);
      w.u32(r.soa_minimum);
      break;
    default:
      w.bytes(r.data);
  }
  w.patch_u16(len_at, static_cast<uint16_t>(w.size() - start));
}

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  bool u8(uint8_t& v) {
    if (pos_ + 1 > b_.size()) return false;
    v = b_[pos_++];
    return true;
  }
  bool u16(uint16_t& v) {
    if (pos_ + 2 > b_.size()) return false;
    v = static_cast<uint16_t>((b_[pos_] << 8) | b_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& v) {
    uint16_t hi = 0, lo = 0;
    if (!u16(hi) || !u16(lo)) return false;
    v = (static_cast<uint32_t>(hi) << 16) | lo;
    return true;
  }
  bool bytes(size_t n, std::string& out) {
    if (pos_ + n > b_.size()) return false;
    out.assign(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  // Reads a possibly compressed name. Pointers must point strictly before the label that holds
  // them, so a loop is impossible; the name is at most 255 bytes on the wire.
  bool name(std::string& out) {
    out.clear();
    size_t p = pos_;
    bool jumped = false;
    size_t wire_len = 0;
    size_t limit = p;  // a pointer must target an offset below this
    for (int guard = 0; guard < 256; ++guard) {
      if (p >= b_.size()) return false;
      uint8_t len = b_[p];
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= b_.size()) return false;
        size_t target = static_cast<size_t>(((len & 0x3F) << 8) | b_[p + 1]);
        if (!jumped) pos_ = p + 2;
        jumped = true;
        if (target >= limit) return false;
        limit = target;
        p = target;
        continue;
      }
      if ((len & 0xC0) != 0) return false;  // 0x40/0x80 label types are not used
      if (len == 0) {
        if (!jumped) pos_ = p + 1;
        return true;
      }
      if (p + 1 + len > b_.size()) return false;
      wire_len += 1 + len;
      if (wire_len > 255) return false;
      if (!out.empty()) out.push_back('.');
      out.append(reinterpret_cast<const char*>(b_.data() + p + 1), len);
      p += 1 + len;
      if (!jumped) limit = p;
    }
    return false;
  }
  size_t pos() const { return pos_; }
  void seek(size_t p) { pos_ = p; }
  size_t size() const { return b_.size(); }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

Status read_header(Reader& r, Header& h, uint16_t counts[4]) {
  uint16_t flags = 0;
  if (!r.u16(h.id) || !r.u16(flags)) return fail("short header", "Invalid");
  h.qr = flags & 0x8000;
  h.opcode = static_cast<uint8_t>((flags >> 11) & 0xF);
  h.aa = flags & 0x0400;
  h.tc = flags & 0x0200;
  h.rd = flags & 0x0100;
  h.ra = flags & 0x0080;
  h.rcode = static_cast<uint8_t>(flags & 0xF);
  for (int i = 0; i < 4; ++i)
    if (!r.u16(counts[i])) return fail("short header", "Invalid");
  return {};
}

Status read_question(Reader& r, Question& q) {
  if (!r.name(q.name)) return fail("bad question name", "Invalid");
  if (!r.u16(q.qtype) || !r.u16(q.qclass)) return fail("short question", "Invalid");
  return {};
}

Status read_record(Reader& r, Record& rec) {
  uint16_t rdlen = 0;
  if (!r.name(rec.name)) return fail("bad record name", "Invalid");
  if (!r.u16(rec.rtype) || !r.u16(rec.rclass) || !r.u32(rec.ttl) || !r.u16(rdlen))
    return fail("short record", "Invalid");
  const size_t start = r.pos();
  const size_t end = start + rdlen;
  if (end > r.size()) return fail("record data past the end", "Invalid");
  bool ok = true;
  switch (rec.rtype) {
    case type::kA:
      ok = rdlen == 4 && r.bytes(4, rec.data);
      break;
    case type::kAAAA:
      ok = rdlen == 16 && r.bytes(16, rec.data);
      break;
    case type::kNS:
    case type::kCNAME:
    case type::kPTR:
      ok = r.name(rec.target);
      break;
    case type::kSRV:
      ok = r.u16(rec.priority) && r.u16(rec.weight) && r.u16(rec.port) && r.name(rec.target);
      break;
    case type::kSOA:
      ok = r.name(rec.target) && r.name(rec.soa_rname) && r.u32(rec.soa_serial) && r.u32(rec.soa_refresh) &&
           r.u32(rec.soa_retry) && r.u32(rec.soa_expire) && r.u32(rec.soa_minimum);
      break;
    default:
      ok = r.bytes(rdlen, rec.data);
  }
  if (!ok || r.pos() != end) return fail("bad " + type_name(rec.rtype) + " record data", "Invalid");
  return {};
}

}  // namespace

Record a_record(const std::string& name, const std::string& ipv4, uint32_t ttl) {
  Record r;
  r.name = name;
  r.rtype = type::kA;
  r.ttl = ttl;
  in_addr a{};
  if (inet_pton(AF_INET, ipv4.c_str(), &a) == 1) r.data.assign(reinterpret_cast<const char*>(&a), 4);
  return r;
}

Record ptr_record(const std::string& name, const std::string& target, uint32_t ttl) {
  Record r;
  r.name = name;
  r.rtype = type::kPTR;
  r.ttl = ttl;
  r.target = target;
  return r;
}

Record cname_record(const std::string& name, const std::string& target, uint32_t ttl) {
  Record r = ptr_record(name, target, ttl);
  r.rtype = type::kCNAME;
  return r;
}

Record srv_record(const std::string& name, uint16_t priority, uint16_t weight, uint16_t port,
                  const std::string& target, uint32_t ttl) {
  Record r;
  r.name = name;
  r.rtype = type::kSRV;
  r.ttl = ttl;
  r.priority = priority;
  r.weight = weight;
  r.port = port;
  r.target = target;
  return r;
}

Record soa_record(const std::string& zone, const std::string& mname, const std::string& rname, uint32_t serial,
                  uint32_t minimum, uint32_t ttl) {
  Record r;
  r.name = zone;
  r.rtype = type::kSOA;
  r.ttl = ttl;
  r.target = mname;
  r.soa_rname = rname;
  r.soa_serial = serial;
  r.soa_refresh = 7200;
  r.soa_retry = 1800;
  r.soa_expire = 86400;
  r.soa_minimum = minimum;
  return r;
}

std::vector<uint8_t> encode(const Message& m) {
  Writer w;
  write_header(w, m.header, m.questions.size(), m.answers.size(), m.authority.size(), m.additional.size());
  for (const auto& q : m.questions) {
    w.name(q.name);
    w.u16(q.qtype);
    w.u16(q.qclass);
  }
  for (const auto* sec : {&m.answers, &m.authority, &m.additional})
    for (const auto& r : *sec) write_record(w, r);
  return std::move(w.out());
}

Result<Message> decode(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  Message m;
  uint16_t counts[4];
  K3DPP_TRY(read_header(r, m.header, counts));
  for (uint16_t i = 0; i < counts[0]; ++i) {
    Question q;
    K3DPP_TRY(read_question(r, q));
    m.questions.push_back(std::move(q));
  }
  std::vector<Record>* secs[3] = {&m.answers, &m.authority, &m.additional};
  for (int s = 0; s < 3; ++s) {
    for (uint16_t i = 0; i < counts[s + 1]; ++i) {
      Record rec;
      K3DPP_TRY(read_record(r, rec));
      secs[s]->push_back(std::move(rec));
    }
  }
  return m;
}

Result<Message> decode_question(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  Message m;
  uint16_t counts[4];
  K3DPP_TRY(read_header(r, m.header, counts));
  if (counts[0] > 0) {
    Question q;
    K3DPP_TRY(read_question(r, q));
    m.questions.push_back(std::move(q));
  }
  return m;
}

std::vector<uint8_t> encode_for_udp(const Message& m, size_t max_size) {
  auto full = encode(m);
  if (full.size() <= max_size) return full;
  Message cut;
  cut.header = m.header;
  cut.header.tc = true;
  cut.questions = m.questions;
  // Keep the OPT record so EDNS clients see our payload size.
  for (const auto& r : m.additional)
    if (r.rtype == type::kOPT) cut.additional.push_back(r);
  return encode(cut);
}

size_t udp_payload_size(const Message& query) {
  for (const auto& r : query.additional)
    if (r.rtype == type::kOPT) return std::max<size_t>(512, r.rclass);
  return 512;
}

std::string type_name(uint16_t t) {
  switch (t) {
    case type::kA: return "A";
    case type::kNS: return "NS";
    case type::kCNAME: return "CNAME";
    case type::kSOA: return "SOA";
    case type::kPTR: return "PTR";
    case type::kMX: return "MX";
    case type::kTXT: return "TXT";
    case type::kAAAA: return "AAAA";
    case type::kSRV: return "SRV";
    case type::kOPT: return "OPT";
    case type::kANY: return "ANY";
    default: return "TYPE" + std::to_string(t);
  }
}

}  // namespace k3dpp::dns
