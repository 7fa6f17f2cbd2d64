// The bundled ingress controller's pure part: which Ingresses it serves (IngressClass
// k3dpp / controller k3dpp.io/ingress-nginx), the routing table they describe (virtual hosts,
// locations, upstreams of ready pod endpoints, TLS certificates from kubernetes.io/tls Secrets)
// and the nginx.conf that implements it. No I/O: golden-tested (tests/unit/ingress).
//
// Semantics (networking.k8s.io/v1, as ingress-nginx implements them):
//  - a rule's host is exact ("foo.example.com") or "*." + one DNS label ("*.example.com" matches
//    "a.example.com", not "a.b.example.com" nor "example.com"); an exact host wins over a wildcard;
//    rules without a host go to the catch-all server, which also answers unknown hosts;
//  - paths: Exact is one URI; Prefix matches element-wise ("/foo" matches "/foo", "/foo/",
//    "/foo/bar", never "/foobar"; a trailing "/" is ignored); ImplementationSpecific is treated as
//    Prefix (an empty path as "/"). Exact wins over Prefix, the longest Prefix wins;
//  - the same host+path in two Ingresses: the older Ingress (creationTimestamp, then namespace/name)
//    wins; a request no path matches goes to that host's Ingress' defaultBackend, else 404;
//  - a backend whose Service, port or ready endpoints are missing answers 503 on its own
//    locations only; upstreams are the ready pod endpoints of the Service port (EndpointSlices);
//  - TLS: spec.tls[].hosts get the Secret's certificate by SNI when the Secret is a valid
//    kubernetes.io/tls one; every other host (and an invalid Secret) gets the default self-signed
//    certificate. Plain HTTP is served too (no redirect, as Traefik in k3s).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace k3dpp::ingress {

using json = nlohmann::json;

inline constexpr const char* kClassName = "k3dpp";
inline constexpr const char* kControllerName = "k3dpp.io/ingress-nginx";
inline constexpr const char* kDefaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class";
// The LoadBalancer Service that holds the node ports 80/443 (k3s: kube-system/traefik).
inline constexpr const char* kServiceNamespace = "kube-system";
inline constexpr const char* kServiceName = "k3dpp-ingress";

struct TlsCert {
  std::string name;  // file stem "<namespace>_<secret>" (or "default")
  std::string cert_pem;
  std::string key_pem;
  std::string fingerprint;  // so that a changed Secret changes the rendered text
};

struct Route {
  std::string path;      // normalized: no trailing "/" for Prefix (except "/" itself)
  bool exact = false;    // Exact; otherwise Prefix
  std::string upstream;  // "" = answer 503
  std::string source;    // "namespace/ingress" (comment)
  std::string backend;   // "namespace/service:port" (comment)
  std::string problem;   // why 503 ("" when served)
};

struct VirtualHost {
  std::string host;  // "" = catch-all (rules without host, unknown hosts)
  std::vector<Route> routes;
  bool has_fallback = false;  // defaultBackend of the Ingress that defines this host
  Route fallback;
  std::string cert;  // TlsCert::name, "" = the default certificate
};

struct Upstream {
  std::string name;
  std::vector<std::string> servers;  // "ip:port", sorted
};

struct IngressConfig {
  std::vector<VirtualHost> hosts;  // catch-all first, then by host
  std::vector<Upstream> upstreams;
  std::vector<TlsCert> certs;
  std::vector<std::string> warnings;  // skipped paths, unusable Secrets (logged by the controller)
};

struct Inputs {
  std::vector<const json*> ingresses;
  std::vector<const json*> classes;  // IngressClasses
  std::vector<const json*> services;
  std::vector<const json*> slices;  // EndpointSlices
  std::vector<const json*> secrets;
};

// True when this controller serves the Ingress: its class (spec.ingressClassName, else the
// kubernetes.io/ingress.class annotation) is an IngressClass of controller kControllerName, or
// it names none and one of ours is the default class.
bool handles(const json& ingress, const std::vector<const json*>& classes, const std::string& controller = kControllerName);

// Validates a kubernetes.io/tls Secret's tls.crt/tls.key (PEM, the key belongs to the
// certificate); on success fills cert (name left empty).
bool tls_from_secret(const json& secret, TlsCert& cert, std::string& why);

IngressConfig build_config(const Inputs& in, const std::string& controller = kControllerName);

struct RenderOptions {
  std::string dir = "/run/k3dpp/ingress";  // certs/<name>.pem live in dir/certs
  std::string pid_file = "/run/k3dpp/ingress/nginx.pid";
  std::string error_log = "/var/log/k3dpp-ingress.log";
  int http_port = 80;
  int https_port = 443;
  int worker_processes = 1;
  int worker_connections = 4096;
};

std::string render_nginx_conf(const IngressConfig& cfg, const RenderOptions& opts);

// An nginx server_name for a host: exact names as they are, "*.example.com" as a regex matching one
// label ("~^[^.]+\.example\.com$"), "" as "_".
std::string server_name(const std::string& host);

}  // namespace k3dpp::ingress
