// Unit tests of the podman backend: pure libpod translations (golden create body), image names,
// the firewall clean-up, and the backend's requests against a fake engine on a unix socket.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fake_engine.h"
#include "runtime/factory.h"
#include "runtime/podman/host_firewall.h"
#include "runtime/podman/podman_runtime.h"
#include "runtime/podman/translate.h"

using nlohmann::json;
using namespace k3dpp::runtime;
using namespace k3dpp::runtime::podman;
using k3dpp::runtime::testing::FakeEngine;
using k3dpp::runtime::testing::FakeRequest;
using k3dpp::runtime::testing::FakeResponse;

namespace {

FakeResponse ok(const std::string& body, int status = 200) { return {status, body, "application/json", {}}; }
FakeResponse not_found(const std::string& msg) {
  return {404, json{{"cause", "no such object"}, {"message", msg}, {"response", 404}}.dump(), "application/json", {}};
}

// Podman 4.3's answer to GET /version (compat).
FakeResponse podman_version() {
  return ok(R"({"Platform":{"Name":"linux/amd64/debian-12"},"Components":[{"Name":"Podman Engine","Version":"4.3.1",)"
            R"("Details":{"APIVersion":"4.3.1","MinAPIVersion":"4.0.0"}}],"Version":"4.3.1","ApiVersion":"1.41",)"
            R"("MinAPIVersion":"1.24","Os":"linux","KernelVersion":"6.18.44-fc-v669"})");
}

// Routes "METHOD /full/path" to canned answers; GET /version (any prefix) is built in.
struct Router {
  std::map<std::string, FakeResponse> routes;
  FakeEngine::Handler handler() {
    return [this](const FakeRequest& r) -> FakeResponse {
      if (r.path == "/version" || r.path == "/v1.41/version") return podman_version();
      auto it = routes.find(r.method + " " + r.path);
      if (it != routes.end()) return it->second;
      return not_found("no route for " + r.method + " " + r.path);
    };
  }
};

// The node container a cluster asks for (docs/node-contract.md), with a network alias.
ContainerSpec node_spec() {
  ContainerSpec s;
  s.name = "k3dpp-demo-server-0";
  s.hostname = s.name;
  s.image = "k3dpp/node:0.1.0";
  s.network = "k3dpp-demo";
  s.network_aliases = {"server-0"};
  s.labels = {{"k3dpp.cluster", "demo"}, {"k3dpp.role", "server"}, {"k3dpp.node.index", "0"}, {"k3dpp.version", "0.1.0"}};
  s.cmd = {"server", "--node-name", "k3dpp-demo-server-0", "--token-file", "/etc/k3dpp/token"};
  s.binds = {"k3dpp-demo-server-0-containerd:/var/lib/containerd"};
  s.tmpfs = {{"/run", ""}, {"/tmp", ""}};
  s.cap_add = {"ALL"};
  s.cap_drop = {"SYS_RESOURCE"};
  s.security_opt = {"seccomp=unconfined", "apparmor=unconfined"};
  s.sysctls = {{"net.ipv4.ip_forward", "1"}};
  s.ulimits = {{"nofile", 20000, 20000}, {"nproc", 32768, 32768}};
  s.device_cgroup_rules = {"c 5:1 rwm"};
  s.init = true;
  s.restart_policy = "unless-stopped";
  return s;
}

json golden(const std::string& name) {
  std::ifstream f(std::string(K3DPP_PODMAN_GOLDEN_DIR) + "/" + name);
  REQUIRE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str());
}

