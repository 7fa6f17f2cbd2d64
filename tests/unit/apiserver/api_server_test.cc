// ApiServer::handle driven through a fake Responder (no network).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <thread>

#include "apiserver/api_server.h"
#include "apiserver/watch_sink.h"
#include "store/store.h"

using namespace k3dpp;
using json = nlohmann::json;

namespace {

class FakeStream : public http::Stream {
 public:
  explicit FakeStream(size_t max_chunks) : max_(max_chunks) {}
  bool write(std::string_view chunk) override {
    if (chunks.size() >= max_) return false;
    chunks.emplace_back(chunk);
    return chunks.size() < max_;
  }
  bool closed() override { return chunks.size() >= max_; }
  std::vector<std::string> chunks;
  size_t max_;
};

class FakeResponder : public http::Responder {
 public:
  explicit FakeResponder(size_t max_chunks = 100) : stream_(max_chunks) {}
  void send(http::Response r) override { response = std::move(r); }
  http::Stream& stream(int status, const std::vector<std::pair<std::string, std::string>>& headers) override {
    response.status = status;
    response.headers = headers;
    streamed = true;
    return stream_;
  }
  http::Conn& upgrade(const std::vector<std::pair<std::string, std::string>>&) override {
    throw std::runtime_error("no upgrade");
  }
  std::string header(const std::string& name) const {
    for (auto& h : response.headers) {
      if (h.first == name) return h.second;
    }
    return "";
  }
  json body() const { return json::parse(response.body); }
  http::Response response;
  bool streamed = false;
  FakeStream stream_;
};

// A stream that takes decoded objects, as the in-process client's does.
class FakeObjectStream : public http::Stream, public apiserver::WatchObjectSink {
 public:
  explicit FakeObjectStream(size_t max_events) : max_(max_events) {}
  bool write(std::string_view chunk) override {
    chunks.emplace_back(chunk);
    return true;
  }
  bool write_event(std::string_view type, std::shared_ptr<const json> object) override {
    if (events.size() >= max_) return false;
    events.emplace_back(std::string(type), std::move(object));
    return events.size() < max_;
  }
  bool closed() override { return events.size() >= max_; }
  std::vector<std::string> chunks;
  std::vector<std::pair<std::string, std::shared_ptr<const json>>> events;
  size_t max_;
};

class FakeObjectResponder : public http::Responder {
 public:
  explicit FakeObjectResponder(size_t max_events) : stream_(max_events) {}
  void send(http::Response r) override { response = std::move(r); }
  http::Stream& stream(int status, const std::vector<std::pair<std::string, std::string>>&) override {
    response.status = status;
    return stream_;
  }
  http::Conn& upgrade(const std::vector<std::pair<std::string, std::string>>&) override {
    throw std::runtime_error("no upgrade");
  }
  http::Response response;
  FakeObjectStream stream_;
};

http::User admin() { return {"admin", {"system:masters"}, true}; }

struct Server {
  std::unique_ptr<apiserver::ApiServer> api;
  Server() {
    auto s = store::open_sqlite({":memory:"});
    REQUIRE(s);
    apiserver::Options o;
    o.background = false;
    api = std::make_unique<apiserver::ApiServer>(o, std::shared_ptr<store::Store>(std::move(*s)));
    REQUIRE(api->start());
  }
  FakeResponder call(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::string& content_type = "application/json", const std::string& accept = "application/json",
                     http::User user = admin()) {
    http::Request r;
    r.method = method;
    r.target = target;
    auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) {
      for (auto& kv : split(target.substr(q + 1), '&')) {
        auto eq = kv.find('=');
        r.query.emplace(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
      }
    }
    if (!content_type.empty() && !body.empty()) r.headers.emplace("content-type", content_type);
    r.headers.emplace("accept", accept);
    r.body = body;
    r.user = std::move(user);
    FakeResponder resp;
    api->handle(r, resp);
    return resp;
  }
  static std::vector<std::string> split(const std::string& s, char c) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
      auto p = s.find(c, start);
      out.push_back(s.substr(start, p - start));
      if (p == std::string::npos) break;
      start = p + 1;
    }
    return out;
  }
};

const char* kPod = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},
  "spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}})";

const char* kDeploy = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
  "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
  "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx"}]}}}})";

}  // namespace

