#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "common/files.h"
#include "pki/pki.h"
#include "pki/server_pki.h"

using namespace k3dpp;

namespace {
std::string temp_dir() {
  char tmpl[] = "/tmp/k3dpp-pki-test-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}
mode_t mode_of(const std::string& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}
}  // namespace

TEST_CASE("CA, serving and client certificates chain to the CA") {
  auto ca = pki::generate_ca("test-ca");
  REQUIRE(ca);
  CHECK(ca->cert_pem.find("BEGIN CERTIFICATE") != std::string::npos);
  CHECK(ca->key_pem.find("BEGIN PRIVATE KEY") != std::string::npos);
  auto ca_end = pki::not_after(ca->cert_pem);
  REQUIRE(ca_end);
  auto years = std::chrono::duration_cast<std::chrono::hours>(*ca_end - std::chrono::system_clock::now()).count() / 24 / 365;
  CHECK(years >= 9);

  auto serving = pki::issue_serving(*ca, "srv", {"127.0.0.1", "::1", "localhost", "k3dpp-dev-serverlb", "bad name,x"});
  REQUIRE(serving);
  CHECK(pki::verify(ca->cert_pem, serving->cert_pem));
  auto sans = pki::subject_alt_names(serving->cert_pem);
  REQUIRE(sans);
  CHECK(*sans == std::vector<std::string>{"DNS:k3dpp-dev-serverlb", "DNS:localhost", "IP:127.0.0.1", "IP:::1"});

  auto client = pki::issue_client(*ca, "system:node:n1", {"system:nodes", "extra"});
  REQUIRE(client);
  CHECK(pki::verify(ca->cert_pem, client->cert_pem));
  CHECK(*pki::common_name(client->cert_pem) == "system:node:n1");
  CHECK(*pki::organizations(client->cert_pem) == std::vector<std::string>{"system:nodes", "extra"});
  CHECK(pki::key_matches(client->cert_pem, client->key_pem));
  CHECK_FALSE(pki::key_matches(client->cert_pem, serving->key_pem));

  // A certificate from another CA must not verify.
  auto other = pki::generate_ca("other");
  REQUIRE(other);
  auto st = pki::verify(other->cert_pem, client->cert_pem);
  CHECK_FALSE(st);
  CHECK(st.error().message.find("does not verify") != std::string::npos);
  CHECK_FALSE(pki::verify(ca->cert_pem, "garbage"));
}

TEST_CASE("HMAC-SHA256, fingerprints and constant-time compare") {
  // RFC 4231 test case 2.
  CHECK(pki::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  auto ca = pki::generate_ca("fp");
  REQUIRE(ca);
  auto fp = pki::fingerprint_sha256(ca->cert_pem);
  REQUIRE(fp);
  CHECK(fp->size() == 64);
  CHECK(*fp == *pki::fingerprint_sha256(ca->cert_pem));
  CHECK(pki::constant_time_equal("abc", "abc"));
  CHECK_FALSE(pki::constant_time_equal("abc", "abd"));
  CHECK_FALSE(pki::constant_time_equal("abc", "abcd"));
  CHECK(pki::is_ip("10.0.0.1"));
  CHECK(pki::is_ip("fe80::1"));
  CHECK_FALSE(pki::is_ip("localhost"));
}

TEST_CASE("server PKI: first boot writes files, second boot reuses, SAN change re-issues") {
  std::string dir = temp_dir();
  auto sans = pki::default_sans({"k3dpp-dev-server-0", "172.18.0.2"});
  auto first = pki::ensure_server_pki(dir, sans);
  REQUIRE(first);
  CHECK(first->generated_ca);
  for (auto n : {"ca", "serving", "admin"}) {
    CHECK(mode_of(dir + "/server/tls/" + n + ".key") == 0600);
    CHECK(files::exists(dir + "/server/tls/" + n + ".crt"));
  }
  CHECK(mode_of(dir + "/server/tls") == 0700);
  CHECK(pki::verify(first->ca.cert_pem, first->serving.cert_pem));
  CHECK(pki::verify(first->ca.cert_pem, first->admin.cert_pem));
  CHECK(*pki::common_name(first->admin.cert_pem) == "admin");
  CHECK(*pki::organizations(first->admin.cert_pem) == std::vector<std::string>{"system:masters"});
  auto got = pki::subject_alt_names(first->serving.cert_pem);
  REQUIRE(got);
  for (auto want : {"IP:127.0.0.1", "IP:::1", "IP:0.0.0.0", "DNS:localhost", "DNS:kubernetes",
                    "DNS:kubernetes.default.svc.cluster.local", "IP:10.43.0.1",
                    "DNS:k3dpp-dev-server-0", "IP:172.18.0.2"}) {
    CHECK_MESSAGE(std::find(got->begin(), got->end(), std::string(want)) != got->end(), want);
  }

  REQUIRE(pki::write_admin_kubeconfig(dir, *first, "https://127.0.0.1:6443"));
  CHECK(mode_of(dir + "/server/admin.kubeconfig") == 0600);
  auto kc = files::read(dir + "/server/admin.kubeconfig");
  REQUIRE(kc);
  CHECK(kc->find("server: https://127.0.0.1:6443\n") != std::string::npos);
  CHECK(kc->find("client-certificate-data: ") != std::string::npos);
  CHECK(kc->find("current-context: default\n") != std::string::npos);

  auto second = pki::ensure_server_pki(dir, sans);
  REQUIRE(second);
  CHECK_FALSE(second->generated_ca);
  CHECK_FALSE(second->reissued_serving);
  CHECK(second->ca.cert_pem == first->ca.cert_pem);
  CHECK(second->serving.cert_pem == first->serving.cert_pem);
  CHECK(second->admin.cert_pem == first->admin.cert_pem);

  auto more = sans;
  more.push_back("k3dpp-dev-serverlb");
  auto third = pki::ensure_server_pki(dir, more);
  REQUIRE(third);
  CHECK(third->reissued_serving);
  CHECK(third->ca.cert_pem == first->ca.cert_pem);
  CHECK(third->serving.cert_pem != first->serving.cert_pem);
  auto sans3 = pki::subject_alt_names(third->serving.cert_pem);
  CHECK(std::find(sans3->begin(), sans3->end(), std::string("DNS:k3dpp-dev-serverlb")) != sans3->end());

  // A broken CA is an error, never silently replaced (it would orphan every issued cert).
  REQUIRE(files::write_atomic(dir + "/server/tls/ca.key", "junk", 0600));
  auto broken = pki::ensure_server_pki(dir, sans);
  CHECK_FALSE(broken);
  std::filesystem::remove_all(dir);
}
