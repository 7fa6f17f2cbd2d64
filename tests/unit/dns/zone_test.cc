// The cluster.local zone: A, AAAA NODATA, headless, SRV, PTR, pod names, NXDOMAIN, forwarding.
#include <doctest/doctest.h>

#include "dns/zone.h"

using namespace k3dpp::dns;

namespace {

Zone test_zone() {
  std::vector<json> services = {
      json::parse(R"({"metadata":{"namespace":"dev","name":"nginx-svc"},"spec":{"type":"ClusterIP","clusterIP":"10.43.2.1",
        "ports":[{"name":"http","port":8080,"protocol":"TCP","targetPort":80}]}})"),
      json::parse(R"({"metadata":{"namespace":"dev","name":"db"},"spec":{"clusterIP":"None",
        "ports":[{"name":"pg","port":5432,"protocol":"TCP"}]}})"),
      json::parse(R"({"metadata":{"namespace":"dev","name":"empty-headless"},"spec":{"clusterIP":"None","ports":[{"port":1}]}})"),
      json::parse(R"({"metadata":{"namespace":"dev","name":"ext"},"spec":{"type":"ExternalName","externalName":"example.com"}})"),
      json::parse(R"({"metadata":{"namespace":"kube-system","name":"kube-dns"},"spec":{"clusterIP":"10.43.0.10",
        "ports":[{"name":"dns","port":53,"protocol":"UDP"},{"name":"dns-tcp","port":53,"protocol":"TCP"}]}})"),
  };
  std::vector<json> slices = {
      json::parse(R"({"metadata":{"namespace":"dev","name":"nginx-svc-x","labels":{"kubernetes.io/service-name":"nginx-svc"}},
        "addressType":"IPv4","ports":[{"name":"http","port":80,"protocol":"TCP"}],
        "endpoints":[{"addresses":["10.42.0.7"],"conditions":{"ready":true}}]})"),
      json::parse(R"({"metadata":{"namespace":"dev","name":"db-x","labels":{"kubernetes.io/service-name":"db"}},
        "addressType":"IPv4","ports":[{"name":"pg","port":5432,"protocol":"TCP"}],
        "endpoints":[{"addresses":["10.42.1.5"],"hostname":"db-0","conditions":{"ready":true}},
                     {"addresses":["10.42.1.6"],"conditions":{"ready":true}},
                     {"addresses":["10.42.1.9"],"conditions":{"ready":false}}]})"),
  };
  ZoneConfig cfg;
  cfg.host_gateway_ip = "172.18.0.1";
  return Zone::build(services, slices, {}, cfg);
}

ZoneAnswer must(const Zone& z, const std::string& name, uint16_t t) {
  auto a = z.lookup({name, t, kClassIN});
  REQUIRE_MESSAGE(a.has_value(), name << " was not answered by the zone");
  return *a;
}

std::vector<std::string> addresses(const std::vector<Record>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs)
    if (r.rtype == type::kA && r.data.size() == 4)
      out.push_back(std::to_string(static_cast<uint8_t>(r.data[0])) + "." + std::to_string(static_cast<uint8_t>(r.data[1])) +
                    "." + std::to_string(static_cast<uint8_t>(r.data[2])) + "." +
                    std::to_string(static_cast<uint8_t>(r.data[3])));
  return out;
}

}  // namespace

TEST_CASE("service A record by its full name, any case, trailing dot") {
  auto z = test_zone();
  auto a = must(z, "nginx-svc.dev.svc.cluster.local", type::kA);
  CHECK(a.rcode == rcode::kNoError);
  CHECK(a.authoritative);
  CHECK(addresses(a.answers) == std::vector<std::string>{"10.43.2.1"});
  CHECK(a.answers[0].ttl == 5);
  auto b = must(z, "NGINX-SVC.Dev.svc.cluster.local.", type::kA);
  CHECK(addresses(b.answers) == std::vector<std::string>{"10.43.2.1"});
  CHECK(b.answers[0].name == "NGINX-SVC.Dev.svc.cluster.local");  // echoes the asker's spelling
  CHECK(addresses(must(z, "kube-dns.kube-system.svc.cluster.local", type::kA).answers) ==
        std::vector<std::string>{"10.43.0.10"});
}

