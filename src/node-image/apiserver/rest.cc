// Generic REST over the store: get, list, watch, create, update, patch, delete, deletecollection.
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <set>

#include "apiserver/internal.h"
#include "apiserver/watch_sink.h"
#include "common/files.h"
#include "common/strings.h"
#include "node-image/apimachinery/apimachinery.h"
#include "node-image/printers/printers.h"
#include "node-image/schema/custom_types.h"
#include "common/json_read.h"

namespace k3dpp::apiserver {

namespace am = apimachinery;

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {
// Random bytes for uids and generated names from a per-thread pool that RAND_bytes refills 1 KiB at
// a time: one RAND_bytes call (its DRBG lock and setup) per ~40 creates instead of two per create
// (~4 % of a create's CPU at C=50).
void random_bytes(unsigned char* out, size_t n) {
  thread_local unsigned char pool[1024];
  thread_local size_t left = 0;
  while (n > 0) {
    if (left == 0) {
      if (RAND_bytes(pool, sizeof pool) != 1) throw std::runtime_error("RAND_bytes failed");
      left = sizeof pool;
    }
    size_t take = std::min(n, left);
    std::memcpy(out, pool + (sizeof pool - left), take);
    std::memset(pool + (sizeof pool - left), 0, take);  // handed out once
    left -= take;
    out += take;
    n -= take;
  }
}
}  // namespace

std::string new_uid() {
  unsigned char b[16];
  random_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += hex[b[i] >> 4];
    s += hex[b[i] & 15];
  }
  return s;
}


// ?dryRun=All: the request runs through admission and validation but nothing is persisted.
thread_local bool t_dry_run = false;

DryRunScope::DryRunScope(bool on) : prev_(t_dry_run) { t_dry_run = on; }
DryRunScope::~DryRunScope() { t_dry_run = prev_; }

thread_local std::string t_field_manager;
FieldManagerScope::FieldManagerScope(std::string manager) : prev_(std::move(t_field_manager)) {
  t_field_manager = std::move(manager);
}
FieldManagerScope::~FieldManagerScope() { t_field_manager = std::move(prev_); }
const std::string& current_field_manager() { return t_field_manager; }

namespace {
// The context of a managedFields update for a request's write.
am::WriteContext field_context(const schema::ResourceType& t, const std::string& subresource) {
  return am::WriteContext{current_field_manager(), t.api_version(), subresource, now_rfc3339(),
                          list_types(t)};
}
}  // namespace
thread_local bool t_applying = false;

Result<store::KeyValue> ApiServer::Impl::put_new(const std::string& key, const std::string& value) {
  if (!t_dry_run) return store->create(key, value);
  if (store->get(key)) return fail("exists", "AlreadyExists");
  return store::KeyValue{key, value, 0, store->current_revision()};
}

Result<store::KeyValue> ApiServer::Impl::put(const std::string& key, const std::string& value, int64_t rev) {
  if (!t_dry_run) return store->update(key, value, rev);
  auto cur = store->get(key);
  if (!cur) return cur.error();
  if (rev > 0 && cur->mod_revision != rev) return fail("conflict", "Conflict");
  return store::KeyValue{key, value, cur->create_revision, cur->mod_revision};
}

Result<store::KeyValue> ApiServer::Impl::drop(const std::string& key, int64_t rev) {
  if (!t_dry_run) return store->remove(key, rev);
  auto cur = store->get(key);
  if (!cur) return cur.error();
  if (rev > 0 && cur->mod_revision != rev) return fail("conflict", "Conflict");
  return *cur;
}

GroupResource group_resource(const schema::ResourceType& t) { return {t.group, t.plural}; }

std::string storage_key(const schema::ResourceType& t, std::string_view ns, std::string_view name) {
  std::string k = "/registry/" + group_resource(t).str() + "/";
  if (t.namespaced) k += std::string(ns) + "/";
  return k + std::string(name);
}

std::string storage_prefix(const schema::ResourceType& t, std::string_view ns) {
  std::string k = "/registry/" + group_resource(t).str() + "/";
  if (t.namespaced && !ns.empty()) k += std::string(ns) + "/";
  return k;
}

namespace {

std::optional<std::string> param(const http::Request& r, const std::string& name) {
  auto it = r.query.find(name);
  if (it == r.query.end()) return std::nullopt;
  return it->second;
}
// Go's strconv.Quote, close enough for messages: quotes and backslashes escaped.
std::string go_quote(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// An integer query parameter (limit, timeoutSeconds, gracePeriodSeconds) as Kubernetes' parameter
// codec reads it with strconv.ParseInt: absent → nullopt; not an integer, or outside int64 →
// 400 with Go's message (never an exception, never silently ignored).
std::variant<std::optional<long long>, ApiError> int_param(const http::Request& r, const std::string& name) {
  auto v = param(r, name);
  if (!v) return std::optional<long long>{};
  long long out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec == std::errc::result_out_of_range) {
    return bad_request("strconv.ParseInt: parsing " + go_quote(*v) + ": value out of range");
  }
  if (v->empty() || ec != std::errc() || ptr != v->data() + v->size()) {
    return bad_request("strconv.ParseInt: parsing " + go_quote(*v) + ": invalid syntax");
  }
  return std::optional<long long>{out};
}

// fmt's %+v of a decoded JSON patch (a Go map[string]interface{}), for Kubernetes' patch messages.
void go_sprint(const json& v, std::string& out) {
  if (v.is_object()) {
    out += "map[";
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!first) out += ' ';
      first = false;
      out += it.key() + ":";
      go_sprint(it.value(), out);
    }
    out += ']';
  } else if (v.is_array()) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += ' ';
      go_sprint(v[i], out);
    }
    out += ']';
  } else if (v.is_string()) {
    out += v.get<std::string>();
  } else if (v.is_null()) {
    out += "<nil>";
  } else {
    out += v.dump();
  }
}

// The 422 Kubernetes' patch handler answers when the patched object does not decode (a wrongly
// typed field): NewInvalid(GroupKind{}, "", [Invalid("patch", <patch or patched object>, err)]).
ApiError invalid_patch(const std::string& value, const std::string& decode_error) {
  std::string cause = "Invalid value: " + go_quote(value) + ": " + decode_error;
  json details = {{"name", ""},
                  {"group", ""},
                  {"kind", ""},
                  {"causes", json::array({{{"reason", "FieldValueInvalid"}, {"message", cause}, {"field", "patch"}}})}};
  return ApiError{422, status_object(422, "Invalid", " \"\" is invalid: patch: " + cause, std::move(details))};
}

std::string header(const http::Request& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

// The stored JSON text with metadata.resourceVersion added, without parsing it into a json tree
// (the list fast path). Walks the top-level object to its "metadata" member; nullopt when the
// text does not look like a stored object (the caller falls back to decode_stored).
std::optional<std::string> stored_text_with_rv(const store::KeyValue& kv) {
  const std::string& v = kv.value;
  int depth = 0;
  bool in_str = false, esc = false;
  size_t key_start = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') {
      in_str = true;
      key_start = i;
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
      // "metadata":{ at depth 1 → depth 2 now.
      if (c == '{' && depth == 2 && i >= 11 && v[i - 1] == ':' && v.compare(key_start, 10, "\"metadata\"") == 0 &&
          key_start + 10 == i - 1) {
        std::string rv = "\"resourceVersion\":\"" + std::to_string(kv.mod_revision) + "\"";
        if (i + 1 < v.size() && v[i + 1] != '}') rv += ',';
        std::string out;
        out.reserve(v.size() + rv.size());
        out.append(v, 0, i + 1).append(rv).append(v, i + 1, std::string::npos);
        return out;
      }
      continue;
    }
    if (c == '}' || c == ']') --depth;
  }
  return std::nullopt;
}

json decode_stored(const store::KeyValue& kv) {
  json obj = json::parse(kv.value, nullptr, false);
  if (obj.is_discarded() || !obj.is_object()) return json::object();
  obj["metadata"]["resourceVersion"] = std::to_string(kv.mod_revision);
  return obj;
}

