#include <doctest/doctest.h>

#include "cluster/parse.h"

using namespace k3dpp::cluster;

namespace {
std::vector<FilterNode> cluster_1_3() {
  return {{Role::kServer, 0, "s0"}, {Role::kAgent, 0, "a0"}, {Role::kAgent, 1, "a1"}, {Role::kAgent, 2, "a2"},
          {Role::kLoadBalancer, 0, "lb"}};
}
}  // namespace

TEST_CASE("cluster names are DNS-1123 labels of at most 32 characters") {
  CHECK(validate_cluster_name("dev"));
  CHECK(validate_cluster_name("dev-cluster"));
  CHECK(validate_cluster_name("a1"));
  CHECK(validate_cluster_name(std::string(32, 'a')));
  auto too_long = validate_cluster_name(std::string(33, 'a'));
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().message.find("too long (33 > 32") != std::string::npos);
  auto upper = validate_cluster_name("Dev");
  REQUIRE_FALSE(upper);
  CHECK(upper.error().message ==
        "cluster name 'Dev' is not a valid DNS-1123 label: only lower-case letters, digits and '-' are allowed");
  CHECK_FALSE(validate_cluster_name("-dev"));
  CHECK_FALSE(validate_cluster_name("dev-"));
  CHECK_FALSE(validate_cluster_name("dev_x"));
  CHECK_FALSE(validate_cluster_name("dev.x"));
  CHECK_FALSE(validate_cluster_name(""));
  CHECK(validate_cluster_name("").error().is("Invalid"));
}

TEST_CASE("node filters: groups, indices, lists, ranges, suffixes") {
  auto f = parse_node_filter("server:0");
  REQUIRE(f);
  CHECK(f->group == "server");
  CHECK_FALSE(f->all_indices);
  CHECK(f->indices == std::vector<int>{0});

  f = parse_node_filter("servers:*");
  REQUIRE(f);
  CHECK(f->group == "server");
  CHECK(f->all_indices);

  f = parse_node_filter("agent:1,2");
  REQUIRE(f);
  CHECK(f->indices == std::vector<int>{1, 2});
  f = parse_node_filter("agents:0-2");
  REQUIRE(f);
  CHECK(f->indices == std::vector<int>{0, 1, 2});
  f = parse_node_filter("agents:2,0-1");
  REQUIRE(f);
  CHECK(f->indices == std::vector<int>{0, 1, 2});
  f = parse_node_filter("loadbalancer");
  REQUIRE(f);
  CHECK(f->group == "loadbalancer");
  f = parse_node_filter("all");
  REQUIRE(f);
  CHECK(f->group == "all");
  f = parse_node_filter("server:0:direct");
  REQUIRE(f);
  CHECK(f->suffix == "direct");

  CHECK_FALSE(parse_node_filter("master:0"));
  CHECK(parse_node_filter("master:0").error().message.find("group must be one of") != std::string::npos);
  CHECK_FALSE(parse_node_filter("agent:x"));
  CHECK_FALSE(parse_node_filter("agent:2-1"));
  CHECK_FALSE(parse_node_filter("agent:"));
  CHECK_FALSE(parse_node_filter("loadbalancer:0"));
  CHECK_FALSE(parse_node_filter("server:0:weird"));
}

TEST_CASE("node filters resolve against nodes; a filter matching nothing is an error") {
  auto nodes = cluster_1_3();
  auto r = resolve_filter(*parse_node_filter("agents:0-1"), nodes);
  REQUIRE(r);
  CHECK(*r == std::vector<std::string>{"a0", "a1"});
  r = resolve_filter(*parse_node_filter("all"), nodes);
  REQUIRE(r);
  CHECK(r->size() == 5);
  r = resolve_filter(*parse_node_filter("server:*"), nodes);
  REQUIRE(r);
  CHECK(*r == std::vector<std::string>{"s0"});
  auto bad = resolve_filter(*parse_node_filter("server:1"), nodes);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "node filter 'server:1' matches no node (cluster has 1 server(s), 3 agent(s))");
  auto partial = resolve_filter(*parse_node_filter("agent:2,3"), nodes);
  REQUIRE_FALSE(partial);
  CHECK(partial.error().message.find("names a node that does not exist") != std::string::npos);
  std::vector<FilterNode> no_agents{{Role::kServer, 0, "s0"}};
  CHECK_FALSE(resolve_filter(*parse_node_filter("agents:*"), no_agents));
}

