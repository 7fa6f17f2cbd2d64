#include "node-image/apimachinery/selectors.h"

#include <algorithm>
#include <cctype>

#include "common/strings.h"
#include "common/json_read.h"

namespace k3dpp::apimachinery {

using nlohmann::json;

namespace {

Unexpected<Error> bad(const std::string& msg) { return fail(msg, "BadRequest"); }

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Qualified-name part: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63 characters.
bool valid_name_part(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!is_alnum(s.front()) || !is_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// DNS-1123 subdomain: lowercase labels separated by dots, at most 253 characters.
bool valid_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (const auto& label : strings::split(s, '.')) {
    if (label.empty() || label.size() > 63) return false;
    auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!ok(label.front()) || !ok(label.back())) return false;
    for (char c : label) {
      if (!ok(c) && c != '-') return false;
    }
  }
  return true;
}

std::string op_text(SelectorOp op) {
  switch (op) {
    case SelectorOp::kEquals: return "=";
    case SelectorOp::kDoubleEquals: return "==";
    case SelectorOp::kNotEquals: return "!=";
    case SelectorOp::kIn: return "in";
    case SelectorOp::kNotIn: return "notin";
    case SelectorOp::kExists: return "exists";
    case SelectorOp::kDoesNotExist: return "!";
  }
  return "";
}

Result<LabelRequirement> make_requirement(std::string key, SelectorOp op, std::vector<std::string> values) {
  if (auto e = validate_label_key(key); !e.empty()) return bad(e);
  switch (op) {
    case SelectorOp::kIn:
    case SelectorOp::kNotIn:
      if (values.empty()) return bad("for 'in', 'notin' operators, values set can't be empty");
      break;
    case SelectorOp::kEquals:
    case SelectorOp::kDoubleEquals:
    case SelectorOp::kNotEquals:
      if (values.size() != 1) return bad("exact-match compatibility requires one single value");
      break;
    case SelectorOp::kExists:
    case SelectorOp::kDoesNotExist:
      if (!values.empty()) return bad("values set must be empty for exists and does not exist");
      break;
  }
  for (const auto& v : values) {
    if (auto e = validate_label_value(v); !e.empty()) return bad(e);
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return LabelRequirement{std::move(key), op, std::move(values)};
}

// ---- label selector lexer/parser -------------------------------------------------------------

enum class Tok { kEnd, kIdentifier, kComma, kOpenParen, kCloseParen, kEquals, kDoubleEquals,
                 kNotEquals, kNot, kIn, kNotIn, kError };

struct Token {
  Tok type;
  std::string text;
};

bool is_special(char c) { return c == '=' || c == '!' || c == '(' || c == ')' || c == ','; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::vector<Token> lex(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (true) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size()) break;
    char c = s[i];
    if (c == ',') { out.push_back({Tok::kComma, ","}); ++i; continue; }
    if (c == '(') { out.push_back({Tok::kOpenParen, "("}); ++i; continue; }
    if (c == ')') { out.push_back({Tok::kCloseParen, ")"}); ++i; continue; }
    if (c == '=' || c == '!') {
      if (i + 1 < s.size() && s[i + 1] == '=') {
        out.push_back({c == '=' ? Tok::kDoubleEquals : Tok::kNotEquals, std::string(s.substr(i, 2))});
        i += 2;
      } else {
        out.push_back({c == '=' ? Tok::kEquals : Tok::kNot, std::string(1, c)});
        ++i;
      }
      continue;
    }
    size_t start = i;
    while (i < s.size() && !is_space(s[i]) && !is_special(s[i])) ++i;
    std::string word(s.substr(start, i - start));
    if (word == "in") {
      out.push_back({Tok::kIn, word});
    } else if (word == "notin") {
      out.push_back({Tok::kNotIn, word});
    } else {
      out.push_back({Tok::kIdentifier, word});
    }
  }
  out.push_back({Tok::kEnd, ""});
  return out;
}

class LabelParser {
 public:
  explicit LabelParser(std::string_view s) : toks_(lex(s)) {}

