#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "apiserver/api_server.h"
#include "client/in_process_client.h"
#include "cmd/leader_election.h"
#include "store/store.h"

using namespace k3dpp;
using namespace std::chrono_literals;

namespace {

struct Api {
  std::unique_ptr<apiserver::ApiServer> server;
  std::unique_ptr<client::InProcessClient> client;
  Api() {
    apiserver::Options o;
    o.background = false;
    auto s = store::open_sqlite({":memory:"});
    REQUIRE(s);
    server = std::make_unique<apiserver::ApiServer>(o, std::shared_ptr<store::Store>(std::move(*s)));
    REQUIRE(server->start());
    client = std::make_unique<client::InProcessClient>(
        [this](const http::Request& q, http::Responder& r) { server->handle(q, r); });
  }
};

template <typename F>
bool wait_for(F f, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return f();
}

nodecmd::LeaderElectionOptions opts(const std::string& id) {
  nodecmd::LeaderElectionOptions o;
  o.name = "kube-controller-manager";
  o.identity = id;
  o.lease_duration = std::chrono::seconds(4);
  o.renew_deadline = 3000ms;
  o.retry_period = 100ms;
  return o;
}

std::string holder(client::ApiClient& api) {
  auto l = api.get(client::res::kLeases, "kube-system", "kube-controller-manager");
  return l ? (*l)["spec"].value("holderIdentity", "") : "";
}

}  // namespace

TEST_CASE("one leader among three candidates; release on stop hands over at once") {
  Api api;
  std::atomic<int> leading{0}, started{0};
  auto mk = [&](const std::string& id) {
    return std::make_unique<nodecmd::LeaderElector>(
        *api.client, opts(id), [&] { leading++; started++; }, [&] { leading--; });
  };
  auto a = mk("a"), b = mk("b"), c = mk("c");
  a->start();
  b->start();
  c->start();
  REQUIRE(wait_for([&] { return leading.load() == 1; }, 5s));
  std::this_thread::sleep_for(600ms);  // several retry periods: still exactly one
  CHECK(leading.load() == 1);
  CHECK(started.load() == 1);
  int n = (a->leading() ? 1 : 0) + (b->leading() ? 1 : 0) + (c->leading() ? 1 : 0);
  CHECK(n == 1);
  nodecmd::LeaderElector* leader = a->leading() ? a.get() : b->leading() ? b.get() : c.get();
  std::string first = holder(*api.client);
  CHECK((first == "a" || first == "b" || first == "c"));

  auto t0 = std::chrono::steady_clock::now();
  leader->stop();  // releases the Lease: another candidate takes it at its next try
  REQUIRE(wait_for([&] { return leading.load() == 1 && !holder(*api.client).empty() && holder(*api.client) != first; }, 3s));
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);  // under lease_duration (4 s)
  auto l = api.client->get(client::res::kLeases, "kube-system", "kube-controller-manager");
  REQUIRE(l);
  CHECK((*l)["spec"].value("leaseTransitions", 0) >= 1);
  a->stop();
  b->stop();
  c->stop();
  CHECK(leading.load() == 0);
}

TEST_CASE("a holder that stops renewing (crashed) is replaced after lease_duration, not before") {
  Api api;
  // A Lease held by a candidate that no longer runs, renewed just now.
  client::json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                        {"kind", "Lease"},
                        {"metadata", {{"name", "kube-controller-manager"}, {"namespace", "kube-system"}}},
                        {"spec",
                         {{"holderIdentity", "ghost"},
                          {"leaseDurationSeconds", 2},
                          {"renewTime", nodecmd::micro_time_now()},
                          {"leaseTransitions", 0}}}};
  REQUIRE(api.client->create(client::res::kLeases, "kube-system", lease));
  std::atomic<bool> led{false};
  nodecmd::LeaderElector b(*api.client, opts("b"), [&] { led = true; }, [] {});
  auto t0 = std::chrono::steady_clock::now();
  b.start();
  std::this_thread::sleep_for(1s);
  CHECK_FALSE(led.load());  // the ghost's lease is still valid
  REQUIRE(wait_for([&] { return led.load(); }, 5s));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 2s);
  CHECK(holder(*api.client) == "b");
  b.stop();
}
