// What a k3d user types: config files, k3d's flags, list output formats, version, completion,
// refusals of k3d flags k3dpp does not have. Against the in-memory runtime.
#include <doctest/doctest.h>

#include <fstream>

#include "cli_harness.h"
#include "common/files.h"

using namespace k3dpp;
using k3dpp::testing::CliHarness;

namespace {
bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::vector<std::string> complete(CliHarness& h, std::vector<std::string> words) {
  std::vector<std::string> args{"__complete"};
  args.insert(args.end(), words.begin(), words.end());
  auto r = h.run(args);
  REQUIRE(r.code == 0);
  std::vector<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}
}  // namespace

TEST_CASE("--version and version -o json") {
  CliHarness h;
  auto r = h.run({"--version"});
  CHECK(r.code == 0);
  CHECK(r.out.rfind("k3dpp version v" K3DPP_VERSION "\n", 0) == 0);
  r = h.run({"version", "-o", "json"});
  CHECK(r.code == 0);
  CHECK(r.out == "{\"k3dpp\":\"v" K3DPP_VERSION "\",\"kubernetes\":\"" K3DPP_KUBE_VERSION "\",\"nodeImage\":\"k3dpp/node:" K3DPP_VERSION
                 "\",\"lbImage\":\"k3dpp/lb:" K3DPP_VERSION "\"}\n");
  CHECK(h.run({"version", "-o", "xml"}).code != 0);
}

TEST_CASE("list commands: -o json|yaml|wide, k3d's JSON field names") {
  CliHarness h;
  REQUIRE(h.run({"cluster", "create", "dev", "-a", "1"}).code == 0);
  auto r = h.run({"node", "list", "-o", "json"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("\"name\": \"k3dpp-dev-server-0\"") != std::string::npos);
  CHECK(r.out.find("\"runtimeLabels\": {") != std::string::npos);
  CHECK(r.out.find("\"State\": {") != std::string::npos);
  r = h.run({"node", "list", "k3dpp-dev-agent-0", "-o", "yaml"});
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("- name: k3dpp-dev-agent-0\n  role: agent\n", 0) == 0);
  r = h.run({"node", "list", "-o", "wide", "--no-headers"});
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("k3dpp-dev-server-0   server         dev       running   k3dpp/node:", 0) == 0);
  CHECK(r.out.find("\nk3dpp-dev-serverlb   loadbalancer   dev       running   k3dpp/lb:") != std::string::npos);
  r = h.run({"cluster", "list", "-o", "json"});
  CHECK(r.out.find("\"serversCount\": 1") != std::string::npos);
  CHECK(r.out.find("\"agentsRunning\": 1") != std::string::npos);
  CHECK(r.out.find("\"hasLoadbalancer\": true") != std::string::npos);
  CHECK(r.out.find("\"serverLoadBalancer\": {") != std::string::npos);
  r = h.run({"cluster", "list", "-o", "yaml"});
  CHECK(r.out.find("- name: dev\n  network:\n    name: k3dpp-dev\n") == 0);
  r = h.run({"cluster", "list", "-o", "wide"});
  CHECK(r.out.find("NETWORK     API               PORTS") != std::string::npos);
  r = h.run({"registry", "list", "-o", "yaml"});
  CHECK(r.code == 0);
  CHECK(r.out == "[]\n");
  CHECK(h.run({"node", "list", "nosuch"}).err == "ERROR: node 'nosuch' not found\n");
  CHECK(h.run({"cluster", "list", "-o", "toml"}).code != 0);
}

