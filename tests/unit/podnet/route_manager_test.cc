#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "apiserver/api_server.h"
#include "client/in_process_client.h"
#include "podnet/route_manager.h"

using namespace k3dpp;
using json = nlohmann::json;

namespace {

class Recorder : public podnet::RouteProgrammer {
 public:
  explicit Recorder(std::string mac = {}) : mac_(std::move(mac)) {}
  Result<std::string> prepare(const std::string& ip, const std::string& cidr) override {
    if (mac_.empty()) return std::string();
    std::lock_guard<std::mutex> l(mu);
    log.push_back("prepare " + ip + " " + cidr);
    return mac_;
  }
  Status replace(const podnet::Route& r) override {
    std::lock_guard<std::mutex> l(mu);
    log.push_back("replace " + r.cidr + " via " + r.via + (r.vtep_mac.empty() ? "" : " mac " + r.vtep_mac));
    return {};
  }
  Status remove(const podnet::Route& r) override {
    std::lock_guard<std::mutex> l(mu);
    log.push_back("del " + r.cidr);
    return {};
  }
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> l(mu);
    auto out = std::move(log);
    log.clear();
    return out;
  }
  std::mutex mu;
  std::vector<std::string> log;
  std::string mac_;
};

struct Env {
  Env() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() / ("k3dpp-podnet-" + std::to_string(rd()));
    std::filesystem::create_directories(dir);
    apiserver::Options o;
    o.data_dir = dir.string();
    o.background = false;
    server = std::make_unique<apiserver::ApiServer>(o);
    REQUIRE(server->start());
    api = std::make_unique<client::InProcessClient>(
        [this](const http::Request& q, http::Responder& r) { server->handle(q, r); });
  }
  ~Env() {
    api.reset();
    server->stop();
    server.reset();
    std::filesystem::remove_all(dir);
  }
  void add_node(const std::string& name, const std::string& cidr, const std::string& ip) {
    json n = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}, {"spec", {{"podCIDR", cidr}}}};
    auto created = api->create(client::res::kNodes, "", n);
    REQUIRE_MESSAGE(created, (created ? "" : created.error().message));
    json s = *created;
    s["status"]["addresses"] = json::array({{{"type", "InternalIP"}, {"address", ip}}});
    auto st = api->update_status(client::res::kNodes, "", s);
    REQUIRE_MESSAGE(st, (st ? "" : st.error().message));
  }
  std::filesystem::path dir;
  std::unique_ptr<apiserver::ApiServer> server;
  std::unique_ptr<client::InProcessClient> api;
};

bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 100; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return f();
}

}  // namespace

TEST_CASE("RouteManager programs other nodes' CIDRs, follows changes and deletions") {
  Env env;
  env.add_node("me", "10.42.0.0/24", "172.18.0.2");
  env.add_node("a0", "10.42.1.0/24", "172.18.0.3");
  auto rec = std::make_shared<Recorder>();
  podnet::RouteManagerOptions o;
  o.programmer = rec;
  o.debounce = std::chrono::milliseconds(20);
  podnet::RouteManager rm(*env.api, "me", o);
  REQUIRE(rm.start());
  REQUIRE(eventually([&] { return rm.routes().size() == 1; }));
  CHECK(rec->take() == std::vector<std::string>{"replace 10.42.1.0/24 via 172.18.0.3"});

  env.add_node("a1", "10.42.2.0/24", "172.18.0.4");
  REQUIRE(eventually([&] { return rm.routes().size() == 2; }));
  CHECK(rec->take() == std::vector<std::string>{"replace 10.42.2.0/24 via 172.18.0.4"});

  REQUIRE(env.api->remove(client::res::kNodes, "", "a0"));
  REQUIRE(eventually([&] { return rm.routes().size() == 1; }));
  CHECK(rm.routes()[0].node == "a1");
  CHECK(rec->take() == std::vector<std::string>{"del 10.42.1.0/24"});
  rm.stop();

  // A restart (fresh netns) programs everything again.
  podnet::RouteManager again(*env.api, "me", o);
  REQUIRE(again.start());
  REQUIRE(eventually([&] { return again.routes().size() == 1; }));
  CHECK(rec->take() == std::vector<std::string>{"replace 10.42.2.0/24 via 172.18.0.4"});
}

