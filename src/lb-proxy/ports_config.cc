#include "lb-proxy/ports_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/files.h"
#include "common/strings.h"

namespace k3dpp::lb {
namespace {

using nlohmann::json;

Unexpected<Error> invalid(const std::string& where, const std::string& what) {
  return fail(where + ": " + what, "Invalid");
}

bool valid_port(long long p) { return p >= 1 && p <= 65535; }

// RFC 1123 host names plus '_' (docker allows it in container names).
bool valid_hostname(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  for (const auto& label : strings::split(h, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_';
      if (!ok) return false;
    }
  }
  return true;
}

std::string json_quote(const std::string& s) { return json(s).dump(); }

Result<int> parse_listen(const json& v, const std::string& where) {
  if (!v.is_number_integer()) return invalid(where, "must be an integer port 1-65535, got " + v.dump());
  long long p = v.get<long long>();
  if (!valid_port(p)) return invalid(where, "port " + std::to_string(p) + " is out of range 1-65535");
  return static_cast<int>(p);
}

Result<PortSpec> parse_port(const json& entry, const std::string& where) {
  if (!entry.is_object()) return invalid(where, "must be an object, got " + entry.dump());
  static const std::set<std::string> kKnown = {"listen", "protocol", "upstreams"};
  for (const auto& [key, _] : entry.items()) {
    if (!kKnown.count(key)) {
      return invalid(where, "unknown field " + json_quote(key) + " (known: listen, protocol, upstreams)");
    }
  }
  PortSpec spec;
  if (!entry.contains("listen")) return invalid(where, "missing \"listen\"");
  auto listen = parse_listen(entry["listen"], where + ".listen");
  if (!listen) return unexpected(listen.error());
  spec.listen = *listen;

  if (entry.contains("protocol")) {
    const json& p = entry["protocol"];
    std::string proto = p.is_string() ? strings::to_lower(p.get<std::string>()) : "";
    if (proto == "tcp") {
      spec.protocol = Protocol::kTcp;
    } else if (proto == "udp") {
      spec.protocol = Protocol::kUdp;
    } else {
      return invalid(where + ".protocol", "must be \"tcp\" or \"udp\", got " + p.dump());
    }
  }

  if (!entry.contains("upstreams")) return invalid(where, "missing \"upstreams\"");
  const json& ups = entry["upstreams"];
  if (!ups.is_array()) return invalid(where + ".upstreams", "must be an array of \"host:port\"");
  if (ups.empty()) return invalid(where + ".upstreams", "must list at least one \"host:port\"");
  for (size_t i = 0; i < ups.size(); ++i) {
    std::string uw = where + ".upstreams[" + std::to_string(i) + "]";
    if (!ups[i].is_string()) return invalid(uw, "must be a string \"host:port\", got " + ups[i].dump());
    auto up = parse_upstream(ups[i].get<std::string>());
    if (!up) return unexpected(up.error().wrap(uw));
    if (std::find(spec.upstreams.begin(), spec.upstreams.end(), *up) != spec.upstreams.end()) {
      return invalid(uw, "duplicate upstream " + json_quote(up->address()));
    }
    spec.upstreams.push_back(*up);
  }
  return spec;
}

}  // namespace

std::string to_string(Protocol p) { return p == Protocol::kUdp ? "udp" : "tcp"; }

std::string Upstream::address() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<Upstream> parse_upstream(const std::string& text) {
  Upstream up;
  std::string host;
  std::string port;
  if (strings::starts_with(text, "[")) {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(json_quote(text) + " is not [ipv6]:port", "Invalid");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr a6{};
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
      return fail(json_quote(host) + " is not an IPv6 address", "Invalid");
    }
    up.ipv6 = true;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return fail(json_quote(text) + " is not host:port", "Invalid");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (!valid_hostname(host)) return fail(json_quote(host) + " is not a valid host name or IPv4 address", "Invalid");
  }
  long long p = 0;
  if (!strings::parse_int(port, p) || !valid_port(p)) {
    return fail("port " + json_quote(port) + " in " + json_quote(text) + " is not a number 1-65535", "Invalid");
  }
  up.host = host;
  up.port = static_cast<int>(p);
  return up;
}

Result<PortsConfig> parse_ports_config(const std::string& json_text) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::parse_error& e) {
    return fail(std::string("invalid JSON: ") + e.what(), "Invalid");
  }
  if (!doc.is_object()) return fail("the ports file must be a JSON object {\"ports\": [...]}", "Invalid");
  for (const auto& [key, _] : doc.items()) {
    if (key != "ports" && key != "settings") return invalid("ports file", "unknown top-level field " + json_quote(key));
  }
  int worker_connections = 0;
  if (doc.contains("settings")) {
    const json& s = doc["settings"];
    if (!s.is_object()) return invalid("settings", "must be an object, got " + s.dump());
    for (const auto& [key, value] : s.items()) {
      if (key != "workerConnections") return invalid("settings", "unknown field " + json_quote(key));
      if (!value.is_number_integer() || value.get<long long>() < 1 || value.get<long long>() > 65535) {
        return invalid("settings.workerConnections", "must be an integer in 1-65535, got " + value.dump());
      }
      worker_connections = value.get<int>();
    }
  }
  if (!doc.contains("ports")) return invalid("ports file", "missing \"ports\" array");
  const json& ports = doc["ports"];
  if (!ports.is_array()) return invalid("ports", "must be an array, got " + ports.dump());

  PortsConfig cfg;
  cfg.worker_connections = worker_connections;
  std::set<std::pair<int, Protocol>> seen;
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string where = "ports[" + std::to_string(i) + "]";
    auto spec = parse_port(ports[i], where);
    if (!spec) return unexpected(spec.error());
    if (!seen.insert({spec->listen, spec->protocol}).second) {
      return invalid(where, "port " + std::to_string(spec->listen) + "/" + to_string(spec->protocol) +
                                " is listed twice");
    }
    cfg.ports.push_back(std::move(*spec));
  }
  std::stable_sort(cfg.ports.begin(), cfg.ports.end(), [](const PortSpec& a, const PortSpec& b) {
    return std::pair(a.listen, a.protocol) < std::pair(b.listen, b.protocol);
  });
  return cfg;
}

Result<PortsConfig> load_ports_config(const std::string& path) {
  auto text = files::read(path);
  if (!text) return unexpected(text.error());
  auto cfg = parse_ports_config(*text);
  if (!cfg) return unexpected(cfg.error().wrap(path));
  return cfg;
}

}  // namespace k3dpp::lb
