// Rule generation: golden iptables-restore input, parse-checked by the real iptables-restore --test
// inside a throwaway network namespace when this machine allows it (root + ip netns).
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/files.h"
#include "fake_api_client.h"
#include "common/strings.h"
#include "proxy/exec.h"
#include "proxy/proxy.h"
#include "proxy/rules.h"

using namespace k3dpp::proxy;
using k3dpp::proxy::json;

namespace {

std::string testdata(const std::string& name) { return std::string(K3DPP_PROXY_TESTDATA) + "/" + name; }

// Compares with testdata/<name>; K3DPP_UPDATE_GOLDEN=1 rewrites the file instead.
void check_golden(const std::string& name, const std::string& actual) {
  const std::string path = testdata(name);
  if (std::getenv("K3DPP_UPDATE_GOLDEN")) {
    std::ofstream(path) << actual;
  }
  auto expected = k3dpp::files::read(path);
  REQUIRE_MESSAGE(expected.has_value(), "missing golden file " << path);
  CHECK(actual == *expected);
}

// A throwaway network namespace for iptables-restore --test; empty name when unavailable.
struct TestNetns {
  std::string name;
  TestNetns() {
    if (geteuid() != 0) return;
    std::string n = "k3dpp-proxy-test-" + k3dpp::strings::random_hex(4);
    auto r = run_program({"ip", "netns", "add", n});
    if (r && r->exit_code == 0) name = n;
  }
  ~TestNetns() {
    if (!name.empty()) (void)run_program({"ip", "netns", "delete", name});
  }
};

TestNetns& netns() {
  static TestNetns ns;
  return ns;
}

void check_syntax(const std::string& rules) {
  if (netns().name.empty()) {
    MESSAGE("iptables-restore --test skipped: no network namespace (not root or no ip netns)");
    return;
  }
  auto r = run_program({"ip", "netns", "exec", netns().name, "iptables-restore", "--noflush", "--test"}, rules);
  REQUIRE(r.has_value());
  CHECK_MESSAGE(r->exit_code == 0, "iptables-restore --test: " << r->output << "\n" << rules);
}

ServiceState web(size_t n_endpoints) {
  ServiceState s;
  s.ns = "default";
  s.name = "web";
  s.cluster_ip = "10.43.12.34";
  ServicePortState p;
  p.name = "http";
  p.protocol = "TCP";
  p.port = 8080;
  for (size_t i = 0; i < n_endpoints; ++i) p.endpoints.push_back({"10.42.0." + std::to_string(10 + i), 80});
  s.ports.push_back(p);
  return s;
}

ProxyState state_with(std::vector<ServiceState> svcs) {
  ProxyState st;
  st.services = std::move(svcs);
  return st;
}

}  // namespace

TEST_CASE("chain names are stable, short and distinct") {
  auto s = web(2);
  std::string svc = service_chain(s, s.ports[0]);
  CHECK(k3dpp::strings::starts_with(svc, "K3DPP-SVC-"));
  CHECK(svc.size() == 26);  // iptables chain names are at most 28 characters
  CHECK(svc == service_chain(web(0), web(0).ports[0]));
  std::string a = endpoint_chain(s, s.ports[0], s.ports[0].endpoints[0]);
  std::string b = endpoint_chain(s, s.ports[0], s.ports[0].endpoints[1]);
  CHECK(a != b);
  CHECK(a.size() == 26);
  auto udp = s;
  udp.ports[0].protocol = "UDP";
  CHECK(service_chain(udp, udp.ports[0]) != svc);
}

