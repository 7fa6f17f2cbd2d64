// The proxy's rules in real network namespaces: a "node" netns with a cni0 bridge and two endpoint
// "pods" (busybox nc listeners) plus an outside client netns. Checks ClusterIP spreading (from the
// node, from a pod including hairpin), NodePort and LoadBalancer ports from outside, fast refusal
// without endpoints,
// idempotent re-apply and endpoint removal. All traffic stays inside namespaces created here.
#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>

#include "common/strings.h"
#include "proxy/exec.h"
#include "proxy/proxy.h"
#include "proxy/rules.h"

extern char** environ;

using namespace k3dpp::proxy;

namespace {

bool run_ok(const std::vector<std::string>& argv) {
  auto r = run_program(argv);
  if (!r || r->exit_code != 0) {
    MESSAGE(k3dpp::strings::join(argv, " ") << " failed: " << (r ? r->output : r.error().message));
    return false;
  }
  return true;
}

class Topology {
 public:
  std::string prefix = "k3dpp-proxy-test-" + k3dpp::strings::random_hex(3);
  std::string node = prefix + "-n";
  std::string ep1 = prefix + "-e1";
  std::string ep2 = prefix + "-e2";
  std::string cli = prefix + "-c";
  std::string dir;
  std::vector<pid_t> listeners;
  bool ok = false;

  Topology() {
    char tmpl[] = "/tmp/k3dpp-proxy-it-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir = tmpl;
    ok = setup();
  }
  ~Topology() {
    for (pid_t p : listeners) {
      kill(p, SIGTERM);
      waitpid(p, nullptr, 0);
    }
    for (const auto& ns : {cli, ep2, ep1, node}) (void)run_program({"ip", "netns", "delete", ns});
    if (!dir.empty()) (void)run_program({"rm", "-rf", dir});
  }

  std::vector<std::string> in(const std::string& ns, std::vector<std::string> argv) const {
    std::vector<std::string> out = {"ip", "netns", "exec", ns};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }

  // One TCP connection; the listener's name ("ep1"/"ep2"), or "" on failure.
  std::string connect(const std::string& from, const std::string& ip, int port) const {
    auto r = run_program(in(from, {"/bin/busybox", "nc", "-w", "2", ip, std::to_string(port)}));
    if (!r || r->exit_code != 0) return {};
    return std::string(k3dpp::strings::trim(r->output));
  }

  std::map<std::string, int> spread(const std::string& from, const std::string& ip, int port, int tries) const {
    std::map<std::string, int> seen;
    for (int i = 0; i < tries; ++i) seen[connect(from, ip, port)]++;
    return seen;
  }

  std::string save() const {
    auto r = run_program(in(node, {"iptables-save"}));
    return r ? r->output : std::string();
  }