// Records the commands the firewall clean-up runs; answers `-S CHAIN` from a canned listing.
struct FakeIptables {
  std::map<std::string, std::string> listings;  // chain -> `iptables -S chain` output
  std::vector<std::vector<std::string>> calls;
  std::mutex mu;
  firewall::CommandRunner runner() {
    return [this](const std::vector<std::string>& argv) -> k3dpp::Result<std::string> {
      std::lock_guard<std::mutex> lock(mu);
      calls.push_back(argv);
      for (size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == "-S") {
          auto it = listings.find(argv[i + 1]);
          if (it == listings.end()) return k3dpp::fail("iptables: No chain/target/match by that name.", "Engine");
          return it->second;
        }
      }
      return std::string();
    };
  }
  std::vector<std::vector<std::string>> deletions() {
    std::vector<std::vector<std::string>> out;
    for (const auto& c : calls) {
      if (std::find(c.begin(), c.end(), "-D") != c.end()) out.push_back(c);
    }
    return out;
  }
};

const char* kStage1 =
    "-N CNI-ISOLATION-STAGE-1\n"
    "-A CNI-ISOLATION-STAGE-1 -i cni-podman3 ! -o cni-podman3 -m comment --comment \"CNI firewall plugin rules "
    "(ingressPolicy: same-bridge)\" -j CNI-ISOLATION-STAGE-2\n"
    "-A CNI-ISOLATION-STAGE-1 -i cni-podman30 ! -o cni-podman30 -m comment --comment \"CNI firewall plugin rules "
    "(ingressPolicy: same-bridge)\" -j CNI-ISOLATION-STAGE-2\n"
    "-A CNI-ISOLATION-STAGE-1 -m comment --comment \"CNI firewall plugin rules (ingressPolicy: same-bridge)\" -j RETURN\n";
const char* kStage2 =
    "-N CNI-ISOLATION-STAGE-2\n"
    "-A CNI-ISOLATION-STAGE-2 -o cni-podman30 -m comment --comment \"CNI firewall plugin rules (ingressPolicy: "
    "same-bridge)\" -j DROP\n"
    "-A CNI-ISOLATION-STAGE-2 -o cni-podman3 -m comment --comment \"CNI firewall plugin rules (ingressPolicy: "
    "same-bridge)\" -j DROP\n"
    "-A CNI-ISOLATION-STAGE-2 -m comment --comment \"CNI firewall plugin rules (ingressPolicy: same-bridge)\" -j RETURN\n";

}  // namespace

TEST_CASE("libpod create body for a node: golden (ulimits, c 5:1 rwm, caps, tmpfs, volume, sysctl, never privileged)") {
  auto body = libpod_create_body(node_spec(), "localhost/k3dpp/node:0.1.0");
  REQUIRE(body.has_value());
  CHECK(*body == golden("node_create.json"));
  CHECK_FALSE(body->contains("privileged"));
  // The compat API's DeviceCgroupRules is what podman ignores: the body must not rely on it.
  CHECK_FALSE(body->contains("HostConfig"));
}

