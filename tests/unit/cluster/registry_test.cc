// Registries: flag parsing, the registry container, the containerd hosts.toml files (golden), and
// registry create/delete plus cluster create/delete with --registry-create / --registry-use
// against the in-memory runtime.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "cluster/operations.h"
#include "cluster/output.h"
#include "cluster/registry.h"
#include "fake_runtime.h"
#include "golden.h"
#include "test_data.h"

using namespace k3dpp;
using namespace k3dpp::cluster;
using k3dpp::testing::check_golden;
using k3dpp::testing::FakeRuntime;

namespace {

const std::string kRegistryImage = std::string("k3dpp/registry:") + K3DPP_VERSION;

struct Env {
  FakeRuntime rt;
  HostProbes probes;
  std::set<uint16_t> busy_ports;
  std::chrono::steady_clock::time_point clock{};
  std::string dir;

  Env() {
    char tmpl[] = "/tmp/k3dpp-reg-XXXXXX";
    dir = ::mkdtemp(tmpl);
    rt.admin_kubeconfig = kAdminKubeconfig;
    rt.images.insert(kRegistryImage);
    probes.port_free = [this](const std::string&, uint16_t port, const std::string&) -> Status {
      if (busy_ports.count(port)) return fail("host port 127.0.0.1:" + std::to_string(port) + "/tcp is already in use", "Conflict");
      return {};
    };
    probes.pick_free_port = [](const std::string&) -> Result<uint16_t> { return static_cast<uint16_t>(45273); };
    probes.https_get = [](const std::string& url, const ClientCreds&) -> Result<HttpResponse> {
      if (url.find("/readyz") != std::string::npos) return HttpResponse{200, "ok"};
      return HttpResponse{200, R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})"};
    };
    probes.sleep = [this](std::chrono::milliseconds d) { clock += d; };
    probes.now = [this] { return clock += std::chrono::milliseconds(1), clock; };
  }
  ~Env() { std::filesystem::remove_all(dir); }

  CreateOptions opts(const std::string& name) {
    CreateOptions o;
    o.spec.name = name;
    o.spec.servers = 1;
    o.spec.agents = 1;
    o.timeout = std::chrono::seconds(10);
    o.kubeconfig.path = dir + "/kubeconfig";
    return o;
  }
  KubeconfigOptions kc() const { return {true, true, dir + "/kubeconfig"}; }

  // A standalone registry, as `k3dpp registry create NAME -p PORT` makes it.
  RegistryState standalone(const std::string& name, uint16_t port) {
    RegistrySpec spec;
    spec.name = name;
    spec.host.host_port = port;
    auto r = create_registry(rt, spec, probes);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    return *r;
  }
};

std::string files_text(const std::map<std::string, std::string>& files) {
  std::string out;
  for (const auto& [path, content] : files) out += "==> " + path + " <==\n" + content;
  return out;
}

}  // namespace

TEST_CASE("--registry-create NAME[:[HOST:]PORT]") {
  auto r = parse_registry_create("myreg");
  REQUIRE(r);
  CHECK(r->name == "k3dpp-myreg");
  CHECK(r->host_ip == "127.0.0.1");
  CHECK(r->port == 0);

  r = parse_registry_create("k3dpp-myreg:5111");
  REQUIRE(r);
  CHECK(r->name == "k3dpp-myreg");
  CHECK(r->port == 5111);

  r = parse_registry_create("reg.localhost:0.0.0.0:12345");
  REQUIRE(r);
  CHECK(r->name == "k3dpp-reg.localhost");
  CHECK(r->host_ip == "0.0.0.0");
  CHECK(r->port == 12345);

  CHECK(parse_registry_create("reg:localhost:5000")->host_ip == "127.0.0.1");

  for (const char* bad : {"", "k3dpp-", "MyReg", "reg_1", "reg-", "reg.", "a..b", "reg:", "reg:abc", "reg:0",
                          "reg:70000", "reg:1.2.3:80", "reg:host:80", "a:1.2.3.4:5:6"}) {
    CAPTURE(bad);
    auto p = parse_registry_create(bad);
    REQUIRE_FALSE(p);
    CHECK(p.error().is("Invalid"));
  }
  CHECK(parse_registry_create("reg:abc").error().message == "'reg:abc': port 'abc' is not a number");
  CHECK(parse_registry_create(std::string(60, 'a')).error().message.find("too long") != std::string::npos);
}

