#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "cluster/kubeconfig.h"
#include "common/files.h"
#include "golden.h"
#include "test_data.h"

using namespace k3dpp;
using namespace k3dpp::cluster;
using k3dpp::testing::check_golden;

namespace {
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/k3dpp-kc-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};
}  // namespace

TEST_CASE("admin.kubeconfig is renamed to k3dpp names and pointed at the API port (golden)") {
  auto kc = make_cluster_kubeconfig(kAdminKubeconfig, "dev", "0.0.0.0", 45273);
  REQUIRE(kc);
  check_golden("kubeconfig-dev.yaml", *kc);
  auto creds = client_credentials(*kc);
  REQUIRE(creds);
  CHECK(creds->server == "https://127.0.0.1:45273");
  CHECK(creds->ca_pem == "CA-PEM");
  CHECK(creds->cert_pem == "CERT-PEM");
  CHECK(creds->key_pem == "KEY-PEM");
  CHECK_FALSE(make_cluster_kubeconfig("a: [", "dev", "", 1));
  CHECK_FALSE(make_cluster_kubeconfig("apiVersion: v1\n", "dev", "", 1));
}

TEST_CASE("merge into an existing kubeconfig keeps other entries, replaces ours, switches context (golden)") {
  std::string existing = R"(apiVersion: v1
clusters:
- cluster:
    server: https://10.0.0.1:6443
  name: other
contexts:
- context:
    cluster: other
    user: other
  name: other
current-context: other
kind: Config
preferences: {}
users:
- name: other
  user:
    token: abc
)";
  auto dev = *make_cluster_kubeconfig(kAdminKubeconfig, "dev", "127.0.0.1", 40000);
  auto test = *make_cluster_kubeconfig(kAdminKubeconfig, "test", "127.0.0.1", 40001);
  auto m1 = merge_kubeconfig(existing, dev, true);
  REQUIRE(m1);
  auto m2 = merge_kubeconfig(*m1, test, true);
  REQUIRE(m2);
  // Re-merging dev with a new port replaces its entry instead of adding a second one.
  auto dev2 = *make_cluster_kubeconfig(kAdminKubeconfig, "dev", "127.0.0.1", 40002);
  auto m3 = merge_kubeconfig(*m2, dev2, false);
  REQUIRE(m3);
  check_golden("kubeconfig-merged.yaml", *m3);
  CHECK(m3->find("40000") == std::string::npos);
  CHECK(m3->find("current-context: k3dpp-test") != std::string::npos);

  auto removed = remove_cluster_from_kubeconfig(*m3, "test");
  REQUIRE(removed);
  check_golden("kubeconfig-removed.yaml", *removed);
  CHECK(removed->find("k3dpp-test") == std::string::npos);
  CHECK(removed->find("current-context: \"\"") != std::string::npos);
  auto removed_dev = remove_cluster_from_kubeconfig(*m3, "dev");
  REQUIRE(removed_dev);
  CHECK(removed_dev->find("current-context: k3dpp-test") != std::string::npos);
}

TEST_CASE("kubeconfig files: created with parent dirs, mode 0600, entries removed") {
  TempDir d;
  std::string path = d.path + "/nested/.kube/config";
  auto dev = *make_cluster_kubeconfig(kAdminKubeconfig, "dev", "127.0.0.1", 40000);
  REQUIRE(merge_into_file(path, dev, true));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto content = files::read(path);
  REQUIRE(content);
  CHECK(content->find("name: k3dpp-dev") != std::string::npos);
  CHECK(content->find("current-context: k3dpp-dev") != std::string::npos);
  REQUIRE(remove_from_file(path, "dev"));
  content = files::read(path);
  REQUIRE(content);
  CHECK(content->find("k3dpp-dev") == std::string::npos);
  CHECK(remove_from_file(d.path + "/missing", "dev"));
  // No temp files left behind.
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(d.path + "/nested/.kube")) {
    (void)e;
    ++n;
  }
  CHECK(n == 1);
}

TEST_CASE("default kubeconfig path: first $KUBECONFIG entry, else ~/.kube/config") {
  const char* old_kc = std::getenv("KUBECONFIG");
  std::string saved = old_kc ? old_kc : "";
  ::setenv("KUBECONFIG", "/a/one:/b/two", 1);
  CHECK(default_kubeconfig_path() == "/a/one");
  ::unsetenv("KUBECONFIG");
  ::setenv("HOME", "/home/x", 1);
  CHECK(default_kubeconfig_path() == "/home/x/.kube/config");
  if (old_kc) ::setenv("KUBECONFIG", saved.c_str(), 1);
}

TEST_CASE("removing the last cluster leaves a clean, valid kubeconfig") {
  auto dev = *make_cluster_kubeconfig(kAdminKubeconfig, "dev", "127.0.0.1", 40000);
  auto out = remove_cluster_from_kubeconfig(dev, "dev");
  REQUIRE(out);
  CHECK(*out ==
        "apiVersion: v1\nclusters: []\ncontexts: []\ncurrent-context: \"\"\nkind: Config\npreferences: {}\nusers: []\n");
}
