#include "cmd/ha_bootstrap.h"

#include <cerrno>
#include <csignal>

#include <algorithm>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/https_client.h"
#include "common/files.h"
#include "common/log.h"
#include "pki/server_pki.h"
#include "common/json_read.h"

namespace k3dpp::nodecmd {

namespace {
using json = nlohmann::json;

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("ha");
  return l;
}

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
}

Result<json> post_with_token(const std::string& base, const std::string& ca_pem, const std::string& token,
                             const std::string& path, const json& body) {
  agent::HttpsClient c(base);
  c.pin_ca(ca_pem);
  c.set_bearer(token);
  c.set_timeout_ms(60000);
  auto r = c.request("POST", path, body.dump());
  if (!r) return unexpected(r.error());
  if (r->status == 401) return fail(path + ": the server refused the token", "Unauthorized");
  if (r->status == 409) return fail(path + ": " + r->body, "Conflict");
  if (r->status != 200) return fail(path + ": HTTP " + std::to_string(r->status) + " " + r->body, "Unavailable");
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) return fail(path + ": malformed answer", "Invalid");
  return j;
}

Result<std::string> cluster_ca_pem(const std::string& base, const std::string& token) {
  agent::HttpsClient insecure(base);
  insecure.set_timeout_ms(10000);
  auto r = insecure.request("GET", "/cacerts");
  if (!r) return unexpected(r.error());
  if (r->status != 200) return fail("GET /cacerts: HTTP " + std::to_string(r->status), "Unavailable");
  auto hmac = r->headers.find("x-k3dpp-ca-hmac");
  if (hmac == r->headers.end() || !pki::constant_time_equal(hmac->second, pki::hmac_sha256_hex(token, r->body)))
    return fail("the server's CA is not signed with our token", "TokenMismatch");
  return r->body;
}

// Sleeps d, or until a termination signal arrives (SIGTERM/SIGINT/SIGHUP are blocked in every
// thread and taken with sigwait; see block_termination_signals): true when one did (`docker stop`
// of a server still joining must not wait out the retries and then the engine's kill).
bool termination_during(std::chrono::milliseconds d) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  auto until = std::chrono::steady_clock::now() + d;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    timespec ts{static_cast<time_t>(left.count() / 1000000000), static_cast<long>(left.count() % 1000000000)};
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0) {
      logger()->info("signal {} while joining: stopping", sig);
      return true;
    }
    if (errno == EAGAIN) return false;  // timed out; EINTR (another signal): wait the rest
  }
}

