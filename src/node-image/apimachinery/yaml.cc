#include "node-image/apimachinery/yaml.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace k3dpp::apimachinery {

namespace {

using nlohmann::json;

constexpr size_t kAliasNodeAllowance = 10'000;
constexpr size_t kAliasByteAllowance = 1 << 20;

// The core schema's number patterns, matched by hand (std::regex recursed per character: a long
// plain scalar of digits overflowed the stack).
bool digit(char c, int base = 10) {
  if (base == 16) return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  return c >= '0' && c < static_cast<char>('0' + base);
}
size_t digits_at(std::string_view s, size_t i, int base = 10) {
  size_t n = 0;
  while (i + n < s.size() && digit(s[i + n], base)) ++n;
  return n;
}
size_t sign_at(std::string_view s, size_t i) { return i < s.size() && (s[i] == '-' || s[i] == '+') ? 1 : 0; }

// [-+]?[0-9]+
bool is_int(std::string_view s) {
  size_t i = sign_at(s, 0);
  size_t n = digits_at(s, i);
  return n > 0 && i + n == s.size();
}

// 0o[0-7]+ and 0x[0-9a-fA-F]+
bool is_prefixed(std::string_view s, std::string_view prefix, int base) {
  if (s.substr(0, 2) != prefix) return false;
  size_t n = digits_at(s, 2, base);
  return n > 0 && 2 + n == s.size();
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_float(std::string_view s) {
  size_t i = sign_at(s, 0);
  if (i < s.size() && s[i] == '.') {
    size_t n = digits_at(s, i + 1);
    if (n == 0) return false;
    i += 1 + n;
  } else {
    size_t n = digits_at(s, i);
    if (n == 0) return false;
    i += n;
    if (i < s.size() && s[i] == '.') i += 1 + digits_at(s, i + 1);
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    i += 1;
    i += sign_at(s, i);
    size_t n = digits_at(s, i);
    if (n == 0) return false;
    i += n;
  }
  return i == s.size();
}

// A number past a double's range stays a string, as go-yaml resolves it (its ParseFloat fails);
// an underflow is 0, as Go's ParseFloat rounds it.
json as_float(const std::string& s) {
  errno = 0;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (errno == ERANGE && std::isinf(d)) return s;
  return d;
}

// A plain (unquoted, untagged) scalar as YAML 1.2's core schema types it.
json plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  auto as_int = [&](std::string_view digits, int base) -> json {
    bool neg = !digits.empty() && digits[0] == '-';
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
    unsigned long long v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (ec != std::errc() || p != digits.data() + digits.size()) return as_float(s);  // too big: float
    if (neg) {
      if (v > 9223372036854775808ULL) return as_float(s);
      return v == 9223372036854775808ULL ? json(INT64_MIN) : json(-static_cast<long long>(v));
    }
    if (v <= static_cast<unsigned long long>(INT64_MAX)) return static_cast<long long>(v);
    return v;
  };
  if (is_int(s)) return as_int(s, 10);
  if (is_prefixed(s, "0o", 8)) return as_int(std::string_view(s).substr(2), 8);
  if (is_prefixed(s, "0x", 16)) return as_int(std::string_view(s).substr(2), 16);
  if (is_float(s)) return as_float(s);
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF") {
    return std::numeric_limits<double>::infinity();
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -std::numeric_limits<double>::infinity();
  return s;
}

// Aliases are expanded, so a few hundred bytes of nested aliases (9 levels of 10) would make a
// billion nodes. Without aliases a document cannot make more nodes or scalar bytes than it has
// bytes of text; the budget allows that plus some room for light aliasing, and refuses the rest
// with the message go-yaml (sigs.k8s.io/yaml, Kubernetes' YAML decoder) gives.
struct Budget {
  size_t nodes;
  size_t bytes;
  void spend(size_t n, size_t b) {
    if (n > nodes || b > bytes) throw std::length_error("document contains excessive aliasing");
    nodes -= n;
    bytes -= b;
  }
};

json convert(const YAML::Node& n, int depth, Budget& budget) {
  if (depth > 200) throw YAML::Exception(n.Mark(), "document nested too deeply");
  budget.spend(1, n.IsScalar() ? n.Scalar().size() : 0);
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& tag = n.Tag();
      if (tag == "?") return plain_scalar(n.Scalar());  // plain scalar: resolve its type
      if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
          tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null") {
        return plain_scalar(n.Scalar());
      }
      return n.Scalar();  // quoted ("!") or tagged as a string
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& x : n) a.push_back(convert(x, depth + 1, budget));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) throw YAML::Exception(kv.first.Mark(), "mapping keys must be strings");
        budget.spend(0, kv.first.Scalar().size());
        o[kv.first.Scalar()] = convert(kv.second, depth + 1, budget);
      }
      return o;
    }
  }
  return nullptr;
}

}  // namespace

Result<nlohmann::json> yaml_to_json(std::string_view text) {
  try {
    auto docs = YAML::LoadAll(std::string(text));
    if (docs.empty()) return nlohmann::json(nullptr);
    if (docs.size() > 1) return fail("yaml: expected one document, found " + std::to_string(docs.size()), "BadRequest");
    Budget budget{text.size() + kAliasNodeAllowance, text.size() + kAliasByteAllowance};
    return convert(docs[0], 0, budget);
  } catch (const YAML::Exception& e) {
    return fail(std::string("yaml: ") + e.what(), "BadRequest");
  } catch (const std::exception& e) {
    return fail(std::string("yaml: ") + e.what(), "BadRequest");
  }
}

}  // namespace k3dpp::apimachinery