 private:
  bool setup() {
    for (const auto& ns : {node, ep1, ep2, cli}) {
      if (!run_ok({"ip", "netns", "add", ns})) return false;
      if (!run_ok(in(ns, {"ip", "link", "set", "lo", "up"}))) return false;
    }
    if (!run_ok(in(node, {"sysctl", "-qw", "net.ipv4.ip_forward=1"}))) return false;
    if (!run_ok(in(node, {"ip", "link", "add", "cni0", "type", "bridge"}))) return false;
    if (!run_ok(in(node, {"ip", "addr", "add", "10.42.0.1/24", "dev", "cni0"}))) return false;
    if (!run_ok(in(node, {"ip", "link", "set", "cni0", "up"}))) return false;
    int i = 1;
    for (const auto& ep : {ep1, ep2}) {
      std::string v = "v" + std::to_string(i);
      std::string ip = "10.42.0.1" + std::to_string(i);
      if (!run_ok({"ip", "link", "add", v, "netns", node, "type", "veth", "peer", "name", "eth0", "netns", ep}))
        return false;
      if (!run_ok(in(node, {"ip", "link", "set", v, "master", "cni0"}))) return false;
      if (!run_ok(in(node, {"ip", "link", "set", v, "type", "bridge_slave", "hairpin", "on"}))) return false;
      if (!run_ok(in(node, {"ip", "link", "set", v, "up"}))) return false;
      if (!run_ok(in(ep, {"ip", "addr", "add", ip + "/24", "dev", "eth0"}))) return false;
      if (!run_ok(in(ep, {"ip", "link", "set", "eth0", "up"}))) return false;
      if (!run_ok(in(ep, {"ip", "route", "add", "default", "via", "10.42.0.1"}))) return false;
      const std::string script = dir + "/ep" + std::to_string(i) + ".sh";
      std::ofstream(script) << "#!/bin/sh\necho ep" << i << "\n";
      if (!run_ok({"chmod", "+x", script})) return false;
      auto argv = in(ep, {"/bin/busybox", "nc", "-ll", "-p", "80", "-e", script});
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      pid_t pid = 0;
      if (posix_spawnp(&pid, "ip", nullptr, nullptr, args.data(), environ) != 0) return false;
      listeners.push_back(pid);
      ++i;
    }
    if (!run_ok({"ip", "link", "add", "up0", "netns", node, "type", "veth", "peer", "name", "eth0", "netns", cli}))
      return false;
    if (!run_ok(in(node, {"ip", "addr", "add", "192.168.77.1/24", "dev", "up0"}))) return false;
    if (!run_ok(in(node, {"ip", "link", "set", "up0", "up"}))) return false;
    if (!run_ok(in(cli, {"ip", "addr", "add", "192.168.77.2/24", "dev", "eth0"}))) return false;
    if (!run_ok(in(cli, {"ip", "link", "set", "eth0", "up"}))) return false;
    if (!run_ok(in(cli, {"ip", "route", "add", "default", "via", "192.168.77.1"}))) return false;
    // Like a real node (docker's eth0): locally generated traffic to a VIP needs a route before
    // nat OUTPUT rewrites it.
    if (!run_ok(in(node, {"ip", "route", "add", "default", "via", "192.168.77.2"}))) return false;
    // Wait for both listeners.
    for (int t = 0; t < 50; ++t) {
      if (connect(node, "10.42.0.11", 80) == "ep1" && connect(node, "10.42.0.12", 80) == "ep2") return true;
      usleep(100 * 1000);
    }
    MESSAGE("endpoint listeners did not come up");
    return false;
  }
};

ProxyState make_state(const std::vector<std::string>& endpoint_ips) {
  using json = k3dpp::proxy::json;
  std::vector<json> services = {
      json::parse(R"({"metadata":{"namespace":"default","name":"web"},"spec":{"type":"NodePort","clusterIP":"10.43.100.1",
        "ports":[{"name":"http","port":8080,"targetPort":80,"protocol":"TCP","nodePort":30080}]}})"),
      json::parse(R"({"metadata":{"namespace":"default","name":"empty"},"spec":{"type":"NodePort","clusterIP":"10.43.100.2",
        "ports":[{"port":80,"protocol":"TCP","nodePort":30081}]}})"),
  };
  json slice = json::parse(R"({"metadata":{"namespace":"default","name":"web-abc","labels":{"kubernetes.io/service-name":"web"}},
    "addressType":"IPv4","ports":[{"name":"http","port":80,"protocol":"TCP"}],"endpoints":[]})");
  for (const auto& ip : endpoint_ips)
    slice["endpoints"].push_back({{"addresses", {ip}}, {"conditions", {{"ready", true}}}});
  return build_state(services, {slice}, {}, "10.42.0.0/16", {});
}

