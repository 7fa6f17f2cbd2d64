// The store suite (store_test.cc, compiled again with K3DPP_STORE_TEST_ETCD) against a real etcd
// that this test starts on 127.0.0.1 with random ports (data on /dev/shm), plus etcd-only cases:
// a restart of etcd under a live client, TLS with certificates from a cluster CA, and a second
// member joining through MemberAdd (the HA join flow).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "pki/pki.h"
#include "store/etcd_process.h"
#include "store/etcd_store.h"

using namespace k3dpp;
using namespace std::chrono_literals;

namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

std::string temp_dir() {
  std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string tmpl = base + "/k3dpp-etcd-test-XXXXXX";
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

struct TestEtcd {
  std::string dir;
  store::EtcdOptions client;
  std::unique_ptr<store::EtcdProcess> proc;

  // Plain http unless tls is given (then ca/cert/key files are written under dir).
  TestEtcd(const std::string& name, const pki::CertKey* ca = nullptr, const pki::CertKey* cert = nullptr,
           const std::string& initial_cluster = "", const std::string& state = "new", int client_port = 0,
           int peer_port = 0) {
    dir = temp_dir();
    store::EtcdProcessOptions o;
    o.name = name;
    o.data_dir = dir + "/data";
    std::string scheme = ca ? "https" : "http";
    client_port = client_port ? client_port : free_port();
    peer_port = peer_port ? peer_port : free_port();
    o.client_url = scheme + "://127.0.0.1:" + std::to_string(client_port);
    o.peer_url = scheme + "://127.0.0.1:" + std::to_string(peer_port);
    o.initial_cluster = initial_cluster;
    o.initial_cluster_state = state;
    o.log_file = dir + "/etcd.log";
    if (ca) {
      std::ofstream(dir + "/ca.crt") << ca->cert_pem;
      std::ofstream(dir + "/etcd.crt") << cert->cert_pem;
      std::ofstream(dir + "/etcd.key") << cert->key_pem;
      o.ca_file = dir + "/ca.crt";
      o.cert_file = dir + "/etcd.crt";
      o.key_file = dir + "/etcd.key";
      client.ca_pem = ca->cert_pem;
      client.cert_pem = cert->cert_pem;
      client.key_pem = cert->key_pem;
    }
    client.endpoints = {"127.0.0.1:" + std::to_string(client_port)};
    proc = std::make_unique<store::EtcdProcess>(o);
    REQUIRE(proc->start());
  }
  void ready() {
    auto r = proc->wait_ready(client, 60s);
    if (!r) {
      std::ifstream f(dir + "/etcd.log");
      std::string log((std::istreambuf_iterator<char>(f)), {});
      FAIL_CHECK("etcd log:\n" << log);
    }
    REQUIRE(r);
  }
  ~TestEtcd() {
    proc->stop();
    std::filesystem::remove_all(dir);
  }
};

TestEtcd& shared_etcd() {
  static TestEtcd* e = [] {
    auto* t = new TestEtcd("shared");
    t->ready();
    return t;
  }();
  return *e;
}

struct SharedCleanup {
  ~SharedCleanup() {
    // Stop the shared etcd at exit (the static above is never destroyed otherwise).
    delete &shared_etcd();
  }
};

std::atomic<int> g_prefix{0};

}  // namespace

// Each case gets its own key prefix in the shared etcd, as kube-apiserver's --etcd-prefix.
std::unique_ptr<store::Store> open_mem() {
  static SharedCleanup cleanup;
  auto o = shared_etcd().client;
  o.key_prefix = "/case" + std::to_string(g_prefix++) + "-" + std::to_string(::getpid());
  auto s = store::open_etcd(o);
  REQUIRE(s);
  return std::move(*s);
}

