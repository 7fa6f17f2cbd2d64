#include "client/in_process_client.h"

#include <atomic>

#include "apiserver/watch_sink.h"

namespace k3dpp::client {

namespace {

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

// Captures one plain response; a stream is fed to a callback (watch): text chunks, or decoded
// events when the API server hands them (apiserver::WatchObjectSink) and an event sink is set.
class CaptureResponder : public http::Responder {
 public:
  class ChunkStream : public http::Stream, public apiserver::WatchObjectSink {
   public:
    ChunkStream(const std::function<bool(std::string_view)>* sink, const EventSink* events,
                std::stop_token stop)
        : sink_(sink), events_(events), stop_(std::move(stop)) {}
    bool write(std::string_view chunk) override {
      if (closed_) return false;
      if (sink_ == nullptr || !(*sink_)(chunk)) closed_ = true;
      return !closed_;
    }
    bool write_event(std::string_view type, std::shared_ptr<const json> object) override {
      if (closed_) return false;
      if (events_ == nullptr || !*events_) {  // no event sink: the text form
        json o = object ? *object : json::object();
        return write(json{{"type", type}, {"object", std::move(o)}}.dump() + "\n");
      }
      if (!(*events_)(type, std::move(object))) closed_ = true;
      return !closed_;
    }
    bool closed() override { return closed_ || stop_.stop_requested(); }

   private:
    const std::function<bool(std::string_view)>* sink_;
    const EventSink* events_;
    std::stop_token stop_;
    bool closed_ = false;
  };

  CaptureResponder(const std::function<bool(std::string_view)>* sink, std::stop_token stop,
                   const EventSink* events = nullptr)
      : stream_(sink, events, std::move(stop)) {}

  void send(http::Response r) override { response = std::move(r); }
  http::Stream& stream(int status, const std::vector<std::pair<std::string, std::string>>&) override {
    response.status = status;
    streamed = true;
    return stream_;
  }
  http::Conn& upgrade(const std::vector<std::pair<std::string, std::string>>&) override {
    response.status = 500;
    return no_conn_;
  }

  http::Response response;
  bool streamed = false;

 private:
  class NoConn : public http::Conn {
   public:
    long read(char*, size_t) override { return 0; }
    bool write(std::string_view) override { return false; }
    void close() override {}
  };
  ChunkStream stream_;
  NoConn no_conn_;
};

}  // namespace

http::User InProcessClient::admin_user() {
  http::User u;
  u.name = "admin";
  u.groups = {"system:masters", "system:authenticated"};
  u.authenticated = true;
  return u;
}

InProcessClient::InProcessClient(http::Handler handler, http::User user)
    : handler_(std::move(handler)), user_(std::move(user)) {}

http::Request InProcessClient::make_request(const std::string& method, const std::string& target,
                                            const std::string& content_type, const std::string& body) const {
  http::Request q;
  q.method = method;
  q.target = target;
  auto qm = target.find('?');
  q.path = percent_decode(target.substr(0, qm));
  if (qm != std::string::npos) {
    std::string_view raw(target);
    raw.remove_prefix(qm + 1);
    size_t start = 0;
    while (start <= raw.size()) {
      size_t amp = raw.find('&', start);
      std::string_view part = raw.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
      if (!part.empty()) {
        auto eq = part.find('=');
        std::string k = percent_decode(part.substr(0, eq));
        std::string v = eq == std::string_view::npos ? "" : percent_decode(part.substr(eq + 1));
        q.query.emplace(std::move(k), std::move(v));
      }
      if (amp == std::string_view::npos) break;
      start = amp + 1;
    }
  }
  q.headers.emplace("accept", "application/json");
  q.headers.emplace("user-agent", "k3dpp-controllers/" K3DPP_VERSION);
  if (!content_type.empty()) q.headers.emplace("content-type", content_type);
  q.body = body;
  q.user = user_;
  q.remote = "in-process";
  return q;
}

Result<RawResponse> InProcessClient::request(const std::string& method, const std::string& target,
                                             const std::string& content_type, const std::string& body) {
  http::Request q = make_request(method, target, content_type, body);
  CaptureResponder r(nullptr, std::stop_token{});
  handler_(q, r);
  if (r.response.status == 0) return fail("in-process handler sent no response for " + method + " " + target, "Unavailable");
  return RawResponse{r.response.status, std::move(r.response.body)};
}

Result<RawResponse> InProcessClient::stream(const std::string& target,
                                            const std::function<bool(std::string_view)>& on_chunk,
                                            std::stop_token stop) {
  return stream_watch(target, on_chunk, EventSink{}, stop);  // no event sink: events as text
}

Result<RawResponse> InProcessClient::stream_watch(const std::string& target,
                                                  const std::function<bool(std::string_view)>& on_chunk,
                                                  const EventSink& on_event, std::stop_token stop) {
  http::Request q = make_request("GET", target, "", "");
  CaptureResponder r(&on_chunk, stop, &on_event);
  handler_(q, r);
  if (r.streamed) return RawResponse{r.response.status, ""};
  // A non-streamed answer (an error Status, or a plain body): deliver a 2xx body as one chunk.
  if (r.response.status >= 200 && r.response.status < 300 && !r.response.body.empty()) on_chunk(r.response.body + "\n");
  return RawResponse{r.response.status, std::move(r.response.body)};
}

}  // namespace k3dpp::client
