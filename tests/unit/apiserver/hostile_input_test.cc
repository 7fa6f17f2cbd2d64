// Requests that crashed or bricked the API server (issue 15), through ApiServer::handle: each must
// get a Kubernetes Status and leave the server serving.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "apiserver/api_server.h"
#include "store/store.h"

using namespace k3dpp;
using json = nlohmann::json;

namespace {

class Responder : public http::Responder {
 public:
  void send(http::Response r) override { response = std::move(r); }
  http::Stream& stream(int, const std::vector<std::pair<std::string, std::string>>&) override {
    throw std::runtime_error("no stream");
  }
  http::Conn& upgrade(const std::vector<std::pair<std::string, std::string>>&) override {
    throw std::runtime_error("no upgrade");
  }
  json body() const { return json::parse(response.body); }
  http::Response response;
};

struct Api {
  std::shared_ptr<store::Store> store;
  std::unique_ptr<apiserver::ApiServer> api;
  Api() {
    auto s = store::open_sqlite({":memory:"});
    REQUIRE(s);
    store = std::shared_ptr<store::Store>(std::move(*s));
    apiserver::Options o;
    o.background = false;
    api = std::make_unique<apiserver::ApiServer>(o, store);
    REQUIRE(api->start());
  }
  Responder call(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::string& content_type = "application/json",
                 std::multimap<std::string, std::string> query = {}) {
    http::Request r;
    r.method = method;
    r.target = path;
    r.path = path;
    r.query = std::move(query);
    if (!body.empty()) r.headers.emplace("content-type", content_type);
    r.headers.emplace("accept", "application/json");
    r.body = body;
    r.user = {"admin", {"system:masters"}, true};
    Responder resp;
    api->handle(r, resp);
    return resp;
  }
};

const std::string kCms = "/api/v1/namespaces/default/configmaps";

std::string nested(size_t depth) {
  std::string s;
  for (size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s.append(depth, '}');
  return s;
}

}  // namespace

TEST_CASE("oversized names, label values and data keys get 422, and the server keeps serving") {
  Api a;
  auto r = a.call("POST", kCms, json{{"metadata", {{"name", std::string(200000, 'a')}}}}.dump());
  CHECK(r.response.status == 422);
  CHECK(r.body()["message"].get<std::string>().find("must be no more than 253 characters") != std::string::npos);
  r = a.call("POST", kCms,
             json{{"metadata", {{"name", "x"}, {"labels", {{"k", std::string(100000, 'v')}}}}}}.dump());
  CHECK(r.response.status == 422);
  CHECK(r.body()["message"].get<std::string>().find("must be no more than 63 characters") != std::string::npos);
  r = a.call("POST", kCms, json{{"metadata", {{"name", "x"}}}, {"data", {{std::string(200000, 'k'), "v"}}}}.dump());
  CHECK(r.response.status == 422);
  r = a.call("POST", kCms, json{{"metadata", {{"name", "x"}}}}.dump());
  CHECK(r.response.status == 201);
}

TEST_CASE("JSON bodies and patches nested past 10,000 levels get 400, not a crash") {
  Api a;
  REQUIRE(a.call("POST", kCms, R"({"metadata":{"name":"x"}})").response.status == 201);
  auto r = a.call("PATCH", kCms + "/x", nested(100000), "application/merge-patch+json");
  CHECK(r.response.status == 400);
  CHECK(r.body()["message"] == "invalid character '{' exceeded max depth");
  r = a.call("PATCH", kCms + "/x", nested(100000), "application/strategic-merge-patch+json");
  CHECK(r.response.status == 400);
  r = a.call("POST", kCms, "{\"metadata\":{\"name\":\"y\"},\"data\":" + nested(100000) + "}");
  CHECK(r.response.status == 400);
  CHECK(r.body()["message"].get<std::string>().find(
            "the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse "
            "error: invalid character '{' exceeded max depth ({\"metadata\":{\"name\":\"y\"},\"data ...)") == 0);
  // 9,000 levels are still a valid object where the schema allows anything (ControllerRevision data),
  // stored, read back and patched.
  const std::string crs = "/apis/apps/v1/namespaces/default/controllerrevisions";
  r = a.call("POST", crs, "{\"metadata\":{\"name\":\"deep\"},\"revision\":1,\"data\":" + nested(9000) + "}");
  CHECK(r.response.status == 201);
  r = a.call("GET", crs + "/deep");
  CHECK(r.response.status == 200);
  r = a.call("PATCH", crs + "/deep", "{\"data\":" + nested(9000) + "}", "application/merge-patch+json");
  CHECK(r.response.status == 200);
  CHECK(a.call("GET", kCms + "/x").response.status == 200);
}

TEST_CASE("PATCH pods/NAME/status with a number for phase gets 422 and stores nothing") {
  Api a;
  const std::string pods = "/api/v1/namespaces/default/pods";
  REQUIRE(a.call("POST", pods, R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx"}]}})")
              .response.status == 201);
  auto before = a.call("GET", pods + "/p").body();
  auto r = a.call("PATCH", pods + "/p/status", R"({"status":{"phase":5}})", "application/merge-patch+json");
  CHECK(r.response.status == 422);
  auto b = r.body();
  CHECK(b["reason"] == "Invalid");
  CHECK(b["details"]["causes"][0]["field"] == "patch");
  CHECK(b["message"].get<std::string>().find(
            "json: cannot unmarshal number into Go struct field PodStatus.status.phase of type v1.PodPhase") !=
        std::string::npos);
  r = a.call("PATCH", pods + "/p/status", R"({"status":{"phase":5}})", "application/strategic-merge-patch+json");
  CHECK(r.response.status == 422);
  CHECK(r.body()["message"].get<std::string>().find("Invalid value: \"map[status:map[phase:5]]\"") !=
        std::string::npos);
  r = a.call("PATCH", pods + "/p/status", R"([{"op":"add","path":"/status/phase","value":5}])",
             "application/json-patch+json");
  CHECK(r.response.status == 422);
  // A PUT of the status with a wrong type: the body's decode error (400), as for spec.
  json put = before;
  put["status"]["phase"] = 5;
  CHECK(a.call("PUT", pods + "/p/status", put.dump()).response.status == 400);
  auto after = a.call("GET", pods + "/p").body();
  CHECK(after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]);
  // A correct status patch still works, and delete works.
  r = a.call("PATCH", pods + "/p/status", R"({"status":{"phase":"Running"}})", "application/merge-patch+json");
  CHECK(r.response.status == 200);
  CHECK(a.call("DELETE", pods + "/p", "", "", {{"gracePeriodSeconds", "0"}}).response.status == 200);
}

