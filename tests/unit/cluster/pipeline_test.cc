#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "cluster/operations.h"
#include "cluster/output.h"
#include "cluster/parse.h"
#include "cluster/pipeline.h"
#include "common/files.h"
#include "fake_runtime.h"
#include "test_data.h"

using namespace k3dpp;
using namespace k3dpp::cluster;
using k3dpp::testing::FakeRuntime;

namespace {

struct Env {
  FakeRuntime rt;
  HostProbes probes;
  std::set<uint16_t> busy_ports;
  bool api_up = true;
  bool nodes_ready = true;
  std::chrono::steady_clock::time_point clock{};
  std::vector<std::string> gets;
  std::string dir;

  Env() {
    char tmpl[] = "/tmp/k3dpp-pipe-XXXXXX";
    dir = ::mkdtemp(tmpl);
    rt.admin_kubeconfig = kAdminKubeconfig;
    probes.port_free = [this](const std::string&, uint16_t port, const std::string&) -> Status {
      if (busy_ports.count(port)) return fail("host port 0.0.0.0:" + std::to_string(port) + "/tcp is already in use", "Conflict");
      return {};
    };
    probes.pick_free_port = [](const std::string&) -> Result<uint16_t> { return static_cast<uint16_t>(45273); };
    probes.https_get = [this](const std::string& url, const ClientCreds& c) -> Result<HttpResponse> {
      gets.push_back(url);
      CHECK(c.cert_pem == "CERT-PEM");
      if (!api_up) return fail("connection refused", "Unavailable");
      if (url.find("/readyz") != std::string::npos) return HttpResponse{200, "ok"};
      std::string status = nodes_ready ? "True" : "False";
      return HttpResponse{200, R"({"status":{"conditions":[{"type":"Ready","status":")" + status + R"("}]}})"};
    };
    probes.sleep = [this](std::chrono::milliseconds d) { clock += d; };
    probes.now = [this] { return clock += std::chrono::milliseconds(1), clock; };
  }
  ~Env() { std::filesystem::remove_all(dir); }

  CreateOptions opts(const std::string& name, int servers = 1, int agents = 1) {
    CreateOptions o;
    o.spec.name = name;
    o.spec.servers = servers;
    o.spec.agents = agents;
    o.timeout = std::chrono::seconds(10);
    o.kubeconfig.path = dir + "/kubeconfig";
    return o;
  }
  size_t creates() const {
    size_t n = 0;
    for (const auto& c : rt.calls) {
      if (c.rfind("create_", 0) == 0) ++n;
    }
    return n;
  }
};

size_t index_of(const std::vector<std::string>& v, const std::string& s) {
  auto it = std::find(v.begin(), v.end(), s);
  REQUIRE_MESSAGE(it != v.end(), "call not found: " << s);
  return static_cast<size_t>(it - v.begin());
}

}  // namespace