TEST_CASE("libpod create body: podman defaults when the spec sets no limits or device rules (e.g. the LB)") {
  ContainerSpec s;
  s.name = "k3dpp-demo-serverlb";
  s.image = "k3dpp/lb:0.1.0";
  s.network = "k3dpp-demo";
  s.ports = {{"127.0.0.1", 6550, 6443, "tcp"}, {"", 0, 53, "udp"}};
  s.env = {"A=1", "B=x=y", "EMPTY"};
  s.extra_hosts = {"host.k3dpp.internal:10.0.0.1"};
  s.binds = {"/srv/data:/data:ro", "vol:/v:ro,z"};
  s.tmpfs = {{"/run", "size=64m,mode=755"}};
  s.entrypoint = {"/bin/sh", "-c"};
  s.restart_policy = "no";
  auto body = libpod_create_body(s, "localhost/k3dpp/lb:0.1.0");
  REQUIRE(body.has_value());
  CHECK((*body)["r_limits"] == json::parse(R"([{"type":"nofile","soft":20000,"hard":20000},)"
                                           R"({"type":"nproc","soft":32768,"hard":32768}])"));
  CHECK((*body)["device_cgroup_rule"] ==
        json::parse(R"([{"allow":true,"type":"c","major":5,"minor":1,"access":"rwm"}])"));
  CHECK((*body)["portmappings"] ==
        json::parse(R"([{"host_ip":"127.0.0.1","host_port":6550,"container_port":6443,"protocol":"tcp"},)"
                    R"({"host_ip":"","host_port":0,"container_port":53,"protocol":"udp"}])"));
  CHECK((*body)["env"] == json::parse(R"({"A":"1","B":"x=y","EMPTY":""})"));
  CHECK((*body)["hostadd"] == json::parse(R"(["host.k3dpp.internal:10.0.0.1"])"));
  CHECK((*body)["mounts"] ==
        json::parse(R"([{"destination":"/data","type":"bind","source":"/srv/data","options":["rbind","ro"]},)"
                    R"({"destination":"/run","type":"tmpfs","source":"tmpfs","options":["size=64m","mode=755"]}])"));
  CHECK((*body)["volumes"] == json::parse(R"([{"Name":"vol","Dest":"/v","Options":["ro","z"]}])"));
  CHECK((*body)["entrypoint"] == json::parse(R"(["/bin/sh","-c"])"));
  CHECK((*body)["Networks"] == json::parse(R"({"k3dpp-demo":{}})"));
  CHECK_FALSE(body->contains("restart_policy"));  // "no" is podman's default
  CHECK_FALSE(body->contains("init"));
  CHECK_FALSE(body->contains("cap_add"));

  SUBCASE("explicit limits win, RLIMIT_ prefix and case are normalised, extra rules kept") {
    s.ulimits = {{"RLIMIT_NOFILE", 1024, 2048}};
    s.device_cgroup_rules = {"b 7:* rw"};
    auto b = libpod_create_body(s, "x");
    REQUIRE(b.has_value());
    CHECK((*b)["r_limits"] == json::parse(R"([{"type":"nofile","soft":1024,"hard":2048},)"
                                          R"({"type":"nproc","soft":32768,"hard":32768}])"));
    CHECK((*b)["device_cgroup_rule"] ==
          json::parse(R"([{"allow":true,"type":"b","major":7,"access":"rw"},)"
                      R"({"allow":true,"type":"c","major":5,"minor":1,"access":"rwm"}])"));
  }
  SUBCASE("host and none network modes") {
    s.network = "host";
    s.ports.clear();
    auto b = libpod_create_body(s, "x");
    REQUIRE(b.has_value());
    CHECK((*b)["netns"] == json::parse(R"({"nsmode":"host"})"));
    CHECK_FALSE(b->contains("Networks"));
  }
}

TEST_CASE("libpod create body: what podman cannot express fails clearly") {
  ContainerSpec s = node_spec();
  s.security_opt = {"seccomp=unconfined", "mystery=1"};
  auto r = libpod_create_body(s, "x");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == "Invalid");
  CHECK(r.error().message == "podman: security option \"mystery=1\" is not supported");

  s = node_spec();
  s.binds = {"novolume"};
  r = libpod_create_body(s, "x");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "podman: bind \"novolume\" is not SOURCE:/PATH[:OPTIONS]");

  s = node_spec();
  s.security_opt = {"no-new-privileges", "label=disable", "systempaths=unconfined"};
  r = libpod_create_body(s, "x");
  REQUIRE(r.has_value());
  CHECK((*r)["no_new_privileges"] == true);
  CHECK((*r)["selinux_opts"] == json::parse(R"(["disable"])"));
  CHECK((*r)["unmask"] == json::parse(R"(["ALL"])"));
}

