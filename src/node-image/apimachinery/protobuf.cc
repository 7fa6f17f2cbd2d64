#include "node-image/apimachinery/protobuf.h"

#include <cstdint>
#include <ctime>
#include <iterator>

namespace k3dpp::apimachinery {

using nlohmann::json;

namespace {

// ---- schema tables (protobuf_schema.inc is generated, see tools/gen_protobuf_schema.py) ------

enum class FieldKind {
  kString, kBytes, kInt32, kInt64, kBool, kMessage,
  kTime, kMicroTime, kQuantity, kIntOrString, kRawJson,
};
enum FieldFlags : unsigned {
  kRepeated = 1u << 0,
  kMap = 1u << 1,       // map<string, kind>, encoded as repeated {1 key, 2 value} entries
  kPointer = 1u << 2,   // Go pointer: an explicit zero is kept
  kOmitEmpty = 1u << 3, // Go json omitempty: zero values are left out
  kInline = 1u << 4,    // embedded struct: its fields flatten into the parent object
};
struct ProtoField {
  uint32_t number;
  const char* json_name;
  FieldKind kind;
  unsigned flags;
  int message;  // index into kMessages for kMessage
};
struct ProtoMessage {
  const char* name;
  const ProtoField* fields;
  size_t count;
};
struct ProtoRoot {
  const char* api_version;
  const char* kind;
  int message;
};

#include "node-image/apimachinery/protobuf_schema.inc"

constexpr int kMaxDepth = 48;

Unexpected<Error> bad(const std::string& msg) { return fail("protobuf: " + msg, "BadRequest"); }

// ---- wire-format reader -----------------------------------------------------------------------

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class Reader {
 public:
  explicit Reader(std::string_view buf) : buf_(buf) {}
  bool done() const { return pos_ >= buf_.size(); }

  Result<uint64_t> varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (pos_ >= buf_.size()) return bad("truncated varint at offset " + std::to_string(pos_));
      auto b = static_cast<uint8_t>(buf_[pos_++]);
      if (shift == 63 && b > 1) return bad("varint overflows 64 bits");
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
    return bad("varint too long");
  }

  Result<std::string_view> bytes() {
    auto n = varint();
    if (!n) return n.error();
    if (*n > buf_.size() - pos_) {
      return bad("length " + std::to_string(*n) + " exceeds the " + std::to_string(buf_.size() - pos_) +
                 " remaining bytes");
    }
    std::string_view v = buf_.substr(pos_, *n);
    pos_ += *n;
    return v;
  }

  Status skip(uint32_t wire_type) {
    switch (wire_type) {
      case kVarint: {
        auto v = varint();
        if (!v) return v.error();
        return {};
      }
      case kFixed64: return advance(8);
      case kFixed32: return advance(4);
      case kLengthDelimited: {
        auto v = bytes();
        if (!v) return v.error();
        return {};
      }
      default:
        return bad("unsupported wire type " + std::to_string(wire_type));
    }
  }

 private:
  Status advance(size_t n) {
    if (n > buf_.size() - pos_) return bad("truncated fixed-width field");
    pos_ += n;
    return {};
  }

  std::string_view buf_;
  size_t pos_ = 0;
};

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < in.size()) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Messages of one or two fields used by the special kinds.
struct SmallMessage {
  uint64_t varints[4] = {0, 0, 0, 0};
  std::string_view strings[4];
};
Result<SmallMessage> read_small(std::string_view data) {
  SmallMessage m;
  Reader r(data);
  while (!r.done()) {
    auto tag = r.varint();
    if (!tag) return tag.error();
    auto field = static_cast<uint32_t>(*tag >> 3);
    auto wt = static_cast<uint32_t>(*tag & 7);
    if (field == 0) return bad("invalid field number 0");
    if (field < 4 && wt == kVarint) {
      auto v = r.varint();
      if (!v) return v.error();
      m.varints[field] = *v;
    } else if (field < 4 && wt == kLengthDelimited) {
      auto v = r.bytes();
      if (!v) return v.error();
      m.strings[field] = *v;
    } else {
      K3DPP_TRY(r.skip(wt));
    }
  }
  return m;
}

// RFC 3339 in UTC; nullopt when the time is the zero value (Go renders null; we omit).
Result<json> format_time(std::string_view data, bool micro) {
  auto m = read_small(data);
  if (!m) return m.error();
  auto seconds = static_cast<int64_t>(m->varints[1]);
  auto nanos = static_cast<int32_t>(static_cast<int64_t>(m->varints[2]));
  if (seconds == 0 && nanos == 0) return json();
  // Years 0001..9999, as Go's RFC 3339 marshalling allows.
  if (seconds < -62135596800LL || seconds > 253402300799LL) return bad("timestamp out of range");
  if (nanos < 0 || nanos > 999999999) return bad("timestamp nanos out of range");
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (!gmtime_r(&t, &tm)) return bad("timestamp out of range");
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string s(buf, n);
  if (micro) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%06d", nanos / 1000);
    s += frac;
  }
  return json(s + "Z");
}