TEST_CASE("discovery, version, openapi") {
  Server s;
  auto v = s.call("GET", "/version");
  CHECK(v.response.status == 200);
  CHECK(v.body()["minor"] == "32");
  CHECK(v.body()["gitVersion"] == "v1.32.4-k3dpp");

  auto agg = s.call("GET", "/api", "", "",
                    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json");
  CHECK(agg.response.status == 200);
  CHECK(agg.header("Content-Type") == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  CHECK(agg.body()["kind"] == "APIGroupDiscoveryList");

  auto legacy = s.call("GET", "/api");
  CHECK(legacy.header("Content-Type") == "application/json");
  CHECK(legacy.body()["kind"] == "APIVersions");
  auto groups = s.call("GET", "/apis");
  CHECK(groups.body()["kind"] == "APIGroupList");
  auto v1 = s.call("GET", "/api/v1");
  CHECK(v1.body()["kind"] == "APIResourceList");
  CHECK(s.call("GET", "/apis/apps/v1").body()["groupVersion"] == "apps/v1");
  CHECK(s.call("GET", "/openapi/v3").body()["paths"].contains("apis/apps/v1"));
  CHECK(s.call("GET", "/openapi/v2").response.status == 404);
  auto nope = s.call("GET", "/apis/nosuch.io/v1/things");
  CHECK(nope.response.status == 404);
  CHECK(nope.body()["message"] == "the server could not find the requested resource");
}

TEST_CASE("default namespaces and the kubernetes service exist after start") {
  Server s;
  auto l = s.call("GET", "/api/v1/namespaces");
  REQUIRE(l.response.status == 200);
  std::vector<std::string> names;
  json list = l.body();
  for (auto& ns : list["items"]) {
    names.push_back(ns["metadata"]["name"]);
    CHECK(ns["status"]["phase"] == "Active");
    CHECK(ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == ns["metadata"]["name"]);
    CHECK(ns["spec"]["finalizers"] == json::array({"kubernetes"}));
  }
  CHECK(json(names).dump() == R"(["default","kube-node-lease","kube-public","kube-system"])");
  auto svc = s.call("GET", "/api/v1/namespaces/default/services/kubernetes");
  REQUIRE(svc.response.status == 200);
  CHECK(svc.body()["spec"]["clusterIP"] == "10.43.0.1");
  CHECK(s.call("GET", "/api/v1/namespaces/default/serviceaccounts/default").response.status == 200);
  CHECK(l.body()["metadata"]["resourceVersion"].is_string());
}

TEST_CASE("create, get, list, conflict, patch, delete a pod") {
  Server s;
  auto c = s.call("POST", "/api/v1/namespaces/default/pods?fieldManager=kubectl-create&fieldValidation=Strict", kPod);
  REQUIRE(c.response.status == 201);
  json pod = c.body();
  CHECK(pod["metadata"]["namespace"] == "default");
  CHECK(pod["metadata"]["uid"].get<std::string>().size() == 36);
  CHECK(pod["metadata"].contains("creationTimestamp"));
  CHECK(pod["status"]["phase"] == "Pending");
  std::string rv = pod["metadata"]["resourceVersion"];

  auto dup = s.call("POST", "/api/v1/namespaces/default/pods", kPod);
  CHECK(dup.response.status == 409);
  CHECK(dup.body()["reason"] == "AlreadyExists");
  CHECK(dup.body()["message"] == "pods \"web\" already exists");

  auto missing = s.call("GET", "/api/v1/namespaces/default/pods/nosuch");
  CHECK(missing.response.status == 404);
  CHECK(missing.body()["message"] == "pods \"nosuch\" not found");
  CHECK(missing.body()["details"] == json({{"name", "nosuch"}, {"kind", "pods"}}));
  auto missing_dep = s.call("GET", "/apis/apps/v1/namespaces/default/deployments/x");
  CHECK(missing_dep.body()["message"] == "deployments.apps \"x\" not found");
  CHECK(missing_dep.body()["details"]["group"] == "apps");

  auto nons = s.call("POST", "/api/v1/namespaces/nosuch/pods", kPod);
  CHECK(nons.response.status == 404);
  CHECK(nons.body()["message"] == "namespaces \"nosuch\" not found");

  auto g = s.call("GET", "/api/v1/namespaces/default/pods/web");
  CHECK(g.body()["metadata"]["resourceVersion"] == rv);

  // Labels selector in lists.
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods?labelSelector=app=web").body()["items"].size() == 1);
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods?labelSelector=app=other").body()["items"].size() == 0);
  CHECK(s.call("GET", "/api/v1/pods?fieldSelector=metadata.name=web").body()["items"].size() == 1);

  // Update with the current RV works; the stale one conflicts with Kubernetes' message.
  json upd = g.body();
  upd["metadata"]["labels"]["tier"] = "front";
  auto u = s.call("PUT", "/api/v1/namespaces/default/pods/web", upd.dump());
  REQUIRE(u.response.status == 200);
  CHECK(u.body()["metadata"]["labels"]["tier"] == "front");
  auto stale = s.call("PUT", "/api/v1/namespaces/default/pods/web", upd.dump());
  CHECK(stale.response.status == 409);
  CHECK(stale.body()["reason"] == "Conflict");
  CHECK(stale.body()["message"] ==
        "Operation cannot be fulfilled on pods \"web\": the object has been modified; please apply your changes "
        "to the latest version and try again");

  // Merge patch (kubectl label).
  auto p = s.call("PATCH", "/api/v1/namespaces/default/pods/web", R"({"metadata":{"labels":{"env":"dev"}}})",
                  "application/merge-patch+json");
  REQUIRE(p.response.status == 200);
  CHECK(p.body()["metadata"]["labels"]["env"] == "dev");
  CHECK(p.body()["metadata"]["labels"]["app"] == "web");
  auto bad_ct = s.call("PATCH", "/api/v1/namespaces/default/pods/web", "{}", "text/plain");
  CHECK(bad_ct.response.status == 415);

  // Status subresource only touches status.
  json st = p.body();
  st["status"]["phase"] = "Running";
  st["spec"]["containers"][0]["image"] = "changed";
  auto su = s.call("PUT", "/api/v1/namespaces/default/pods/web/status", st.dump());
  REQUIRE(su.response.status == 200);
  CHECK(su.body()["status"]["phase"] == "Running");
  CHECK(su.body()["spec"]["containers"][0]["image"] == "nginx:1.25");

  // Unbound pod: deleted at once, then NotFound.
  auto d = s.call("DELETE", "/api/v1/namespaces/default/pods/web", R"({"propagationPolicy":"Background"})");
  CHECK(d.response.status == 200);
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods/web").response.status == 404);
}

TEST_CASE("Table negotiation") {
  Server s;
  REQUIRE(s.call("POST", "/api/v1/namespaces/default/pods", kPod).response.status == 201);
  auto t = s.call("GET", "/api/v1/namespaces/default/pods?limit=500", "", "",
                  "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json");
  REQUIRE(t.response.status == 200);
  CHECK(t.header("Content-Type") == "application/json;as=Table;v=v1;g=meta.k8s.io");
  json table = t.body();
  CHECK(table["kind"] == "Table");
  CHECK(table["columnDefinitions"][0]["name"] == "Name");
  REQUIRE(table["rows"].size() == 1);
  CHECK(table["rows"][0]["cells"][0] == "web");
  CHECK(table["rows"][0]["object"]["kind"] == "PartialObjectMetadata");
}

TEST_CASE("strict field validation, warnings, invalid objects") {
  Server s;
  std::string bad = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},
    "spec":{"x":1,"containers":[{"name":"c","image":"nginx"}]}})";
  auto strict = s.call("POST", "/api/v1/namespaces/default/pods?fieldValidation=Strict", bad);
  CHECK(strict.response.status == 400);
  CHECK(strict.body()["message"] ==
        "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.x\"");
  auto warn = s.call("POST", "/api/v1/namespaces/default/pods?fieldValidation=Warn", bad);
  CHECK(warn.response.status == 201);
  CHECK(warn.header("Warning") == "299 - \"unknown field \\\"spec.x\\\"\"");
  CHECK(!warn.body()["spec"].contains("x"));

  std::string noimage = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"mypod"},
    "spec":{"containers":[{"name":"c"}]}})";
  auto inv = s.call("POST", "/api/v1/namespaces/default/pods", noimage);
  CHECK(inv.response.status == 422);
  CHECK(inv.body()["reason"] == "Invalid");
  CHECK(inv.body()["details"]["kind"] == "Pod");
  CHECK(inv.body()["details"]["causes"][0]["field"] == "spec.containers[0].image");
}