TEST_CASE("device cgroup rules: docker's text form to OCI objects") {
  CHECK(*device_cgroup_rule("c 5:1 rwm") == json::parse(R"({"allow":true,"type":"c","major":5,"minor":1,"access":"rwm"})"));
  CHECK(*device_cgroup_rule("b *:* m") == json::parse(R"({"allow":true,"type":"b","access":"m"})"));
  CHECK(*device_cgroup_rule("c 136:* rw") == json::parse(R"({"allow":true,"type":"c","major":136,"access":"rw"})"));
  CHECK(*device_cgroup_rule("a") == json::parse(R"({"allow":true,"type":"a","access":"rwm"})"));
  CHECK(device_cgroup_rule("x 5:1 rwm").error().message == "device cgroup rule \"x 5:1 rwm\": type must be a, b or c");
  CHECK(device_cgroup_rule("c 5 rwm").error().message == "device cgroup rule \"c 5 rwm\": want MAJOR:MINOR");
  CHECK(device_cgroup_rule("c 5:1 rwx").error().message == "device cgroup rule \"c 5:1 rwx\": access must be of r, w, m");
  CHECK(device_cgroup_rule("c a:1 r").error().message == "device cgroup rule \"c a:1 r\": bad number \"a\"");
  CHECK(device_cgroup_rule("c 5:1").error().kind == "Invalid");
  CHECK_FALSE(device_cgroup_rule("").has_value());
  // A bad rule in a spec fails the create body.
  ContainerSpec s = node_spec();
  s.device_cgroup_rules = {"c 5:1 rwm", "c 1:x r"};
  CHECK(libpod_create_body(s, "x").error().message == "device cgroup rule \"c 1:x r\": bad number \"x\"");
}

TEST_CASE("image names: unqualified refs are looked up as localhost/ first; shown without it") {
  CHECK(image_candidates("k3dpp/node:0.1.0") == std::vector<std::string>{"localhost/k3dpp/node:0.1.0", "k3dpp/node:0.1.0"});
  CHECK(image_candidates("busybox") == std::vector<std::string>{"localhost/busybox:latest", "busybox"});
  CHECK(image_candidates("a/b@sha256:abc") == std::vector<std::string>{"localhost/a/b@sha256:abc", "a/b@sha256:abc"});
  CHECK(image_candidates("localhost/k3dpp/node:0.1.0") == std::vector<std::string>{"localhost/k3dpp/node:0.1.0"});
  CHECK(image_candidates("docker.io/library/busybox:1") == std::vector<std::string>{"docker.io/library/busybox:1"});
  CHECK(image_candidates("registry:5000/x:1") == std::vector<std::string>{"registry:5000/x:1"});
  CHECK(image_candidates("sha256:04b075bd8831") == std::vector<std::string>{"sha256:04b075bd8831"});
  CHECK(image_candidates("04b075bd8831") == std::vector<std::string>{"04b075bd8831"});
  CHECK(display_image_name("localhost/k3dpp/node:0.1.0") == "k3dpp/node:0.1.0");
  CHECK(display_image_name("docker.io/library/busybox:1") == "docker.io/library/busybox:1");
}

TEST_CASE("errors name podman, keep kinds") {
  auto e = podman_error(k3dpp::Error("start container x: docker engine: no such container", "NotFound"));
  CHECK(e.message == "start container x: podman: no such container");
  CHECK(e.kind == "NotFound");
  auto l = error_from_libpod(500, R"({"cause":"OCI runtime error","message":"runc: boom","response":500})", "POST /x");
  CHECK(l.message == "podman: runc: boom");
  CHECK(l.kind == "Engine");
  CHECK(error_from_libpod(409, "{}", "POST /x").message == "podman: HTTP 409 on POST /x: {}");
  CHECK(error_from_libpod(409, "{}", "POST /x").kind == "Conflict");
}

