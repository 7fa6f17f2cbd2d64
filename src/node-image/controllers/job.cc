#include "controllers/job.h"
#include "common/json_read.h"

#include <algorithm>
#include <map>

namespace k3dpp::controllers {

namespace {

const json kEmpty = json::object();

const json& obj_at(const json& o, const char* k) {
  if (!o.is_object()) return kEmpty;
  auto it = o.find(k);
  return it != o.end() && it->is_object() ? *it : kEmpty;
}

long long int_at(const json& o, const char* k, long long dflt) {
  if (!o.is_object()) return dflt;
  auto it = o.find(k);
  return it != o.end() && it->is_number_integer() ? it->get<long long>() : dflt;
}

std::string phase_of(const json& pod) { return jvalue(obj_at(pod, "status"), "phase", ""); }

bool has_finalizer(const json& pod) {
  const json& m = obj_at(pod, "metadata");
  auto it = m.find("finalizers");
  if (it == m.end() || !it->is_array()) return false;
  for (const auto& f : *it) {
    if (f == kJobTrackingFinalizer) return true;
  }
  return false;
}

const json* find_condition(const json& status, const std::string& type) {
  auto it = status.find("conditions");
  if (it == status.end() || !it->is_array()) return nullptr;
  for (const auto& c : *it) {
    if (jvalue(c, "type", "") == type) return &c;
  }
  return nullptr;
}

bool condition_true(const json& status, const std::string& type) {
  const json* c = find_condition(status, type);
  return c != nullptr && jvalue(*c, "status", "") == "True";
}

json condition(const std::string& type, const std::string& status, const std::string& reason,
               const std::string& message, TimePoint now) {
  return {{"type", type},
          {"status", status},
          {"lastProbeTime", rfc3339(now)},
          {"lastTransitionTime", rfc3339(now)},
          {"reason", reason},
          {"message", message}};
}

// ensureJobConditionStatus: sets the condition's status (a new one is added only for True);
// returns whether it changed.
bool ensure_condition(json& status, const std::string& type, const std::string& st, const std::string& reason,
                      const std::string& message, TimePoint now) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) status["conditions"] = json::array();
  for (auto& c : status["conditions"]) {
    if (jvalue(c, "type", "") != type) continue;
    if (jvalue(c, "status", "") == st) return false;
    c = condition(type, st, reason, message, now);
    return true;
  }
  if (st != "True") return false;
  status["conditions"].push_back(condition(type, st, reason, message, now));
  return true;
}

// The time a pod finished: its latest container finishedAt, else its deletion time, else now.
TimePoint finish_time(const json& pod, TimePoint now) {
  std::optional<TimePoint> latest;
  const json& st = obj_at(pod, "status");
  for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
    auto it = st.find(list);
    if (it == st.end() || !it->is_array()) continue;
    for (const auto& cs : *it) {
      const json& term = obj_at(obj_at(cs, "state"), "terminated");
      if (auto t = parse_rfc3339(jvalue(term, "finishedAt", ""))) {
        if (!latest || *t > *latest) latest = t;
      }
    }
  }
  if (latest) return *latest;
  if (auto d = parse_rfc3339(meta_str(pod, "deletionTimestamp"))) return *d;
  return now;
}

long long restarts(const json& pod) {
  long long n = 0;
  const json& st = obj_at(pod, "status");
  for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
    auto it = st.find(list);
    if (it == st.end() || !it->is_array()) continue;
    for (const auto& cs : *it) n += jvalue(cs, "restartCount", 0LL);
  }
  return n;
}

// Deletion preference among active pods: not ready before ready, unscheduled before scheduled,
// Pending before Running, newer before older.
std::vector<const json*> deletion_order(std::vector<const json*> pods) {
  auto key = [](const json* p) {
    bool scheduled = !jvalue(obj_at(*p, "spec"), "nodeName", "").empty();
    bool running = phase_of(*p) == "Running";
    return std::make_tuple(pod_is_ready(*p), scheduled, running, -static_cast<long long>(
                                                                     parse_rfc3339(meta_str(*p, "creationTimestamp"))
                                                                         .value_or(TimePoint{})
                                                                         .time_since_epoch()
                                                                         .count()));
  };
  std::stable_sort(pods.begin(), pods.end(), [&](const json* a, const json* b) { return key(a) < key(b); });
  return pods;
}

