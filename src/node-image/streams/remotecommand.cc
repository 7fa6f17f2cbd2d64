#include "streams/remotecommand.h"

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/log.h"
#include "streams/byte_stream.h"
#include "streams/spdy.h"
#include "streams/websocket.h"

namespace k3dpp::streams {

namespace {

auto logger() {
  static auto l = log::get("streams.exec");
  return l;
}

bool query_flag(const http::Request& r, const std::string& name) {
  auto it = r.query.find(name);
  if (it == r.query.end()) return false;
  return it->second == "true" || it->second == "1";
}

// Resize events arrive as a stream of JSON objects (SPDY) or one per message (websocket).
// Splits complete top-level objects off the front of buf.
std::vector<std::string> take_json_objects(std::string& buf) {
  std::vector<std::string> out;
  int depth = 0;
  bool in_str = false, esc = false;
  size_t start = 0;
  size_t consumed = 0;
  for (size_t i = 0; i < buf.size(); ++i) {
    char c = buf[i];
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '{') {
      if (depth++ == 0) start = i;
    } else if (c == '}' && depth > 0) {
      if (--depth == 0) {
        out.push_back(buf.substr(start, i + 1 - start));
        consumed = i + 1;
      }
    }
  }
  buf.erase(0, consumed);
  return out;
}

constexpr char kChanStdin = 0, kChanStdout = 1, kChanStderr = 2, kChanError = 3, kChanResize = 4;
constexpr unsigned char kChanClose = 0xFF;

}  // namespace

ExecOptions exec_options_from_request(const http::Request& request) {
  ExecOptions o;
  o.stdin = query_flag(request, "stdin");
  o.stdout = query_flag(request, "stdout");
  o.stderr = query_flag(request, "stderr");
  o.tty = query_flag(request, "tty");
  auto [b, e] = request.query.equal_range("command");
  for (auto it = b; it != e; ++it) o.command.push_back(it->second);
  if (auto it = request.query.find("container"); it != request.query.end()) o.container = it->second;
  return o;
}

Result<TerminalSize> parse_terminal_size(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("resize: not a JSON object", "BadRequest");
  TerminalSize s;
  auto get = [&](const char* k) -> uint16_t {
    auto it = j.find(k);
    if (it == j.end() || !it->is_number_unsigned()) return 0;
    return static_cast<uint16_t>(std::min<uint64_t>(it->get<uint64_t>(), 0xFFFF));
  };
  s.width = get("Width");
  s.height = get("Height");
  return s;
}

std::string exit_status_json(int exit_code) {
  nlohmann::ordered_json j;
  j["metadata"] = nlohmann::json::object();
  if (exit_code == 0) {
    j["status"] = "Success";
    return j.dump();
  }
  j["status"] = "Failure";
  j["message"] = "command terminated with non-zero exit code: exit status " + std::to_string(exit_code);
  j["reason"] = "NonZeroExitCode";
  nlohmann::ordered_json cause;
  cause["reason"] = "ExitCode";
  cause["message"] = std::to_string(exit_code);
  j["details"]["causes"] = nlohmann::ordered_json::array({cause});
  return j.dump();
}

std::string failure_status_json(std::string_view message) {
  nlohmann::ordered_json j;
  j["metadata"] = nlohmann::json::object();
  j["status"] = "Failure";
  j["message"] = std::string(message);
  j["reason"] = "InternalError";
  j["code"] = 500;
  return j.dump();
}

struct ExecSession::Impl {
  http::Conn& conn;
  Transport transport;
  ExecOptions options;
  Pipe stdin_pipe;
  std::mutex mu;
  std::condition_variable cv;
  std::function<void(TerminalSize)> resize_handler;
  std::vector<TerminalSize> pending_resizes;
  std::string resize_buf;
  bool gone = false;
  bool finished = false;
  std::thread reader;

  // websocket
  std::unique_ptr<ws::WebSocket> ws;
  // spdy
  std::unique_ptr<spdy::Session> session;
  uint32_t id_error = 0, id_stdin = 0, id_stdout = 0, id_stderr = 0, id_resize = 0;

  Impl(http::Conn& c, Transport t, ExecOptions o) : conn(c), transport(t), options(std::move(o)) {}

  void deliver_resize(std::string_view json) {
    auto s = parse_terminal_size(json);
    if (!s) {
      logger()->debug("ignoring bad resize event: {}", s.error().message);
      return;
    }
    std::function<void(TerminalSize)> h;
    {
      std::lock_guard lk(mu);
      if (!resize_handler) {
        pending_resizes.push_back(*s);
        return;
      }
      h = resize_handler;
    }
    h(*s);
  }

  void mark_gone() {
    stdin_pipe.close_write();
    std::lock_guard lk(mu);
    gone = true;
    cv.notify_all();
  }

  void ws_loop() {
    for (;;) {
      auto m = ws->read();
      if (!m || m->opcode == ws::Opcode::kClose) break;
      if (m->payload.empty()) continue;
      auto chan = static_cast<unsigned char>(m->payload[0]);
      std::string_view data = std::string_view(m->payload).substr(1);
      if (chan == kChanStdin) {
        stdin_pipe.write(data);
      } else if (chan == kChanResize) {
        deliver_resize(data);
      } else if (chan == kChanClose) {
        if (!data.empty() && data[0] == kChanStdin) stdin_pipe.close_write();
      }
    }
    mark_gone();
  }

  bool have_all_streams() const {
    if (!id_error) return false;
    if (options.stdin && !id_stdin) return false;
    if (options.stdout && !id_stdout) return false;
    if (options.stderr && !options.tty && !id_stderr) return false;
    if (options.tty && !id_resize) return false;
    return true;
  }