TEST_CASE("firewall: iptables -S lines split with quotes; rules chosen by exact bridge name") {
  auto args = firewall::split_rule(
      R"X(-A CNI-ISOLATION-STAGE-2 -o cni-podman3 -m comment --comment "a \"quoted\" (b: c)" -j DROP)X");
  CHECK(args == std::vector<std::string>{"-A", "CNI-ISOLATION-STAGE-2", "-o", "cni-podman3", "-m", "comment",
                                         "--comment", "a \"quoted\" (b: c)", "-j", "DROP"});
  auto rules = firewall::rules_for_bridge(kStage1, "cni-podman3");
  REQUIRE(rules.size() == 1);
  CHECK(rules[0][3] == "cni-podman3");
  CHECK(firewall::rules_for_bridge(kStage1, "").empty());
  CHECK(firewall::rules_for_bridge(kStage1, "cni-podman9").empty());

  FakeIptables ipt;
  ipt.listings = {{"CNI-ISOLATION-STAGE-1", kStage1}, {"CNI-ISOLATION-STAGE-2", kStage2}};
  auto n = firewall::remove_isolation_rules(ipt.runner(), "cni-podman30");
  REQUIRE(n.has_value());
  CHECK(*n == 2);
  auto del = ipt.deletions();
  REQUIRE(del.size() == 2);
  CHECK(del[0] == std::vector<std::string>{"iptables", "-w", "5", "-t", "filter", "-D", "CNI-ISOLATION-STAGE-1", "-i",
                                           "cni-podman30", "!", "-o", "cni-podman30", "-m", "comment", "--comment",
                                           "CNI firewall plugin rules (ingressPolicy: same-bridge)", "-j",
                                           "CNI-ISOLATION-STAGE-2"});
  CHECK(del[1] == std::vector<std::string>{"iptables", "-w", "5", "-t", "filter", "-D", "CNI-ISOLATION-STAGE-2", "-o",
                                           "cni-podman30", "-m", "comment", "--comment",
                                           "CNI firewall plugin rules (ingressPolicy: same-bridge)", "-j", "DROP"});
  // No chains at all: nothing to do, no error.
  FakeIptables none;
  auto z = firewall::remove_isolation_rules(none.runner(), "cni-podman3");
  REQUIRE(z.has_value());
  CHECK(*z == 0);
}

TEST_CASE("firewall: the system runner reports exit status and output") {
  auto run = firewall::system_runner();
  auto r = run({"sh", "-c", "echo out; echo err >&2"});
  REQUIRE(r.has_value());
  CHECK(*r == "out\nerr\n");
  auto bad = run({"sh", "-c", "echo nope; exit 3"});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "sh -c echo nope; exit 3 failed: nope");
  CHECK_FALSE(run({"/nonexistent/k3dpp-binary"}).has_value());
}

TEST_CASE("create_container: libpod endpoint, localhost/ image, warnings, missing image") {
  Router router;
  router.routes["GET /v4.0.0/libpod/images/localhost/k3dpp/node:0.1.0/json"] = ok(R"({"Id":"f08513"})");
  router.routes["POST /v4.0.0/libpod/containers/create"] = ok(R"({"Id":"abc123","Warnings":[]})", 201);
  FakeEngine engine(router.handler());
  PodmanRuntime rt(engine.socket_path());
  auto id = rt.create_container(node_spec());
  REQUIRE(id.has_value());
  CHECK(*id == "abc123");
  auto req = engine.find("/v4.0.0/libpod/containers/create", "POST");
  CHECK(req.headers["content-type"] == "application/json");
  CHECK(json::parse(req.body) == golden("node_create.json"));
  // Nothing went to the compat create, which would drop the device rule.
  for (const auto& r : engine.requests()) CHECK(r.path != "/v1.41/containers/create");

  SUBCASE("image missing under both names: NotFound naming both, no create sent") {
    Router none;
    FakeEngine empty(none.handler());
    PodmanRuntime rt2(empty.socket_path());
    auto r = rt2.create_container(node_spec());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == "NotFound");
    CHECK(r.error().message ==
          "create container k3dpp-demo-server-0: podman: image k3dpp/node:0.1.0 not found (looked for "
          "localhost/k3dpp/node:0.1.0, k3dpp/node:0.1.0)");
    for (const auto& q : empty.requests()) CHECK(q.method == "GET");
  }
  SUBCASE("an engine refusal comes back as a podman error") {
    Router r2 = router;
    r2.routes["POST /v4.0.0/libpod/containers/create"] =
        FakeResponse{500, R"({"cause":"OCI runtime error","message":"runc: wrong rlimit value","response":500})",
                     "application/json", {}};
    FakeEngine e2(r2.handler());
    PodmanRuntime rt2(e2.socket_path());
    auto r = rt2.create_container(node_spec());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message == "create container k3dpp-demo-server-0: podman: runc: wrong rlimit value");
  }
}

