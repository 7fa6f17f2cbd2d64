#include "harness.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <random>
#include <thread>

namespace k3dpp::testing {

Harness::Harness(HarnessOptions o) {
  std::random_device rd;
  dir_ = std::filesystem::temp_directory_path() / ("k3dpp-ctrl-it-" + std::to_string(rd()));
  std::filesystem::create_directories(dir_);
  apiserver::Options ao;
  ao.data_dir = dir_.string();
  ao.advertise_address = "127.0.0.1";
  server_ = std::make_unique<apiserver::ApiServer>(ao);
  auto st = server_->start();
  REQUIRE_MESSAGE(st.has_value(), (st ? "" : st.error().message));
  client_ = std::make_unique<client::InProcessClient>(
      [this](const http::Request& q, http::Responder& r) { server_->handle(q, r); });
  manager_ = std::make_unique<controllers::ControllerManager>(*client_, o.manager);
  auto ms = manager_->start();
  REQUIRE_MESSAGE(ms.has_value(), (ms ? "" : ms.error().message));
  if (o.scheduler) {
    scheduler_ = std::make_unique<scheduler::Scheduler>(*client_);
    auto ss = scheduler_->start();
    REQUIRE_MESSAGE(ss.has_value(), (ss ? "" : ss.error().message));
  }
  if (o.hollow_nodes > 0) {
    hollow::Options ho;
    ho.nodes = o.hollow_nodes;
    ho.lease_seconds = o.lease_seconds;
    hollow_ = std::make_unique<hollow::HollowNodes>(*client_, ho);
    auto hs = hollow_->start();
    REQUIRE_MESSAGE(hs.has_value(), (hs ? "" : hs.error().message));
    // Nodes registered and given their podCIDR (the node controller saw them), so the
    // scheduler's cache has them too before a scenario starts.
    bool ready = wait_for(
        [&] {
          auto l = client_->list(client::res::kNodes, "");
          if (!l || static_cast<int>(l->items.size()) < o.hollow_nodes) return false;
          for (const auto& n : l->items) {
            if (n["spec"].value("podCIDR", "").empty() && o.manager.node_lifecycle) return false;
          }
          return true;
        },
        std::chrono::seconds(10));
    REQUIRE(ready);
    // And the scheduler's cache shows them Ready (else the first pods all go to the nodes it knows).
    if (scheduler_) {
      REQUIRE(wait_for([&] { return scheduler_->ready_nodes() >= static_cast<size_t>(o.hollow_nodes); },
                       std::chrono::seconds(10)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Harness::~Harness() {
  if (hollow_) hollow_->stop();
  if (scheduler_) scheduler_->stop();
  if (manager_) manager_->stop();
  if (server_) server_->stop();
  hollow_.reset();
  scheduler_.reset();
  manager_.reset();
  client_.reset();
  server_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Harness::stop_hollow() {
  if (hollow_) hollow_->stop();
}

bool Harness::wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::vector<json> Harness::pods(const std::string& ns, const std::string& selector) {
  client::ListOptions lo;
  lo.label_selector = selector;
  auto l = client_->list(client::res::kPods, ns, lo);
  REQUIRE_MESSAGE(l.has_value(), (l ? "" : l.error().message));
  return l->items;
}

std::vector<json> Harness::replica_sets(const std::string& ns) {
  auto l = client_->list(client::res::kReplicaSets, ns);
  REQUIRE_MESSAGE(l.has_value(), (l ? "" : l.error().message));
  return l->items;
}

json Harness::get(const client::Resource& r, const std::string& ns, const std::string& name) {
  auto g = client_->get(r, ns, name);
  if (!g) {
    // Not a doctest MESSAGE: get() runs inside REQUIRE_MESSAGE contexts, and logging from there
    // re-enters doctest's reporter lock (a deadlock). NotFound is the normal "gone" answer.
    if (g.error().kind != "NotFound") {
      std::fprintf(stderr, "get %s %s/%s: %s\n", r.plural.c_str(), ns.c_str(), name.c_str(), g.error().message.c_str());
    }
    return json();
  }
  return *g;
}

}  // namespace k3dpp::testing