  Result<std::vector<LabelRequirement>> parse() {
    std::vector<LabelRequirement> reqs;
    if (peek().type == Tok::kEnd) return reqs;
    while (true) {
      auto r = requirement();
      if (!r) return r.error();
      reqs.push_back(std::move(*r));
      const Token& t = next();
      if (t.type == Tok::kEnd) break;
      if (t.type != Tok::kComma) {
        return bad("found '" + t.text + "', expected: ',' or 'end of string'");
      }
      if (peek().type == Tok::kEnd) return bad("found '', expected: identifier after ','");
    }
    return reqs;
  }

 private:
  const Token& peek() const { return toks_[pos_]; }
  const Token& next() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }

  Result<LabelRequirement> requirement() {
    bool negate = false;
    if (peek().type == Tok::kNot) {
      next();
      negate = true;
    }
    const Token& key = next();
    if (key.type != Tok::kIdentifier) {
      return bad("unable to parse requirement: found '" + key.text + "', expected: identifier");
    }
    std::string k = key.text;
    if (negate) return wrap(make_requirement(k, SelectorOp::kDoesNotExist, {}));
    Tok t = peek().type;
    if (t == Tok::kEnd || t == Tok::kComma) return wrap(make_requirement(k, SelectorOp::kExists, {}));
    const Token& op = next();
    SelectorOp sop;
    switch (op.type) {
      case Tok::kEquals: sop = SelectorOp::kEquals; break;
      case Tok::kDoubleEquals: sop = SelectorOp::kDoubleEquals; break;
      case Tok::kNotEquals: sop = SelectorOp::kNotEquals; break;
      case Tok::kIn: sop = SelectorOp::kIn; break;
      case Tok::kNotIn: sop = SelectorOp::kNotIn; break;
      default:
        return bad("unable to parse requirement: found '" + op.text +
                   "', expected: in, notin, =, ==, !=, gt, lt");
    }
    std::vector<std::string> values;
    if (sop == SelectorOp::kIn || sop == SelectorOp::kNotIn) {
      const Token& open = next();
      if (open.type != Tok::kOpenParen) {
        return bad("unable to parse requirement: found '" + open.text + "', expected: '('");
      }
      // identifier list, values may be empty strings: "(a,,b)" or "()"
      bool expect_value = true;
      while (true) {
        const Token& v = next();
        if (v.type == Tok::kCloseParen) {
          if (expect_value && !values.empty()) values.emplace_back();
          break;
        }
        if (v.type == Tok::kComma) {
          if (expect_value) values.emplace_back();
          expect_value = true;
          continue;
        }
        if (v.type == Tok::kIdentifier && expect_value) {
          values.push_back(v.text);
          expect_value = false;
          continue;
        }
        return bad("unable to parse requirement: found '" + v.text + "', expected: ',', ')' or identifier");
      }
    } else {
      Tok vt = peek().type;
      if (vt == Tok::kIdentifier) {
        values.push_back(next().text);
      } else if (vt == Tok::kEnd || vt == Tok::kComma) {
        values.emplace_back();  // "a=" selects an empty value
      } else {
        return bad("unable to parse requirement: found '" + peek().text + "', expected: identifier");
      }
    }
    return wrap(make_requirement(k, sop, std::move(values)));
  }

  Result<LabelRequirement> wrap(Result<LabelRequirement> r) {
    if (r) return r;
    return bad("unable to parse requirement: " + r.error().message);
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
};

void sort_requirements(std::vector<LabelRequirement>& reqs) {
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const LabelRequirement& a, const LabelRequirement& b) { return a.key < b.key; });
}