Result<json> decode_message(std::string_view data, int index, int depth);

// One value of a (non-map) field; a null json means "zero Time, leave out".
Result<json> decode_value(const ProtoField& f, uint32_t wt, Reader& r, int depth) {
  switch (f.kind) {
    case FieldKind::kInt32:
    case FieldKind::kInt64:
    case FieldKind::kBool: {
      if (wt != kVarint) return bad(std::string("wrong wire type for field ") + f.json_name);
      auto v = r.varint();
      if (!v) return v.error();
      if (f.kind == FieldKind::kBool) return json(*v != 0);
      if (f.kind == FieldKind::kInt32) return json(static_cast<int32_t>(static_cast<int64_t>(*v)));
      return json(static_cast<int64_t>(*v));
    }
    default:
      break;
  }
  if (wt != kLengthDelimited) return bad(std::string("wrong wire type for field ") + f.json_name);
  auto data = r.bytes();
  if (!data) return data.error();
  switch (f.kind) {
    case FieldKind::kString: return json(std::string(*data));
    case FieldKind::kBytes: return json(base64(*data));
    case FieldKind::kMessage: return decode_message(*data, f.message, depth + 1);
    case FieldKind::kTime: return format_time(*data, false);
    case FieldKind::kMicroTime: return format_time(*data, true);
    case FieldKind::kQuantity: {
      auto m = read_small(*data);
      if (!m) return m.error();
      return json(std::string(m->strings[1]));
    }
    case FieldKind::kIntOrString: {
      auto m = read_small(*data);
      if (!m) return m.error();
      if (m->varints[1] == 1) return json(std::string(m->strings[3]));
      return json(static_cast<int32_t>(static_cast<int64_t>(m->varints[2])));
    }
    case FieldKind::kRawJson: {
      auto m = read_small(*data);
      if (!m) return m.error();
      if (m->strings[1].empty()) return json();
      json v = json::parse(m->strings[1], nullptr, false);
      if (v.is_discarded()) return bad(std::string("invalid JSON in raw field ") + f.json_name);
      return v;
    }
    default:
      return bad("unexpected field kind");
  }
}

// A map<string, V> entry {1 key, 2 value}.
Status decode_map_entry(const ProtoField& f, std::string_view data, json& target, int depth) {
  Reader r(data);
  std::string key;
  json value;
  bool have_value = false;
  while (!r.done()) {
    auto tag = r.varint();
    if (!tag) return tag.error();
    auto field = static_cast<uint32_t>(*tag >> 3);
    auto wt = static_cast<uint32_t>(*tag & 7);
    if (field == 1 && wt == kLengthDelimited) {
      auto k = r.bytes();
      if (!k) return k.error();
      key = std::string(*k);
    } else if (field == 2) {
      auto v = decode_value(f, wt, r, depth);
      if (!v) return v.error();
      value = std::move(*v);
      have_value = true;
    } else if (field == 0) {
      return bad("invalid field number 0");
    } else {
      K3DPP_TRY(r.skip(wt));
    }
  }
  if (!have_value) {
    // An absent value is the type's zero value.
    switch (f.kind) {
      case FieldKind::kMessage: value = json::object(); break;
      case FieldKind::kInt32:
      case FieldKind::kInt64: value = 0; break;
      case FieldKind::kBool: value = false; break;
      default: value = ""; break;
    }
  }
  if (!target.is_object()) target = json::object();
  target[key] = std::move(value);
  return {};
}

bool is_zero(const json& v) {
  if (v.is_string()) return v.get_ref<const std::string&>().empty();
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>() == 0;
  return false;
}

Status decode_packed(const ProtoField& f, std::string_view data, json& target) {
  Reader r(data);
  if (!target.is_array()) target = json::array();
  while (!r.done()) {
    auto v = r.varint();
    if (!v) return v.error();
    if (f.kind == FieldKind::kBool) {
      target.push_back(*v != 0);
    } else if (f.kind == FieldKind::kInt32) {
      target.push_back(static_cast<int32_t>(static_cast<int64_t>(*v)));
    } else {
      target.push_back(static_cast<int64_t>(*v));
    }
  }
  return {};
}

