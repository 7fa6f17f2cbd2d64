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
  Status replace(const podnet::Route& r) override {
    std::lock_guard<std::mutex> l(mu);
    log.push_back("replace " + r.cidr + " via " + r.via);
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

TEST_CASE("RouteManager: the vxlan backend says it is not there yet") {
  Env env;
  podnet::RouteManagerOptions o;
  o.backend = podnet::Backend::kVxlan;
  o.programmer = std::make_shared<Recorder>();
  podnet::RouteManager rm(*env.api, "me", o);
  auto st = rm.start();
  REQUIRE(!st);
  CHECK(st.error().message == "pod network backend vxlan is not implemented yet (use host-gw)");
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
  REQUIRE(ip->replace({"10.42.1.0/24", "172.18.0.3", "a0"}));
  REQUIRE(ip->replace({"10.42.2.0/24", "172.18.0.4", "a1"}));
  CHECK(routes() == "10.42.1.0/24 via 172.18.0.3 dev eth0 \n10.42.2.0/24 via 172.18.0.4 dev eth0 \n");
  REQUIRE(ip->replace({"10.42.1.0/24", "172.18.0.9", "a0"}));  // the node got a new address
  REQUIRE(ip->remove({"10.42.2.0/24", "172.18.0.4", "a1"}));
  CHECK(routes() == "10.42.1.0/24 via 172.18.0.9 dev eth0 \n");
  CHECK(ip->remove({"10.42.2.0/24", "172.18.0.4", "a1"}));  // already gone: fine
  auto bad = ip->replace({"10.42.3.0/24", "10.99.0.1", "far"});  // gateway not on a connected network
  REQUIRE(!bad);
  CHECK(bad.error().message.find("route replace 10.42.3.0/24 via 10.99.0.1") != std::string::npos);
}