TEST_CASE("completion: scripts for four shells, candidates from the command tree and the engine") {
  CliHarness h;
  for (const char* sh : {"bash", "zsh", "fish", "powershell"}) {
    auto r = h.run({"completion", sh});
    CAPTURE(sh);
    CHECK(r.code == 0);
    CHECK(r.out.find("__complete") != std::string::npos);
  }
  CHECK(h.run({"completion", "tcsh"}).err == "ERROR: unknown shell 'tcsh' (want bash, zsh, fish or powershell)\n");

  CHECK(complete(h, {"cl"}) == std::vector<std::string>{"cluster", ":0"});
  auto top = complete(h, {""});
  CHECK(has(top, "cluster"));
  CHECK(has(top, "completion"));
  CHECK_FALSE(has(top, "__complete"));
  auto subs = complete(h, {"cluster", ""});
  CHECK(has(subs, "create"));
  CHECK(has(subs, "delete"));
  CHECK_FALSE(has(subs, "rm"));  // aliases are not offered
  CHECK(complete(h, {"cluster", "create", "--serv"}) == std::vector<std::string>{"--servers", "--server-arg", "--servers-memory", ":0"});
  CHECK(has(complete(h, {"cluster", "create", "--"}), "--runtime"));  // global flags too
  CHECK(complete(h, {"cluster", "list", "-o", ""}) == std::vector<std::string>{"json", "yaml", "wide", ":0"});
  CHECK(complete(h, {"--runtime", "p"}) == std::vector<std::string>{"podman", ":0"});
  CHECK(complete(h, {"cluster", "create", "-c", ""}) == std::vector<std::string>{":1"});
  CHECK(complete(h, {"image", "import", ""}) == std::vector<std::string>{":1"});

  REQUIRE(h.run({"cluster", "create", "alpha"}).code == 0);
  REQUIRE(h.run({"cluster", "create", "beta", "--api-port", "41001"}).code == 0);
  CHECK(complete(h, {"cluster", "delete", ""}) == std::vector<std::string>{"alpha", "beta", ":0"});
  CHECK(complete(h, {"cluster", "delete", "alpha", ""}) == std::vector<std::string>{"beta", ":0"});
  CHECK(complete(h, {"kubeconfig", "get", "b"}) == std::vector<std::string>{"beta", ":0"});
  CHECK(complete(h, {"image", "import", "x.tar", "-c", ""}) == std::vector<std::string>{"alpha", "beta", ":0"});
  CHECK(complete(h, {"node", "stop", "k3dpp-alpha-s"}) ==
        std::vector<std::string>{"k3dpp-alpha-server-0", "k3dpp-alpha-serverlb", ":0"});
  CHECK(complete(h, {"cluster", "create", ""}) == std::vector<std::string>{":0"});  // a new name: nothing to offer
}

TEST_CASE("k3d flags k3dpp lacks: one line that says what to do; unknown flags name the command") {
  CliHarness h;
  auto r = h.run({"cluster", "create", "x", "--gpus", "all"});
  CHECK(r.code == 1);
  CHECK(r.err == "ERROR: --gpus is not supported by k3dpp: nodes get no GPUs; run GPU workloads on a real k3s or kind node\n");
  r = h.run({"cluster", "create", "x", "--registry-config=/tmp/r.yaml"});
  CHECK(r.err.rfind("ERROR: --registry-config is not supported by k3dpp: use --registry-create", 0) == 0);
  r = h.run({"cluster", "create", "x", "--frobnicate"});
  CHECK(r.code != 0);
  CHECK(r.err.find("--frobnicate") != std::string::npos);
  CHECK(r.err.find("(see k3dpp cluster create --help)") != std::string::npos);
  CHECK(h.rt.leftovers().empty());
  // Global flags after the command, as with cobra's persistent flags.
  CHECK(h.run({"cluster", "list", "--verbose"}).code == 0);
}

