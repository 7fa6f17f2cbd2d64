// Events (core/v1) with the reasons kubectl describe shows, deduplicated: the same object, type,
// reason and message bump count and lastTimestamp of one Event instead of creating another.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "client/api_client.h"
#include "controllers/util.h"

namespace k3dpp::controllers {

class EventRecorder {
 public:
  EventRecorder(client::ApiClient& client, std::string component);
  // type: "Normal" or "Warning". Errors are logged, never returned (events are best effort).
  void record(const json& object, const std::string& type, const std::string& reason, const std::string& message);

 private:
  struct Seen {
    std::string name, ns;
    long long count = 0;
  };
  client::ApiClient& client_;
  std::string component_;
  std::mutex mu_;
  std::map<std::string, Seen> seen_;
};

}  // namespace k3dpp::controllers