TEST_CASE("a name that is not UTF-8 gets 404 with a JSON body, not 500") {
  Api a;
  auto r = a.call("GET", kCms + "/\xff");
  CHECK(r.response.status == 404);
  CHECK(r.body()["message"] == "configmaps \"\xef\xbf\xbd\" not found");  // U+FFFD, as Go's encoder writes it
  r = a.call("DELETE", kCms + "/a\xc3");
  CHECK(r.response.status == 404);
  r = a.call("GET", "/api/v1/namespaces/\xfe\xff/configmaps");
  CHECK(r.response.status == 200);
}

TEST_CASE("integer query parameters out of range or malformed get 400 with Go's message") {
  Api a;
  REQUIRE(a.call("POST", kCms, R"({"metadata":{"name":"x"}})").response.status == 201);
  auto r = a.call("GET", kCms, "", "", {{"limit", "abc"}});
  CHECK(r.response.status == 400);
  CHECK(r.body()["message"] == "strconv.ParseInt: parsing \"abc\": invalid syntax");
  r = a.call("GET", kCms, "", "", {{"limit", "99999999999999999999"}});
  CHECK(r.response.status == 400);
  CHECK(r.body()["message"] == "strconv.ParseInt: parsing \"99999999999999999999\": value out of range");
  CHECK(a.call("GET", kCms, "", "", {{"limit", "9223372036854775807"}}).response.status == 200);
  CHECK(a.call("GET", kCms, "", "", {{"limit", "-5"}}).response.status == 200);
  r = a.call("DELETE", kCms + "/x", "", "", {{"gracePeriodSeconds", "1e3"}});
  CHECK(r.response.status == 400);
  CHECK(a.call("DELETE", kCms, "", "", {{"gracePeriodSeconds", "-99999999999999999999"}}).response.status == 400);
  r = a.call("GET", kCms, "", "", {{"watch", "true"}, {"timeoutSeconds", "x"}});
  CHECK(r.response.status == 400);
  CHECK(a.call("GET", kCms + "/x").response.status == 200);
}

