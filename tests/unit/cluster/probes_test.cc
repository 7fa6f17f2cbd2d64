// Host probes against real sockets on 127.0.0.1: port checks, and the TLS readiness client
// against `openssl s_server` requiring a client certificate (certs made with the openssl CLI).
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "cluster/probes.h"
#include "common/files.h"

using namespace k3dpp;
using namespace k3dpp::cluster;

namespace {

int listen_on(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

bool can_connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("host port checks") {
  uint16_t port = 0;
  int fd = listen_on(port);
  auto st = check_port_free("127.0.0.1", port, "tcp");
  REQUIRE_FALSE(st);
  CHECK(st.error().message == "host port 127.0.0.1:" + std::to_string(port) + "/tcp is already in use");
  CHECK(st.error().is("Conflict"));
  CHECK_FALSE(check_port_free("", port, "tcp"));  // 0.0.0.0 overlaps 127.0.0.1
  ::close(fd);
  CHECK(check_port_free("127.0.0.1", port, "tcp"));
  auto p = pick_free_port("127.0.0.1");
  REQUIRE(p);
  CHECK(*p > 0);
  CHECK_FALSE(check_port_free("not-an-ip", 80, "tcp"));
}

TEST_CASE("readiness client: CA-verified TLS with a client certificate") {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    MESSAGE("openssl CLI not found; skipping");
    return;
  }
  char tmpl[] = "/tmp/k3dpp-tls-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string script = "cd " + dir + R"( && {
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout ca.key -out ca.crt -days 1 -subj /CN=test-ca &&
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout other-ca.key -out other-ca.crt -days 1 -subj /CN=other-ca &&
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout server.key -out server.csr -subj /CN=server -addext subjectAltName=IP:127.0.0.1 &&
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -copy_extensions copy &&
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout admin.key -out admin.csr -subj /O=system:masters/CN=admin &&
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 1 &&
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout rogue.key -out rogue.csr -subj /CN=rogue &&
    openssl x509 -req -in rogue.csr -CA other-ca.crt -CAkey other-ca.key -CAcreateserial -out rogue.crt -days 1 &&
    printf ok > readyz; } >/dev/null 2>&1)";
  REQUIRE(std::system(script.c_str()) == 0);

  auto port_r = pick_free_port("127.0.0.1");
  REQUIRE(port_r);
  uint16_t port = *port_r;
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) _exit(127);
    if (!std::freopen("/dev/null", "w", stdout) || !std::freopen("/dev/null", "w", stderr)) _exit(127);
    std::string accept = "127.0.0.1:" + std::to_string(port);
    ::execlp("openssl", "openssl", "s_server", "-quiet", "-accept", accept.c_str(), "-cert", "server.crt", "-key",
             "server.key", "-CAfile", "ca.crt", "-Verify", "1", "-verify_return_error", "-WWW", static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 100 && !can_connect(port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));

  auto rd = [&](const std::string& f) { return *files::read(dir + "/" + f); };
  ClientCreds good{"https://127.0.0.1:" + std::to_string(port), rd("ca.crt"), rd("admin.crt"), rd("admin.key")};
  auto r = https_get(good.server + "/readyz", good);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(r->status == 200);
  CHECK(r->body == "ok");

  auto probes = real_probes();
  CHECK(wait_api_ready(probes, good, std::chrono::steady_clock::now() + std::chrono::seconds(5)));

  ClientCreds wrong_ca = good;
  wrong_ca.ca_pem = rd("other-ca.crt");
  auto bad = https_get(good.server + "/readyz", wrong_ca);
  CHECK_FALSE(bad);
  CHECK(bad.error().is("Unavailable"));

  ClientCreds rogue = good;
  rogue.cert_pem = rd("rogue.crt");
  rogue.key_pem = rd("rogue.key");
  auto refused = https_get(good.server + "/readyz", rogue);
  CHECK((!refused || refused->status != 200));

  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  auto down = wait_api_ready(probes, good, std::chrono::steady_clock::now() + std::chrono::milliseconds(300));
  REQUIRE_FALSE(down);
  CHECK(down.error().message.find("not ready in time") != std::string::npos);
  std::filesystem::remove_all(dir);
}

// Optional: against the real `k3dpp-node server` run as a host process (K3DPP_NODE_BIN=path).
// Checks that its admin.kubeconfig is what make_cluster_kubeconfig expects and that readiness
// through the renamed kubeconfig works with its PKI.
TEST_CASE("readiness against a real k3dpp-node server (K3DPP_NODE_BIN)") {
  const char* bin = std::getenv("K3DPP_NODE_BIN");
  if (!bin || !*bin) {
    MESSAGE("K3DPP_NODE_BIN not set; skipping");
    return;
  }
  char tmpl[] = "/tmp/k3dpp-node-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  REQUIRE(files::write_atomic(dir + "/token", "0123456789abcdef0123456789abcdef", 0600));
  uint16_t port = *pick_free_port("127.0.0.1");
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (!std::freopen((dir + "/server.log").c_str(), "w", stderr) || !std::freopen("/dev/null", "w", stdout)) _exit(127);
    std::string listen = "127.0.0.1:" + std::to_string(port);
    ::execl(bin, bin, "server", "--node-name", "k3dpp-t-server-0", "--cluster-name", "t", "--data-dir", dir.c_str(),
            "--listen", listen.c_str(), "--token-file", (dir + "/token").c_str(), "--tls-san", "k3dpp-t-serverlb",
            "--no-kubelet", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string admin = dir + "/server/admin.kubeconfig";
  for (int i = 0; i < 200 && !files::exists(admin); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(files::exists(admin));
  auto kc = make_cluster_kubeconfig(*files::read(admin), "t", "127.0.0.1", port);
  REQUIRE_MESSAGE(kc, (kc ? "" : kc.error().message));
  auto creds = client_credentials(*kc);
  REQUIRE(creds);
  auto probes = real_probes();
  auto st = wait_api_ready(probes, *creds, std::chrono::steady_clock::now() + std::chrono::seconds(20));
  CHECK_MESSAGE(st, (st ? "" : st.error().message));
  auto v = https_get(creds->server + "/version", *creds);
  REQUIRE(v);
  CHECK(v->status == 200);
  CHECK(v->body.find("\"minor\":\"32\"") != std::string::npos);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  std::filesystem::remove_all(dir);
}