TEST_CASE("create: network, volumes, nodes with token, LB with ports.json, ordered start, kubeconfig") {
  Env e;
  auto o = e.opts("t");
  o.spec.ports.push_back(*parse_port_mapping("30050:30050@server:0"));
  auto r = create_cluster(e.rt, o, e.probes);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(r->api_port == 45273);
  CHECK(e.rt.networks.count("k3dpp-t"));
  CHECK(e.rt.networks["k3dpp-t"].at("k3dpp.cluster") == "t");
  CHECK(e.rt.volumes.count("k3dpp-t-server-0-containerd"));
  CHECK(e.rt.volumes.count("k3dpp-t-agent-0-containerd"));
  REQUIRE(e.rt.containers.count("k3dpp-t-server-0"));
  REQUIRE(e.rt.containers.count("k3dpp-t-agent-0"));
  REQUIRE(e.rt.containers.count("k3dpp-t-serverlb"));
  auto& s0 = e.rt.containers["k3dpp-t-server-0"];
  auto& a0 = e.rt.containers["k3dpp-t-agent-0"];
  std::string token = s0.files.at("/etc/k3dpp/token");
  CHECK(token.size() == 64);
  CHECK(a0.files.at("/etc/k3dpp/token") == token);
  CHECK(s0.modes.at("/etc/k3dpp/token") == 0600);
  auto& lb = e.rt.containers["k3dpp-t-serverlb"];
  CHECK(lb.files.at("/etc/k3dpp-lb/ports.json") ==
        "{\"ports\":[{\"listen\":6443,\"protocol\":\"tcp\",\"upstreams\":[\"k3dpp-t-server-0:6443\"]},"
        "{\"listen\":30050,\"protocol\":\"tcp\",\"upstreams\":[\"k3dpp-t-server-0:30050\"]}]}\n");
  CHECK(lb.spec.labels.at("k3dpp.api.port") == "45273");
  REQUIRE(lb.spec.ports.size() == 2);
  CHECK(lb.spec.ports[1].host_port == 30050);
  CHECK(s0.spec.ports.empty());
  // Token and ports.json go in before start; servers, then agents, then helpers.
  auto& calls = e.rt.calls;
  CHECK(index_of(calls, "put_file:k3dpp-t-agent-0") < index_of(calls, "start_container:k3dpp-t-agent-0"));
  CHECK(index_of(calls, "put_file:k3dpp-t-serverlb") < index_of(calls, "start_container:k3dpp-t-serverlb"));
  CHECK(index_of(calls, "start_container:k3dpp-t-server-0") < index_of(calls, "start_container:k3dpp-t-agent-0"));
  CHECK(index_of(calls, "start_container:k3dpp-t-agent-0") < index_of(calls, "start_container:k3dpp-t-serverlb"));
  // Readiness through the LB's API port, then every node's Ready condition.
  REQUIRE(e.gets.size() >= 3);
  CHECK(e.gets[0] == "https://127.0.0.1:45273/readyz");
  CHECK(std::find(e.gets.begin(), e.gets.end(), "https://127.0.0.1:45273/api/v1/nodes/k3dpp-t-agent-0") != e.gets.end());
  auto kc = files::read(o.kubeconfig.path);
  REQUIRE(kc);
  CHECK(kc->find("current-context: k3dpp-t") != std::string::npos);
  CHECK(kc->find("server: https://127.0.0.1:45273") != std::string::npos);
}

TEST_CASE("create rolls back everything when any step fails") {
  const char* points[] = {"create_network",
                          "create_volume:k3dpp-t-agent-0-containerd",
                          "create_container:k3dpp-t-server-0",
                          "put_file:k3dpp-t-server-0",
                          "create_container:k3dpp-t-agent-0",
                          "put_file:k3dpp-t-agent-0",
                          "create_container:k3dpp-t-serverlb",
                          "put_file:k3dpp-t-serverlb",
                          "start_container:k3dpp-t-server-0",
                          "read_file:k3dpp-t-server-0",
                          "start_container:k3dpp-t-agent-0",
                          "start_container:k3dpp-t-serverlb"};
  for (const char* p : points) {
    CAPTURE(p);
    Env e;
    e.rt.fail_on = p;
    auto r = create_cluster(e.rt, e.opts("t"), e.probes);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("creating cluster 't'") == 0);
    CHECK(e.rt.leftovers().empty());
    CHECK_FALSE(files::exists(e.dir + "/kubeconfig"));
  }
}

TEST_CASE("create rolls back when the API never gets ready, nodes never Ready, or kubeconfig cannot be written") {
  {
    Env e;
    e.api_up = false;
    auto r = create_cluster(e.rt, e.opts("t"), e.probes);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("not ready in time") != std::string::npos);
    CHECK(e.rt.leftovers().empty());
  }
  {
    Env e;
    e.nodes_ready = false;
    auto r = create_cluster(e.rt, e.opts("t"), e.probes);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("node 'k3dpp-t-server-0' not Ready in time") != std::string::npos);
    CHECK(e.rt.leftovers().empty());
  }
  {
    Env e;
    e.nodes_ready = false;
    auto o = e.opts("t");
    o.wait = false;  // --wait=false: only the API readiness is awaited
    CHECK(create_cluster(e.rt, o, e.probes));
  }
  {
    Env e;
    auto o = e.opts("t");
    REQUIRE(files::write_atomic(e.dir + "/file", "x"));
    o.kubeconfig.path = e.dir + "/file/config";  // parent is a file
    auto r = create_cluster(e.rt, o, e.probes);
    REQUIRE_FALSE(r);
    CHECK(e.rt.leftovers().empty());
  }
}

