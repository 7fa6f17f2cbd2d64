#include "dns/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"

namespace k3dpp::dns {
namespace {

constexpr int kPollMs = 200;
constexpr int kTcpIdleMs = 10000;

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("dns");
  return l;
}

bool make_addr(const std::string& ip, uint16_t port, sockaddr_in& out) {
  std::memset(&out, 0, sizeof out);
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  return inet_pton(AF_INET, ip.c_str(), &out.sin_addr) == 1;
}

// Reads exactly n bytes before the deadline; false on EOF, error or timeout.
bool read_full(int fd, uint8_t* buf, size_t n, int timeout_ms, const std::atomic<bool>* stopping) {
  size_t got = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (got < n) {
    if (stopping && stopping->load()) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), kPollMs)));
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    ssize_t k = recv(fd, buf + got, n - got, 0);
    if (k <= 0) {
      if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      return false;
    }
    got += static_cast<size_t>(k);
  }
  return true;
}

bool write_full(int fd, const uint8_t* buf, size_t n) {
  size_t sent = 0;
  while (sent < n) {
    ssize_t k = send(fd, buf + sent, n - sent, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    sent += static_cast<size_t>(k);
  }
  return true;
}

bool write_framed(int fd, const std::vector<uint8_t>& msg) {
  std::vector<uint8_t> out;
  out.reserve(msg.size() + 2);
  out.push_back(static_cast<uint8_t>(msg.size() >> 8));
  out.push_back(static_cast<uint8_t>(msg.size()));
  out.insert(out.end(), msg.begin(), msg.end());
  return write_full(fd, out.data(), out.size());
}

uint16_t id_of(std::span<const uint8_t> q) { return q.size() >= 2 ? static_cast<uint16_t>((q[0] << 8) | q[1]) : 0; }

// A bare response (no records) to a query whose header and question parsed.
Message reply_to(const Message& query, uint8_t rc) {
  Message r;
  r.header.id = query.header.id;
  r.header.qr = true;
  r.header.opcode = query.header.opcode;
  r.header.rd = query.header.rd;
  r.header.ra = true;
  r.header.rcode = rc;
  r.questions = query.questions;
  return r;
}

std::vector<uint8_t> servfail_for(std::span<const uint8_t> query) {
  auto q = decode_question(query);
  if (!q) {
    Message m;
    m.header.id = id_of(query);
    m.header.qr = true;
    m.header.rcode = rcode::kServFail;
    return encode(m);
  }
  return encode(reply_to(*q, rcode::kServFail));
}

}  // namespace

std::optional<Upstream> parse_upstream(const std::string& s) {
  Upstream u;
  auto colon = s.find(':');
  u.ip = s.substr(0, colon);
  if (colon != std::string::npos) {
    long long p = 0;
    if (!strings::parse_int(s.substr(colon + 1), p) || p <= 0 || p > 65535) return std::nullopt;
    u.port = static_cast<uint16_t>(p);
  }
  sockaddr_in a{};
  if (!make_addr(u.ip, u.port, a)) return std::nullopt;
  return u;
}

std::vector<Upstream> parse_resolv_conf(const std::string& text) {
  std::vector<Upstream> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key, value;
    if (!(ls >> key >> value) || key != "nameserver") continue;
    if (value.find(':') != std::string::npos) continue;  // IPv6
    if (auto u = parse_upstream(value)) out.push_back(*u);
  }
  return out;
}

DnsServer::DnsServer(DnsServerConfig config) : config_(std::move(config)), zone_(std::make_shared<Zone>()) {}

DnsServer::~DnsServer() { stop(); }

void DnsServer::set_zone(std::shared_ptr<const Zone> zone) {
  std::lock_guard lk(zone_mu_);
  zone_ = std::move(zone);
}

std::shared_ptr<const Zone> DnsServer::zone() const {
  std::lock_guard lk(zone_mu_);
  return zone_;
}

