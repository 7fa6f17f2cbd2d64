// Unit tests of the Docker backend against a fake engine on a unix socket (no real engine).
#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <atomic>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "fake_engine.h"
#include "runtime/docker/docker_runtime.h"
#include "runtime/docker/stream.h"
#include "runtime/docker/tar.h"
#include "runtime/docker/translate.h"
#include "runtime/factory.h"

using nlohmann::json;
using namespace k3dpp::runtime;
using namespace k3dpp::runtime::docker;
using k3dpp::runtime::testing::FakeEngine;
using k3dpp::runtime::testing::FakeRequest;
using k3dpp::runtime::testing::FakeResponse;
using k3dpp::runtime::testing::version_response;

namespace {

// Routes "METHOD /path" (path without the /vX.Y prefix) to canned answers; /version is built in.
struct Router {
  std::map<std::string, FakeResponse> routes;
  std::string api = "1.41";

  FakeEngine::Handler handler() {
    return [this](const FakeRequest& r) -> FakeResponse {
      std::string path = r.path;
      if (path.rfind("/v1.", 0) == 0) path = path.substr(path.find('/', 1));
      if (path == "/version") return version_response(api);
      auto it = routes.find(r.method + " " + path);
      if (it != routes.end()) return it->second;
      return {404, R"({"message":"page not found"})", "application/json", {}};
    };
  }
};

FakeResponse ok(const std::string& body, int status = 200) { return {status, body, "application/json", {}}; }

}  // namespace

TEST_CASE("API version: negotiated from GET /version, used as prefix, capped at 1.43") {
  Router router;
  router.routes["GET /info"] = ok(R"J({"OperatingSystem":"Debian GNU/Linux 12 (bookworm)","KernelVersion":"6.18.44",)J"
                                  R"("CgroupDriver":"cgroupfs","CgroupVersion":"1","ServerVersion":"20.10.24+dfsg1",)"
                                  R"("SecurityOptions":["name=seccomp,profile=default"]})");
  SUBCASE("server 1.41") {
    FakeEngine engine(router.handler());
    DockerRuntime rt(engine.socket_path());
    auto info = rt.info();
    REQUIRE_MESSAGE(info.has_value(), info.error().message);
    CHECK(info->engine == "docker");
    CHECK(info->version == "20.10.24+dfsg1");
    CHECK(info->api_version == "1.41");
    CHECK(info->os == "Debian GNU/Linux 12 (bookworm)");
    CHECK(info->kernel == "6.18.44");
    CHECK(info->cgroup_driver == "cgroupfs");
    CHECK(info->cgroup_version == "1");
    CHECK_FALSE(info->rootless);
    auto reqs = engine.requests();
    REQUIRE(reqs.size() >= 2);
    CHECK(reqs[0].path == "/version");  // unversioned negotiation first
    CHECK(engine.find("/info").path == "/v1.41/info");
  }
  SUBCASE("server 1.45 is capped") {
    router.api = "1.45";
    FakeEngine engine(router.handler());
    DockerRuntime rt(engine.socket_path());
    auto v = rt.api_version();
    REQUIRE(v.has_value());
    CHECK(*v == "1.43");
    auto info = rt.info();
    REQUIRE(info.has_value());
    CHECK(engine.find("/info").path == "/v1.43/info");
  }
  CHECK(negotiate_api_version("1.25") == "1.25");
  CHECK(negotiate_api_version("2.0") == "1.43");
  CHECK(negotiate_api_version("garbage").empty());
}