TEST_CASE("-p specs: [HOST:][HOSTPORT:]CONTAINERPORT[/proto][@filter]") {
  auto p = parse_port_mapping("30050:30050@server:0");
  REQUIRE(p);
  CHECK(p->host_ip == "");
  CHECK(p->host_port == 30050);
  CHECK(p->container_port == 30050);
  CHECK(p->protocol == "tcp");
  REQUIRE(p->filters.size() == 1);
  CHECK(p->filters[0].group == "server");

  p = parse_port_mapping("8080:80");
  REQUIRE(p);
  CHECK(p->filters[0].group == "loadbalancer");  // k3d's default

  p = parse_port_mapping("127.0.0.1:8443:443/udp@agent:0");
  REQUIRE(p);
  CHECK(p->host_ip == "127.0.0.1");
  CHECK(p->host_port == 8443);
  CHECK(p->container_port == 443);
  CHECK(p->protocol == "udp");

  p = parse_port_mapping("80");
  REQUIRE(p);
  CHECK(p->host_port == 0);
  CHECK(p->container_port == 80);

  p = parse_port_mapping("0.0.0.0::80");
  REQUIRE(p);
  CHECK(p->host_ip == "0.0.0.0");
  CHECK(p->host_port == 0);

  p = parse_port_mapping("localhost:8080:80");
  REQUIRE(p);
  CHECK(p->host_ip == "127.0.0.1");

  p = parse_port_mapping("8080:80@server:0;agent:*");
  REQUIRE(p);
  CHECK(p->filters.size() == 2);

  auto bad = parse_port_mapping("70000:80");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "invalid port mapping '70000:80': host port 70000 is out of range (1-65535)");
  CHECK(parse_port_mapping("8080:0").error().message ==
        "invalid port mapping '8080:0': container port 0 is out of range (1-65535)");
  CHECK(parse_port_mapping("8080:80/sctp").error().message == "invalid port mapping '8080:80/sctp': protocol must be tcp or udp");
  CHECK_FALSE(parse_port_mapping("abc"));
  CHECK_FALSE(parse_port_mapping("8080:80@"));
  CHECK_FALSE(parse_port_mapping("8080:80@nodes:0"));
  CHECK_FALSE(parse_port_mapping("1.2.3.4:5:6:7"));
  CHECK_FALSE(parse_port_mapping("host.example:80:80"));
  CHECK_FALSE(parse_port_mapping("8080-8090:80"));
  CHECK_FALSE(parse_port_mapping(""));
}

TEST_CASE("-p resolution follows k3d v5: LB forwards to the filtered nodes") {
  auto nodes = cluster_1_3();
  auto rp = resolve_port(*parse_port_mapping("30050:30050@server:0"), nodes, true);
  REQUIRE(rp);
  CHECK(rp->nodes == std::vector<std::string>{"s0"});
  CHECK_FALSE(rp->direct);
  rp = resolve_port(*parse_port_mapping("8080:80@loadbalancer"), nodes, true);
  REQUIRE(rp);
  CHECK(rp->nodes == std::vector<std::string>{"s0", "a0", "a1", "a2"});
  rp = resolve_port(*parse_port_mapping("8080:80@agent:1;agent:1,2"), nodes, true);
  REQUIRE(rp);
  CHECK(rp->nodes == std::vector<std::string>{"a1", "a2"});
  rp = resolve_port(*parse_port_mapping("8080:80@agent:0:direct"), nodes, true);
  REQUIRE(rp);
  CHECK(rp->direct);
  auto bad = resolve_port(*parse_port_mapping("8080:80@agent:5"), nodes, true);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message ==
        "port mapping '8080:80@agent:5': node filter 'agent:5' matches no node (cluster has 1 server(s), 3 agent(s))");
  CHECK_FALSE(resolve_port(*parse_port_mapping("8080:80"), {{Role::kServer, 0, "s0"}}, false));
}