TEST_CASE("ClusterIP with no endpoints rejects in filter and has no service chain") {
  auto text = render_rules(state_with({web(0)}));
  check_golden("clusterip_0.rules", text);
  CHECK(text.find("-A K3DPP-SERVICES -d 10.43.12.34/32 -p tcp -m comment --comment \"default/web:http has no "
                  "endpoints\" -m tcp --dport 8080 -j REJECT --reject-with tcp-reset") != std::string::npos);
  // UDP has no reset: port unreachable.
  auto udp = web(0);
  udp.ports[0].protocol = "UDP";
  auto utext = render_rules(state_with({udp}));
  CHECK(utext.find("-m udp --dport 8080 -j REJECT --reject-with icmp-port-unreachable") != std::string::npos);
  check_syntax(utext);
  CHECK(text.find("K3DPP-SVC-") == std::string::npos);
  check_syntax(text);
}

TEST_CASE("ClusterIP with one endpoint jumps straight to it") {
  auto text = render_rules(state_with({web(1)}));
  check_golden("clusterip_1.rules", text);
  CHECK(text.find("statistic") == std::string::npos);
  CHECK(text.find("-j DNAT --to-destination 10.42.0.10:80") != std::string::npos);
  CHECK(text.find("-j REJECT") == std::string::npos);
  check_syntax(text);
}

TEST_CASE("ClusterIP with three endpoints spreads evenly") {
  auto text = render_rules(state_with({web(3)}));
  check_golden("clusterip_3.rules", text);
  CHECK(text.find("--probability 0.33333333333") != std::string::npos);
  CHECK(text.find("--probability 0.50000000000") != std::string::npos);
  // The last endpoint takes whatever is left: exactly two statistic rules.
  size_t count = 0;
  for (size_t pos = 0; (pos = text.find("--mode random", pos)) != std::string::npos; ++pos) ++count;
  CHECK(count == 2);
  check_syntax(text);
}

TEST_CASE("NodePort service marks for masquerade and reaches the service chain") {
  auto s = web(2);
  s.name = "nginx-srv2";
  s.ports[0].name = "";
  s.ports[0].node_port = 30050;
  auto none = web(0);
  none.name = "empty-np";
  none.cluster_ip = "10.43.0.99";
  none.ports[0].node_port = 30051;
  auto text = render_rules(state_with({none, s}));
  check_golden("nodeport.rules", text);
  const std::string chain = service_chain(s, s.ports[0]);
  CHECK(text.find("-A K3DPP-NODEPORTS -p tcp -m comment --comment \"default/nginx-srv2\" -m tcp --dport 30050 -j "
                  "K3DPP-MARK-MASQ") != std::string::npos);
  CHECK(text.find("-A K3DPP-NODEPORTS -p tcp -m comment --comment \"default/nginx-srv2\" -m tcp --dport 30050 -j " +
                  chain) != std::string::npos);
  CHECK(text.find("-A K3DPP-EXTERNAL-SERVICES -p tcp -m comment --comment \"default/empty-np:http has no endpoints\" "
                  "-m addrtype --dst-type LOCAL -m tcp --dport 30051 -j REJECT") != std::string::npos);
  check_syntax(text);
}

TEST_CASE("admitted LoadBalancer service is served on its port on every node address") {
  auto s = web(2);
  s.name = "lb";
  s.ports[0].name = "";
  s.ports[0].port = 80;
  s.ports[0].node_port = 31080;
  s.load_balancer = true;
  auto none = web(0);
  none.name = "lb-empty";
  none.cluster_ip = "10.43.0.98";
  none.ports[0].port = 8081;
  none.ports[0].node_port = 31081;
  none.load_balancer = true;
  auto pending = web(1);
  pending.name = "lb-pending";
  pending.cluster_ip = "10.43.0.97";
  pending.ports[0].port = 8082;
  auto text = render_rules(state_with({s, none, pending}));
  check_golden("loadbalancer.rules", text);
  const std::string chain = service_chain(s, s.ports[0]);
  CHECK(text.find("-A K3DPP-NODEPORTS ! -d 127.0.0.0/8 -p tcp -m comment --comment \"default/lb loadbalancer\" -m tcp "
                  "--dport 80 -j K3DPP-MARK-MASQ") != std::string::npos);
  CHECK(text.find("-A K3DPP-NODEPORTS ! -d 127.0.0.0/8 -p tcp -m comment --comment \"default/lb loadbalancer\" -m tcp "
                  "--dport 80 -j " + chain) != std::string::npos);
  // Its NodePort still works.
  CHECK(text.find("--dport 31080 -j " + chain) != std::string::npos);
  // No endpoints: refused on the LB port too, not left to hang or reach the node.
  CHECK(text.find("-A K3DPP-EXTERNAL-SERVICES ! -d 127.0.0.0/8 -p tcp -m comment --comment \"default/lb-empty:http "
                  "loadbalancer has no endpoints\" -m addrtype --dst-type LOCAL -m tcp --dport 8081 -j REJECT") !=
        std::string::npos);
  // A service that is not admitted (still pending) gets no node-address rule.
  for (const auto& line : k3dpp::strings::split(text, '\n')) {
    if (k3dpp::strings::starts_with(line, "-A K3DPP-NODEPORTS")) CHECK(line.find("8082") == std::string::npos);
  }
  CHECK(text.find("lb-pending:http loadbalancer") == std::string::npos);
  check_syntax(text);
}

