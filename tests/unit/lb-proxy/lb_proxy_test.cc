// Ports file parsing and nginx.conf rendering (golden files in golden/).
// K3DPP_UPDATE_GOLDEN=1 rewrites the .conf files from the current renderer.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "common/files.h"
#include "lb-proxy/nginx_conf.h"
#include "lb-proxy/ports_config.h"

namespace lb = k3dpp::lb;

namespace {

std::string golden_path(const std::string& name) { return std::string(K3DPP_LB_GOLDEN_DIR) + "/" + name; }

void check_golden(const std::string& input, const std::string& expected) {
  auto cfg = lb::load_ports_config(golden_path(input));
  REQUIRE_MESSAGE(cfg.has_value(), (cfg ? "" : cfg.error().message));
  std::string got = lb::render_nginx_conf(*cfg);
  if (std::getenv("K3DPP_UPDATE_GOLDEN") != nullptr) {
    REQUIRE(k3dpp::files::write_atomic(golden_path(expected), got).has_value());
  }
  auto want = k3dpp::files::read(golden_path(expected));
  REQUIRE_MESSAGE(want.has_value(), "missing golden file " << expected);
  CHECK(got == *want);
}

std::string parse_error(const std::string& json) {
  auto cfg = lb::parse_ports_config(json);
  REQUIRE_FALSE(cfg.has_value());
  CHECK(cfg.error().is("Invalid"));
  return cfg.error().message;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("golden nginx.conf: one API server") { check_golden("api-one-server.json", "api-one-server.conf"); }

TEST_CASE("golden nginx.conf: three servers, node ports, udp and tcp on one port number") {
  check_golden("ha-nodeports-udp.json", "ha-nodeports-udp.conf");
}

TEST_CASE("golden nginx.conf: no ports still gives a loadable config") {
  check_golden("empty.json", "empty.conf");
}

TEST_CASE("parse: ports are sorted, protocol defaults to tcp, IPv6 upstreams keep brackets") {
  auto cfg = lb::parse_ports_config(
      R"({"ports":[{"listen":8080,"upstreams":["a:80"]},{"listen":53,"protocol":"udp","upstreams":["[::1]:53"]}]})");
  REQUIRE(cfg.has_value());
  REQUIRE(cfg->ports.size() == 2);
  CHECK(cfg->ports[0].listen == 53);
  CHECK(cfg->ports[0].protocol == lb::Protocol::kUdp);
  CHECK(cfg->ports[0].upstreams[0].address() == "[::1]:53");
  CHECK(cfg->ports[0].upstreams[0].host == "::1");
  CHECK(cfg->ports[1].protocol == lb::Protocol::kTcp);
  CHECK(cfg->ports[1].upstreams[0].address() == "a:80");
}

TEST_CASE("parse errors name the field and the problem") {
  CHECK(contains(parse_error("{\"ports\": ["), "invalid JSON"));
  CHECK(contains(parse_error("[]"), "must be a JSON object"));
  CHECK(contains(parse_error("{}"), "missing \"ports\" array"));
  CHECK(contains(parse_error(R"({"ports":{}})"), "ports: must be an array"));
  CHECK(contains(parse_error(R"({"port":[]})"), "unknown top-level field \"port\""));
  CHECK(contains(parse_error(R"({"ports":[{"listen":0,"upstreams":["a:1"]}]})"),
                 "ports[0].listen: port 0 is out of range 1-65535"));
  CHECK(contains(parse_error(R"({"ports":[{"listen":70000,"upstreams":["a:1"]}]})"), "port 70000 is out of range"));
  CHECK(contains(parse_error(R"({"ports":[{"listen":"6443","upstreams":["a:1"]}]})"),
                 "ports[0].listen: must be an integer port 1-65535, got \"6443\""));
  CHECK(contains(parse_error(R"({"ports":[{"upstreams":["a:1"]}]})"), "ports[0]: missing \"listen\""));
  CHECK(contains(parse_error(R"({"ports":[{"listen":1,"protocol":"sctp","upstreams":["a:1"]}]})"),
                 "ports[0].protocol: must be \"tcp\" or \"udp\", got \"sctp\""));
  CHECK(contains(parse_error(R"({"ports":[{"listen":1,"upstreams":[]}]})"),
                 "ports[0].upstreams: must list at least one"));
  CHECK(contains(parse_error(R"({"ports":[{"listen":1}]})"), "ports[0]: missing \"upstreams\""));
  CHECK(contains(parse_error(R"({"ports":[{"listen":1,"upstream":["a:1"]}]})"),
                 "ports[0]: unknown field \"upstream\""));
  CHECK(contains(parse_error(R"({"ports":[{"listen":1,"upstreams":["server-0"]}]})"),
                 "ports[0].upstreams[0]: \"server-0\" is not host:port"));
  CHECK(contains(parse_error(R"({"ports":[{"listen":1,"upstreams":["a:1","b:http"]}]})"),
                 "ports[0].upstreams[1]: port \"http\" in \"b:http\" is not a number 1-65535"));
  CHECK(contains(parse_error(R"({"ports":[{"listen":1,"upstreams":["bad host:1"]}]})"),
                 "\"bad host\" is not a valid host name"));
  CHECK(contains(parse_error(R"({"ports":[{"listen":1,"upstreams":["[zz::1]:1"]}]})"), "is not an IPv6 address"));
  CHECK(contains(parse_error(R"({"ports":[{"listen":1,"upstreams":[42]}]})"), "must be a string"));
  CHECK(contains(parse_error(R"({"ports":[{"listen":1,"upstreams":["a:1","a:1"]}]})"),
                 "ports[0].upstreams[1]: duplicate upstream \"a:1\""));
  CHECK(contains(parse_error(R"({"ports":[{"listen":1,"upstreams":["a:1"]},{"listen":1,"upstreams":["b:1"]}]})"),
                 "ports[1]: port 1/tcp is listed twice"));
}

TEST_CASE("load: a missing file is an error naming the path") {
  auto cfg = lb::load_ports_config("/nonexistent/k3dpp/ports.json");
  REQUIRE_FALSE(cfg.has_value());
  CHECK(contains(cfg.error().message, "/nonexistent/k3dpp/ports.json"));
}

TEST_CASE("render: unusable upstreams are left out; a port with none gets a down placeholder") {
  auto cfg = lb::parse_ports_config(
      R"({"ports":[{"listen":6443,"upstreams":["s0:6443","s1:6443"]},{"listen":30050,"upstreams":["s1:30050"]}]})");
  REQUIRE(cfg.has_value());
  std::string conf = lb::render_nginx_conf(*cfg, {}, [](const lb::Upstream& u) { return u.host != "s1"; });
  CHECK(contains(conf, "    server s0:6443 max_fails=1 fail_timeout=10s;\n"));
  CHECK_FALSE(contains(conf, "    server s1:6443"));
  CHECK(contains(conf, "    # server s1:6443;  (not resolvable yet)\n"));
  CHECK(contains(conf,
                 "  upstream port_30050_tcp {\n"
                 "    # server s1:30050;  (not resolvable yet)\n"
                 "    server 127.0.0.1:1 down;  # placeholder: no upstream available\n"
                 "  }\n"));
}

TEST_CASE("render options change the module path, pid file and header") {
  lb::RenderOptions opts;
  opts.stream_module = "/opt/nginx/stream.so";
  opts.pid_file = "/tmp/x.pid";
  opts.source = "/tmp/ports.json";
  std::string conf = lb::render_nginx_conf(lb::PortsConfig{}, opts);
  CHECK(contains(conf, "load_module /opt/nginx/stream.so;\n"));
  CHECK(contains(conf, "pid /tmp/x.pid;\n"));
  CHECK(contains(conf, "from /tmp/ports.json."));
}

TEST_CASE("settings.workerConnections (cluster create --lb-config-override) reaches nginx.conf") {
  auto cfg = lb::parse_ports_config(
      R"({"ports":[{"listen":6443,"upstreams":["s0:6443"]}],"settings":{"workerConnections":2048}})");
  REQUIRE(cfg.has_value());
  CHECK(cfg->worker_connections == 2048);
  CHECK(contains(lb::render_nginx_conf(*cfg), "  worker_connections 2048;\n"));
  auto plain = lb::parse_ports_config(R"({"ports":[]})");
  REQUIRE(plain.has_value());
  CHECK(contains(lb::render_nginx_conf(*plain), "  worker_connections 4096;\n"));
  CHECK(contains(parse_error(R"({"ports":[],"settings":{"workerConnections":0}})"),
                 "settings.workerConnections: must be an integer in 1-65535"));
  CHECK(contains(parse_error(R"({"ports":[],"settings":{"defaultProxyTimeout":5}})"), "settings: unknown field"));
  CHECK(contains(parse_error(R"({"ports":[],"settings":[]})"), "settings: must be an object"));
}