TEST_CASE("AAAA for an existing name is NODATA with the SOA") {
  auto z = test_zone();
  auto a = must(z, "nginx-svc.dev.svc.cluster.local", type::kAAAA);
  CHECK(a.rcode == rcode::kNoError);
  CHECK(a.answers.empty());
  REQUIRE(a.authority.size() == 1);
  CHECK(a.authority[0].rtype == type::kSOA);
  CHECK(a.authority[0].name == "cluster.local");
}

TEST_CASE("search-path expansions of a short name are NXDOMAIN with SOA") {
  auto z = test_zone();
  // What a pod in "dev" tries first for "nginx-svc.dev.svc.cluster.local" (ndots 5).
  auto a = must(z, "nginx-svc.dev.svc.cluster.local.dev.svc.cluster.local", type::kA);
  CHECK(a.rcode == rcode::kNXDomain);
  REQUIRE(a.authority.size() == 1);
  CHECK(a.authority[0].rtype == type::kSOA);
  CHECK(must(z, "nginx-svc.default.svc.cluster.local", type::kA).rcode == rcode::kNXDomain);
  CHECK(must(z, "nope.cluster.local", type::kA).rcode == rcode::kNXDomain);
  // Empty non-terminals exist.
  auto ent = must(z, "dev.svc.cluster.local", type::kA);
  CHECK(ent.rcode == rcode::kNoError);
  CHECK(ent.answers.empty());
}

TEST_CASE("headless service answers ready endpoint IPs and per-endpoint names") {
  auto z = test_zone();
  auto a = must(z, "db.dev.svc.cluster.local", type::kA);
  CHECK(addresses(a.answers) == std::vector<std::string>{"10.42.1.5", "10.42.1.6"});
  CHECK(addresses(must(z, "db-0.db.dev.svc.cluster.local", type::kA).answers) ==
        std::vector<std::string>{"10.42.1.5"});
  CHECK(addresses(must(z, "10-42-1-6.db.dev.svc.cluster.local", type::kA).answers) ==
        std::vector<std::string>{"10.42.1.6"});
  CHECK(must(z, "10-42-1-9.db.dev.svc.cluster.local", type::kA).rcode == rcode::kNXDomain);  // not ready
  auto empty = must(z, "empty-headless.dev.svc.cluster.local", type::kA);
  CHECK(empty.rcode == rcode::kNoError);
  CHECK(empty.answers.empty());
}

TEST_CASE("SRV for named ports") {
  auto z = test_zone();
  auto a = must(z, "_http._tcp.nginx-svc.dev.svc.cluster.local", type::kSRV);
  REQUIRE(a.answers.size() == 1);
  CHECK(a.answers[0].rtype == type::kSRV);
  CHECK(a.answers[0].port == 8080);
  CHECK(a.answers[0].target == "nginx-svc.dev.svc.cluster.local");
  CHECK(addresses(a.additional) == std::vector<std::string>{"10.43.2.1"});
  auto h = must(z, "_pg._tcp.db.dev.svc.cluster.local", type::kSRV);
  REQUIRE(h.answers.size() == 2);
  CHECK(h.answers[0].target == "db-0.db.dev.svc.cluster.local");
  CHECK(h.answers[1].target == "10-42-1-6.db.dev.svc.cluster.local");
  CHECK(h.answers[0].port == 5432);
  CHECK(h.answers[0].weight == 50);
  CHECK(must(z, "_dns._udp.kube-dns.kube-system.svc.cluster.local", type::kSRV).answers.size() == 1);
  CHECK(must(z, "_dns._tcp.kube-dns.kube-system.svc.cluster.local", type::kSRV).rcode == rcode::kNXDomain);
}