TEST_CASE("inspect: image names without localhost/, info says podman, compat errors say podman") {
  Router router;
  router.routes["GET /v4.0.0/libpod/info"] = ok(
      R"({"host":{"cgroupManager":"cgroupfs","cgroupVersion":"v1","kernel":"6.18.44-fc-v669",)"
      R"("distribution":{"distribution":"debian","version":"12","codename":"bookworm"},"security":{"rootless":false}},)"
      R"("version":{"APIVersion":"4.3.1","Version":"4.3.1"}})");
  router.routes["GET /v4.0.0/libpod/images/localhost/k3dpp/node:0.1.0/json"] = ok(R"({"Id":"f08513"})");
  router.routes["GET /v1.41/images/localhost/k3dpp/node:0.1.0/json"] =
      ok(R"({"Id":"sha256:f08513","RepoTags":["localhost/k3dpp/node:0.1.0","localhost/k3dpp/node:latest"],"Size":248})");
  router.routes["GET /v4.0.0/libpod/images/localhost/busybox:latest/json"] = not_found("no such image");
  router.routes["GET /v4.0.0/libpod/images/busybox/json"] = ok(R"({"Id":"416ef0"})");
  router.routes["GET /v1.41/images/busybox/json"] = ok(R"({"Id":"sha256:416ef0","RepoTags":["docker.io/library/busybox:latest"]})");
  router.routes["GET /v1.41/containers/n/json"] =
      ok(R"({"Id":"n1","Name":"n","Config":{"Image":"localhost/k3dpp/node:0.1.0","Labels":{"a":"b"}},)"
         R"("State":{"Status":"running","Running":true,"Pid":7}})");
  router.routes["GET /v1.41/info"] =
      ok(R"({"OperatingSystem":"debian","KernelVersion":"6.18.44","CgroupDriver":"cgroupfs","CgroupVersion":"1",)"
         R"("ServerVersion":"4.3.1","SecurityOptions":["name=seccomp,profile=default"]})");
  FakeEngine engine(router.handler());
  PodmanRuntime rt(engine.socket_path());

  auto img = rt.inspect_image("k3dpp/node:0.1.0");
  REQUIRE(img.has_value());
  CHECK(img->tags == std::vector<std::string>{"k3dpp/node:0.1.0", "k3dpp/node:latest"});
  CHECK(*rt.resolve_image("busybox") == "busybox");
  CHECK(rt.inspect_image("busybox")->tags == std::vector<std::string>{"docker.io/library/busybox:latest"});
  auto missing = rt.inspect_image("k3dpp/nothing:1");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == "NotFound");

  auto c = rt.inspect_container("n");
  REQUIRE(c.has_value());
  CHECK(c->image == "k3dpp/node:0.1.0");
  CHECK(c->running);

  auto info = rt.info();
  REQUIRE(info.has_value());
  CHECK(info->engine == "podman");
  CHECK(info->version == "4.3.1");
  CHECK(info->api_version == "1.41");
  CHECK(info->kernel == "6.18.44-fc-v669");
  // One libpod call; the slow compat /version is never asked (API 1.41 assumed).
  for (const auto& q : engine.requests()) CHECK(q.path.find("/version") == std::string::npos);

  auto gone = rt.inspect_container("gone");
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().kind == "NotFound");
  CHECK(gone.error().message == "podman: no route for GET /v1.41/containers/gone/json");
}

