// HttpsClient against our TLS server on 127.0.0.1: keep-alive connections are reused, the idle
// pool is bounded, and a pooled connection the server closed is replaced transparently.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "client/https_client.h"
#include "httpserver/server.h"
#include "pki/pki.h"

using namespace k3dpp;
using namespace std::chrono_literals;

namespace {

struct Rig {
  pki::CertKey ca, serving, admin;
  std::unique_ptr<httpserver::Server> server;
  std::atomic<int> requests{0};

  explicit Rig(std::chrono::milliseconds idle_timeout) {
    ca = *pki::generate_ca("test-ca");
    serving = *pki::issue_serving(ca, "srv", {"127.0.0.1"});
    admin = *pki::issue_client(ca, "admin", {"system:masters"});
    httpserver::Options o;
    o.cert_pem = serving.cert_pem;
    o.key_pem = serving.key_pem;
    o.client_ca_pem = ca.cert_pem;
    o.idle_timeout = idle_timeout;
    auto s = httpserver::Server::start(o, [this](const http::Request& req, http::Responder& r) {
      ++requests;
      if (req.path == "/api/v1/namespaces/default/configmaps/slow") std::this_thread::sleep_for(100ms);
      http::Response res;
      res.headers.emplace_back("Content-Type", "application/json");
      res.body = R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x","namespace":"default"}})";
      r.send(std::move(res));
    });
    REQUIRE(s);
    server = std::move(*s);
  }

  client::HttpsClient client() {
    client::HttpsOptions o;
    o.server = "https://127.0.0.1:" + std::to_string(server->port());
    o.ca_pem = ca.cert_pem;
    o.cert_pem = admin.cert_pem;
    o.key_pem = admin.key_pem;
    return client::HttpsClient(o);
  }
};

template <typename F>
bool eventually(F f, std::chrono::milliseconds limit = 3s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return f();
}

const client::Resource kConfigMaps{"v1", "configmaps"};

}  // namespace

TEST_CASE("sequential requests share one keep-alive connection") {
  Rig r(10s);
  auto c = r.client();
  for (int i = 0; i < 20; ++i) {
    auto got = c.get(kConfigMaps, "default", "x");
    REQUIRE(got);
    CHECK(got->value("kind", "") == "ConfigMap");
  }
  CHECK(r.requests == 20);
  CHECK(r.server->active_connections() == 1);
}

TEST_CASE("concurrent requests open more connections; at most kMaxIdleHandles stay open") {
  Rig r(10s);
  auto c = r.client();
  const int kThreads = static_cast<int>(client::HttpsClient::kMaxIdleHandles) + 4;
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; ++i) {
    ts.emplace_back([&] {
      if (c.get(kConfigMaps, "default", "slow")) ++ok;
    });
  }
  for (auto& t : ts) t.join();
  CHECK(ok == kThreads);
  // The handles beyond the pool's size were closed with their connections.
  CHECK(eventually([&] { return r.server->active_connections() <= client::HttpsClient::kMaxIdleHandles; }));
  CHECK(r.server->active_connections() >= 1);
  // And later requests reuse the pooled ones instead of opening new connections.
  size_t before = r.server->active_connections();
  for (int i = 0; i < 10; ++i) REQUIRE(c.get(kConfigMaps, "default", "x"));
  CHECK(r.server->active_connections() <= before);
}

TEST_CASE("a pooled connection the server closed is replaced without an error") {
  Rig r(300ms);  // the server drops idle keep-alive connections after 300 ms
  auto c = r.client();
  REQUIRE(c.get(kConfigMaps, "default", "x"));
  REQUIRE(eventually([&] { return r.server->active_connections() == 0; }));
  auto again = c.get(kConfigMaps, "default", "x");
  REQUIRE(again);
  CHECK(again->value("kind", "") == "ConfigMap");
  // A write too (POST is not retried blindly by libcurl on a connection that died mid-request,
  // but a connection known dead before sending is simply not reused).
  REQUIRE(eventually([&] { return r.server->active_connections() == 0; }));
  auto created = c.create(kConfigMaps, "default", {{"metadata", {{"name", "y"}}}});
  CHECK(created);
  CHECK(r.requests == 3);
}