Status DnsServer::start() {
  if (udp_fd_ >= 0) return {};
  if (config_.upstreams.empty()) {
    auto text = files::read(config_.resolv_conf);
    if (text) config_.upstreams = parse_resolv_conf(*text);
    if (config_.upstreams.empty())
      logger()->warn("no upstream nameservers in {}: names outside the cluster will fail", config_.resolv_conf);
  }
  sockaddr_in addr{};
  if (!make_addr(config_.listen_address, config_.port, addr))
    return fail("dns: bad listen address " + config_.listen_address, "Invalid");
  // With port 0 the kernel picks the UDP port; TCP then takes the same number (retried a few times).
  for (int attempt = 0; attempt < 20; ++attempt) {
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // Learn each query's destination address, so replies leave from it (see send_udp_reply).
    setsockopt(u, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    sockaddr_in ua = addr;
    if (bind(u, reinterpret_cast<sockaddr*>(&ua), sizeof ua) != 0) {
      std::string err = std::strerror(errno);
      close(u);
      close(t);
      return fail("dns: bind udp " + config_.listen_address + ":" + std::to_string(config_.port) + ": " + err);
    }
    socklen_t len = sizeof ua;
    getsockname(u, reinterpret_cast<sockaddr*>(&ua), &len);
    sockaddr_in ta = addr;
    ta.sin_port = ua.sin_port;
    if (bind(t, reinterpret_cast<sockaddr*>(&ta), sizeof ta) != 0 || listen(t, 128) != 0) {
      std::string err = std::strerror(errno);
      close(u);
      close(t);
      if (config_.port == 0) continue;
      return fail("dns: bind tcp " + config_.listen_address + ":" + std::to_string(config_.port) + ": " + err);
    }
    udp_fd_ = u;
    tcp_fd_ = t;
    port_ = ntohs(ua.sin_port);
    break;
  }
  if (udp_fd_ < 0) return fail("dns: no free port for udp and tcp");
  stopping_ = false;
  udp_thread_ = std::thread([this] { udp_loop(); });
  tcp_thread_ = std::thread([this] { tcp_loop(); });
  std::vector<std::string> ups;
  for (const auto& u : config_.upstreams) ups.push_back(u.ip + ":" + std::to_string(u.port));
  logger()->info("dns listening on {}:{} (udp, tcp), upstreams [{}]", config_.listen_address, port_,
                 strings::join(ups, ", "));
  return {};
}

void DnsServer::stop() {
  if (udp_fd_ < 0) return;
  stopping_ = true;
  if (udp_thread_.joinable()) udp_thread_.join();
  if (tcp_thread_.joinable()) tcp_thread_.join();
  {
    std::unique_lock lk(inflight_mu_);
    inflight_cv_.wait(lk, [this] { return inflight_ == 0; });
  }
  close(udp_fd_);
  close(tcp_fd_);
  udp_fd_ = tcp_fd_ = -1;
}

bool DnsServer::acquire_slot() {
  std::lock_guard lk(inflight_mu_);
  if (inflight_ >= config_.max_inflight) return false;
  ++inflight_;
  return true;
}

void DnsServer::release_slot() {
  std::lock_guard lk(inflight_mu_);
  --inflight_;
  inflight_cv_.notify_all();
}

std::optional<std::vector<uint8_t>> DnsServer::answer_locally(std::span<const uint8_t> query,
                                                              size_t max_udp_size) const {
  auto parsed = decode_question(query);
  if (!parsed) {
    if (query.size() < 12) return std::vector<uint8_t>{};  // not even a header: drop (empty = no reply)
    Message m;
    m.header.id = id_of(query);
    m.header.qr = true;
    m.header.rcode = rcode::kFormErr;
    return encode(m);
  }
  const Message& q = *parsed;
  if (q.header.qr) return std::vector<uint8_t>{};  // a response sent to us: ignore
  if (q.header.opcode != 0) return encode(reply_to(q, rcode::kNotImp));
  if (q.questions.size() != 1) return encode(reply_to(q, rcode::kFormErr));
  // The full parse only matters for EDNS; a query with a broken additional section is still answered.
  auto full = decode(query);
  const bool edns = full && std::any_of(full->additional.begin(), full->additional.end(),
                                        [](const Record& r) { return r.rtype == type::kOPT; });
  auto z = zone();
  auto ans = z->lookup(q.questions[0]);
  if (!ans) return std::nullopt;
  Message r = reply_to(q, ans->rcode);
  r.header.aa = ans->authoritative;
  r.answers = std::move(ans->answers);
  r.authority = std::move(ans->authority);
  r.additional = std::move(ans->additional);
  if (edns) {
    Record opt;
    opt.name = "";
    opt.rtype = type::kOPT;
    opt.rclass = config_.edns_udp_size;
    opt.ttl = 0;
    r.additional.push_back(opt);
  }
  if (max_udp_size == 0) return encode(r);
  size_t limit = edns ? std::min<size_t>(udp_payload_size(*full), config_.edns_udp_size) : 512;
  limit = std::max<size_t>(512, std::min(limit, max_udp_size));
  return encode_for_udp(r, limit);
}

std::vector<uint8_t> DnsServer::forward(std::span<const uint8_t> query, bool tcp) const {
  const uint16_t id = id_of(query);
  for (const auto& up : config_.upstreams) {
    sockaddr_in addr{};
    if (!make_addr(up.ip, up.port, addr)) continue;
    if (!tcp) {
      int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      std::vector<uint8_t> buf(65535);
      ssize_t n = -1;
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
          send(fd, query.data(), query.size(), 0) == static_cast<ssize_t>(query.size())) {
        auto deadline = std::chrono::steady_clock::now() + config_.upstream_timeout;
        while (std::chrono::steady_clock::now() < deadline) {
          auto left =
              std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
          pollfd p{fd, POLLIN, 0};
          if (poll(&p, 1, static_cast<int>(std::max<long long>(1, left.count()))) <= 0) continue;
          n = recv(fd, buf.data(), buf.size(), 0);
          if (n >= 12 && id_of(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n))) == id) break;
          n = -1;  // wrong id or error: keep waiting
        }
      }
      close(fd);
      if (n < 12) {
        logger()->debug("upstream {}:{} did not answer over udp", up.ip, up.port);
        continue;
      }
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    bool ok = false;
    std::vector<uint8_t> reply;
    // Non-blocking connect bounded by the timeout.
    timeval tv{};
    tv.tv_sec = static_cast<long>(config_.upstream_timeout.count() / 1000);
    tv.tv_usec = static_cast<long>((config_.upstream_timeout.count() % 1000) * 1000);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        write_framed(fd, std::vector<uint8_t>(query.begin(), query.end()))) {
      uint8_t len[2];
      const int ms = static_cast<int>(config_.upstream_timeout.count());
      if (read_full(fd, len, 2, ms, nullptr)) {
        reply.resize(static_cast<size_t>((len[0] << 8) | len[1]));
        ok = reply.size() >= 12 && read_full(fd, reply.data(), reply.size(), ms, nullptr);
      }
    }
    close(fd);
    if (ok) return reply;
    logger()->debug("upstream {}:{} did not answer over tcp", up.ip, up.port);
  }
  return servfail_for(query);
}

