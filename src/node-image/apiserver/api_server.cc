// ApiServer: routing, discovery, /version, /openapi, health, authorization, lifecycle.
#include "apiserver/api_server.h"

#include <filesystem>

#include "apiserver/internal.h"
#include "node-image/schema/custom_types.h"
#include "common/strings.h"
#include "common/json_read.h"

namespace k3dpp::apiserver {

namespace {

void send_json(http::Responder& resp, int code, const json& body, const std::string& content_type,
               const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  http::Response r;
  r.status = code;
  r.headers.emplace_back("Content-Type", content_type);
  for (auto& h : extra) r.headers.push_back(h);
  r.body = to_text(body);
  resp.send(std::move(r));
}

void send_error(http::Responder& resp, const ApiError& e) {
  send_json(resp, e.code, e.status, "application/json");
}

std::string header(const http::Request& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

bool has_param(const http::Request& r, const std::string& name, const std::string& value) {
  auto range = r.query.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == value) return true;
  }
  return false;
}

// Parses /api/v1/... or /apis/G/V/... into RequestInfo; false when it is not a resource path.
bool parse_path(const std::string& path, const std::string& method, const http::Request& req,
                RequestInfo& ri) {
  auto parts = strings::split(path, '/');
  std::vector<std::string> p;
  for (auto& s : parts) {
    if (!s.empty()) p.push_back(s);
  }
  size_t i = 0;
  if (p.size() >= 2 && p[0] == "api") {
    ri.version = p[1];
    i = 2;
  } else if (p.size() >= 3 && p[0] == "apis") {
    ri.group = p[1];
    ri.version = p[2];
    i = 3;
  } else {
    return false;
  }
  if (i >= p.size()) return false;
  // /namespaces/NS/status and /namespaces/NS/finalize are the namespace's own subresources.
  if (p[i] == "namespaces" && i + 2 < p.size() && p[i + 2] != "status" && p[i + 2] != "finalize") {
    ri.namespace_ = p[i + 1];
    i += 2;
  }
  ri.resource = p[i++];
  if (i < p.size()) ri.name = p[i++];
  if (i < p.size()) ri.subresource = p[i++];
  if (i < p.size()) return false;
  // GET /api/v1/namespaces/NS is the namespace object itself.
  ri.type_owner = schema::find_custom(ri.group, ri.version, ri.resource);
  ri.type = ri.type_owner ? ri.type_owner.get() : schema::find_by_plural(ri.group, ri.version, ri.resource);
  bool watch = has_param(req, "watch", "true") || has_param(req, "watch", "1");
  if (method == "GET") ri.verb = ri.name.empty() ? (watch ? "watch" : "list") : "get";
  else if (method == "POST") ri.verb = "create";
  else if (method == "PUT") ri.verb = "update";
  else if (method == "PATCH") ri.verb = "patch";
  else if (method == "DELETE") ri.verb = ri.name.empty() ? "deletecollection" : "delete";
  else ri.verb = method;
  return true;
}

bool in_group(const http::User& u, const std::string& g) {
  return std::find(u.groups.begin(), u.groups.end(), g) != u.groups.end();
}

}  // namespace

// ------------------------------------------------------------------------------------------------

ApiServer::ApiServer(Options options, std::shared_ptr<store::Store> s) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(options);
  impl_->store = std::move(s);
}

ApiServer::~ApiServer() { stop(); }

std::shared_ptr<store::Store> ApiServer::store() const { return impl_->store; }

void ApiServer::set_subresource_handler(const std::string& resource_and_subresource, http::Handler handler) {
  impl_->connect_handlers[resource_and_subresource] = std::move(handler);
}

Status ApiServer::start() {
  if (!impl_->store) {
    std::string dir = impl_->opts.data_dir + "/server/db";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return fail("create " + dir + ": " + ec.message());
    auto s = store::open_sqlite({dir + "/state.db"});
    if (!s) return s.error().wrap("open store");
    impl_->store = std::shared_ptr<store::Store>(std::move(*s));
  }
  K3DPP_TRY(impl_->bootstrap());
  if (impl_->opts.background && !impl_->bg.joinable()) {
    impl_->stopping = false;
    impl_->bg = std::thread([this] { impl_->background_loop(); });
  }
  return {};
}

void ApiServer::stop() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> l(impl_->bg_mu);
    impl_->stopping = true;
    impl_->bg_cv.notify_all();
  }
  if (impl_->bg.joinable()) impl_->bg.join();
}