Result<json> decode_message(std::string_view data, int index, int depth) {
  if (depth > kMaxDepth) return bad("message nesting too deep");
  if (index < 0 || static_cast<size_t>(index) >= std::size(kMessages)) return bad("bad schema index");
  const ProtoMessage& msg = kMessages[index];
  json obj = json::object();
  Reader r(data);
  while (!r.done()) {
    auto tag = r.varint();
    if (!tag) return tag.error();
    auto number = static_cast<uint32_t>(*tag >> 3);
    auto wt = static_cast<uint32_t>(*tag & 7);
    if (number == 0) return bad(std::string("invalid field number 0 in ") + msg.name);
    const ProtoField* f = nullptr;
    for (size_t i = 0; i < msg.count; ++i) {
      if (msg.fields[i].number == number) {
        f = &msg.fields[i];
        break;
      }
    }
    if (!f) {
      K3DPP_TRY(r.skip(wt));
      continue;
    }
    const std::string name = f->json_name;
    if (f->flags & kMap) {
      if (wt != kLengthDelimited) return bad("wrong wire type for map field " + name);
      auto entry = r.bytes();
      if (!entry) return entry.error();
      K3DPP_TRY(decode_map_entry(*f, *entry, obj[name], depth + 1));
      continue;
    }
    bool scalar = f->kind == FieldKind::kInt32 || f->kind == FieldKind::kInt64 || f->kind == FieldKind::kBool;
    if ((f->flags & kRepeated) && scalar && wt == kLengthDelimited) {
      auto packed = r.bytes();
      if (!packed) return packed.error();
      K3DPP_TRY(decode_packed(*f, *packed, obj[name]));
      continue;
    }
    auto v = decode_value(*f, wt, r, depth);
    if (!v) return v.error();
    if (f->flags & kRepeated) {
      json& list = obj[name];
      if (!list.is_array()) list = json::array();
      list.push_back(std::move(*v));
      continue;
    }
    if (f->kind == FieldKind::kMessage && (f->flags & kInline)) {
      for (auto it = v->begin(); it != v->end(); ++it) obj[it.key()] = std::move(*it);
      continue;
    }
    bool omit = v->is_null() || (!(f->flags & kPointer) && (f->flags & kOmitEmpty) && is_zero(*v));
    if (omit) {
      obj.erase(name);
    } else {
      obj[name] = std::move(*v);
    }
  }
  return obj;
}

}  // namespace

bool is_protobuf_envelope(std::string_view body) { return body.substr(0, kProtobufMagic.size()) == kProtobufMagic; }

Result<ProtobufEnvelope> decode_protobuf_envelope(std::string_view body) {
  if (!is_protobuf_envelope(body)) return bad("body does not start with the k8s\\0 magic");
  ProtobufEnvelope env;
  Reader r(body.substr(kProtobufMagic.size()));
  while (!r.done()) {
    auto tag = r.varint();
    if (!tag) return tag.error();
    auto number = static_cast<uint32_t>(*tag >> 3);
    auto wt = static_cast<uint32_t>(*tag & 7);
    if (number == 0) return bad("invalid field number 0 in runtime.Unknown");
    if (number >= 1 && number <= 4 && wt == kLengthDelimited) {
      auto v = r.bytes();
      if (!v) return v.error();
      if (number == 1) {
        auto tm = read_small(*v);
        if (!tm) return tm.error();
        env.api_version = std::string(tm->strings[1]);
        env.kind = std::string(tm->strings[2]);
      } else if (number == 2) {
        env.raw = std::string(*v);
      } else if (number == 3) {
        env.content_encoding = std::string(*v);
      } else {
        env.content_type = std::string(*v);
      }
    } else if (number <= 4) {
      return bad("wrong wire type in runtime.Unknown field " + std::to_string(number));
    } else {
      K3DPP_TRY(r.skip(wt));
    }
  }
  if (env.kind.empty()) return bad("runtime.Unknown has no TypeMeta kind");
  return env;
}

Result<json> decode_protobuf_raw(std::string_view raw, const std::string& api_version, const std::string& kind) {
  for (const auto& root : kRoots) {
    if (api_version == root.api_version && kind == root.kind) {
      auto obj = decode_message(raw, root.message, 0);
      if (!obj) return obj.error().wrap("decoding " + kind);
      (*obj)["apiVersion"] = api_version;
      (*obj)["kind"] = kind;
      return obj;
    }
  }
  return fail("the protobuf encoding of " + api_version + ", Kind=" + kind +
                  " is not supported by this server; send application/json",
              "UnsupportedMediaType");
}

Result<json> decode_protobuf_object(std::string_view body) {
  auto env = decode_protobuf_envelope(body);
  if (!env) return env.error();
  if (!env->content_encoding.empty()) {
    return fail("protobuf: unsupported content encoding \"" + env->content_encoding + "\"", "BadRequest");
  }
  return decode_protobuf_raw(env->raw, env->api_version, env->kind);
}

std::vector<std::string> protobuf_supported_kinds() {
  std::vector<std::string> out;
  for (const auto& root : kRoots) out.push_back(std::string(root.api_version) + "/" + root.kind);
  return out;
}

}  // namespace k3dpp::apimachinery