TEST_CASE("container create: node-like spec gives the golden JSON body") {
  Router router;
  router.routes["POST /containers/create"] = ok(R"({"Id":"abc123","Warnings":[]})", 201);
  FakeEngine engine(router.handler());
  DockerRuntime rt(engine.socket_path());

  ContainerSpec spec;
  spec.name = "k3dpp-demo-server-0";
  spec.image = "k3dpp/node:0.1.0";
  spec.hostname = "k3dpp-demo-server-0";
  spec.network = "k3dpp-demo";
  spec.network_aliases = {"server-0"};
  spec.labels = {{"k3dpp.cluster", "demo"}, {"k3dpp.role", "server"}};
  spec.env = {"K3DPP_X=1"};
  spec.cmd = {"server", "--node-name", "k3dpp-demo-server-0"};
  spec.binds = {"k3dpp-demo-server-0-containerd:/var/lib/containerd"};
  spec.tmpfs = {{"/run", ""}, {"/tmp", ""}};
  spec.cap_add = {"ALL"};
  spec.cap_drop = {"SYS_RESOURCE"};
  spec.security_opt = {"seccomp=unconfined", "apparmor=unconfined"};
  spec.sysctls = {{"net.ipv4.ip_forward", "1"}};
  spec.ports = {{"127.0.0.1", 6550, 6443, "tcp"}, {"", 0, 30050, "tcp"}, {"", 8053, 53, "udp"}};
  spec.ulimits = {{"nofile", 20000, 20000}, {"nproc", 32768, 32768}};
  spec.device_cgroup_rules = {"c 5:1 rwm"};
  spec.extra_hosts = {"host.k3dpp.internal:172.19.0.1"};
  spec.init = true;
  spec.restart_policy = "unless-stopped";

  auto id = rt.create_container(spec);
  REQUIRE_MESSAGE(id.has_value(), id.error().message);
  CHECK(*id == "abc123");
  auto req = engine.find("/containers/create", "POST");
  CHECK(req.path == "/v1.41/containers/create");
  CHECK(req.query["name"] == "k3dpp-demo-server-0");
  CHECK(req.headers["content-type"] == "application/json");

  json expected = json::parse(R"({
    "Image": "k3dpp/node:0.1.0",
    "Hostname": "k3dpp-demo-server-0",
    "Env": ["K3DPP_X=1"],
    "Cmd": ["server", "--node-name", "k3dpp-demo-server-0"],
    "Labels": {"k3dpp.cluster": "demo", "k3dpp.role": "server"},
    "ExposedPorts": {"6443/tcp": {}, "30050/tcp": {}, "53/udp": {}},
    "HostConfig": {
      "Binds": ["k3dpp-demo-server-0-containerd:/var/lib/containerd"],
      "Tmpfs": {"/run": "", "/tmp": ""},
      "CapAdd": ["ALL"],
      "CapDrop": ["SYS_RESOURCE"],
      "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined"],
      "Sysctls": {"net.ipv4.ip_forward": "1"},
      "PortBindings": {
        "6443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "6550"}],
        "30050/tcp": [{"HostIp": "", "HostPort": ""}],
        "53/udp": [{"HostIp": "", "HostPort": "8053"}]
      },
      "Ulimits": [{"Name": "nofile", "Soft": 20000, "Hard": 20000},
                  {"Name": "nproc", "Soft": 32768, "Hard": 32768}],
      "DeviceCgroupRules": ["c 5:1 rwm"],
      "ExtraHosts": ["host.k3dpp.internal:172.19.0.1"],
      "Init": true,
      "RestartPolicy": {"Name": "unless-stopped"},
      "NetworkMode": "k3dpp-demo"
    },
    "NetworkingConfig": {"EndpointsConfig": {"k3dpp-demo": {"Aliases": ["server-0"]}}}
  })");
  json actual = json::parse(req.body);
  CHECK_MESSAGE(actual == expected, "diff: " << json::diff(expected, actual).dump());
}