namespace {
// Remembers whether the handler already answered, so an exception can still get a 500 Status.
class TrackingResponder : public http::Responder {
 public:
  explicit TrackingResponder(http::Responder& inner) : inner_(inner) {}
  void send(http::Response r) override {
    answered = true;
    inner_.send(std::move(r));
  }
  http::Stream& stream(int status, const std::vector<std::pair<std::string, std::string>>& headers) override {
    answered = true;
    return inner_.stream(status, headers);
  }
  http::Conn& upgrade(const std::vector<std::pair<std::string, std::string>>& headers) override {
    answered = true;
    return inner_.upgrade(headers);
  }
  bool answered = false;

 private:
  http::Responder& inner_;
};
}  // namespace

void ApiServer::handle(const http::Request& req, http::Responder& resp) {
  TrackingResponder tracking(resp);
  try {
    handle_request(req, tracking);
  } catch (const std::exception& e) {
    // A malformed body that slipped past validation (e.g. a wrongly typed field): never crash.
    impl_->log->warn("{} {}: {}", req.method, req.path, e.what());
    if (!tracking.answered) send_error(resp, internal_error(e.what()));
  }
}

void ApiServer::handle_request(const http::Request& req, http::Responder& resp) {
  Impl& im = *impl_;
  const std::string& path = req.path;
  const std::string accept = header(req, "accept");
  im.log->debug("{} {} user={}", req.method, req.target, req.user.name);

  if (path == "/healthz" || path == "/livez" || path == "/readyz" || path.rfind("/healthz/", 0) == 0 ||
      path.rfind("/livez/", 0) == 0 || path.rfind("/readyz/", 0) == 0) {
    http::Response r;
    r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    r.body = im.store ? "ok" : "store not open";
    r.status = im.store ? 200 : 500;
    resp.send(std::move(r));
    return;
  }
  if (!req.user.authenticated) return send_error(resp, unauthorized());
  if (!im.store) return send_error(resp, internal_error("store not open"));

  if (path == "/version" || path == "/version/") {
    std::string git = std::string(K3DPP_KUBE_VERSION) + "-k3dpp";
    return send_json(resp, 200,
                     {{"major", "1"}, {"minor", "32"}, {"gitVersion", git},
                      {"gitCommit", "0000000000000000000000000000000000000000"}, {"gitTreeState", "clean"},
                      {"buildDate", "2026-01-01T00:00:00Z"}, {"goVersion", "go1.23.0"}, {"compiler", "gc"},
                      {"platform", "linux/amd64"}},
                     "application/json");
  }
  bool aggregated_v2 = accept.find("v=v2;") != std::string::npos && accept.find("apidiscovery") != std::string::npos;
  bool aggregated_v2b1 = !aggregated_v2 && accept.find("v=v2beta1") != std::string::npos &&
                         accept.find("apidiscovery") != std::string::npos;
  if (path == "/api" || path == "/api/" || path == "/apis" || path == "/apis/") {
    if (req.method != "GET") return send_error(resp, method_not_allowed());
    bool core = path.rfind("/api/", 0) == 0 || path == "/api";
    if (aggregated_v2 || aggregated_v2b1) {
      json doc = core ? schema::discovery_aggregated_core() : schema::discovery_aggregated_groups();
      if (aggregated_v2) {
        return send_json(resp, 200, doc, std::string(schema::kContentTypeDiscoveryV2), {{"Vary", "Accept"}});
      }
      return send_json(resp, 200, schema::discovery_as_v2beta1(doc),
                       std::string(schema::kContentTypeDiscoveryV2Beta1), {{"Vary", "Accept"}});
    }
    std::string addr;
    if (!im.opts.advertise_address.empty()) {
      addr = im.opts.advertise_address + ":" + std::to_string(im.opts.advertise_port);
    }
    return send_json(resp, 200, core ? schema::discovery_legacy_api(addr) : schema::discovery_legacy_groups(),
                     "application/json", {{"Vary", "Accept"}});
  }
  if (path.rfind("/openapi/", 0) == 0) {
    if (path == "/openapi/v3" || path == "/openapi/v3/") {
      return send_json(resp, 200, schema::openapi_v3_root(), "application/json");
    }
    if (path.rfind("/openapi/v3/", 0) == 0) {
      if (auto doc = schema::openapi_v3_group_version(path.substr(12))) {
        return send_json(resp, 200, *doc, "application/json");
      }
    }
    return send_error(resp, path_not_found());
  }

  RequestInfo ri;
  if (!parse_path(path, req.method, req, ri)) {
    // /api/v1 and /apis/G/V resource lists, /apis/G group documents.
    auto parts = strings::split(path, '/');
    std::vector<std::string> p;
    for (auto& s : parts) {
      if (!s.empty()) p.push_back(s);
    }
    if (req.method == "GET") {
      if (p.size() == 2 && p[0] == "api") {
        if (auto d = schema::discovery_resource_list("", p[1])) return send_json(resp, 200, *d, "application/json");
      } else if (p.size() == 3 && p[0] == "apis") {
        if (auto d = schema::discovery_resource_list(p[1], p[2])) return send_json(resp, 200, *d, "application/json");
      } else if (p.size() == 2 && p[0] == "apis") {
        if (auto d = schema::discovery_legacy_group(p[1])) return send_json(resp, 200, *d, "application/json");
      }
    }
    return send_error(resp, path_not_found());
  }
  if (!ri.type) return send_error(resp, path_not_found());
  const auto& t = *ri.type;
  if (!t.namespaced && !ri.namespace_.empty()) return send_error(resp, path_not_found());
  if (t.namespaced && ri.namespace_.empty() && ri.verb != "list" && ri.verb != "watch") {
    return send_error(resp, path_not_found());
  }
  if (!ri.subresource.empty()) {
    bool known = t.find_subresource(ri.subresource) != nullptr ||
                 (t.plural == "namespaces" && ri.subresource == "finalize");
    if (!known) return send_error(resp, path_not_found());
  }

  if (auto denied = im.authorize(req.user, ri, req)) return send_error(resp, *denied);

  if (ri.verb == "watch") return im.watch(ri, req, resp);
  if (!ri.subresource.empty() && ri.subresource != "status" && ri.subresource != "scale" &&
      ri.subresource != "binding" && ri.subresource != "eviction" && ri.subresource != "finalize") {
    auto h = im.connect_handlers.find(t.plural + "/" + ri.subresource);
    if (h == im.connect_handlers.end()) return send_error(resp, path_not_found());
    if (!im.read(t, ri.namespace_, ri.name)) return send_error(resp, not_found(group_resource(t), ri.name));
    return h->second(req, resp);
  }
  bool dry_run = false;
  for (auto it = req.query.equal_range("dryRun").first; it != req.query.equal_range("dryRun").second; ++it) {
    if (it->second == "All") dry_run = true;
    else return send_error(resp, bad_request("Invalid dry run option: " + it->second + ": must be All"));
  }
  DryRunScope dry(dry_run);
  // The field manager of this write: ?fieldManager=, else the User-Agent's product ("kubectl").
  std::string manager;
  if (auto fm = req.query.find("fieldManager"); fm != req.query.end()) manager = fm->second;
  if (manager.empty() && ri.verb != "get" && ri.verb != "list") {
    if (auto ua = req.headers.find("user-agent"); ua != req.headers.end())
      manager = ua->second.substr(0, std::min(ua->second.find('/'), size_t{128}));
    if (manager.empty()) manager = "unknown";
  }
  FieldManagerScope field_manager(std::move(manager));
  Outcome o;
  if (ri.verb == "get") o = im.get(ri, req);
  else if (ri.verb == "list") o = im.list(ri, req);
  else if (ri.verb == "create") o = im.create(ri, req);
  else if (ri.verb == "update") o = im.update(ri, req);
  else if (ri.verb == "patch") o = im.patch(ri, req);
  else if (ri.verb == "delete") o = im.remove(ri, req);
  else if (ri.verb == "deletecollection") o = im.remove_collection(ri, req);
  else o = method_not_allowed();
  // A CRD written: serve (or stop serving) its kinds before the client's next request.
  if (!dry_run && t.group == "apiextensions.k8s.io" && ri.verb != "get" && ri.verb != "list" &&
      std::holds_alternative<Reply>(o)) {
    im.sync_custom_resources();
    // CEL rules (x-kubernetes-validations) are stored but not evaluated here: say so.
    if (auto* r = std::get_if<Reply>(&o); r && ri.resource == "customresourcedefinitions" && ri.verb != "delete") {
      json crd = r->raw_body.empty() ? r->body : json::parse(r->raw_body, nullptr, false);
      const json* versions = crd.is_object() && crd.contains("spec") && crd["spec"].is_object() &&
                                     crd["spec"].contains("versions") && crd["spec"]["versions"].is_array()
                                 ? &crd["spec"]["versions"]
                                 : nullptr;
      for (size_t i = 0; versions && i < versions->size(); ++i) {
        const json& v = (*versions)[i];
        if (!v.is_object() || !v.contains("schema") || !v["schema"].is_object()) continue;
        auto it = v["schema"].find("openAPIV3Schema");
        if (it == v["schema"].end()) continue;
        for (const auto& w : schema::cel_rule_warnings(*it, "spec.versions[" + std::to_string(i) + "].schema.openAPIV3Schema")) {
          std::string escaped;
          for (char c : w) escaped += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
          r->headers.emplace_back("Warning", "299 - \"" + escaped + "\"");
        }
      }
    }
  }
  if (auto* e = std::get_if<ApiError>(&o)) return send_error(resp, *e);
  auto& r = std::get<Reply>(o);
  // A custom kind served in several versions (conversion None): objects are stored in the version
  // they were written in and answered in the version asked for, as Kubernetes' None converter does.
  if (t.custom && t.custom->served_versions.size() > 1 && r.content_type == "application/json") {
    json body = r.raw_body.empty() ? std::move(r.body) : json::parse(r.raw_body, nullptr, false);
    if (body.is_object()) {
      auto set = [&](json& obj) {
        if (obj.is_object() && jvalue(obj, "kind", "") == t.kind) obj["apiVersion"] = t.api_version();
      };
      set(body);
      if (body.contains("items") && body["items"].is_array())
        for (auto& item : body["items"]) set(item);
      r.raw_body.clear();
      r.body = std::move(body);
    }
  }
  if (!r.raw_body.empty()) {
    http::Response raw;
    raw.status = r.code;
    raw.headers.emplace_back("Content-Type", r.content_type);
    for (auto& h : r.headers) raw.headers.push_back(h);
    raw.body = std::move(r.raw_body);
    return resp.send(std::move(raw));
  }
  send_json(resp, r.code, r.body, r.content_type, r.headers);
}