TEST_CASE("build_state: a LoadBalancer service is served only once it has an ingress and no class") {
  auto svc = [](const std::string& name, const std::string& extra_spec, const std::string& status) {
    return json::parse(R"({"metadata":{"namespace":"default","name":")" + name +
                       R"("},"spec":{"type":"LoadBalancer","clusterIP":"10.43.2.2",)" + extra_spec +
                       R"("ports":[{"port":80,"nodePort":30999}]},"status":)" + status + "}");
  };
  std::vector<json> services = {
      svc("a-served", "", R"({"loadBalancer":{"ingress":[{"ip":"172.18.0.3","ipMode":"VIP"}]}})"),
      svc("b-pending", "", R"({"loadBalancer":{}})"),
      svc("c-other-class", R"("loadBalancerClass":"example.com/lb",)",
          R"({"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}})"),
  };
  auto st = build_state(services, {}, {}, "10.42.0.0/16", {});
  REQUIRE(st.services.size() == 3);
  CHECK(st.services[0].load_balancer);
  CHECK_FALSE(st.services[1].load_balancer);
  CHECK_FALSE(st.services[2].load_balancer);
}

TEST_CASE("ClientIP affinity uses recent") {
  auto s = web(2);
  s.client_ip_affinity = true;
  s.affinity_timeout_seconds = 600;
  auto text = render_rules(state_with({s}));
  check_golden("affinity.rules", text);
  const std::string sep = endpoint_chain(s, s.ports[0], s.ports[0].endpoints[0]);
  CHECK(text.find("-m recent --name " + sep + " --rcheck --seconds 600 --reap -j " + sep) != std::string::npos);
  CHECK(text.find("-A " + sep + " -p tcp -m comment --comment \"default/web:http\" -m recent --name " + sep +
                  " --set -m tcp -j DNAT --to-destination 10.42.0.10:80") != std::string::npos);
  check_syntax(text);
}

TEST_CASE("kube-dns VIP is DNATed to the node-local server and its service is not proxied") {
  ServiceState dns;
  dns.ns = "kube-system";
  dns.name = "kube-dns";
  dns.cluster_ip = "10.43.0.10";
  dns.ports.push_back({"dns", "UDP", 53, 0, {}});
  dns.ports.push_back({"dns-tcp", "TCP", 53, 0, {}});
  dns.ports.push_back({"metrics", "TCP", 9153, 0, {}});
  ProxyState st = state_with({dns});
  st.dns.target_ip = "172.18.0.2";
  st.dns.target_port = 53;
  auto text = render_rules(st);
  check_golden("kube_dns.rules", text);
  CHECK(text.find("-A K3DPP-SERVICES -d 10.43.0.10/32 -p udp -m comment --comment \"cluster DNS to node-local "
                  "server\" -m udp --dport 53 -j DNAT --to-destination 172.18.0.2:53") != std::string::npos);
  CHECK(text.find("-d 10.43.0.10/32 -p tcp -m comment --comment \"cluster DNS to node-local server\" -m tcp --dport "
                  "53 -j DNAT --to-destination 172.18.0.2:53") != std::string::npos);
  // Port 53 is not rejected for lack of endpoints; the metrics port without endpoints is.
  CHECK(text.find("kube-system/kube-dns:dns has no endpoints") == std::string::npos);
  CHECK(text.find("kube-system/kube-dns:metrics has no endpoints") != std::string::npos);
  check_syntax(text);
}