  spdy::Callbacks spdy_callbacks() {
    spdy::Callbacks cb;
    cb.on_stream = [this](uint32_t id, const spdy::HeaderList& h, bool) {
      auto type = spdy::find_header(h, "streamtype").value_or("");
      session->reply(id);
      std::lock_guard lk(mu);
      if (type == "error") id_error = id;
      else if (type == "stdin") id_stdin = id;
      else if (type == "stdout") id_stdout = id;
      else if (type == "stderr") id_stderr = id;
      else if (type == "resize") id_resize = id;
      else logger()->debug("exec: ignoring stream of type '{}'", type);
      cv.notify_all();
    };
    cb.on_data = [this](uint32_t id, std::string_view data) {
      uint32_t in, rs;
      {
        std::lock_guard lk(mu);
        in = id_stdin;
        rs = id_resize;
      }
      if (id == in) {
        stdin_pipe.write(data);
      } else if (id == rs) {
        std::vector<std::string> objs;
        {
          std::lock_guard lk(mu);
          resize_buf.append(data);
          objs = take_json_objects(resize_buf);
        }
        for (const auto& o : objs) deliver_resize(o);
      }
    };
    auto closed = [this](uint32_t id) {
      std::lock_guard lk(mu);
      if (id == id_stdin) stdin_pipe.close_write();
    };
    cb.on_fin = closed;
    cb.on_reset = [closed](uint32_t id, uint32_t) { closed(id); };
    return cb;
  }

  bool write_channel(char chan, uint32_t spdy_id, std::string_view data) {
    if (data.empty()) return true;
    if (transport == Transport::kWebsocket) {
      std::string m(1, chan);
      m.append(data);
      return ws->send_binary(m);
    }
    if (!spdy_id) return false;
    return session->send_data(spdy_id, data);
  }

  Status finish_with(const std::string& status_json, std::chrono::milliseconds linger) {
    {
      std::lock_guard lk(mu);
      if (finished) return {};
      finished = true;
    }
    bool ok;
    if (transport == Transport::kWebsocket) {
      std::string m(1, kChanError);
      m += status_json;
      ok = ws->send_binary(m);
      ws->close(ws::kCloseNormal);
    } else {
      uint32_t out, err, eid;
      {
        std::lock_guard lk(mu);
        out = id_stdout;
        err = id_stderr;
        eid = id_error;
      }
      if (out) session->send_data(out, "", true);
      if (err) session->send_data(err, "", true);
      ok = session->send_data(eid, status_json, true);
    }
    {
      std::unique_lock lk(mu);
      cv.wait_for(lk, linger, [&] { return gone; });
    }
    conn.close();
    if (reader.joinable()) reader.join();
    if (!ok) return fail("exec: the client went away before the exit status was sent", "Unavailable");
    return {};
  }
};

ExecSession::ExecSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ExecSession::~ExecSession() {
  if (!impl_) return;
  if (impl_->reader.joinable()) {
    impl_->conn.close();
    impl_->reader.join();
  }
}

Result<std::unique_ptr<ExecSession>> ExecSession::start(http::Conn& conn, Transport transport,
                                                        const ExecOptions& options,
                                                        std::chrono::milliseconds stream_timeout) {
  auto impl = std::make_unique<Impl>(conn, transport, options);
  Impl* p = impl.get();
  if (!options.stdin) p->stdin_pipe.close_write();
  if (transport == Transport::kWebsocket) {
    p->ws = std::make_unique<ws::WebSocket>(conn, ws::Role::kServer);
    p->reader = std::thread([p] { p->ws_loop(); });
    return std::unique_ptr<ExecSession>(new ExecSession(std::move(impl)));
  }
  p->session = std::make_unique<spdy::Session>(conn, spdy::Role::kServer, p->spdy_callbacks());
  p->reader = std::thread([p] {
    auto st = p->session->run();
    if (!st) logger()->debug("exec spdy session ended: {}", st.error().message);
    p->mark_gone();
  });
  bool ready;
  {
    std::unique_lock lk(p->mu);
    ready = p->cv.wait_for(lk, stream_timeout, [p] { return p->have_all_streams() || p->gone; }) && !p->gone;
  }
  if (!ready) {
    conn.close();
    p->reader.join();
    return fail("exec: timed out waiting for the client's streams", "Timeout");
  }
  return std::unique_ptr<ExecSession>(new ExecSession(std::move(impl)));
}

long ExecSession::read_stdin(char* buf, size_t n) { return impl_->stdin_pipe.read(buf, n); }
std::string ExecSession::read_stdin_some() { return impl_->stdin_pipe.read_some(); }

bool ExecSession::write_stdout(std::string_view data) {
  return impl_->write_channel(kChanStdout, impl_->id_stdout, data);
}

bool ExecSession::write_stderr(std::string_view data) {
  // With a tty there is no stderr stream: the terminal merges it into stdout.
  if (impl_->options.tty) return impl_->write_channel(kChanStdout, impl_->id_stdout, data);
  return impl_->write_channel(kChanStderr, impl_->id_stderr, data);
}

void ExecSession::on_resize(std::function<void(TerminalSize)> handler) {
  std::vector<TerminalSize> pending;
  {
    std::lock_guard lk(impl_->mu);
    impl_->resize_handler = handler;
    pending.swap(impl_->pending_resizes);
  }
  for (const auto& s : pending) handler(s);
}

bool ExecSession::client_gone() const {
  std::lock_guard lk(impl_->mu);
  return impl_->gone;
}

Status ExecSession::finish(int exit_code, std::chrono::milliseconds linger) {
  return impl_->finish_with(exit_status_json(exit_code), linger);
}

Status ExecSession::finish_error(std::string_view message, std::chrono::milliseconds linger) {
  return impl_->finish_with(failure_status_json(message), linger);
}

}  // namespace k3dpp::streams
