#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "controllers/events.h"

using namespace k3dpp;
using json = nlohmann::json;

namespace {

// Records event creates and patches; create can be made slow to fill the recorder's queue.
class EventSink : public client::ApiClient {
 public:
  std::mutex mu;
  std::vector<json> created;
  int patches = 0;
  std::atomic<int> create_delay_ms{0};

  Result<json> get(const client::Resource&, const std::string&, const std::string&) override { return no(); }
  Result<client::ListResult> list(const client::Resource&, const std::string&, const client::ListOptions&) override {
    return fail("unsupported");
  }
  Status watch(const client::Resource&, const std::string&, const client::ListOptions&, const std::string&,
               const client::WatchCallback&, std::stop_token) override {
    return fail("unsupported");
  }
  Result<json> create(const client::Resource&, const std::string&, const json& o) override {
    if (create_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(create_delay_ms.load()));
    std::lock_guard<std::mutex> l(mu);
    created.push_back(o);
    return o;
  }
  Result<json> update(const client::Resource&, const std::string&, const json&) override { return no(); }
  Result<json> update_status(const client::Resource&, const std::string&, const json&) override { return no(); }
  Result<json> patch(const client::Resource&, const std::string&, const std::string&, client::PatchType, const json& b,
                     const std::string&) override {
    std::lock_guard<std::mutex> l(mu);
    ++patches;
    return b;
  }
  Status remove(const client::Resource&, const std::string&, const std::string&,
                const client::DeleteOptions&) override {
    return fail("unsupported");
  }
  Status bind(const std::string&, const std::string&, const std::string&) override { return fail("unsupported"); }

 private:
  static Unexpected<Error> no() { return fail("unsupported"); }
};

json pod(const std::string& name) {
  return {{"kind", "Pod"},
          {"apiVersion", "v1"},
          {"metadata", {{"name", name}, {"namespace", "ns1"}, {"uid", "uid-" + name}, {"resourceVersion", "7"}}},
          {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "nginx"}}})}}}};
}

}  // namespace

TEST_CASE("async events: written in the background with the involved object's identity, deduplicated") {
  EventSink sink;
  controllers::AsyncEventRecorder rec(sink, "default-scheduler", 2);
  rec.record(pod("a"), "Normal", "Scheduled", "Successfully assigned ns1/a to n1");
  rec.record(pod("b"), "Normal", "Scheduled", "Successfully assigned ns1/b to n2");
  CHECK(rec.flush() == 0);
  std::lock_guard<std::mutex> l(sink.mu);
  REQUIRE(sink.created.size() == 2);
  for (const auto& e : sink.created) {
    CHECK(e["reason"] == "Scheduled");
    CHECK(e["source"]["component"] == "default-scheduler");
    CHECK(e["involvedObject"]["kind"] == "Pod");
    CHECK(e["involvedObject"]["namespace"] == "ns1");
    CHECK(e["involvedObject"]["uid"] == "uid-" + e["involvedObject"]["name"].get<std::string>());
    CHECK(e["metadata"]["namespace"] == "ns1");
  }
}

TEST_CASE("async events: the same event again bumps the count (a patch), not a second Event") {
  EventSink sink;
  controllers::AsyncEventRecorder rec(sink, "default-scheduler", 1);
  rec.record(pod("a"), "Warning", "FailedScheduling", "0/1 nodes are available");
  rec.flush();
  rec.record(pod("a"), "Warning", "FailedScheduling", "0/1 nodes are available");
  rec.flush();
  std::lock_guard<std::mutex> l(sink.mu);
  CHECK(sink.created.size() == 1);
  CHECK(sink.patches == 1);
}

TEST_CASE("async events: past max_pending new events are dropped and counted") {
  EventSink sink;
  sink.create_delay_ms = 200;
  controllers::AsyncEventRecorder rec(sink, "c", 1, 3);
  for (int i = 0; i < 10; ++i) rec.record(pod("p" + std::to_string(i)), "Normal", "R", "m");
  size_t dropped = rec.flush();
  // One taken by the worker at once (or not yet), at most 3 waiting: at least 6 of 10 dropped.
  CHECK(dropped >= 6);
  CHECK(dropped <= 7);
  std::lock_guard<std::mutex> l(sink.mu);
  CHECK(sink.created.size() == 10 - dropped);
}