TEST_CASE("egress and hairpin masquerade") {
  auto text = render_rules(state_with({web(1)}));
  CHECK(text.find("-A K3DPP-POSTROUTING -s 10.42.0.0/16 ! -d 10.42.0.0/16 -m comment --comment \"pod egress\" -j "
                  "MASQUERADE") != std::string::npos);
  auto s = web(1);
  const std::string sep = endpoint_chain(s, s.ports[0], s.ports[0].endpoints[0]);
  CHECK(text.find("-A " + sep + " -s 10.42.0.10/32 -m comment --comment \"default/web:http\" -j K3DPP-MARK-MASQ") !=
        std::string::npos);
  CHECK(text.find("! -s 10.42.0.0/16 -d 10.43.12.34/32 -p tcp") != std::string::npos);
}

TEST_CASE("jump rules already present are not inserted again; stale chains are deleted") {
  const std::string save =
      "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:K3DPP-SERVICES - [0:0]\n:K3DPP-SVC-OLDOLDOLDOLDOLDO - "
      "[0:0]\n-A PREROUTING -j K3DPP-SERVICES\n-A OUTPUT -m comment --comment x -j K3DPP-SERVICES\n-A "
      "K3DPP-SERVICES -j K3DPP-SVC-OLDOLDOLDOLDOLDO\nCOMMIT\n*filter\n-A FORWARD -j K3DPP-FORWARD\nCOMMIT\n";
  auto present = present_jumps(save);
  CHECK(present.size() == 3);
  auto stale = dynamic_chains_in_save(save);
  CHECK(stale == std::set<std::string>{"K3DPP-SVC-OLDOLDOLDOLDOLDO"});
  auto text = render_rules(state_with({web(1)}), present, stale);
  CHECK(text.find("-I PREROUTING") == std::string::npos);
  CHECK(text.find("-I OUTPUT 1 -j K3DPP-SERVICES") == std::string::npos);
  CHECK(text.find("-I POSTROUTING 1 -j K3DPP-POSTROUTING") != std::string::npos);
  CHECK(text.find("-I FORWARD 1 -j K3DPP-FORWARD") == std::string::npos);
  CHECK(text.find("-I FORWARD 1 -m conntrack --ctstate NEW -j K3DPP-SERVICES") != std::string::npos);
  CHECK(text.find(":K3DPP-SVC-OLDOLDOLDOLDOLDO - [0:0]") != std::string::npos);
  CHECK(text.find("-X K3DPP-SVC-OLDOLDOLDOLDOLDO\n") != std::string::npos);
  // A live chain is never deleted.
  auto s = web(1);
  auto live = service_chain(s, s.ports[0]);
  auto text2 = render_rules(state_with({s}), present, {live});
  CHECK(text2.find("-X " + live) == std::string::npos);
}

