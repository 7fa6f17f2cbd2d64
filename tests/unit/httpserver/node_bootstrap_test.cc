// Node bootstrap end to end on 127.0.0.1: the server's bootstrap endpoints, agent::bootstrap and
// the Agent's registration and lease renewal against a small in-memory fake of the Kubernetes API.
#include <doctest/doctest.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/agent.h"
#include "agent/https_client.h"
#include "agent/node_info.h"
#include "cmd/bootstrap_endpoints.h"
#include "common/log.h"
#include "httpserver/server.h"
#include "pki/pki.h"

using namespace k3dpp;
using json = nlohmann::json;

namespace {

// Just enough of the API for the agent: nodes (+status) and leases, with resourceVersions.
class FakeApi {
 public:
  void handle(const http::Request& req, http::Responder& r) {
    std::lock_guard<std::mutex> lock(mu_);
    users.push_back(req.user.name);
    const std::string nodes = "/api/v1/nodes";
    const std::string leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
    if (req.path == "/version") return send(r, 200, {{"major", "1"}, {"minor", "32"}});
    if (req.path == nodes && req.method == "POST") {
      auto j = json::parse(req.body);
      std::string name = j["metadata"]["name"];
      if (node.contains(name)) return r.send(http::status_response(409, "AlreadyExists", "exists"));
      j["metadata"]["uid"] = "uid-" + name;
      j["metadata"]["resourceVersion"] = std::to_string(++rv_);
      node[name] = j;
      return send(r, 201, j);
    }
    if (req.path.rfind(nodes + "/", 0) == 0) {
      std::string rest = req.path.substr(nodes.size() + 1);
      bool status = rest.size() > 7 && rest.substr(rest.size() - 7) == "/status";
      std::string name = status ? rest.substr(0, rest.size() - 7) : rest;
      if (!node.contains(name)) return r.send(http::status_response(404, "NotFound", "not found"));
      if (req.method == "GET") return send(r, 200, node[name]);
      if (req.method == "PUT") {
        auto j = json::parse(req.body);
        if (j["metadata"]["resourceVersion"] != node[name]["metadata"]["resourceVersion"])
          return r.send(http::status_response(409, "Conflict", "conflict"));
        if (status) {
          node[name]["status"] = j["status"];
          ++status_updates;
        } else {
          node[name]["metadata"] = j["metadata"];
        }
        node[name]["metadata"]["resourceVersion"] = std::to_string(++rv_);
        return send(r, 200, node[name]);
      }
    }
    if (req.path == leases && req.method == "POST") {
      auto j = json::parse(req.body);
      j["metadata"]["resourceVersion"] = std::to_string(++rv_);
      lease[j["metadata"]["name"].get<std::string>()] = j;
      ++lease_writes;
      return send(r, 201, j);
    }
    if (req.path.rfind(leases + "/", 0) == 0) {
      std::string name = req.path.substr(leases.size() + 1);
      if (!lease.contains(name)) return r.send(http::status_response(404, "NotFound", "not found"));
      if (req.method == "GET") return send(r, 200, lease[name]);
      if (req.method == "PUT") {
        auto j = json::parse(req.body);
        if (j["metadata"]["resourceVersion"] != lease[name]["metadata"]["resourceVersion"])
          return r.send(http::status_response(409, "Conflict", "conflict"));
        j["metadata"]["resourceVersion"] = std::to_string(++rv_);
        lease[name] = j;
        ++lease_writes;
        return send(r, 200, j);
      }
    }
    r.send(http::status_response(404, "NotFound", "not found"));
  }

  json snapshot_node(const std::string& n) {
    std::lock_guard<std::mutex> lock(mu_);
    return node.contains(n) ? node[n] : json();
  }
  json snapshot_lease(const std::string& n) {
    std::lock_guard<std::mutex> lock(mu_);
    return lease.contains(n) ? lease[n] : json();
  }
  int writes() {
    std::lock_guard<std::mutex> lock(mu_);
    return lease_writes;
  }

  json node = json::object(), lease = json::object();
  std::vector<std::string> users;
  int lease_writes = 0, status_updates = 0;