TEST_CASE("PTR for service and pod IPs; unknown cluster IPs NXDOMAIN; others forwarded") {
  auto z = test_zone();
  CHECK(Zone::reverse_name("10.43.2.1") == "1.2.43.10.in-addr.arpa");
  auto s = must(z, "1.2.43.10.in-addr.arpa", type::kPTR);
  REQUIRE(s.answers.size() == 1);
  CHECK(s.answers[0].target == "nginx-svc.dev.svc.cluster.local");
  auto p = must(z, "7.0.42.10.in-addr.arpa", type::kPTR);
  REQUIRE(p.answers.size() == 1);
  CHECK(p.answers[0].target == "10-42-0-7.dev.pod.cluster.local");
  auto h = must(z, "5.1.42.10.in-addr.arpa", type::kPTR);
  REQUIRE(h.answers.size() == 1);
  CHECK(h.answers[0].target == "db-0.db.dev.svc.cluster.local");
  CHECK(must(z, "99.99.43.10.in-addr.arpa", type::kPTR).rcode == rcode::kNXDomain);
  CHECK_FALSE(z.lookup({"8.8.8.8.in-addr.arpa", type::kPTR, kClassIN}).has_value());
}

TEST_CASE("pod names, ExternalName, host.k3dpp.internal, apex, and forwarding") {
  auto z = test_zone();
  CHECK(addresses(must(z, "10-42-0-7.dev.pod.cluster.local", type::kA).answers) ==
        std::vector<std::string>{"10.42.0.7"});
  CHECK(must(z, "10-42-0.dev.pod.cluster.local", type::kA).rcode == rcode::kNXDomain);
  auto ext = must(z, "ext.dev.svc.cluster.local", type::kA);
  REQUIRE(ext.answers.size() == 1);
  CHECK(ext.answers[0].rtype == type::kCNAME);
  CHECK(ext.answers[0].target == "example.com");
  CHECK(addresses(must(z, "host.k3dpp.internal", type::kA).answers) == std::vector<std::string>{"172.18.0.1"});
  auto soa = must(z, "cluster.local", type::kSOA);
  REQUIRE(soa.answers.size() == 1);
  CHECK(soa.answers[0].target == "ns.dns.cluster.local");
  CHECK_FALSE(z.lookup({"deb.debian.org", type::kA, kClassIN}).has_value());
  CHECK_FALSE(z.lookup({"cluster.local.example.com", type::kA, kClassIN}).has_value());
  Zone no_gw = Zone::build({}, {}, {}, ZoneConfig{});
  CHECK_FALSE(no_gw.lookup({"host.k3dpp.internal", type::kA, kClassIN}).has_value());
}

TEST_CASE("Endpoints are used when a service has no EndpointSlice") {
  std::vector<json> services = {json::parse(
      R"({"metadata":{"namespace":"a","name":"h"},"spec":{"clusterIP":"None","ports":[{"name":"x","port":1}]}})")};
  std::vector<json> endpoints = {json::parse(R"({"metadata":{"namespace":"a","name":"h"},
    "subsets":[{"addresses":[{"ip":"10.42.3.3","hostname":"h-0"}],"notReadyAddresses":[{"ip":"10.42.3.4"}],
    "ports":[{"name":"x","port":7}]}]})")};
  auto z = Zone::build(services, {}, endpoints, ZoneConfig{});
  CHECK(addresses(must(z, "h.a.svc.cluster.local", type::kA).answers) == std::vector<std::string>{"10.42.3.3"});
  CHECK(addresses(must(z, "h-0.h.a.svc.cluster.local", type::kA).answers) == std::vector<std::string>{"10.42.3.3"});
  auto srv = must(z, "_x._tcp.h.a.svc.cluster.local", type::kSRV);
  REQUIRE(srv.answers.size() == 1);
  CHECK(srv.answers[0].port == 7);
}