TEST_CASE("generateName, generation and scale") {
  Server s;
  auto g = s.call("POST", "/api/v1/namespaces/default/configmaps",
                  R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"cfg-"},"data":{"a":"b"}})");
  REQUIRE(g.response.status == 201);
  std::string name = g.body()["metadata"]["name"];
  CHECK(name.size() == 9);
  CHECK(name.rfind("cfg-", 0) == 0);

  auto d = s.call("POST", "/apis/apps/v1/namespaces/default/deployments", kDeploy);
  REQUIRE(d.response.status == 201);
  CHECK(d.body()["metadata"]["generation"] == 1);
  auto sc = s.call("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale", R"({"spec":{"replicas":6}})",
                   "application/merge-patch+json");
  REQUIRE(sc.response.status == 200);
  CHECK(sc.body()["kind"] == "Scale");
  CHECK(sc.body()["apiVersion"] == "autoscaling/v1");
  CHECK(sc.body()["spec"]["replicas"] == 6);
  CHECK(sc.body()["status"]["selector"] == "app=web");
  auto after = s.call("GET", "/apis/apps/v1/namespaces/default/deployments/web").body();
  CHECK(after["spec"]["replicas"] == 6);
  CHECK(after["metadata"]["generation"] == 2);
  // A label-only change does not bump the generation.
  auto lp = s.call("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", R"({"metadata":{"labels":{"a":"b"}}})",
                   "application/strategic-merge-patch+json");
  CHECK(lp.body()["metadata"]["generation"] == 2);
  // Strategic merge keeps the containers list merged by name.
  auto sp = s.call("PATCH", "/apis/apps/v1/namespaces/default/deployments/web",
                   R"({"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}}}})",
                   "application/strategic-merge-patch+json");
  REQUIRE(sp.response.status == 200);
  CHECK(sp.body()["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25");
  CHECK(sp.body()["metadata"]["generation"] == 3);
}

TEST_CASE("services: ClusterIP and NodePort allocation") {
  Server s;
  auto mk = [&](const std::string& name, const std::string& np) {
    std::string body = R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + name +
                       R"("},"spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"port":80)" +
                       (np.empty() ? "" : ",\"nodePort\":" + np) + "}]}}";
    return s.call("POST", "/api/v1/namespaces/default/services", body);
  };
  auto a = mk("a", "30050");
  REQUIRE(a.response.status == 201);
  std::string ip = a.body()["spec"]["clusterIP"];
  CHECK(ip.rfind("10.43.", 0) == 0);
  CHECK(ip != "10.43.0.1");
  CHECK(a.body()["spec"]["ports"][0]["nodePort"] == 30050);
  auto b = mk("b", "30050");
  CHECK(b.response.status == 422);
  CHECK(b.body()["details"]["causes"][0]["field"] == "spec.ports[0].nodePort");
  CHECK(b.body()["details"]["causes"][0]["message"] == "Invalid value: 30050: provided port is already allocated");
  auto c = mk("c", "80");
  CHECK(c.response.status == 422);
  CHECK(c.body()["message"] ==
        "Service \"c\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid "
        "range. The range of valid ports is 30000-32767");
  auto d = mk("d", "");
  REQUIRE(d.response.status == 201);
  int np = d.body()["spec"]["ports"][0]["nodePort"];
  CHECK(np >= 30000);
  CHECK(np <= 32767);
  // Released on delete.
  REQUIRE(s.call("DELETE", "/api/v1/namespaces/default/services/a").response.status == 200);
  CHECK(mk("e", "30050").response.status == 201);
}

// ConfigMap "w" (with `labels`, a JSON object) created, patched to a=2 and deleted; the request
// returned watches configmaps from just before the create, so it replays ADDED, MODIFIED, DELETED.
http::Request replay_of_one_configmap(Server& s, const std::string& labels) {
  auto c = s.call("POST", "/api/v1/namespaces/default/configmaps",
                  R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w","labels":)" + labels +
                      R"(},"data":{"a":"1"}})");
  REQUIRE(c.response.status == 201);
  std::string rv0 = std::to_string(std::stoll(c.body()["metadata"]["resourceVersion"].get<std::string>()) - 1);
  REQUIRE(s.call("PATCH", "/api/v1/namespaces/default/configmaps/w", R"({"data":{"a":"2"}})",
                 "application/merge-patch+json").response.status == 200);
  REQUIRE(s.call("DELETE", "/api/v1/namespaces/default/configmaps/w").response.status == 200);
  http::Request r;
  r.method = "GET";
  r.path = "/api/v1/namespaces/default/configmaps";
  r.query = {{"watch", "true"}, {"resourceVersion", rv0}, {"timeoutSeconds", "5"}};
  r.user = admin();
  return r;
}