std::string encode_stored(json obj) {
  if (obj.contains("metadata") && obj["metadata"].is_object()) obj["metadata"].erase("resourceVersion");
  return to_text(obj);
}

bool wants_table(const http::Request& r) {
  return header(r, "accept").find("as=Table") != std::string::npos;
}

std::string media_type(const std::string& content_type) {
  auto semi = content_type.find(';');
  return strings::to_lower(strings::trim(content_type.substr(0, semi)));
}

// Kubernetes' generateName alphabet (no vowels, no 0/1/3), uniform by rejection sampling.
std::string random_suffix(size_t n) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  constexpr unsigned kLimit = 256 - 256 % kAlphabet.size();
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    unsigned char b[8];
    random_bytes(b, sizeof b);
    for (unsigned char c : b) {
      if (c >= kLimit || out.size() == n) continue;
      out.push_back(kAlphabet[c % kAlphabet.size()]);
    }
  }
  return out;
}

bool is_terminating(const json& ns) {
  return ns.contains("metadata") && ns["metadata"].contains("deletionTimestamp");
}

// Kinds whose metadata.generation the server maintains (spec-carrying, non-core kinds).
bool tracks_generation(const schema::ResourceType& t) { return !t.group.empty(); }

bool has_status_subresource(const schema::ResourceType& t) {
  return t.find_subresource("status") != nullptr;
}