TEST_CASE("--api-port and -v") {
  auto a = parse_api_port("6550");
  REQUIRE(a);
  CHECK(a->host_ip == "127.0.0.1");
  CHECK(a->host_port == 6550);
  a = parse_api_port("0.0.0.0:6550");
  REQUIRE(a);
  CHECK(a->host_ip == "0.0.0.0");
  CHECK_FALSE(parse_api_port("0"));
  CHECK_FALSE(parse_api_port("65536"));
  CHECK_FALSE(parse_api_port("x:1"));
  CHECK(parse_api_port("99999").error().message == "invalid --api-port '99999': API port 99999 is out of range (1-65535)");

  auto v = parse_volume("/tmp/data:/data@agent:0");
  REQUIRE(v);
  CHECK(v->host_path == "/tmp/data");
  CHECK(v->node_path == "/data");
  CHECK(v->filters[0].group == "agent");
  v = parse_volume("/tmp/x:/x:ro");
  REQUIRE(v);
  CHECK(v->mode == "ro");
  CHECK(v->filters[0].group == "all");
  CHECK_FALSE(parse_volume("/x:/y:zz"));
}

TEST_CASE("k3d's -v forms: DEST only, DEST:MODE, named volumes, relative paths") {
  auto v = parse_volume("/data");
  REQUIRE(v);
  CHECK(v->host_path.empty());
  CHECK(v->node_path == "/data");
  v = parse_volume("/data:ro@server:0");
  REQUIRE(v);
  CHECK(v->host_path.empty());
  CHECK(v->mode == "ro");
  CHECK(v->filters[0].group == "server");
  v = parse_volume("myvol:/data");
  REQUIRE(v);
  CHECK(v->host_path == "myvol");
  v = parse_volume("./dir:/data:rw");
  REQUIRE(v);
  CHECK(v->host_path == "./dir");
  CHECK(parse_volume("bad name:/x").error().message ==
        "invalid volume 'bad name:/x': 'bad name' is neither a path nor a volume name");
  CHECK(parse_volume("/x:relative").error().message == "invalid volume '/x:relative': node path must be absolute");
  CHECK_FALSE(parse_volume(":/x"));
  CHECK_FALSE(parse_volume(""));
  CHECK_FALSE(parse_volume("a:b:c:d"));
}

TEST_CASE("port ranges expand into one mapping per port") {
  auto r = parse_port_mappings("8080-8082:80-82@agent:0");
  REQUIRE(r);
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].host_port == 8080);
  CHECK((*r)[0].container_port == 80);
  CHECK((*r)[2].host_port == 8082);
  CHECK((*r)[2].container_port == 82);
  CHECK((*r)[1].filters[0].group == "agent");
  CHECK((*r)[1].text == "8081:81@agent:0");
  r = parse_port_mappings("30000-30001/udp");
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  CHECK((*r)[1].host_port == 0);
  CHECK((*r)[1].container_port == 30001);
  CHECK((*r)[1].protocol == "udp");
  r = parse_port_mappings("127.0.0.1:9000-9001:90-91");
  REQUIRE(r);
  CHECK((*r)[1].host_ip == "127.0.0.1");
  CHECK((*r)[1].host_port == 9001);
  r = parse_port_mappings("8080:80");
  REQUIRE(r);
  CHECK(r->size() == 1);
  CHECK(parse_port_mappings("8080-8085:80-81").error().message ==
        "invalid port mapping '8080-8085:80-81': host and container port ranges differ in size");
  CHECK_FALSE(parse_port_mappings("1-2000"));
  CHECK_FALSE(parse_port_mappings("90-80"));
  CHECK_FALSE(parse_port_mappings("80-x"));
}

