// A fake container engine for unit tests: serves HTTP/1.1 on a temporary unix socket from a
// thread, records every request and answers with canned responses from a handler.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace k3dpp::runtime::testing {

struct FakeRequest {
  std::string method;
  std::string target;  // path?query as sent
  std::string path;    // without the query
  std::map<std::string, std::string> query;  // URL-decoded; repeated keys joined with ","
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;    // de-chunked
};

struct FakeResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  // For upgrade requests: if set, answers 101, reads the client's bytes until it half-closes,
  // then writes upgraded(stdin bytes) and closes.
  std::function<std::string(const std::string&)> upgraded;
};

class FakeEngine {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;
  explicit FakeEngine(Handler handler);
  ~FakeEngine();
  FakeEngine(const FakeEngine&) = delete;
  FakeEngine& operator=(const FakeEngine&) = delete;

  [[nodiscard]] const std::string& socket_path() const { return socket_path_; }
  std::vector<FakeRequest> requests();
  // The first recorded request whose path ends with suffix (and method matches if given).
  FakeRequest find(const std::string& path_suffix, const std::string& method = {});

 private:
  void serve();
  void handle(int fd);

  Handler handler_;
  std::string dir_;
  std::string socket_path_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<FakeRequest> requests_;
};

// Standard answer to GET /version for API 1.41 (docker 20.10).
FakeResponse version_response(const std::string& api = "1.41");

std::string url_decode(const std::string& s);

}  // namespace k3dpp::runtime::testing