// web plus three LoadBalancer services: "lb" (admitted, web's pods, port 8088), "lb-pending" (no
// ingress yet, port 8089) and "lb-empty" (admitted, no endpoints, port 8090).
ProxyState make_lb_state() {
  using json = k3dpp::proxy::json;
  ProxyState st = make_state({"10.42.0.11", "10.42.0.12"});
  const std::string admitted = R"({"loadBalancer":{"ingress":[{"ip":"192.168.77.1","ipMode":"VIP"}]}})";
  auto lb = [](const std::string& name, const std::string& ip, int port, const std::string& status) {
    return json::parse(R"({"metadata":{"namespace":"default","name":")" + name +
                       R"("},"spec":{"type":"LoadBalancer","clusterIP":")" + ip + R"(","ports":[{"port":)" +
                       std::to_string(port) + R"(,"targetPort":80,"protocol":"TCP","nodePort":)" +
                       std::to_string(port + 23000) + "}]},\"status\":" + status + "}");
  };
  std::vector<json> services = {lb("lb", "10.43.100.3", 8088, admitted), lb("lb-pending", "10.43.100.4", 8089, R"({"loadBalancer":{}})"),
                                lb("lb-empty", "10.43.100.5", 8090, admitted)};
  std::vector<json> slices;
  for (const char* name : {"lb", "lb-pending"}) {
    json slice = json::parse(R"({"metadata":{"namespace":"default","name":"x","labels":{}},"addressType":"IPv4",
      "ports":[{"port":80,"protocol":"TCP"}],"endpoints":[{"addresses":["10.42.0.11"]},{"addresses":["10.42.0.12"]}]})");
    slice["metadata"]["name"] = std::string(name) + "-abc";
    slice["metadata"]["labels"]["kubernetes.io/service-name"] = name;
    slices.push_back(slice);
  }
  ProxyState more = build_state(services, slices, {}, "10.42.0.0/16", {});
  st.services.insert(st.services.end(), more.services.begin(), more.services.end());
  return st;
}

}  // namespace

