// A fake ApiClient for informer-driven components: list returns the stored objects, watch delivers
// events pushed with emit() until stop. Everything else is unsupported.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include "client/api_client.h"

namespace k3dpp::testing {

class FakeApiClient : public client::ApiClient {
 public:
  using json = client::json;

  void set(const client::Resource& r, std::vector<json> items) {
    std::lock_guard lk(mu_);
    items_[r.plural] = std::move(items);
  }
  // Records the object and delivers a watch event to watchers of r.
  void emit(const client::Resource& r, const std::string& type, json obj) {
    {
      std::lock_guard lk(mu_);
      auto& items = items_[r.plural];
      std::string key = obj["metadata"].value("namespace", "") + "/" + obj["metadata"].value("name", "");
      std::erase_if(items, [&](const json& o) {
        return o["metadata"].value("namespace", "") + "/" + o["metadata"].value("name", "") == key;
      });
      if (type != "DELETED") items.push_back(obj);
      obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
      events_[r.plural].push_back({type, obj});
    }
    cv_.notify_all();
  }

  Result<json> get(const client::Resource&, const std::string&, const std::string&) override { return unsupported(); }
  Result<client::ListResult> list(const client::Resource& r, const std::string&, const client::ListOptions&) override {
    std::lock_guard lk(mu_);
    client::ListResult out;
    out.items = items_[r.plural];
    out.resource_version = std::to_string(rv_);
    return out;
  }
  Status watch(const client::Resource& r, const std::string&, const client::ListOptions&, const std::string&,
               const client::WatchCallback& on_event, std::stop_token stop) override {
    std::unique_lock lk(mu_);
    while (!stop.stop_requested()) {
      cv_.wait(lk, stop, [&] { return !events_[r.plural].empty(); });
      while (!events_[r.plural].empty()) {
        auto e = events_[r.plural].front();
        events_[r.plural].pop_front();
        lk.unlock();
        bool more = on_event(e);
        lk.lock();
        if (!more) return {};
      }
    }
    return {};
  }
  Result<json> create(const client::Resource&, const std::string&, const json&) override { return unsupported(); }
  Result<json> update(const client::Resource&, const std::string&, const json&) override { return unsupported(); }
  Result<json> update_status(const client::Resource&, const std::string&, const json&) override {
    return unsupported();
  }
  Result<json> patch(const client::Resource&, const std::string&, const std::string&, client::PatchType, const json&,
                     const std::string&) override {
    return unsupported();
  }
  Status remove(const client::Resource&, const std::string&, const std::string&,
                const client::DeleteOptions&) override {
    return fail("unsupported");
  }
  Status bind(const std::string&, const std::string&, const std::string&) override { return fail("unsupported"); }

 private:
  static Unexpected<Error> unsupported() { return fail("unsupported in FakeApiClient"); }

  std::mutex mu_;
  std::condition_variable_any cv_;
  std::map<std::string, std::vector<json>> items_;
  std::map<std::string, std::deque<client::WatchEvent>> events_;
  long long rv_ = 1;
};

}  // namespace k3dpp::testing
