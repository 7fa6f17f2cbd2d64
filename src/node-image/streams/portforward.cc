#include "streams/portforward.h"

#include <map>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "streams/spdy.h"
#include "streams/websocket.h"

namespace k3dpp::streams {

namespace {

auto logger() {
  static auto l = log::get("streams.portforward");
  return l;
}

// One forwarded connection: the error and data streams of one requestID.
struct Forward {
  std::string request_id;
  uint16_t port = 0;
  uint32_t error_id = 0;
  uint32_t data_id = 0;
  Pipe to_pod;                       // client → pod bytes, buffered until connected
  std::shared_ptr<ByteStream> pod;   // set once connected
  bool error_closed = false;         // we sent FIN on the error stream
  std::thread worker;
  std::thread pod_reader;
};

class Server {
 public:
  Server(http::Conn& transport, PortConnector connector) : connector_(std::move(connector)) {
    spdy::Callbacks cb;
    cb.on_stream = [this](uint32_t id, const spdy::HeaderList& h, bool) { on_stream(id, h); };
    cb.on_data = [this](uint32_t id, std::string_view d) { on_data(id, d); };
    cb.on_fin = [this](uint32_t id) { on_fin(id); };
    cb.on_reset = [this](uint32_t id, uint32_t) { on_reset(id); };
    session_ = std::make_unique<spdy::Session>(transport, spdy::Role::kServer, std::move(cb));
  }

  Status run(PortForwardStats* stats) {
    auto st = session_->run();
    shutdown();
    if (stats) {
      stats->requests = requests_;
      stats->connect_errors = connect_errors_;
    }
    return st;
  }

 private:
  void on_stream(uint32_t id, const spdy::HeaderList& h) {
    auto type = spdy::find_header(h, "streamtype").value_or("");
    auto port_s = spdy::find_header(h, "port").value_or("");
    auto req = spdy::find_header(h, "requestid").value_or("");
    long long port = 0;
    if ((type != "error" && type != "data") || !strings::parse_int(port_s, port) || port <= 0 || port > 65535) {
      logger()->debug("port-forward: refusing stream {} (type '{}', port '{}')", id, type, port_s);
      session_->reset(id, spdy::kProtocolError);
      return;
    }
    session_->reply(id);
    reap();
    std::lock_guard lk(mu_);
    auto& f = forwards_[req];
    if (!f) {
      f = std::make_shared<Forward>();
      f->request_id = req;
      f->port = static_cast<uint16_t>(port);
    }
    by_stream_[id] = f;
    if (type == "error") {
      f->error_id = id;
      if (!pending_error_[req].empty()) send_error_locked(*f, pending_error_[req]);
    } else {
      if (f->data_id) {
        session_->reset(id, spdy::kProtocolError);
        return;
      }
      f->data_id = id;
      ++requests_;
      f->worker = std::thread([this, f] { pump(f); });
    }
  }

  // Writes the message on the error stream and closes it (kubectl shows the text as an error).
  void send_error_locked(Forward& f, const std::string& msg) {
    if (f.error_closed) return;
    if (!f.error_id) {
      pending_error_[f.request_id] = msg;
      return;
    }
    f.error_closed = true;
    session_->send_data(f.error_id, msg, true);
  }

  void pump(std::shared_ptr<Forward> f) {
    auto conn = connector_(f->port);
    if (!conn) {
      std::string msg = "error forwarding port " + std::to_string(f->port) + " to pod: " + conn.error().message;
      logger()->debug("port-forward: {}", msg);
      std::lock_guard lk(mu_);
      ++connect_errors_;
      send_error_locked(*f, msg);
      session_->send_data(f->data_id, "", true);
      done_.push_back(f);
      return;
    }
    std::shared_ptr<ByteStream> pod(std::move(*conn));
    {
      std::lock_guard lk(mu_);
      if (stopping_) {
        pod->close();
        return;
      }
      f->pod = pod;
    }
    f->pod_reader = std::thread([this, f, pod] {
      char buf[32768];
      for (;;) {
        long n = pod->read(buf, sizeof buf);
        if (n <= 0) break;
        if (!session_->send_data(f->data_id, std::string_view(buf, static_cast<size_t>(n)))) break;
      }
      // Pod side closed: FIN on the data stream, then an empty FIN on the error stream (no error).
      session_->send_data(f->data_id, "", true);
      std::lock_guard lk(mu_);
      if (!f->error_closed && f->error_id) {
        f->error_closed = true;
        session_->send_data(f->error_id, "", true);
      }
    });
    for (;;) {
      std::string chunk = f->to_pod.read_some();
      if (chunk.empty()) break;
      if (!pod->write(chunk)) break;
    }
    pod->close_write();
    if (f->pod_reader.joinable()) f->pod_reader.join();
    std::lock_guard lk(mu_);
    done_.push_back(f);
  }

  // Joins and forgets forwards whose both directions ended (called from the session thread).
  void reap() {
    std::vector<std::shared_ptr<Forward>> done;
    {
      std::lock_guard lk(mu_);
      done.swap(done_);
      for (auto& f : done) {
        forwards_.erase(f->request_id);
        pending_error_.erase(f->request_id);
        by_stream_.erase(f->error_id);
        by_stream_.erase(f->data_id);
      }
    }
    for (auto& f : done) {
      if (f->worker.joinable()) f->worker.join();
    }
  }

  std::shared_ptr<Forward> find(uint32_t id) {
    std::lock_guard lk(mu_);
    auto it = by_stream_.find(id);
    return it == by_stream_.end() ? nullptr : it->second;
  }

  void on_data(uint32_t id, std::string_view d) {
    auto f = find(id);
    if (f && id == f->data_id) f->to_pod.write(d);
  }

  void on_fin(uint32_t id) {
    auto f = find(id);
    if (f && id == f->data_id) f->to_pod.close_write();
  }

  void on_reset(uint32_t id) {
    auto f = find(id);
    if (!f || id != f->data_id) return;
    f->to_pod.close_write();
    std::lock_guard lk(mu_);
    if (f->pod) f->pod->close();
  }

  void shutdown() {
    std::vector<std::shared_ptr<Forward>> all;
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
      for (auto& [k, f] : forwards_) all.push_back(f);
    }
    for (auto& f : all) {
      f->to_pod.close_write();
      std::shared_ptr<ByteStream> pod;
      {
        std::lock_guard lk(mu_);
        pod = f->pod;
      }
      if (pod) pod->close();
    }
    session_->close();
    for (auto& f : all) {
      if (f->worker.joinable()) f->worker.join();
    }
    reap();
  }

  PortConnector connector_;
  std::unique_ptr<spdy::Session> session_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Forward>> forwards_;
  std::map<uint32_t, std::shared_ptr<Forward>> by_stream_;
  std::map<std::string, std::string> pending_error_;
  std::vector<std::shared_ptr<Forward>> done_;
  size_t requests_ = 0;
  size_t connect_errors_ = 0;
  bool stopping_ = false;
};

}  // namespace

Status PortForwardSession::serve(http::Conn& conn, Transport transport, PortConnector connector,
                                 PortForwardStats* stats) {
  if (transport == Transport::kWebsocket) {
    ws::WebSocket socket(conn, ws::Role::kServer);
    ws::MessageByteConn bytes(socket);
    Server s(bytes, std::move(connector));
    auto st = s.run(stats);
    socket.close(ws::kCloseNormal);
    return st;
  }
  Server s(conn, std::move(connector));
  return s.run(stats);
}

}  // namespace k3dpp::streams
