// A fake ApiClient for kubelet tests: serves a fixed pod list, a pushable watch, and records
// status patches, events and deletes.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "client/api_client.h"

namespace k3dpp::kubelet::testing {

using json = nlohmann::json;
using namespace std::chrono_literals;

class FakeApi : public client::ApiClient {
 public:
  explicit FakeApi(std::string node) : node_(std::move(node)) {}
  std::string node_;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<json> pods;
  std::deque<client::WatchEvent> queue;
  std::vector<json> events;
  std::map<std::string, json> statuses;  // pod name → last status
  std::map<std::string, std::vector<json>> history;  // pod name → every status sent, in order
  std::vector<std::string> deletes;
  std::vector<std::string> delete_uids;

  std::map<std::string, json> objects;  // "plural/ns/name" → object, for get()
  Result<json> get(const client::Resource& r, const std::string& ns, const std::string& name) override {
    std::lock_guard lk(mu);
    auto it = objects.find(r.plural + "/" + ns + "/" + name);
    if (it != objects.end()) return it->second;
    return fail(r.plural + " \"" + name + "\" not found", "NotFound");
  }
  std::vector<json> services;  // what a services list returns (by metadata.namespace)
  Result<client::ListResult> list(const client::Resource& r, const std::string& ns,
                                  const client::ListOptions& o) override {
    std::lock_guard lk(mu);
    if (r.plural == "services") {  // service env vars at container start
      std::vector<json> out;
      for (const auto& s : services) {
        if (s["metadata"].value("namespace", "") == ns) out.push_back(s);
      }
      return client::ListResult{out, "1"};
    }
    CHECK(r.plural == "pods");
    CHECK(o.field_selector == "spec.nodeName=" + node_);
    return client::ListResult{pods, "1"};
  }
  Status watch(const client::Resource&, const std::string&, const client::ListOptions&, const std::string&,
               const client::WatchCallback& cb, std::stop_token stop) override {
    while (!stop.stop_requested()) {
      std::unique_lock lk(mu);
      cv.wait_for(lk, 50ms, [&] { return !queue.empty(); });
      while (!queue.empty()) {
        auto e = queue.front();
        queue.pop_front();
        lk.unlock();
        cb(e);
        lk.lock();
      }
    }
    return {};
  }
  void push(const std::string& type, const json& obj) {
    std::lock_guard lk(mu);
    queue.push_back({type, obj});
    cv.notify_all();
  }
  Result<json> create(const client::Resource& r, const std::string&, const json& obj) override {
    std::lock_guard lk(mu);
    if (r.plural == "events") events.push_back(obj);
    return obj;
  }
  Result<json> update(const client::Resource&, const std::string&, const json& o) override { return o; }
  Result<json> update_status(const client::Resource&, const std::string&, const json& o) override { return o; }
  Result<json> patch(const client::Resource& r, const std::string&, const std::string& name, client::PatchType,
                     const json& body, const std::string& sub) override {
    std::lock_guard lk(mu);
    if (r.plural == "events") {
      for (auto& e : events) {
        if (e["metadata"]["name"] == name) {
          e["count"] = body["count"];
          e["lastTimestamp"] = body["lastTimestamp"];
          return e;
        }
      }
      return fail("events \"" + name + "\" not found", "NotFound");
    }
    CHECK(r.plural == "pods");
    CHECK(sub == "status");
    statuses[name] = body["status"];
    history[name].push_back(body["status"]);
    return body;
  }
  Status remove(const client::Resource&, const std::string&, const std::string& name,
                const client::DeleteOptions& o) override {
    std::lock_guard lk(mu);
    CHECK(o.grace_period_seconds == 0LL);
    deletes.push_back(name);
    delete_uids.push_back(o.precondition_uid);
    return {};
  }
  Status bind(const std::string&, const std::string&, const std::string&) override { return {}; }

  std::vector<json> status_history(const std::string& name) {
    std::lock_guard lk(mu);
    return history[name];
  }
  json status(const std::string& name) {
    std::lock_guard lk(mu);
    return statuses.count(name) ? statuses[name] : json::object();
  }
  // count of the single event with this "TYPE REASON MESSAGE" line (0 if none, -1 if several).
  int event_count(const std::string& line) {
    std::lock_guard lk(mu);
    int found = 0, count = 0;
    for (const auto& e : events) {
      if (e["type"].get<std::string>() + " " + e["reason"].get<std::string>() + " " +
              e["message"].get<std::string>() == line) {
        ++found;
        count = e["count"].get<int>();
      }
    }
    return found > 1 ? -1 : count;
  }
  std::vector<std::string> event_lines() {
    std::lock_guard lk(mu);
    std::vector<std::string> out;
    for (const auto& e : events) {
      out.push_back(e["type"].get<std::string>() + " " + e["reason"].get<std::string>() + " " +
                    e["message"].get<std::string>());
    }
    return out;
  }
};

}  // namespace k3dpp::kubelet::testing
