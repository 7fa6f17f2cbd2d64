#include "streams/client.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "streams/spdy.h"
#include "streams/upgrade.h"
#include "common/json_read.h"

namespace k3dpp::streams {

namespace {

auto logger() {
  static auto l = log::get("streams.client");
  return l;
}

}  // namespace

Result<UpgradedConn> spdy_upgrade(const std::string& host, uint16_t port, const std::string& method,
                                  const std::string& target, const std::vector<std::string>& protocols,
                                  const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  auto tcp = tcp_connect(host, port);
  if (!tcp) return tcp.error();
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                    "\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nContent-Length: 0\r\n";
  for (const auto& p : protocols) req += "X-Stream-Protocol-Version: " + p + "\r\n";
  for (const auto& [k, v] : extra_headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  if (!(*tcp)->write(req)) return fail("spdy upgrade: write failed", "Unavailable");
  std::string resp;
  size_t end;
  while ((end = resp.find("\r\n\r\n")) == std::string::npos) {
    char buf[4096];
    long n = (*tcp)->read(buf, sizeof buf);
    if (n <= 0) return fail("spdy upgrade: connection closed during the handshake", "Unavailable");
    resp.append(buf, static_cast<size_t>(n));
    if (resp.size() > 65536) return fail("spdy upgrade: response headers too long");
  }
  auto lines = strings::split(resp.substr(0, end), '\n');
  std::string status(strings::trim(lines.front()));
  if (status.find(" 101") == std::string::npos) {
    return fail("spdy upgrade: " + status + ": " + resp.substr(end + 4), "Rejected");
  }
  UpgradedConn out;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    if (strings::to_lower(strings::trim(lines[i].substr(0, colon))) == "x-stream-protocol-version") {
      out.protocol = strings::trim(lines[i].substr(colon + 1));
    }
  }
  out.tcp = std::move(*tcp);
  out.pending = resp.substr(end + 4);
  return out;
}

Result<int> exit_code_from_status(std::string_view status_json) {
  if (strings::trim(status_json).empty()) return 0;
  auto j = nlohmann::json::parse(status_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("exec: error stream: " + std::string(status_json), "Remote");
  if (jvalue(j, "status", "") == "Success") return 0;
  if (jvalue(j, "reason", "") == "NonZeroExitCode") {
    for (const auto& c : jvalue(j["details"], "causes", nlohmann::json::array())) {
      long long code;
      if (jvalue(c, "reason", "") == "ExitCode" && strings::parse_int(jvalue(c, "message", ""), code)) {
        return static_cast<int>(code);
      }
    }
  }
  return fail(jvalue(j, "message", std::string(status_json)), "Remote");
}

// --- ExecClient ---

struct ExecClient::Impl {
  http::Conn& conn;
  ExecOptions options;
  ExecClientIO io;
  std::unique_ptr<spdy::Session> session;
  std::thread reader;
  std::mutex mu;
  std::condition_variable cv;
  uint32_t id_error = 0, id_stdin = 0, id_stdout = 0, id_stderr = 0, id_resize = 0;
  std::string error_text;
  std::map<uint32_t, bool> remote_done;  // error/stdout/stderr: FIN or reset seen
  bool ended = false;

  Impl(http::Conn& c, ExecOptions o, ExecClientIO i) : conn(c), options(std::move(o)), io(std::move(i)) {}

  bool all_done() const {
    for (const auto& [id, done] : remote_done) {
      if (!done) return false;
    }
    return true;
  }
};

ExecClient::ExecClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ExecClient::~ExecClient() {
  impl_->session->close();
  if (impl_->reader.joinable()) impl_->reader.join();
}

Result<std::unique_ptr<ExecClient>> ExecClient::start(http::Conn& conn, const ExecOptions& options, ExecClientIO io,
                                                      std::string pending) {
  auto impl = std::make_unique<Impl>(conn, options, std::move(io));
  Impl* p = impl.get();
  spdy::Callbacks cb;
  cb.on_data = [p](uint32_t id, std::string_view d) {
    uint32_t out, err, e;
    {
      std::lock_guard lk(p->mu);
      out = p->id_stdout;
      err = p->id_stderr;
      e = p->id_error;
      if (id == e) p->error_text.append(d);
    }
    if (id == out && p->io.on_stdout) p->io.on_stdout(d);
    if (id == err && p->io.on_stderr) p->io.on_stderr(d);
  };
  auto done = [p](uint32_t id) {
    std::lock_guard lk(p->mu);
    if (p->remote_done.count(id)) p->remote_done[id] = true;
    p->cv.notify_all();
  };
  cb.on_fin = done;
  cb.on_reset = [done](uint32_t id, uint32_t) { done(id); };
  p->session = std::make_unique<spdy::Session>(conn, spdy::Role::kClient, std::move(cb), std::move(pending));
  p->reader = std::thread([p] {
    auto st = p->session->run();
    if (!st) logger()->debug("exec client session ended: {}", st.error().message);
    std::lock_guard lk(p->mu);
    p->ended = true;
    p->cv.notify_all();
  });
  auto open = [p](const char* type, uint32_t& slot, bool track) -> Status {
    std::lock_guard lk(p->mu);  // callbacks must see the id before data for it arrives
    auto id = p->session->open_stream({{"streamtype", type}});
    if (!id) return id.error();
    slot = *id;
    if (track) p->remote_done[*id] = false;
    return {};
  };
  Status st = open("error", p->id_error, true);
  if (st && options.stdin) st = open("stdin", p->id_stdin, false);
  if (st && options.stdout) st = open("stdout", p->id_stdout, true);
  if (st && options.stderr && !options.tty) st = open("stderr", p->id_stderr, true);
  if (st && options.tty) st = open("resize", p->id_resize, false);
  if (!st) return st.error().wrap("exec client");
  return std::unique_ptr<ExecClient>(new ExecClient(std::move(impl)));
}

bool ExecClient::write_stdin(std::string_view data) {
  return impl_->id_stdin && impl_->session->send_data(impl_->id_stdin, data);
}

void ExecClient::close_stdin() {
  if (impl_->id_stdin) impl_->session->send_data(impl_->id_stdin, "", true);
}

void ExecClient::resize(TerminalSize size) {
  if (!impl_->id_resize) return;
  nlohmann::ordered_json j;
  j["Width"] = size.width;
  j["Height"] = size.height;
  impl_->session->send_data(impl_->id_resize, j.dump());
}

Result<int> ExecClient::wait() {
  std::string text;
  bool complete;
  {
    std::unique_lock lk(impl_->mu);
    impl_->cv.wait(lk, [&] { return impl_->all_done() || impl_->ended; });
    complete = impl_->remote_done[impl_->id_error];
    text = impl_->error_text;
  }
  impl_->session->goaway();
  if (!complete) return fail("exec: the connection ended before the exit status", "Unavailable");
  return exit_code_from_status(text);
}

Status bridge_exec(ExecSession& front, const ExecOptions& options, http::Conn& upstream, std::string pending) {
  ExecClientIO io;
  io.on_stdout = [&front](std::string_view d) { front.write_stdout(d); };
  io.on_stderr = [&front](std::string_view d) { front.write_stderr(d); };
  auto back = ExecClient::start(upstream, options, io, std::move(pending));
  if (!back) {
    (void)front.finish_error(back.error().message);
    return back.error();
  }
  ExecClient& b = **back;
  if (options.tty) front.on_resize([&b](TerminalSize s) { b.resize(s); });
  std::thread in;
  if (options.stdin) {
    in = std::thread([&front, &b] {
      for (;;) {
        std::string chunk = front.read_stdin_some();
        if (chunk.empty()) break;
        if (!b.write_stdin(chunk)) return;
      }
      b.close_stdin();
    });
  }
  auto code = b.wait();
  Status st;
  if (code) {
    st = front.finish(*code);
  } else {
    st = front.finish_error(code.error().message);
  }
  // finish() closed the front connection, which ends its stdin.
  if (in.joinable()) in.join();
  if (options.tty) front.on_resize([](TerminalSize) {});
  return st;
}

// --- PortForwardClient ---

struct PortForwardClient::Impl {
  struct Request {
    ByteStream* local = nullptr;
    uint32_t error_id = 0, data_id = 0;
    std::string error_text;
    bool error_done = false, data_done = false;
  };
  std::unique_ptr<spdy::Session> session;
  std::thread reader;
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint32_t, std::shared_ptr<Request>> by_stream;
  uint64_t next_request = 0;
  bool ended = false;

  std::shared_ptr<Request> find(uint32_t id) {
    std::lock_guard lk(mu);
    auto it = by_stream.find(id);
    return it == by_stream.end() ? nullptr : it->second;
  }
  void finished(uint32_t id) {
    auto r = find(id);
    if (!r) return;
    std::lock_guard lk(mu);
    if (id == r->data_id) {
      if (!r->data_done) r->local->close_write();
      r->data_done = true;
    }
    if (id == r->error_id) r->error_done = true;
    cv.notify_all();
  }
};

PortForwardClient::PortForwardClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PortForwardClient::~PortForwardClient() { close(); }

void PortForwardClient::close() {
  if (!impl_->session) return;
  impl_->session->goaway();
  impl_->session->close();
  if (impl_->reader.joinable()) impl_->reader.join();
}

Result<std::unique_ptr<PortForwardClient>> PortForwardClient::start(http::Conn& conn, std::string pending) {
  auto impl = std::make_unique<Impl>();
  Impl* p = impl.get();
  spdy::Callbacks cb;
  cb.on_data = [p](uint32_t id, std::string_view d) {
    auto r = p->find(id);
    if (!r) return;
    if (id == r->data_id) {
      r->local->write(d);
    } else {
      std::lock_guard lk(p->mu);
      r->error_text.append(d);
    }
  };
  cb.on_fin = [p](uint32_t id) { p->finished(id); };
  cb.on_reset = [p](uint32_t id, uint32_t) { p->finished(id); };
  p->session = std::make_unique<spdy::Session>(conn, spdy::Role::kClient, std::move(cb), std::move(pending));
  p->reader = std::thread([p] {
    (void)p->session->run();
    std::lock_guard lk(p->mu);
    p->ended = true;
    p->cv.notify_all();
  });
  return std::unique_ptr<PortForwardClient>(new PortForwardClient(std::move(impl)));
}

Status PortForwardClient::forward(uint16_t port, ByteStream& local) {
  Impl* p = impl_.get();
  auto r = std::make_shared<Impl::Request>();
  r->local = &local;
  std::string request_id;
  {
    std::lock_guard lk(p->mu);
    request_id = std::to_string(p->next_request++);
    spdy::HeaderList h = {{"streamtype", "error"}, {"port", std::to_string(port)}, {"requestid", request_id}};
    auto e = p->session->open_stream(h, /*fin=*/true);  // we never write on the error stream
    if (!e) return e.error();
    r->error_id = *e;
    p->by_stream[*e] = r;
    h[0].second = "data";
    auto d = p->session->open_stream(h);
    if (!d) return d.error();
    r->data_id = *d;
    p->by_stream[*d] = r;
  }
  std::thread up([p, r, &local] {
    char buf[32768];
    long n;
    while ((n = local.read(buf, sizeof buf)) > 0) {
      if (!p->session->send_data(r->data_id, std::string_view(buf, static_cast<size_t>(n)))) return;
    }
    p->session->send_data(r->data_id, "", true);
  });
  std::string err;
  {
    std::unique_lock lk(p->mu);
    p->cv.wait(lk, [&] { return (r->data_done && r->error_done) || p->ended; });
    err = r->error_text;
    if (!r->data_done) local.close_write();
  }
  local.close();  // ends the upload thread's read
  up.join();
  {
    std::lock_guard lk(p->mu);
    p->by_stream.erase(r->error_id);
    p->by_stream.erase(r->data_id);
  }
  if (!err.empty()) return fail(err, "Remote");
  return {};
}

}  // namespace k3dpp::streams