// ------------------------------------------------------------------------------------------------
// Authorization: system:masters may do anything; nodes get the node authorizer's subset.

std::optional<ApiError> ApiServer::Impl::authorize(const http::User& user, const RequestInfo& ri,
                                                   const http::Request& req) {
  if (in_group(user, "system:masters")) return std::nullopt;
  const auto& t = *ri.type;
  auto gr = group_resource(t);
  bool is_read = ri.verb == "get" || ri.verb == "list" || ri.verb == "watch";
  std::string why = "User \"" + user.name + "\" cannot " + ri.verb + " resource \"" + t.plural +
                    (ri.subresource.empty() ? "" : "/" + ri.subresource) + "\" in API group \"" + t.group + "\"" +
                    (ri.namespace_.empty() ? std::string(" at the cluster scope")
                                           : " in the namespace \"" + ri.namespace_ + "\"");
  auto deny = [&] { return forbidden(gr, ri.name, why); };
  if (!in_group(user, "system:nodes") || user.name.rfind("system:node:", 0) != 0) return deny();
  std::string node = user.name.substr(12);
  if (is_read) return std::nullopt;
  // For a create the name comes from the body.
  std::string target = ri.name;
  if (ri.verb == "create" && target.empty()) {
    json b = json::parse(req.body, nullptr, false);
    if (!b.is_discarded() && b.is_object() && b.contains("metadata") && b["metadata"].is_object()) {
      target = jvalue(b["metadata"], "name", "");
    }
  }
  if (t.group.empty() && t.plural == "nodes") {
    if (target == node) return std::nullopt;
    return deny();
  }
  if (t.group == "coordination.k8s.io" && t.plural == "leases") {
    if (ri.namespace_ == "kube-node-lease" && target == node) return std::nullopt;
    return deny();
  }
  if (t.plural == "events" && (t.group.empty() || t.group == "events.k8s.io")) {
    if (ri.verb == "create" || ri.verb == "update" || ri.verb == "patch") return std::nullopt;
    return deny();
  }
  if (t.group.empty() && t.plural == "pods" && !ri.name.empty()) {
    auto pod = read(t, ri.namespace_, ri.name);
    if (!pod) return std::nullopt;  // let the handler answer NotFound
    if (jvalue((*pod)["spec"], "nodeName", "") != node) {
      return forbidden(gr, ri.name, "node \"" + node + "\" can only modify pods bound to itself");
    }
    if (ri.verb == "delete" || ri.subresource == "status") return std::nullopt;
    return deny();
  }
  return deny();
}

}  // namespace k3dpp::apiserver