 private:
  static void send(http::Responder& r, int code, const json& j) {
    r.send(http::Response{code, {{"Content-Type", "application/json"}}, j.dump()});
  }
  std::mutex mu_;
  int rv_ = 0;
};

struct Cluster {
  pki::CertKey ca, serving;
  std::string token = "0123456789abcdef0123456789abcdef";
  FakeApi api;
  std::unique_ptr<nodecmd::BootstrapEndpoints> boot;
  std::unique_ptr<httpserver::Server> server;
  std::string url;

  Cluster() {
    ca = *pki::generate_ca("ca");
    serving = *pki::issue_serving(ca, "srv", {"127.0.0.1"});
    boot = std::make_unique<nodecmd::BootstrapEndpoints>(ca, token);
    httpserver::Options o;
    o.cert_pem = serving.cert_pem;
    o.key_pem = serving.key_pem;
    o.client_ca_pem = ca.cert_pem;
    o.anonymous_paths = {nodecmd::kCacertsPath, nodecmd::kNodeCredentialsPath};
    auto s = httpserver::Server::start(o, [this](const http::Request& req, http::Responder& r) {
      if (nodecmd::BootstrapEndpoints::handles(req.path)) return boot->handle(req, r);
      api.handle(req, r);
    });
    REQUIRE(s);
    server = std::move(*s);
    url = "https://127.0.0.1:" + std::to_string(server->port());
  }
};

}  // namespace

TEST_CASE("node names") {
  CHECK(nodecmd::valid_node_name("k3dpp-dev-agent-0"));
  CHECK(nodecmd::valid_node_name("a.b-c"));
  CHECK_FALSE(nodecmd::valid_node_name(""));
  CHECK_FALSE(nodecmd::valid_node_name("Upper"));
  CHECK_FALSE(nodecmd::valid_node_name("-a"));
  CHECK_FALSE(nodecmd::valid_node_name("a..b"));
  CHECK_FALSE(nodecmd::valid_node_name("a,O=system:masters"));
}

TEST_CASE("bootstrap: the right token gets a node certificate pinned to the CA") {
  Cluster c;
  auto creds = agent::bootstrap(c.url, c.token, "n1");
  REQUIRE_MESSAGE(creds, creds.error().message);
  CHECK(creds->ca_pem == c.ca.cert_pem);
  CHECK(pki::verify(c.ca.cert_pem, creds->cert_pem));
  CHECK(*pki::common_name(creds->cert_pem) == "system:node:n1");
  CHECK(*pki::organizations(creds->cert_pem) == std::vector<std::string>{"system:nodes"});
  CHECK(pki::key_matches(creds->cert_pem, creds->key_pem));
}

TEST_CASE("bootstrap: a wrong token never leaves the agent; a wrong bearer gets 401") {
  Cluster c;
  auto bad = agent::bootstrap(c.url, "not-the-token", "n1");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().is("TokenMismatch"));

  // Someone who skips the HMAC check and sends a wrong bearer: 401 Status, token not logged.
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(50);
  log::get("bootstrap")->sinks().push_back(sink);
  agent::HttpsClient client(c.url);
  client.pin_ca(c.ca.cert_pem);
  client.set_bearer("guessed-token-XYZ");
  auto r = client.request("POST", nodecmd::kNodeCredentialsPath, R"({"nodeName":"n1"})");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->body.find("\"reason\":\"Unauthorized\"") != std::string::npos);
  auto lines = sink->last_formatted();
  log::get("bootstrap")->sinks().pop_back();
  REQUIRE_FALSE(lines.empty());
  bool mentioned = false;
  for (auto& l : lines) {
    CHECK(l.find("guessed-token-XYZ") == std::string::npos);
    if (l.find("refused a wrong token") != std::string::npos) mentioned = true;
  }
  CHECK(mentioned);

  // Right token, invalid node name.
  client.set_bearer(c.token);
  auto bad_name = client.request("POST", nodecmd::kNodeCredentialsPath, R"({"nodeName":"Bad Name"})");
  REQUIRE(bad_name);
  CHECK(bad_name->status == 400);

  // /cacerts' HMAC is what the contract says.
  agent::HttpsClient anon(c.url);
  auto ca = anon.request("GET", nodecmd::kCacertsPath);
  REQUIRE(ca);
  CHECK(ca->status == 200);
  CHECK(ca->body == c.ca.cert_pem);
  CHECK(ca->headers["x-k3dpp-ca-hmac"] == pki::hmac_sha256_hex(c.token, c.ca.cert_pem));
  // Other paths stay closed without a client certificate.
  auto other = anon.request("GET", "/api/v1/nodes");
  REQUIRE(other);
  CHECK(other->status == 401);
}