std::string json_as_label(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

std::string validate_label_key(std::string_view key) {
  const std::string q(key);
  std::string_view name = key;
  auto slash = key.find('/');
  if (slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) return "invalid label key \"" + q + "\": prefix part must be non-empty";
    if (!valid_dns_subdomain(prefix)) {
      return "invalid label key \"" + q +
             "\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
             "characters, '-' or '.', and must start and end with an alphanumeric character";
    }
  }
  if (name.empty()) return "invalid label key \"" + q + "\": name part must be non-empty";
  if (name.size() > 63) return "invalid label key \"" + q + "\": name part must be no more than 63 characters";
  if (!valid_name_part(name)) {
    return "invalid label key \"" + q +
           "\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
           "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
           "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  }
  return "";
}

std::string validate_label_value(std::string_view value) {
  if (value.empty()) return "";
  const std::string q(value);
  if (value.size() > 63) return "invalid label value: \"" + q + "\": must be no more than 63 characters";
  if (!valid_name_part(value)) {
    return "invalid label value: \"" + q +
           "\": a valid label must be an empty string or consist of alphanumeric characters, '-', "
           "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
           "'my_value',  or '12345', regex used for validation is "
           "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
  }
  return "";
}

bool LabelRequirement::matches(const json& labels) const {
  const json* v = nullptr;
  if (labels.is_object()) {
    auto it = labels.find(key);
    if (it != labels.end()) v = &*it;
  }
  auto has_value = [&](const std::string& s) {
    return std::find(values.begin(), values.end(), s) != values.end();
  };
  switch (op) {
    case SelectorOp::kEquals:
    case SelectorOp::kDoubleEquals:
    case SelectorOp::kIn:
      return v && has_value(json_as_label(*v));
    case SelectorOp::kNotEquals:
    case SelectorOp::kNotIn:
      return !v || !has_value(json_as_label(*v));
    case SelectorOp::kExists:
      return v != nullptr;
    case SelectorOp::kDoesNotExist:
      return v == nullptr;
  }
  return false;
}

std::string LabelRequirement::to_string() const {
  switch (op) {
    case SelectorOp::kExists: return key;
    case SelectorOp::kDoesNotExist: return "!" + key;
    case SelectorOp::kIn:
    case SelectorOp::kNotIn:
      return key + " " + op_text(op) + " (" + strings::join(values, ",") + ")";
    default:
      return key + op_text(op) + (values.empty() ? "" : values[0]);
  }
}

LabelSelector LabelSelector::nothing() {
  LabelSelector s;
  s.nothing_ = true;
  return s;
}

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  LabelParser p(text);
  auto reqs = p.parse();
  if (!reqs) return reqs.error();
  LabelSelector s;
  s.requirements_ = std::move(*reqs);
  sort_requirements(s.requirements_);
  return s;
}

Result<LabelSelector> LabelSelector::from_json(const json& selector) {
  if (selector.is_null()) return nothing();
  if (!selector.is_object()) return fail("label selector must be an object", "Invalid");
  LabelSelector s;
  if (auto ml = selector.find("matchLabels"); ml != selector.end() && !ml->is_null()) {
    if (!ml->is_object()) return fail("matchLabels must be an object", "Invalid");
    for (auto it = ml->begin(); it != ml->end(); ++it) {
      if (!it->is_string()) return fail("matchLabels values must be strings", "Invalid");
      auto r = make_requirement(it.key(), SelectorOp::kEquals, {it->get<std::string>()});
      if (!r) return fail(r.error().message, "Invalid");
      s.requirements_.push_back(std::move(*r));
    }
  }
  if (auto me = selector.find("matchExpressions"); me != selector.end() && !me->is_null()) {
    if (!me->is_array()) return fail("matchExpressions must be a list", "Invalid");
    for (const auto& e : *me) {
      if (!e.is_object() || !e.contains("key") || !e["key"].is_string()) {
        return fail("matchExpressions entries need a key", "Invalid");
      }
      std::string op = jvalue(e, "operator", "");
      SelectorOp sop;
      if (op == "In") {
        sop = SelectorOp::kIn;
      } else if (op == "NotIn") {
        sop = SelectorOp::kNotIn;
      } else if (op == "Exists") {
        sop = SelectorOp::kExists;
      } else if (op == "DoesNotExist") {
        sop = SelectorOp::kDoesNotExist;
      } else {
        return fail("\"" + op + "\" is not a valid label selector operator", "Invalid");
      }
      std::vector<std::string> values;
      if (auto v = e.find("values"); v != e.end() && v->is_array()) {
        for (const auto& x : *v) {
          if (!x.is_string()) return fail("matchExpressions values must be strings", "Invalid");
          values.push_back(x.get<std::string>());
        }
      }
      auto r = make_requirement(e["key"].get<std::string>(), sop, std::move(values));
      if (!r) return fail(r.error().message, "Invalid");
      s.requirements_.push_back(std::move(*r));
    }
  }
  sort_requirements(s.requirements_);
  return s;
}

