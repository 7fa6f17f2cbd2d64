#include "controllers/pod_index.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

PodFacts pod_facts(client::ObjectPtr pod) {
  PodFacts f;
  const json& p = *pod;
  f.obj = std::move(pod);
  if (p.contains("metadata") && p["metadata"].is_object()) {
    const json& m = p["metadata"];
    auto str = [&](const char* k) { return m.contains(k) && m[k].is_string() ? m[k].get<std::string>() : std::string(); };
    f.ns = str("namespace");
    f.name = str("name");
    f.uid = str("uid");
    f.created = parse_rfc3339(str("creationTimestamp")).value_or(TimePoint{});
  }
  if (const json* ref = controller_ref(p)) {
    f.owner_uid = jvalue(*ref, "uid", "");
    f.owner_kind = jvalue(*ref, "kind", "");
    f.owner_name = jvalue(*ref, "name", "");
  }
  f.deleting = is_deleting(p);
  f.active = pod_is_active(p);
  f.scheduled = p.contains("spec") && !jvalue(p["spec"], "nodeName", "").empty();
  std::string phase = p.contains("status") ? jvalue(p["status"], "phase", "") : "";
  f.phase_rank = phase == "Pending" || phase.empty() ? 0 : phase == "Unknown" ? 1 : 2;
  f.ready_since = pod_ready_since(p);
  f.labels_ptr = &labels_of(p);
  for (auto it = f.labels_ptr->begin(); it != f.labels_ptr->end(); ++it) {
    if (!f.labels_key.empty()) f.labels_key += '\x1f';
    f.labels_key += it.key();
    f.labels_key += '=';
    f.labels_key += it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
  }
  return f;
}

namespace {
const json* ready_condition(const json& pod) {
  if (!pod.contains("status") || !pod["status"].contains("conditions")) return nullptr;
  for (const auto& c : pod["status"]["conditions"]) {
    if (c.is_object() && jvalue(c, "type", "") == "Ready") return &c;
  }
  return nullptr;
}
}  // namespace

bool same_for_owner(const json& a, const json& b) {
  if (labels_of(a) != labels_of(b) || is_deleting(a) != is_deleting(b)) return false;
  const json* ra = controller_ref(a);
  const json* rb = controller_ref(b);
  if ((ra == nullptr) != (rb == nullptr) || (ra != nullptr && *ra != *rb)) return false;
  auto phase = [](const json& p) { return p.contains("status") ? jvalue(p["status"], "phase", "") : std::string(); };
  if (phase(a) != phase(b)) return false;
  const json* ca = ready_condition(a);
  const json* cb = ready_condition(b);
  if ((ca == nullptr) != (cb == nullptr)) return false;
  return ca == nullptr || (jvalue(*ca, "status", "") == jvalue(*cb, "status", "") &&
                           jvalue(*ca, "lastTransitionTime", "") == jvalue(*cb, "lastTransitionTime", ""));
}

PodFacts pod_facts(const json& pod) {
  // An aliasing pointer that owns nothing: the caller keeps the pod alive.
  return pod_facts(client::ObjectPtr(client::ObjectPtr(), &pod));
}

PodIndex::PodIndex(client::Informer& pods) {
  pods.add_change_handler(
      [this](const client::ObjectPtr& old_obj, const client::ObjectPtr& cur) { apply(old_obj, cur); });
}

std::string PodIndex::bucket_of(const PodFacts& f) { return f.owner_uid.empty() ? "\x1f" + f.ns : f.owner_uid; }

void PodIndex::apply(const client::ObjectPtr& old_obj, const client::ObjectPtr& cur) {
  // Facts are built outside the lock: the informer thread is the only writer.
  PodFactsPtr facts = cur ? std::make_shared<const PodFacts>(pod_facts(cur)) : nullptr;
  std::string key = client::object_key(cur ? *cur : *old_obj);
  auto count = [](Bucket& b, const PodFacts& f, long long d) {
    if (!f.active) return;
    b.counts.active += d;
    if (f.ready()) b.counts.available += d;
  };
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    auto b = by_owner_.find(bucket_of(*it->second));
    if (b != by_owner_.end()) {
      count(b->second, *it->second, -1);
      b->second.pods.erase(key);
      if (b->second.pods.empty()) by_owner_.erase(b);
    }
    if (!facts) {
      by_key_.erase(it);
      return;
    }
    it->second = facts;
  } else if (facts) {
    by_key_.emplace(key, facts);
  } else {
    return;
  }
  Bucket& b = by_owner_[bucket_of(*facts)];
  b.pods[key] = facts;
  count(b, *facts, 1);
}

std::vector<PodFactsPtr> PodIndex::owned_by(const std::string& owner_uid) const {
  std::vector<PodFactsPtr> out;
  if (owner_uid.empty()) return out;
  std::lock_guard<std::mutex> l(mu_);
  auto b = by_owner_.find(owner_uid);
  if (b == by_owner_.end()) return out;
  out.reserve(b->second.pods.size());
  for (const auto& [k, f] : b->second.pods) out.push_back(f);
  return out;
}

PodCounts PodIndex::counts_owned_by(const std::string& owner_uid) const {
  std::lock_guard<std::mutex> l(mu_);
  auto b = owner_uid.empty() ? by_owner_.end() : by_owner_.find(owner_uid);
  return b == by_owner_.end() ? PodCounts{} : b->second.counts;
}

std::vector<PodFactsPtr> PodIndex::orphans(const std::string& ns) const {
  std::vector<PodFactsPtr> out;
  std::lock_guard<std::mutex> l(mu_);
  auto b = by_owner_.find("\x1f" + ns);
  if (b == by_owner_.end()) return out;
  out.reserve(b->second.pods.size());
  for (const auto& [k, f] : b->second.pods) out.push_back(f);
  return out;
}

PodIndex::OwnerView PodIndex::view(const std::string& owner_uid, const std::string& ns,
                                   const std::vector<std::string>& names) const {
  OwnerView v;
  std::lock_guard<std::mutex> l(mu_);
  auto copy = [&](const std::string& bucket, std::vector<PodFactsPtr>& out) {
    auto b = by_owner_.find(bucket);
    if (b == by_owner_.end()) return;
    out.reserve(b->second.pods.size());
    for (const auto& [k, f] : b->second.pods) out.push_back(f);
  };
  if (!owner_uid.empty()) copy(owner_uid, v.owned);
  copy("\x1f" + ns, v.orphans);
  v.named.reserve(names.size());
  for (const auto& n : names) {
    auto it = by_key_.find(client::object_key(ns, n));
    v.named.push_back(it == by_key_.end() ? nullptr : it->second);
  }
  return v;
}

PodFactsPtr PodIndex::get(const std::string& ns, const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_key_.find(client::object_key(ns, name));
  return it == by_key_.end() ? nullptr : it->second;
}

}  // namespace k3dpp::controllers
