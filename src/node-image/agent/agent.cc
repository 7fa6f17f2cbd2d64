#include "agent/agent.h"

#include <nlohmann/json.hpp>

#include "agent/https_client.h"
#include "agent/node_info.h"
#include "common/log.h"
#include "pki/pki.h"
#include "common/json_read.h"

namespace k3dpp::agent {

using json = nlohmann::json;

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("agent");
  return l;
}

std::string status_message(const HttpResult& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string())
    return j["message"].get<std::string>();
  return r.body.substr(0, 200);
}

Error http_error(const std::string& what, const HttpResult& r) {
  std::string kind = "Internal";
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("reason") && j["reason"].is_string()) kind = j["reason"];
  if (r.status == 404) kind = "NotFound";
  if (r.status == 409 && kind != "AlreadyExists") kind = "Conflict";
  return Error(what + ": " + std::to_string(r.status) + " " + status_message(r), kind);
}

bool is_loopback(const std::string& ip) {
  return ip.rfind("127.", 0) == 0 || ip == "::1" || ip.empty();
}

// One registered session with the API server.
class Session {
 public:
  Session(const Options& o, const Credentials& c) : options_(o), api_(o.server_url) {
    api_.pin_ca(c.ca_pem);
    api_.set_client_cert(c.cert_pem, c.key_pem);
  }

  Status register_node() {
    facts_ = gather_facts();
    facts_.name = options_.node_name;
    facts_.control_plane = options_.control_plane;
    facts_.etcd = options_.etcd;
    facts_.extra_labels = options_.node_labels;
    facts_.taints = options_.node_taints;
    // InternalIP: our address on the connection to the server, unless that is loopback.
    auto probe = api_.request("GET", "/version");
    if (!probe) return unexpected(probe.error());
    facts_.internal_ip = is_loopback(probe->local_ip) ? first_host_ipv4() : probe->local_ip;
    if (facts_.internal_ip.empty()) facts_.internal_ip = probe->local_ip;

    auto r = api_.request("POST", "/api/v1/nodes", node_object(facts_).dump());
    if (!r) return unexpected(r.error());
    if (r->status == 201 || r->status == 200) {
      auto j = json::parse(r->body, nullptr, false);
      if (j.is_object()) uid_ = jvalue(j["metadata"], "uid", "");
      logger()->info("registered node {} ({})", facts_.name, facts_.internal_ip);
      // The API server may drop the status of a create (status is a subresource): set it now.
      return update_status();
    }
    if (r->status != 409) return unexpected(http_error("registering node " + facts_.name, *r));
    // Already there (agent restart): refresh labels we own and the status.
    auto got = api_.request("GET", "/api/v1/nodes/" + facts_.name);
    if (!got) return unexpected(got.error());
    if (got->status != 200) return unexpected(http_error("reading node " + facts_.name, *got));
    auto node = json::parse(got->body, nullptr, false);
    if (!node.is_object()) return fail("reading node " + facts_.name + ": invalid JSON");
    uid_ = jvalue(node["metadata"], "uid", "");
    bool changed = false;
    const json labels = node_labels(facts_);
    if (!node["metadata"].contains("labels") || !node["metadata"]["labels"].is_object())
      node["metadata"]["labels"] = json::object();
    for (auto& [k, v] : labels.items()) {
      if (!node["metadata"]["labels"].contains(k) || node["metadata"]["labels"][k] != v) {
        node["metadata"]["labels"][k] = v;
        changed = true;
      }
    }
    if (changed) {
      auto put = api_.request("PUT", "/api/v1/nodes/" + facts_.name, node.dump());
      if (!put) return unexpected(put.error());
      if (put->status != 200) return unexpected(http_error("updating node " + facts_.name, *put));
    }
    logger()->info("node {} already registered; updating its status", facts_.name);
    return update_status();
  }

  // GET the node, replace its status, PUT /status (falls back to PUT on the node). A conflict (the
  // node controller wrote the node in between, e.g. its podCIDR right after registration) is retried
  // with a fresh read.
  Status update_status() {
    Status st;
    for (int attempt = 0; attempt < 5; ++attempt) {
      st = update_status_once();
      if (st || !st.error().is("Conflict")) return st;
    }
    return st;
  }

  Status update_status_once() {
    auto got = api_.request("GET", "/api/v1/nodes/" + facts_.name);
    if (!got) return unexpected(got.error());
    if (got->status != 200) return unexpected(http_error("reading node " + facts_.name, *got));
    auto node = json::parse(got->body, nullptr, false);
    if (!node.is_object()) return fail("reading node: invalid JSON");
    uid_ = jvalue(node["metadata"], "uid", uid_);
    node["status"] = node_status(facts_, jvalue(node, "status", json(nullptr)));
    auto put = api_.request("PUT", "/api/v1/nodes/" + facts_.name + "/status", node.dump());
    if (!put) return unexpected(put.error());
    if (put->status == 404 || put->status == 405) {
      put = api_.request("PUT", "/api/v1/nodes/" + facts_.name, node.dump());
      if (!put) return unexpected(put.error());
    }
    if (put->status != 200) return unexpected(http_error("updating node status", *put));
    return {};
  }