std::chrono::milliseconds ms_until(TimePoint t, TimePoint now) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(t - now);
  return std::max(d, std::chrono::milliseconds(1)) + std::chrono::milliseconds(50);
}

void requeue_min(JobPlan& p, std::chrono::milliseconds d) {
  if (p.requeue_after.count() == 0 || d < p.requeue_after) p.requeue_after = d;
}

}  // namespace

// ---- helpers ----------------------------------------------------------------------------------

std::string format_indexes(const std::set<int>& indexes) {
  std::string out;
  auto it = indexes.begin();
  while (it != indexes.end()) {
    int first = *it, last = *it;
    auto nx = std::next(it);
    while (nx != indexes.end() && *nx == last + 1) {
      last = *nx;
      ++nx;
    }
    if (!out.empty()) out += ",";
    out += std::to_string(first);
    if (last > first) out += "-" + std::to_string(last);
    it = nx;
  }
  return out;
}

std::set<int> parse_indexes(const std::string& s, int limit) {
  std::set<int> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    try {
      size_t dash = part.find('-');
      int a = std::stoi(part.substr(0, dash));
      int b = dash == std::string::npos ? a : std::stoi(part.substr(dash + 1));
      for (int i = std::max(a, 0); i <= b && i < limit; ++i) out.insert(i);
    } catch (...) {
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

int pod_completion_index(const json& pod) {
  const json& a = annotations_of(pod);
  auto it = a.find(kJobCompletionIndex);
  if (it == a.end() || !it->is_string()) return -1;
  const std::string& v = it->get_ref<const std::string&>();
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoi(v);
}

std::optional<TimePoint> job_finished_at(const json& job) {
  const json& st = obj_at(job, "status");
  for (const char* t : {"Complete", "Failed"}) {
    const json* c = find_condition(st, t);
    if (c != nullptr && jvalue(*c, "status", "") == "True") {
      return parse_rfc3339(jvalue(*c, "lastTransitionTime", "")).value_or(TimePoint{});
    }
  }
  return std::nullopt;
}

std::optional<TimePoint> job_ttl_expiry(const json& job) {
  const json& spec = obj_at(job, "spec");
  if (!spec.contains("ttlSecondsAfterFinished") || !spec["ttlSecondsAfterFinished"].is_number_integer()) {
    return std::nullopt;
  }
  auto fin = job_finished_at(job);
  if (!fin) return std::nullopt;
  return *fin + std::chrono::seconds(spec["ttlSecondsAfterFinished"].get<long long>());
}

std::optional<PodFailureMatch> match_pod_failure_policy(const json& policy, const json& pod) {
  if (!policy.is_object() || !policy.contains("rules") || !policy["rules"].is_array()) return std::nullopt;
  const json& st = obj_at(pod, "status");
  const std::string ns = meta_str(pod, "namespace"), name = meta_str(pod, "name");
  const json& rules = policy["rules"];
  for (size_t i = 0; i < rules.size(); ++i) {
    const json& r = rules[i];
    std::string action = jvalue(r, "action", "");
    if (r.contains("onExitCodes") && r["onExitCodes"].is_object()) {
      const json& oc = r["onExitCodes"];
      std::string container = jvalue(oc, "containerName", "");
      bool in = jvalue(oc, "operator", "") == "In";
      const json values = jvalue(oc, "values", json::array());
      for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
        auto it = st.find(list);
        if (it == st.end() || !it->is_array()) continue;
        for (const auto& cs : *it) {
          if (!container.empty() && jvalue(cs, "name", "") != container) continue;
          const json& term = obj_at(obj_at(cs, "state"), "terminated");
          if (!term.contains("exitCode")) continue;
          long long code = jvalue(term, "exitCode", 0LL);
          if (code == 0) continue;  // successful containers are not considered
          bool listed = std::find(values.begin(), values.end(), json(code)) != values.end();
          if (listed == in) {
            return PodFailureMatch{action, "Container " + jvalue(cs, "name", "") + " for pod " + ns + "/" + name +
                                               " failed with exit code " + std::to_string(code) + " matching " +
                                               action + " rule at index " + std::to_string(i)};
          }
        }
      }
    } else if (r.contains("onPodConditions") && r["onPodConditions"].is_array()) {
      for (const auto& pc : r["onPodConditions"]) {
        std::string type = jvalue(pc, "type", ""), want = jvalue(pc, "status", "True");
        const json* c = find_condition(st, type);
        if (c != nullptr && jvalue(*c, "status", "") == want) {
          return PodFailureMatch{action, "Pod " + ns + "/" + name + " has condition " + type + " matching " + action +
                                             " rule at index " + std::to_string(i)};
        }
      }
    }
  }
  return std::nullopt;
}

json job_pod(const json& job, std::optional<int> index) {
  const json& tmpl = obj_at(obj_at(job, "spec"), "template");
  std::string name = meta_str(job, "name");
  json meta = obj_at(tmpl, "metadata");
  meta.erase("creationTimestamp");
  meta.erase("name");
  meta["generateName"] = index ? name + "-" + std::to_string(*index) + "-" : name + "-";
  meta["namespace"] = meta_str(job, "namespace");
  meta["ownerReferences"] = json::array({make_controller_ref(job)});
  json fin = meta.contains("finalizers") && meta["finalizers"].is_array() ? meta["finalizers"] : json::array();
  fin.push_back(kJobTrackingFinalizer);
  meta["finalizers"] = fin;
  json spec = obj_at(tmpl, "spec");
  if (index) {
    std::string ix = std::to_string(*index);
    if (!meta.contains("annotations") || !meta["annotations"].is_object()) meta["annotations"] = json::object();
    meta["annotations"][kJobCompletionIndex] = ix;
    if (!meta.contains("labels") || !meta["labels"].is_object()) meta["labels"] = json::object();
    meta["labels"][kJobCompletionIndex] = ix;
    if (jvalue(spec, "hostname", "").empty()) spec["hostname"] = name + "-" + ix;
    json env_var = {{"name", "JOB_COMPLETION_INDEX"},
                    {"valueFrom",
                     {{"fieldRef",
                       {{"apiVersion", "v1"},
                        {"fieldPath", std::string("metadata.annotations['") + kJobCompletionIndex + "']"}}}}}};
    for (const char* list : {"initContainers", "containers"}) {
      if (!spec.contains(list) || !spec[list].is_array()) continue;
      for (auto& c : spec[list]) {
        if (!c.is_object()) continue;
        json env = c.contains("env") && c["env"].is_array() ? c["env"] : json::array();
        bool present = false;
        for (const auto& e : env) present |= jvalue(e, "name", "") == "JOB_COMPLETION_INDEX";
        if (!present) env.push_back(env_var);
        c["env"] = env;
      }
    }
  }
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
}

// ---- the plan ---------------------------------------------------------------------------------

JobPlan plan_job(const json& job, const std::vector<const json*>& pods, const JobBackoff& backoff, TimePoint now) {
  JobPlan plan;
  plan.backoff = backoff;
  const json& spec = obj_at(job, "spec");
  json status = job.contains("status") && job["status"].is_object() ? job["status"] : json::object();
  const long long parallelism = std::max(0LL, int_at(spec, "parallelism", 1));
  const bool has_completions = spec.contains("completions") && spec["completions"].is_number_integer();
  const long long completions = has_completions ? std::max(0LL, spec["completions"].get<long long>()) : 0;
  const long long backoff_limit = int_at(spec, "backoffLimit", 6);
  const bool indexed = jvalue(spec, "completionMode", "NonIndexed") == "Indexed";
  const bool suspended = jvalue(spec, "suspend", false) == true;
  const json& pfp = obj_at(spec, "podFailurePolicy");
  const bool has_pfp = spec.contains("podFailurePolicy") && spec["podFailurePolicy"].is_object();
  const bool only_failed = has_pfp || jvalue(spec, "podReplacementPolicy", "") == "Failed";
  const std::string restart_policy = jvalue(obj_at(obj_at(spec, "template"), "spec"), "restartPolicy", "Never");

  // Pods by uid, and what each is.
  auto is_failed = [&](const json& p) {
    std::string ph = phase_of(p);
    if (ph == "Failed") return true;
    if (only_failed) return false;
    return is_deleting(p) && ph != "Succeeded";
  };
  std::map<std::string, const json*> by_uid;
  for (const json* p : pods) by_uid[meta_str(*p, "uid")] = p;

  // Already finished: only tracking finalizers left to drop.
  if (condition_true(status, "Complete") || condition_true(status, "Failed")) {
    plan.finished = true;
    for (const json* p : pods) {
      if (has_finalizer(*p)) plan.remove_finalizers.push_back(meta_str(*p, "name"));
    }
    plan.status = status;
    if (auto exp = job_ttl_expiry(job)) requeue_min(plan, ms_until(*exp, now));
    return plan;
  }

  // 1. Settle uncounted pods whose finalizer is gone (or which are gone): into the counters.
  json unc = status.contains("uncountedTerminatedPods") && status["uncountedTerminatedPods"].is_object()
                 ? status["uncountedTerminatedPods"]
                 : json::object();
  long long succeeded = int_at(status, "succeeded", 0), failed = int_at(status, "failed", 0);
  std::set<std::string> unc_s, unc_f;
  for (const auto& [list, set, counter] :
       {std::tuple{"succeeded", &unc_s, &succeeded}, std::tuple{"failed", &unc_f, &failed}}) {
    if (!unc.contains(list) || !unc[list].is_array()) continue;
    for (const auto& u : unc[list]) {
      if (!u.is_string()) continue;
      auto it = by_uid.find(u.get<std::string>());
      if (it == by_uid.end() || !has_finalizer(*it->second)) {
        ++*counter;  // settled: counted now, dropped from the uncounted list below
      } else {
        set->insert(u.get<std::string>());
      }
    }
  }

  // 2. Newly terminated pods with the finalizer.
  std::set<int> completed = indexed ? parse_indexes(jvalue(status, "completedIndexes", ""), static_cast<int>(completions))
                                    : std::set<int>{};
  std::optional<PodFailureMatch> fail_job;  // the first FailJob match
  int new_failures = 0, new_successes = 0;
  std::optional<TimePoint> last_failure;
  std::vector<std::string> ignore_pods;  // matched Ignore: finalizer dropped, never counted
  std::vector<const json*> active, terminating;
  long long ready = 0;
  for (const json* p : pods) {
    const std::string uid = meta_str(*p, "uid");
    const std::string ph = phase_of(*p);
    bool deleting = is_deleting(*p);
    if (!deleting && ph != "Succeeded" && ph != "Failed") {
      active.push_back(p);
      if (pod_is_ready(*p)) ++ready;
      continue;
    }
    if (deleting && ph != "Succeeded" && ph != "Failed") terminating.push_back(p);
    if (!has_finalizer(*p)) continue;
    if (ph == "Succeeded") {
      if (indexed) {
        int ix = pod_completion_index(*p);
        if (ix >= 0 && ix < completions && !completed.count(ix)) {
          completed.insert(ix);
          ++new_successes;
        }
        plan.remove_finalizers.push_back(meta_str(*p, "name"));  // the index is the record
      } else if (!unc_s.count(uid) && !unc_f.count(uid)) {
        unc_s.insert(uid);
        ++new_successes;
      }
    } else if (is_failed(*p)) {
      if (unc_f.count(uid) || unc_s.count(uid)) continue;
      std::optional<PodFailureMatch> m;
      if (has_pfp && ph == "Failed") m = match_pod_failure_policy(pfp, *p);
      if (m && m->action == "Ignore") {
        ignore_pods.push_back(meta_str(*p, "name"));
        continue;
      }
      if (m && m->action == "FailJob" && !fail_job) fail_job = m;
      unc_f.insert(uid);
      ++new_failures;
      TimePoint ft = finish_time(*p, now);
      if (!last_failure || ft > *last_failure) last_failure = ft;
    }
  }
  // Back-off record: a success resets it, failures since then lengthen it.
  if (new_successes > 0) plan.backoff = JobBackoff{};
  if (new_failures > 0) {
    plan.backoff.failures += new_failures;
    if (!plan.backoff.last_failure || (last_failure && *last_failure > *plan.backoff.last_failure)) {
      plan.backoff.last_failure = last_failure;
    }
  }

  const long long succeeded_total =
      indexed ? static_cast<long long>(completed.size()) : succeeded + static_cast<long long>(unc_s.size());
  const long long failed_total = failed + static_cast<long long>(unc_f.size());
  long long active_count = static_cast<long long>(active.size());

  // 3. Start time (not while suspended).
  if (!suspended && (!status.contains("startTime") || status["startTime"].is_null())) {
    status["startTime"] = rfc3339(now);
  }

  // 4. Failure.
  std::optional<std::pair<std::string, std::string>> failure;  // reason, message
  if (const json* ft = find_condition(status, "FailureTarget"); ft != nullptr && jvalue(*ft, "status", "") == "True") {
    failure = {jvalue(*ft, "reason", ""), jvalue(*ft, "message", "")};
  } else if (fail_job) {
    failure = {"PodFailurePolicy", fail_job->message};
  } else {
    bool past_limit = failed_total > backoff_limit;
    if (!past_limit && restart_policy == "OnFailure") {
      long long r = 0;
      for (const json* p : active) {
        std::string ph = phase_of(*p);
        if (ph == "Running" || ph == "Pending") r += restarts(*p);
      }
      past_limit = backoff_limit == 0 ? r > 0 : r >= backoff_limit;
    }
    if (past_limit) {
      failure = {"BackoffLimitExceeded", "Job has reached the specified backoff limit"};
    } else if (!suspended && spec.contains("activeDeadlineSeconds") && spec["activeDeadlineSeconds"].is_number_integer()) {
      if (auto start = parse_rfc3339(jvalue(status, "startTime", ""))) {
        auto deadline = *start + std::chrono::seconds(spec["activeDeadlineSeconds"].get<long long>());
        if (now >= deadline) {
          failure = {"DeadlineExceeded", "Job was active longer than specified deadline"};
        } else {
          requeue_min(plan, ms_until(deadline, now));
        }
      }
    }
  }

  // 5. Success.
  bool success = false;
  if (!failure) {
    if (const json* sc = find_condition(status, "SuccessCriteriaMet");
        sc != nullptr && jvalue(*sc, "status", "") == "True") {
      success = true;
    } else if (!has_completions) {
      success = succeeded_total > 0 && active_count == 0;
    } else {
      success = succeeded_total >= completions && active_count == 0;
    }
  }

  auto delete_all_active = [&] {
    for (const json* p : active) plan.delete_pods.push_back(meta_str(*p, "name"));
    active_count = 0;
  };

  if (failure) {
    ensure_condition(status, "FailureTarget", "True", failure->first, failure->second, now);
    delete_all_active();
  } else if (success) {
    ensure_condition(status, "SuccessCriteriaMet", "True", "CompletionsReached",
                     "Reached expected number of succeeded pods", now);
    delete_all_active();
  } else if (suspended) {
    if (ensure_condition(status, "Suspended", "True", "JobSuspended", "Job suspended", now)) {
      plan.events.push_back({"Normal", "Suspended", "Job suspended"});
    }
    delete_all_active();
  } else {
    if (ensure_condition(status, "Suspended", "False", "JobResumed", "Job resumed", now)) {
      plan.events.push_back({"Normal", "Resumed", "Job resumed"});
      status["startTime"] = rfc3339(now);  // activeDeadlineSeconds counts from the resume
    }
    // 6. Pods to create or delete.
    long long counted_active = active_count + (only_failed ? static_cast<long long>(terminating.size()) : 0);
    std::optional<std::chrono::milliseconds> wait;
    if (plan.backoff.failures > 0 && plan.backoff.last_failure) {
      auto delay = kJobPodFailureBackoff;
      for (int i = 1; i < plan.backoff.failures && delay < kJobMaxPodFailureBackoff; ++i) delay *= 2;
      delay = std::min(delay, kJobMaxPodFailureBackoff);
      auto due = *plan.backoff.last_failure + delay;
      if (due > now) wait = ms_until(due, now);
    }
    if (!indexed) {
      long long want = has_completions ? std::min(completions - succeeded_total, parallelism) : parallelism;
      if (!has_completions && succeeded_total > 0) want = active_count;  // one success: no new pods
      want = std::max(want, 0LL);
      if (active_count > want) {
        auto order = deletion_order(active);
        for (long long i = 0; i < active_count - want; ++i) plan.delete_pods.push_back(meta_str(*order[i], "name"));
        active_count = want;
      } else if (counted_active < want) {
        if (wait) {
          requeue_min(plan, *wait);
        } else {
          plan.create = static_cast<int>(want - counted_active);
          active_count += plan.create;
        }
      }
    } else {
      // One active pod per index: duplicates, out-of-range and already completed indexes go.
      std::map<int, std::vector<const json*>> by_index;
      std::vector<const json*> stray;
      for (const json* p : active) {
        int ix = pod_completion_index(*p);
        if (ix < 0 || ix >= completions || completed.count(ix)) {
          stray.push_back(p);
        } else {
          by_index[ix].push_back(p);
        }
      }
      std::set<int> busy;  // indexes with an active or terminating pod
      for (auto& [ix, ps] : by_index) {
        busy.insert(ix);
        auto order = deletion_order(ps);
        for (size_t i = 0; i + 1 < order.size(); ++i) stray.push_back(order[i]);
      }
      if (only_failed) {
        for (const json* p : terminating) {
          int ix = pod_completion_index(*p);
          if (ix >= 0) busy.insert(ix);
        }
      }
      for (const json* p : stray) plan.delete_pods.push_back(meta_str(*p, "name"));
      long long valid = static_cast<long long>(by_index.size());
      if (valid > parallelism) {
        // Parallelism lowered: the highest indexes go.
        long long extra = valid - parallelism;
        for (auto it = by_index.rbegin(); it != by_index.rend() && extra > 0; ++it, --extra) {
          auto order = deletion_order(it->second);
          plan.delete_pods.push_back(meta_str(*order.back(), "name"));
        }
        valid = parallelism;
      } else if (valid < parallelism) {
        long long room = parallelism - valid;
        std::vector<int> pending;
        for (int i = 0; i < completions && static_cast<long long>(pending.size()) < room; ++i) {
          if (!completed.count(i) && !busy.count(i)) pending.push_back(i);
        }
        if (!pending.empty()) {
          if (wait) {
            requeue_min(plan, *wait);
          } else {
            plan.create_indexes = pending;
            valid += static_cast<long long>(pending.size());
          }
        }
      }
      active_count = valid;
    }
  }

  // 7. Terminal conditions once nothing is terminating and nothing is left uncounted.
  long long terminating_count = static_cast<long long>(terminating.size());
  bool settled = unc_s.empty() && unc_f.empty() && terminating_count == 0 && plan.delete_pods.empty();
  if (failure && settled) {
    if (ensure_condition(status, "Failed", "True", failure->first, failure->second, now)) {
      plan.events.push_back({"Warning", failure->first, failure->second});
      plan.finished = true;
    }
  } else if (success && settled) {
    if (ensure_condition(status, "Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods",
                         now)) {
      status["completionTime"] = rfc3339(now);
      plan.events.push_back({"Normal", "Completed", "Job completed"});
      plan.finished = true;
    }
  }

  // 8. The status.
  if (active_count > 0) {
    status["active"] = active_count;
  } else {
    status.erase("active");
  }
  status["ready"] = plan.finished ? 0 : ready;
  status["terminating"] = terminating_count;
  if (indexed) succeeded = static_cast<long long>(completed.size());
  if (succeeded > 0) {
    status["succeeded"] = succeeded;
  } else {
    status.erase("succeeded");
  }
  if (failed > 0) {
    status["failed"] = failed;
  } else {
    status.erase("failed");
  }
  if (indexed && !completed.empty()) {
    status["completedIndexes"] = format_indexes(completed);
  } else {
    status.erase("completedIndexes");
  }
  json new_unc = json::object();
  auto keep_order = [&](const char* list, const std::set<std::string>& set) {
    // Keep the existing order, then append new uids (sorted).
    json arr = json::array();
    std::set<std::string> seen;
    if (unc.contains(list) && unc[list].is_array()) {
      for (const auto& u : unc[list]) {
        if (u.is_string() && set.count(u.get<std::string>()) && seen.insert(u.get<std::string>()).second) {
          arr.push_back(u);
        }
      }
    }
    for (const auto& u : set) {
      if (seen.insert(u).second) arr.push_back(u);
    }
    if (!arr.empty()) new_unc[list] = arr;
  };
  keep_order("succeeded", unc_s);
  keep_order("failed", unc_f);
  status["uncountedTerminatedPods"] = new_unc;
  if (status.contains("conditions") && status["conditions"].empty()) status.erase("conditions");

  // Finalizers of the pods this status records (uncounted) or never counts (Ignore).
  for (const json* p : pods) {
    if (!has_finalizer(*p)) continue;
    const std::string uid = meta_str(*p, "uid");
    if (unc_s.count(uid) || unc_f.count(uid)) plan.remove_finalizers.push_back(meta_str(*p, "name"));
  }
  for (auto& n : ignore_pods) plan.remove_finalizers.push_back(n);
  std::sort(plan.remove_finalizers.begin(), plan.remove_finalizers.end());
  plan.remove_finalizers.erase(std::unique(plan.remove_finalizers.begin(), plan.remove_finalizers.end()),
                               plan.remove_finalizers.end());
  if (plan.finished) {
    if (auto exp = job_ttl_expiry(json{{"spec", spec}, {"status", status}})) requeue_min(plan, ms_until(*exp, now));
  }
  plan.status = std::move(status);
  return plan;
}

}  // namespace k3dpp::controllers