bool LabelSelector::matches(const json& labels) const {
  if (nothing_) return false;
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const LabelRequirement& r) { return r.matches(labels); });
}

std::string LabelSelector::to_string() const {
  std::vector<std::string> parts;
  for (const auto& r : requirements_) parts.push_back(r.to_string());
  return strings::join(parts, ",");
}

// ---- field selectors -------------------------------------------------------------------------

namespace {

std::string escape_field_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == ',' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

// Splits on unescaped commas; keeps escapes in the parts.
std::vector<std::string> split_unescaped(std::string_view s) {
  std::vector<std::string> parts;
  std::string cur;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      cur += s[i];
      cur += s[++i];
    } else if (s[i] == ',') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += s[i];
    }
  }
  parts.push_back(cur);
  return parts;
}

Result<std::string> unescape_field_value(const std::string& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\') {
      if (i + 1 >= v.size()) return bad("invalid field selector value: trailing backslash in '" + v + "'");
      char n = v[++i];
      if (n != '\\' && n != ',' && n != '=') {
        return bad("invalid escape sequence '\\" + std::string(1, n) + "' in field selector value");
      }
      out += n;
    } else if (v[i] == ',' || v[i] == '=') {
      return bad("invalid field selector value: unescaped '" + std::string(1, v[i]) + "' in '" + v + "'");
    } else {
      out += v[i];
    }
  }
  return out;
}

}  // namespace

Result<FieldSelector> FieldSelector::parse(std::string_view text) {
  FieldSelector s;
  std::string_view trimmed = strings::trim(text);
  if (trimmed.empty()) return s;
  for (const auto& part : split_unescaped(trimmed)) {
    std::string_view p = strings::trim(part);
    if (p.empty()) continue;
    FieldRequirement req;
    size_t pos;
    size_t len;
    if ((pos = p.find("!=")) != std::string_view::npos) {
      req.op = SelectorOp::kNotEquals;
      len = 2;
    } else if ((pos = p.find("==")) != std::string_view::npos) {
      req.op = SelectorOp::kDoubleEquals;
      len = 2;
    } else if ((pos = p.find('=')) != std::string_view::npos) {
      req.op = SelectorOp::kEquals;
      len = 1;
    } else {
      return bad("invalid selector: '" + std::string(text) + "'; can't understand '" + std::string(p) + "'");
    }
    req.field = std::string(strings::trim(p.substr(0, pos)));
    if (req.field.empty()) {
      return bad("invalid selector: '" + std::string(text) + "'; can't understand '" + std::string(p) + "'");
    }
    auto value = unescape_field_value(std::string(strings::trim(p.substr(pos + len))));
    if (!value) return value.error();
    req.value = std::move(*value);
    s.requirements_.push_back(std::move(req));
  }
  std::stable_sort(s.requirements_.begin(), s.requirements_.end(),
                   [](const FieldRequirement& a, const FieldRequirement& b) { return a.field < b.field; });
  return s;
}

std::optional<std::string> field_value(const json& object, std::string_view dotted_path) {
  const json* cur = &object;
  for (const auto& part : strings::split(dotted_path, '.')) {
    if (!cur->is_object()) return std::nullopt;
    auto it = cur->find(part);
    if (it == cur->end()) return std::nullopt;
    cur = &*it;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_boolean() || cur->is_number()) return cur->dump();
  return std::nullopt;
}