TEST_CASE("--no-rollback keeps what was created") {
  Env e;
  e.rt.fail_on = "start_container:k3dpp-t-agent-0";
  auto o = e.opts("t");
  o.rollback = false;
  REQUIRE_FALSE(create_cluster(e.rt, o, e.probes));
  CHECK(e.rt.containers.size() == 3);
  // ...and cluster delete cleans it up, volumes and network included.
  REQUIRE(delete_cluster(e.rt, "t", o.kubeconfig));
  CHECK(e.rt.leftovers().empty());
}

TEST_CASE("bad input fails before anything is created, with one clear message") {
  struct Case {
    std::function<void(Env&, CreateOptions&)> setup;
    std::string message;
  };
  std::vector<Case> cases{
      {[](Env&, CreateOptions& o) { o.spec.name = "Bad_Name"; }, "cluster name 'Bad_Name' is not a valid DNS-1123 label"},
      {[](Env& e, CreateOptions&) { e.rt.engine_down = true; }, "cannot reach the container engine: cannot connect"},
      {[](Env& e, CreateOptions&) { e.rt.images.erase("k3dpp/node:" K3DPP_VERSION); },
       "image k3dpp/node:" K3DPP_VERSION " not found; build it with images/build.sh"},
      {[](Env& e, CreateOptions&) { e.rt.images.erase("k3dpp/lb:" K3DPP_VERSION); },
       "image k3dpp/lb:" K3DPP_VERSION " not found; build it with images/build.sh"},
      {[](Env&, CreateOptions& o) { o.spec.ports.push_back(*parse_port_mapping("8080:80@agent:3")); },
       "node filter 'agent:3' matches no node"},
      {[](Env& e, CreateOptions& o) {
         e.busy_ports.insert(30050);
         o.spec.ports.push_back(*parse_port_mapping("30050:30050@server:0"));
       },
       "-p 30050:30050@server:0: host port 0.0.0.0:30050/tcp is already in use"},
      {[](Env& e, CreateOptions& o) {
         e.busy_ports.insert(6550);
         o.spec.api = *parse_api_port("6550");
       },
       "--api-port: host port"},
      {[](Env&, CreateOptions& o) {
         o.spec.ports.push_back(*parse_port_mapping("8080:80"));
         o.spec.ports.push_back(*parse_port_mapping("8080:81"));
       },
       "host port 8080/tcp is used twice"},
      {[](Env&, CreateOptions& o) { o.spec.servers = 0; }, "a cluster needs at least 1 server"},
      {[](Env& e, CreateOptions&) { e.rt.networks["k3dpp-t"] = {}; }, "network 'k3dpp-t' already exists"},
      {[](Env&, CreateOptions& o) { o.spec.volumes.push_back(*parse_volume("/tmp:/x@agent:4")); },
       "node filter 'agent:4' matches no node"},
  };
  for (auto& c : cases) {
    CAPTURE(c.message);
    Env e;
    auto o = e.opts("t");
    c.setup(e, o);
    auto before = e.rt.networks.size();
    auto r = create_cluster(e.rt, o, e.probes);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(c.message) != std::string::npos);
    CHECK(e.creates() == 0);
    CHECK(e.rt.networks.size() == before);
    CHECK(e.rt.containers.empty());
  }
}

TEST_CASE("a duplicate cluster is refused and the first one is untouched") {
  Env e;
  REQUIRE(create_cluster(e.rt, e.opts("t"), e.probes));
  auto before = e.rt.leftovers();
  auto r = create_cluster(e.rt, e.opts("t"), e.probes);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "cluster 't' already exists");
  CHECK(e.rt.leftovers() == before);
}