std::string pod_qos(const json& pod) {
  bool any = false, guaranteed = true;
  auto containers = jvalue(pod["spec"], "containers", json::array());
  for (auto& c : containers) {
    json req = c.contains("resources") ? jvalue(c["resources"], "requests", json::object()) : json::object();
    json lim = c.contains("resources") ? jvalue(c["resources"], "limits", json::object()) : json::object();
    if (!req.empty() || !lim.empty()) any = true;
    for (const char* r : {"cpu", "memory"}) {
      if (!lim.contains(r)) guaranteed = false;
      else if (req.contains(r) && req[r] != lim[r]) guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

json causes_json(const std::vector<schema::FieldCause>& causes) {
  json a = json::array();
  for (auto& c : causes) a.push_back({{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
  return a;
}

Reply ok(json body, int code = 200) {
  Reply r;
  r.code = code;
  r.body = std::move(body);
  return r;
}

void add_warnings(Reply& r, const std::vector<std::string>& warnings) {
  for (auto& w : warnings) {
    std::string esc;
    for (char c : w) {
      if (c == '"' || c == '\\') esc += '\\';
      esc += c;
    }
    r.headers.emplace_back("Warning", "299 - \"" + esc + "\"");
  }
}

Outcome with_warnings(Outcome o, const std::vector<std::string>& warnings) {
  if (auto* r = std::get_if<Reply>(&o)) add_warnings(*r, warnings);
  return o;
}

ApiError from_store_error(const Error& e, const GroupResource& gr, const std::string& name) {
  if (e.kind == "NotFound") return not_found(gr, name);
  if (e.kind == "AlreadyExists") return already_exists(gr, name);
  if (e.kind == "Conflict") return conflict_modified(gr, name);
  if (e.kind == "Expired") return expired(e.message);
  return internal_error(e.message);
}

struct Selectors {
  am::LabelSelector labels;
  am::FieldSelector fields;
  bool matches(const json& obj) const {
    if (!labels.empty()) {
      json l = obj.contains("metadata") ? jvalue(obj["metadata"], "labels", json::object()) : json::object();
      if (!labels.matches(l)) return false;
    }
    return fields.empty() || fields.matches(obj);
  }
};

std::variant<Selectors, ApiError> parse_selectors(const http::Request& req) {
  Selectors s;
  if (auto l = param(req, "labelSelector"); l && !l->empty()) {
    auto p = am::LabelSelector::parse(*l);
    if (!p) return bad_request(p.error().message);
    s.labels = *p;
  }
  if (auto f = param(req, "fieldSelector"); f && !f->empty()) {
    auto p = am::FieldSelector::parse(*f);
    if (!p) return bad_request(p.error().message);
    s.fields = *p;
  }
  return s;
}

// Continue tokens, shaped like Kubernetes' (base64url of {"v","rv","start"}; start is the key
// relative to the list's prefix where the next page begins). Opaque to clients.
struct ContinueToken {
  int64_t revision = 0;
  std::string start;
};

std::string base64url(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out += kAlphabet[(v >> (6 * k)) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

Result<std::string> unbase64url(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) return fail("illegal base64 data");
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string encode_continue(int64_t revision, const std::string& start) {
  return base64url(to_text(json{{"v", "meta.k8s.io/v1"}, {"rv", revision}, {"start", start}}));
}

Result<ContinueToken> decode_continue(const std::string& token) {
  auto raw = unbase64url(token);
  if (!raw) return raw.error();
  json j = json::parse(*raw, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("not a continue token");
  if (jvalue(j, "v", "") != "meta.k8s.io/v1") return fail("incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  if (!j.contains("rv") || !j["rv"].is_number_integer() || !j.contains("start") || !j["start"].is_string()) {
    return fail("missing rv or start");
  }
  ContinueToken t;
  t.revision = j["rv"].get<int64_t>();
  t.start = j["start"].get<std::string>();
  if (t.revision == 0) return fail("incorrect encoded start resourceVersion");
  if (t.start.find("..") != std::string::npos || (!t.start.empty() && t.start[0] == '/')) {
    return fail("start key is not a relative path");
  }
  return t;
}

json list_of(const schema::ResourceType& t, json items, int64_t rev) {
  return {{"kind", t.list_kind()}, {"apiVersion", t.api_version()},
          {"metadata", {{"resourceVersion", std::to_string(rev)}}}, {"items", std::move(items)}};
}

Reply table_reply(const schema::ResourceType& t, const std::vector<json>& objs, const std::string& rv,
                  const http::Request& req) {
  auto include = printers::IncludeObject::kMetadata;
  if (auto io = param(req, "includeObject")) {
    if (*io == "None") include = printers::IncludeObject::kNone;
    if (*io == "Object") include = printers::IncludeObject::kObject;
  }
  Reply r;
  if (t.custom) {
    std::vector<printers::CustomColumn> cols;
    for (const auto& c : t.custom->columns)
      cols.push_back({c.name, c.type, c.format, c.description, c.json_path, c.priority});
    r = ok(printers::to_custom_table(cols, objs, std::chrono::system_clock::now(), rv, include));
  } else {
    r = ok(printers::to_table(t.group, t.kind, objs, std::chrono::system_clock::now(), rv, include));
  }
  r.content_type = "application/json;as=Table;v=v1;g=meta.k8s.io";
  return r;
}

std::string scale_selector(const json& obj) {
  json sel = obj.contains("spec") ? jvalue(obj["spec"], "selector", json()) : json();
  if (sel.is_null()) return "";
  auto ls = am::LabelSelector::from_json(sel);
  return ls ? ls->to_string() : "";
}

json to_scale(const json& obj) {
  json meta = {{"name", jvalue(obj["metadata"], "name", "")},
               {"namespace", jvalue(obj["metadata"], "namespace", "")},
               {"uid", jvalue(obj["metadata"], "uid", "")},
               {"resourceVersion", jvalue(obj["metadata"], "resourceVersion", "")},
               {"creationTimestamp", jvalue(obj["metadata"], "creationTimestamp", "")}};
  json spec = json::object();
  if (obj.contains("spec") && obj["spec"].contains("replicas")) spec["replicas"] = obj["spec"]["replicas"];
  else spec["replicas"] = 1;
  json status = {{"replicas", obj.contains("status") ? jvalue(obj["status"], "replicas", 0) : 0}};
  std::string sel = scale_selector(obj);
  if (!sel.empty()) status["selector"] = sel;
  return {{"kind", "Scale"}, {"apiVersion", "autoscaling/v1"}, {"metadata", meta},
          {"spec", spec}, {"status", status}};
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Body decoding

std::variant<json, ApiError> ApiServer::Impl::decode_body(const schema::ResourceType& t,
                                                          const http::Request& req,
                                                          std::vector<std::string>& warnings,
                                                          bool check_fields) {
  std::string ct = media_type(header(req, "content-type"));
  json obj;
  if (ct == am::kProtobufContentType || am::is_protobuf_envelope(req.body)) {
    auto d = am::decode_protobuf_object(req.body);
    if (!d) {
      if (d.error().kind == "UnsupportedMediaType") return unsupported_media_type(ct, false);
      return bad_request(d.error().message);
    }
    obj = std::move(*d);
  } else if (ct.empty() || ct == "application/json" || ct == "*/*") {
    if (auto deep = am::json_text_depth_error(req.body)) {
      // What Kubernetes answers: its decoder's first pass (version/kind) fails on the depth.
      std::string summary = req.body.size() > 30 ? req.body.substr(0, 30) + " ..." : req.body;
      return bad_request("the object provided is unrecognized (must be of type " + t.kind +
                         "): couldn't get version/kind; json parse error: " + *deep + " (" + summary + ")");
    }
    obj = json::parse(req.body, nullptr, false);
    if (obj.is_discarded()) {
      return bad_request("the body of the request could not be decoded as JSON");
    }
  } else if (ct == am::kYamlContentType) {
    auto y = am::yaml_to_json(req.body);
    if (!y) return bad_request("error converting YAML to JSON: " + y.error().message);
    obj = std::move(*y);
  } else {
    return unsupported_media_type(ct, false);
  }
  if (!obj.is_object()) return bad_request("the body of the request must be a JSON object");
  if (am::json_depth_exceeds(obj)) {
    return bad_request(t.kind + " in version \"" + t.version + "\" cannot be handled as a " + t.kind +
                       ": exceeded max depth");
  }
  if (auto te = schema::decode_type_error(t, obj)) return bad_request(*te);
  if (check_fields) {
    std::string mode = param(req, "fieldValidation").value_or("Warn");
    auto unknown = schema::unknown_fields(t, obj);
    if (!unknown.empty()) {
      if (mode == "Strict") return bad_request(schema::strict_decoding_message(t, unknown));
      if (mode == "Warn") {
        for (auto& w : schema::strict_decoding_warnings(unknown)) warnings.push_back(w);
      }
    }
    schema::drop_unknown_fields(t, obj);
  }
  return obj;
}

// ------------------------------------------------------------------------------------------------
// Reads

Result<json> ApiServer::Impl::read(const schema::ResourceType& t, const std::string& ns,
                                   const std::string& name, int64_t* revision) {
  auto kv = store->get(storage_key(t, ns, name));
  if (!kv) return kv.error();
  if (revision) *revision = kv->mod_revision;
  return decode_stored(*kv);
}

// A stored object as the response body: its text with resourceVersion spliced in (no parse and
// dump of the object, as the list fast path), or parsed when the text does not look like one.
Reply raw_reply(const store::KeyValue& kv, int code) {
  if (auto text = stored_text_with_rv(kv)) {
    Reply r;
    r.code = code;
    r.raw_body = std::move(*text);
    return r;
  }
  return ok(decode_stored(kv), code);
}

Outcome ApiServer::Impl::get(const RequestInfo& ri, const http::Request& req) {
  const auto& t = *ri.type;
  if (ri.subresource != "scale" && !wants_table(req)) {
    auto kv = store->get(storage_key(t, ri.namespace_, ri.name));
    if (!kv) return from_store_error(kv.error(), group_resource(t), ri.name);
    return raw_reply(*kv, 200);
  }
  auto obj = read(t, ri.namespace_, ri.name);
  if (!obj) return from_store_error(obj.error(), group_resource(t), ri.name);
  if (ri.subresource == "scale") return ok(to_scale(*obj));
  if (wants_table(req) && ri.subresource.empty()) {
    return table_reply(t, {*obj}, jvalue((*obj)["metadata"], "resourceVersion", ""), req);
  }
  return ok(std::move(*obj));
}

Outcome ApiServer::Impl::list(const RequestInfo& ri, const http::Request& req) {
  const auto& t = *ri.type;
  auto sel = parse_selectors(req);
  if (auto* e = std::get_if<ApiError>(&sel)) return *e;
  auto& s = std::get<Selectors>(sel);
  std::string prefix = storage_prefix(t, ri.namespace_);

  // limit/continue: pages of one consistent snapshot (the revision travels in the token).
  long long limit = 0;
  auto limit_param = int_param(req, "limit");
  if (auto* e = std::get_if<ApiError>(&limit_param)) return *e;
  if (auto l = std::get<std::optional<long long>>(limit_param); l && *l > 0) limit = *l;
  store::ListOptions lo;
  lo.limit = limit;
  if (auto c = param(req, "continue"); c && !c->empty()) {
    if (auto rv = param(req, "resourceVersion"); rv && !rv->empty()) {
      return bad_request("specifying resource version is not allowed when using continue");
    }
    auto tok = decode_continue(*c);
    if (!tok) return bad_request("continue key is not valid: " + tok.error().message);
    lo.start = prefix + tok->start;
    lo.revision = tok->revision > 0 ? tok->revision : 0;  // -1: an inconsistent continuation, at "now"
  }
  // resourceVersionMatch=Exact: the list as it was at that revision.
  bool exact = false;
  if (param(req, "resourceVersionMatch").value_or("") == "Exact" && param(req, "continue").value_or("").empty()) {
    long long at = 0;
    if (!strings::parse_int(param(req, "resourceVersion").value_or(""), at) || at <= 0) {
      return bad_request("resourceVersionMatch: Exact requires a resourceVersion");
    }
    lo.revision = at;
    exact = true;
  }
  bool filtered = !s.labels.empty() || !s.fields.empty();
  lo.count_remaining = !filtered;  // a filtered list reports no remainingItemCount
  // Fast path (plain JSON list, no selectors): the stored texts are spliced into the response
  // instead of being parsed and serialized again.
  if (!filtered && !wants_table(req)) {
    auto res = store->list(prefix, lo);
    if (res) {
      std::string items;
      bool fast = true;
      for (const auto& kv : res->items) {
        auto text = stored_text_with_rv(kv);
        if (!text) {
          fast = false;
          break;
        }
        if (!items.empty()) items += ',';
        items += *text;
      }
      if (fast) {
        json meta = {{"resourceVersion", std::to_string(res->revision)}};
        if (res->more && !res->items.empty()) {
          meta["continue"] = encode_continue(res->revision, res->items.back().key.substr(prefix.size()) + std::string(1, '\0'));
          meta["remainingItemCount"] = res->remaining;
        }
        Reply r;
        r.raw_body = "{\"apiVersion\":" + json(t.api_version()).dump() + ",\"items\":[" + items +
                     "],\"kind\":" + json(t.list_kind()).dump() + ",\"metadata\":" + to_text(meta) + "}";
        return r;
      }
    }
    // Errors (Expired...) and odd stored values: the general path below answers.
  }
  std::vector<json> objs;
  store::ListResult page;
  std::string last_key;
  bool more = false;
  int64_t remaining = 0;
  while (true) {
    auto res = store->list(prefix, lo);
    if (!res) {
      if (res.error().kind != "Expired") return internal_error(res.error().message);
      if (exact) {
        return expired("too old resource version: " + std::to_string(lo.revision) + " (" +
                       std::to_string(store->compacted_revision()) + ")");
      }
      ApiError e = expired(
          "The provided continue parameter is too old to display a consistent list result. You can start a new "
          "list without the continue parameter, or use the continue token in this response to retrieve the "
          "remainder of the results. Continuing with the provided token results in an inconsistent list - "
          "objects that were created, modified, or deleted between the time the first chunk was returned and "
          "now may show up in the list.");
      e.status["metadata"]["continue"] = encode_continue(-1, lo.start.substr(prefix.size()));
      return e;
    }
    lo.revision = res->revision;  // later pages of this request: the same snapshot
    for (auto& kv : res->items) {
      last_key = kv.key;
      json o = decode_stored(kv);
      if (s.matches(o)) objs.push_back(std::move(o));
    }
    more = res->more;
    remaining = res->remaining;
    page.revision = res->revision;
    // With selectors a page may match fewer than `limit` objects: read on, as etcd's lister does.
    if (!more || limit == 0 || static_cast<long long>(objs.size()) >= limit) break;
    lo.start = last_key + std::string(1, '\0');
    lo.limit = limit - static_cast<long long>(objs.size());
  }
  std::string cont;
  if (more) cont = encode_continue(page.revision, last_key.substr(prefix.size()) + std::string(1, '\0'));
  Reply r;
  if (wants_table(req)) {
    r = table_reply(t, objs, std::to_string(page.revision), req);
  } else {
    json items = json::array();
    for (auto& o : objs) items.push_back(std::move(o));
    r = ok(list_of(t, std::move(items), page.revision));
  }
  if (!cont.empty()) {
    r.body["metadata"]["continue"] = cont;
    // Only exact without selectors (Kubernetes omits it then too).
    if (!filtered) r.body["metadata"]["remainingItemCount"] = remaining;
  }
  return r;
}

void ApiServer::Impl::watch(const RequestInfo& ri, const http::Request& req, http::Responder& resp) {
  const auto& t = *ri.type;
  auto sel = parse_selectors(req);
  auto send_error = [&](const ApiError& e) {
    http::Response r;
    r.status = e.code;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = to_text(e.status);
    resp.send(std::move(r));
  };
  if (auto* e = std::get_if<ApiError>(&sel)) return send_error(*e);
  auto& s = std::get<Selectors>(sel);
  bool table = wants_table(req);
  bool bookmarks = param(req, "allowWatchBookmarks").value_or("") == "true";
  long long timeout = 1800;
  auto timeout_param = int_param(req, "timeoutSeconds");
  if (auto* e = std::get_if<ApiError>(&timeout_param)) return send_error(*e);
  if (auto ts = std::get<std::optional<long long>>(timeout_param); ts && *ts > 0) timeout = *ts;
  std::string rv = param(req, "resourceVersion").value_or("");
  long long from = 0;
  if (!rv.empty() && !strings::parse_int(rv, from)) {
    return send_error(bad_request("invalid resource version: " + rv));
  }

  std::string prefix = storage_prefix(t, ri.namespace_);
  std::vector<store::Event> initial;
  if (rv.empty() || rv == "0") {
    // Start from "now": synthetic ADDED events for the current state.
    auto l = store->list(prefix);
    if (!l) return send_error(internal_error(l.error().message));
    for (auto& kv : l->items) {
      store::Event e;
      e.kv = kv;
      e.created = true;
      initial.push_back(std::move(e));
    }
    from = l->revision;
  }
  auto w = store->watch(prefix, from);

  http::Stream& out = resp.stream(200, {{"Content-Type", table ? "application/json;as=Table;v=v1;g=meta.k8s.io"
                                                               : "application/json"}});
  // The in-process client's stream takes the decoded object itself (no dump here, no parse there).
  auto* sink = dynamic_cast<WatchObjectSink*>(&out);
  auto emit_object = [&](const std::string& type, std::shared_ptr<const json> obj) {
    if (table && type != "ERROR" && type != "BOOKMARK") {
      obj = std::make_shared<const json>(printers::to_table(t.group, t.kind, {*obj}, std::chrono::system_clock::now(),
                                                            jvalue((*obj)["metadata"], "resourceVersion", "")));
    }
    if (sink) return sink->write_event(type, std::move(obj));
    return out.write(to_text(json{{"type", type}, {"object", *obj}}) + "\n");
  };
  auto emit = [&](const std::string& type, json obj) {
    return emit_object(type, std::make_shared<const json>(std::move(obj)));
  };
  // An event of a stored object: decoded once for every watcher (DecodedObjects); a text client
  // without a Table gets the stored text with resourceVersion spliced in, as a GET does.
  auto decoded = [&](const store::KeyValue& kv, bool live) { return decoded_objects.get(kv, decode_stored, live); };
  auto emit_stored = [&](const std::string& type, const store::KeyValue& kv, std::shared_ptr<const json> obj) {
    if (!sink && !table) {
      if (auto text = stored_text_with_rv(kv); text && text->find('\n') == std::string::npos) {
        std::string line;
        line.reserve(text->size() + type.size() + 24);
        line.append("{\"type\":\"").append(type).append("\",\"object\":").append(*text).append("}\n");
        return out.write(line);
      }
    }
    return emit_object(type, obj ? std::move(obj) : decoded(kv, type != "DELETED"));
  };
  if (!w) {
    if (w.error().kind == "Expired") {
      emit("ERROR", status_object(410, "Expired",
                                  "too old resource version: " + rv + " (" +
                                      std::to_string(store->compacted_revision()) + ")"));
    } else {
      emit("ERROR", internal_error(w.error().message).status);
    }
    return;
  }
  // With selectors, an object that stops matching is DELETED for this watcher and one that starts
  // matching is ADDED, as Kubernetes' watch filtering does. `visible` = keys the client has.
  bool filtered = !s.labels.empty() || !s.fields.empty();
  std::set<std::string> visible;
  if (filtered && !initial.empty()) {
    // rv=0: the client will learn exactly the initial objects below.
  } else if (filtered) {
    if (auto cur = store->list(prefix)) {
      for (auto& kv : cur->items) {
        // Unchanged since `from`: its match now is its match then. Changed since but older than
        // `from`: unknown, so assume the client has it (a spare DELETED is harmless to informers).
        if (kv.create_revision > from) continue;
        if (kv.mod_revision > from || s.matches(decode_stored(kv))) visible.insert(kv.key);
      }
    }
  }
  auto deliver = [&](const store::Event& e) {
    if (!filtered) {
      std::string type = e.type == store::EventType::kDelete ? "DELETED" : (e.created ? "ADDED" : "MODIFIED");
      return emit_stored(type, e.kv, nullptr);
    }
    auto obj = decoded(e.kv, e.type != store::EventType::kDelete);
    bool match = s.matches(*obj);
    bool had = visible.count(e.kv.key) > 0;
    if (e.type == store::EventType::kDelete) {
      visible.erase(e.kv.key);
      return (had || match) ? emit_stored("DELETED", e.kv, std::move(obj)) : true;
    }
    if (match) {
      visible.insert(e.kv.key);
      return emit_stored(had ? "MODIFIED" : "ADDED", e.kv, std::move(obj));
    }
    if (had) {
      visible.erase(e.kv.key);
      return emit_stored("DELETED", e.kv, std::move(obj));
    }
    return true;
  };
  for (auto& e : initial) {
    if (!deliver(e)) return;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  auto last_send = std::chrono::steady_clock::now();
  int64_t last_rev = from;
  while (!stopping.load()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline || out.closed() || (*w)->closed()) break;
    auto wait = std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::seconds(1));
    auto e = (*w)->next(std::chrono::duration_cast<std::chrono::milliseconds>(wait));
    if (e) {
      last_rev = e->kv.mod_revision;
      if (!deliver(*e)) return;
      last_send = std::chrono::steady_clock::now();
    } else if (bookmarks && std::chrono::steady_clock::now() - last_send > std::chrono::seconds(30)) {
      last_rev = std::max<int64_t>(last_rev, store->current_revision());
      json bm = {{"kind", t.kind}, {"apiVersion", t.api_version()},
                 {"metadata", {{"resourceVersion", std::to_string(last_rev)}}}};
      if (!emit("BOOKMARK", std::move(bm))) return;
      last_send = std::chrono::steady_clock::now();
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Create

// Admission for storage objects: StorageObjectInUseProtection (pvc-/pv-protection finalizers) and
// DefaultStorageClass (a PVC without storageClassName gets the default class).
void ApiServer::Impl::admit_storage(const schema::ResourceType& t, json& obj) {
  if (!t.group.empty()) return;
  auto add_finalizer = [&](const char* f) {
    json& fs = obj["metadata"]["finalizers"];
    if (!fs.is_array()) fs = json::array();
    for (auto& x : fs) {
      if (x == f) return;
    }
    fs.push_back(f);
  };
  if (t.plural == "persistentvolumes") add_finalizer("kubernetes.io/pv-protection");
  if (t.plural != "persistentvolumeclaims") return;
  add_finalizer("kubernetes.io/pvc-protection");
  if (obj.contains("spec") && obj["spec"].contains("storageClassName")) return;
  const auto* sct = schema::find_by_plural("storage.k8s.io", "v1", "storageclasses");
  if (!sct) return;
  auto l = store->list(storage_prefix(*sct, ""));
  if (!l) return;
  for (auto& kv : l->items) {
    json sc = json::parse(kv.value, nullptr, false);
    if (sc.is_discarded() || !sc.contains("metadata")) continue;
    json ann = jvalue(sc["metadata"], "annotations", json::object());
    if (jvalue(ann, "storageclass.kubernetes.io/is-default-class", "") == "true") {
      obj["spec"]["storageClassName"] = jvalue(sc["metadata"], "name", "");
      return;
    }
  }
}

// DefaultIngressClass admission: an Ingress created without spec.ingressClassName (and without
// the deprecated kubernetes.io/ingress.class annotation) gets the default IngressClass; with
// several marked default, the newest (Kubernetes 1.32 does the same).
void ApiServer::Impl::admit_ingress_class(const schema::ResourceType& t, json& obj) {
  if (t.group != "networking.k8s.io" || t.plural != "ingresses") return;
  if (obj.contains("spec") && !obj["spec"].is_object() && !obj["spec"].is_null()) return;
  if (obj.contains("spec") && obj["spec"].is_object() && obj["spec"].contains("ingressClassName") &&
      !obj["spec"]["ingressClassName"].is_null())
    return;
  const json ann = obj.contains("metadata") ? obj["metadata"].value("annotations", json::object()) : json::object();
  if (ann.is_object() && ann.contains("kubernetes.io/ingress.class")) return;
  const auto* ict = schema::find_by_plural("networking.k8s.io", "v1", "ingressclasses");
  if (!ict) return;
  auto l = store->list(storage_prefix(*ict, ""));
  if (!l) return;
  std::string best, best_created;
  for (auto& kv : l->items) {
    json ic = json::parse(kv.value, nullptr, false);
    if (ic.is_discarded() || !ic.contains("metadata") || !ic["metadata"].is_object()) continue;
    const json a = ic["metadata"].value("annotations", json::object());
    if (!a.is_object() || a.value("ingressclass.kubernetes.io/is-default-class", "") != "true") continue;
    const std::string created = ic["metadata"].value("creationTimestamp", "");
    if (best.empty() || created > best_created) {
      best = ic["metadata"].value("name", "");
      best_created = created;
    }
  }
  if (!best.empty()) obj["spec"]["ingressClassName"] = best;
}

Outcome ApiServer::Impl::create(const RequestInfo& ri, const http::Request& req) {
  const auto& t = *ri.type;
  if (!ri.subresource.empty()) {
    if (t.plural == "pods" && ri.subresource == "binding") {
      json body = json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object()) return bad_request("invalid Binding body");
      std::string node = body.contains("target") ? jvalue(body["target"], "name", "") : "";
      if (node.empty()) return bad_request("Binding target name is required");
      const std::string key = storage_key(t, ri.namespace_, ri.name);
      for (int attempt = 0; attempt < 5; ++attempt) {
        int64_t rev = 0;
        Result<json> cur = json();
        // First from the pod as the watchers last saw it (no store read, no parse), when that one
        // can be bound: its revision is the write's precondition, so a newer pod is a Conflict and
        // the next attempt reads the store. Anything else (no such pod, assigned, deleting) is
        // decided on the store's object.
        auto known = attempt == 0 && !t_dry_run ? decoded_objects.latest(key) : DecodedObjects::Latest{};
        if (known.object && known.object->is_object() && known.object->contains("spec") &&
            jvalue((*known.object)["spec"], "nodeName", "").empty() &&
            !(known.object->contains("metadata") && (*known.object)["metadata"].contains("deletionTimestamp"))) {
          cur = *known.object;
          rev = known.revision;
        } else {
          cur = read(t, ri.namespace_, ri.name, &rev);
        }
        if (!cur) return from_store_error(cur.error(), group_resource(t), ri.name);
        if (cur->contains("metadata") && (*cur)["metadata"].contains("deletionTimestamp")) {
          return conflict(group_resource(t), ri.name, "pod is being deleted, cannot be assigned to a host");
        }
        std::string have = jvalue((*cur)["spec"], "nodeName", "");
        if (!have.empty()) {
          return conflict(group_resource(t), ri.name, "pod " + ri.name + " is already assigned to node \"" + have + "\"");
        }
        json next = std::move(*cur);
        next["spec"]["nodeName"] = node;
        json cond = {{"type", "PodScheduled"}, {"status", "True"}, {"lastProbeTime", nullptr},
                     {"lastTransitionTime", now_rfc3339()}};
        json conds = json::array();
        for (auto& c : jvalue(next["status"], "conditions", json::array())) {
          if (jvalue(c, "type", "") != "PodScheduled") conds.push_back(c);
        }
        conds.push_back(cond);
        next["status"]["conditions"] = conds;
        auto u = put(key, encode_stored(next), rev);
        if (!u && u.error().kind == "Conflict") continue;
        if (!u) return from_store_error(u.error(), group_resource(t), ri.name);
        return ok({{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
                   {"status", "Success"}, {"code", 201}},
                  201);
      }
      return conflict_modified(group_resource(t), ri.name);
    }
    if (t.plural == "pods" && ri.subresource == "eviction") {
      // Eviction without PodDisruptionBudgets: a normal delete with the eviction's DeleteOptions.
      json body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
      json options = body.is_object() ? jvalue(body, "deleteOptions", json::object()) : json::object();
      auto o = delete_object(t, ri.namespace_, ri.name, options);
      if (auto* e = std::get_if<ApiError>(&o)) return *e;
      return ok({{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
                 {"status", "Success"}, {"code", 201}},
                201);
    }
    return method_not_allowed();
  }
  std::vector<std::string> warnings;
  auto body = decode_body(t, req, warnings, true);
  if (auto* e = std::get_if<ApiError>(&body)) return *e;
  json obj = std::move(std::get<json>(body));
  if (t.namespaced) {
    std::string body_ns = obj.contains("metadata") ? jvalue(obj["metadata"], "namespace", "") : "";
    if (!body_ns.empty() && body_ns != ri.namespace_) {
      return bad_request("the namespace of the provided object does not match the namespace sent on the request");
    }
  }
  return with_warnings(create_object(t, ri.namespace_, std::move(obj), warnings), warnings);
}

Outcome ApiServer::Impl::create_object(const schema::ResourceType& t, const std::string& ns, json obj,
                                       std::vector<std::string> warnings) {
  (void)warnings;
  auto gr = group_resource(t);
  std::string kind = jvalue(obj, "kind", "");
  std::string api_version = jvalue(obj, "apiVersion", "");
  if ((!kind.empty() && kind != t.kind) || (!api_version.empty() && api_version != t.api_version())) {
    return bad_request("the API version in the data (" + api_version + ") does not match the expected API version (" +
                       t.api_version() + ")");
  }
  obj["kind"] = t.kind;
  obj["apiVersion"] = t.api_version();
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  json& meta = obj["metadata"];
  if (t.namespaced) meta["namespace"] = ns;
  else meta.erase("namespace");
  std::string name = jvalue(meta, "name", "");
  bool generated = false;
  if (name.empty()) {
    std::string gen = jvalue(meta, "generateName", "");
    if (gen.empty()) {
      return invalid(gr, t.kind, "",
                     json::array({{{"reason", "FieldValueRequired"},
                                   {"message", "Required value: name or generateName is required"},
                                   {"field", "metadata.name"}}}));
    }
    name = gen + random_suffix(5);
    meta["name"] = name;
    generated = true;
  }
  // Namespace lifecycle admission.
  if (t.namespaced) {
    const auto* nst = schema::find_by_plural("", "v1", "namespaces");
    auto nso = read(*nst, "", ns);
    if (!nso) return not_found({"", "namespaces"}, ns);
    if (is_terminating(*nso)) {
      ApiError e = forbidden(gr, name,
                             "unable to create new content in namespace " + ns + " because it is being terminated");
      e.status["details"]["causes"] = json::array({{{"reason", "NamespaceTerminating"},
                                                    {"message", "namespace " + ns + " is being terminated"},
                                                    {"field", "metadata.namespace"}}});
      return e;
    }
  }
  meta.erase("resourceVersion");
  meta.erase("deletionTimestamp");
  meta.erase("deletionGracePeriodSeconds");
  json applied_fields = t_applying && meta.contains("managedFields") ? meta["managedFields"] : json();
  meta.erase("managedFields");
  meta["uid"] = new_uid();
  meta["creationTimestamp"] = now_rfc3339();
  if (tracks_generation(t)) meta["generation"] = 1;
  else meta.erase("generation");

  // Kind-specific preparation.
  if (t.plural == "namespaces" && t.group.empty()) {
    meta["labels"]["kubernetes.io/metadata.name"] = name;
    obj["spec"]["finalizers"] = json::array({"kubernetes"});
    obj["status"] = {{"phase", "Active"}};
  } else if (has_status_subresource(t) && !(t.plural == "nodes" && t.group.empty())) {
    // Nodes keep the status they are created with: a kubelet registers its node with capacity
    // and conditions in one create, as Kubernetes' node strategy allows.
    obj.erase("status");
  }
  admit_storage(t, obj);
  admit_ingress_class(t, obj);
  schema::apply_defaults(t, obj);
  schema::prepare_create(t, obj);
  if (t.plural == "pods" && t.group.empty()) {
    obj["status"] = {{"phase", "Pending"}, {"qosClass", pod_qos(obj)}};
  }
  auto causes = schema::validate_create(t, obj);
  if (!causes.empty()) return invalid(gr, t.kind, name, causes_json(causes));
  if (!applied_fields.is_null()) {
    obj["metadata"]["managedFields"] = std::move(applied_fields);
  } else if (!current_field_manager().empty()) {
    am::track_update(json(), obj, field_context(t, ""));
  }

  std::unique_lock<std::mutex> alloc_lock(alloc_mu, std::defer_lock);
  if (t.plural == "services" && t.group.empty()) {
    alloc_lock.lock();
    if (auto e = allocate_service(t, obj, nullptr)) return *e;
  }
  auto kv = put_new(storage_key(t, ns, name), encode_stored(obj));
  // A generated name that is taken: try other suffixes, as Kubernetes 1.32 does (RetryGenerateName).
  for (int retry = 0; generated && !kv && kv.error().kind == "AlreadyExists" && retry < 7; ++retry) {
    name = jvalue(obj["metadata"], "generateName", "") + random_suffix(5);
    obj["metadata"]["name"] = name;
    kv = put_new(storage_key(t, ns, name), encode_stored(obj));
  }
  if (!kv) return from_store_error(kv.error(), gr, name);
  if (alloc_lock.owns_lock()) alloc_lock.unlock();

  if (t.plural == "namespaces" && t.group.empty() && !t_dry_run) {
    // Every namespace gets its `default` ServiceAccount (the serviceaccount controller's job).
    if (const auto* sat = schema::find_by_plural("", "v1", "serviceaccounts")) {
      json sa = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "default"}}}};
      (void)create_object(*sat, name, sa);
    }
    // And the kube-root-ca.crt ConfigMap (the root-ca-cert-publisher's job) when the CA exists.
    if (const auto* cmt = schema::find_by_plural("", "v1", "configmaps")) {
      auto ca = files::read(opts.data_dir + "/server/tls/ca.crt");
      if (ca && !opts.data_dir.empty()) {
        json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
                   {"metadata", {{"name", "kube-root-ca.crt"},
                                 {"annotations", {{"kubernetes.io/description",
                                                   "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}}}}},
                   {"data", {{"ca.crt", *ca}}}};
        (void)create_object(*cmt, name, cm);
      }
    }
  }
  return raw_reply(*kv, 201);
}

// ------------------------------------------------------------------------------------------------
// Update / patch

Outcome ApiServer::Impl::update_object(const schema::ResourceType& t, const std::string& ns,
                                       const std::string& name, const std::string& subresource, json obj,
                                       const json& old, int64_t revision, std::vector<std::string> warnings) {
  auto gr = group_resource(t);
  if (!obj.is_object()) return bad_request("the body must be an object");
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  std::string body_name = jvalue(obj["metadata"], "name", "");
  if (!body_name.empty() && body_name != name) {
    return bad_request("the name of the object (" + body_name + ") does not match the name on the URL (" + name + ")");
  }
  std::string rv = jvalue(obj["metadata"], "resourceVersion", "");
  if (!rv.empty() && rv != std::to_string(revision)) return conflict_modified(gr, name);
  json applied_fields = t_applying ? jvalue(obj["metadata"], "managedFields", json()) : json();

  json next;
  if (subresource == "finalize" && t.plural == "namespaces") {
    next = old;
    if (obj.contains("spec")) next["spec"] = obj["spec"];
    else next.erase("spec");
  } else if (subresource == "status") {
    next = old;
    if (obj.contains("status")) next["status"] = obj["status"];
    else next.erase("status");
  } else {
    next = std::move(obj);
    json& m = next["metadata"];
    const json& om = old["metadata"];
    for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"}) {
      if (om.contains(f)) m[f] = om[f];
      else m.erase(f);
    }
    m["name"] = name;
    if (t.namespaced) m["namespace"] = ns;
    next["kind"] = t.kind;
    next["apiVersion"] = t.api_version();
    if (has_status_subresource(t) || (t.plural == "namespaces" && t.group.empty())) {
      if (old.contains("status")) next["status"] = old["status"];
      else next.erase("status");
    }
    if (t.plural == "namespaces" && t.group.empty()) {
      next["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
      if (old.contains("spec")) next["spec"] = old["spec"];  // spec.finalizers: finalize subresource only
    }
    schema::apply_defaults(t, next);
    if (tracks_generation(t) && jvalue(next, "spec", json()) != jvalue(old, "spec", json())) {
      next["metadata"]["generation"] = jvalue(old["metadata"], "generation", 0) + 1;
    }
  }
  // An emptied finalizers list is no list (Go's omitempty), e.g. after a strategic merge patch
  // removed the last one.
  if (next["metadata"].contains("finalizers") && next["metadata"]["finalizers"].is_array() &&
      next["metadata"]["finalizers"].empty()) {
    next["metadata"].erase("finalizers");
  }
  auto causes = schema::validate_update(t, next, old);
  if (!causes.empty()) return invalid(gr, t.kind, name, causes_json(causes));
  if (!applied_fields.is_null()) {
    next["metadata"]["managedFields"] = std::move(applied_fields);
  } else if (!current_field_manager().empty()) {
    am::track_update(old, next, field_context(t, subresource));
  }

  std::unique_lock<std::mutex> alloc_lock(alloc_mu, std::defer_lock);
  if (t.plural == "services" && t.group.empty() && subresource.empty()) {
    alloc_lock.lock();
    if (auto e = allocate_service(t, next, &old)) return *e;
  }
  std::string key = storage_key(t, ns, name);
  // Finalizers all gone on an object being deleted: the delete completes now, unless a graceful
  // deletion is still running (a pod whose kubelet has not confirmed with grace period 0 yet).
  if (next["metadata"].contains("deletionTimestamp") &&
      jvalue(next["metadata"], "finalizers", json::array()).empty() &&
      jvalue(next["metadata"], "deletionGracePeriodSeconds", 0LL) == 0 &&
      !(t.plural == "namespaces" && !jvalue(next["spec"], "finalizers", json::array()).empty())) {
    // As Kubernetes does: the update is stored (watchers see MODIFIED without the finalizers),
    // then the object is deleted (DELETED carries that last state).
    auto kv = put(key, encode_stored(next), revision);
    if (!kv) return from_store_error(kv.error(), gr, name);
    auto r = drop(key, kv->mod_revision);
    if (!r && r.error().kind == "Conflict") {
      // Written in between: still finalizer-free and deleting → delete it anyway.
      auto again = read(t, ns, name);
      if (again && (*again)["metadata"].contains("deletionTimestamp") &&
          jvalue((*again)["metadata"], "finalizers", json::array()).empty()) {
        r = drop(key, 0);
      }
    }
    if (!r && r.error().kind != "NotFound" && r.error().kind != "Conflict") return from_store_error(r.error(), gr, name);
    json gone = decode_stored(*kv);
    return ok(gone);
  }
  // Nothing changed: nothing is written (no new resourceVersion, no watch event), as in Kubernetes.
  {
    json a = next, b = old;
    if (a["metadata"].is_object()) a["metadata"].erase("resourceVersion");
    if (b.contains("metadata") && b["metadata"].is_object()) b["metadata"].erase("resourceVersion");
    if (a == b) {
      Reply r = ok(old);
      add_warnings(r, warnings);
      return r;
    }
  }
  auto kv = put(key, encode_stored(next), revision);
  if (!kv) return from_store_error(kv.error(), gr, name);
  Reply r = ok(decode_stored(*kv));
  add_warnings(r, warnings);
  return r;
}

Outcome ApiServer::Impl::update(const RequestInfo& ri, const http::Request& req) {
  const auto& t = *ri.type;
  auto gr = group_resource(t);
  if (ri.subresource == "scale") {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return bad_request("invalid Scale body");
    int64_t rev = 0;
    auto cur = read(t, ri.namespace_, ri.name, &rev);
    if (!cur) return from_store_error(cur.error(), gr, ri.name);
    std::string rv = body.contains("metadata") ? jvalue(body["metadata"], "resourceVersion", "") : "";
    if (!rv.empty() && rv != std::to_string(rev)) return conflict_modified(gr, ri.name);
    json next = *cur;
    next["spec"]["replicas"] = body.contains("spec") ? jvalue(body["spec"], "replicas", 0) : 0;
    auto o = update_object(t, ri.namespace_, ri.name, "", next, *cur, rev);
    if (auto* r = std::get_if<Reply>(&o)) r->body = to_scale(r->body);
    return o;
  }
  if (!ri.subresource.empty() && ri.subresource != "status" &&
      !(ri.subresource == "finalize" && t.plural == "namespaces")) {
    return method_not_allowed();
  }
  std::vector<std::string> warnings;
  auto body = decode_body(t, req, warnings, true);
  if (auto* e = std::get_if<ApiError>(&body)) return *e;
  int64_t rev = 0;
  auto cur = read(t, ri.namespace_, ri.name, &rev);
  if (!cur) return from_store_error(cur.error(), gr, ri.name);
  return update_object(t, ri.namespace_, ri.name, ri.subresource, std::move(std::get<json>(body)), *cur, rev,
                       warnings);
}

Outcome ApiServer::Impl::patch(const RequestInfo& ri, const http::Request& req) {
  const auto& t = *ri.type;
  auto gr = group_resource(t);
  std::string ct = media_type(header(req, "content-type"));
  if (ct == "application/apply-patch+yaml") return apply(ri, req);
  if (ct != "application/strategic-merge-patch+json" && ct != "application/merge-patch+json" &&
      ct != "application/json-patch+json") {
    return unsupported_media_type(ct, true);
  }
  if (t.custom && ct == "application/strategic-merge-patch+json") {
    // Custom resources have no patch strategies, as in Kubernetes.
    return ApiError{415, status_object(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json, "
                               "application/apply-patch+yaml")};
  }
  if (!ri.subresource.empty() && ri.subresource != "status" && ri.subresource != "scale") {
    return method_not_allowed();
  }
  if (auto deep = am::json_text_depth_error(req.body)) return bad_request(*deep);
  json p = json::parse(req.body, nullptr, false);
  if (p.is_discarded()) return bad_request("error decoding patch: invalid JSON");
  std::string mode = param(req, "fieldValidation").value_or("Warn");
  for (int attempt = 0; attempt < 8; ++attempt) {
    int64_t rev = 0;
    auto cur = read(t, ri.namespace_, ri.name, &rev);
    if (!cur) return from_store_error(cur.error(), gr, ri.name);
    json base = ri.subresource == "scale" ? to_scale(*cur) : *cur;
    Result<json> patched = fail("unreachable");
    if (ct == "application/merge-patch+json") patched = am::json_merge_patch(base, p);
    else if (ct == "application/json-patch+json") patched = am::json_patch(base, p);
    else patched = am::strategic_merge_patch(base, p, ri.subresource == "scale" ? "Scale" : t.kind);
    if (!patched) {
      if (patched.error().kind == "Invalid") {
        return ApiError{422, status_object(422, "Invalid", patched.error().message)};
      }
      return bad_request(patched.error().message);
    }
    json next = std::move(*patched);
    std::vector<std::string> warnings;
    if (ri.subresource == "scale") {
      json obj = *cur;
      obj["spec"]["replicas"] = next.contains("spec") ? jvalue(next["spec"], "replicas", 0) : 0;
      auto o = update_object(t, ri.namespace_, ri.name, "", obj, *cur, rev);
      if (auto* e = std::get_if<ApiError>(&o); e && e->code == 409 && !p.contains("metadata")) continue;
      if (auto* r = std::get_if<Reply>(&o)) r->body = to_scale(r->body);
      return o;
    }
    if (auto te = schema::decode_type_error(t, next)) {
      // Kubernetes: 422 Invalid on the field "patch", the value being the patch (strategic) or
      // the patched object (merge, json), the detail the decoder's error.
      std::string err = te->substr(std::min(te->size(), te->find("json: ")));
      std::string value;
      if (ct == "application/strategic-merge-patch+json") go_sprint(p, value);
      else value = to_text(next);
      return invalid_patch(value, err);
    }
    auto unknown = schema::unknown_fields(t, next);
    if (!unknown.empty()) {
      if (mode == "Strict") return bad_request(schema::strict_decoding_message(t, unknown));
      if (mode == "Warn") warnings = schema::strict_decoding_warnings(unknown);
    }
    schema::drop_unknown_fields(t, next);
    // A resourceVersion in the patch is a precondition; otherwise retry on a racing write.
    bool precondition = next.contains("metadata") && jvalue(next["metadata"], "resourceVersion", "") != std::to_string(rev);
    if (!precondition && next.contains("metadata")) next["metadata"]["resourceVersion"] = std::to_string(rev);
    auto o = update_object(t, ri.namespace_, ri.name, ri.subresource, std::move(next), *cur, rev, warnings);
    if (auto* e = std::get_if<ApiError>(&o); e && e->code == 409 && !precondition &&
                                             jvalue(e->status, "reason", "") == "Conflict") {
      continue;
    }
    return o;
  }
  return conflict_modified(gr, ri.name);
}

// ------------------------------------------------------------------------------------------------
// Delete

Outcome ApiServer::Impl::delete_object(const schema::ResourceType& t, const std::string& ns,
                                       const std::string& name, const json& options) {
  auto gr = group_resource(t);
  for (int attempt = 0; attempt < 8; ++attempt) {
    int64_t rev = 0;
    auto cur = read(t, ns, name, &rev);
    if (!cur) return from_store_error(cur.error(), gr, name);
    json& meta = (*cur)["metadata"];
    if (options.contains("preconditions") && options["preconditions"].is_object()) {
      const json& pre = options["preconditions"];
      if (pre.contains("uid") && pre["uid"].is_string() && pre["uid"] != jvalue(meta, "uid", "")) {
        return conflict(gr, name, "Precondition failed: UID in precondition: " + pre["uid"].get<std::string>() +
                                      ", UID in object meta: " + jvalue(meta, "uid", ""));
      }
      if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string() &&
          pre["resourceVersion"] != jvalue(meta, "resourceVersion", "")) {
        return conflict(gr, name, "Precondition failed: ResourceVersion in precondition: " +
                                      pre["resourceVersion"].get<std::string>() +
                                      ", ResourceVersion in meta: " + jvalue(meta, "resourceVersion", ""));
      }
    }
    bool is_ns = t.plural == "namespaces" && t.group.empty();
    if (is_ns && (name == "default" || name == "kube-system" || name == "kube-public")) {
      return forbidden(gr, name, "this namespace may not be deleted");
    }
    // propagationPolicy (or the deprecated orphanDependents): Orphan and Foreground hand the
    // object to the garbage collector through a finalizer; Background deletes it now.
    std::string policy;
    if (options.contains("propagationPolicy") && options["propagationPolicy"].is_string()) {
      policy = options["propagationPolicy"].get<std::string>();
      if (policy != "Orphan" && policy != "Foreground" && policy != "Background") {
        return invalid(gr, t.kind, name,
                       json::array({{{"reason", "FieldValueNotSupported"},
                                     {"message", "Unsupported value: \"" + policy +
                                                     "\": supported values: \"Foreground\", \"Background\", \"Orphan\""},
                                     {"field", "propagationPolicy"}}}));
      }
    } else if (options.contains("orphanDependents") && options["orphanDependents"].is_boolean()) {
      policy = options["orphanDependents"].get<bool>() ? "Orphan" : "Background";
    }
    std::string gc_finalizer;
    if (!is_ns) {
      if (policy == "Orphan") gc_finalizer = "orphan";
      if (policy == "Foreground") gc_finalizer = "foregroundDeletion";
    }
    bool has_gc_finalizer = false;
    for (const auto& f : jvalue(meta, "finalizers", json::array())) {
      if (f == gc_finalizer) has_gc_finalizer = true;
    }
    bool finalizers = !jvalue(meta, "finalizers", json::array()).empty() || !gc_finalizer.empty();
    bool pod_graceful = false;
    long long grace = -1;
    if (options.contains("gracePeriodSeconds") && options["gracePeriodSeconds"].is_number_integer()) {
      grace = options["gracePeriodSeconds"].get<long long>();
    }
    if (t.plural == "pods" && t.group.empty()) {
      // Graceful deletion only matters for a pod a kubelet runs: bound and not finished.
      std::string phase = jvalue((*cur)["status"], "phase", "");
      if (grace < 0) grace = jvalue((*cur)["spec"], "terminationGracePeriodSeconds", 30LL);
      std::string node = jvalue((*cur)["spec"], "nodeName", "");
      pod_graceful = grace > 0 && !node.empty() && phase != "Succeeded" && phase != "Failed";
      if (pod_graceful) {
        // No Node object: no kubelet will ever finish the deletion (the pod GC would delete it).
        const auto* nodet = schema::find_by_plural("", "v1", "nodes");
        if (nodet && !read(*nodet, "", node)) pod_graceful = false;
      }
    }
    if (is_ns || finalizers || pod_graceful) {
      json next = *cur;
      bool add_gc_finalizer = !gc_finalizer.empty() && !has_gc_finalizer;
      if (add_gc_finalizer) {
        // One propagation finalizer at a time: a later delete may switch Orphan ↔ Foreground.
        json fs = json::array();
        for (const auto& f : jvalue(meta, "finalizers", json::array())) {
          if (f != "orphan" && f != "foregroundDeletion") fs.push_back(f);
        }
        fs.push_back(gc_finalizer);
        next["metadata"]["finalizers"] = fs;
      }
      if (!meta.contains("deletionTimestamp")) {
        std::string ts = now_rfc3339();
        if (pod_graceful) {
          auto when = std::chrono::system_clock::now() + std::chrono::seconds(grace);
          std::time_t tt = std::chrono::system_clock::to_time_t(when);
          std::tm tm{};
          gmtime_r(&tt, &tm);
          char buf[32];
          std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
          ts = buf;
        }
        next["metadata"]["deletionTimestamp"] = ts;
        next["metadata"]["deletionGracePeriodSeconds"] = pod_graceful ? grace : 0;
        if (is_ns) next["status"]["phase"] = "Terminating";
      } else if (t.plural == "pods" && t.group.empty() && grace >= 0 &&
                 grace < jvalue(next["metadata"], "deletionGracePeriodSeconds", 0LL)) {
        // A shorter grace period (the kubelet's final grace-0 delete while finalizers remain).
        next["metadata"]["deletionGracePeriodSeconds"] = grace;
      } else if (!add_gc_finalizer) {
        return ok(*cur);  // already being deleted
      }
      auto kv = put(storage_key(t, ns, name), encode_stored(next), rev);
      if (!kv && kv.error().kind == "Conflict") continue;
      if (!kv) return from_store_error(kv.error(), gr, name);
      if (is_ns) {
        std::lock_guard<std::mutex> l(bg_mu);
        bg_cv.notify_all();
      }
      return ok(decode_stored(*kv));
    }
    auto r = drop(storage_key(t, ns, name), rev);
    if (!r && r.error().kind == "Conflict") continue;
    if (!r) return from_store_error(r.error(), gr, name);
    if (t.group.empty() && (t.plural == "pods" || t.plural == "services")) {
      json gone = *cur;
      return ok(gone);
    }
    return ok(status_success(gr, name, jvalue(meta, "uid", "")));
  }
  return conflict_modified(gr, name);
}

Outcome ApiServer::Impl::remove(const RequestInfo& ri, const http::Request& req) {
  if (!ri.subresource.empty()) return method_not_allowed();
  json options = json::object();
  if (!req.body.empty()) {
    options = json::parse(req.body, nullptr, false);
    if (options.is_discarded() || !options.is_object()) return bad_request("invalid DeleteOptions body");
  }
  auto grace_param = int_param(req, "gracePeriodSeconds");
  if (auto* e = std::get_if<ApiError>(&grace_param)) return *e;
  if (auto g = std::get<std::optional<long long>>(grace_param)) options["gracePeriodSeconds"] = *g;
  if (auto p = param(req, "propagationPolicy")) options["propagationPolicy"] = *p;
  if (auto u = param(req, "preconditions.uid")) options["preconditions"]["uid"] = *u;
  if (auto v = param(req, "preconditions.resourceVersion")) options["preconditions"]["resourceVersion"] = *v;
  return delete_object(*ri.type, ri.namespace_, ri.name, options);
}

Outcome ApiServer::Impl::remove_collection(const RequestInfo& ri, const http::Request& req) {
  const auto& t = *ri.type;
  auto sel = parse_selectors(req);
  if (auto* e = std::get_if<ApiError>(&sel)) return *e;
  auto& s = std::get<Selectors>(sel);
  auto res = store->list(storage_prefix(t, ri.namespace_));
  if (!res) return internal_error(res.error().message);
  json options = json::object();
  if (!req.body.empty()) {
    options = json::parse(req.body, nullptr, false);
    if (options.is_discarded() || !options.is_object()) options = json::object();
  }
  if (auto p = param(req, "propagationPolicy")) options["propagationPolicy"] = *p;
  auto grace_param = int_param(req, "gracePeriodSeconds");
  if (auto* e = std::get_if<ApiError>(&grace_param)) return *e;
  if (auto g = std::get<std::optional<long long>>(grace_param)) options["gracePeriodSeconds"] = *g;
  json items = json::array();
  for (auto& kv : res->items) {
    json o = decode_stored(kv);
    if (!s.matches(o)) continue;
    auto r = delete_object(t, jvalue(o["metadata"], "namespace", ""), jvalue(o["metadata"], "name", ""), options);
    if (auto* rep = std::get_if<Reply>(&r); rep && jvalue(rep->body, "kind", "") == t.kind) items.push_back(rep->body);
    else items.push_back(o);
  }
  return ok(list_of(t, std::move(items), store->current_revision()));
}

}  // namespace k3dpp::apiserver