TEST_CASE("agent registers its Node Ready and renews its Lease") {
  Cluster c;
  agent::Options o;
  o.node_name = "k3dpp-dev-server-0";
  o.server_url = c.url;
  o.token = c.token;
  o.control_plane = true;
  o.lease_renew_interval = std::chrono::milliseconds(200);
  o.status_interval = std::chrono::milliseconds(300);
  agent::Agent a(o);
  a.start();
  for (int i = 0; i < 100 && c.api.writes() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(a.registered());
  a.stop();

  auto node = c.api.snapshot_node("k3dpp-dev-server-0");
  REQUIRE(node.is_object());
  auto& labels = node["metadata"]["labels"];
  CHECK(labels["kubernetes.io/hostname"] == "k3dpp-dev-server-0");
  CHECK(labels["kubernetes.io/os"] == "linux");
  CHECK(labels["node-role.kubernetes.io/control-plane"] == "true");
  CHECK(labels["node-role.kubernetes.io/master"] == "true");
  auto& st = node["status"];
  CHECK(st["nodeInfo"]["kubeletVersion"] == "v1.32.4-k3dpp");
  CHECK(st["nodeInfo"]["operatingSystem"] == "linux");
  CHECK_FALSE(st["nodeInfo"]["kernelVersion"].get<std::string>().empty());
  CHECK(std::stoll(st["capacity"]["cpu"].get<std::string>()) >= 1);
  CHECK(st["capacity"]["pods"] == "110");
  CHECK(st["allocatable"]["memory"].get<std::string>().back() == 'i');
  bool ready = false;
  for (auto& cond : st["conditions"])
    if (cond["type"] == "Ready")
      ready = cond["status"] == "True" && cond["reason"] == "KubeletReady" &&
              cond["message"] == "kubelet is posting ready status";
  CHECK(ready);
  bool internal = false, host = false;
  for (auto& addr : st["addresses"]) {
    if (addr["type"] == "InternalIP") internal = !addr["address"].get<std::string>().empty();
    if (addr["type"] == "Hostname") host = addr["address"] == "k3dpp-dev-server-0";
  }
  CHECK(internal);
  CHECK(host);

  auto lease = c.api.snapshot_lease("k3dpp-dev-server-0");
  REQUIRE(lease.is_object());
  CHECK(lease["spec"]["holderIdentity"] == "k3dpp-dev-server-0");
  CHECK(lease["spec"]["leaseDurationSeconds"] == 40);
  CHECK(lease["spec"]["renewTime"].get<std::string>().size() == std::string("2026-01-01T00:00:00.000000Z").size());
  CHECK(lease["metadata"]["ownerReferences"][0]["uid"] == "uid-k3dpp-dev-server-0");
  CHECK(c.api.writes() >= 3);
  // Every API call came with the node's identity.
  for (auto& u : c.api.users) CHECK(u == "system:node:k3dpp-dev-server-0");

  // A restart finds the node registered and carries on.
  agent::Agent again(o);
  again.start();
  int before = c.api.writes();
  for (int i = 0; i < 100 && c.api.writes() < before + 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(again.registered());
  again.stop();
}

TEST_CASE("agent with a wrong token: a refusal line per retry, never registered") {
  Cluster c;
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(50);
  log::get("agent")->sinks().push_back(sink);
  agent::Options o;
  o.node_name = "intruder";
  o.server_url = c.url;
  o.token = "wrong";
  o.max_backoff = std::chrono::milliseconds(200);
  agent::Agent a(o);
  a.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK_FALSE(a.registered());
  a.stop();
  auto lines = sink->last_formatted();
  log::get("agent")->sinks().pop_back();
  int refusals = 0;
  for (auto& l : lines)
    if (l.find("check --token-file") != std::string::npos) ++refusals;
  CHECK(refusals >= 2);
  CHECK(c.api.snapshot_node("intruder").is_null());
}