TEST_CASE("filtered values: env, labels, k3s args with node filters after the last '@'") {
  auto f = parse_filtered("HTTP_PROXY=http://u@proxy:3128@server:0;agent:1", "all", "env");
  REQUIRE(f);
  CHECK(f->value == "HTTP_PROXY=http://u@proxy:3128");
  REQUIRE(f->filters.size() == 2);
  CHECK(f->filters[1].group == "agent");
  f = parse_filtered("FOO=bar", "all", "env");
  REQUIRE(f);
  CHECK(f->filters[0].group == "all");
  CHECK(parse_filtered("@server:0", "all", "env").error().message == "invalid env '@server:0': empty value");
  CHECK_FALSE(parse_filtered("a=b@nodes:0", "all", "env"));
  CHECK(validate_env("A=b"));
  CHECK(validate_env("A"));
  CHECK_FALSE(validate_env("=b"));
  CHECK_FALSE(validate_env("A B=c"));
  CHECK(validate_label("foo=bar", "node label"));
  CHECK(validate_label("example.com/tier=web", "node label"));
  CHECK(validate_label("flag", "node label"));
  CHECK_FALSE(validate_label("-foo=bar", "node label"));
  CHECK_FALSE(validate_label("foo=bar baz", "node label"));
  CHECK_FALSE(validate_label(std::string(64, 'a') + "=x", "node label"));
}

TEST_CASE("memory, ulimits, host aliases, subnets, tokens, LB overrides") {
  CHECK(*parse_memory("512m") == 512LL * 1024 * 1024);
  CHECK(*parse_memory("1g") == 1024LL * 1024 * 1024);
  CHECK(*parse_memory("1.5G") == 1536LL * 1024 * 1024);
  CHECK(*parse_memory("8192k") == 8192LL * 1024);
  CHECK(*parse_memory("1gb") == 1024LL * 1024 * 1024);
  CHECK(*parse_memory("104857600") == 104857600);
  CHECK(parse_memory("1m").error().message == "memory limit '1m' is below docker's minimum of 6m");
  CHECK_FALSE(parse_memory("lots"));
  CHECK_FALSE(parse_memory("1..2g"));
  CHECK_FALSE(parse_memory(""));
  CHECK_FALSE(parse_memory(std::string(40, '9')));
  CHECK_FALSE(parse_memory("99999999t"));

  auto u = parse_ulimit("nofile=1024:2048");
  REQUIRE(u);
  CHECK(u->first == "nofile");
  CHECK(u->second.first == 1024);
  CHECK(u->second.second == 2048);
  u = parse_ulimit("nproc=500");
  REQUIRE(u);
  CHECK(u->second.second == 500);
  CHECK(parse_ulimit("nofiles=1").error().message == "invalid ulimit 'nofiles=1': unknown name 'nofiles'");
  CHECK_FALSE(parse_ulimit("nofile=2048:1024"));
  CHECK_FALSE(parse_ulimit("nofile"));
  CHECK_FALSE(parse_ulimit("nofile=a:b"));

  auto h = parse_host_alias("1.2.3.4:my.host.local,that.other.local");
  REQUIRE(h);
  CHECK(h->ip == "1.2.3.4");
  CHECK(h->hostnames == std::vector<std::string>{"my.host.local", "that.other.local"});
  CHECK_FALSE(parse_host_alias("1.2.3.4"));
  CHECK_FALSE(parse_host_alias("host:1.2.3.4"));
  CHECK_FALSE(parse_host_alias("1.2.3.4:bad_name!"));

  CHECK(validate_subnet("172.28.0.0/16"));
  CHECK_FALSE(validate_subnet("172.28.0.0"));
  CHECK_FALSE(validate_subnet("172.28.0.0/33"));
  CHECK_FALSE(validate_subnet("fd00::/64"));
  CHECK(validate_token("superSecretToken"));
  CHECK_FALSE(validate_token(""));
  CHECK_FALSE(validate_token("has space"));
  CHECK_FALSE(validate_token(std::string(257, 'a')));

  auto lb = parse_lb_overrides({"settings.workerConnections=2048"});
  REQUIRE(lb);
  CHECK(lb->worker_connections == 2048);
  CHECK(parse_lb_overrides({"settings.defaultProxyTimeout=900"}).error().message.find("not supported by k3dpp") !=
        std::string::npos);
  CHECK_FALSE(parse_lb_overrides({"settings.workerConnections=0"}));
}