TEST_CASE("list by labels: filters query is {\"label\":[\"k=v\"]}, URL-encoded") {
  Router router;
  router.routes["GET /containers/json"] = ok(R"([{"Id":"c1"}])");
  router.routes["GET /containers/c1/json"] =
      ok(R"({"Id":"c1","Name":"/k3dpp-demo-server-0","Config":{"Image":"k3dpp/node:0.1.0","Labels":{"k3dpp.cluster":"demo"}},)"
         R"("State":{"Status":"exited","Running":false,"ExitCode":3,"Pid":0},)"
         R"("NetworkSettings":{"Networks":{"k3dpp-demo":{"IPAddress":"172.19.0.2"}},)"
         R"("Ports":{"6443/tcp":[{"HostIp":"0.0.0.0","HostPort":"6550"}],"80/tcp":null}}})");
  router.routes["GET /networks"] = ok(R"([{"Id":"n1","Name":"k3dpp-demo","Labels":{"k3dpp.cluster":"demo"},)"
                                      R"("IPAM":{"Config":[{"Subnet":"172.19.0.0/16","Gateway":"172.19.0.1"}]}}])");
  FakeEngine engine(router.handler());
  DockerRuntime rt(engine.socket_path());

  auto list = rt.list_containers({{"k3dpp.cluster", "demo"}, {"k3dpp.role", "server"}}, true);
  REQUIRE_MESSAGE(list.has_value(), list.error().message);
  auto req = engine.find("/containers/json", "GET");
  CHECK(req.query["all"] == "1");
  CHECK(json::parse(req.query["filters"]) == json::parse(R"({"label":["k3dpp.cluster=demo","k3dpp.role=server"]})"));
  // Raw encoding: no raw quotes, braces or '=' inside the value.
  CHECK(req.target.find("filters=%7B%22label%22%3A%5B%22k3dpp.cluster%3Ddemo%22") != std::string::npos);

  REQUIRE(list->size() == 1);
  const auto& c = list->front();
  CHECK(c.name == "k3dpp-demo-server-0");
  CHECK(c.image == "k3dpp/node:0.1.0");
  CHECK(c.state == "exited");
  CHECK(c.exit_code == 3);
  CHECK(c.ips.at("k3dpp-demo") == "172.19.0.2");
  REQUIRE(c.ports.size() == 1);
  CHECK(c.ports[0].container_port == 6443);
  CHECK(c.ports[0].host_port == 6550);
  CHECK(c.ports[0].host_ip == "0.0.0.0");

  auto nets = rt.list_networks({{"k3dpp.cluster", "demo"}});
  REQUIRE(nets.has_value());
  REQUIRE(nets->size() == 1);
  CHECK(nets->front().subnet == "172.19.0.0/16");
  CHECK(nets->front().gateway == "172.19.0.1");
  CHECK(json::parse(engine.find("/networks", "GET").query["filters"]) ==
        json::parse(R"({"label":["k3dpp.cluster=demo"]})"));
}

TEST_CASE("errors: engine status and message map to Error kinds") {
  Router router;
  router.routes["GET /containers/nope/json"] = ok(R"({"message":"No such container: nope"})", 404);
  router.routes["POST /containers/create"] =
      ok(R"({"message":"Conflict. The container name \"/x\" is already in use"})", 409);
  router.routes["POST /networks/create"] = ok(R"({"message":"invalid network name"})", 400);
  router.routes["DELETE /volumes/v"] = ok("plain text failure", 500);
  router.routes["GET /images/missing:1/json"] = ok(R"({"message":"No such image: missing:1"})", 404);
  FakeEngine engine(router.handler());
  DockerRuntime rt(engine.socket_path());

  auto c = rt.inspect_container("nope");
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().kind == "NotFound");
  CHECK(c.error().message == "docker engine: No such container: nope");

  ContainerSpec spec;
  spec.name = "x";
  spec.image = "img";
  auto id = rt.create_container(spec);
  REQUIRE_FALSE(id.has_value());
  CHECK(id.error().kind == "Conflict");
  CHECK(id.error().message.find("is already in use") != std::string::npos);

  auto n = rt.create_network("bad name", {});
  REQUIRE_FALSE(n.has_value());
  CHECK(n.error().kind == "Invalid");

  auto v = rt.remove_volume("v", false);
  REQUIRE_FALSE(v.has_value());
  CHECK(v.error().kind == "Engine");
  CHECK(v.error().message.find("HTTP 500") != std::string::npos);
  CHECK(v.error().message.find("plain text failure") != std::string::npos);

  auto img = rt.inspect_image("missing:1");
  REQUIRE_FALSE(img.has_value());
  CHECK(img.error().is("NotFound"));
}