TEST_CASE("list, stop, start, delete") {
  Env e;
  auto o = e.opts("dev-cluster");
  REQUIRE(create_cluster(e.rt, o, e.probes));
  REQUIRE(create_cluster(e.rt, e.opts("test-cluster", 1, 0), e.probes));
  auto cs = load_clusters(e.rt);
  REQUIRE(cs);
  CHECK(render_cluster_table(*cs) ==
        "NAME           SERVERS   AGENTS   LOADBALANCER\n"
        "dev-cluster    1/1       1/1      true\n"
        "test-cluster   1/1       0/0      true\n");
  CHECK(render_cluster_json(*cs).find("\"serversRunning\": 1") != std::string::npos);

  REQUIRE(stop_cluster(e.rt, "dev-cluster"));
  cs = load_clusters(e.rt);
  CHECK(render_cluster_table(*cs).find("dev-cluster    0/1       0/1      true") != std::string::npos);
  REQUIRE(start_cluster(e.rt, "dev-cluster", true, std::chrono::seconds(5), e.probes));
  CHECK(e.rt.containers["k3dpp-dev-cluster-agent-0"].state == "running");
  CHECK_FALSE(start_cluster(e.rt, "nope", false, std::chrono::seconds(5), e.probes));

  REQUIRE(delete_cluster(e.rt, "dev-cluster", o.kubeconfig));
  auto kc = files::read(o.kubeconfig.path);
  REQUIRE(kc);
  CHECK(kc->find("k3dpp-dev-cluster") == std::string::npos);
  CHECK(kc->find("k3dpp-test-cluster") != std::string::npos);
  for (const auto& l : e.rt.leftovers()) CHECK(l.find("dev-cluster") == std::string::npos);
  // Deleting a missing cluster is not an error (k3d prints an info).
  CHECK(delete_cluster(e.rt, "dev-cluster", o.kubeconfig));
  REQUIRE(delete_cluster(e.rt, "test-cluster", o.kubeconfig));
  CHECK(e.rt.leftovers().empty());
}

TEST_CASE("kubeconfig get renames the server's admin kubeconfig") {
  Env e;
  REQUIRE(create_cluster(e.rt, e.opts("t"), e.probes));
  auto kc = get_kubeconfig(e.rt, "t");
  REQUIRE(kc);
  CHECK(kc->find("name: admin@k3dpp-t") != std::string::npos);
  CHECK(kc->find("server: https://127.0.0.1:45273") != std::string::npos);
  CHECK_FALSE(get_kubeconfig(e.rt, "missing"));
}

TEST_CASE("pod network: host-gw on docker, vxlan on podman, --pod-network overrides, node create follows") {
  auto backend = [](Env& e, const std::string& node) {
    const auto& c = e.rt.containers[node];
    std::string env;
    for (const auto& v : c.spec.env)
      if (v.rfind("K3DPP_POD_NETWORK=", 0) == 0) env = v.substr(18);
    return env + "/" + c.spec.labels.at("k3dpp.pod-network");
  };
  {
    Env e;
    REQUIRE(create_cluster(e.rt, e.opts("d"), e.probes));
    CHECK(backend(e, "k3dpp-d-server-0") == "host-gw/host-gw");
    CHECK(backend(e, "k3dpp-d-agent-0") == "host-gw/host-gw");
    CHECK_FALSE(e.rt.containers["k3dpp-d-serverlb"].spec.labels.count("k3dpp.pod-network"));
  }
  {
    Env e;
    e.rt.engine = "podman";
    REQUIRE(create_cluster(e.rt, e.opts("p"), e.probes));
    CHECK(backend(e, "k3dpp-p-server-0") == "vxlan/vxlan");
    CHECK(backend(e, "k3dpp-p-agent-0") == "vxlan/vxlan");
    NodeCreateOptions n;
    n.name = "extra";
    n.cluster = "p";
    REQUIRE(create_nodes(e.rt, n, e.probes));
    CHECK(backend(e, "k3dpp-extra-0") == "vxlan/vxlan");
  }
  {
    Env e;
    e.rt.engine = "podman";
    auto o = e.opts("o");
    o.spec.pod_network = "host-gw";
    REQUIRE(create_cluster(e.rt, o, e.probes));
    CHECK(backend(e, "k3dpp-o-agent-0") == "host-gw/host-gw");
    o = e.opts("bad");
    o.spec.pod_network = "wireguard";
    auto r = create_cluster(e.rt, o, e.probes);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "--pod-network: unknown pod network \"wireguard\" (want host-gw or vxlan)");
    CHECK_FALSE(e.rt.containers.count("k3dpp-bad-server-0"));
  }
}