TEST_CASE("a YAML alias bomb gets 400 with go-yaml's message") {
  Api a;
  std::string y = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nx0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\","
                  "\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (int i = 1; i <= 9; ++i) {
    y += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) y += std::string(j ? "," : "") + "*a" + std::to_string(i - 1);
    y += "]\n";
  }
  auto r = a.call("POST", kCms, y, "application/yaml");
  CHECK(r.response.status == 400);
  CHECK(r.body()["message"] == "error converting YAML to JSON: yaml: document contains excessive aliasing");
}

TEST_CASE("malformed objects stored behind the API's back: the server starts, lists, prints and deletes them") {
  auto s = store::open_sqlite({":memory:"});
  REQUIRE(s);
  std::shared_ptr<store::Store> st(std::move(*s));
  // What an older server let in (status.phase 5), and worse: wrong types everywhere, a namespace
  // whose phase and finalizers are numbers, an object that is not even an object.
  REQUIRE(st->create("/registry/pods/default/bad",
                     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad","namespace":"default","uid":"u1",
                        "labels":"x","creationTimestamp":7},"spec":{"nodeName":5,"containers":"c"},
                        "status":{"phase":5,"conditions":"x","containerStatuses":[{"name":1,"state":"s"}]}})"));
  REQUIRE(st->create("/registry/namespaces/odd",
                     R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"odd","uid":"u2"},
                        "spec":{"finalizers":5},"status":{"phase":5}})"));
  REQUIRE(st->create("/registry/configmaps/default/notanobject", R"([1,2,3])"));
  apiserver::Options o;
  o.background = false;
  apiserver::ApiServer api(o, st);
  REQUIRE(api.start());
  auto call = [&](const std::string& method, const std::string& path, const std::string& accept = "application/json") {
    http::Request r;
    r.method = method;
    r.target = r.path = path;
    r.headers.emplace("accept", accept);
    r.user = {"admin", {"system:masters"}, true};
    Responder resp;
    api.handle(r, resp);
    return resp;
  };
  const std::string table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
  CHECK(call("GET", "/api/v1/namespaces/default/pods").response.status == 200);
  CHECK(call("GET", "/api/v1/namespaces/default/pods", table).response.status == 200);
  CHECK(call("GET", "/api/v1/namespaces/default/pods/bad", table).response.status == 200);
  CHECK(call("GET", "/api/v1/namespaces", table).response.status == 200);
  CHECK(call("GET", "/api/v1/namespaces/default/configmaps").response.status == 200);
  CHECK(call("DELETE", "/api/v1/namespaces/default/pods/bad").response.status == 200);
  CHECK(call("GET", "/api/v1/namespaces/default/pods/bad").response.status == 404);
  CHECK(call("DELETE", "/api/v1/namespaces/default/configmaps/notanobject").response.status == 200);
  // The namespace is Terminating-capable; deleting it must answer, not throw.
  auto d = call("DELETE", "/api/v1/namespaces/odd");
  CHECK((d.response.status == 200 || d.response.status == 202));
}