TEST_CASE("watch: replay from a resourceVersion, ADDED/MODIFIED/DELETED, Expired") {
  Server s;
  http::Request r = replay_of_one_configmap(s, "{}");
  FakeResponder resp(3);
  s.api->handle(r, resp);
  REQUIRE(resp.streamed);
  REQUIRE(resp.stream_.chunks.size() == 3);
  std::vector<std::string> types;
  for (auto& ch : resp.stream_.chunks) {
    CHECK(ch.back() == '\n');
    types.push_back(json::parse(ch)["type"]);
  }
  CHECK(types == std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"});
  CHECK(json::parse(resp.stream_.chunks[1])["object"]["data"]["a"] == "2");

  // Timeout ends a quiet watch.
  r.query = {{"watch", "true"}, {"resourceVersion", std::to_string(s.api->store()->current_revision())},
             {"timeoutSeconds", "1"}};
  FakeResponder quiet;
  auto t0 = std::chrono::steady_clock::now();
  s.api->handle(r, quiet);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  CHECK(quiet.stream_.chunks.empty());

  REQUIRE(s.api->store()->compact(s.api->store()->current_revision()));
  r.query = {{"watch", "true"}, {"resourceVersion", "1"}};
  FakeResponder old;
  s.api->handle(r, old);
  REQUIRE(old.stream_.chunks.size() == 1);
  json ev = json::parse(old.stream_.chunks[0]);
  CHECK(ev["type"] == "ERROR");
  CHECK(ev["object"]["code"] == 410);
  CHECK(ev["object"]["reason"] == "Expired");
}

TEST_CASE("namespace deletion: Terminating, no new content; protected namespaces") {
  Server s;
  REQUIRE(s.call("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev"}})")
              .response.status == 201);
  CHECK(s.call("GET", "/api/v1/namespaces/dev/serviceaccounts/default").response.status == 200);
  auto d = s.call("DELETE", "/api/v1/namespaces/dev");
  REQUIRE(d.response.status == 200);
  CHECK(d.body()["status"]["phase"] == "Terminating");
  auto c = s.call("POST", "/api/v1/namespaces/dev/pods", kPod);
  CHECK(c.response.status == 403);
  CHECK(c.body()["message"] ==
        "pods \"web\" is forbidden: unable to create new content in namespace dev because it is being terminated");
  auto def = s.call("DELETE", "/api/v1/namespaces/default");
  CHECK(def.response.status == 403);
}

TEST_CASE("authorization: node restriction") {
  Server s;
  http::User node{"system:node:n1", {"system:nodes"}, true};
  http::User nobody{"bob", {}, true};
  auto f = s.call("GET", "/api/v1/namespaces/default/pods", "", "", "application/json", nobody);
  CHECK(f.response.status == 403);
  CHECK(f.body()["message"] ==
        "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"");
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods", "", "", "application/json", node).response.status == 200);
  std::string n1 = R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}})";
  std::string n2 = R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n2"}})";
  CHECK(s.call("POST", "/api/v1/nodes", n1, "application/json", "application/json", node).response.status == 201);
  CHECK(s.call("DELETE", "/api/v1/nodes/n2", "", "", "application/json", node).response.status == 403);
  CHECK(s.call("DELETE", "/api/v1/namespaces/default/services/kubernetes", "", "", "application/json", node)
            .response.status == 403);
  CHECK(s.call("POST", "/api/v1/nodes", n2, "application/json", "application/json", node).response.status == 403);
  http::User anon;
  CHECK(s.call("GET", "/api/v1/pods", "", "", "application/json", anon).response.status == 401);
}

TEST_CASE("namespace finalize subresource completes the deletion; PVC protection and default class") {
  Server s;
  REQUIRE(s.call("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"gone"}})")
              .response.status == 201);
  json ns = s.call("DELETE", "/api/v1/namespaces/gone").body();
  // A normal update cannot drop spec.finalizers; /finalize can, and then the namespace is gone.
  ns["spec"]["finalizers"] = json::array();
  auto u = s.call("PUT", "/api/v1/namespaces/gone", ns.dump());
  REQUIRE(u.response.status == 200);
  CHECK(u.body()["spec"]["finalizers"] == json::array({"kubernetes"}));
  ns = u.body();
  ns["spec"]["finalizers"] = json::array();
  CHECK(s.call("PUT", "/api/v1/namespaces/gone/finalize", ns.dump()).response.status == 200);
  CHECK(s.call("GET", "/api/v1/namespaces/gone").response.status == 404);

  REQUIRE(s.call("POST", "/apis/storage.k8s.io/v1/storageclasses",
                 R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"local-path",
                     "annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},
                     "provisioner":"rancher.io/local-path","volumeBindingMode":"WaitForFirstConsumer"})")
              .response.status == 201);
  auto pvc = s.call("POST", "/api/v1/namespaces/default/persistentvolumeclaims",
                    R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data"},
                        "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}})");
  REQUIRE(pvc.response.status == 201);
  CHECK(pvc.body()["spec"]["storageClassName"] == "local-path");
  CHECK(pvc.body()["metadata"]["finalizers"] == json::array({"kubernetes.io/pvc-protection"}));
  auto d = s.call("DELETE", "/api/v1/namespaces/default/persistentvolumeclaims/data");
  REQUIRE(d.response.status == 200);
  CHECK(d.body()["metadata"].contains("deletionTimestamp"));
  // Removing the finalizer completes the delete.
  auto p = s.call("PATCH", "/api/v1/namespaces/default/persistentvolumeclaims/data",
                  R"({"metadata":{"finalizers":null}})", "application/merge-patch+json");
  CHECK(p.response.status == 200);
  CHECK(s.call("GET", "/api/v1/namespaces/default/persistentvolumeclaims/data").response.status == 404);
}