TEST_CASE("unreachable engine: clear message, kind Unavailable") {
  DockerRuntime rt("/tmp/k3dpp-no-such-dir/docker.sock");
  auto info = rt.info();
  REQUIRE_FALSE(info.has_value());
  CHECK(info.error().kind == "Unavailable");
  const auto& m = info.error().message;
  CHECK(m.rfind("cannot reach the Docker engine at /tmp/k3dpp-no-such-dir/docker.sock: ", 0) == 0);
  CHECK(m.find("is dockerd running? scripts/start-dockerd.sh starts it") != std::string::npos);
  CHECK_FALSE(ping("/tmp/k3dpp-no-such-dir/docker.sock"));
}

TEST_CASE("demultiplexer: frames split anywhere, stdout/stderr separated, TTY raw passthrough") {
  std::string stream = mux_frame(1, "hello ") + mux_frame(2, "warn\n") + mux_frame(1, "world\n") + mux_frame(1, "");
  Demuxer byte_by_byte;
  for (char c : stream) byte_by_byte.feed(&c, 1);
  CHECK(byte_by_byte.out() == "hello world\n");
  CHECK(byte_by_byte.err() == "warn\n");
  CHECK(byte_by_byte.combined() == "hello warn\nworld\n");
  CHECK(byte_by_byte.complete());

  Demuxer truncated;
  truncated.feed(stream.substr(0, stream.size() - 10));
  CHECK_FALSE(truncated.complete());

  Demuxer raw;
  raw.feed(std::string("plain tty output\n"));
  CHECK(raw.out() == "plain tty output\n");

  std::string big(70000, 'x');
  Demuxer large;
  large.feed(mux_frame(2, big));
  CHECK(large.err() == big);
}

TEST_CASE("exec: create + start, demultiplexed output, exit code from inspect; stdin over an upgraded connection") {
  Router router;
  router.routes["POST /containers/node/exec"] = ok(R"({"Id":"e1"})", 201);
  FakeResponse start{200, mux_frame(1, "out-1\n") + mux_frame(2, "err-1\n") + mux_frame(1, "out-2\n"),
                     "application/vnd.docker.raw-stream",
                     // With Upgrade: echo stdin back upper-cased on stdout.
                     [](const std::string& in) {
                       std::string up = in;
                       for (auto& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                       return mux_frame(1, up) + mux_frame(2, "done\n");
                     }};
  router.routes["POST /exec/e1/start"] = start;
  router.routes["GET /exec/e1/json"] = ok(R"({"ID":"e1","Running":false,"ExitCode":7})");
  FakeEngine engine(router.handler());
  DockerRuntime rt(engine.socket_path());

  auto r = rt.exec("node", {"sh", "-c", "echo"});
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->exit_code == 7);
  CHECK(r->out == "out-1\nout-2\n");
  CHECK(r->err == "err-1\n");
  json create = json::parse(engine.find("/containers/node/exec").body);
  CHECK(create["Cmd"] == json::array({"sh", "-c", "echo"}));
  CHECK(create["AttachStdin"] == false);
  CHECK(create["AttachStdout"] == true);
  CHECK(create["Tty"] == false);

  std::string input(200000, 'a');  // larger than socket buffers
  input += "\n";
  auto s = rt.exec("node", {"cat"}, input);
  REQUIRE_MESSAGE(s.has_value(), s.error().message);
  std::string expected_out(200000, 'A');
  expected_out += "\n";
  CHECK(s->out == expected_out);
  CHECK(s->err == "done\n");
  auto reqs = engine.requests();
  const FakeRequest* hijacked = nullptr;
  const FakeRequest* created_with_stdin = nullptr;
  for (const auto& q : reqs) {
    if (q.path == "/v1.41/exec/e1/start" && q.headers.count("upgrade")) hijacked = &q;
    if (q.path == "/v1.41/containers/node/exec" && json::parse(q.body)["AttachStdin"] == true) created_with_stdin = &q;
  }
  REQUIRE(hijacked != nullptr);
  CHECK(hijacked->headers.at("connection") == "Upgrade");
  CHECK(hijacked->headers.at("upgrade") == "tcp");
  CHECK(created_with_stdin != nullptr);
}

