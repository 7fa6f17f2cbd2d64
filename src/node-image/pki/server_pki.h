// The server's PKI on disk, per docs/node-contract.md:
//   <data-dir>/server/tls/{ca,serving,admin}.{crt,key}   (keys 0600, directory 0700)
//   <data-dir>/server/admin.kubeconfig                   (0600)
// First boot generates everything; later boots reuse it. The serving certificate is re-issued when
// its SANs differ from the wanted ones, it no longer verifies against the CA, or it expires
// within 30 days; the admin certificate likewise when it is invalid or about to expire.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "pki/pki.h"

namespace k3dpp::pki {

struct ServerPki {
  CertKey ca;
  CertKey serving;
  CertKey admin;
  bool generated_ca = false;       // true on first boot
  bool reissued_serving = false;   // serving cert written this boot
};

// The SANs every serving certificate carries, plus `extra` (node IPs, hostname, --tls-san).
std::vector<std::string> default_sans(const std::vector<std::string>& extra);

Result<ServerPki> ensure_server_pki(const std::string& data_dir, const std::vector<std::string>& sans);

// A kubeconfig with cluster/context/user `name`, embedded CA, client cert and key.
std::string render_kubeconfig(const std::string& name, const std::string& server_url,
                              const std::string& ca_pem, const std::string& cert_pem,
                              const std::string& key_pem);
// Writes <data-dir>/server/admin.kubeconfig (0600) for the admin certificate.
Status write_admin_kubeconfig(const std::string& data_dir, const ServerPki& pki,
                              const std::string& server_url);

// mkdir -p with the given mode for directories it creates.
Status make_dirs(const std::string& path, mode_t mode);

}  // namespace k3dpp::pki