namespace {
// Sends a UDP reply whose source is the address the query was sent to. A socket bound to 0.0.0.0
// otherwise picks the source by route: a pod's query DNATed from 10.43.0.10 to the node's eth0
// address would be answered from the cni0 address, conntrack could not undo the DNAT, and the
// pod's resolver would drop the reply.
void send_udp_reply(int fd, const uint8_t* data, size_t len, const sockaddr_in& to, const in_addr& from_addr) {
  iovec iov{const_cast<uint8_t*>(data), len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_in*>(&to);
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (from_addr.s_addr != htonl(INADDR_ANY)) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_spec_dst = from_addr;
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
  }
  sendmsg(fd, &msg, 0);
}
}  // namespace

void DnsServer::udp_loop() {
  std::vector<uint8_t> buf(65535);
  while (!stopping_) {
    pollfd p{udp_fd_, POLLIN, 0};
    if (poll(&p, 1, kPollMs) <= 0) continue;
    sockaddr_in from{};
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(udp_fd_, &msg, 0);
    if (n <= 0) continue;
    in_addr dst{};
    dst.s_addr = htonl(INADDR_ANY);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        dst = info.ipi_addr;
      }
    }
    std::span<const uint8_t> q(buf.data(), static_cast<size_t>(n));
    auto local = answer_locally(q, 65535);
    if (local) {
      if (!local->empty()) send_udp_reply(udp_fd_, local->data(), local->size(), from, dst);
      continue;
    }
    if (!acquire_slot()) {
      auto sf = servfail_for(q);
      send_udp_reply(udp_fd_, sf.data(), sf.size(), from, dst);
      continue;
    }
    std::thread([this, query = std::vector<uint8_t>(q.begin(), q.end()), from, dst] {
      auto reply = forward(query, false);
      send_udp_reply(udp_fd_, reply.data(), reply.size(), from, dst);
      release_slot();
    }).detach();
  }
}

