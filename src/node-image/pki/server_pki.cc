#include "pki/server_pki.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/files.h"
#include "common/log.h"

namespace k3dpp::pki {

namespace {

constexpr int kLeafDays = 365;
constexpr auto kRenewBefore = std::chrono::hours(24 * 30);

std::string base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<CertKey> load_pair(const std::string& dir, const std::string& name) {
  auto crt = files::read(dir + "/" + name + ".crt");
  if (!crt) return unexpected(crt.error());
  auto key = files::read(dir + "/" + name + ".key");
  if (!key) return unexpected(key.error());
  if (!key_matches(*crt, *key)) return fail(name + ".key does not match " + name + ".crt", "Invalid");
  return CertKey{*crt, *key};
}

Status save_pair(const std::string& dir, const std::string& name, const CertKey& ck) {
  // Key first: a crash in between leaves a mismatched pair, which the next boot re-issues.
  K3DPP_TRY(files::write_atomic(dir + "/" + name + ".key", ck.key_pem, 0600));
  K3DPP_TRY(files::write_atomic(dir + "/" + name + ".crt", ck.cert_pem, 0644));
  return {};
}

bool still_good(const CertKey& ca, const CertKey& leaf) {
  if (!verify(ca.cert_pem, leaf.cert_pem)) return false;
  auto end = not_after(leaf.cert_pem);
  return end && *end - std::chrono::system_clock::now() > kRenewBefore;
}

}  // namespace

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return fail("cannot create directory " + cur + ": " + std::strerror(errno));
  }
  return {};
}

std::vector<std::string> default_sans(const std::vector<std::string>& extra) {
  std::vector<std::string> s = {"127.0.0.1", "::1", "0.0.0.0", "localhost", "kubernetes",
                                "kubernetes.default", "kubernetes.default.svc",
                                "kubernetes.default.svc.cluster.local", "10.43.0.1"};
  s.insert(s.end(), extra.begin(), extra.end());
  return s;
}

Result<ServerPki> ensure_server_pki(const std::string& data_dir, const std::vector<std::string>& sans) {
  auto lg = log::get("pki");
  const std::string dir = data_dir + "/server/tls";
  K3DPP_TRY(make_dirs(dir, 0700));
  ::chmod(dir.c_str(), 0700);
  ServerPki out;

  auto ca = load_pair(dir, "ca");
  if (ca) {
    out.ca = *ca;
  } else {
    if (files::exists(dir + "/ca.crt"))
      return unexpected(ca.error().wrap("the cluster CA in " + dir + " is unusable"));
    auto gen = generate_ca("k3dpp-server-ca@" + std::to_string(std::time(nullptr)));
    if (!gen) return unexpected(gen.error());
    K3DPP_TRY(save_pair(dir, "ca", *gen));
    out.ca = *gen;
    out.generated_ca = true;
    lg->info("generated the cluster CA in {}", dir);
  }

  const auto wanted = normalize_sans(sans);
  auto serving = load_pair(dir, "serving");
  bool reuse = serving && still_good(out.ca, *serving);
  if (reuse) {
    auto have = subject_alt_names(serving->cert_pem);
    reuse = have && *have == wanted;
  }
  if (reuse) {
    out.serving = *serving;
  } else {
    auto gen = issue_serving(out.ca, "k3dpp-apiserver", sans, kLeafDays);
    if (!gen) return unexpected(gen.error());
    K3DPP_TRY(save_pair(dir, "serving", *gen));
    out.serving = *gen;
    out.reissued_serving = true;
    lg->info("issued the serving certificate ({} SANs)", wanted.size());
  }

  auto admin = load_pair(dir, "admin");
  if (admin && still_good(out.ca, *admin)) {
    out.admin = *admin;
  } else {
    auto gen = issue_client(out.ca, "admin", {"system:masters"}, kLeafDays);
    if (!gen) return unexpected(gen.error());
    K3DPP_TRY(save_pair(dir, "admin", *gen));
    out.admin = *gen;
  }
  return out;
}

std::string render_kubeconfig(const std::string& name, const std::string& server_url,
                              const std::string& ca_pem, const std::string& cert_pem,
                              const std::string& key_pem) {
  std::string y;
  y += "apiVersion: v1\n";
  y += "kind: Config\n";
  y += "clusters:\n";
  y += "- cluster:\n";
  y += "    certificate-authority-data: " + base64(ca_pem) + "\n";
  y += "    server: " + server_url + "\n";
  y += "  name: " + name + "\n";
  y += "contexts:\n";
  y += "- context:\n";
  y += "    cluster: " + name + "\n";
  y += "    user: " + name + "\n";
  y += "  name: " + name + "\n";
  y += "current-context: " + name + "\n";
  y += "preferences: {}\n";
  y += "users:\n";
  y += "- name: " + name + "\n";
  y += "  user:\n";
  y += "    client-certificate-data: " + base64(cert_pem) + "\n";
  y += "    client-key-data: " + base64(key_pem) + "\n";
  return y;
}

Status write_admin_kubeconfig(const std::string& data_dir, const ServerPki& pki,
                              const std::string& server_url) {
  std::string path = data_dir + "/server/admin.kubeconfig";
  auto st = files::write_atomic(
      path, render_kubeconfig("default", server_url, pki.ca.cert_pem, pki.admin.cert_pem, pki.admin.key_pem),
      0600);
  if (!st) return unexpected(st.error().wrap("writing the admin kubeconfig"));
  return {};
}

}  // namespace k3dpp::pki
