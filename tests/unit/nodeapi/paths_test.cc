#include <doctest/doctest.h>

#include "nodeapi/node_server.h"
#include "nodeapi/paths.h"

using namespace k3dpp::nodeapi;
using json = nlohmann::json;

namespace {
json pod(const std::string& node, const std::string& phase = "Running") {
  json p = {{"metadata", {{"name", "web"}, {"namespace", "default"}}},
            {"spec", {{"containers", json::array({{{"name", "nginx"}}})},
                      {"initContainers", json::array({{{"name", "init"}}})}}},
            {"status", {{"phase", phase}}}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  return p;
}
}  // namespace

TEST_CASE("raw_query and drop_query_param keep encoding and order") {
  CHECK(raw_query("/a/b?x=1&y=2") == "x=1&y=2");
  CHECK(raw_query("/a/b") == "");
  CHECK(drop_query_param("command=ls&container=nginx&command=-l&command=%2F&stdout=true", "container") ==
        "command=ls&command=-l&command=%2F&stdout=true");
  CHECK(drop_query_param("container=a", "container") == "");
  CHECK(drop_query_param("", "container") == "");
  CHECK(drop_query_param("cont%61iner=x&a=b", "container") == "a=b");
  CHECK(drop_query_param("follow=true&&tailLines=10", "container") == "follow=true&tailLines=10");
}

TEST_CASE("plan_node_request rewrites the API path to the node path") {
  auto exec = plan_node_request(StreamKind::kExec, pod("n1"), "nginx",
                                "command=ls&command=%2F&container=nginx&stderr=true&stdout=true");
  REQUIRE(exec);
  CHECK(exec->node_name == "n1");
  CHECK(exec->target == "/exec/default/web/nginx?command=ls&command=%2F&stderr=true&stdout=true");

  auto logs = plan_node_request(StreamKind::kLog, pod("n1"), "", "follow=true");
  REQUIRE(logs);
  CHECK(logs->container == "nginx");
  CHECK(logs->target == "/containerLogs/default/web/nginx?follow=true");

  auto init_logs = plan_node_request(StreamKind::kLog, pod("n1"), "init", "container=init");
  REQUIRE(init_logs);
  CHECK(init_logs->target == "/containerLogs/default/web/init");

  auto attach = plan_node_request(StreamKind::kAttach, pod("n1"), "nginx", "stdin=true&container=nginx");
  REQUIRE(attach);
  CHECK(attach->target == "/attach/default/web/nginx?stdin=true");

  auto pf = plan_node_request(StreamKind::kPortForward, pod("n1", "Pending"), "", "");
  REQUIRE(pf);
  CHECK(pf->target == "/portForward/default/web");
}

TEST_CASE("plan_node_request errors use Kubernetes' wording") {
  auto nohost = plan_node_request(StreamKind::kExec, pod(""), "nginx", "");
  REQUIRE(!nohost);
  CHECK(nohost.error().kind == "BadRequest");
  CHECK(nohost.error().message == "pod web does not have a host assigned");

  auto bad = plan_node_request(StreamKind::kLog, pod("n1"), "nope", "container=nope");
  REQUIRE(!bad);
  CHECK(bad.error().message == "container nope is not valid for pod web");

  auto done = plan_node_request(StreamKind::kExec, pod("n1", "Succeeded"), "nginx", "");
  REQUIRE(!done);
  CHECK(done.error().message == "cannot exec into a container in a completed pod; current phase is Succeeded");
  auto done_attach = plan_node_request(StreamKind::kAttach, pod("n1", "Failed"), "nginx", "");
  REQUIRE(!done_attach);
  CHECK(done_attach.error().message == "cannot attach to a container in a completed pod; current phase is Failed");
  // Logs of a completed pod are fine.
  CHECK(plan_node_request(StreamKind::kLog, pod("n1", "Succeeded"), "nginx", ""));

  json two = pod("n1");
  two["spec"]["containers"].push_back({{"name", "side"}});
  auto ambiguous = plan_node_request(StreamKind::kLog, two, "", "");
  REQUIRE(!ambiguous);
  CHECK(ambiguous.error().message == "a container name must be specified for pod web, choose one of: [nginx side]");
}

TEST_CASE("error_response maps kinds to Status codes") {
  auto r = error_response(k3dpp::Error("container x is not valid for pod y", "BadRequest"));
  CHECK(r.status == 400);
  auto body = json::parse(r.body);
  CHECK(body["kind"] == "Status");
  CHECK(body["reason"] == "BadRequest");
  CHECK(body["message"] == "container x is not valid for pod y");
  CHECK(body["code"] == 400);
  CHECK(error_response(k3dpp::Error("pods \"x\" not found", "NotFound")).status == 404);
  CHECK(error_response(k3dpp::Error("boom")).status == 500);
}

TEST_CASE("node_internal_ip prefers InternalIP") {
  json n = {{"metadata", {{"name", "n1"}}},
            {"status", {{"addresses", json::array({{{"type", "Hostname"}, {"address", "n1"}},
                                                   {{"type", "ExternalIP"}, {"address", "1.2.3.4"}},
                                                   {{"type", "InternalIP"}, {"address", "172.18.0.3"}}})}}}};
  CHECK(*node_internal_ip(n) == "172.18.0.3");
  n["status"]["addresses"].erase(2);
  CHECK(*node_internal_ip(n) == "1.2.3.4");
  json none = {{"metadata", {{"name", "n1"}}}};
  auto r = node_internal_ip(none);
  REQUIRE(!r);
  CHECK(r.error().message == "node n1 has no InternalIP address");
}

TEST_CASE("parse_node_path") {
  auto l = parse_node_path("/containerLogs/ns/p/c");
  REQUIRE(l);
  CHECK(l->kind == StreamKind::kLog);
  CHECK(l->ns == "ns");
  CHECK(l->pod == "p");
  CHECK(l->container == "c");
  auto e = parse_node_path("/exec/ns/p/c");
  REQUIRE(e);
  CHECK(e->kind == StreamKind::kExec);
  auto pf = parse_node_path("/portForward/ns/p");
  REQUIRE(pf);
  CHECK(pf->kind == StreamKind::kPortForward);
  CHECK(pf->container.empty());
  CHECK(parse_node_path("/portForward/ns/p/uid"));
  CHECK(!parse_node_path("/exec/ns/p"));
  CHECK(!parse_node_path("/exec/ns/p/c/x"));
  CHECK(!parse_node_path("/run/ns/p/c"));
  CHECK(parse_node_path("/").error().kind == "NotFound");
}

TEST_CASE("parse_stream_url") {
  auto u = parse_stream_url("http://127.0.0.1:39017/exec/AbC_12");
  REQUIRE(u);
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == 39017);
  CHECK(u->target == "/exec/AbC_12");
  auto v6 = parse_stream_url("http://[::1]:8080/portforward/t");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 8080);
  CHECK(parse_stream_url("http://localhost/x")->port == 80);
  CHECK(!parse_stream_url("https://127.0.0.1:1/x"));
  CHECK(!parse_stream_url("http://127.0.0.1:99999/x"));
}

TEST_CASE("node_api_allowed: only the API server's identities") {
  k3dpp::http::User admin{"admin", {"system:masters"}, true};
  k3dpp::http::User apiserver{"kube-apiserver-kubelet-client", {}, true};
  k3dpp::http::User node{"system:node:a", {"system:nodes"}, true};
  k3dpp::http::User anon{"", {}, false};
  CHECK(node_api_allowed(admin));
  CHECK(node_api_allowed(apiserver));
  CHECK(!node_api_allowed(node));
  CHECK(!node_api_allowed(anon));
}