TEST_CASE("--registry-use NAME[:PORT] and registry create -p [HOST:]PORT") {
  auto u = parse_registry_use("k3dpp-myreg:12345");
  REQUIRE(u);
  CHECK(u->name == "k3dpp-myreg");
  CHECK(u->port == 12345);
  u = parse_registry_use("myreg");
  REQUIRE(u);
  CHECK(u->name == "k3dpp-myreg");
  CHECK(u->port == 0);
  CHECK_FALSE(parse_registry_use("myreg:0.0.0.0:5000"));
  CHECK_FALSE(parse_registry_use("myreg:x"));

  auto p = parse_registry_port("5111");
  REQUIRE(p);
  CHECK(p->host_ip == "127.0.0.1");
  CHECK(p->host_port == 5111);
  p = parse_registry_port("0.0.0.0:5111");
  REQUIRE(p);
  CHECK(p->host_ip == "0.0.0.0");
  CHECK_FALSE(parse_registry_port("host:5111"));
  CHECK_FALSE(parse_registry_port("1:2:3"));
  CHECK_FALSE(parse_registry_port("99999"));
}

TEST_CASE("registry names") {
  CHECK(registry_container_name("reg") == "k3dpp-reg");
  CHECK(registry_container_name("k3dpp-reg") == "k3dpp-reg");
  CHECK(registry_volume_name("reg") == "k3dpp-reg-data");
  CHECK(registry_volume_name("k3dpp-reg") == "k3dpp-reg-data");
}

TEST_CASE("registry container: port 5000 on 127.0.0.1:HOSTPORT, data volume, labels") {
  RegistrySpec spec;
  spec.name = "k3dpp-reg";
  spec.host = {"127.0.0.1", 5111};
  spec.network = "k3dpp-dev";
  spec.cluster = "dev";
  auto s = registry_container(spec);
  CHECK(s.name == "k3dpp-reg");
  CHECK(s.hostname == "k3dpp-reg");
  CHECK(s.image == kRegistryImage);
  CHECK(s.network == "k3dpp-dev");
  CHECK(s.binds == std::vector<std::string>{"k3dpp-reg-data:/var/lib/docker-registry"});
  REQUIRE(s.ports.size() == 1);
  CHECK(s.ports[0].host_ip == "127.0.0.1");
  CHECK(s.ports[0].host_port == 5111);
  CHECK(s.ports[0].container_port == 5000);
  CHECK(s.labels.at("k3dpp.role") == "registry");
  CHECK(s.labels.at("k3dpp.registry.cluster") == "dev");
  CHECK(s.labels.at("k3dpp.registry.host.port") == "5111");
  CHECK(s.labels.count("k3dpp.cluster") == 0);  // not a node of the cluster
  CHECK(s.restart_policy == "unless-stopped");
  CHECK_FALSE(s.init);
  CHECK(s.cap_add.empty());

  spec.cluster.clear();
  CHECK(registry_container(spec).labels.count("k3dpp.registry.cluster") == 0);
}

TEST_CASE("containerd hosts.toml for the nodes (golden)") {
  RegistryState a;
  a.name = "k3dpp-reg-b";
  a.host_port = 12345;
  RegistryState b;
  b.name = "k3dpp-reg-a";
  b.host_port = 5000;  // host port 5000: one file for the name
  auto files = registry_host_files({a, b});
  CHECK(files.size() == 4);
  CHECK(files.count("/etc/containerd/certs.d/docker.io/hosts.toml"));
  CHECK(files.count("/etc/containerd/certs.d/k3dpp-reg-a:5000/hosts.toml"));
  CHECK(files.count("/etc/containerd/certs.d/k3dpp-reg-b:5000/hosts.toml"));
  CHECK(files.count("/etc/containerd/certs.d/k3dpp-reg-b:12345/hosts.toml"));
  check_golden("registry-hosts.toml", files_text(files));
  check_golden("registry-docker-io-hosts.toml", render_docker_hub_hosts_toml({"k3dpp-reg:5000"}));
  CHECK(registry_host_files({}).empty());
}

TEST_CASE("registry from container: the bound port wins over the label, networks listed") {
  runtime::ContainerInfo c;
  c.name = "k3dpp-reg";
  c.state = "running";
  c.running = true;
  c.labels = {{"k3dpp.role", "registry"}, {"k3dpp.registry.host.ip", "127.0.0.1"}, {"k3dpp.registry.host.port", "0"}};
  c.ports = {{"127.0.0.1", 40001, 5000, "tcp"}};
  c.ips = {{"bridge", "172.17.0.2"}, {"k3dpp-dev", "172.19.0.5"}};
  RegistryState st;
  REQUIRE(registry_from_container(c, st));
  CHECK(st.host_port == 40001);
  CHECK(st.networks == std::vector<std::string>{"bridge", "k3dpp-dev"});
  c.labels["k3dpp.role"] = "server";
  CHECK_FALSE(registry_from_container(c, st));
}

