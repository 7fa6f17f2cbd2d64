// Kubeconfig handling: rename the server's admin.kubeconfig to k3dpp names, merge it into the
// user's kubeconfig (0600, atomic write), remove a cluster's entries. yaml-cpp exceptions stay here.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace k3dpp::cluster {

// Client credentials of one kubeconfig user, PEM decoded from the *-data fields.
struct ClientCreds {
  std::string server;  // https://127.0.0.1:PORT
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

// From the server's admin.kubeconfig, a kubeconfig with cluster and context `k3dpp-NAME`, user
// `admin@k3dpp-NAME`, server https://HOST:PORT (HOST 0.0.0.0 or "" becomes 127.0.0.1) and
// current-context k3dpp-NAME.
Result<std::string> make_cluster_kubeconfig(const std::string& admin_yaml, const std::string& cluster,
                                            const std::string& host, uint16_t port);

// Merges `add` (a kubeconfig as made above) into `existing` (may be empty): entries with the same
// names are replaced, others kept in order; current-context switched when switch_context.
Result<std::string> merge_kubeconfig(const std::string& existing, const std::string& add, bool switch_context);
// update false: an existing entry of the same name that differs is an error instead (k3d's -u=false).
Result<std::string> merge_kubeconfig(const std::string& existing, const std::string& add, bool switch_context,
                                     bool update);

// Removes cluster/context `k3dpp-NAME` and user `admin@k3dpp-NAME`; unsets current-context ("")
// when it pointed at the removed context.
Result<std::string> remove_cluster_from_kubeconfig(const std::string& existing, const std::string& cluster);

// The user's kubeconfig: first path of $KUBECONFIG, else $HOME/.kube/config.
std::string default_kubeconfig_path();

// File versions of merge/remove: read (missing file = empty), transform, create parent dirs,
// write atomically with mode 0600. Removing from a missing file does nothing.
Status merge_into_file(const std::string& path, const std::string& add, bool switch_context);
// overwrite: ignore what the file holds (k3d's --overwrite).
Status merge_into_file(const std::string& path, const std::string& add, bool switch_context, bool update,
                       bool overwrite);
Status remove_from_file(const std::string& path, const std::string& cluster);

// Server URL and decoded client credentials of the current (or only) context.
Result<ClientCreds> client_credentials(const std::string& kubeconfig_yaml);

std::string base64_decode(const std::string& in);

}  // namespace k3dpp::cluster