TEST_CASE("RouteManager vxlan: device first, MAC published, peers only once they publish theirs") {
  Env env;
  env.add_node("me", "10.42.0.0/24", "10.89.0.2");
  env.add_node("a0", "10.42.1.0/24", "10.89.0.3");
  auto rec = std::make_shared<Recorder>("02:6b:0a:2a:00:00");
  podnet::RouteManagerOptions o;
  o.backend = podnet::Backend::kVxlan;
  o.programmer = rec;
  o.debounce = std::chrono::milliseconds(20);
  podnet::RouteManager rm(*env.api, "me", o);
  REQUIRE(rm.start());
  // My MAC lands on my Node; a0 has published none yet, so no route to it.
  REQUIRE(eventually([&] {
    auto n = env.api->get(client::res::kNodes, "", "me");
    return n && (*n)["metadata"].value("annotations", json::object()).value("k3dpp.io/vtep-mac", "") ==
                    "02:6b:0a:2a:00:00";
  }));
  REQUIRE(rm.wait_for_sync(std::chrono::seconds(5)));
  CHECK(rm.routes().empty());
  auto first = rec->take();
  REQUIRE(!first.empty());
  CHECK(first[0] == "prepare 10.89.0.2 10.42.0.0/24");

  // a0 publishes its MAC: route, neighbour and FDB towards it.
  auto set_mac = [&](const std::string& node, const std::string& mac) {
    json p = {{"metadata", {{"annotations", {{"k3dpp.io/vtep-mac", mac}}}}}};
    REQUIRE(env.api->patch(client::res::kNodes, "", node, client::PatchType::kMerge, p));
  };
  set_mac("a0", "02:6b:0a:2a:01:00");
  REQUIRE(eventually([&] { return rm.routes().size() == 1; }));
  CHECK(rm.routes()[0] == podnet::Route{"10.42.1.0/24", "10.89.0.3", "a0", "02:6b:0a:2a:01:00"});
  CHECK(rec->take() == std::vector<std::string>{"replace 10.42.1.0/24 via 10.89.0.3 mac 02:6b:0a:2a:01:00"});

  // A new MAC (a recreated device): the old entries go, the new ones come.
  set_mac("a0", "02:6b:0a:2a:01:01");
  REQUIRE(eventually([&] { return rm.routes().size() == 1 && rm.routes()[0].vtep_mac == "02:6b:0a:2a:01:01"; }));
  CHECK(rec->take() == std::vector<std::string>{"del 10.42.1.0/24",
                                                "replace 10.42.1.0/24 via 10.89.0.3 mac 02:6b:0a:2a:01:01"});
  rm.stop();

  // A restarted node (fresh netns): the device again, then every route.
  podnet::RouteManager again(*env.api, "me", o);
  REQUIRE(again.start());
  REQUIRE(eventually([&] { return again.routes().size() == 1; }));
  CHECK(rec->take() == std::vector<std::string>{"prepare 10.89.0.2 10.42.0.0/24",
                                                "replace 10.42.1.0/24 via 10.89.0.3 mac 02:6b:0a:2a:01:01"});
}

// The real vxlan programmer in a throw-away netns (root only; skipped otherwise).
TEST_CASE("vxlan_command_programmer: device, routes, neighbours and FDB in a netns") {
  if (::geteuid() != 0 || std::system("ip netns list >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: needs root and ip netns");
    return;
  }
  const std::string ns = "k3dpp-vxlan-test-" + std::to_string(::getpid());
  REQUIRE(std::system(("ip netns add " + ns).c_str()) == 0);
  auto tmp = std::filesystem::temp_directory_path();
  struct Cleanup {
    std::string ns;
    std::filesystem::path ip, bridge;
    ~Cleanup() {
      (void)std::system(("ip netns del " + ns).c_str());
      std::filesystem::remove(ip);
      std::filesystem::remove(bridge);
    }
  } cleanup{ns, tmp / (ns + "-ip"), tmp / (ns + "-bridge")};
  if (std::system(("ip -n " + ns + " link add probe type vxlan id 7 dstport 8472 2>/dev/null && ip -n " + ns +
                   " link del probe").c_str()) != 0) {
    MESSAGE("skipped: no vxlan support in this kernel");
    return;
  }
  REQUIRE(std::system(("ip -n " + ns + " link add eth0 type veth peer name eth1 && ip -n " + ns +
                       " addr add 192.0.2.2/24 dev eth0 && ip -n " + ns + " link set eth1 up && ip -n " + ns +
                       " link set eth0 up")
                          .c_str()) == 0);
  for (auto [path, bin] : {std::pair{cleanup.ip, "ip"}, std::pair{cleanup.bridge, "bridge"}}) {
    std::ofstream w(path);
    // Both tools run inside the netns (the underlay lookup in the test process finds nothing: no dev).
    w << "#!/bin/sh\nexec ip netns exec " << ns << " " << bin << " \"$@\"\n";
    w.close();
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  }
  auto sh = [&](const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(("ip netns exec " + ns + " " + cmd).c_str(), "r");
    char buf[512];
    while (p && std::fgets(buf, sizeof buf, p)) out += buf;
    if (p) ::pclose(p);
    return out;
  };
  auto vx = podnet::vxlan_command_programmer(cleanup.ip.string(), cleanup.bridge.string());
  auto mac = vx->prepare("192.0.2.2", "10.42.0.0/24");
  REQUIRE_MESSAGE(mac, (mac ? "" : mac.error().message));
  CHECK(*mac == "02:6b:0a:2a:00:00");
  auto link = sh("ip -d link show dev k3dpp.42");
  CHECK(link.find("vxlan id 42") != std::string::npos);
  CHECK(link.find("local 192.0.2.2") != std::string::npos);
  CHECK(link.find("dstport 8472") != std::string::npos);
  CHECK(link.find("nolearning") != std::string::npos);
  CHECK(link.find("mtu 1450") != std::string::npos);
  CHECK(link.find("link/ether 02:6b:0a:2a:00:00") != std::string::npos);
  CHECK(sh("ip -4 addr show dev k3dpp.42").find("inet 10.42.0.0/32") != std::string::npos);
  // Again (a resync): kept as it is.
  auto again = vx->prepare("192.0.2.2", "10.42.0.0/24");
  REQUIRE(again);

  podnet::Route r{"10.42.1.0/24", "192.0.2.3", "a0", "02:6b:0a:2a:01:00"};
  REQUIRE(vx->replace(r));
  REQUIRE(vx->replace(r));  // idempotent
  CHECK(sh("ip route show 10.42.1.0/24") == "10.42.1.0/24 via 10.42.1.0 dev k3dpp.42 onlink \n");
  CHECK(sh("ip neigh show dev k3dpp.42").find("10.42.1.0 lladdr 02:6b:0a:2a:01:00 PERMANENT") != std::string::npos);
  CHECK(sh("bridge fdb show dev k3dpp.42").find("02:6b:0a:2a:01:00 dst 192.0.2.3") != std::string::npos);
  // The peer moved to another IP.
  r.via = "192.0.2.9";
  REQUIRE(vx->replace(r));
  auto fdb = sh("bridge fdb show dev k3dpp.42");
  CHECK(fdb.find("02:6b:0a:2a:01:00 dst 192.0.2.9") != std::string::npos);
  CHECK(fdb.find("dst 192.0.2.3") == std::string::npos);
  REQUIRE(vx->remove(r));
  CHECK(sh("ip route show 10.42.1.0/24").empty());
  CHECK(sh("ip neigh show dev k3dpp.42").find("10.42.1.0") == std::string::npos);
  CHECK(sh("bridge fdb show dev k3dpp.42").find("02:6b:0a:2a:01:00") == std::string::npos);
  CHECK(vx->remove(r));  // already gone: fine

  // The node came back with another IP: the device is recreated with the new local address.
  REQUIRE(std::system(("ip -n " + ns + " addr add 192.0.2.7/24 dev eth0").c_str()) == 0);
  REQUIRE(vx->prepare("192.0.2.7", "10.42.0.0/24"));
  CHECK(sh("ip -d link show dev k3dpp.42").find("local 192.0.2.7") != std::string::npos);
}

