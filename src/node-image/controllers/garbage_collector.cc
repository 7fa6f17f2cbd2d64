// Garbage collector: deletes dependents whose owners are gone (background), deletes dependents
// of an owner carrying the foregroundDeletion finalizer before releasing it, and orphans the
// dependents of an owner carrying the orphan finalizer.
#include <set>

#include "controllers/internal.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

struct Tracked {
  client::Resource resource;
  std::string kind;
};

const std::vector<Tracked>& tracked() {
  static const std::vector<Tracked> kTracked = {
      {client::res::kPods, "Pod"},
      {client::res::kReplicaSets, "ReplicaSet"},
      {client::res::kDeployments, "Deployment"},
      {client::res::kEndpointSlices, "EndpointSlice"},
      {client::Resource{"batch/v1", "jobs"}, "Job"},
      {client::Resource{"batch/v1", "cronjobs"}, "CronJob"},
  };
  return kTracked;
}

bool has_finalizer(const json& obj, const std::string& f) {
  if (!obj.contains("metadata") || !obj["metadata"].contains("finalizers")) return false;
  for (const auto& x : obj["metadata"]["finalizers"]) {
    if (x == f) return true;
  }
  return false;
}

class GarbageCollector : public Controller {
 public:
  explicit GarbageCollector(Context ctx) : Controller(ctx, "garbagecollector", 2) {
    for (const auto& t : tracked()) informers_.push_back(&ctx.informers.get(t.resource));
  }

  void setup() override {
    for (size_t i = 0; i < informers_.size(); ++i) {
      informers_[i]->add_handlers({[this, i](const json& o) { changed(i, o, false); },
                                   [this, i](const json&, const json& o) { changed(i, o, false); },
                                   [this, i](const json& o) { changed(i, o, true); }});
    }
  }

 private:
  void changed(size_t idx, const json& obj, bool deleted) {
    std::string key = std::to_string(idx) + "|" + client::object_key(obj);
    std::string uid = meta_str(obj, "uid");
    std::vector<std::string> dependents;
    {
      std::lock_guard<std::mutex> l(mu_);
      // Index: owner uid → dependent keys.
      if (obj.contains("metadata") && obj["metadata"].contains("ownerReferences")) {
        for (const auto& r : obj["metadata"]["ownerReferences"]) {
          if (deleted) {
            auto it = index_.find(jvalue(r, "uid", ""));
            if (it != index_.end()) it->second.erase(key);
          } else {
            index_[jvalue(r, "uid", "")].insert(key);
          }
        }
      }
      if (deleted || is_deleting(obj)) {
        auto it = index_.find(uid);
        if (it != index_.end()) dependents.assign(it->second.begin(), it->second.end());
        if (deleted) index_.erase(uid);
      }
    }
    if (!deleted) {
      bool has_owners = obj.contains("metadata") && obj["metadata"].contains("ownerReferences") &&
                        !obj["metadata"]["ownerReferences"].empty();
      if (has_owners) enqueue("dep|" + key);
      if (is_deleting(obj) && (has_finalizer(obj, "foregroundDeletion") || has_finalizer(obj, "orphan"))) {
        enqueue("own|" + key);
      }
    }
    for (const auto& d : dependents) enqueue("dep|" + d);
  }

  const Tracked* tracked_by_kind(const std::string& kind, size_t* idx) {
    for (size_t i = 0; i < tracked().size(); ++i) {
      if (tracked()[i].kind == kind) {
        if (idx) *idx = i;
        return &tracked()[i];
      }
    }
    return nullptr;
  }

  // Whether the owner named by ref exists (same uid). Unknown kinds count as existing.
  bool owner_exists(const std::string& ns, const json& ref, bool* deleting_foreground) {
    size_t idx = 0;
    const Tracked* t = tracked_by_kind(jvalue(ref, "kind", ""), &idx);
    if (t == nullptr) return true;
    std::string name = jvalue(ref, "name", "");
    auto cached = informers_[idx]->get(ns, name);
    if (cached && meta_str(*cached, "uid") == jvalue(ref, "uid", "")) {
      if (deleting_foreground) *deleting_foreground = is_deleting(*cached) && has_finalizer(*cached, "foregroundDeletion");
      return true;
    }
    // Not in our cache (maybe not seen yet): ask the API server.
    auto live = ctx_.client.get(t->resource, ns, name);
    if (!live) return live.error().kind != "NotFound";
    if (meta_str(*live, "uid") != jvalue(ref, "uid", "")) return false;
    if (deleting_foreground) *deleting_foreground = is_deleting(*live) && has_finalizer(*live, "foregroundDeletion");
    return true;
  }

  std::optional<std::chrono::milliseconds> sync(const std::string& qkey) override {
    std::string role = qkey.substr(0, 3);
    std::string rest = qkey.substr(4);
    size_t bar = rest.find('|');
    size_t idx = std::stoul(rest.substr(0, bar));
    std::string key = rest.substr(bar + 1);
    auto [ns, name] = split_key(key);
    auto obj = informers_[idx]->get(key);
    if (!obj) return std::nullopt;
    const auto& res = tracked()[idx].resource;
    if (role == "dep") return sync_dependent(res, ns, name, *obj);
    return sync_owner(idx, ns, name, *obj);
  }