TEST_CASE("logs: tail parameter and demultiplexed combined output") {
  Router router;
  router.routes["GET /containers/node/logs"] =
      FakeResponse{200, mux_frame(1, "line 1\n") + mux_frame(2, "line 2\n"), "application/vnd.docker.raw-stream", {}};
  FakeEngine engine(router.handler());
  DockerRuntime rt(engine.socket_path());
  auto l = rt.logs("node", 5);
  REQUIRE(l.has_value());
  CHECK(*l == "line 1\nline 2\n");
  auto req = engine.find("/containers/node/logs");
  CHECK(req.query["tail"] == "5");
  CHECK(req.query["stdout"] == "1");
  CHECK(req.query["stderr"] == "1");
  auto all = rt.logs("node", 0);
  REQUIRE(all.has_value());
  CHECK(engine.requests().back().query["tail"] == "all");
}

TEST_CASE("tar: build and parse round trip, readable by system tar") {
  std::string long_dir(120, 'd');
  std::vector<tar::Entry> in = {
      {"etc", tar::EntryType::kDirectory, 0755, {}, {}, 0, 0, 1700000000},
      {"etc/k3dpp", tar::EntryType::kDirectory, 0700, {}, {}, 0, 0, 1700000000},
      {"etc/k3dpp/token", tar::EntryType::kFile, 0600, "s3cret\n", {}, 0, 0, 1700000000},
      {"empty", tar::EntryType::kFile, 0644, "", {}, 0, 0, 1700000000},
      {"bin/sh", tar::EntryType::kSymlink, 0777, {}, "busybox", 0, 0, 1700000000},
      {"a/" + long_dir + "/b/" + long_dir + "/file", tar::EntryType::kFile, 0640, std::string(1000, 'z'), {}, 0, 0, 1700000000},
      {"x/" + std::string(300, 'y'), tar::EntryType::kFile, 0644, "pax", {}, 0, 0, 1700000000},
  };
  std::string archive = tar::build(in);
  CHECK(archive.size() % 512 == 0);
  auto out = tar::parse(archive);
  REQUIRE_MESSAGE(out.has_value(), out.error().message);
  REQUIRE(out->size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    CAPTURE(in[i].path);
    CHECK((*out)[i].path == in[i].path);
    CHECK((*out)[i].type == in[i].type);
    CHECK((*out)[i].mode == in[i].mode);
    CHECK((*out)[i].content == in[i].content);
    CHECK((*out)[i].link == in[i].link);
    CHECK((*out)[i].mtime == 1700000000);
  }

  // A corrupted header is refused.
  std::string bad = archive;
  bad[10] ^= 1;
  CHECK_FALSE(tar::parse(bad).has_value());
  // A truncated archive is refused.
  CHECK_FALSE(tar::parse(archive.substr(0, 512 * 3 + 100)).has_value());  // inside padding
  CHECK_FALSE(tar::parse(archive.substr(0, 512 * 3 + 3)).has_value());    // inside content

  // GNU tar agrees (when present).
  if (::access("/bin/tar", X_OK) == 0) {
    std::string path = "/tmp/k3dpp-tar-test-" + std::to_string(::getpid()) + ".tar";
    std::ofstream(path, std::ios::binary) << archive;
    std::string cmd = "/bin/tar -tvf " + path + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string listing;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) listing.append(buf, n);
    int rc = ::pclose(p);
    ::unlink(path.c_str());
    CHECK_MESSAGE(rc == 0, listing);
    CHECK(listing.find("-rw------- root/root         7 ") != std::string::npos);
    CHECK(listing.find("etc/k3dpp/token") != std::string::npos);
    CHECK(listing.find("bin/sh -> busybox") != std::string::npos);
    CHECK(listing.find("x/" + std::string(300, 'y')) != std::string::npos);
    CHECK(listing.find("/b/" + long_dir + "/file") != std::string::npos);
  }
}

