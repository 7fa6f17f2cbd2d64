// HA servers (k3s's embedded-etcd design): `k3dpp-node server --cluster-init` runs a real etcd
// (EtcdProcess) and serves the API from it; `k3dpp-node server --server URL` (with the cluster's
// token) joins: it fetches the cluster CA (cert + key) from an existing server over the
// token-authenticated bootstrap, asks that server to add it as an etcd member, starts etcd joining
// the existing cluster and serves the same API from it. Single-server clusters never get here.
//
// Bootstrap endpoints of HA servers (besides /cacerts and node-credentials), Bearer <server token>
// (the servers' own token, as k3s's server token: the node token agents hold is refused, so an
// agent cannot obtain the CA key):
//   POST /k3dpp/v1/server-bootstrap  {}                          → {"caCert":PEM,"caKey":PEM}
//   POST /k3dpp/v1/etcd-members      {"name":N,"peerURL":U}      → {"initialCluster":"a=U1,N=U",
//        "memberID":"<decimal>"} (MemberAdd as a learner on the server's etcd, so a member that
//        never starts costs no quorum; an old member with the same name or peer URL — a server
//        re-created with empty data — is removed first)
//   POST /k3dpp/v1/etcd-members/promote {"memberID":"<decimal>"} → 200 once promoted to voter,
//        409 while the learner has not caught up yet (the joiner retries)
// Files: <data-dir>/server/tls/etcd.{crt,key} (serving + client + peer, SANs: advertise host,
// node name, host IPs, 127.0.0.1, localhost, "etcd"); etcd data in <data-dir>/server/db/etcd.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "httpserver/http.h"
#include "pki/pki.h"
#include "store/etcd_process.h"
#include "store/etcd_store.h"
#include "store/store.h"

namespace k3dpp::nodecmd {

inline constexpr const char* kServerBootstrapPath = "/k3dpp/v1/server-bootstrap";
inline constexpr const char* kEtcdMembersPath = "/k3dpp/v1/etcd-members";
inline constexpr const char* kEtcdPromotePath = "/k3dpp/v1/etcd-members/promote";

struct HaOptions {
  bool cluster_init = false;
  std::string join_url;          // https://server:6443 (joining servers)
  std::string token;         // the node token (checks the /cacerts HMAC)
  std::string server_token;  // the servers' token (server-bootstrap, etcd-members)
  std::string data_dir;
  std::string node_name;
  std::string advertise_host;    // IP or name other servers reach us at (etcd peer/client URLs)
  std::string listen_host = "0.0.0.0";  // etcd listens here (an IP)
  int etcd_client_port = 2379;
  int etcd_peer_port = 2380;
  std::string etcd_binary = "etcd";
  std::vector<std::string> sans;  // extra SANs for the etcd certificate (host IPs, names)
};

// Joining servers, before the PKI is set up: GET /cacerts (checked with the token's HMAC), then
// `k3dpp-node etcd-member-remove NAME` (the CLI runs it in another server when a server node is
// deleted): removes the etcd member named NAME through this server's local etcd (127.0.0.1:client_port,
// its etcd client certificate under <data-dir>/server/tls). NotFound when no member has that name.
Status remove_etcd_member(const std::string& data_dir, int client_port, const std::string& name);

// POST server-bootstrap over the pinned CA; writes <data-dir>/server/tls/ca.{crt,key} unless a CA
// is already there (a restart).
Status fetch_cluster_ca(const HaOptions& options);

// A running etcd member and the store over it (through 127.0.0.1).
struct EtcdMemberNode {
  std::unique_ptr<store::EtcdProcess> process;
  store::EtcdOptions client;  // local endpoint + TLS
  std::shared_ptr<store::Store> store;
};

// Issues the etcd certificate, then: data already there → restart that member; --cluster-init →
// a new one-member cluster; --server → MemberAdd through join_url, start with the returned
// initial cluster. Waits until etcd answers (up to 3 min).
Result<EtcdMemberNode> start_etcd_member(const HaOptions& options, const pki::CertKey& ca);

class HaEndpoints {
 public:
  HaEndpoints(pki::CertKey ca, std::string token, store::EtcdOptions etcd);
  static bool handles(const std::string& path);
  void handle(const http::Request& req, http::Responder& r) const;

 private:
  bool authorized(const http::Request& req) const;
  pki::CertKey ca_;
  std::string token_;
  store::EtcdOptions etcd_;
};

}  // namespace k3dpp::nodecmd