TEST_CASE("remove_network: deletes the network, then exactly the stale isolation rules of its bridge") {
  Router router;
  router.routes["GET /v4.0.0/libpod/networks/k3dpp-demo/json"] =
      ok(R"({"name":"k3dpp-demo","driver":"bridge","network_interface":"cni-podman3","options":{"isolate":"true"}})");
  router.routes["DELETE /v1.41/networks/k3dpp-demo"] = FakeResponse{204, "", "", {}};
  router.routes["GET /v4.0.0/libpod/networks/json"] =
      ok(R"([{"name":"podman","network_interface":"cni-podman0"},{"name":"other","network_interface":"cni-podman30"}])");
  FakeIptables ipt;
  ipt.listings = {{"CNI-ISOLATION-STAGE-1", kStage1}, {"CNI-ISOLATION-STAGE-2", kStage2}};

  SUBCASE("bridge free: its two rules go, cni-podman30's stay") {
    FakeEngine engine(router.handler());
    PodmanRuntime rt(PodmanOptions{engine.socket_path(), true, ipt.runner()});
    REQUIRE(rt.remove_network("k3dpp-demo").has_value());
    CHECK(engine.find("/v1.41/networks/k3dpp-demo", "DELETE").method == "DELETE");
    auto del = ipt.deletions();
    REQUIRE(del.size() == 2);
    CHECK(del[0][7] == "-i");
    CHECK(del[0][8] == "cni-podman3");
    CHECK(del[1][6] == "CNI-ISOLATION-STAGE-2");
    CHECK(del[1][8] == "cni-podman3");
  }
  SUBCASE("bridge name already reused by another network: no rule touched") {
    router.routes["GET /v4.0.0/libpod/networks/json"] = ok(R"([{"name":"new","network_interface":"cni-podman3"}])");
    FakeEngine engine(router.handler());
    PodmanRuntime rt(PodmanOptions{engine.socket_path(), true, ipt.runner()});
    REQUIRE(rt.remove_network("k3dpp-demo").has_value());
    CHECK(ipt.calls.empty());
  }
  SUBCASE("network delete fails: error, no rule touched") {
    router.routes["DELETE /v1.41/networks/k3dpp-demo"] =
        FakeResponse{500, R"({"message":"network is being used"})", "application/json", {}};
    FakeEngine engine(router.handler());
    PodmanRuntime rt(PodmanOptions{engine.socket_path(), true, ipt.runner()});
    auto r = rt.remove_network("k3dpp-demo");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message == "podman: network is being used");
    CHECK(ipt.calls.empty());
  }
  SUBCASE("clean-up disabled") {
    FakeEngine engine(router.handler());
    PodmanRuntime rt(PodmanOptions{engine.socket_path(), false, ipt.runner()});
    REQUIRE(rt.remove_network("k3dpp-demo").has_value());
    CHECK(ipt.calls.empty());
  }
  SUBCASE("iptables failing is a warning, not an error") {
    FakeEngine engine(router.handler());
    auto failing = [](const std::vector<std::string>& argv) -> k3dpp::Result<std::string> {
      if (std::find(argv.begin(), argv.end(), "-D") != argv.end()) return k3dpp::fail("permission denied", "Engine");
      return std::string(kStage2);
    };
    PodmanRuntime rt(PodmanOptions{engine.socket_path(), true, failing});
    CHECK(rt.remove_network("k3dpp-demo").has_value());
  }
}