TEST_CASE("build_state from Services, EndpointSlices and Endpoints") {
  std::vector<json> services = {
      json::parse(R"({"metadata":{"namespace":"dev","name":"nginx-svc"},
        "spec":{"clusterIP":"10.43.1.1","type":"ClusterIP","ports":[{"name":"http","port":8080,"targetPort":80,"protocol":"TCP"}]}})"),
      json::parse(R"({"metadata":{"namespace":"dev","name":"old"},
        "spec":{"clusterIP":"10.43.1.2","sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}},
        "ports":[{"port":80,"nodePort":30080}]}})"),
      json::parse(R"({"metadata":{"namespace":"dev","name":"ext"},"spec":{"type":"ExternalName","externalName":"example.com"}})"),
  };
  std::vector<json> slices = {
      json::parse(R"({"metadata":{"namespace":"dev","name":"nginx-svc-abc","labels":{"kubernetes.io/service-name":"nginx-svc"}},
        "addressType":"IPv4","ports":[{"name":"http","port":80,"protocol":"TCP"}],
        "endpoints":[{"addresses":["10.42.0.7"],"conditions":{"ready":true}},
                     {"addresses":["10.42.1.3"]},
                     {"addresses":["10.42.1.4"],"conditions":{"ready":false}}]})"),
      json::parse(R"({"metadata":{"namespace":"dev","name":"nginx-svc-def","labels":{"kubernetes.io/service-name":"nginx-svc"}},
        "addressType":"IPv4","ports":[{"name":"http","port":80,"protocol":"TCP"}],
        "endpoints":[{"addresses":["10.42.0.7"],"conditions":{"ready":true}}]})"),
  };
  std::vector<json> endpoints = {
      json::parse(R"({"metadata":{"namespace":"dev","name":"nginx-svc"},"subsets":[{"addresses":[{"ip":"10.99.9.9"}],"ports":[{"name":"http","port":80}]}]})"),
      json::parse(R"({"metadata":{"namespace":"dev","name":"old"},"subsets":[{"addresses":[{"ip":"10.42.2.2"}],
        "notReadyAddresses":[{"ip":"10.42.2.3"}],"ports":[{"port":8000,"protocol":"TCP"}]}]})"),
  };
  auto st = build_state(services, slices, endpoints, "10.42.0.0/16", {});
  REQUIRE(st.services.size() == 2);  // ExternalName is not proxied
  const auto& ng = st.services[0];
  CHECK(ng.name == "nginx-svc");
  REQUIRE(ng.ports.size() == 1);
  // Slices win over Endpoints; not-ready dropped, duplicates merged, sorted.
  CHECK(ng.ports[0].endpoints == std::vector<EndpointAddr>{{"10.42.0.7", 80}, {"10.42.1.3", 80}});
  const auto& old = st.services[1];
  CHECK(old.name == "old");
  CHECK(old.client_ip_affinity);
  CHECK(old.affinity_timeout_seconds == 60);
  REQUIRE(old.ports.size() == 1);
  CHECK(old.ports[0].protocol == "TCP");
  CHECK(old.ports[0].node_port == 30080);
  CHECK(old.ports[0].endpoints == std::vector<EndpointAddr>{{"10.42.2.2", 8000}});
}

TEST_CASE("RuleSyncer reads iptables-save and applies one --noflush transaction") {
  char dir_tmpl[] = "/tmp/k3dpp-proxy-syncer-XXXXXX";
  REQUIRE(mkdtemp(dir_tmpl) != nullptr);
  const std::string dir = dir_tmpl;
  {
    std::ofstream(dir + "/save") << "*nat\n-A PREROUTING -j K3DPP-SERVICES\n:K3DPP-SEP-STALESTALESTALEST - [0:0]\nCOMMIT\n";
  }
  IptablesCommands cmds;
  cmds.save = {"sh", "-c", "echo \"$@\" >> " + dir + "/save-args; cat " + dir + "/save", "sh"};
  cmds.restore = {"sh", "-c", "echo \"$@\" > " + dir + "/restore-args; cat > " + dir + "/restore-in", "sh"};
  RuleSyncer syncer(cmds);
  auto st = syncer.apply(state_with({web(2)}));
  REQUIRE_MESSAGE(st.has_value(), st.error().message);
  CHECK(*k3dpp::files::read(dir + "/restore-args") == "--noflush\n");
  CHECK(*k3dpp::files::read(dir + "/save-args") == "-t nat\n-t filter\n");
  auto in = *k3dpp::files::read(dir + "/restore-in");
  CHECK(in == syncer.last_rules());
  CHECK(in.find("-I PREROUTING") == std::string::npos);
  CHECK(in.find("-I OUTPUT 1 -j K3DPP-SERVICES") != std::string::npos);
  CHECK(in.find("-X K3DPP-SEP-STALESTALESTALEST") != std::string::npos);

  IptablesCommands failing = cmds;
  failing.restore = {"sh", "-c", "echo 'line 3 failed' >&2; exit 2", "sh"};
  RuleSyncer bad(failing);
  auto st2 = bad.apply(state_with({web(1)}));
  REQUIRE_FALSE(st2.has_value());
  CHECK(st2.error().message.find("applying service rules") != std::string::npos);
  CHECK(st2.error().message.find("line 3 failed") != std::string::npos);
  (void)run_program({"rm", "-rf", dir});
}