TEST_CASE("cluster create flags reach the containers") {
  CliHarness h;
  auto r = h.run({"cluster", "create", "f", "-a", "1", "-e", "FOO=bar@server:0", "-e", "ALL=1",
                  "--k3s-arg", "--tls-san=api.example@server:*", "--agent-arg", "--node-taint=dedicated=x:NoSchedule",
                  "--node-label", "tier=web@agent:0", "--token", "sekret", "--subnet", "172.28.0.0/16",
                  "--servers-memory", "1g", "--agents-memory", "512m", "--runtime-label", "team=blue",
                  "--runtime-ulimit", "nofile=4096:8192", "--host-alias", "1.2.3.4:a.local", "-p", "8080-8081:80-81",
                  "-v", "/data@agent:0", "-v", "myvol:/cache", "--lb-config-override", "settings.workerConnections=2048",
                  "--k3s-arg", "--disable=traefik"});
  CHECK(r.err == "");
  REQUIRE(r.code == 0);
  const auto& s0 = h.rt.containers.at("k3dpp-f-server-0").spec;
  const auto& a0 = h.rt.containers.at("k3dpp-f-agent-0").spec;
  const auto& lb = h.rt.containers.at("k3dpp-f-serverlb").spec;
  CHECK(has(s0.env, "FOO=bar"));
  CHECK_FALSE(has(a0.env, "FOO=bar"));
  CHECK(has(a0.env, "ALL=1"));
  CHECK(has(lb.env, "ALL=1"));
  CHECK(has(s0.cmd, "--tls-san=api.example"));
  CHECK(has(s0.cmd, "--disable=ingress"));  // --k3s-arg --disable=traefik: no bundled ingress controller
  CHECK_FALSE(has(a0.cmd, "--tls-san=api.example"));
  CHECK(has(a0.cmd, "--node-taint=dedicated=x:NoSchedule"));
  CHECK(has(a0.cmd, "--node-label=tier=web"));
  CHECK_FALSE(has(s0.cmd, "--node-label=tier=web"));
  CHECK(h.rt.containers.at("k3dpp-f-server-0").files.at("/etc/k3dpp/token") == "sekret");
  CHECK(h.rt.subnets.at("k3dpp-f") == "172.28.0.0/16");
  CHECK(s0.memory == 1LL << 30);
  CHECK(a0.memory == 512LL << 20);
  CHECK(lb.memory == 0);
  CHECK(s0.labels.at("team") == "blue");
  CHECK(lb.labels.at("team") == "blue");
  CHECK(lb.labels.at("k3dpp.lb.worker-connections") == "2048");
  CHECK(h.rt.containers.at("k3dpp-f-serverlb").files.at("/etc/k3dpp-lb/ports.json").find("\"workerConnections\":2048") !=
        std::string::npos);
  bool nofile = false;
  for (const auto& u : a0.ulimits) nofile = nofile || (u.name == "nofile" && u.soft == 4096 && u.hard == 8192);
  CHECK(nofile);
  CHECK(has(s0.extra_hosts, "a.local:1.2.3.4"));
  CHECK(lb.ports.size() == 3);  // API + 80 + 81
  CHECK(has(a0.binds, "k3dpp-f-agent-0-vol0:/data"));
  CHECK(has(a0.binds, "myvol:/cache"));
  CHECK(has(s0.binds, "myvol:/cache"));
  CHECK(h.rt.volumes.count("k3dpp-f-agent-0-vol0"));

  // The cluster's own volumes go with it; the named one is the user's.
  REQUIRE(h.run({"cluster", "delete", "f"}).code == 0);
  CHECK(h.rt.leftovers().empty());
}

