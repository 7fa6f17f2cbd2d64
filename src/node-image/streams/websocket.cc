#include "streams/websocket.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "common/strings.h"

namespace k3dpp::streams::ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

// Decoded length of a base64 string, or -1 if it is not valid base64.
long base64_decoded_len(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return -1;
  std::string out(s.size(), '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (len < 0) return -1;
  if (s.ends_with("==")) return len - 2;
  if (s.ends_with("=")) return len - 1;
  return len;
}

bool is_control(Opcode op) { return static_cast<uint8_t>(op) >= 0x8; }

bool known_opcode(uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

}  // namespace

std::string accept_key(std::string_view client_key) {
  std::string in(client_key);
  in += kGuid;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(in.data(), in.size(), md, &md_len, EVP_sha1(), nullptr);
  return base64(md, md_len);
}

std::vector<std::string> header_tokens(const http::Headers& headers, const std::string& lower_name) {
  std::vector<std::string> out;
  auto [b, e] = headers.equal_range(lower_name);
  for (auto it = b; it != e; ++it) {
    for (const auto& part : strings::split(it->second, ',')) {
      auto t = strings::trim(part);
      if (!t.empty()) out.emplace_back(t);
    }
  }
  return out;
}

std::optional<std::string> header_value(const http::Headers& headers, const std::string& lower_name) {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

Result<ServerHandshake> server_handshake(std::string_view method, const http::Headers& headers,
                                         const std::vector<std::string>& supported) {
  auto bad = [](std::string m) { return fail("websocket handshake: " + m, "BadRequest"); };
  if (method != "GET") return bad("method must be GET, not " + std::string(method));
  bool upgrade = false;
  for (const auto& t : header_tokens(headers, "upgrade")) upgrade |= strings::to_lower(t) == "websocket";
  if (!upgrade) return bad("missing 'Upgrade: websocket'");
  bool conn_upgrade = false;
  for (const auto& t : header_tokens(headers, "connection")) conn_upgrade |= strings::to_lower(t) == "upgrade";
  if (!conn_upgrade) return bad("missing 'Connection: Upgrade'");
  auto version = header_value(headers, "sec-websocket-version");
  if (!version || strings::trim(*version) != "13") return bad("Sec-WebSocket-Version must be 13");
  auto key = header_value(headers, "sec-websocket-key");
  if (!key) return bad("missing Sec-WebSocket-Key");
  std::string k(strings::trim(*key));
  if (base64_decoded_len(k) != 16) return bad("Sec-WebSocket-Key is not 16 bytes of base64");

  ServerHandshake hs;
  auto offered = header_tokens(headers, "sec-websocket-protocol");
  if (!supported.empty()) {
    for (const auto& s : supported) {
      if (std::find(offered.begin(), offered.end(), s) != offered.end()) {
        hs.protocol = s;
        break;
      }
    }
    if (hs.protocol.empty()) {
      return bad("none of the offered subprotocols [" + strings::join(offered, ", ") +
                 "] is supported (want one of " + strings::join(supported, ", ") + ")");
    }
  }
  hs.headers = {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", accept_key(k)}};
  if (!hs.protocol.empty()) hs.headers.emplace_back("Sec-WebSocket-Protocol", hs.protocol);
  return hs;
}

std::string encode_frame(Opcode opcode, std::string_view payload, bool fin,
                         const std::optional<std::array<uint8_t, 4>>& mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<uint8_t>(opcode)));
  uint8_t mbit = mask ? 0x80 : 0;
  size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(mbit | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(mbit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(mbit | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xFF));
  }
  if (mask) {
    out.append(reinterpret_cast<const char*>(mask->data()), 4);
    size_t base = out.size();
    out.append(payload);
    for (size_t i = 0; i < n; ++i) out[base + i] = static_cast<char>(out[base + i] ^ (*mask)[i % 4]);
  } else {
    out.append(payload);
  }
  return out;
}

Result<size_t> decode_frame(std::string_view data, bool expect_masked, size_t max_payload, Frame& out) {
  if (data.size() < 2) return size_t{0};
  auto b0 = static_cast<uint8_t>(data[0]);
  auto b1 = static_cast<uint8_t>(data[1]);
  if (b0 & 0x70) return fail("websocket: reserved bits set (no extension negotiated)", "ProtocolError");
  uint8_t op = b0 & 0x0F;
  if (!known_opcode(op)) return fail("websocket: unknown opcode " + std::to_string(op), "ProtocolError");
  bool fin = b0 & 0x80;
  bool masked = b1 & 0x80;
  if (masked != expect_masked) {
    return fail(expect_masked ? "websocket: client frame is not masked" : "websocket: server frame is masked",
                "ProtocolError");
  }
  uint64_t len = b1 & 0x7F;
  size_t pos = 2;
  if (len == 126) {
    if (data.size() < 4) return size_t{0};
    len = (static_cast<uint64_t>(static_cast<uint8_t>(data[2])) << 8) | static_cast<uint8_t>(data[3]);
    pos = 4;
  } else if (len == 127) {
    if (data.size() < 10) return size_t{0};
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(data[2 + i]);
    if (len >> 63) return fail("websocket: 64-bit length has its top bit set", "ProtocolError");
    pos = 10;
  }
  auto opcode = static_cast<Opcode>(op);
  if (is_control(opcode) && (!fin || len > 125)) {
    return fail("websocket: control frame fragmented or longer than 125 bytes", "ProtocolError");
  }
  if (len > max_payload) {
    return fail("websocket: frame of " + std::to_string(len) + " bytes exceeds the limit of " +
                    std::to_string(max_payload),
                "TooBig");
  }
  std::array<uint8_t, 4> mask{};
  if (masked) {
    if (data.size() < pos + 4) return size_t{0};
    std::memcpy(mask.data(), data.data() + pos, 4);
    pos += 4;
  }
  if (data.size() < pos + len) return size_t{0};
  out.fin = fin;
  out.opcode = opcode;
  out.payload.assign(data.data() + pos, static_cast<size_t>(len));
  if (masked) {
    for (size_t i = 0; i < out.payload.size(); ++i) out.payload[i] = static_cast<char>(out.payload[i] ^ mask[i % 4]);
  }
  return pos + static_cast<size_t>(len);
}

WebSocket::WebSocket(http::Conn& conn, Role role, size_t max_message, std::string pending)
    : conn_(conn), role_(role), max_message_(max_message), rbuf_(std::move(pending)) {}

bool WebSocket::write_frame(Opcode opcode, std::string_view payload, bool fin) {
  std::optional<std::array<uint8_t, 4>> mask;
  if (role_ == Role::kClient) {
    std::array<uint8_t, 4> m{};
    RAND_bytes(m.data(), 4);
    mask = m;
  }
  std::string bytes = encode_frame(opcode, payload, fin, mask);
  std::lock_guard lk(write_mu_);
  // Nothing may follow our close frame (a send racing with close() loses).
  if (close_written_) return false;
  if (opcode == Opcode::kClose) close_written_ = true;
  return conn_.write(bytes);
}

bool WebSocket::send(Opcode opcode, std::string_view payload) {
  if (close_sent_ && opcode != Opcode::kClose) return false;
  return write_frame(opcode, payload, true);
}

bool WebSocket::close(uint16_t code, std::string_view reason) {
  if (close_sent_.exchange(true)) return true;
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason.substr(0, 123));
  return write_frame(Opcode::kClose, p, true);
}