  Status renew_lease() {
    const std::string base = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
    if (!lease_.is_object()) {
      auto got = api_.request("GET", base + "/" + facts_.name);
      if (!got) return unexpected(got.error());
      if (got->status == 404) {
        auto created = api_.request("POST", base,
                                    lease_object(facts_.name, uid_, options_.lease_duration_seconds).dump());
        if (!created) return unexpected(created.error());
        if (created->status != 201 && created->status != 200)
          return unexpected(http_error("creating lease", *created));
        lease_ = json::parse(created->body, nullptr, false);
        return {};
      }
      if (got->status != 200) return unexpected(http_error("reading lease", *got));
      lease_ = json::parse(got->body, nullptr, false);
      if (!lease_.is_object()) return fail("reading lease: invalid JSON");
    }
    lease_["spec"]["holderIdentity"] = facts_.name;
    lease_["spec"]["leaseDurationSeconds"] = options_.lease_duration_seconds;
    lease_["spec"]["renewTime"] = micro_time_now();
    auto put = api_.request("PUT", base + "/" + facts_.name, lease_.dump());
    if (!put) return unexpected(put.error());
    if (put->status != 200) {
      lease_ = nullptr;  // re-read next time (conflict, deleted)
      return unexpected(http_error("renewing lease", *put));
    }
    lease_ = json::parse(put->body, nullptr, false);
    return {};
  }

  bool node_gone(const Error& e) const { return e.is("NotFound"); }

 private:
  const Options& options_;
  HttpsClient api_;
  NodeFacts facts_;
  std::string uid_;
  json lease_;
};

}  // namespace

Result<Credentials> bootstrap(const std::string& server_url, const std::string& token,
                              const std::string& node_name) {
  Credentials creds;
  {
    HttpsClient insecure(server_url);
    insecure.set_timeout_ms(10000);
    auto r = insecure.request("GET", "/cacerts");
    if (!r) return unexpected(r.error());
    if (r->status != 200)
      return fail("GET /cacerts: " + std::to_string(r->status), r->status == 404 ? "NotFound" : "Unavailable");
    auto hmac = r->headers.find("x-k3dpp-ca-hmac");
    if (hmac == r->headers.end()) return fail("GET /cacerts: no X-K3dpp-CA-HMAC header", "Invalid");
    if (!pki::constant_time_equal(hmac->second, pki::hmac_sha256_hex(token, r->body)))
      return fail("the server's CA is not signed with our node token", "TokenMismatch");
    creds.ca_pem = r->body;
  }
  HttpsClient pinned(server_url);
  pinned.pin_ca(creds.ca_pem);
  pinned.set_bearer(token);
  auto r = pinned.request("POST", "/k3dpp/v1/node-credentials", json({{"nodeName", node_name}}).dump());
  if (!r) return unexpected(r.error());
  if (r->status == 401) return fail("the server refused the node token", "Unauthorized");
  if (r->status != 200) return fail("node-credentials: " + std::to_string(r->status) + " " + status_message(*r), "Invalid");
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("cert") || !j.contains("key") || !j["cert"].is_string() ||
      !j["key"].is_string())
    return fail("node-credentials: malformed answer", "Invalid");
  creds.cert_pem = j["cert"];
  creds.key_pem = j["key"];
  if (!pki::verify(creds.ca_pem, creds.cert_pem))
    return fail("node-credentials: the certificate is not signed by the pinned CA", "Invalid");
  return creds;
}

Agent::Agent(Options options) : options_(std::move(options)) {}

Agent::~Agent() { stop(); }

void Agent::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void Agent::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Agent::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void Agent::run() {
  auto lg = logger();
  std::chrono::milliseconds backoff{1000};
  auto grow = [&] { backoff = std::min(backoff * 2, options_.max_backoff); };
  for (;;) {
    // 1. Credentials.
    auto creds = bootstrap(options_.server_url, options_.token, options_.node_name);
    if (!creds) {
      const auto& e = creds.error();
      if (e.is("Unauthorized")) {
        lg->error("agent: the server refused the node token (401); check --token-file");
      } else if (e.is("TokenMismatch")) {
        lg->error("agent: the server refused the node token (its /cacerts HMAC does not match our token, "
                  "so the token was not sent); check --token-file");
      } else {
        lg->warn("agent: cannot join {}: {}", options_.server_url, e.message);
      }
      if (!sleep_for(backoff)) return;
      grow();
      continue;
    }
    lg->info("obtained node credentials for {} from {}", options_.node_name, options_.server_url);

    // 2. Register, then heartbeat until something fails (then start over).
    Session session(options_, *creds);
    auto st = session.register_node();
    if (!st) {
      lg->warn("agent: cannot register node {}: {}", options_.node_name, st.error().message);
      if (!sleep_for(backoff)) return;
      grow();
      continue;
    }
    backoff = std::chrono::milliseconds(1000);
    auto last_status = std::chrono::steady_clock::now();
    int failures = 0;
    for (;;) {
      auto lease = session.renew_lease();
      if (lease) {
        if (!registered_) lg->info("node {} is Ready; renewing its lease every {}ms", options_.node_name,
                                   options_.lease_renew_interval.count());
        registered_ = true;
        failures = 0;
      } else {
        lg->warn("agent: {}", lease.error().message);
        ++failures;
      }
      if (std::chrono::steady_clock::now() - last_status >= options_.status_interval) {
        auto s = session.update_status();
        if (!s) {
          lg->warn("agent: {}", s.error().message);
          if (session.node_gone(s.error())) failures = 100;  // deleted: register again
          ++failures;
        } else {
          last_status = std::chrono::steady_clock::now();
        }
      }
      if (failures >= 6) break;  // a minute of failures: bootstrap and register again
      if (!sleep_for(options_.lease_renew_interval)) return;
    }
    registered_ = false;
    lg->warn("agent: lost the server; joining again");
  }
}

}  // namespace k3dpp::agent