TEST_CASE("node create/delete: k3dpp-NAME-N joins with the cluster token; the LB follows; no server joins a single-server cluster") {
  Env e;
  auto o = e.opts("mycluster", 1, 0);
  o.spec.ports.push_back(*parse_port_mapping("30050:30050@server:0"));
  REQUIRE(create_cluster(e.rt, o, e.probes));
  NodeCreateOptions n;
  n.name = "agent-02";
  n.cluster = "mycluster";
  REQUIRE(create_nodes(e.rt, n, e.probes));
  REQUIRE(e.rt.containers.count("k3dpp-agent-02-0"));
  auto& a = e.rt.containers["k3dpp-agent-02-0"];
  CHECK(a.state == "running");
  CHECK(a.files.at("/etc/k3dpp/token") == e.rt.containers["k3dpp-mycluster-server-0"].files.at("/etc/k3dpp/token"));
  CHECK(a.spec.labels.at("k3dpp.cluster") == "mycluster");
  CHECK(e.rt.volumes.count("k3dpp-mycluster-agent-02-0-containerd"));
  auto cs = load_clusters(e.rt);
  CHECK(render_cluster_table(*cs).find("mycluster   1/1       1/1      true") != std::string::npos);

  // Duplicate and unknown cluster.
  CHECK(create_nodes(e.rt, n, e.probes).error().message == "node 'k3dpp-agent-02-0' already exists");
  n.cluster = "nope";
  n.name = "x";
  CHECK(create_nodes(e.rt, n, e.probes).error().message == "cluster 'nope' not found");

  // A server node cannot join a single-server cluster (its store is not shared): refused, nothing made.
  NodeCreateOptions s;
  s.name = "srv";
  s.role = Role::kServer;
  s.cluster = "mycluster";
  s.replicas = 2;
  auto refused = create_nodes(e.rt, s, e.probes);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.rfind("--role server: ", 0) == 0);
  CHECK_FALSE(e.rt.containers.count("k3dpp-srv-0"));
  CHECK_FALSE(e.rt.volumes.count("k3dpp-mycluster-srv-0-containerd"));

  // Deleting a node updates the LB and removes its volume.
  n.cluster = "mycluster";
  n.name = "extra";
  REQUIRE(create_nodes(e.rt, n, e.probes));
  auto& lb = e.rt.containers["k3dpp-mycluster-serverlb"];
  CHECK(std::find(e.rt.calls.begin(), e.rt.calls.end(), "exec-cmd:k3dpp-mycluster-serverlb:k3dpp-lb reload") !=
        e.rt.calls.end());
  REQUIRE(delete_node(e.rt, "k3dpp-extra-0"));
  CHECK(lb.files.at("/etc/k3dpp-lb/ports.json").find("k3dpp-extra-0") == std::string::npos);
  CHECK_FALSE(e.rt.volumes.count("k3dpp-mycluster-extra-0-containerd"));
  CHECK(delete_node(e.rt, "k3dpp-nope-0").error().message == "node 'k3dpp-nope-0' not found");

  REQUIRE(stop_node(e.rt, "k3dpp-agent-02-0"));
  CHECK(e.rt.containers["k3dpp-agent-02-0"].state == "exited");
  REQUIRE(start_node(e.rt, "k3dpp-agent-02-0"));
  auto nodes = list_nodes(e.rt);
  REQUIRE(nodes);
  CHECK(render_node_table(*nodes).find("k3dpp-agent-02-0           agent") != std::string::npos);

  // A failing reload rolls the new node back out.
  e.rt.lb_reload_exit = 1;
  n.name = "agent2";
  auto bad = create_nodes(e.rt, n, e.probes);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("k3dpp-lb reload") != std::string::npos);
  CHECK_FALSE(e.rt.containers.count("k3dpp-agent2-0"));
  CHECK_FALSE(e.rt.volumes.count("k3dpp-mycluster-agent2-0-containerd"));
}