TEST_CASE("registry create / list / delete") {
  Env e;
  auto reg = e.standalone("reg", 0);
  CHECK(reg.name == "k3dpp-reg");
  CHECK(reg.host_port == 45273);  // picked before create, so it survives restarts
  CHECK(reg.running);
  REQUIRE(e.rt.containers.count("k3dpp-reg"));
  CHECK(e.rt.containers["k3dpp-reg"].spec.ports.at(0).host_port == 45273);
  CHECK(e.rt.containers["k3dpp-reg"].spec.network.empty());  // the engine's default network
  CHECK(e.rt.volumes.count("k3dpp-reg-data"));

  auto again = create_registry(e.rt, RegistrySpec{"reg", "", {}, "", "", ""}, e.probes);
  REQUIRE_FALSE(again);
  CHECK(again.error().message == "registry 'k3dpp-reg' already exists");

  e.standalone("k3dpp-other", 5111);
  auto all = list_registries(e.rt);
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK(render_registry_table(*all) ==
        "NAME          ROLE       CLUSTER   STATUS    HOST\n"
        "k3dpp-other   registry             running   127.0.0.1:5111\n"
        "k3dpp-reg     registry             running   127.0.0.1:45273\n");
  CHECK(render_registry_json(*all).find("\"HostPort\": \"5111\"") != std::string::npos);

  REQUIRE(delete_registry(e.rt, "reg"));
  REQUIRE(delete_registry(e.rt, "k3dpp-other"));
  CHECK(e.rt.leftovers().empty());
  auto gone = delete_registry(e.rt, "reg");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().is("NotFound"));
  CHECK(gone.error().message == "registry 'k3dpp-reg' not found");
}

TEST_CASE("registry create: preflight errors create nothing, a failed start rolls back") {
  Env e;
  e.busy_ports.insert(5111);
  auto r = create_registry(e.rt, RegistrySpec{"reg", "", {"127.0.0.1", 5111}, "", "", ""}, e.probes);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("5111/tcp is already in use") != std::string::npos);
  e.rt.images.clear();
  r = create_registry(e.rt, RegistrySpec{"reg", "", {}, "", "", ""}, e.probes);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "image " + kRegistryImage + " not found; build it with images/build.sh --only registry");
  CHECK(e.rt.leftovers().empty());

  Env f;
  f.rt.fail_on = "start_container:k3dpp-reg";
  r = create_registry(f.rt, RegistrySpec{"reg", "", {}, "", "", ""}, f.probes);
  REQUIRE_FALSE(r);
  CHECK(f.rt.leftovers().empty());
}

TEST_CASE("cluster create --registry-create: on the cluster network, nodes configured, deleted with the cluster") {
  Env e;
  auto o = e.opts("t");
  o.registry_create = *parse_registry_create("treg:5111");
  auto r = create_cluster(e.rt, o, e.probes);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  REQUIRE(e.rt.containers.count("k3dpp-treg"));
  auto& reg = e.rt.containers["k3dpp-treg"];
  CHECK(reg.spec.network == "k3dpp-t");
  CHECK(reg.spec.labels.at("k3dpp.registry.cluster") == "t");
  CHECK(reg.state == "running");
  for (const char* node : {"k3dpp-t-server-0", "k3dpp-t-agent-0"}) {
    CAPTURE(node);
    auto& files = e.rt.containers[node].files;
    REQUIRE(files.count("/etc/containerd/certs.d/docker.io/hosts.toml"));
    CHECK(files["/etc/containerd/certs.d/docker.io/hosts.toml"].find("[host.\"http://k3dpp-treg:5000\"]") !=
          std::string::npos);
    CHECK(files.count("/etc/containerd/certs.d/k3dpp-treg:5000/hosts.toml"));
    CHECK(files.count("/etc/containerd/certs.d/k3dpp-treg:5111/hosts.toml"));
  }
  // The registry exists before the nodes are configured, and the files go in before start.
  auto& calls = e.rt.calls;
  auto at = [&](const std::string& c) { return std::find(calls.begin(), calls.end(), c) - calls.begin(); };
  CHECK(at("start_container:k3dpp-treg") < at("create_container:k3dpp-t-server-0"));
  CHECK(at("put_file:k3dpp-t-agent-0") < at("start_container:k3dpp-t-agent-0"));

  // A node added later gets the same files.
  NodeCreateOptions n;
  n.name = "extra";
  n.cluster = "t";
  REQUIRE(create_nodes(e.rt, n, e.probes));
  CHECK(e.rt.containers["k3dpp-extra-0"].files.count("/etc/containerd/certs.d/k3dpp-treg:5000/hosts.toml"));

  REQUIRE(delete_cluster(e.rt, "t", e.kc()));
  CHECK(e.rt.leftovers().empty());
}

