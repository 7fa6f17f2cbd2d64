// The cluster.local zone, built from Services and EndpointSlices (Endpoints as a fallback), in the
// shape of the Kubernetes DNS specification: service A records, headless endpoint records, SRV for
// named ports, PTR for service and pod IPs, pod A records, host.k3dpp.internal.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dns/message.h"

namespace k3dpp::dns {

using json = nlohmann::json;

struct ZoneConfig {
  std::string domain = "cluster.local";
  // host.k3dpp.internal → this address ("" = not answered here, forwarded).
  std::string host_gateway_ip;
  // Reverse lookups inside these are answered here (NXDOMAIN when unknown); others are forwarded.
  std::vector<std::string> cluster_cidrs = {"10.42.0.0/16", "10.43.0.0/16"};
  uint32_t ttl = 5;
};

struct ZoneAnswer {
  uint8_t rcode = rcode::kNoError;
  bool authoritative = true;
  std::vector<Record> answers;
  std::vector<Record> authority;
  std::vector<Record> additional;
};

class Zone {
 public:
  Zone() = default;
  explicit Zone(ZoneConfig config);
  static Zone build(const std::vector<json>& services, const std::vector<json>& endpoint_slices,
                    const std::vector<json>& endpoints, ZoneConfig config);

  // The answer for a question, or nullopt when the name is not ours (forward it upstream).
  std::optional<ZoneAnswer> lookup(const Question& q) const;
  const ZoneConfig& config() const { return config_; }
  size_t record_count() const;

  // Building blocks (public for build() and tests).
  void add(Record r);
  // Makes a name (and its ancestors inside the domain) exist without records.
  void add_name(const std::string& lowercase_name);
  static std::string reverse_name(const std::string& ipv4);  // "10.43.2.1" → "1.2.43.10.in-addr.arpa"

 private:
  Record soa(const std::string& owner) const;
  bool in_cluster_cidrs(const std::string& ipv4) const;

  ZoneConfig config_;
  std::map<std::string, std::vector<Record>> records_;  // lowercase owner → records
  std::set<std::string> names_;                         // owners and their ancestors inside the domain
};

}  // namespace k3dpp::dns