// Retries fn with backoff for up to `total` while it fails with a retryable error; a termination
// signal ends the retries at once ("Cancelled").
template <typename F>
auto with_retries(const std::string& what, std::chrono::seconds total, F fn) -> decltype(fn()) {
  auto deadline = std::chrono::steady_clock::now() + total;
  std::chrono::milliseconds backoff{500};
  for (;;) {
    auto r = fn();
    if (r || r.error().is("Unauthorized") || r.error().is("TokenMismatch") ||
        std::chrono::steady_clock::now() > deadline)
      return r;
    logger()->warn("{}: {}; retrying in {} ms", what, r.error().message, backoff.count());
    if (termination_during(backoff)) return fail(what + ": stopped by a termination signal", "Cancelled");
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace

Status remove_etcd_member(const std::string& data_dir, int client_port, const std::string& name) {
  const std::string tls = data_dir + "/server/tls";
  store::EtcdOptions eo;
  eo.endpoints = {"127.0.0.1:" + std::to_string(client_port)};
  auto ca = files::read(tls + "/ca.crt");
  auto cert = files::read(tls + "/etcd.crt");
  auto key = files::read(tls + "/etcd.key");
  if (!ca || !cert || !key) return fail("no etcd client certificate in " + tls + " (not an HA server?)", "NotFound");
  eo.ca_pem = *ca;
  eo.cert_pem = *cert;
  eo.key_pem = *key;
  auto members = store::etcd_member_list(eo);
  if (!members) return unexpected(members.error().wrap("etcd member list"));
  for (const auto& m : *members) {
    if (m.name != name) continue;
    K3DPP_TRY(store::etcd_member_remove(eo, m.id));
    logger()->info("removed etcd member {} ({:x})", name, m.id);
    return {};
  }
  return fail("no etcd member named " + name, "NotFound");
}

Status fetch_cluster_ca(const HaOptions& o) {
  const std::string dir = o.data_dir + "/server/tls";
  if (files::exists(dir + "/ca.crt") && files::exists(dir + "/ca.key")) return {};
  auto got = with_retries("fetching the cluster CA from " + o.join_url, std::chrono::seconds(180),
                          [&]() -> Result<json> {
                            auto ca = cluster_ca_pem(o.join_url, o.token);
                            if (!ca) return unexpected(ca.error());
                            return post_with_token(o.join_url, *ca, o.server_token, kServerBootstrapPath, json::object());
                          });
  if (!got) return unexpected(got.error().wrap("joining " + o.join_url));
  if (!got->contains("caCert") || !got->contains("caKey")) return fail("server-bootstrap: no CA in the answer", "Invalid");
  std::string cert = (*got)["caCert"], key = (*got)["caKey"];
  if (!pki::key_matches(cert, key)) return fail("server-bootstrap: the CA key does not match its certificate", "Invalid");
  K3DPP_TRY(pki::make_dirs(dir, 0700));
  K3DPP_TRY(files::write_atomic(dir + "/ca.key", key, 0600));
  K3DPP_TRY(files::write_atomic(dir + "/ca.crt", cert, 0644));
  logger()->info("fetched the cluster CA from {}", o.join_url);
  return {};
}

Result<EtcdMemberNode> start_etcd_member(const HaOptions& o, const pki::CertKey& ca) {
  const std::string tls = o.data_dir + "/server/tls";
  pki::CertOptions co;
  co.common_name = "etcd-" + o.node_name;
  co.sans = o.sans;
  for (const std::string& s : {o.advertise_host, o.node_name, std::string("127.0.0.1"), std::string("localhost"),
                               std::string("etcd")})
    if (!s.empty() && std::find(co.sans.begin(), co.sans.end(), s) == co.sans.end()) co.sans.push_back(s);
  co.server_auth = true;
  co.client_auth = true;
  co.days = 3650;
  auto cert = pki::issue(ca, co);
  if (!cert) return unexpected(cert.error().wrap("etcd certificate"));
  K3DPP_TRY(files::write_atomic(tls + "/etcd.key", cert->key_pem, 0600));
  K3DPP_TRY(files::write_atomic(tls + "/etcd.crt", cert->cert_pem, 0644));

  EtcdMemberNode out;
  out.client.endpoints = {"127.0.0.1:" + std::to_string(o.etcd_client_port)};
  out.client.ca_pem = ca.cert_pem;
  out.client.cert_pem = cert->cert_pem;
  out.client.key_pem = cert->key_pem;

  store::EtcdProcessOptions po;
  po.binary = o.etcd_binary;
  po.name = o.node_name;
  po.data_dir = o.data_dir + "/server/db/etcd";
  const std::string host = url_host(o.advertise_host);
  po.client_url = "https://" + host + ":" + std::to_string(o.etcd_client_port);
  po.peer_url = "https://" + host + ":" + std::to_string(o.etcd_peer_port);
  const std::string lhost = url_host(o.listen_host);
  po.listen_client_url = "https://" + lhost + ":" + std::to_string(o.etcd_client_port);
  if (o.listen_host != "127.0.0.1" && o.listen_host != "0.0.0.0")
    po.listen_client_url += ",https://127.0.0.1:" + std::to_string(o.etcd_client_port);
  po.listen_peer_url = "https://" + lhost + ":" + std::to_string(o.etcd_peer_port);
  po.ca_file = tls + "/ca.crt";
  po.cert_file = tls + "/etcd.crt";
  po.key_file = tls + "/etcd.key";
  po.log_file = o.data_dir + "/server/etcd.log";

  const bool have_data = std::filesystem::exists(po.data_dir + "/member");
  std::string member_id;  // set when joining: promoted from learner once started
  if (have_data) {
    logger()->info("etcd: restarting member {} from {}", o.node_name, po.data_dir);
  } else if (o.cluster_init || o.join_url.empty()) {
    po.initial_cluster_state = "new";
    logger()->info("etcd: initializing a new cluster (member {}, peers {})", o.node_name, po.peer_url);
  } else {
    auto ca_pem = ca.cert_pem;
    auto added = with_retries("adding etcd member " + o.node_name + " through " + o.join_url,
                              std::chrono::seconds(180), [&]() -> Result<json> {
                                return post_with_token(o.join_url, ca_pem, o.server_token, kEtcdMembersPath,
                                                       json{{"name", o.node_name}, {"peerURL", po.peer_url}});
                              });
    if (!added) return unexpected(added.error().wrap("joining the etcd cluster"));
    po.initial_cluster = jvalue(*added, "initialCluster", "");
    po.initial_cluster_state = "existing";
    member_id = jvalue(*added, "memberID", "");
    logger()->info("etcd: joining the existing cluster {} as a learner", po.initial_cluster);
  }
  out.process = std::make_unique<store::EtcdProcess>(po);
  K3DPP_TRY(out.process->start());
  if (!member_id.empty()) {
    // A learner answers no linearizable request: have it promoted once it caught up.
    auto promoted = with_retries("promoting etcd member " + o.node_name, std::chrono::seconds(180),
                                 [&]() -> Result<json> {
                                   return post_with_token(o.join_url, ca.cert_pem, o.server_token, kEtcdPromotePath,
                                                          json{{"memberID", member_id}});
                                 });
    if (!promoted) return unexpected(promoted.error().wrap("joining the etcd cluster"));
    logger()->info("etcd: member {} promoted to a voting member", o.node_name);
  }
  K3DPP_TRY(out.process->wait_ready(out.client, std::chrono::minutes(3)));
  auto s = store::open_etcd(out.client);
  if (!s) return unexpected(s.error().wrap("etcd store"));
  out.store = std::shared_ptr<store::Store>(std::move(*s));
  logger()->info("etcd member {} ready (clients {}, peers {})", o.node_name, po.client_url, po.peer_url);
  return out;
}

HaEndpoints::HaEndpoints(pki::CertKey ca, std::string token, store::EtcdOptions etcd)
    : ca_(std::move(ca)), token_(std::move(token)), etcd_(std::move(etcd)) {}

bool HaEndpoints::handles(const std::string& path) {
  return path == kServerBootstrapPath || path == kEtcdMembersPath || path == kEtcdPromotePath;
}

bool HaEndpoints::authorized(const http::Request& req) const {
  std::string presented;
  if (auto auth = req.header("authorization"); auth && auth->rfind("Bearer ", 0) == 0) presented = auth->substr(7);
  return !token_.empty() && pki::constant_time_equal(presented, token_);
}

void HaEndpoints::handle(const http::Request& req, http::Responder& r) const {
  if (req.method != "POST") {
    r.send(http::status_response(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
    return;
  }
  if (!authorized(req)) {
    logger()->warn("{}: refused a request from {} (wrong or missing token)", req.path, req.remote);
    r.send(http::status_response(401, "Unauthorized", "Unauthorized"));
    return;
  }
  http::Response res;
  res.headers = {{"Content-Type", "application/json"}};
  if (req.path == kServerBootstrapPath) {
    logger()->info("gave the cluster CA to a joining server at {}", req.remote);
    res.body = json{{"caCert", ca_.cert_pem}, {"caKey", ca_.key_pem}}.dump();
    r.send(std::move(res));
    return;
  }
  auto body = json::parse(req.body, nullptr, false);
  if (req.path == kEtcdPromotePath) {
    std::string id = body.is_object() ? jvalue(body, "memberID", "") : "";
    uint64_t member = id.empty() ? 0 : std::strtoull(id.c_str(), nullptr, 10);
    if (member == 0) {
      r.send(http::status_response(400, "BadRequest", "memberID is required"));
      return;
    }
    auto st = store::etcd_member_promote(etcd_, member);
    if (!st) {
      bool later = st.error().is("FailedPrecondition");
      r.send(http::status_response(later ? 409 : 503, later ? "Conflict" : "ServiceUnavailable", st.error().message));
      return;
    }
    logger()->info("etcd-members: promoted {:x} to a voting member", member);
    res.body = json{{"memberID", id}}.dump();
    r.send(std::move(res));
    return;
  }
  std::string name = body.is_object() ? jvalue(body, "name", "") : "";
  std::string peer = body.is_object() ? jvalue(body, "peerURL", "") : "";
  if (name.empty() || peer.rfind("https://", 0) != 0) {
    r.send(http::status_response(400, "BadRequest", "name and an https peerURL are required"));
    return;
  }
  auto members = store::etcd_member_list(etcd_);
  if (!members) {
    r.send(http::status_response(503, "ServiceUnavailable", members.error().message));
    return;
  }
  for (const auto& m : *members) {
    bool same_peer = std::find(m.peer_urls.begin(), m.peer_urls.end(), peer) != m.peer_urls.end();
    if (m.name == name || same_peer) {
      logger()->info("etcd-members: removing the old member {} ({:x}) before adding {} again", m.name, m.id, name);
      if (auto st = store::etcd_member_remove(etcd_, m.id); !st) {
        r.send(http::status_response(503, "ServiceUnavailable", st.error().message));
        return;
      }
    }
  }
  auto added = store::etcd_member_add(etcd_, {peer}, /*learner=*/true);
  if (!added) {
    r.send(http::status_response(503, "ServiceUnavailable", added.error().message));
    return;
  }
  std::string initial;
  for (const auto& m : added->second) {
    std::string n = m.id == added->first.id ? name : m.name;
    if (m.peer_urls.empty()) continue;
    if (n.empty()) n = fmt::format("unstarted-{:x}", m.id);  // added by another join, not started yet
    initial += (initial.empty() ? "" : ",") + n + "=" + m.peer_urls.front();
  }
  logger()->info("etcd-members: added {} ({}) for {}; initial cluster {}", name, peer, req.remote, initial);
  res.body = json{{"initialCluster", initial}, {"memberID", std::to_string(added->first.id)}}.dump();
  r.send(std::move(res));
}

}  // namespace k3dpp::nodecmd