TEST_CASE("cluster create --registry-use: connected, kept on delete (disconnected so the network can go)") {
  Env e;
  e.standalone("shared", 5222);
  auto o = e.opts("t");
  o.registry_use.push_back(*parse_registry_use("k3dpp-shared:5222"));
  auto r = create_cluster(e.rt, o, e.probes);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(e.rt.containers["k3dpp-shared"].networks.count("k3dpp-t"));
  auto& files = e.rt.containers["k3dpp-t-server-0"].files;
  CHECK(files.count("/etc/containerd/certs.d/k3dpp-shared:5222/hosts.toml"));
  CHECK(files["/etc/containerd/certs.d/docker.io/hosts.toml"].find("http://k3dpp-shared:5000") != std::string::npos);

  REQUIRE(delete_cluster(e.rt, "t", e.kc()));
  REQUIRE(e.rt.containers.count("k3dpp-shared"));
  CHECK(e.rt.containers["k3dpp-shared"].networks.empty());
  CHECK(e.rt.networks.count("k3dpp-t") == 0);
  CHECK(e.rt.volumes.count("k3dpp-shared-data"));
}

TEST_CASE("cluster create with registries: preflight errors and rollback") {
  {
    Env e;
    auto o = e.opts("t");
    o.registry_use.push_back(*parse_registry_use("nope"));
    auto r = create_cluster(e.rt, o, e.probes);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("--registry-use nope: registry 'k3dpp-nope' not found") != std::string::npos);
    CHECK(e.rt.leftovers().empty());
  }
  {
    Env e;
    e.standalone("shared", 5222);
    auto o = e.opts("t");
    o.registry_use.push_back(*parse_registry_use("shared:6000"));
    auto r = create_cluster(e.rt, o, e.probes);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("listens on 127.0.0.1:5222 (host) and 5000") != std::string::npos);
    CHECK(e.rt.networks.empty());
  }
  {
    Env e;
    e.standalone("taken", 5333);
    auto o = e.opts("t");
    o.registry_create = *parse_registry_create("taken");
    auto r = create_cluster(e.rt, o, e.probes);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("registry 'k3dpp-taken' already exists (use --registry-use)") != std::string::npos);
  }
  for (const char* point : {"create_container:k3dpp-t-server-0", "start_container:k3dpp-t-agent-0"}) {
    CAPTURE(point);
    Env e;
    e.standalone("shared", 5222);
    auto o = e.opts("t");
    o.registry_create = *parse_registry_create("own");
    o.registry_use.push_back(*parse_registry_use("shared"));
    e.rt.fail_on = point;
    auto r = create_cluster(e.rt, o, e.probes);
    REQUIRE_FALSE(r);
    // Only the standalone registry (and its volume) is left, no longer on the cluster network.
    CHECK(e.rt.leftovers() == std::vector<std::string>{"container k3dpp-shared", "volume k3dpp-shared-data"});
    CHECK(e.rt.containers["k3dpp-shared"].networks.empty());
  }
}

TEST_CASE("cluster on an existing network: a used registry stays connected to it after delete") {
  Env e;
  e.rt.networks["shared-net"] = {};
  e.standalone("shared", 5222);
  auto o = e.opts("t");
  o.spec.network = "shared-net";
  o.spec.own_network = false;
  o.registry_use.push_back(*parse_registry_use("shared"));
  auto r = create_cluster(e.rt, o, e.probes);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(e.rt.containers["k3dpp-shared"].networks.count("shared-net"));
  REQUIRE(delete_cluster(e.rt, "t", e.kc()));
  CHECK(e.rt.networks.count("shared-net"));
  CHECK(e.rt.containers["k3dpp-shared"].networks.count("shared-net"));
  // A registry already on the network is not connected twice.
  auto again = create_cluster(e.rt, o, e.probes);
  REQUIRE_MESSAGE(again, (again ? "" : again.error().message));
  CHECK(std::count(e.rt.calls.begin(), e.rt.calls.end(), "connect_network:k3dpp-shared") == 1);
}
