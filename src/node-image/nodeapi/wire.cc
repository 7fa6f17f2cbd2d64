#include "nodeapi/wire.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <thread>

namespace k3dpp::nodeapi {
namespace {

constexpr size_t kMaxHead = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Reads more bytes into buf; false on EOF/error.
bool fill(http::Conn& conn, std::string& buf) {
  char tmp[16384];
  long n = conn.read(tmp, sizeof tmp);
  if (n <= 0) return false;
  buf.append(tmp, static_cast<size_t>(n));
  return true;
}

}  // namespace

std::string ResponseHead::header(std::string_view name) const {
  std::string want = lower(name);
  for (auto& [k, v] : headers)
    if (lower(k) == want) return v;
  return {};
}

HeaderList forwarded_request_headers(const http::Headers& headers) {
  HeaderList out;
  for (auto& [name, value] : headers) {
    if (name == "upgrade" || name == "connection" || name.rfind("sec-websocket-", 0) == 0 ||
        name == "x-stream-protocol-version" || name == "accept" || name == "user-agent") {
      out.emplace_back(name, value);
    }
  }
  return out;
}

std::string render_request_head(const std::string& method, const std::string& target, const std::string& host,
                                const HeaderList& headers) {
  std::string head = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n";
  for (auto& [k, v] : headers) head += k + ": " + v + "\r\n";
  if (method != "GET" && method != "HEAD") head += "Content-Length: 0\r\n";
  head += "\r\n";
  return head;
}

Result<ResponseHead> parse_response_head(std::string_view head) {
  ResponseHead out;
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12)
    return Error("malformed status line: " + std::string(status_line.substr(0, 80)), "BadResponse");
  std::string_view code = status_line.substr(9, 3);
  int status = 0;
  auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
  if (ec != std::errc() || p != code.data() + code.size() || status < 100 || status > 599)
    return Error("malformed status line: " + std::string(status_line.substr(0, 80)), "BadResponse");
  out.status = status;
  if (status_line.size() > 13) out.reason = std::string(status_line.substr(13));
  size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return Error("malformed header line: " + std::string(line.substr(0, 80)), "BadResponse");
    out.headers.emplace_back(std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  }
  return out;
}

Result<ResponseHead> read_response_head(http::Conn& conn, std::string& leftover) {
  std::string buf = std::move(leftover);
  leftover.clear();
  for (;;) {
    size_t end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto head = parse_response_head(std::string_view(buf).substr(0, end));
      if (head) leftover = buf.substr(end + 4);
      return head;
    }
    if (buf.size() > kMaxHead) return Error("response head too large", "BadResponse");
    if (!fill(conn, buf))
      return Error(buf.empty() ? "connection closed before a response"
                                : "connection closed in the middle of the response head",
                   "BadResponse");
  }
}

Status read_body(http::Conn& conn, const ResponseHead& head, std::string buf,
                 const std::function<bool(std::string_view)>& sink) {
  if (head.status == 204 || head.status == 304 || head.status < 200) return {};
  std::string te = lower(head.header("Transfer-Encoding"));
  if (te.find("chunked") != std::string::npos) {
    for (;;) {
      size_t eol;
      while ((eol = buf.find("\r\n")) == std::string::npos) {
        if (buf.size() > kMaxHead) return Error("chunk size line too long", "BadResponse");
        if (!fill(conn, buf)) return Error("connection closed in a chunked body", "BadResponse");
      }
      std::string_view line = std::string_view(buf).substr(0, eol);
      line = line.substr(0, line.find(';'));
      line = trim(line);
      size_t size = 0;
      auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
      if (ec != std::errc() || line.empty()) return Error("malformed chunk size", "BadResponse");
      buf.erase(0, eol + 2);
      if (size == 0) return {};  // trailers are ignored
      while (buf.size() < size + 2) {
        if (!fill(conn, buf)) return Error("connection closed in a chunk", "BadResponse");
      }
      if (!sink(std::string_view(buf).substr(0, size))) return {};
      buf.erase(0, size + 2);
    }
  }
  std::string cl = head.header("Content-Length");
  if (!cl.empty()) {
    size_t want = 0;
    auto [p, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), want);
    if (ec != std::errc()) return Error("malformed Content-Length", "BadResponse");
    while (want > 0) {
      if (buf.empty() && !fill(conn, buf)) return Error("connection closed in the body", "BadResponse");
      size_t n = std::min(want, buf.size());
      if (!sink(std::string_view(buf).substr(0, n))) return {};
      buf.erase(0, n);
      want -= n;
    }
    return {};
  }
  // Until the connection closes.
  for (;;) {
    if (!buf.empty()) {
      if (!sink(buf)) return {};
      buf.clear();
    }
    if (!fill(conn, buf)) return {};
  }
}

HeaderList relayed_response_headers(const ResponseHead& head) {
  HeaderList out;
  for (auto& [k, v] : head.headers) {
    std::string l = lower(k);
    if (l == "content-length" || l == "transfer-encoding" || l == "connection" || l == "keep-alive" ||
        l == "date" || l == "upgrade" || l == "trailer")
      continue;
    out.emplace_back(k, v);
  }
  return out;
}

void pipe_both(http::Conn& a, http::Conn& b, std::string a_first) {
  if (!a_first.empty() && !a.write(a_first)) {
    a.close();
    b.close();
    return;
  }
  std::thread a_to_b([&] {
    char buf[32768];
    for (;;) {
      long n = a.read(buf, sizeof buf);
      if (n <= 0 || !b.write(std::string_view(buf, static_cast<size_t>(n)))) break;
    }
    a.close();
    b.close();
  });
  char buf[32768];
  for (;;) {
    long n = b.read(buf, sizeof buf);
    if (n <= 0 || !a.write(std::string_view(buf, static_cast<size_t>(n)))) break;
  }
  a.close();
  b.close();
  a_to_b.join();
}

void relay_response(http::Conn& upstream, const ResponseHead& head, std::string leftover, http::Responder& front) {
  if (head.status == 101) {
    HeaderList h;
    for (auto& [k, v] : head.headers) {
      std::string l = lower(k);
      if (l == "content-length" || l == "date") continue;
      h.emplace_back(k, v);
    }
    http::Conn& client = front.upgrade(h);
    pipe_both(client, upstream, std::move(leftover));
    return;
  }
  std::string cl = head.header("Content-Length");
  bool small = !cl.empty() && cl.size() < 8;  // under 10 MB: read it whole
  if (small) {
    http::Response r;
    r.status = head.status;
    r.headers = relayed_response_headers(head);
    Status st = read_body(upstream, head, std::move(leftover), [&](std::string_view piece) {
      r.body.append(piece);
      return true;
    });
    if (!st) {
      front.send(status_error(502, "InternalError", "reading the node's answer: " + st.error().message));
      return;
    }
    front.send(std::move(r));
    return;
  }
  http::Stream& out = front.stream(head.status, relayed_response_headers(head));
  // A follow stream may stay quiet for long: notice a client that went away and cut the upstream,
  // which ends the blocked read below (and the node's side with it).
  std::jthread watcher([&](std::stop_token st) {
    while (!st.stop_requested()) {
      if (out.closed()) {
        upstream.close();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  (void)read_body(upstream, head, std::move(leftover), [&](std::string_view piece) { return out.write(piece); });
  watcher.request_stop();
  watcher.join();
  upstream.close();
}

http::Response status_error(int code, std::string_view reason, std::string_view message) {
  return http::status_response(code, reason, message);
}

}  // namespace k3dpp::nodeapi