TEST_CASE("connect subresources go to plugged handlers; eviction deletes") {
  Server s;
  REQUIRE(s.call("POST", "/api/v1/namespaces/default/pods", kPod).response.status == 201);
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods/web/log").response.status == 404);
  std::string seen;
  s.api->set_subresource_handler("pods/log", [&](const http::Request& r, http::Responder& w) {
    seen = r.path;
    w.send({200, {{"Content-Type", "text/plain"}}, "hello\n"});
  });
  auto l = s.call("GET", "/api/v1/namespaces/default/pods/web/log?container=nginx");
  CHECK(l.response.status == 200);
  CHECK(l.response.body == "hello\n");
  CHECK(seen == "/api/v1/namespaces/default/pods/web/log");
  auto missing = s.call("GET", "/api/v1/namespaces/default/pods/nosuch/log");
  CHECK(missing.response.status == 404);
  CHECK(missing.body()["message"] == "pods \"nosuch\" not found");
  auto ev = s.call("POST", "/api/v1/namespaces/default/pods/web/eviction",
                   R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"web","namespace":"default"}})");
  CHECK(ev.response.status == 201);
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods/web").response.status == 404);
}

TEST_CASE("dryRun=All persists nothing") {
  Server s;
  auto c = s.call("POST", "/api/v1/namespaces/default/pods?dryRun=All", kPod);
  CHECK(c.response.status == 201);
  CHECK(c.body()["metadata"]["name"] == "web");
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods/web").response.status == 404);
  REQUIRE(s.call("POST", "/api/v1/namespaces/default/pods", kPod).response.status == 201);
  auto p = s.call("PATCH", "/api/v1/namespaces/default/pods/web?dryRun=All", R"({"metadata":{"labels":{"x":"y"}}})",
                  "application/merge-patch+json");
  CHECK(p.response.status == 200);
  CHECK(p.body()["metadata"]["labels"]["x"] == "y");
  CHECK(!s.call("GET", "/api/v1/namespaces/default/pods/web").body()["metadata"]["labels"].contains("x"));
  CHECK(s.call("DELETE", "/api/v1/namespaces/default/pods/web?dryRun=All").response.status == 200);
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods/web").response.status == 200);
  CHECK(s.call("DELETE", "/api/v1/namespaces/default/pods/web?dryRun=Some").response.status == 400);
}

TEST_CASE("watch: a stream taking objects gets each event's one decoded object, the text stream the same content") {
  Server s;
  http::Request r = replay_of_one_configmap(s, R"({"app":"web"})");
  FakeObjectResponder a(3), b(3);
  s.api->handle(r, a);
  http::Request filtered = r;
  filtered.query.emplace("labelSelector", "app=web");
  s.api->handle(filtered, b);
  FakeResponder text(3);
  s.api->handle(r, text);
  REQUIRE(a.stream_.events.size() == 3);
  REQUIRE(b.stream_.events.size() == 3);
  REQUIRE(text.stream_.chunks.size() == 3);
  CHECK(a.stream_.chunks.empty());
  for (size_t i = 0; i < 3; ++i) {
    const auto& [type, obj] = a.stream_.events[i];
    CHECK(type == std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"}[i]);
    REQUIRE(obj);
    CHECK(b.stream_.events[i].first == type);
    CHECK(b.stream_.events[i].second == obj);  // one decoded copy for both watchers
    json ev = json::parse(text.stream_.chunks[i]);
    CHECK(ev["type"] == type);
    CHECK(ev["object"] == *obj);  // the spliced stored text says the same as the decoded object
    CHECK(!(*obj)["metadata"].value("resourceVersion", "").empty());
  }
  CHECK((*a.stream_.events[1].second)["data"]["a"] == "2");

  REQUIRE(s.api->store()->compact(s.api->store()->current_revision()));
  r.query = {{"watch", "true"}, {"resourceVersion", "1"}};
  FakeObjectResponder old(1);
  s.api->handle(r, old);
  REQUIRE(old.stream_.events.size() == 1);
  CHECK(old.stream_.events[0].first == "ERROR");
  CHECK((*old.stream_.events[0].second)["code"] == 410);
}

TEST_CASE("binding starts from the pod the watchers saw; a newer stored pod is read and kept") {
  Server s;
  REQUIRE(s.call("POST", "/api/v1/namespaces/default/pods", kPod).response.status == 201);
  http::Request w;
  w.method = "GET";
  w.path = "/api/v1/namespaces/default/pods";
  w.query = {{"watch", "true"}, {"resourceVersion", "0"}, {"timeoutSeconds", "1"}};
  w.user = admin();
  FakeObjectResponder seen(1);  // sees the ADDED pod, then goes
  s.api->handle(w, seen);
  REQUIRE(seen.stream_.events.size() == 1);
  // Changed while no watcher looks: the watchers' copy is stale now.
  REQUIRE(s.call("PATCH", "/api/v1/namespaces/default/pods/web", R"({"metadata":{"labels":{"tier":"front"}}})",
                 "application/merge-patch+json").response.status == 200);
  const char* binding = R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"web"},"target":{"name":"n1"}})";
  CHECK(s.call("POST", "/api/v1/namespaces/default/pods/web/binding", binding).response.status == 201);
  json pod = s.call("GET", "/api/v1/namespaces/default/pods/web").body();
  CHECK(pod["spec"]["nodeName"] == "n1");
  CHECK(pod["metadata"]["labels"]["tier"] == "front");  // the patch is not lost
  // Bound: a second binding is refused, whatever the watchers' copy says.
  auto again = s.call("POST", "/api/v1/namespaces/default/pods/web/binding", binding);
  CHECK(again.response.status == 409);

  // A pod a watcher saw unchanged since: bound from that copy.
  std::string pod2 = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"api"},
    "spec":{"containers":[{"name":"c","image":"nginx"}]}})";
  auto c = s.call("POST", "/api/v1/namespaces/default/pods", pod2);
  REQUIRE(c.response.status == 201);
  w.query = {{"watch", "true"}, {"resourceVersion", std::to_string(std::stoll(c.body()["metadata"]["resourceVersion"].get<std::string>()) - 1)},
             {"timeoutSeconds", "1"}};
  FakeObjectResponder seen2(1);
  s.api->handle(w, seen2);
  REQUIRE(seen2.stream_.events.size() == 1);
  CHECK(s.call("POST", "/api/v1/namespaces/default/pods/api/binding",
               R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"api"},"target":{"name":"n2"}})")
            .response.status == 201);
  json p2 = s.call("GET", "/api/v1/namespaces/default/pods/api").body();
  CHECK(p2["spec"]["nodeName"] == "n2");
  CHECK(p2["status"]["conditions"][0]["type"] == "PodScheduled");
}