TEST_CASE("factory: podman by name and by K3DPP_RUNTIME; CONTAINER_HOST schemes") {
  ::setenv("CONTAINER_HOST", "unix:///tmp/k3dpp-pm-x/podman.sock", 1);
  auto sock = podman::socket_from_env();
  REQUIRE(sock.has_value());
  CHECK(*sock == "/tmp/k3dpp-pm-x/podman.sock");
  auto rt = make_runtime("podman");
  REQUIRE(rt.has_value());
  auto info = (*rt)->info();
  REQUIRE_FALSE(info.has_value());
  CHECK(info.error().kind == "Unavailable");
  CHECK(info.error().message.find("/tmp/k3dpp-pm-x/podman.sock") != std::string::npos);

  ::setenv("K3DPP_RUNTIME", "podman", 1);
  auto by_env = make_runtime("");
  REQUIRE(by_env.has_value());
  CHECK(dynamic_cast<PodmanRuntime*>(by_env->get()) != nullptr);
  ::unsetenv("K3DPP_RUNTIME");

  ::setenv("CONTAINER_HOST", "ssh://core@host/run/podman/podman.sock", 1);
  CHECK(podman::socket_from_env().error().kind == "Invalid");
  CHECK_FALSE(make_runtime("podman").has_value());
  ::unsetenv("CONTAINER_HOST");
  CHECK(*podman::socket_from_env() == "/run/podman/podman.sock");
}

TEST_CASE("remove_container force: SIGKILL through libpod first (no 10 s stop wait), then the compat delete") {
  Router router;
  router.routes["POST /v4.0.0/libpod/containers/k3dpp-demo-serverlb/kill"] = ok("", 204);
  router.routes["DELETE /v1.41/containers/k3dpp-demo-serverlb"] = ok("", 204);
  // A stopped container: podman answers 409 to the kill; the removal still happens.
  router.routes["POST /v4.0.0/libpod/containers/stopped/kill"] =
      FakeResponse{409, R"({"cause":"container state improper","message":"can only kill running containers","response":409})",
                   "application/json", {}};
  router.routes["DELETE /v1.41/containers/stopped"] = ok("", 204);
  FakeEngine engine(router.handler());
  PodmanRuntime rt(engine.socket_path());
  REQUIRE(rt.remove_container("k3dpp-demo-serverlb", true));
  auto reqs = engine.requests();
  std::vector<std::string> seen;
  for (const auto& r : reqs)
    if (r.path.find("/containers/") != std::string::npos) seen.push_back(r.method + " " + r.path);
  CHECK(seen == std::vector<std::string>{"POST /v4.0.0/libpod/containers/k3dpp-demo-serverlb/kill",
                                         "DELETE /v1.41/containers/k3dpp-demo-serverlb"});
  CHECK(engine.find("/v4.0.0/libpod/containers/k3dpp-demo-serverlb/kill", "POST").query["signal"] == "SIGKILL");
  CHECK(engine.find("/v1.41/containers/k3dpp-demo-serverlb", "DELETE").query["force"] != "");
  REQUIRE(rt.remove_container("stopped", true));

  // Without force nothing is killed.
  FakeEngine e2(router.handler());
  PodmanRuntime rt2(e2.socket_path());
  REQUIRE(rt2.remove_container("k3dpp-demo-serverlb", false));
  for (const auto& r : e2.requests()) CHECK(r.path.find("/kill") == std::string::npos);
}

TEST_CASE("engine_info_from_libpod: GET /libpod/info fields") {
  auto e = engine_info_from_libpod(json::parse(
      R"({"host":{"cgroupManager":"systemd","cgroupVersion":"v2","kernel":"6.1.0",)"
      R"("distribution":{"distribution":"debian","version":"12","codename":"bookworm"},"security":{"rootless":true}},)"
      R"("version":{"Version":"4.3.1"}})"));
  CHECK(e.engine == "podman");
  CHECK(e.version == "4.3.1");
  CHECK(e.api_version == "1.41");
  CHECK(e.os == "debian 12 (bookworm)");
  CHECK(e.kernel == "6.1.0");
  CHECK(e.cgroup_driver == "systemd");
  CHECK(e.cgroup_version == "2");
  CHECK(e.rootless);
  auto empty = engine_info_from_libpod(json::object());
  CHECK(empty.engine == "podman");
  CHECK(empty.cgroup_version == "1");
  CHECK_FALSE(empty.rootless);
}