TEST_CASE("@loadbalancer mappings follow the nodes: node create/delete of an agent updates ports.json") {
  Env e;
  auto o = e.opts("lbc", 1, 1);
  o.spec.ports.push_back(*parse_port_mapping("8080:80@loadbalancer"));
  o.spec.ports.push_back(*parse_port_mapping("30050:30050@server:0"));
  REQUIRE(create_cluster(e.rt, o, e.probes));
  auto& lb = e.rt.containers["k3dpp-lbc-serverlb"];
  NodeCreateOptions n;
  n.name = "extra";
  n.cluster = "lbc";
  REQUIRE(create_nodes(e.rt, n, e.probes));
  CHECK(lb.files.at("/etc/k3dpp-lb/ports.json") ==
        "{\"ports\":[{\"listen\":6443,\"protocol\":\"tcp\",\"upstreams\":[\"k3dpp-lbc-server-0:6443\"]},"
        "{\"listen\":80,\"protocol\":\"tcp\",\"upstreams\":[\"k3dpp-lbc-server-0:80\",\"k3dpp-extra-0:80\","
        "\"k3dpp-lbc-agent-0:80\"]},"
        "{\"listen\":30050,\"protocol\":\"tcp\",\"upstreams\":[\"k3dpp-lbc-server-0:30050\"]}]}\n");
  REQUIRE(delete_node(e.rt, "k3dpp-extra-0"));
  CHECK(lb.files.at("/etc/k3dpp-lb/ports.json").find("k3dpp-extra-0") == std::string::npos);
  CHECK(lb.files.at("/etc/k3dpp-lb/ports.json").find("k3dpp-lbc-agent-0:80") != std::string::npos);
}

TEST_CASE("cluster edit --port-add/--port-delete recreates the LB") {
  Env e;
  auto o = e.opts("ed");
  REQUIRE(create_cluster(e.rt, o, e.probes));
  REQUIRE(edit_cluster_ports(e.rt, "ed", {*parse_port_mapping("8080:80@agent:0")}, {}, e.probes));
  auto& lb = e.rt.containers["k3dpp-ed-serverlb"];
  CHECK(lb.state == "running");
  REQUIRE(lb.spec.ports.size() == 2);
  CHECK(lb.spec.ports[0].host_port == 45273);
  CHECK(lb.spec.ports[1].host_port == 8080);
  CHECK(lb.files.at("/etc/k3dpp-lb/ports.json").find("k3dpp-ed-agent-0:80") != std::string::npos);
  REQUIRE(edit_cluster_ports(e.rt, "ed", {}, {*parse_port_mapping("8080:80")}, e.probes));
  CHECK(e.rt.containers["k3dpp-ed-serverlb"].spec.ports.size() == 1);
  CHECK_FALSE(edit_cluster_ports(e.rt, "ed", {}, {*parse_port_mapping("9999:99")}, e.probes));
  e.busy_ports.insert(9090);
  CHECK_FALSE(edit_cluster_ports(e.rt, "ed", {*parse_port_mapping("9090:90")}, {}, e.probes));
  CHECK(e.rt.containers.count("k3dpp-ed-serverlb"));
}

TEST_CASE("Ctrl-C while waiting cancels the create and rolls back") {
  Env e;
  e.probes.https_get = [](const std::string&, const ClientCreds&) -> Result<HttpResponse> {
    request_cancel();
    return fail("connection refused", "Unavailable");
  };
  auto r = create_cluster(e.rt, e.opts("t"), e.probes);
  reset_cancel();
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "creating cluster 't': interrupted");
  CHECK(e.rt.leftovers().empty());
}

TEST_CASE("a kubeconfig that cannot be parsed is reported before anything is created") {
  Env e;
  auto o = e.opts("t");
  REQUIRE(files::write_atomic(o.kubeconfig.path, "clusters: [unclosed\n", 0600));
  auto r = create_cluster(e.rt, o, e.probes);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find(o.kubeconfig.path + ": cannot update kubeconfig") == 0);
  CHECK(e.creates() == 0);
}