TEST_CASE("service rules in network namespaces") {
  if (geteuid() != 0 || access("/bin/busybox", X_OK) != 0) {
    MESSAGE("skipped: needs root and /bin/busybox");
    return;
  }
  Topology topo;
  REQUIRE_MESSAGE(topo.ok, "could not build the test namespaces");
  IptablesCommands cmds;
  cmds.restore = topo.in(topo.node, {"iptables-restore"});
  cmds.save = topo.in(topo.node, {"iptables-save"});
  RuleSyncer syncer(cmds);

  auto t0 = std::chrono::steady_clock::now();
  auto st = syncer.apply(make_state({"10.42.0.11", "10.42.0.12"}));
  REQUIRE_MESSAGE(st.has_value(), st.error().message);
  auto apply_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("apply took " << apply_ms << " ms");
  CHECK(apply_ms < 1000);

  SUBCASE("ClusterIP from the node spreads over both endpoints") {
    auto seen = topo.spread(topo.node, "10.43.100.1", 8080, 30);
    INFO("ep1=" << seen["ep1"] << " ep2=" << seen["ep2"] << " failed=" << seen[""]);
    CHECK(seen["ep1"] > 0);
    CHECK(seen["ep2"] > 0);
    CHECK(seen[""] == 0);
  }
  SUBCASE("ClusterIP from a pod, including the hairpin back to itself") {
    auto seen = topo.spread(topo.ep1, "10.43.100.1", 8080, 30);
    INFO("ep1=" << seen["ep1"] << " ep2=" << seen["ep2"] << " failed=" << seen[""]);
    CHECK(seen["ep1"] > 0);
    CHECK(seen["ep2"] > 0);
    CHECK(seen[""] == 0);
  }
  SUBCASE("NodePort from outside the pod network") {
    auto seen = topo.spread(topo.cli, "192.168.77.1", 30080, 30);
    INFO("ep1=" << seen["ep1"] << " ep2=" << seen["ep2"] << " failed=" << seen[""]);
    CHECK(seen["ep1"] > 0);
    CHECK(seen["ep2"] > 0);
    CHECK(seen[""] == 0);
    // NodePort on the pod-side node address too (every local address).
    CHECK(topo.connect(topo.ep2, "10.42.0.1", 30080).rfind("ep", 0) == 0);
  }
  SUBCASE("no endpoints: refused fast, ClusterIP and NodePort") {
    for (const auto& [from, ip, port] : std::vector<std::tuple<std::string, std::string, int>>{
             {topo.node, "10.43.100.2", 80}, {topo.ep1, "10.43.100.2", 80}, {topo.cli, "192.168.77.1", 30081}}) {
      auto start = std::chrono::steady_clock::now();
      auto r = run_program(topo.in(from, {"/bin/busybox", "nc", "-w", "5", ip, std::to_string(port)}));
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
      REQUIRE(r.has_value());
      INFO(from << " -> " << ip << ":" << port << ": " << r->output);
      CHECK(r->exit_code != 0);
      // Refused (a TCP reset), not dropped or unreachable (which would leave the client retrying
      // its SYN until nc's 5 s limit). The time is printed, not asserted.
      CHECK(r->output.find("refused") != std::string::npos);
      MESSAGE(from << " -> " << ip << ":" << port << " refused after " << ms << " ms");
    }
  }
  SUBCASE("LoadBalancer: the port on every node address, only once admitted; refused without endpoints") {
    REQUIRE(syncer.apply(make_lb_state()).has_value());
    auto seen = topo.spread(topo.cli, "192.168.77.1", 8088, 30);
    INFO("ep1=" << seen["ep1"] << " ep2=" << seen["ep2"] << " failed=" << seen[""]);
    CHECK(seen["ep1"] > 0);
    CHECK(seen["ep2"] > 0);
    CHECK(seen[""] == 0);
    // From a pod to the node's pod-side address, and the service's NodePort still works.
    CHECK(topo.connect(topo.ep2, "10.42.0.1", 8088).rfind("ep", 0) == 0);
    CHECK(topo.connect(topo.cli, "192.168.77.1", 8088 + 23000).rfind("ep", 0) == 0);
    // Not admitted: the node's port is not taken over (nothing listens there: refused), while its
    // ClusterIP works.
    CHECK(topo.connect(topo.cli, "192.168.77.1", 8089).empty());
    CHECK(topo.connect(topo.node, "10.43.100.4", 8089).rfind("ep", 0) == 0);
    // Loopback is never taken over.
    CHECK(topo.save().find("! -d 127.0.0.0/8 -p tcp -m comment --comment \"default/lb loadbalancer\"") !=
          std::string::npos);
    auto start = std::chrono::steady_clock::now();
    auto r = run_program(topo.in(topo.cli, {"/bin/busybox", "nc", "-w", "5", "192.168.77.1", "8090"}));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    REQUIRE(r.has_value());
    CHECK(r->exit_code != 0);
    CHECK(r->output.find("refused") != std::string::npos);
    MESSAGE("load balancer without endpoints: refused after " << ms << " ms");
    CHECK(syncer.last_rules().find("default/lb-empty loadbalancer has no endpoints") != std::string::npos);
  }
  SUBCASE("re-apply is idempotent; removing an endpoint removes its chain") {
    REQUIRE(syncer.apply(make_state({"10.42.0.11", "10.42.0.12"})).has_value());
    auto save = topo.save();
    auto count = [&](const std::string& needle) {
      size_t n = 0;
      for (size_t pos = 0; (pos = save.find(needle, pos)) != std::string::npos; ++pos) ++n;
      return n;
    };
    CHECK(count("-A PREROUTING -j K3DPP-SERVICES") == 1);
    CHECK(count("-A OUTPUT -j K3DPP-SERVICES") == 1);
    CHECK(count("-A POSTROUTING -j K3DPP-POSTROUTING") == 1);
    CHECK(count("-A FORWARD -j K3DPP-FORWARD") == 1);
    auto before = dynamic_chains_in_save(save);
    CHECK(before.size() == 3);  // one SVC, two SEP

    auto t1 = std::chrono::steady_clock::now();
    REQUIRE(syncer.apply(make_state({"10.42.0.11"})).has_value());
    CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(1));
    save = topo.save();
    auto after = dynamic_chains_in_save(save);
    CHECK(after.size() == 2);
    CHECK(save.find("10.42.0.12:80") == std::string::npos);
    auto seen = topo.spread(topo.node, "10.43.100.1", 8080, 10);
    CHECK(seen["ep1"] == 10);

    // Flushing one of our chains from outside is repaired by the next apply.
    REQUIRE(run_ok(topo.in(topo.node, {"iptables", "-t", "nat", "-D", "PREROUTING", "-j", "K3DPP-SERVICES"})));
    REQUIRE(syncer.apply(make_state({"10.42.0.11", "10.42.0.12"})).has_value());
    save = topo.save();
    CHECK(count("-A PREROUTING -j K3DPP-SERVICES") == 1);
    auto both = topo.spread(topo.ep2, "10.43.100.1", 8080, 30);
    CHECK(both["ep1"] > 0);
    CHECK(both["ep2"] > 0);
  }
}