TEST_CASE("watch with a label selector: leaving the selector is DELETED, entering is ADDED") {
  Server s;
  REQUIRE(s.call("POST", "/api/v1/namespaces/default/pods", kPod).response.status == 201);
  std::string rv = std::to_string(s.api->store()->current_revision());
  REQUIRE(s.call("PATCH", "/api/v1/namespaces/default/pods/web", R"({"metadata":{"labels":{"app":"other"}}})",
                 "application/merge-patch+json").response.status == 200);
  REQUIRE(s.call("PATCH", "/api/v1/namespaces/default/pods/web", R"({"metadata":{"labels":{"app":"web"}}})",
                 "application/merge-patch+json").response.status == 200);
  http::Request r;
  r.method = "GET";
  r.path = "/api/v1/namespaces/default/pods";
  r.query = {{"watch", "true"}, {"resourceVersion", rv}, {"labelSelector", "app=web"}, {"timeoutSeconds", "1"}};
  r.user = admin();
  FakeResponder resp(2);
  s.api->handle(r, resp);
  REQUIRE(resp.stream_.chunks.size() == 2);
  CHECK(json::parse(resp.stream_.chunks[0])["type"] == "DELETED");
  CHECK(json::parse(resp.stream_.chunks[1])["type"] == "ADDED");
}

TEST_CASE("malformed bodies and paths get 4xx/5xx Status answers, never a crash") {
  Server s;
  for (const char* body : {"", "[]", "null", "{", R"({"metadata":"x"})", R"({"metadata":{"name":5}})",
                           R"({"spec":5,"metadata":{"name":"a"}})", R"({"spec":{"containers":"x"},"metadata":{"name":"a"}})",
                           R"({"metadata":{"name":"a","labels":[1]},"spec":{"containers":[{"name":"c","image":"i"}]}})"}) {
    auto r = s.call("POST", "/api/v1/namespaces/default/pods", body);
    CHECK_MESSAGE(r.response.status >= 400, body);
    CHECK(r.body()["kind"] == "Status");
  }
  for (const char* body : {"[]", "5", R"({"metadata":"x"})", R"({"spec":{"ports":"x"}})"}) {
    auto r = s.call("PATCH", "/api/v1/namespaces/default/services/kubernetes", body, "application/merge-patch+json");
    CHECK_MESSAGE(r.response.status >= 400, body);
  }
  for (const char* path : {"/api/v1/namespaces//pods", "/api/v1/namespaces/default/pods/a/b/c/d",
                           "/apis//v1/x", "/api/v2/pods"}) {
    auto r = s.call("GET", path);
    CHECK_MESSAGE(r.response.status == 404, path);
  }
}

namespace {
std::string pod_named(const std::string& name, const std::string& app = "web") {
  json p = json::parse(kPod);
  p["metadata"]["name"] = name;
  p["metadata"]["labels"]["app"] = app;
  return p.dump();
}
std::vector<std::string> names_of(const json& list) {
  std::vector<std::string> out;
  for (const auto& i : list["items"]) out.push_back(i["metadata"]["name"]);
  return out;
}
}  // namespace