TEST_CASE("put_file: walks up to an existing directory, creates parents, sets mode, never logs content") {
  Router router;
  // /etc exists in the container, /etc/k3dpp does not.
  FakeEngine engine([&router](const FakeRequest& r) -> FakeResponse {
    if (r.path == "/version") return version_response();
    if (r.method == "PUT" && r.path == "/v1.41/containers/node/archive") {
      if (r.query.at("path") == "/etc") return ok("", 200);
      return ok(R"({"message":"Could not find the file )" + r.query.at("path") + R"( in container node"})", 404);
    }
    return router.handler()(r);
  });
  DockerRuntime rt(engine.socket_path());

  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = k3dpp::log::get("runtime.docker");
  logger->sinks().push_back(sink);
  auto old_level = logger->level();
  logger->set_level(spdlog::level::trace);

  auto st = rt.put_file("node", "/etc/k3dpp/token", "TOPSECRET-0123456789", 0600);

  logger->set_level(old_level);
  logger->sinks().pop_back();
  REQUIRE_MESSAGE(st.has_value(), st.error().message);

  std::vector<FakeRequest> puts;
  for (const auto& r : engine.requests()) {
    if (r.method == "PUT") puts.push_back(r);
  }
  REQUIRE(puts.size() == 2);
  CHECK(puts[0].query["path"] == "/etc/k3dpp");
  CHECK(puts[1].query["path"] == "/etc");
  CHECK(puts[1].headers["content-type"] == "application/x-tar");
  auto entries = tar::parse(puts[1].body);
  REQUIRE(entries.has_value());
  REQUIRE(entries->size() == 2);
  CHECK((*entries)[0].path == "k3dpp");
  CHECK((*entries)[0].type == tar::EntryType::kDirectory);
  CHECK((*entries)[1].path == "k3dpp/token");
  CHECK((*entries)[1].mode == 0600);
  CHECK((*entries)[1].content == "TOPSECRET-0123456789");

  CHECK(captured.str().find("PUT /v1.41/containers/node/archive") != std::string::npos);  // calls are logged
  CHECK(captured.str().find("TOPSECRET") == std::string::npos);                            // content is not

  CHECK_FALSE(rt.put_file("node", "relative/path", "x", 0644).has_value());
}

TEST_CASE("read_file: archive API answer is unpacked") {
  Router router;
  router.routes["GET /containers/node/archive"] =
      FakeResponse{200, tar::build({{"admin.kubeconfig", tar::EntryType::kFile, 0600, "apiVersion: v1\n", {}, 0, 0, 1}}),
                   "application/x-tar", {}};
  FakeEngine engine(router.handler());
  DockerRuntime rt(engine.socket_path());
  auto f = rt.read_file("node", "/var/lib/k3dpp/server/admin.kubeconfig");
  REQUIRE_MESSAGE(f.has_value(), f.error().message);
  CHECK(*f == "apiVersion: v1\n");
  CHECK(engine.find("/containers/node/archive").query["path"] == "/var/lib/k3dpp/server/admin.kubeconfig");
}

TEST_CASE("images: save streams to the callback with repeated names=, load streams the file") {
  Router router;
  router.routes["GET /images/get"] = FakeResponse{200, std::string(100000, 't'), "application/x-tar", {}};
  router.routes["POST /images/load"] = ok(R"({"stream":"Loaded image: a:1\n"})");
  FakeEngine engine(router.handler());
  DockerRuntime rt(engine.socket_path());
  std::string saved;
  auto st = rt.save_images({"a:1", "k3dpp/b:2"}, [&saved](const char* p, size_t n) {
    saved.append(p, n);
    return true;
  });
  REQUIRE_MESSAGE(st.has_value(), st.error().message);
  CHECK(saved == std::string(100000, 't'));
  CHECK(engine.find("/images/get").target.find("names=a%3A1&names=k3dpp%2Fb%3A2") != std::string::npos);

  auto aborted = rt.save_images({"a:1"}, [](const char*, size_t) { return false; });
  CHECK_FALSE(aborted.has_value());

  std::string path = "/tmp/k3dpp-load-test-" + std::to_string(::getpid()) + ".tar";
  std::ofstream(path, std::ios::binary) << std::string(300000, 'L');
  auto loaded = rt.load_image_file(path);
  ::unlink(path.c_str());
  REQUIRE_MESSAGE(loaded.has_value(), loaded.error().message);
  auto req = engine.find("/images/load", "POST");
  CHECK(req.body == std::string(300000, 'L'));
  CHECK(req.headers["content-type"] == "application/x-tar");

  router.routes["POST /images/load"] = ok(R"({"errorDetail":{"message":"bad tar"},"error":"bad tar"})");
  std::ofstream(path, std::ios::binary) << "x";
  auto bad = rt.load_image_file(path);
  ::unlink(path.c_str());
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("bad tar") != std::string::npos);
}

