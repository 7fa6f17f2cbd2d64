#include "controllers/deployment.h"

#include <algorithm>
#include <set>

#include "apimachinery/selectors.h"
#include "common/strings.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

json strip_hash(const json& tmpl) {
  json t = tmpl;
  if (t.contains("metadata") && t["metadata"].contains("labels") && t["metadata"]["labels"].is_object()) {
    t["metadata"]["labels"].erase(kPodTemplateHashLabel);
    if (t["metadata"]["labels"].empty()) t["metadata"].erase("labels");
  }
  if (t.contains("metadata") && t["metadata"].is_object()) {
    t["metadata"].erase("creationTimestamp");
    if (t["metadata"].empty()) t.erase("metadata");
  }
  return t;
}

long long revision_of(const json& rs) {
  const json& a = annotations_of(rs);
  if (!a.contains(kRevisionAnnotation) || !a[kRevisionAnnotation].is_string()) return 0;
  long long v = 0;
  return strings::parse_int(a[kRevisionAnnotation].get<std::string>(), v) ? v : 0;
}

long long spec_replicas(const json& rs) { return jvalue(rs["spec"], "replicas", 0LL); }

long long status_field(const json& rs, const char* f) {
  return rs.contains("status") && rs["status"].is_object() ? rs["status"].value(f, 0LL) : 0LL;
}

bool skip_annotation(const std::string& k) {
  return k == "kubectl.kubernetes.io/last-applied-configuration" || k == kRevisionAnnotation ||
         k == "deployment.kubernetes.io/revision-history" || k == kDesiredReplicasAnnotation ||
         k == kMaxReplicasAnnotation || k == "deprecated.deployment.rollback.to";
}

const json* find_condition(const json& status, const std::string& type) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) return nullptr;
  for (const auto& c : status["conditions"]) {
    if (jvalue(c, "type", "") == type) return &c;
  }
  return nullptr;
}

// Sets a condition; lastTransitionTime kept when the status does not change, lastUpdateTime
// refreshed when anything changes (or when touch is set).
void set_condition(json& status, const std::string& type, const std::string& st, const std::string& reason,
                   const std::string& message, const std::string& now, bool touch) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) status["conditions"] = json::array();
  for (auto& c : status["conditions"]) {
    if (jvalue(c, "type", "") != type) continue;
    bool same = jvalue(c, "status", "") == st && jvalue(c, "reason", "") == reason && jvalue(c, "message", "") == message;
    if (same && !touch) return;
    if (jvalue(c, "status", "") != st) c["lastTransitionTime"] = now;
    c["status"] = st;
    c["reason"] = reason;
    c["message"] = message;
    c["lastUpdateTime"] = now;
    return;
  }
  status["conditions"].push_back({{"type", type},
                                  {"status", st},
                                  {"lastUpdateTime", now},
                                  {"lastTransitionTime", now},
                                  {"reason", reason},
                                  {"message", message}});
}

struct RsView {
  json obj;
  json original;
  bool is_new_object = false;
  long long active = 0;     // active pods observed
  long long available = 0;  // available pods observed
};

}  // namespace

std::string pod_template_hash(const json& pod_template, long long collision_count) {
  std::string canon = strip_hash(pod_template).dump();
  uint32_t h = fnv32a(canon);
  if (collision_count > 0) h = fnv32a(std::to_string(collision_count), h);
  return safe_encode(std::to_string(h));
}

bool templates_equal(const json& a, const json& b) { return strip_hash(a) == strip_hash(b); }

std::pair<long long, long long> resolve_surge_unavailable(const json& d) {
  long long replicas = jvalue(d["spec"], "replicas", 1LL);
  json ru = json::object();
  if (d["spec"].contains("strategy") && d["spec"]["strategy"].contains("rollingUpdate")) {
    ru = d["spec"]["strategy"]["rollingUpdate"];
  }
  long long surge = scaled_value(ru.contains("maxSurge") ? ru["maxSurge"] : json("25%"), replicas, true, 1);
  long long unavail =
      scaled_value(ru.contains("maxUnavailable") ? ru["maxUnavailable"] : json("25%"), replicas, false, 0);
  if (surge == 0 && unavail == 0) unavail = 1;
  return {surge, unavail};
}