TEST_CASE("list pagination: limit, continue, remainingItemCount, one snapshot, 410 once compacted") {
  Server s;
  for (const char* n : {"p1", "p2", "p3", "p4", "p5", "p6", "p7"}) {
    REQUIRE(s.call("POST", "/api/v1/namespaces/default/pods", pod_named(n, n == std::string("p6") ? "db" : "web"))
                .response.status == 201);
  }
  auto first = s.call("GET", "/api/v1/namespaces/default/pods?limit=3");
  REQUIRE(first.response.status == 200);
  json b = first.body();
  CHECK(names_of(b) == std::vector<std::string>{"p1", "p2", "p3"});
  CHECK(b["metadata"]["remainingItemCount"] == 4);
  std::string token = b["metadata"]["continue"];
  REQUIRE_FALSE(token.empty());
  std::string rv = b["metadata"]["resourceVersion"];

  // Changes after the first page are not seen by the continuation.
  REQUIRE(s.call("DELETE", "/api/v1/namespaces/default/pods/p4?gracePeriodSeconds=0").response.status == 200);
  REQUIRE(s.call("POST", "/api/v1/namespaces/default/pods", pod_named("p35")).response.status == 201);
  auto second = s.call("GET", "/api/v1/namespaces/default/pods?limit=3&continue=" + token);
  REQUIRE(second.response.status == 200);
  json b2 = second.body();
  CHECK(names_of(b2) == std::vector<std::string>{"p4", "p5", "p6"});
  CHECK(b2["metadata"]["resourceVersion"] == rv);
  CHECK(b2["metadata"]["remainingItemCount"] == 1);
  auto third = s.call("GET", "/api/v1/namespaces/default/pods?limit=3&continue=" + b2["metadata"]["continue"].get<std::string>());
  json b3 = third.body();
  CHECK(names_of(b3) == std::vector<std::string>{"p7"});
  CHECK_FALSE(b3["metadata"].contains("continue"));
  CHECK_FALSE(b3["metadata"].contains("remainingItemCount"));

  // Selectors: pages hold up to `limit` matches; no remainingItemCount.
  auto sel2 = s.call("GET", "/api/v1/namespaces/default/pods?labelSelector=app=web&limit=5");
  json bs = sel2.body();
  CHECK(names_of(bs) == std::vector<std::string>{"p1", "p2", "p3", "p35", "p5"});
  CHECK(bs["metadata"].contains("continue"));
  CHECK_FALSE(bs["metadata"].contains("remainingItemCount"));
  auto sel3 = s.call("GET", "/api/v1/namespaces/default/pods?labelSelector=app=web&limit=5&continue=" +
                                bs["metadata"]["continue"].get<std::string>());
  CHECK(names_of(sel3.body()) == std::vector<std::string>{"p7"});

  // Table output (kubectl get --chunk-size) carries the token too.
  auto table = s.call("GET", "/api/v1/namespaces/default/pods?limit=2", "", "",
                      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  CHECK(table.body()["kind"] == "Table");
  CHECK(table.body()["rows"].size() == 2);
  CHECK(table.body()["metadata"].contains("continue"));

  // resourceVersionMatch=Exact: the list at that revision (the snapshot of the first page).
  auto exact = s.call("GET", "/api/v1/namespaces/default/pods?resourceVersionMatch=Exact&resourceVersion=" + rv);
  REQUIRE(exact.response.status == 200);
  CHECK(names_of(exact.body()) == std::vector<std::string>{"p1", "p2", "p3", "p4", "p5", "p6", "p7"});

  // Bad tokens.
  auto bad = s.call("GET", "/api/v1/namespaces/default/pods?limit=2&continue=notatoken");
  CHECK(bad.response.status == 400);
  auto both = s.call("GET", "/api/v1/namespaces/default/pods?limit=2&resourceVersion=5&continue=" + token);
  CHECK(both.response.status == 400);

  // Compacted: 410 Expired with Kubernetes' message and a token to go on inconsistently.
  REQUIRE(s.api->store()->compact(s.api->store()->current_revision()));
  auto gone = s.call("GET", "/api/v1/namespaces/default/pods?limit=3&continue=" + token);
  CHECK(gone.response.status == 410);
  json g = gone.body();
  CHECK(g["reason"] == "Expired");
  CHECK(g["code"] == 410);
  CHECK(g["message"].get<std::string>().rfind("The provided continue parameter is too old to display a consistent list result.", 0) == 0);
  REQUIRE(g["metadata"].contains("continue"));
  auto resumed = s.call("GET", "/api/v1/namespaces/default/pods?limit=10&continue=" + g["metadata"]["continue"].get<std::string>());
  REQUIRE(resumed.response.status == 200);
  CHECK(names_of(resumed.body()) == std::vector<std::string>{"p35", "p5", "p6", "p7"});
  auto exact_gone = s.call("GET", "/api/v1/namespaces/default/pods?resourceVersionMatch=Exact&resourceVersion=" + rv);
  CHECK(exact_gone.response.status == 410);
  CHECK(exact_gone.body()["message"].get<std::string>().rfind("too old resource version: " + rv, 0) == 0);
}

TEST_CASE("YAML request bodies are accepted like JSON; other media types 415") {
  Server s;
  const char* yaml = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  labels: {app: web}
data:
  quoted: "true"
  number: "8080"
  text: hello world
)";
  auto c = s.call("POST", "/api/v1/namespaces/default/configmaps", yaml, "application/yaml");
  REQUIRE(c.response.status == 201);
  auto g = s.call("GET", "/api/v1/namespaces/default/configmaps/cfg").body();
  CHECK(g["data"]["quoted"] == "true");
  CHECK(g["data"]["number"] == "8080");
  CHECK(g["data"]["text"] == "hello world");
  CHECK(g["metadata"]["labels"]["app"] == "web");

  // Typed scalars: replicas is an integer, a plain `true` a boolean.
  const char* dep = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      automountServiceAccountToken: false
      containers: [{name: nginx, image: nginx}]
)";
  auto d = s.call("POST", "/apis/apps/v1/namespaces/default/deployments", dep, "application/yaml; charset=utf-8");
  REQUIRE(d.response.status == 201);
  CHECK(d.body()["spec"]["replicas"] == 3);
  CHECK(d.body()["spec"]["template"]["spec"]["automountServiceAccountToken"] == false);

  // PUT in YAML too.
  json cur = s.call("GET", "/api/v1/namespaces/default/configmaps/cfg").body();
  std::string put = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  resourceVersion: \"" +
                    cur["metadata"]["resourceVersion"].get<std::string>() + "\"\ndata:\n  text: bye\n";
  auto u = s.call("PUT", "/api/v1/namespaces/default/configmaps/cfg", put, "application/yaml");
  CHECK(u.response.status == 200);
  CHECK(u.body()["data"]["text"] == "bye");

  auto bad = s.call("POST", "/api/v1/namespaces/default/configmaps", "a: [unclosed", "application/yaml");
  CHECK(bad.response.status == 400);
  auto xml = s.call("POST", "/api/v1/namespaces/default/configmaps", "<x/>", "application/xml");
  CHECK(xml.response.status == 415);
  CHECK(xml.body()["reason"] == "UnsupportedMediaType");
}

