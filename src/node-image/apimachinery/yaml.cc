#include "node-image/apimachinery/yaml.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <regex>

namespace k3dpp::apimachinery {

namespace {

using nlohmann::json;

// A plain (unquoted, untagged) scalar as YAML 1.2's core schema types it.
json plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kOct("0o[0-7]+");
  static const std::regex kHex("0x[0-9a-fA-F]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  auto as_int = [&](std::string_view digits, int base) -> json {
    bool neg = !digits.empty() && digits[0] == '-';
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
    unsigned long long v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (ec != std::errc() || p != digits.data() + digits.size()) return std::stod(s);  // too big: float
    if (neg) {
      if (v > 9223372036854775808ULL) return std::stod(s);
      return v == 9223372036854775808ULL ? json(INT64_MIN) : json(-static_cast<long long>(v));
    }
    if (v <= static_cast<unsigned long long>(INT64_MAX)) return static_cast<long long>(v);
    return v;
  };
  if (std::regex_match(s, kInt)) return as_int(s, 10);
  if (std::regex_match(s, kOct)) return as_int(std::string_view(s).substr(2), 8);
  if (std::regex_match(s, kHex)) return as_int(std::string_view(s).substr(2), 16);
  if (std::regex_match(s, kFloat)) return std::stod(s);
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF") {
    return std::numeric_limits<double>::infinity();
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -std::numeric_limits<double>::infinity();
  return s;
}

json convert(const YAML::Node& n, int depth) {
  if (depth > 200) throw YAML::Exception(n.Mark(), "document nested too deeply");
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
      for (const auto& x : n) a.push_back(convert(x, depth + 1));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) throw YAML::Exception(kv.first.Mark(), "mapping keys must be strings");
        o[kv.first.Scalar()] = convert(kv.second, depth + 1);
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
    return convert(docs[0], 0);
  } catch (const YAML::Exception& e) {
    return fail(std::string("yaml: ") + e.what(), "BadRequest");
  } catch (const std::exception& e) {
    return fail(std::string("yaml: ") + e.what(), "BadRequest");
  }
}

}  // namespace k3dpp::apimachinery