TEST_CASE("--no-lb publishes the API on server-0; -v binds go to the filtered nodes") {
  Env e;
  auto o = e.opts("nolb", 1, 2);
  o.spec.with_lb = false;
  o.spec.volumes.push_back(*parse_volume("/srv/data:/data@agent:1"));
  o.spec.volumes.push_back(*parse_volume("/srv/all:/all:ro"));
  REQUIRE(create_cluster(e.rt, o, e.probes));
  CHECK_FALSE(e.rt.containers.count("k3dpp-nolb-serverlb"));
  auto& s0 = e.rt.containers["k3dpp-nolb-server-0"].spec;
  REQUIRE(s0.ports.size() == 1);
  CHECK(s0.ports[0].host_ip == "127.0.0.1");
  CHECK(s0.ports[0].host_port == 45273);
  CHECK(s0.ports[0].container_port == 6443);
  CHECK(s0.labels.at("k3dpp.api.port") == "45273");
  CHECK(s0.binds == std::vector<std::string>{"k3dpp-nolb-server-0-containerd:/var/lib/containerd", "/srv/all:/all:ro"});
  CHECK(e.rt.containers["k3dpp-nolb-agent-1"].spec.binds ==
        std::vector<std::string>{"k3dpp-nolb-agent-1-containerd:/var/lib/containerd", "/srv/data:/data",
                                 "/srv/all:/all:ro"});
  // kubeconfig get finds the API port on server-0.
  auto kc = get_kubeconfig(e.rt, "nolb");
  REQUIRE(kc);
  CHECK(kc->find("https://127.0.0.1:45273") != std::string::npos);
  // Without a LB, a proxied -p mapping is refused.
  Env e2;
  auto o2 = e2.opts("nolb2");
  o2.spec.with_lb = false;
  o2.spec.ports.push_back(*parse_port_mapping("8080:80@server:0"));
  auto r = create_cluster(e2.rt, o2, e2.probes);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("needs the load balancer") != std::string::npos);
}

TEST_CASE("HA create: the servers' token goes into servers only, differs from the node token; a new server gets it") {
  Env e;
  auto o = e.opts("ha", 3, 1);
  REQUIRE(create_cluster(e.rt, o, e.probes));
  const auto& s0 = e.rt.containers["k3dpp-ha-server-0"];
  const std::string server_token = s0.files.at("/etc/k3dpp/server-token");
  CHECK(server_token.size() == 64);
  CHECK(server_token != s0.files.at("/etc/k3dpp/token"));
  CHECK(s0.modes.at("/etc/k3dpp/server-token") == 0600);
  for (const char* s : {"k3dpp-ha-server-1", "k3dpp-ha-server-2"})
    CHECK(e.rt.containers[s].files.at("/etc/k3dpp/server-token") == server_token);
  CHECK_FALSE(e.rt.containers["k3dpp-ha-agent-0"].files.count("/etc/k3dpp/server-token"));

  NodeCreateOptions srv;
  srv.name = "extra";
  srv.role = Role::kServer;
  srv.cluster = "ha";
  REQUIRE(create_nodes(e.rt, srv, e.probes));
  CHECK(e.rt.containers["k3dpp-extra-0"].files.at("/etc/k3dpp/server-token") == server_token);
  NodeCreateOptions agent;
  agent.name = "worker";
  agent.cluster = "ha";
  REQUIRE(create_nodes(e.rt, agent, e.probes));
  CHECK_FALSE(e.rt.containers["k3dpp-worker-0"].files.count("/etc/k3dpp/server-token"));

  // Deleting a server removes its etcd member through another running server first; an agent has none.
  REQUIRE(delete_node(e.rt, "k3dpp-extra-0"));
  const std::string remove = "exec-cmd:k3dpp-ha-server-0:k3dpp-node etcd-member-remove k3dpp-extra-0";
  auto at = std::find(e.rt.calls.begin(), e.rt.calls.end(), remove);
  CHECK(at != e.rt.calls.end());
  CHECK_FALSE(e.rt.containers.count("k3dpp-extra-0"));
  REQUIRE(delete_node(e.rt, "k3dpp-worker-0"));
  CHECK(std::find(e.rt.calls.begin(), e.rt.calls.end(),
                  "exec-cmd:k3dpp-ha-server-0:k3dpp-node etcd-member-remove k3dpp-worker-0") == e.rt.calls.end());
}
