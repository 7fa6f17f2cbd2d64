// The ingress controller's pure part: which Ingresses are ours, the routing table, nginx.conf
// (golden file testdata/cluster.conf; K3DPP_UPDATE_GOLDEN=1 rewrites it), and the cluster objects.
#include <doctest/doctest.h>

#include <cstdlib>

#include "common/files.h"
#include "ingress/config.h"
#include "ingress/controller.h"

using namespace k3dpp;
using namespace k3dpp::ingress;

namespace {

std::string testdata(const std::string& name) { return std::string(K3DPP_INGRESS_TESTDATA) + "/" + name; }

json load_cluster() {
  auto text = files::read(testdata("cluster.json"));
  REQUIRE(text.has_value());
  return json::parse(*text);
}

std::vector<const json*> ptrs(const json& arr) {
  std::vector<const json*> out;
  for (const auto& x : arr) out.push_back(&x);
  return out;
}

Inputs inputs_of(const json& c) {
  Inputs in;
  in.ingresses = ptrs(c["ingresses"]);
  in.classes = ptrs(c["classes"]);
  in.services = ptrs(c["services"]);
  in.slices = ptrs(c["slices"]);
  in.secrets = ptrs(c["secrets"]);
  return in;
}

const VirtualHost* find_host(const IngressConfig& cfg, const std::string& h) {
  for (const auto& v : cfg.hosts) {
    if (v.host == h) return &v;
  }
  return nullptr;
}

const Route* find_route(const VirtualHost& vh, const std::string& path, bool exact) {
  for (const auto& r : vh.routes) {
    if (r.path == path && r.exact == exact) return &r;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("golden nginx.conf for a cluster of Ingresses") {
  const json c = load_cluster();
  IngressConfig cfg = build_config(inputs_of(c));
  std::string got = render_nginx_conf(cfg, RenderOptions{});
  if (std::getenv("K3DPP_UPDATE_GOLDEN")) REQUIRE(files::write_atomic(testdata("cluster.conf"), got).has_value());
  auto want = files::read(testdata("cluster.conf"));
  REQUIRE(want.has_value());
  CHECK(got == *want);
}

TEST_CASE("only Ingresses of our class (or of none, with our default class) are served") {
  const json c = load_cluster();
  const auto classes = ptrs(c["classes"]);
  CHECK(handles(c["ingresses"][0], classes));   // ingressClassName k3dpp
  CHECK(handles(c["ingresses"][2], classes));   // no class: the default class is ours
  CHECK_FALSE(handles(c["ingresses"][3], classes));  // class "other"
  json no_default = c["classes"];
  no_default[0]["metadata"].erase("annotations");
  CHECK_FALSE(handles(c["ingresses"][2], ptrs(no_default)));
  json annotated = c["ingresses"][3];
  annotated["spec"].erase("ingressClassName");
  annotated["metadata"]["annotations"] = {{"kubernetes.io/ingress.class", "k3dpp"}};
  CHECK(handles(annotated, classes));
}

TEST_CASE("routing table: precedence, older Ingress wins, ports by number and name, 503s") {
  const json c = load_cluster();
  IngressConfig cfg = build_config(inputs_of(c));
  REQUIRE(cfg.hosts.size() >= 4);
  CHECK(cfg.hosts[0].host.empty());  // catch-all first
  const VirtualHost* web = find_host(cfg, "web.example.com");
  REQUIRE(web);
  const Route* root = find_route(*web, "/", false);
  REQUIRE(root);
  CHECK(root->source == "default/web");  // not web-later, not the foreign class
  CHECK(root->upstream == "upstream_default_web_80");
  const Route* api = find_route(*web, "/api", false);  // "/api/" normalized
  REQUIRE(api);
  CHECK(api->upstream == "upstream_default_api_http");
  const Route* exact = find_route(*web, "/api", true);
  REQUIRE(exact);
  CHECK(exact->upstream.empty());
  CHECK(exact->problem == "service default/api-exact has no ready endpoints");
  const Route* docs = find_route(*web, "/docs", false);
  REQUIRE(docs);
  CHECK(docs->problem == "service default/missing not found");
  CHECK(find_route(*web, "/static", false));  // ImplementationSpecific = Prefix
  // Upstreams: ready endpoints only, target port from the slice.
  bool seen = false;
  for (const auto& u : cfg.upstreams) {
    if (u.name != "upstream_default_web_80") continue;
    seen = true;
    CHECK(u.servers == std::vector<std::string>{"10.42.0.7:8080", "10.42.1.4:8080"});
  }
  CHECK(seen);
  // The path with quotes and braces never reaches nginx.conf.
  const VirtualHost* broken = find_host(cfg, "broken.example.com");
  REQUIRE(broken);
  CHECK(broken->routes.size() == 1);
  CHECK(broken->cert.empty());  // an Opaque secret: default certificate
  CHECK(cfg.warnings.size() == 2);
  const VirtualHost* secure = find_host(cfg, "secure.example.com");
  REQUIRE(secure);
  CHECK(secure->cert == "shop_secure-tls");
  REQUIRE(cfg.certs.size() == 1);
  CHECK(cfg.certs[0].key_pem.find("PRIVATE KEY") != std::string::npos);
  // defaultBackend of shop's Ingress: its hosts and the catch-all.
  CHECK(secure->has_fallback);
  CHECK(cfg.hosts[0].has_fallback);
  CHECK(cfg.hosts[0].fallback.upstream == "upstream_shop_shop_80");
  CHECK_FALSE(web->has_fallback);
}

TEST_CASE("wildcard hosts match one DNS label") {
  CHECK(server_name("*.apps.example.com") == "~^[^.]+\\.apps\\.example\\.com$");
  CHECK(server_name("web.example.com") == "web.example.com");
  CHECK(server_name("") == "_");
}

TEST_CASE("a TLS Secret whose key does not match its certificate is refused") {
  const json c = load_cluster();
  json s = c["secrets"][0];
  TlsCert cert;
  std::string why;
  CHECK(tls_from_secret(s, cert, why));
  s["data"]["tls.key"] = c["secrets"][1]["data"]["tls.key"];
  CHECK_FALSE(tls_from_secret(s, cert, why));
  s["data"]["tls.crt"] = "!!!";
  CHECK_FALSE(tls_from_secret(s, cert, why));
  CHECK(why == "has no valid tls.crt and tls.key");
}

TEST_CASE("cluster objects: default IngressClass, LoadBalancer Service, servers' EndpointSlice") {
  json cls = ingress_class_object();
  CHECK(cls["metadata"]["annotations"][kDefaultClassAnnotation] == "true");
  CHECK(cls["spec"]["controller"] == kControllerName);
  json svc = ingress_service_object();
  CHECK(svc["spec"]["type"] == "LoadBalancer");
  CHECK_FALSE(svc["spec"].contains("selector"));
  json server = {{"metadata", {{"name", "s0"}, {"labels", {{"node-role.kubernetes.io/control-plane", "true"}}}}},
                 {"status",
                  {{"addresses", json::array({{{"type", "InternalIP"}, {"address", "172.18.0.3"}}})},
                   {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
  json agent = {{"metadata", {{"name", "a0"}, {"labels", json::object()}}},
                {"status",
                 {{"addresses", json::array({{{"type", "InternalIP"}, {"address", "172.18.0.4"}}})},
                  {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
  json slice = ingress_endpoint_slice({&server, &agent});
  REQUIRE(slice["endpoints"].size() == 1);
  CHECK(slice["endpoints"][0]["addresses"][0] == "172.18.0.3");
  CHECK(slice["endpoints"][0]["conditions"]["ready"] == true);
  CHECK(slice["metadata"]["labels"]["kubernetes.io/service-name"] == kServiceName);
  json lb = {{"status", {{"loadBalancer", {{"ingress", json::array({{{"ip", "172.18.0.3"}, {"ipMode", "VIP"}}})}}}}}};
  CHECK(ingress_status_from_service(lb) == json::array({{{"ip", "172.18.0.3"}}}));
}