void DnsServer::tcp_loop() {
  while (!stopping_) {
    pollfd p{tcp_fd_, POLLIN, 0};
    if (poll(&p, 1, kPollMs) <= 0) continue;
    int fd = accept4(tcp_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (!acquire_slot()) {
      close(fd);
      continue;
    }
    std::thread([this, fd] {
      serve_tcp_connection(fd);
      close(fd);
      release_slot();
    }).detach();
  }
}

void DnsServer::serve_tcp_connection(int fd) {
  while (!stopping_) {
    uint8_t len[2];
    if (!read_full(fd, len, 2, kTcpIdleMs, &stopping_)) return;
    std::vector<uint8_t> q(static_cast<size_t>((len[0] << 8) | len[1]));
    if (q.empty() || !read_full(fd, q.data(), q.size(), kTcpIdleMs, &stopping_)) return;
    auto local = answer_locally(q, 0);
    std::vector<uint8_t> reply;
    if (local) {
      if (local->empty()) return;
      reply = std::move(*local);
    } else {
      reply = forward(q, true);
    }
    if (!write_framed(fd, reply)) return;
  }
}

ClusterDns::ClusterDns(client::ApiClient& client, DnsServerConfig server_config, ZoneConfig zone_config)
    : zone_config_(std::move(zone_config)),
      server_(std::move(server_config)),
      services_(std::make_unique<client::Informer>(client, client::res::kServices)),
      slices_(std::make_unique<client::Informer>(client, client::res::kEndpointSlices)),
      endpoints_(std::make_unique<client::Informer>(client, client::res::kEndpoints)) {
  client::InformerHandlers h;
  auto dirty = [this] {
    {
      std::lock_guard lk(mu_);
      dirty_ = true;
    }
    cv_.notify_all();
  };
  h.on_add = [dirty](const json&) { dirty(); };
  h.on_update = [dirty](const json&, const json&) { dirty(); };
  h.on_delete = [dirty](const json&) { dirty(); };
  services_->add_handlers(h);
  slices_->add_handlers(h);
  endpoints_->add_handlers(h);
  server_.set_zone(std::make_shared<Zone>(zone_config_));
}

ClusterDns::~ClusterDns() { stop(); }

Status ClusterDns::start() {
  K3DPP_TRY(server_.start());
  services_->start();
  slices_->start();
  endpoints_->start();
  thread_ = std::jthread([this](std::stop_token st) { run(st); });
  return {};
}

void ClusterDns::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    cv_.notify_all();
    thread_.join();
  }
  for (auto* i : {services_.get(), slices_.get(), endpoints_.get()}) i->request_stop();
  services_->stop();
  slices_->stop();
  endpoints_->stop();
  server_.stop();
}

void ClusterDns::run(std::stop_token stop) {
  auto to_jsons = [](const std::vector<client::ObjectPtr>& objs) {
    std::vector<json> out;
    for (const auto& o : objs)
      if (o) out.push_back(*o);
    return out;
  };
  while (!stop.stop_requested()) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, stop, [this] { return dirty_; });
      if (stop.stop_requested()) break;
    }
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, stop, std::chrono::milliseconds(100), [] { return false; });
      dirty_ = false;
    }
    auto zone = std::make_shared<Zone>(Zone::build(to_jsons(services_->list()), to_jsons(slices_->list()),
                                                   to_jsons(endpoints_->list()), zone_config_));
    logger()->debug("dns zone rebuilt: {} records", zone->record_count());
    server_.set_zone(std::move(zone));
  }
}

}  // namespace k3dpp::dns
