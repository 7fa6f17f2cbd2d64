// CustomResourceDefinitions in the API server (the jobs of apiextensions-apiserver's naming,
// establishing and finalizing controllers): the served custom types follow the stored CRDs;
// each CRD gets status.acceptedNames, storedVersions and the NamesAccepted / Established
// conditions; a deleted CRD's objects are deleted, then its cleanup finalizer is dropped, which
// completes the delete. Runs after every CRD write and once a second in the background loop (so
// every server of an HA cluster serves what the store holds).
#include <set>

#include "apiserver/internal.h"
#include "node-image/schema/custom_types.h"
#include "common/json_read.h"

namespace k3dpp::apiserver {
namespace {

constexpr const char* kCleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io";

const json& at(const json& o, const char* k) {
  static const json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(k);
  return it == o.end() ? kNull : *it;
}
std::string str(const json& o, const char* k) {
  const json& v = at(o, k);
  return v.is_string() ? v.get<std::string>() : std::string();
}

json condition(const std::string& type, bool ok, const std::string& reason, const std::string& message,
               const json& old_conditions) {
  std::string status = ok ? "True" : "False";
  std::string since = now_rfc3339();
  if (old_conditions.is_array())
    for (const auto& c : old_conditions)
      if (str(c, "type") == type && str(c, "status") == status && c.contains("lastTransitionTime"))
        since = c["lastTransitionTime"];
  return {{"type", type}, {"status", status}, {"lastTransitionTime", since}, {"reason", reason}, {"message", message}};
}

// Names of `names` that another served kind of the same group already uses: "" when none.
std::string name_conflict(const json& crd, std::string& reason) {
  const json& spec = at(crd, "spec");
  const json& names = at(spec, "names");
  std::string group = str(spec, "group"), self = str(at(crd, "metadata"), "name");
  std::set<std::string> kinds, resources;
  for (const auto& t : schema::all_types())
    if (t.group == group) {
      kinds.insert(t.kind);
      kinds.insert(t.list_kind());
      resources.insert(t.plural);
      resources.insert(t.singular);
      for (const auto& s : t.short_names) resources.insert(s);
    }
  for (const auto& t : schema::custom_types())
    if (t->group == group && t->custom->crd_name != self) {
      kinds.insert(t->kind);
      kinds.insert(t->custom->list_kind);
      resources.insert(t->plural);
      resources.insert(t->singular);
      for (const auto& s : t->short_names) resources.insert(s);
    }
  if (resources.count(str(names, "plural"))) {
    reason = "PluralConflict";
    return "\"" + str(names, "plural") + "\" is already in use";
  }
  if (resources.count(str(names, "singular"))) {
    reason = "SingularConflict";
    return "\"" + str(names, "singular") + "\" is already in use";
  }
  if (at(names, "shortNames").is_array())
    for (const auto& s : names["shortNames"])
      if (s.is_string() && resources.count(s.get<std::string>())) {
        reason = "ShortNamesConflict";
        return "\"" + s.get<std::string>() + "\" is already in use";
      }
  if (kinds.count(str(names, "kind"))) {
    reason = "KindConflict";
    return "\"" + str(names, "kind") + "\" is already in use";
  }
  if (kinds.count(str(names, "listKind"))) {
    reason = "ListKindConflict";
    return "\"" + str(names, "listKind") + "\" is already in use";
  }
  return {};
}

}  // namespace

void ApiServer::Impl::sync_custom_resources() {
  std::lock_guard<std::mutex> lock(crd_mu);
  const auto* crdt = schema::find_by_plural("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  if (!crdt) return;
  auto l = store->list(storage_prefix(*crdt, ""), {});
  if (!l) return;
  std::set<std::string> stored;
  for (auto& kv : l->items) {
    json crd = json::parse(kv.value, nullptr, false);
    if (crd.is_discarded() || !crd.is_object()) continue;
    std::string name = str(at(crd, "metadata"), "name");
    stored.insert(name);
    if (crd_revisions.count(name) && crd_revisions[name] == kv.mod_revision) continue;
    try {
      reconcile_custom_resource(*crdt, std::move(crd), kv.mod_revision);
    } catch (const std::exception& e) {
      log->warn("customresourcedefinition {}: {}", name, e.what());
    }
  }
  for (auto it = crd_revisions.begin(); it != crd_revisions.end();) {
    if (!stored.count(it->first)) {
      schema::unregister_custom_resource(it->first);
      log->info("customresourcedefinition {} no longer served", it->first);
      it = crd_revisions.erase(it);
    } else {
      ++it;
    }
  }
}

void ApiServer::Impl::reconcile_custom_resource(const schema::ResourceType& crdt, json crd, int64_t revision) {
  std::string name = str(at(crd, "metadata"), "name");
  json& meta = crd["metadata"];
  json finalizers = meta.is_object() && meta.contains("finalizers") && meta["finalizers"].is_array()
                        ? meta["finalizers"]
                        : json::array();
  if (meta.contains("deletionTimestamp")) {
    // Delete every object of the kind (normal deletes: their finalizers are honoured), then let
    // the CRD go once none is left.
    auto types = schema::custom_types_of(name);
    bool empty = true;
    if (!types.empty()) {
      const auto& t = *types.front();
      auto items = store->list(storage_prefix(t, ""), {});
      if (items && !items->items.empty()) {
        empty = false;
        for (auto& item : items->items) {
          json o = json::parse(item.value, nullptr, false);
          if (o.is_discarded() || !o.is_object() || at(o, "metadata").contains("deletionTimestamp")) continue;
          (void)delete_object(t, str(o["metadata"], "namespace"), str(o["metadata"], "name"), json::object());
        }
      }
    }
    json& status = crd["status"];
    if (!status.is_object()) status = json::object();
    json conditions = jvalue(status, "conditions", json::array());
    json next_conditions = json::array();
    for (const auto& c : conditions)
      if (str(c, "type") != "Terminating") next_conditions.push_back(c);
    next_conditions.push_back(condition("Terminating", true, empty ? "InstanceDeletionCompleted" : "InstanceDeletionInProgress",
                                        empty ? "removed all instances" : "CustomResource deletion is in progress",
                                        conditions));
    status["conditions"] = next_conditions;
    if (empty) {
      json keep = json::array();
      for (const auto& f : finalizers)
        if (f != kCleanupFinalizer) keep.push_back(f);
      meta["finalizers"] = keep;
    }
    json old = json::parse(store->get(storage_key(crdt, "", name)).value_or(store::KeyValue{}).value, nullptr, false);
    if (old.is_discarded()) return;
    auto o = update_object(crdt, "", name, "", crd, old, revision);
    if (std::holds_alternative<ApiError>(o)) return;  // retried next round
    if (empty) {
      schema::unregister_custom_resource(name);
      crd_revisions.erase(name);
      log->info("customresourcedefinition {} deleted with its objects", name);
    }
    return;
  }

  std::string reason;
  std::string conflict = name_conflict(crd, reason);
  json& status = crd["status"];
  if (!status.is_object()) status = json::object();
  json conditions = jvalue(status, "conditions", json::array());
  json next_conditions = json::array();
  const json& spec = at(crd, "spec");
  bool accepted = conflict.empty();
  if (accepted) {
    status["acceptedNames"] = at(spec, "names");
    next_conditions.push_back(condition("NamesAccepted", true, "NoConflicts", "no conflicts found", conditions));
    next_conditions.push_back(
        condition("Established", true, "InitialNamesAccepted", "the initial names have been accepted", conditions));
  } else {
    if (!status.contains("acceptedNames")) status["acceptedNames"] = {{"kind", ""}, {"plural", ""}};
    next_conditions.push_back(condition("NamesAccepted", false, reason, conflict, conditions));
    next_conditions.push_back(condition("Established", false, "NotAccepted", "not all names are accepted", conditions));
  }
  status["conditions"] = next_conditions;
  json stored_versions = jvalue(status, "storedVersions", json::array());
  if (at(spec, "versions").is_array())
    for (const auto& v : spec["versions"])
      if (jvalue(v, "storage", false) &&
          std::find(stored_versions.begin(), stored_versions.end(), jvalue(v, "name", "")) == stored_versions.end())
        stored_versions.push_back(jvalue(v, "name", ""));
  status["storedVersions"] = stored_versions;
  if (std::find(finalizers.begin(), finalizers.end(), kCleanupFinalizer) == finalizers.end()) {
    finalizers.push_back(kCleanupFinalizer);
    meta["finalizers"] = finalizers;
  }

  if (accepted) {
    std::string err = schema::register_custom_resource(crd);
    if (!err.empty()) log->warn("customresourcedefinition {}: {}", name, err);
  } else {
    schema::unregister_custom_resource(name);
  }

  auto kv = store->get(storage_key(crdt, "", name));
  if (!kv || kv->mod_revision != revision) return;  // changed meanwhile: next round
  json old = json::parse(kv->value, nullptr, false);
  if (old.is_discarded()) return;
  if (jvalue(old, "status", json()) == crd["status"] && jvalue(at(old, "metadata"), "finalizers", json()) == meta["finalizers"]) {
    crd_revisions[name] = revision;
    return;
  }
  auto w = store->update(kv->key, crd.dump(), revision);
  if (w) {
    crd_revisions[name] = w->mod_revision;
    log->info("customresourcedefinition {} {}", name, accepted ? "established" : "not accepted: " + conflict);
  }
}

}  // namespace k3dpp::apiserver