TEST_CASE("etcd: data and clients survive an etcd restart") {
  TestEtcd e("restart");
  e.ready();
  auto s = store::open_etcd(e.client);
  REQUIRE(s);
  auto& st = **s;
  auto a = st.create("/registry/namespaces/dev", "{\"a\":1}");
  REQUIRE(a);
  auto w = st.watch("/registry/namespaces/", a->mod_revision);
  REQUIRE(w);

  ::kill(e.proc->pid(), SIGKILL);  // the supervisor restarts it
  e.ready();
  // The same client reconnects: reads, writes with preconditions and old history still work.
  std::optional<Result<store::KeyValue>> g;
  for (int i = 0; i < 100; ++i) {
    g = st.get("/registry/namespaces/dev");
    if (*g) break;
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(*g);
  CHECK((*g)->value == "{\"a\":1}");
  CHECK((*g)->mod_revision == a->mod_revision);
  auto u = st.update("/registry/namespaces/dev", "{\"a\":2}", a->mod_revision);
  REQUIRE(u);
  CHECK(u->mod_revision == a->mod_revision + 1);
  auto w2 = st.watch("/registry/namespaces/", 0);
  REQUIRE(w2);
  auto e1 = (*w2)->next(5s);
  REQUIRE(e1);
  CHECK(e1->created);
  CHECK(e1->kv.mod_revision == a->mod_revision);
  // The watch opened before the restart ends (closed) rather than silently missing events.
  bool closed_or_event = false;
  for (int i = 0; i < 50 && !closed_or_event; ++i) {
    auto ev = (*w)->next(100ms);
    closed_or_event = (*w)->closed() || (ev && ev->kv.mod_revision == u->mod_revision);
  }
  CHECK(closed_or_event);
}

TEST_CASE("etcd: TLS with cluster-CA certificates, and a second member joins through MemberAdd") {
  auto ca = pki::generate_ca("k3dpp-etcd-ca");
  REQUIRE(ca);
  pki::CertOptions co;
  co.common_name = "etcd";
  co.sans = {"127.0.0.1", "localhost", "etcd"};
  co.server_auth = true;
  co.client_auth = true;
  auto cert = pki::issue(*ca, co);
  REQUIRE(cert);

  TestEtcd first("m0", &*ca, &*cert);
  first.ready();
  auto s0 = store::open_etcd(first.client);
  REQUIRE(s0);
  auto a = (*s0)->create("/registry/configmaps/default/a", "A");
  REQUIRE(a);

  // A client without a certificate is refused.
  auto anon = first.client;
  anon.cert_pem.clear();
  anon.key_pem.clear();
  anon.timeout = 3s;
  CHECK_FALSE(store::open_etcd(anon));

  // Join: add the member first (its peer URL), then start it with the full initial cluster.
  int peer_port = free_port();
  std::string peer = "https://127.0.0.1:" + std::to_string(peer_port);
  auto added = store::etcd_member_add(first.client, {peer}, /*learner=*/true);
  REQUIRE(added);
  REQUIRE(added->second.size() == 2);
  std::string initial;
  for (const auto& m : added->second) {
    std::string name = m.id == added->first.id ? "m1" : m.name;
    initial += (initial.empty() ? "" : ",") + name + "=" + m.peer_urls.at(0);
  }
  TestEtcd second("m1", &*ca, &*cert, initial, "existing", 0, peer_port);
  // A learner serves no linearizable reads: promote it once it caught up, then it answers.
  Status promoted = fail("not tried");
  for (int i = 0; i < 120 && !promoted; ++i) {
    promoted = store::etcd_member_promote(first.client, added->first.id);
    if (!promoted) std::this_thread::sleep_for(500ms);
  }
  if (!promoted) FAIL_CHECK(promoted.error().message);
  REQUIRE(promoted);
  second.ready();
  auto s1 = store::open_etcd(second.client);
  REQUIRE(s1);
  // The second member serves the same data and revisions, and writes through it replicate back.
  auto g = (*s1)->get("/registry/configmaps/default/a");
  REQUIRE(g);
  CHECK(g->mod_revision == a->mod_revision);
  auto b = (*s1)->create("/registry/configmaps/default/b", "B");
  REQUIRE(b);
  auto gb = (*s0)->get("/registry/configmaps/default/b");
  REQUIRE(gb);
  CHECK(gb->mod_revision == b->mod_revision);
  auto members = store::etcd_member_list(second.client);
  REQUIRE(members);
  CHECK(members->size() == 2);
  bool named = false;
  for (const auto& m : *members) {
    named = named || m.name == "m1";
    CHECK_FALSE(m.learner);
  }
  CHECK(named);

  // Removing it leaves one member (etcd refuses reconfiguration until the new member has been
  // connected for a few seconds: retry).
  Status removed = fail("not tried");
  for (int i = 0; i < 60 && !removed; ++i) {
    removed = store::etcd_member_remove(first.client, added->first.id);
    if (!removed) std::this_thread::sleep_for(500ms);
  }
  if (!removed) FAIL_CHECK(removed.error().message);
  REQUIRE(removed);
  auto after = store::etcd_member_list(first.client);
  REQUIRE(after);
  CHECK(after->size() == 1);
}