  std::optional<std::chrono::milliseconds> sync_dependent(const client::Resource& res, const std::string& ns,
                                                          const std::string& name, const json& cached) {
    if (!cached["metadata"].contains("ownerReferences")) return std::nullopt;
    bool all_fine = true;
    for (const auto& r : cached["metadata"]["ownerReferences"]) {
      bool fg = false;
      if (!owner_exists(ns, r, &fg) || fg) all_fine = false;
    }
    if (all_fine) return std::nullopt;  // the common case: no API call
    // Decide on the latest object, not the cache: an owner deleted with orphan propagation
    // removes its references just before it disappears, and the cache may not show that yet.
    auto fresh = ctx_.client.get(res, ns, name);
    if (!fresh) return fresh.error().kind == "NotFound" ? std::nullopt : std::optional(std::chrono::milliseconds(500));
    const json& obj = *fresh;
    if (meta_str(obj, "uid") != meta_str(cached, "uid")) return std::nullopt;
    if (!obj["metadata"].contains("ownerReferences") || obj["metadata"]["ownerReferences"].empty()) return std::nullopt;
    const json& refs = obj["metadata"]["ownerReferences"];
    json keep = json::array();
    bool any_foreground = false;
    for (const auto& r : refs) {
      bool fg = false;
      if (owner_exists(ns, r, &fg)) {
        keep.push_back(r);
        any_foreground |= fg;
      }
    }
    if (any_foreground && !is_deleting(obj)) {
      // The owner waits for us: delete (in the foreground too when we own others).
      client::DeleteOptions o;
      o.propagation_policy = "Foreground";
      o.precondition_uid = meta_str(obj, "uid");
      auto r = ctx_.client.remove(res, ns, name, o);
      if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(1000);
      return std::nullopt;
    }
    if (keep.size() == refs.size()) return std::nullopt;
    if (keep.empty()) {
      if (is_deleting(obj)) return std::nullopt;
      log_->debug("garbagecollector: deleting {} {}/{} (owners gone)", res.plural, ns, name);
      client::DeleteOptions o;
      o.propagation_policy = "Background";
      o.precondition_uid = meta_str(obj, "uid");
      auto r = ctx_.client.remove(res, ns, name, o);
      if (!r && r.error().kind != "NotFound" && r.error().kind != "Conflict") return std::chrono::milliseconds(1000);
      return std::nullopt;
    }
    json patch = {{"metadata", {{"ownerReferences", keep}, {"resourceVersion", meta_str(obj, "resourceVersion")}}}};
    auto r = ctx_.client.patch(res, ns, name, client::PatchType::kMerge, patch);
    if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(500);
    return std::nullopt;
  }

  std::optional<std::chrono::milliseconds> sync_owner(size_t idx, const std::string& ns, const std::string& name,
                                                      const json& obj) {
    std::string uid = meta_str(obj, "uid");
    std::string key = std::to_string(idx) + "|" + client::object_key(obj);
    bool orphan = has_finalizer(obj, "orphan");
    bool foreground = has_finalizer(obj, "foregroundDeletion");
    if (!orphan && !foreground) return std::nullopt;
    std::vector<std::pair<size_t, client::ObjectPtr>> deps;
    for (size_t i = 0; i < informers_.size(); ++i) {
      for (const auto& d : informers_[i]->list(ns, [&](const json& o) {
             if (!o["metadata"].contains("ownerReferences")) return false;
             for (const auto& r : o["metadata"]["ownerReferences"]) {
               if (jvalue(r, "uid", "") == uid) return true;
             }
             return false;
           })) {
        deps.emplace_back(i, d);
      }
    }
    const auto& res = tracked()[idx].resource;
    if (orphan) {
      for (const auto& [i, d] : deps) {
        json keep = json::array();
        for (const auto& r : (*d)["metadata"]["ownerReferences"]) {
          if (jvalue(r, "uid", "") != uid) keep.push_back(r);
        }
        // An empty list is dropped (as Kubernetes omits it), not stored as [].
        json patch = {{"metadata", {{"ownerReferences", keep.empty() ? json(nullptr) : keep}}}};
        auto r = ctx_.client.patch(tracked()[i].resource, meta_str(*d, "namespace"), meta_str(*d, "name"),
                                   client::PatchType::kMerge, patch);
        if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(500);
      }
      return remove_finalizer(res, ns, name, obj, "orphan");
    }
    // Foreground: delete every dependent; release the owner once none of those whose reference
    // to it says blockOwnerDeletion is left (the others do not hold it back).
    bool blocked = false;
    for (const auto& [i, d] : deps) {
      for (const auto& r : (*d)["metadata"]["ownerReferences"]) {
        if (jvalue(r, "uid", "") == uid && jvalue(r, "blockOwnerDeletion", false)) blocked = true;
      }
      if (is_deleting(*d)) continue;
      client::DeleteOptions o;
      o.propagation_policy = "Foreground";
      auto r = ctx_.client.remove(tracked()[i].resource, meta_str(*d, "namespace"), meta_str(*d, "name"), o);
      (void)r;
    }
    if (blocked) return std::chrono::milliseconds(500);
    return remove_finalizer(res, ns, name, obj, "foregroundDeletion");
  }

  std::optional<std::chrono::milliseconds> remove_finalizer(const client::Resource& res, const std::string& ns,
                                                            const std::string& name, const json& obj,
                                                            const std::string& fin) {
    json keep = json::array();
    for (const auto& f : jvalue(obj["metadata"], "finalizers", json::array())) {
      if (f != fin) keep.push_back(f);
    }
    json patch = {{"metadata",
                   {{"finalizers", keep.empty() ? json(nullptr) : keep}, {"resourceVersion", meta_str(obj, "resourceVersion")}}}};
    auto r = ctx_.client.patch(res, ns, name, client::PatchType::kMerge, patch);
    if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(300);
    return std::nullopt;
  }

  std::vector<client::Informer*> informers_;
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> index_;
};

}  // namespace

std::unique_ptr<Controller> make_garbage_collector(Context ctx) { return std::make_unique<GarbageCollector>(ctx); }

}  // namespace k3dpp::controllers