TEST_CASE("factory: docker by name, unknown names, DOCKER_HOST schemes") {
  // Podman selection is covered by tests/unit/runtime_podman.
  auto unknown = make_runtime("lxc");
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().kind == "Invalid");

  ::setenv("DOCKER_HOST", "unix:///tmp/k3dpp-x/docker.sock", 1);
  auto sock = socket_from_env();
  REQUIRE(sock.has_value());
  CHECK(*sock == "/tmp/k3dpp-x/docker.sock");
  auto docker = make_runtime("docker");
  REQUIRE(docker.has_value());
  auto info = (*docker)->info();
  REQUIRE_FALSE(info.has_value());
  CHECK(info.error().message.find("/tmp/k3dpp-x/docker.sock") != std::string::npos);
  ::setenv("DOCKER_HOST", "tcp://10.0.0.1:2375", 1);
  CHECK_FALSE(socket_from_env().has_value());
  CHECK_FALSE(make_runtime("docker").has_value());
  ::unsetenv("DOCKER_HOST");
  CHECK(*socket_from_env() == "/var/run/docker.sock");
}

TEST_CASE("start/stop are idempotent (304), remove asks for anonymous volumes, calls are thread-safe") {
  Router router;
  router.routes["POST /containers/n/start"] = FakeResponse{304, "", "", {}};
  router.routes["POST /containers/n/stop"] = FakeResponse{304, "", "", {}};
  router.routes["DELETE /containers/n"] = FakeResponse{204, "", "", {}};
  router.routes["GET /containers/n/json"] = ok(R"({"Id":"n","Name":"/n","State":{"Status":"running","Running":true,"Pid":42}})");
  FakeEngine engine(router.handler());
  DockerRuntime rt(engine.socket_path());
  CHECK(rt.start_container("n").has_value());
  CHECK(rt.stop_container("n", 7).has_value());
  CHECK(engine.find("/containers/n/stop").query["t"] == "7");
  CHECK(rt.remove_container("n", true).has_value());
  auto del = engine.find("/containers/n", "DELETE");
  CHECK(del.query["force"] == "1");
  CHECK(del.query["v"] == "1");

  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 5; ++j) {
        auto c = rt.inspect_container("n");
        if (c && c->pid == 42 && c->running) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(good == 20);
  int versions = 0;
  for (const auto& r : engine.requests()) versions += r.path == "/version" ? 1 : 0;
  CHECK(versions == 1);  // negotiated once
}

TEST_CASE("network connect/disconnect: body names the container; an empty or plain \"OK\" answer is success") {
  Router router;
  std::vector<std::string> bodies;
  auto handler = [&](const FakeRequest& r) -> FakeResponse {
    if (r.path.find("/networks/net-a/") != std::string::npos) bodies.push_back(r.method + " " + r.path + " " + r.body);
    return router.handler()(r);
  };
  router.routes["POST /networks/net-a/connect"] = {200, "OK", "text/plain", {}};  // podman's compat API
  router.routes["POST /networks/net-a/disconnect"] = {200, "", "text/plain", {}};  // docker
  FakeEngine engine(handler);
  DockerRuntime rt(engine.socket_path());
  auto c = rt.connect_network("net-a", "k3dpp-reg");
  REQUIRE_MESSAGE(c.has_value(), c.error().message);
  auto d = rt.disconnect_network("net-a", "k3dpp-reg");
  REQUIRE_MESSAGE(d.has_value(), d.error().message);
  REQUIRE(bodies.size() == 2);
  CHECK(bodies[0] == R"(POST /v1.41/networks/net-a/connect {"Container":"k3dpp-reg"})");
  CHECK(bodies[1] == R"(POST /v1.41/networks/net-a/disconnect {"Container":"k3dpp-reg","Force":true})");
  auto missing = rt.disconnect_network("net-b", "k3dpp-reg");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().is("NotFound"));
}