TEST_CASE("cluster create refusals name the flag value") {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  std::vector<Case> cases{
      {{"cluster", "create", "x", "--k3s-arg", "--kubelet-arg=max-pods=10@all"},
       "ERROR: k3s arg '--kubelet-arg=max-pods=10' is not supported by k3dpp: k3dpp's components are its own"},
      {{"cluster", "create", "x", "--agent-arg", "--tls-san=x", "-a", "1"}, "--tls-san is a server flag"},
      {{"cluster", "create", "x", "-e", "A=1@agent:0"}, "ERROR: env 'A=1@agent:0': node filter 'agent:0' matches no node"},
      {{"cluster", "create", "x", "--servers-memory", "1m"}, "ERROR: --servers-memory: memory limit '1m' is below"},
      {{"cluster", "create", "x", "--runtime-label", "k3dpp.role=x"}, "labels k3dpp.* belong to k3dpp"},
      {{"cluster", "create", "x", "--subnet", "10.0.0.0"}, "ERROR: invalid subnet '10.0.0.0'"},
      {{"cluster", "create", "x", "--runtime-ulimit", "bogus=1"}, "unknown name 'bogus'"},
      {{"cluster", "create", "x", "--host-alias", "nope"}, "ERROR: invalid host alias 'nope'"},
      {{"cluster", "create", "x", "--lb-config-override", "settings.defaultProxyTimeout=5"}, "not supported by k3dpp"},
      {{"cluster", "create", "x", "-p", "80-81:90"}, "host and container port ranges differ in size"},
      {{"cluster", "create", "x", "-c", "/nonexistent.yaml"}, "ERROR: config file /nonexistent.yaml does not exist"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args);
    CliHarness h;
    auto r = h.run(c.args);
    CHECK(r.code != 0);
    CHECK(r.err.find(c.error) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(h.rt.leftovers().empty());
  }
}

TEST_CASE("config file: creates what it describes; flags and NAME override it; delete -c") {
  CliHarness h;
  std::string path = h.write("c.yaml", R"(apiVersion: k3d.io/v1alpha5
kind: Simple
metadata:
  name: fromfile
servers: 1
agents: 2
kubeAPI:
  host: "myhost.my.domain"
  hostIP: "127.0.0.1"
  hostPort: "6445"
image: rancher/k3s:v1.35.2-k3s1
ports:
  - port: 8080:80
    nodeFilters:
      - loadbalancer
env:
  - envVar: bar=baz
    nodeFilters:
      - server:0
options:
  k3d:
    wait: true
    timeout: "60s"
  k3s:
    extraArgs:
      - arg: --tls-san=127.0.0.1
        nodeFilters:
          - server:*
    nodeLabels:
      - label: foo=bar
        nodeFilters:
          - agent:1
  kubeconfig:
    updateDefaultKubeconfig: true
    switchCurrentContext: true
  runtime:
    agentsMemory: 1g
    labels:
      - label: bar=baz
        nodeFilters:
          - agent:1
)");
  // The file's k3s image is refused unless -i overrides it.
  auto r = h.run({"cluster", "create", "-c", path});
  CHECK(r.code == 1);
  CHECK(r.err.find(": image: rancher/k3s:v1.35.2-k3s1 is a k3s image; k3dpp nodes run k3dpp/node images") !=
        std::string::npos);
  // The file's node filters are checked against what the flags make: agent:1 needs 2 agents.
  r = h.run({"cluster", "create", "-c", path, "-i", "k3dpp/node:" K3DPP_VERSION, "--agents", "1"});
  CHECK(r.err.find("'bar=baz@agent:1': node filter 'agent:1' matches no node") != std::string::npos);
  CHECK(h.rt.leftovers().empty());
  r = h.run({"cluster", "create", "-c", path, "-i", "k3dpp/node:" K3DPP_VERSION, "--agents", "3", "-e", "X=y"});
  CHECK(r.err == "");
  REQUIRE(r.code == 0);
  CHECK(h.rt.containers.count("k3dpp-fromfile-server-0"));
  CHECK(h.rt.containers.count("k3dpp-fromfile-agent-2"));  // --agents 3 beat agents: 2
  CHECK(has(h.rt.containers.at("k3dpp-fromfile-agent-1").spec.cmd, "--node-label=foo=bar"));
  CHECK(h.rt.containers.at("k3dpp-fromfile-agent-1").spec.labels.at("bar") == "baz");
  const auto& s0 = h.rt.containers.at("k3dpp-fromfile-server-0").spec;
  CHECK(has(s0.env, "bar=baz"));
  CHECK(has(s0.env, "X=y"));
  CHECK(has(s0.cmd, "--tls-san=127.0.0.1"));
  CHECK(has(s0.cmd, "--tls-san=myhost.my.domain"));  // kubeAPI.host is in the certificate
  const auto& lb = h.rt.containers.at("k3dpp-fromfile-serverlb").spec;
  CHECK(lb.ports.at(0).host_port == 6445);
  CHECK(lb.ports.at(0).host_ip == "127.0.0.1");
  CHECK(lb.ports.at(1).host_port == 8080);
  CHECK(h.rt.containers.at("k3dpp-fromfile-agent-0").spec.memory == 1LL << 30);
  auto kc = files::read(h.dir + "/config");
  REQUIRE(kc);
  CHECK(kc->find("server: https://myhost.my.domain:6445") != std::string::npos);

  r = h.run({"cluster", "delete", "-c", path});
  REQUIRE(r.code == 0);
  CHECK(h.rt.leftovers().empty());

  // NAME beats metadata.name.
  std::string small = h.write("s.yaml", "apiVersion: k3dpp.io/v1alpha1\nkind: Simple\nmetadata:\n  name: a\nagents: 0\n");
  REQUIRE(h.run({"cluster", "create", "b", "-c", small}).code == 0);
  CHECK(h.rt.containers.count("k3dpp-b-server-0"));
  CHECK_FALSE(h.rt.containers.count("k3dpp-a-server-0"));

  // A refused field stops before anything is created.
  std::string bad = h.write("bad.yaml", "apiVersion: k3d.io/v1alpha5\nkind: Simple\noptions:\n  runtime:\n    gpuRequest: all\n");
  r = h.run({"cluster", "create", "c", "-c", bad});
  CHECK(r.err == "ERROR: " + bad + ":5: options.runtime.gpuRequest: not supported by k3dpp: nodes get no GPUs\n");
  CHECK_FALSE(h.rt.containers.count("k3dpp-c-server-0"));
}

TEST_CASE("config init writes a file that creates a cluster") {
  CliHarness h;
  std::string path = h.dir + "/init.yaml";
  REQUIRE(h.run({"config", "init", "-o", path}).code == 0);
  CHECK(h.run({"config", "init", "-o", path}).err.find("exists (use --force") != std::string::npos);
  CHECK(h.run({"config", "init", "-o", path, "--force"}).code == 0);
  CHECK(h.run({"config", "init", "-o", "-"}).out.rfind("# k3dpp cluster config", 0) == 0);
  auto r = h.run({"cluster", "create", "-c", path});
  CHECK(r.err == "");
  CHECK(r.code == 0);
  CHECK(h.rt.containers.count("k3dpp-default-server-0"));
}

TEST_CASE("cluster delete of several names and --all; node delete --all") {
  CliHarness h;
  REQUIRE(h.run({"cluster", "create", "one"}).code == 0);
  REQUIRE(h.run({"cluster", "create", "two", "--api-port", "41001"}).code == 0);
  REQUIRE(h.run({"cluster", "create", "three", "--api-port", "41002"}).code == 0);
  REQUIRE(h.run({"cluster", "delete", "one", "two"}).code == 0);
  CHECK_FALSE(h.rt.containers.count("k3dpp-one-server-0"));
  CHECK_FALSE(h.rt.containers.count("k3dpp-two-server-0"));
  CHECK(h.rt.containers.count("k3dpp-three-server-0"));
  REQUIRE(h.run({"node", "create", "extra", "-c", "three", "--memory", "256m", "--node-label", "x=y",
                 "--runtime-label", "r=s", "--runtime-ulimit", "nproc=1000"}).code == 0);
  const auto& extra = h.rt.containers.at("k3dpp-extra-0").spec;
  CHECK(extra.memory == 256LL << 20);
  CHECK(has(extra.cmd, "--node-label=x=y"));
  CHECK(extra.labels.at("r") == "s");
  CHECK(h.run({"node", "create", "bad", "-c", "three", "-t", "wrong"}).err ==
        "ERROR: --token does not match the token of cluster 'three'\n");
  CHECK(h.run({"node", "delete"}).err == "ERROR: give node name(s) or --all\n");
  REQUIRE(h.run({"node", "delete", "--all"}).code == 0);
  CHECK(h.rt.containers.empty());
  // As in k3d, the cluster's network stays; deleting the cluster by name removes it.
  REQUIRE(h.run({"cluster", "delete", "three"}).code == 0);
  CHECK(h.rt.leftovers().empty());
}

TEST_CASE("node edit --port-add recreates the load balancer; other nodes are refused") {
  CliHarness h;
  REQUIRE(h.run({"cluster", "create", "e", "-e", "LBVAR=1@loadbalancer", "--host-alias", "1.2.3.4:a.local",
                 "--runtime-label", "team=blue@loadbalancer", "--lb-config-override", "settings.workerConnections=999"})
              .code == 0);
  auto r = h.run({"node", "edit", "k3dpp-e-serverlb", "--port-add", "8080:80"});
  CHECK(r.err == "");
  REQUIRE(r.code == 0);
  const auto& lb = h.rt.containers.at("k3dpp-e-serverlb");
  CHECK(lb.spec.ports.size() == 2);
  // What the LB was created with stays on the recreated one.
  CHECK(has(lb.spec.env, "LBVAR=1"));
  CHECK(has(lb.spec.extra_hosts, "a.local:1.2.3.4"));
  CHECK(lb.spec.labels.at("team") == "blue");
  CHECK(lb.files.at("/etc/k3dpp-lb/ports.json").find("\"workerConnections\":999") != std::string::npos);
  r = h.run({"node", "edit", "k3dpp-e-server-0", "--port-add", "8081:81"});
  CHECK(r.err.find("is a server: only the load balancer's ports can be edited") != std::string::npos);
}

TEST_CASE("kubeconfig merge: k3d's -d, -o -, --overwrite, -u") {
  CliHarness h;
  REQUIRE(h.run({"cluster", "create", "m", "--kubeconfig-update-default=false"}).code == 0);
  auto r = h.run({"kubeconfig", "merge", "m"});
  REQUIRE(r.code == 0);
  CHECK(r.out == h.dir + "/.config/k3dpp/kubeconfig-m.yaml\n");
  CHECK(files::exists(h.dir + "/.config/k3dpp/kubeconfig-m.yaml"));
  CHECK_FALSE(files::exists(h.dir + "/config"));
  r = h.run({"kubeconfig", "merge", "m", "-o", "-"});
  CHECK(r.out.find("current-context: k3dpp-m") != std::string::npos);
  r = h.run({"kubeconfig", "merge", "m", "-d"});
  REQUIRE(r.code == 0);
  CHECK(r.out == h.dir + "/config\n");
  std::string other = h.write("other.yaml", "apiVersion: v1\nkind: Config\nclusters:\n- name: k3dpp-m\n  cluster:\n"
                                            "    server: https://elsewhere:1\ncontexts: []\nusers: []\n");
  r = h.run({"kubeconfig", "merge", "m", "-o", other, "--update=false"});
  CHECK(r.code == 1);
  CHECK(r.err.find("clusters entry 'k3dpp-m' exists and differs") != std::string::npos);
  r = h.run({"kubeconfig", "merge", "m", "-o", other, "--overwrite"});
  REQUIRE(r.code == 0);
  CHECK(files::read(other)->find("elsewhere") == std::string::npos);
}

TEST_CASE("a create that times out names --timeout and k3dpp cluster logs") {
  CliHarness h;
  h.never_ready = true;
  auto r = h.run({"cluster", "create", "slow", "--timeout", "5s"});
  CHECK(r.code == 1);
  CHECK(r.err.find("not ready in time") != std::string::npos);
  CHECK(r.err.find("waited --timeout 5s; give it more with --timeout") != std::string::npos);
  CHECK(r.err.find("k3dpp cluster logs slow") != std::string::npos);
  CHECK(h.rt.leftovers().empty());
}

TEST_CASE("image import: archives and --mode") {
  CliHarness h;
  REQUIRE(h.run({"cluster", "create", "i"}).code == 0);
  auto r = h.run({"image", "import", h.dir + "/missing.tar", "-c", "i"});
  CHECK(r.err == "ERROR: image archive " + h.dir + "/missing.tar is not a readable file\n");
  CHECK(h.run({"image", "import", "nginx", "-c", "i", "--mode", "fast"}).code != 0);
}