TEST_CASE("delete propagationPolicy: Orphan and Foreground hand over to the GC through finalizers") {
  Server s;
  REQUIRE(s.call("POST", "/apis/apps/v1/namespaces/default/deployments", kDeploy).response.status == 201);
  auto o = s.call("DELETE", "/apis/apps/v1/namespaces/default/deployments/web", R"({"propagationPolicy":"Orphan"})");
  REQUIRE(o.response.status == 200);
  json d = s.call("GET", "/apis/apps/v1/namespaces/default/deployments/web").body();
  CHECK(d["metadata"].contains("deletionTimestamp"));
  CHECK(d["metadata"]["finalizers"] == json::array({"orphan"}));
  // A second delete switches to Foreground.
  REQUIRE(s.call("DELETE", "/apis/apps/v1/namespaces/default/deployments/web?propagationPolicy=Foreground").response.status == 200);
  d = s.call("GET", "/apis/apps/v1/namespaces/default/deployments/web").body();
  CHECK(d["metadata"]["finalizers"] == json::array({"foregroundDeletion"}));
  // The GC drops the finalizer: the object goes; watchers see MODIFIED then DELETED, both
  // without the finalizer.
  std::string before = d["metadata"]["resourceVersion"];
  json patch = {{"metadata", {{"finalizers", nullptr}}}};
  REQUIRE(s.call("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", patch.dump(),
                 "application/merge-patch+json").response.status == 200);
  CHECK(s.call("GET", "/apis/apps/v1/namespaces/default/deployments/web").response.status == 404);
  http::Request w;
  w.method = "GET";
  w.path = "/apis/apps/v1/namespaces/default/deployments";
  w.query = {{"watch", "true"}, {"resourceVersion", before}, {"timeoutSeconds", "1"}};
  w.headers.emplace("accept", "application/json");
  w.user = admin();
  FakeResponder events(2);
  s.api->handle(w, events);
  REQUIRE(events.stream_.chunks.size() == 2);
  json e1 = json::parse(events.stream_.chunks[0]), e2 = json::parse(events.stream_.chunks[1]);
  CHECK(e1["type"] == "MODIFIED");
  CHECK_FALSE(e1["object"]["metadata"].contains("finalizers"));
  CHECK(e2["type"] == "DELETED");
  CHECK_FALSE(e2["object"]["metadata"].contains("finalizers"));

  // orphanDependents (deprecated) and Background.
  REQUIRE(s.call("POST", "/apis/apps/v1/namespaces/default/deployments", kDeploy).response.status == 201);
  REQUIRE(s.call("DELETE", "/apis/apps/v1/namespaces/default/deployments/web", R"({"orphanDependents":true})").response.status == 200);
  CHECK(s.call("GET", "/apis/apps/v1/namespaces/default/deployments/web").body()["metadata"]["finalizers"] ==
        json::array({"orphan"}));
  REQUIRE(s.call("POST", "/api/v1/namespaces/default/pods", pod_named("bg")).response.status == 201);
  REQUIRE(s.call("DELETE", "/api/v1/namespaces/default/pods/bg?propagationPolicy=Background").response.status == 200);
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods/bg").response.status == 404);

  REQUIRE(s.call("POST", "/api/v1/namespaces/default/pods", pod_named("keep")).response.status == 201);
  auto bad = s.call("DELETE", "/api/v1/namespaces/default/pods/keep?propagationPolicy=Sideways");
  CHECK(bad.response.status == 422);
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods/keep").response.status == 200);
}

TEST_CASE("list fast path: items equal what GET returns (top-level resourceVersion only)") {
  Server s;
  REQUIRE(s.call("POST", "/apis/apps/v1/namespaces/default/deployments", kDeploy).response.status == 201);
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "tricky"}}},
             {"data", {{"x", "\"metadata\":{\"a\":1}"}, {"y", "\\\\\"metadata\\\":{"}}}};
  REQUIRE(s.call("POST", "/api/v1/namespaces/default/configmaps", cm.dump()).response.status == 201);
  json l = s.call("GET", "/apis/apps/v1/namespaces/default/deployments").body();
  REQUIRE(l["items"].size() == 1);
  CHECK(l["kind"] == "DeploymentList");
  CHECK(l["items"][0] == s.call("GET", "/apis/apps/v1/namespaces/default/deployments/web").body());
  CHECK_FALSE(l["items"][0]["spec"]["template"]["metadata"].contains("resourceVersion"));
  json c = s.call("GET", "/api/v1/namespaces/default/configmaps").body();
  REQUIRE(c["items"].size() == 1);
  CHECK(c["items"][0] == s.call("GET", "/api/v1/namespaces/default/configmaps/tricky").body());
  CHECK(c["items"][0]["data"] == cm["data"]);
}

TEST_CASE("graceful pod deletion with finalizers: gone only when both the finalizers and the grace period are done") {
  Server s;
  REQUIRE(s.call("POST", "/api/v1/nodes", R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}})")
              .response.status == 201);
  json p = json::parse(pod_named("g"));
  p["spec"]["nodeName"] = "n1";
  REQUIRE(s.call("POST", "/api/v1/namespaces/default/pods", p.dump()).response.status == 201);
  // Foreground delete: graceful (30 s) and the foregroundDeletion finalizer.
  REQUIRE(s.call("DELETE", "/api/v1/namespaces/default/pods/g?propagationPolicy=Foreground").response.status == 200);
  json g = s.call("GET", "/api/v1/namespaces/default/pods/g").body();
  CHECK(g["metadata"]["deletionGracePeriodSeconds"] == 30);
  CHECK(g["metadata"]["finalizers"] == json::array({"foregroundDeletion"}));
  // The GC drops the finalizer: the kubelet still has to finish.
  json patch = {{"metadata", {{"finalizers", nullptr}}}};
  REQUIRE(s.call("PATCH", "/api/v1/namespaces/default/pods/g", patch.dump(), "application/merge-patch+json")
              .response.status == 200);
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods/g").response.status == 200);
  REQUIRE(s.call("DELETE", "/api/v1/namespaces/default/pods/g?gracePeriodSeconds=0").response.status == 200);
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods/g").response.status == 404);

  // The other order: the kubelet's grace-0 delete first, then the finalizer goes.
  REQUIRE(s.call("POST", "/api/v1/namespaces/default/pods", p.dump()).response.status == 201);
  REQUIRE(s.call("DELETE", "/api/v1/namespaces/default/pods/g?propagationPolicy=Foreground").response.status == 200);
  REQUIRE(s.call("DELETE", "/api/v1/namespaces/default/pods/g?gracePeriodSeconds=0").response.status == 200);
  g = s.call("GET", "/api/v1/namespaces/default/pods/g").body();
  CHECK(g["metadata"]["deletionGracePeriodSeconds"] == 0);
  REQUIRE(s.call("PATCH", "/api/v1/namespaces/default/pods/g", patch.dump(), "application/merge-patch+json")
              .response.status == 200);
  CHECK(s.call("GET", "/api/v1/namespaces/default/pods/g").response.status == 404);
}