bool FieldSelector::matches(const json& object) const {
  for (const auto& r : requirements_) {
    std::string v = field_value(object, r.field).value_or("");
    bool eq = v == r.value;
    if (r.op == SelectorOp::kNotEquals ? eq : !eq) return false;
  }
  return true;
}

namespace {

struct FieldLabel {
  const char* name;
  const char* path;           // dotted path into the object
  const char* default_value;  // value when the field is absent
};

const std::vector<FieldLabel>& kind_field_labels(const std::string& kind) {
  static const std::vector<FieldLabel> kNone;
  static const std::vector<FieldLabel> kPod = {
      {"spec.nodeName", "spec.nodeName", ""},
      {"spec.restartPolicy", "spec.restartPolicy", ""},
      {"spec.schedulerName", "spec.schedulerName", ""},
      {"spec.serviceAccountName", "spec.serviceAccountName", ""},
      {"spec.hostNetwork", "spec.hostNetwork", "false"},
      {"status.phase", "status.phase", ""},
      {"status.podIP", "status.podIP", ""},
      {"status.nominatedNodeName", "status.nominatedNodeName", ""}};
  static const std::vector<FieldLabel> kEvent = {
      {"involvedObject.kind", "involvedObject.kind", ""},
      {"involvedObject.namespace", "involvedObject.namespace", ""},
      {"involvedObject.name", "involvedObject.name", ""},
      {"involvedObject.uid", "involvedObject.uid", ""},
      {"involvedObject.apiVersion", "involvedObject.apiVersion", ""},
      {"involvedObject.resourceVersion", "involvedObject.resourceVersion", ""},
      {"involvedObject.fieldPath", "involvedObject.fieldPath", ""},
      {"reason", "reason", ""},
      {"reportingComponent", "reportingComponent", ""},
      {"source", "source.component", ""},
      {"type", "type", ""}};
  static const std::vector<FieldLabel> kNode = {{"spec.unschedulable", "spec.unschedulable", "false"}};
  static const std::vector<FieldLabel> kSecret = {{"type", "type", ""}};
  static const std::vector<FieldLabel> kNamespace = {{"status.phase", "status.phase", ""}};
  static const std::vector<FieldLabel> kReplicas = {{"status.replicas", "status.replicas", "0"}};
  static const std::vector<FieldLabel> kJob = {{"status.successful", "status.successful", "0"}};
  if (kind == "Pod") return kPod;
  if (kind == "Event") return kEvent;
  if (kind == "Node") return kNode;
  if (kind == "Secret") return kSecret;
  if (kind == "Namespace") return kNamespace;
  if (kind == "ReplicaSet" || kind == "ReplicationController") return kReplicas;
  if (kind == "Job") return kJob;
  return kNone;
}

}  // namespace

std::vector<std::string> supported_field_labels(const std::string& kind) {
  std::vector<std::string> out = {"metadata.name", "metadata.namespace"};
  for (const auto& f : kind_field_labels(kind)) out.emplace_back(f.name);
  return out;
}

Status check_field_selector(const std::string& kind, const FieldSelector& selector) {
  auto supported = supported_field_labels(kind);
  for (const auto& r : selector.requirements()) {
    if (std::find(supported.begin(), supported.end(), r.field) == supported.end()) {
      return bad("field label not supported: " + r.field);
    }
  }
  return {};
}

bool FieldSelector::matches(const json& object, const std::string& kind) const {
  const auto& labels = kind_field_labels(kind);
  for (const auto& r : requirements_) {
    std::string path = r.field;
    std::string dflt;
    for (const auto& f : labels) {
      if (r.field == f.name) {
        path = f.path;
        dflt = f.default_value;
        break;
      }
    }
    std::string v = field_value(object, path).value_or(dflt);
    bool eq = v == r.value;
    if (r.op == SelectorOp::kNotEquals ? eq : !eq) return false;
  }
  return true;
}

std::string FieldSelector::to_string() const {
  std::vector<std::string> parts;
  for (const auto& r : requirements_) parts.push_back(r.field + op_text(r.op) + escape_field_value(r.value));
  return strings::join(parts, ",");
}

}  // namespace k3dpp::apimachinery