Result<Frame> WebSocket::read_frame() {
  for (;;) {
    Frame f;
    auto used = decode_frame(rbuf_, role_ == Role::kServer, max_message_, f);
    if (!used) {
      close(used.error().is("TooBig") ? kCloseTooBig : kCloseProtocolError);
      return used.error();
    }
    if (*used > 0) {
      rbuf_.erase(0, *used);
      return f;
    }
    char buf[16384];
    long n = conn_.read(buf, sizeof buf);
    if (n <= 0) return fail("websocket: connection closed before a close frame", "EOF");
    rbuf_.append(buf, static_cast<size_t>(n));
  }
}

Result<Message> WebSocket::read() {
  Message msg;
  bool in_message = false;
  for (;;) {
    auto fr = read_frame();
    if (!fr) return fr.error();
    Frame& f = *fr;
    switch (f.opcode) {
      case Opcode::kPing:
        if (!close_sent_) write_frame(Opcode::kPong, f.payload, true);
        continue;
      case Opcode::kPong:
        continue;
      case Opcode::kClose: {
        close_received_ = true;
        Message c;
        c.opcode = Opcode::kClose;
        c.close_code = 1005;
        if (f.payload.size() >= 2) {
          c.close_code = static_cast<uint16_t>((static_cast<uint8_t>(f.payload[0]) << 8) |
                                               static_cast<uint8_t>(f.payload[1]));
          c.payload = f.payload.substr(2);
        }
        close(c.close_code == 1005 ? kCloseNormal : c.close_code);
        return c;
      }
      case Opcode::kContinuation:
        if (!in_message) {
          close(kCloseProtocolError);
          return fail("websocket: continuation frame without a message", "ProtocolError");
        }
        break;
      case Opcode::kText:
      case Opcode::kBinary:
        if (in_message) {
          close(kCloseProtocolError);
          return fail("websocket: new message inside a fragmented message", "ProtocolError");
        }
        in_message = true;
        msg.opcode = f.opcode;
        break;
    }
    if (msg.payload.size() + f.payload.size() > max_message_) {
      close(kCloseTooBig);
      return fail("websocket: message exceeds the limit of " + std::to_string(max_message_) + " bytes", "TooBig");
    }
    msg.payload += f.payload;
    if (f.fin) return msg;
  }
}