// The real `ip` programmer, in a throw-away network namespace (root only; skipped otherwise).
TEST_CASE("ip_command_programmer: replace, change and delete routes in a netns") {
  if (::geteuid() != 0 || std::system("ip netns list >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: needs root and ip netns");
    return;
  }
  const std::string ns = "k3dpp-podnet-test-" + std::to_string(::getpid());
  REQUIRE(std::system(("ip netns add " + ns).c_str()) == 0);
  struct Cleanup {
    std::string ns;
    std::filesystem::path wrapper;
    ~Cleanup() {
      (void)std::system(("ip netns del " + ns).c_str());
      std::filesystem::remove(wrapper);
    }
  } cleanup{ns, std::filesystem::temp_directory_path() / (ns + "-ip")};
  REQUIRE(std::system(("ip -n " + ns + " link add eth0 type veth peer name eth1 && ip -n " + ns +
                       " addr add 172.18.0.2/16 dev eth0 && ip -n " + ns + " link set eth1 up && ip -n " + ns +
                       " link set eth0 up")
                          .c_str()) == 0);
  {
    std::ofstream w(cleanup.wrapper);
    w << "#!/bin/sh\nexec ip -n " << ns << " \"$@\"\n";
  }
  std::filesystem::permissions(cleanup.wrapper, std::filesystem::perms::owner_all);
  auto ip = podnet::ip_command_programmer(cleanup.wrapper.string());
  auto routes = [&] {
    std::string out;
    FILE* p = ::popen(("ip -n " + ns + " route show").c_str(), "r");
    char buf[256];
    while (p && std::fgets(buf, sizeof buf, p))
      if (std::string(buf).rfind("10.42.", 0) == 0) out += buf;
    if (p) ::pclose(p);
    return out;
  };
  REQUIRE(ip->replace({"10.42.1.0/24", "172.18.0.3", "a0", ""}));
  REQUIRE(ip->replace({"10.42.2.0/24", "172.18.0.4", "a1", ""}));
  CHECK(routes() == "10.42.1.0/24 via 172.18.0.3 dev eth0 \n10.42.2.0/24 via 172.18.0.4 dev eth0 \n");
  REQUIRE(ip->replace({"10.42.1.0/24", "172.18.0.9", "a0", ""}));  // the node got a new address
  REQUIRE(ip->remove({"10.42.2.0/24", "172.18.0.4", "a1", ""}));
  CHECK(routes() == "10.42.1.0/24 via 172.18.0.9 dev eth0 \n");
  CHECK(ip->remove({"10.42.2.0/24", "172.18.0.4", "a1", ""}));  // already gone: fine
  auto bad = ip->replace({"10.42.3.0/24", "10.99.0.1", "far", ""});  // gateway not on a connected network
  REQUIRE(!bad);
  CHECK(bad.error().message.find("route replace 10.42.3.0/24 via 10.99.0.1") != std::string::npos);
}
