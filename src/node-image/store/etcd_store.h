// An etcd v3 backend for the Store interface (store.h), over etcd's gRPC API (etcd_rpc.proto).
//
// Mapping: object key → key_prefix + key; resourceVersion = etcd mod_revision; create / update /
// remove are Txns comparing create_revision (create) or mod_revision (expected revision); list is
// a Range (at a revision for consistent pages); watch is one Watch stream per Watch from
// from_revision + 1 with prev_kv (so deletes carry the last value); compaction is etcd's Compact,
// with the compacted revision recorded under key_prefix + "compact_rev_key" so every client (and a
// restarted one) knows it. Errors: a compacted revision → "Expired"; etcd unreachable →
// "Unavailable"; other gRPC failures → "Internal".
//
// Note: etcd's own revision starts at 1 (an empty etcd), so the first write is revision 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/store.h"

namespace k3dpp::store {

struct EtcdOptions {
  // "host:port" client endpoints; the first reachable one is used (gRPC pick_first).
  std::vector<std::string> endpoints;
  // TLS (all three PEMs, or none for plain TCP). tls_server_name: the name checked against the
  // server certificate (default "etcd", which k3dpp puts in every etcd serving certificate).
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  std::string tls_server_name = "etcd";
  std::string key_prefix;  // prepended to every key (like kube-apiserver's --etcd-prefix)
  std::chrono::milliseconds timeout{std::chrono::seconds(15)};  // every unary call
};

// Connects (and checks etcd answers within options.timeout).
Result<std::unique_ptr<Store>> open_etcd(const EtcdOptions& options);

struct EtcdMember {
  uint64_t id = 0;
  std::string name;  // empty for a member added but not started yet
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool learner = false;  // a non-voting member (joins without changing the quorum)
};

// etcd's Cluster service: membership of the etcd cluster behind options.endpoints.
Result<std::vector<EtcdMember>> etcd_member_list(const EtcdOptions& options);
// Adds a member with these peer URLs (learner: non-voting until promoted, so a member that never
// starts cannot cost the cluster its quorum); returns the new member and the full list after it.
Result<std::pair<EtcdMember, std::vector<EtcdMember>>> etcd_member_add(const EtcdOptions& options,
                                                                       const std::vector<std::string>& peer_urls,
                                                                       bool learner = false);
// Makes a learner a voting member; etcd refuses ("FailedPrecondition") until it caught up.
Status etcd_member_promote(const EtcdOptions& options, uint64_t id);
Status etcd_member_remove(const EtcdOptions& options, uint64_t id);

}  // namespace k3dpp::store