long MessageByteConn::read(char* buf, size_t n) {
  while (off_ >= buf_.size()) {
    if (eof_) return 0;
    auto m = ws_.read();
    if (!m || m->opcode == Opcode::kClose) {
      eof_ = true;
      return 0;
    }
    buf_ = std::move(m->payload);
    off_ = 0;
  }
  size_t k = std::min(n, buf_.size() - off_);
  std::memcpy(buf, buf_.data() + off_, k);
  off_ += k;
  return static_cast<long>(k);
}

void MessageByteConn::close() {
  ws_.close(kCloseNormal);
  ws_.conn().close();
}

Result<Client> connect(const std::string& host, uint16_t port, const std::string& path,
                       const std::vector<std::string>& protocols,
                       const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  auto tcp = tcp_connect(host, port);
  if (!tcp) return tcp.error();
  unsigned char raw[16];
  RAND_bytes(raw, sizeof raw);
  std::string key = base64(raw, sizeof raw);
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: " + key + "\r\n";
  if (!protocols.empty()) req += "Sec-WebSocket-Protocol: " + strings::join(protocols, ", ") + "\r\n";
  for (const auto& [k, v] : extra_headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  if (!(*tcp)->write(req)) return fail("websocket connect: write failed");
  std::string resp;
  size_t end = std::string::npos;
  while ((end = resp.find("\r\n\r\n")) == std::string::npos) {
    char buf[4096];
    long n = (*tcp)->read(buf, sizeof buf);
    if (n <= 0) return fail("websocket connect: connection closed during the handshake");
    resp.append(buf, static_cast<size_t>(n));
    if (resp.size() > 65536) return fail("websocket connect: response headers too long");
  }
  std::string head = resp.substr(0, end);
  std::string rest = resp.substr(end + 4);
  auto lines = strings::split(head, '\n');
  std::string status_line(strings::trim(lines.front()));
  if (status_line.find(" 101") == std::string::npos) {
    return fail("websocket connect: " + status_line + ": " + rest, "Rejected");
  }
  http::Headers headers;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    headers.emplace(strings::to_lower(strings::trim(lines[i].substr(0, colon))),
                    std::string(strings::trim(lines[i].substr(colon + 1))));
  }
  auto accept = header_value(headers, "sec-websocket-accept");
  if (!accept || *accept != accept_key(key)) return fail("websocket connect: wrong Sec-WebSocket-Accept");
  Client c;
  c.protocol = header_value(headers, "sec-websocket-protocol").value_or("");
  c.tcp = std::move(*tcp);
  c.ws = std::make_unique<WebSocket>(*c.tcp, Role::kClient, 32u << 20, std::move(rest));
  return c;
}

}  // namespace k3dpp::streams::ws