// How fast a change is applied is a figure, printed here, not asserted (tests assert no wall-clock
// times); the waits are only bounds.
TEST_CASE("Proxy applies at start and again on an endpoint change") {
  char dir_tmpl[] = "/tmp/k3dpp-proxy-live-XXXXXX";
  REQUIRE(mkdtemp(dir_tmpl) != nullptr);
  const std::string dir = dir_tmpl;
  k3dpp::testing::FakeApiClient api;
  api.set(k3dpp::client::res::kServices,
          {json::parse(R"({"metadata":{"namespace":"default","name":"web","resourceVersion":"1"},
            "spec":{"clusterIP":"10.43.5.5","ports":[{"name":"http","port":80,"protocol":"TCP"}]}})")});
  auto slice = [](const std::vector<std::string>& ips) {
    json s = json::parse(R"({"metadata":{"namespace":"default","name":"web-1","resourceVersion":"1",
      "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
      "ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[]})");
    for (const auto& ip : ips) s["endpoints"].push_back({{"addresses", {ip}}});
    return s;
  };
  api.set(k3dpp::client::res::kEndpointSlices, {slice({"10.42.0.5"})});
  ProxyConfig cfg;
  cfg.iptables.save = {"sh", "-c", "true", "sh"};
  cfg.iptables.restore = {"sh", "-c", "cat > " + dir + "/in.tmp && mv " + dir + "/in.tmp " + dir + "/in", "sh"};
  cfg.dns.target_ip = "172.18.0.3";
  cfg.set_bridge_nf_call_iptables = false;  // never touch the host's sysctls from a test
  Proxy proxy(api, cfg);
  proxy.start();
  auto wait_for = [&](const std::string& needle, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      auto text = k3dpp::files::read(dir + "/in");
      if (text && text->find(needle) != std::string::npos) return true;
      usleep(10 * 1000);
    }
    return false;
  };
  CHECK(wait_for("--to-destination 10.42.0.5:8080", std::chrono::seconds(3)));
  CHECK(wait_for("--to-destination 172.18.0.3:53", std::chrono::milliseconds(10)));
  // The file appears when the restore command renames it; the proxy counts the apply once that
  // command has exited, a moment later.
  for (int i = 0; i < 500 && proxy.applies() == 0; ++i) usleep(10 * 1000);
  CHECK(proxy.applies() == 1);

  auto t0 = std::chrono::steady_clock::now();
  api.emit(k3dpp::client::res::kEndpointSlices, "MODIFIED", slice({"10.42.0.5", "10.42.1.6"}));
  CHECK(wait_for("--to-destination 10.42.1.6:8080", std::chrono::seconds(10)));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("endpoint change applied after " << ms << " ms");

  // Removing the last endpoint turns the service into a reject.
  api.emit(k3dpp::client::res::kEndpointSlices, "DELETED", slice({}));
  CHECK(wait_for("default/web:http has no endpoints", std::chrono::seconds(10)));
  CHECK(proxy.current_state().services.size() == 1);
  proxy.stop();
  (void)run_program({"rm", "-rf", dir});
}
