// Bootstrap objects, Service IP/NodePort allocation, background work (compaction, the simple
// built-in namespace finalizer).
#include <arpa/inet.h>
#include <openssl/rand.h>

#include <ctime>
#include <set>

#include "apiserver/internal.h"
#include "node-image/schema/custom_types.h"
#include "common/strings.h"
#include "common/guard.h"
#include "common/json_read.h"

namespace k3dpp::apiserver {

namespace {

uint32_t random_u32() {
  uint32_t v = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v);
  return v;
}

bool parse_cidr(const std::string& cidr, uint32_t& base, int& bits) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  in_addr a{};
  if (inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &a) != 1) return false;
  long long b;
  if (!strings::parse_int(cidr.substr(slash + 1), b) || b < 8 || b > 30) return false;
  bits = static_cast<int>(b);
  uint32_t mask = bits == 0 ? 0 : ~uint32_t(0) << (32 - bits);
  base = ntohl(a.s_addr) & mask;
  return true;
}

std::optional<uint32_t> parse_ip(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string ip_string(uint32_t ip) {
  in_addr a{};
  a.s_addr = htonl(ip);
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

json cause(const std::string& field, const std::string& message, const std::string& reason = "FieldValueInvalid") {
  return {{"reason", reason}, {"message", message}, {"field", field}};
}

}  // namespace

std::optional<ApiError> ApiServer::Impl::allocate_service(const schema::ResourceType& t, json& svc,
                                                          const json* old) {
  auto gr = group_resource(t);
  std::string name = jvalue(svc["metadata"], "name", "");
  std::string key = storage_key(t, jvalue(svc["metadata"], "namespace", ""), name);
  json& spec = svc["spec"];
  std::string type = jvalue(spec, "type", "ClusterIP");
  // What other services hold.
  std::set<uint32_t> used_ips;
  std::set<int> used_ports;
  auto all = store->list(storage_prefix(t, ""));
  if (!all) return internal_error(all.error().message);
  for (auto& kv : all->items) {
    if (kv.key == key) continue;
    json o = json::parse(kv.value, nullptr, false);
    if (o.is_discarded() || !o.contains("spec")) continue;
    if (auto ip = parse_ip(jvalue(o["spec"], "clusterIP", ""))) used_ips.insert(*ip);
    for (auto& p : jvalue(o["spec"], "ports", json::array())) {
      if (p.contains("nodePort") && p["nodePort"].is_number_integer()) used_ports.insert(p["nodePort"].get<int>());
    }
  }
  uint32_t base = 0;
  int bits = 16;
  if (!parse_cidr(opts.service_cidr, base, bits)) return internal_error("bad service CIDR " + opts.service_cidr);
  uint32_t size = uint32_t(1) << (32 - bits);
  json causes = json::array();

  if (type == "ExternalName") {
    spec.erase("clusterIP");
    spec.erase("clusterIPs");
  } else {
    std::string want = jvalue(spec, "clusterIP", "");
    std::string had = old && (*old)["spec"].contains("clusterIP") ? jvalue((*old)["spec"], "clusterIP", "") : "";
    if (want.empty() && !had.empty()) want = had;
    if (want == "None") {
      spec["clusterIPs"] = json::array({"None"});
    } else if (!want.empty()) {
      auto ip = parse_ip(want);
      if (!ip || (*ip & ~(size - 1)) != base || *ip == base || *ip == base + size - 1) {
        causes.push_back(cause("spec.clusterIPs", "Invalid value: []string{\"" + want + "\"}: failed to allocate IP " +
                                                      want + ": the provided IP (" + want +
                                                      ") is not in the valid range. The range of valid IPs is " +
                                                      opts.service_cidr));
      } else if (want != had && used_ips.count(*ip)) {
        causes.push_back(cause("spec.clusterIPs", "Invalid value: []string{\"" + want + "\"}: failed to allocate IP " +
                                                      want + ": provided IP is already allocated"));
      } else {
        spec["clusterIP"] = want;
        spec["clusterIPs"] = json::array({want});
      }
    } else {
      // Random free address; .1 (kubernetes) and .10 (kube-dns) are only given on request.
      std::optional<uint32_t> got;
      for (int tries = 0; tries < 64 && !got; ++tries) {
        uint32_t ip = base + 11 + random_u32() % (size - 12);
        if (!used_ips.count(ip)) got = ip;
      }
      for (uint32_t ip = base + 11; !got && ip < base + size - 1; ++ip) {
        if (!used_ips.count(ip)) got = ip;
      }
      if (!got) return internal_error("failed to allocate a serviceIP: range is full");
      spec["clusterIP"] = ip_string(*got);
      spec["clusterIPs"] = json::array({ip_string(*got)});
    }
    spec["ipFamilies"] = json::array({"IPv4"});
    if (!spec.contains("ipFamilyPolicy")) spec["ipFamilyPolicy"] = "SingleStack";
  }

  bool node_ports = type == "NodePort" || type == "LoadBalancer";
  std::set<int> old_ports;
  if (old) {
    for (auto& p : jvalue((*old)["spec"], "ports", json::array())) {
      if (p.contains("nodePort") && p["nodePort"].is_number_integer()) old_ports.insert(p["nodePort"].get<int>());
    }
  }
  if (spec.contains("ports") && spec["ports"].is_array()) {
    std::set<int> mine;
    for (size_t i = 0; i < spec["ports"].size(); ++i) {
      json& p = spec["ports"][i];
      if (!node_ports) {
        p.erase("nodePort");
        continue;
      }
      std::string field = "spec.ports[" + std::to_string(i) + "].nodePort";
      if (p.contains("nodePort") && p["nodePort"].is_number_integer() && p["nodePort"].get<int>() != 0) {
        int np = p["nodePort"].get<int>();
        if (np < opts.node_port_min || np > opts.node_port_max) {
          causes.push_back(cause(field, "Invalid value: " + std::to_string(np) +
                                            ": provided port is not in the valid range. The range of valid ports is " +
                                            std::to_string(opts.node_port_min) + "-" +
                                            std::to_string(opts.node_port_max)));
        } else if ((used_ports.count(np) || mine.count(np)) && !old_ports.count(np)) {
          causes.push_back(cause(field, "Invalid value: " + std::to_string(np) + ": provided port is already allocated"));
        } else {
          mine.insert(np);
        }
        continue;
      }
      // Keep the port this service already had at the same index, else a random free one.
      int keep = 0;
      if (old) {
        auto ops = jvalue((*old)["spec"], "ports", json::array());
        if (i < ops.size() && ops[i].contains("nodePort") && ops[i]["nodePort"].is_number_integer()) {
          keep = ops[i]["nodePort"].get<int>();
        }
      }
      int range = opts.node_port_max - opts.node_port_min + 1;
      int got = 0;
      if (keep && !mine.count(keep)) got = keep;
      for (int tries = 0; tries < 64 && !got; ++tries) {
        int np = opts.node_port_min + static_cast<int>(random_u32() % static_cast<uint32_t>(range));
        if (!used_ports.count(np) && !mine.count(np)) got = np;
      }
      for (int np = opts.node_port_min; !got && np <= opts.node_port_max; ++np) {
        if (!used_ports.count(np) && !mine.count(np)) got = np;
      }
      if (!got) return internal_error("failed to allocate a nodePort: range is full");
      p["nodePort"] = got;
      mine.insert(got);
    }
  }
  if (!causes.empty()) return invalid(gr, t.kind, name, causes);
  return std::nullopt;
}

Status ApiServer::Impl::bootstrap() {
  const auto* nst = schema::find_by_plural("", "v1", "namespaces");
  const auto* svct = schema::find_by_plural("", "v1", "services");
  if (!nst || !svct) return fail("schema has no namespaces/services");
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    if (read(*nst, "", ns)) continue;
    json obj = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
    auto o = create_object(*nst, "", obj);
    if (auto* e = std::get_if<ApiError>(&o)) {
      if (e->code != 409) return fail("create namespace " + std::string(ns) + ": " + e->status.dump());
    }
  }
  if (!read(*svct, "default", "kubernetes")) {
    uint32_t base = 0;
    int bits = 16;
    if (!parse_cidr(opts.service_cidr, base, bits)) return fail("bad service CIDR " + opts.service_cidr);
    json svc = {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata",
                 {{"name", "kubernetes"},
                  {"labels", {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
                {"spec",
                 {{"type", "ClusterIP"},
                  {"clusterIP", ip_string(base + 1)},
                  {"sessionAffinity", "None"},
                  {"ports", json::array({{{"name", "https"}, {"port", 443}, {"protocol", "TCP"},
                                          {"targetPort", opts.advertise_port}}})}}}};
    auto o = create_object(*svct, "default", svc);
    if (auto* e = std::get_if<ApiError>(&o)) {
      if (e->code != 409) return fail("create service kubernetes: " + e->status.dump());
    }
  }
  if (!opts.advertise_address.empty()) {
    if (const auto* ept = schema::find_by_plural("", "v1", "endpoints"); ept && !read(*ept, "default", "kubernetes")) {
      json ep = {{"apiVersion", "v1"},
                 {"kind", "Endpoints"},
                 {"metadata", {{"name", "kubernetes"}, {"labels", {{"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
                 {"subsets", json::array({{{"addresses", json::array({{{"ip", opts.advertise_address}}})},
                                           {"ports", json::array({{{"name", "https"},
                                                                   {"port", opts.advertise_port},
                                                                   {"protocol", "TCP"}}})}}})}};
      (void)create_object(*ept, "default", ep);
    }
  }
  return {};
}

void ApiServer::Impl::finalize_namespaces() {
  const auto* nst = schema::find_by_plural("", "v1", "namespaces");
  auto l = store->list(storage_prefix(*nst, ""));
  if (!l) return;
  for (auto& kv : l->items) {
    json ns = json::parse(kv.value, nullptr, false);
    if (ns.is_discarded() || !ns["metadata"].contains("deletionTimestamp")) continue;
    std::string name = jvalue(ns["metadata"], "name", "");
    // Delete the namespace's contents, type by type.
    bool empty = true;
    std::vector<const schema::ResourceType*> types;
    for (const auto& t : schema::all_types()) types.push_back(&t);
    auto custom = schema::custom_types();  // keeps them alive for this round
    for (const auto& t : custom) types.push_back(t.get());
    for (const auto* tp : types) {
      const auto& t = *tp;
      if (!t.namespaced) continue;
      auto items = store->list(storage_prefix(t, name));
      if (!items || items->items.empty()) continue;
      empty = false;
      for (auto& item : items->items) {
        json o = json::parse(item.value, nullptr, false);
        if (o.is_discarded() || o["metadata"].contains("deletionTimestamp")) continue;  // already going
        // A normal delete: finalizers and graceful pod termination are honoured.
        (void)delete_object(t, name, jvalue(o["metadata"], "name", ""), json::object());
      }
    }
    if (!empty) continue;  // next round: confirm nothing is left
    // Empty: drop the "kubernetes" finalizer, then the namespace itself.
    json spec_f = jvalue(ns["spec"], "finalizers", json::array());
    json keep = json::array();
    for (auto& f : spec_f) {
      if (f != "kubernetes") keep.push_back(f);
    }
    if (!keep.empty() || !jvalue(ns["metadata"], "finalizers", json::array()).empty()) {
      ns["spec"]["finalizers"] = keep;
      (void)store->update(kv.key, ns.dump(), kv.mod_revision);
      continue;
    }
    (void)store->remove(kv.key, kv.mod_revision);
    log->info("namespace {} deleted", name);
  }
}

// The pvc-protection / pv-protection controllers: a PVC being deleted loses its finalizer once no
// running pod uses it; a PV being deleted once it is not Bound.
void ApiServer::Impl::release_storage_protection() {
  const auto* pvct = schema::find_by_plural("", "v1", "persistentvolumeclaims");
  const auto* pvt = schema::find_by_plural("", "v1", "persistentvolumes");
  const auto* podt = schema::find_by_plural("", "v1", "pods");
  if (!pvct || !pvt || !podt) return;
  auto drop = [&](const schema::ResourceType& t, json obj, const std::string& finalizer) {
    json keep = json::array();
    for (auto& f : jvalue(obj["metadata"], "finalizers", json::array())) {
      if (f != finalizer) keep.push_back(f);
    }
    std::string ns = jvalue(obj["metadata"], "namespace", "");
    std::string name = jvalue(obj["metadata"], "name", "");
    int64_t rev = 0;
    auto cur = read(t, ns, name, &rev);
    if (!cur) return;
    json next = *cur;
    next["metadata"]["finalizers"] = keep;
    (void)update_object(t, ns, name, "", next, *cur, rev);
  };
  auto pvcs = store->list(storage_prefix(*pvct, ""));
  if (pvcs) {
    for (auto& kv : pvcs->items) {
      json pvc = json::parse(kv.value, nullptr, false);
      if (pvc.is_discarded() || !pvc["metadata"].contains("deletionTimestamp")) continue;
      std::string ns = jvalue(pvc["metadata"], "namespace", "");
      std::string name = jvalue(pvc["metadata"], "name", "");
      bool used = false;
      auto pods = store->list(storage_prefix(*podt, ns));
      if (pods) {
        for (auto& pkv : pods->items) {
          json pod = json::parse(pkv.value, nullptr, false);
          if (pod.is_discarded()) continue;
          std::string phase = pod.contains("status") ? jvalue(pod["status"], "phase", "") : "";
          if (phase == "Succeeded" || phase == "Failed") continue;
          for (auto& v : jvalue(pod["spec"], "volumes", json::array())) {
            if (v.contains("persistentVolumeClaim") && jvalue(v["persistentVolumeClaim"], "claimName", "") == name) {
              used = true;
            }
          }
        }
      }
      if (!used) drop(*pvct, pvc, "kubernetes.io/pvc-protection");
    }
  }
  auto pvs = store->list(storage_prefix(*pvt, ""));
  if (pvs) {
    for (auto& kv : pvs->items) {
      json pv = json::parse(kv.value, nullptr, false);
      if (pv.is_discarded() || !pv["metadata"].contains("deletionTimestamp")) continue;
      std::string phase = pv.contains("status") ? jvalue(pv["status"], "phase", "") : "";
      if (phase != "Bound") drop(*pvt, pv, "kubernetes.io/pv-protection");
    }
  }
}

// Events live one hour (kube-apiserver's --event-ttl default).
void ApiServer::Impl::expire_events() {
  const auto* evt = schema::find_by_plural("", "v1", "events");
  if (!evt) return;
  auto l = store->list(storage_prefix(*evt, ""));
  if (!l) return;
  std::time_t now = std::time(nullptr);
  for (auto& kv : l->items) {
    json e = json::parse(kv.value, nullptr, false);
    if (e.is_discarded()) continue;
    std::string ts = jvalue(e, "lastTimestamp", json()).is_string() ? jvalue(e, "lastTimestamp", "") : "";
    if (ts.empty() && jvalue(e, "eventTime", json()).is_string()) ts = jvalue(e, "eventTime", "");
    if (ts.empty()) ts = jvalue(e["metadata"], "creationTimestamp", "");
    std::tm tm{};
    if (ts.size() < 19 || !strptime(ts.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) continue;
    if (now - timegm(&tm) > 3600) (void)store->remove(kv.key, kv.mod_revision);
  }
}

void ApiServer::Impl::background_loop() {
  auto last_compact = std::chrono::steady_clock::now();
  while (!stopping.load()) {
    {
      std::unique_lock<std::mutex> l(bg_mu);
      bg_cv.wait_for(l, std::chrono::seconds(1), [&] { return stopping.load(); });
    }
    if (stopping.load()) break;
    // Each step on its own: a malformed stored object is logged and skipped, never the end of
    // the loop (or, through an escaping exception, of the process).
    log::guarded(log, "custom resources", [&] { sync_custom_resources(); });
    if (opts.builtin_namespace_finalizer) log::guarded(log, "namespace finalizer", [&] { finalize_namespaces(); });
    log::guarded(log, "pvc/pv protection", [&] { release_storage_protection(); });
    if (std::chrono::steady_clock::now() - last_compact > std::chrono::minutes(1)) {
      log::guarded(log, "event expiry", [&] { expire_events(); });
      last_compact = std::chrono::steady_clock::now();
      if (auto st = store->compact_keep(opts.compact_keep_revisions, std::chrono::seconds(opts.compact_min_age_seconds));
          !st) {
        log->warn("compaction: {}", st.error().message);
      }
    }
  }
}

}  // namespace k3dpp::apiserver