DeploymentPlan plan_deployment(const json& d, const std::vector<json>& replica_sets,
                               const std::vector<const json*>& pods, TimePoint now) {
  long long min_ready = jvalue(d["spec"], "minReadySeconds", 0LL);
  std::map<std::string, PodCounts> counts;
  for (const json* p : pods) {
    const json* ref = controller_ref(*p);
    if (ref == nullptr || !pod_is_active(*p)) continue;
    auto& c = counts[jvalue(*ref, "uid", "")];
    c.active++;
    if (pod_is_available(*p, min_ready, now)) c.available++;
  }
  return plan_deployment(d, replica_sets, counts, now);
}

DeploymentPlan plan_deployment(const json& d, const std::vector<json>& replica_sets,
                               const std::map<std::string, PodCounts>& pods, TimePoint now) {
  DeploymentPlan plan;
  const json& spec = d["spec"];
  const std::string name = meta_str(d, "name");
  const std::string ns = meta_str(d, "namespace");
  const std::string uid = meta_str(d, "uid");
  const std::string now_s = rfc3339(now);
  long long replicas = jvalue(spec, "replicas", 1LL);
  long long min_ready = jvalue(spec, "minReadySeconds", 0LL);
  bool paused = jvalue(spec, "paused", false);
  bool recreate = spec.contains("strategy") && jvalue(spec["strategy"], "type", "RollingUpdate") == "Recreate";
  auto [max_surge, max_unavailable] = resolve_surge_unavailable(d);
  if (recreate) max_surge = 0, max_unavailable = replicas;
  json old_status = d.contains("status") && d["status"].is_object() ? d["status"] : json::object();
  long long collision = jvalue(old_status, "collisionCount", 0LL);
  const json& tmpl = spec.contains("template") ? spec["template"] : json::object();

  auto sel = apimachinery::LabelSelector::from_json(spec.contains("selector") ? spec["selector"] : json());
  apimachinery::LabelSelector selector = sel ? *sel : apimachinery::LabelSelector::nothing();

  // Views of our ReplicaSets, oldest first.
  std::vector<RsView> views;
  for (const auto& rs : replica_sets) {
    const json* ref = controller_ref(rs);
    if (ref != nullptr && jvalue(*ref, "uid", "") != uid) continue;
    if (ref == nullptr) {
      if (is_deleting(d) || is_deleting(rs) || !selector.matches(labels_of(rs))) continue;
    }
    RsView v;
    v.obj = rs;
    v.original = rs;
    if (ref == nullptr) v.obj["metadata"]["ownerReferences"] = json::array({make_controller_ref(d)});
    views.push_back(std::move(v));
  }
  std::stable_sort(views.begin(), views.end(), [](const RsView& a, const RsView& b) {
    auto ta = meta_str(a.obj, "creationTimestamp"), tb = meta_str(b.obj, "creationTimestamp");
    if (ta != tb) return ta < tb;
    return meta_str(a.obj, "name") < meta_str(b.obj, "name");
  });
  for (auto& v : views) {
    auto it = pods.find(meta_str(v.obj, "uid"));
    if (it == pods.end()) continue;
    v.active = it->second.active;
    v.available = it->second.available;
  }

  // The new ReplicaSet: the one whose template equals the deployment's (the oldest such).
  std::string hash = pod_template_hash(tmpl, collision);
  int new_idx = -1;
  for (size_t i = 0; i < views.size(); ++i) {
    if (templates_equal(jvalue(views[i].obj["spec"], "template", json::object()), tmpl)) {
      new_idx = static_cast<int>(i);
      break;
    }
  }
  if (new_idx < 0) {
    // A name clash with a different template: bump collisionCount (Kubernetes does the same).
    for (const auto& v : views) {
      if (meta_str(v.obj, "name") == name + "-" + hash) {
        ++collision;
        hash = pod_template_hash(tmpl, collision);
      }
    }
  }
  long long max_old_revision = 0;
  for (size_t i = 0; i < views.size(); ++i) {
    if (static_cast<int>(i) != new_idx) max_old_revision = std::max(max_old_revision, revision_of(views[i].obj));
  }
  const long long new_revision = max_old_revision + 1;

  auto copy_annotations = [&](json& rs) {
    json& ann = rs["metadata"]["annotations"];
    if (!ann.is_object()) ann = json::object();
    const json& da = annotations_of(d);
    for (auto it = da.begin(); it != da.end(); ++it) {
      if (!skip_annotation(it.key())) ann[it.key()] = it.value();
    }
  };
  auto scale = [&](RsView& v, long long to) {
    long long from = spec_replicas(v.obj);
    if (from == to) return false;
    v.obj["spec"]["replicas"] = to;
    v.obj["metadata"]["annotations"][kDesiredReplicasAnnotation] = std::to_string(replicas);
    v.obj["metadata"]["annotations"][kMaxReplicasAnnotation] = std::to_string(replicas + max_surge);
    plan.events.push_back(std::string("Scaled ") + (to > from ? "up" : "down") + " replica set " +
                          meta_str(v.obj, "name") + " from " + std::to_string(from) + " to " + std::to_string(to));
    return true;
  };
  auto effective = [](const RsView& v) { return std::max(spec_replicas(v.obj), v.active); };
  auto avail = [](const RsView& v) { return std::min(v.available, spec_replicas(v.obj)); };

  bool created_new = false;
  bool deleting = is_deleting(d);
  if (!deleting) {
    if (new_idx >= 0) {
      RsView& nv = views[new_idx];
      long long cur = revision_of(nv.obj);
      if (cur < new_revision) nv.obj["metadata"]["annotations"][kRevisionAnnotation] = std::to_string(new_revision);
      copy_annotations(nv.obj);
      if (jvalue(nv.obj["spec"], "minReadySeconds", 0LL) != min_ready) nv.obj["spec"]["minReadySeconds"] = min_ready;
    } else if (!paused) {
      RsView v;
      v.is_new_object = true;
      json rs_tmpl = tmpl;
      rs_tmpl["metadata"]["labels"][kPodTemplateHashLabel] = hash;
      json labels = rs_tmpl["metadata"]["labels"];
      json rs_sel = spec.contains("selector") ? spec["selector"] : json::object();
      rs_sel["matchLabels"][kPodTemplateHashLabel] = hash;
      v.obj = {{"apiVersion", "apps/v1"},
               {"kind", "ReplicaSet"},
               {"metadata",
                {{"name", name + "-" + hash},
                 {"namespace", ns},
                 {"labels", labels},
                 {"annotations",
                  {{kRevisionAnnotation, std::to_string(new_revision)},
                   {kDesiredReplicasAnnotation, std::to_string(replicas)},
                   {kMaxReplicasAnnotation, std::to_string(replicas + max_surge)}}},
                 {"ownerReferences", json::array({make_controller_ref(d)})}}},
               {"spec", {{"replicas", 0}, {"minReadySeconds", min_ready}, {"selector", rs_sel}, {"template", rs_tmpl}}}};
      copy_annotations(v.obj);
      v.original = json();
      views.push_back(std::move(v));
      new_idx = static_cast<int>(views.size()) - 1;
      created_new = true;
    }
  }
  RsView* nv = new_idx >= 0 ? &views[new_idx] : nullptr;
  std::vector<RsView*> olds;
  for (size_t i = 0; i < views.size(); ++i) {
    if (static_cast<int>(i) != new_idx) olds.push_back(&views[i]);
  }

  bool scaled = false;
  if (!deleting && paused) {
    // Paused: only scaling, applied to the new ReplicaSet when it is the only one with replicas.
    bool others = std::any_of(olds.begin(), olds.end(), [&](RsView* o) { return spec_replicas(o->obj) > 0; });
    if (nv != nullptr && !others) scaled = scale(*nv, replicas);
  } else if (!deleting && recreate) {
    bool old_up = false;
    for (RsView* o : olds) {
      if (spec_replicas(o->obj) > 0) {
        scale(*o, 0);
        old_up = true;
      }
    }
    bool old_running = std::any_of(olds.begin(), olds.end(), [](RsView* o) { return o->active > 0; });
    if (old_up || old_running) {
      scaled = old_up;
    } else if (nv != nullptr) {
      scaled = scale(*nv, replicas);
    }
  } else if (!deleting && nv != nullptr) {
    bool scaled_up = false;
    long long nspec = spec_replicas(nv->obj);
    if (nspec < replicas) {
      long long current = 0;
      for (auto& v : views) current += effective(v);
      long long max_total = replicas + max_surge;
      if (current < max_total) {
        long long up = std::min(max_total - current, replicas - nspec);
        scaled_up = scale(*nv, nspec + up);
      }
    } else if (nspec > replicas) {
      scaled_up = scale(*nv, replicas);
    }
    scaled = scaled_up;
    if (!scaled_up) {
      long long old_total = 0, all_total = 0;
      for (RsView* o : olds) old_total += spec_replicas(o->obj);
      for (auto& v : views) all_total += spec_replicas(v.obj);
      if (old_total > 0) {
        long long min_available = replicas - max_unavailable;
        long long new_unavailable = spec_replicas(nv->obj) - avail(*nv);
        long long max_scaled_down = all_total - min_available - new_unavailable;
        if (max_scaled_down > 0) {
          // First old pods that are not available anyway, oldest ReplicaSet first.
          for (RsView* o : olds) {
            if (max_scaled_down <= 0) break;
            long long s = spec_replicas(o->obj);
            long long unhealthy = s - avail(*o);
            if (s == 0 || unhealthy <= 0) continue;
            long long n = std::min(max_scaled_down, unhealthy);
            scaled |= scale(*o, s - n);
            max_scaled_down -= n;
          }
          // Then available ones while enough stay available.
          long long available_total = 0;
          for (auto& v : views) available_total += avail(v);
          long long budget = available_total - min_available;
          for (RsView* o : olds) {
            if (budget <= 0) break;
            long long s = spec_replicas(o->obj);
            if (s == 0) continue;
            long long n = std::min(s, budget);
            scaled |= scale(*o, s - n);
            budget -= n;
          }
        }
      }
    }
  }

  // Revision history cleanup once nothing old runs.
  bool olds_idle = std::all_of(olds.begin(), olds.end(), [](RsView* o) {
    return spec_replicas(o->obj) == 0 && status_field(o->obj, "replicas") == 0 && o->active == 0;
  });
  if (!deleting && olds_idle) {
    long long limit = jvalue(spec, "revisionHistoryLimit", 10LL);
    std::vector<RsView*> cleanable;
    for (RsView* o : olds) {
      if (!o->is_new_object && !is_deleting(o->obj)) cleanable.push_back(o);
    }
    std::stable_sort(cleanable.begin(), cleanable.end(),
                     [](RsView* a, RsView* b) { return revision_of(a->obj) < revision_of(b->obj); });
    long long extra = static_cast<long long>(cleanable.size()) - limit;
    for (long long i = 0; i < extra; ++i) plan.remove.push_back(meta_str(cleanable[i]->obj, "name"));
  }

  for (auto& v : views) {
    if (v.is_new_object) {
      plan.create.push_back(v.obj);
    } else if (v.obj != v.original &&
               std::find(plan.remove.begin(), plan.remove.end(), meta_str(v.obj, "name")) == plan.remove.end()) {
      plan.update.push_back(v.obj);
    }
  }
  if (nv != nullptr) {
    const json& a = annotations_of(nv->obj);
    if (a.contains(kRevisionAnnotation)) plan.revision = a[kRevisionAnnotation].get<std::string>();
  }

  // Status from the ReplicaSets' own status (what their controller observed).
  long long st_replicas = 0, ready = 0, available = 0, total_spec = 0;
  for (auto& v : views) {
    st_replicas += status_field(v.obj, "replicas");
    ready += status_field(v.obj, "readyReplicas");
    available += status_field(v.obj, "availableReplicas");
    total_spec += spec_replicas(v.original.is_null() ? v.obj : v.original);
  }
  long long updated = nv != nullptr ? status_field(nv->obj, "replicas") : 0;
  json st = old_status;
  st["observedGeneration"] = jvalue(d["metadata"], "generation", 1LL);
  st["replicas"] = st_replicas;
  st["updatedReplicas"] = updated;
  st["readyReplicas"] = ready;
  st["availableReplicas"] = available;
  long long unavailable = std::max(0LL, total_spec - available);
  if (total_spec == 0) unavailable = std::max(0LL, replicas - available);
  st["unavailableReplicas"] = unavailable;
  if (collision > 0) st["collisionCount"] = collision;
  for (const char* f : {"replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"}) {
    if (st[f] == 0) st.erase(f);
  }

  if (available >= replicas - max_unavailable) {
    set_condition(st, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now_s,
                  false);
  } else {
    set_condition(st, "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.",
                  now_s, false);
  }
  std::string rs_name = nv != nullptr ? meta_str(nv->obj, "name") : "";
  const json* prog = find_condition(old_status, "Progressing");
  std::string prog_reason = prog != nullptr ? jvalue(*prog, "reason", "") : "";
  bool complete = updated == replicas && st_replicas == replicas && available == replicas;
  bool has_deadline = spec.contains("progressDeadlineSeconds") && spec["progressDeadlineSeconds"].is_number();
  long long deadline = has_deadline ? spec["progressDeadlineSeconds"].get<long long>() : 600;
  if (paused) {
    set_condition(st, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now_s, false);
  } else if (prog_reason == "DeploymentPaused") {
    set_condition(st, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now_s, false);
  } else if (complete && nv != nullptr && !created_new) {
    set_condition(st, "Progressing", "True", "NewReplicaSetAvailable",
                  "ReplicaSet \"" + rs_name + "\" has successfully progressed.", now_s, false);
  } else if (created_new) {
    set_condition(st, "Progressing", "True", "NewReplicaSetCreated", "Created new replica set \"" + rs_name + "\"",
                  now_s, true);
  } else if (nv != nullptr && prog == nullptr) {
    set_condition(st, "Progressing", "True", "FoundNewReplicaSet", "Found new replica set \"" + rs_name + "\"", now_s,
                  true);
  } else if (nv != nullptr) {
    auto changed = [&](const char* f) { return st.value(f, 0LL) != old_status.value(f, 0LL); };
    bool progress = scaled || changed("updatedReplicas") || changed("readyReplicas") || changed("availableReplicas") ||
                    changed("replicas") || prog_reason == "NewReplicaSetAvailable";
    if (progress) {
      set_condition(st, "Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"" + rs_name + "\" is progressing.",
                    now_s, true);
    } else if (prog != nullptr && jvalue(*prog, "status", "") == "True") {
      auto last = parse_rfc3339(jvalue(*prog, "lastUpdateTime", "")).value_or(now);
      auto due = last + std::chrono::seconds(deadline);
      if (due <= now) {
        set_condition(st, "Progressing", "False", "ProgressDeadlineExceeded",
                      "ReplicaSet \"" + rs_name + "\" has timed out progressing.", now_s, false);
      } else {
        plan.requeue_after = std::chrono::duration_cast<std::chrono::milliseconds>(due - now) +
                             std::chrono::milliseconds(100);
      }
    }
  }
  // A rollout in flight with minReadySeconds: look again soon even without events.
  if (!complete && !paused && min_ready > 0) {
    auto soon = std::chrono::milliseconds(1000);
    if (plan.requeue_after.count() == 0 || plan.requeue_after > soon) plan.requeue_after = soon;
  }
  plan.status = st;
  return plan;
}

}  // namespace k3dpp::controllers
