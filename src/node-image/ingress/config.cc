#include "ingress/config.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "pki/pki.h"

namespace k3dpp::ingress {
namespace {

const json& field(const json& obj, const char* key) {
  static const json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

std::string str(const json& obj, const char* key) {
  const json& v = field(obj, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::string meta(const json& obj, const char* key) { return str(field(obj, "metadata"), key); }

std::string annotation(const json& obj, const char* key) {
  return str(field(field(obj, "metadata"), "annotations"), key);
}

const json& array_at(const json& obj, const char* key) {
  static const json kEmpty = json::array();
  const json& v = field(obj, key);
  return v.is_array() ? v : kEmpty;
}

// Standard base64 (Secret data) through OpenSSL; nullopt-like empty + false on bad input.
bool base64_decode(const std::string& in, std::string& out) {
  if (in.empty()) {
    out.clear();
    return true;
  }
  if (in.size() % 4 != 0) return false;
  std::string buf(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return false;
  size_t pad = 0;
  if (in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  buf.resize(static_cast<size_t>(n) - pad);
  out = std::move(buf);
  return true;
}

// Characters a path may carry into nginx.conf (inside double quotes): RFC 3986 pchar plus '/'
// and '%'. Anything else (quotes, backslashes, blanks, braces, control bytes) is refused here, so
// no Ingress can change the configuration's structure.
bool safe_path(const std::string& p) {
  if (p.empty() || p[0] != '/' || p.size() > 1024) return false;
  for (unsigned char c : p) {
    if (std::isalnum(c)) continue;
    if (std::string_view("/-._~!$&'()*+,;=:@%").find(static_cast<char>(c)) == std::string_view::npos) return false;
  }
  return true;
}

bool safe_host(const std::string& h) {
  if (h.size() > 253) return false;
  for (size_t i = 0; i < h.size(); ++i) {
    unsigned char c = h[i];
    if (std::islower(c) || std::isdigit(c) || c == '-' || c == '.') continue;
    if (c == '*' && i == 0 && h.size() > 2 && h[1] == '.') continue;
    return false;
  }
  return !h.empty();
}

bool is_wildcard(const std::string& host) { return host.size() > 2 && host[0] == '*' && host[1] == '.'; }

// A TLS entry's host covers a rule host when equal, or when it is "*.d" and the host is one label
// under d.
bool tls_covers(const std::string& tls_host, const std::string& host) {
  if (tls_host == host) return true;
  if (!is_wildcard(tls_host) || is_wildcard(host)) return false;
  const std::string suffix = tls_host.substr(1);  // ".d"
  if (host.size() <= suffix.size() || host.compare(host.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  return host.substr(0, host.size() - suffix.size()).find('.') == std::string::npos;
}

std::string ingress_key(const json& ing) { return meta(ing, "namespace") + "/" + meta(ing, "name"); }

std::string class_of(const json& ing) {
  const std::string c = str(field(ing, "spec"), "ingressClassName");
  return c.empty() ? annotation(ing, "kubernetes.io/ingress.class") : c;
}

struct Catalog {
  std::map<std::string, const json*> services;               // ns/name
  std::map<std::string, std::vector<const json*>> slices;    // ns/service
  std::map<std::string, const json*> secrets;                // ns/name
};

std::string sanitize(std::string s) {
  for (auto& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  }
  return s;
}

}  // namespace

bool handles(const json& ingress, const std::vector<const json*>& classes, const std::string& controller) {
  const std::string cls = class_of(ingress);
  for (const json* c : classes) {
    if (!c || str(field(*c, "spec"), "controller") != controller) continue;
    if (cls.empty() ? annotation(*c, kDefaultClassAnnotation) == "true" : meta(*c, "name") == cls) return true;
  }
  return false;
}

bool tls_from_secret(const json& secret, TlsCert& cert, std::string& why) {
  if (str(secret, "type") != "kubernetes.io/tls") {
    why = "is not of type kubernetes.io/tls";
    return false;
  }
  const json& data = field(secret, "data");
  std::string crt, key;
  if (!data.is_object() || !data.contains("tls.crt") || !data.contains("tls.key") || !data["tls.crt"].is_string() ||
      !data["tls.key"].is_string() || !base64_decode(data["tls.crt"].get<std::string>(), crt) ||
      !base64_decode(data["tls.key"].get<std::string>(), key)) {
    why = "has no valid tls.crt and tls.key";
    return false;
  }
  auto fp = pki::fingerprint_sha256(crt);
  if (!fp) {
    why = "tls.crt is not a PEM certificate";
    return false;
  }
  if (!pki::key_matches(crt, key)) {
    why = "tls.key is not the private key of tls.crt";
    return false;
  }
  cert.cert_pem = std::move(crt);
  cert.key_pem = std::move(key);
  cert.fingerprint = *fp;
  return true;
}

IngressConfig build_config(const Inputs& in, const std::string& controller) {
  IngressConfig cfg;
  Catalog cat;
  for (const json* s : in.services) {
    if (s) cat.services[meta(*s, "namespace") + "/" + meta(*s, "name")] = s;
  }
  for (const json* s : in.slices) {
    if (!s) continue;
    const std::string svc = str(field(field(*s, "metadata"), "labels"), "kubernetes.io/service-name");
    if (!svc.empty()) cat.slices[meta(*s, "namespace") + "/" + svc].push_back(s);
  }
  for (const json* s : in.secrets) {
    if (s) cat.secrets[meta(*s, "namespace") + "/" + meta(*s, "name")] = s;
  }

  std::vector<const json*> ours;
  for (const json* i : in.ingresses) {
    if (i && handles(*i, in.classes, controller) && meta(*i, "deletionTimestamp").empty()) ours.push_back(i);
  }
  std::sort(ours.begin(), ours.end(), [](const json* a, const json* b) {
    return std::make_tuple(meta(*a, "creationTimestamp"), meta(*a, "namespace"), meta(*a, "name")) <
           std::make_tuple(meta(*b, "creationTimestamp"), meta(*b, "namespace"), meta(*b, "name"));
  });

  std::map<std::string, Upstream> upstreams;
  // A backend of Ingress `ing` to a Route (upstream or the reason for 503).
  auto resolve = [&](const json& ing, const json& backend, Route& r) {
    const std::string ns = meta(ing, "namespace");
    r.source = ingress_key(ing);
    const json& svc_ref = field(backend, "service");
    if (!svc_ref.is_object()) {
      r.problem = "backend is not a service";
      return;
    }
    const std::string svc_name = str(svc_ref, "name");
    const json& port_ref = field(svc_ref, "port");
    const std::string port_name = str(port_ref, "name");
    const json& port_num = field(port_ref, "number");
    const int number = port_num.is_number_integer() ? port_num.get<int>() : 0;
    const std::string port_text = port_name.empty() ? std::to_string(number) : port_name;
    r.backend = ns + "/" + svc_name + ":" + port_text;
    auto sit = cat.services.find(ns + "/" + svc_name);
    if (sit == cat.services.end()) {
      r.problem = "service " + ns + "/" + svc_name + " not found";
      return;
    }
    const json* service_port = nullptr;
    for (const auto& p : array_at(field(*sit->second, "spec"), "ports")) {
      if (port_name.empty() ? (p.value("port", 0) == number) : (str(p, "name") == port_name)) {
        service_port = &p;
        break;
      }
    }
    if (!service_port) {
      r.problem = "service " + ns + "/" + svc_name + " has no port " + port_text;
      return;
    }
    const std::string sp_name = str(*service_port, "name");
    std::set<std::string> servers;
    for (const json* slice : cat.slices[ns + "/" + svc_name]) {
      int target = 0;
      for (const auto& p : array_at(*slice, "ports")) {
        if (str(p, "name") == sp_name && (str(p, "protocol").empty() || str(p, "protocol") == "TCP")) {
          target = p.value("port", 0);
        }
      }
      if (target <= 0 || target > 65535) continue;
      for (const auto& ep : array_at(*slice, "endpoints")) {
        const json& ready = field(field(ep, "conditions"), "ready");
        if (ready.is_boolean() && !ready.get<bool>()) continue;
        for (const auto& a : array_at(ep, "addresses")) {
          if (!a.is_string()) continue;
          const std::string ip = a.get<std::string>();
          if (!pki::is_ip(ip) || ip.find(':') != std::string::npos) continue;  // IPv4 only
          servers.insert(ip + ":" + std::to_string(target));
        }
      }
    }
    if (servers.empty()) {
      r.problem = "service " + ns + "/" + svc_name + " has no ready endpoints";
      return;
    }
    const std::string name = "upstream_" + sanitize(ns) + "_" + sanitize(svc_name) + "_" + sanitize(port_text);
    upstreams[name] = Upstream{name, {servers.begin(), servers.end()}};
    r.upstream = name;
  };

  std::map<std::string, VirtualHost> hosts;
  std::map<std::string, std::set<std::pair<bool, std::string>>> taken;  // host -> (exact, path)
  auto host_entry = [&](const std::string& host) -> VirtualHost& {
    auto it = hosts.find(host);
    if (it == hosts.end()) {
      it = hosts.emplace(host, VirtualHost{}).first;
      it->second.host = host;
    }
    return it->second;
  };
  host_entry("");

  for (const json* ing : ours) {
    const json& spec = field(*ing, "spec");
    const json& default_backend = field(spec, "defaultBackend");
    std::set<std::string> my_hosts;
    for (const auto& rule : array_at(spec, "rules")) {
      const std::string host = str(rule, "host");
      if (!host.empty() && !safe_host(host)) {
        cfg.warnings.push_back(ingress_key(*ing) + ": host \"" + host + "\" skipped");
        continue;
      }
      VirtualHost& vh = host_entry(host);
      my_hosts.insert(host);
      for (const auto& p : array_at(field(rule, "http"), "paths")) {
        const std::string type = str(p, "pathType");
        std::string path = str(p, "path");
        if (type == "ImplementationSpecific" && path.empty()) path = "/";
        if (!safe_path(path)) {
          cfg.warnings.push_back(ingress_key(*ing) + ": path \"" + path + "\" skipped (characters nginx cannot match safely)");
          continue;
        }
        Route r;
        r.exact = type == "Exact";
        if (!r.exact && type != "Prefix" && type != "ImplementationSpecific") continue;
        while (!r.exact && path.size() > 1 && path.back() == '/') path.pop_back();
        r.path = path;
        if (!taken[host].insert({r.exact, r.path}).second) continue;  // an older Ingress has it
        resolve(*ing, field(p, "backend"), r);
        vh.routes.push_back(std::move(r));
      }
    }
    if (default_backend.is_object()) {
      // The catch-all's fallback, and the fallback of the hosts this Ingress defines.
      if (!my_hosts.count("")) my_hosts.insert("");
      for (const auto& h : my_hosts) {
        VirtualHost& vh = host_entry(h);
        if (vh.has_fallback) continue;
        vh.has_fallback = true;
        vh.fallback.path = "/";
        resolve(*ing, default_backend, vh.fallback);
      }
    }
  }

  // TLS: per host, the first (oldest Ingress) entry that covers it with a usable Secret.
  std::map<std::string, TlsCert> certs;
  for (const json* ing : ours) {
    const std::string ns = meta(*ing, "namespace");
    for (const auto& t : array_at(field(*ing, "spec"), "tls")) {
      const std::string secret_name = str(t, "secretName");
      if (secret_name.empty()) continue;
      const std::string key = ns + "/" + secret_name;
      const std::string file = sanitize(ns) + "_" + sanitize(secret_name);
      bool usable = certs.count(file) > 0;
      if (!usable) {
        auto sit = cat.secrets.find(key);
        TlsCert c;
        std::string why = "not found";
        if (sit != cat.secrets.end() && tls_from_secret(*sit->second, c, why)) {
          c.name = file;
          certs[file] = std::move(c);
          usable = true;
        } else {
          cfg.warnings.push_back(ingress_key(*ing) + ": TLS secret " + key + " " + why + "; the default certificate is used");
        }
      }
      if (!usable) continue;
      for (auto& [h, vh] : hosts) {
        if (h.empty() || !vh.cert.empty()) continue;
        for (const auto& th : array_at(t, "hosts")) {
          if (th.is_string() && tls_covers(th.get<std::string>(), h)) {
            vh.cert = file;
            break;
          }
        }
      }
      // A TLS host without a rule still gets its certificate (served by the catch-all's routes).
      for (const auto& th : array_at(t, "hosts")) {
        if (!th.is_string()) continue;
        const std::string h = th.get<std::string>();
        if (!safe_host(h) || hosts.count(h)) continue;
        VirtualHost& vh = host_entry(h);
        vh.cert = file;
        vh.routes = hosts[""].routes;
        vh.has_fallback = hosts[""].has_fallback;
        vh.fallback = hosts[""].fallback;
      }
    }
  }

  std::set<std::string> used_certs;
  for (auto& [h, vh] : hosts) {
    if (!vh.cert.empty()) used_certs.insert(vh.cert);
    cfg.hosts.push_back(std::move(vh));
  }
  for (auto& [name, c] : certs) {
    if (used_certs.count(name)) cfg.certs.push_back(std::move(c));
  }
  for (auto& [name, u] : upstreams) cfg.upstreams.push_back(std::move(u));
  return cfg;
}

std::string server_name(const std::string& host) {
  if (host.empty()) return "_";
  if (!is_wildcard(host)) return host;
  std::string re = "~^[^.]+";
  for (char c : host.substr(1)) {
    if (c == '.') re += "\\";
    re += c;
  }
  return re + "$";
}

namespace {

void render_target(std::ostringstream& o, const Route& r, const char* indent) {
  if (r.upstream.empty()) {
    o << indent << "# " << r.problem << "\n" << indent << "return 503;\n";
  } else {
    o << indent << "proxy_pass http://" << r.upstream << ";\n";
  }
}

void render_location(std::ostringstream& o, const std::string& match, const Route& r) {
  o << "    location " << match << " {\n"
    << "      # " << r.source << " -> " << r.backend << "\n";
  render_target(o, r, "      ");
  o << "    }\n";
}

}  // namespace

std::string render_nginx_conf(const IngressConfig& cfg, const RenderOptions& opts) {
  std::ostringstream o;
  o << "# Generated by the k3dpp ingress controller (" << kControllerName << ") from the cluster's\n"
    << "# Ingresses. Do not edit: it is rewritten on every change.\n"
    << "daemon off;\n"
    << "worker_processes " << opts.worker_processes << ";\n"
    << "pid " << opts.pid_file << ";\n"
    << "error_log " << opts.error_log << " notice;\n"
    << "# A reload starts new workers; the old ones finish the requests they have.\n"
    << "worker_shutdown_timeout 60s;\n"
    << "\n"
    << "events {\n"
    << "  worker_connections " << opts.worker_connections << ";\n"
    << "}\n"
    << "\n"
    << "http {\n"
    << "  access_log off;\n"
    << "  server_tokens off;\n"
    << "  server_names_hash_bucket_size 128;\n"
    << "  server_names_hash_max_size 4096;\n"
    << "  client_max_body_size 0;\n"
    << "  client_body_temp_path " << opts.dir << "/tmp/body;\n"
    << "  proxy_temp_path " << opts.dir << "/tmp/proxy;\n"
    << "  fastcgi_temp_path " << opts.dir << "/tmp/fastcgi;\n"
    << "  uwsgi_temp_path " << opts.dir << "/tmp/uwsgi;\n"
    << "  scgi_temp_path " << opts.dir << "/tmp/scgi;\n"
    << "\n"
    << "  map $http_upgrade $connection_upgrade {\n"
    << "    default upgrade;\n"
    << "    '' '';\n"
    << "  }\n"
    << "  proxy_http_version 1.1;\n"
    << "  proxy_set_header Host $http_host;\n"
    << "  proxy_set_header Upgrade $http_upgrade;\n"
    << "  proxy_set_header Connection $connection_upgrade;\n"
    << "  proxy_set_header X-Real-IP $remote_addr;\n"
    << "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
    << "  proxy_set_header X-Forwarded-Host $host;\n"
    << "  proxy_set_header X-Forwarded-Proto $scheme;\n"
    << "  # Pods are on this network: a connect takes milliseconds. One that hangs is a pod whose\n"
    << "  # sandbox is gone before the reload that drops it; the next endpoint gets the request.\n"
    << "  proxy_connect_timeout 1s;\n"
    << "  proxy_send_timeout 60s;\n"
    << "  proxy_read_timeout 60s;\n"
    << "  proxy_buffering off;\n"
    << "  # An endpoint that refuses or resets (a pod going away during a rollout) costs a retry on\n"
    << "  # the next one, not a failed request. Endpoints are never marked down (max_fails=0): the\n"
    << "  # EndpointSlice says which are ready, and a reload follows every change.\n"
    << "  proxy_next_upstream error timeout http_502 http_503 http_504;\n"
    << "  proxy_next_upstream_tries 3;\n"
    << "  proxy_next_upstream_timeout 10s;\n"
    << "  ssl_protocols TLSv1.2 TLSv1.3;\n"
    << "  ssl_session_cache shared:k3dpp_ingress:1m;\n";
  for (const auto& u : cfg.upstreams) {
    o << "\n  upstream " << u.name << " {\n";
    for (const auto& s : u.servers) o << "    server " << s << " max_fails=0;\n";
    o << "    keepalive 32;\n"
      << "  }\n";
  }
  for (const auto& c : cfg.certs) o << "\n  # certificate " << c.name << " sha256 " << c.fingerprint << "\n";
  for (const auto& vh : cfg.hosts) {
    const bool catch_all = vh.host.empty();
    const std::string cert = opts.dir + "/certs/" + (vh.cert.empty() ? std::string("default") : vh.cert) + ".pem";
    o << "\n  server {\n";
    if (catch_all) {
      o << "    listen " << opts.http_port << " default_server;\n"
        << "    listen " << opts.https_port << " ssl default_server;\n";
    } else {
      o << "    listen " << opts.http_port << ";\n"
        << "    listen " << opts.https_port << " ssl;\n";
    }
    o << "    server_name " << (catch_all ? "_" : server_name(vh.host)) << ";\n"
      << "    ssl_certificate " << cert << ";\n"
      << "    ssl_certificate_key " << cert << ";\n";
    std::set<std::string> exact_paths;
    for (const auto& r : vh.routes) {
      if (r.exact) exact_paths.insert(r.path);
    }
    bool root = false;
    for (const auto& r : vh.routes) {
      if (r.exact) {
        render_location(o, "= \"" + r.path + "\"", r);
      } else if (r.path == "/") {
        root = true;
        render_location(o, "/", r);
      } else {
        if (!exact_paths.count(r.path)) render_location(o, "= \"" + r.path + "\"", r);
        render_location(o, "\"" + r.path + "/\"", r);
      }
    }
    if (!root) {
      if (vh.has_fallback) {
        Route fb = vh.fallback;
        fb.source += " (defaultBackend)";
        render_location(o, "/", fb);
      } else {
        o << "    location / {\n"
          << "      return 404;\n"
          << "    }\n";
      }
    }
    o << "  }\n";
  }
  o << "}\n";
  return o.str();
}

}  // namespace k3dpp::ingress
