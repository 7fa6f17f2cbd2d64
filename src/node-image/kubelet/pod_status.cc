#include "kubelet/pod_status.h"

#include <ctime>

#include "common/strings.h"
#include "kubelet/translate.h"
#include "common/json_read.h"

namespace k3dpp::kubelet {
namespace {

json array_or_empty(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return json::array();
  return *it;
}

json terminated_of(const rt::ContainerStatus& s) {
  std::string reason = s.reason();
  if (reason.empty()) reason = s.exit_code() == 0 ? "Completed" : "Error";
  json t = {{"exitCode", s.exit_code()},
            {"reason", reason},
            // A container that never started (StartError) reports 0: the epoch, as the kubelet does.
            {"startedAt", rfc3339_from_nanos(s.started_at())},
            {"finishedAt", rfc3339_from_nanos(s.finished_at())},
            {"containerID", "containerd://" + s.id()}};
  if (!s.message().empty()) t["message"] = s.message();
  return t;
}

bool has_terminated(const json& st, const char* field) {
  return st.contains(field) && st[field].is_object() && st[field].contains("terminated");
}

json condition(const json& old_status, const std::string& type, bool ok, const std::string& reason,
               const std::string& message, const std::string& now) {
  json c = {{"type", type}, {"status", ok ? "True" : "False"}, {"lastProbeTime", nullptr},
            {"lastTransitionTime", now}};
  for (const auto& oc : array_or_empty(old_status, "conditions")) {
    if (jvalue(oc, "type", "") == type && jvalue(oc, "status", "") == c["status"] && oc.contains("lastTransitionTime")) {
      c["lastTransitionTime"] = oc["lastTransitionTime"];
    }
  }
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

}  // namespace

std::string rfc3339_from_nanos(long long ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000LL);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string rfc3339_now() {
  return rfc3339_from_nanos(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
}

json container_status(const json& spec, const ContainerInfo& info, bool init, const std::string& pod_ns,
                      const std::string& pod_name) {
  (void)pod_ns;
  (void)pod_name;
  json st = {{"name", jvalue(spec, "name", "")}, {"image", jvalue(spec, "image", "")}, {"imageID", ""}};
  json state = json::object(), last = json::object();
  bool ready = false, started = false;
  int restarts = 0;
  if (info.current) {
    const auto& c = *info.current;
    restarts = static_cast<int>(c.metadata().attempt());
    st["containerID"] = "containerd://" + c.id();
    if (!c.image().image().empty()) st["image"] = c.image().image();
    st["imageID"] = c.image_ref();
    if (c.state() == rt::CONTAINER_RUNNING) {
      state = {{"running", {{"startedAt", rfc3339_from_nanos(c.started_at())}}}};
      ready = info.ready;
      started = info.started;
    } else if (c.state() == rt::CONTAINER_EXITED) {
      if (!info.waiting_reason.empty()) {
        // Held back (CrashLoopBackOff): the exited attempt becomes lastState.
        state = {{"waiting", {{"reason", info.waiting_reason}}}};
        if (!info.waiting_message.empty()) state["waiting"]["message"] = info.waiting_message;
        last = {{"terminated", terminated_of(c)}};
      } else {
        state = {{"terminated", terminated_of(c)}};
      }
    } else {
      state = {{"waiting", {{"reason", info.waiting_reason.empty() ? "ContainerCreating" : info.waiting_reason}}}};
      if (!info.waiting_message.empty()) state["waiting"]["message"] = info.waiting_message;
    }
  } else {
    std::string reason = info.waiting_reason.empty() ? (init ? "PodInitializing" : "ContainerCreating")
                                                     : info.waiting_reason;
    state = {{"waiting", {{"reason", reason}}}};
    if (!info.waiting_message.empty()) state["waiting"]["message"] = info.waiting_message;
  }
  if (last.empty() && info.previous && info.previous->state() == rt::CONTAINER_EXITED) {
    last = {{"terminated", terminated_of(*info.previous)}};
  }
  st["state"] = state;
  st["lastState"] = last;
  st["ready"] = ready;
  st["restartCount"] = restarts;
  st["started"] = started;
  return st;
}

std::string compute_phase(const json& spec, const json& init_statuses, const json& statuses) {
  std::string policy = jvalue(spec, "restartPolicy", "Always");
  int pending_init = 0, failed_init = 0;
  for (const auto& s : init_statuses) {
    const json& state = s["state"];
    if (state.contains("running")) {
      ++pending_init;
    } else if (state.contains("terminated")) {
      if (jvalue(state["terminated"], "exitCode", 0) != 0) ++failed_init;
    } else if (state.contains("waiting")) {
      if (has_terminated(s, "lastState") && jvalue(s["lastState"]["terminated"], "exitCode", 0) != 0) {
        ++failed_init;
      } else {
        ++pending_init;
      }
    }
  }
  int waiting = 0, running = 0, stopped = 0, succeeded = 0;
  for (const auto& s : statuses) {
    const json& state = s["state"];
    if (state.contains("running")) {
      ++running;
    } else if (state.contains("terminated")) {
      ++stopped;
      if (jvalue(state["terminated"], "exitCode", 0) == 0) ++succeeded;
    } else if (has_terminated(s, "lastState")) {
      ++stopped;
    } else {
      ++waiting;
    }
  }
  if (failed_init > 0 && policy == "Never") return "Failed";
  if (pending_init > 0 || failed_init > 0) return "Pending";
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped > 0) {
    if (policy == "Always") return "Running";
    if (stopped == succeeded) return "Succeeded";
    if (policy == "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

json compute_pod_status(const json& pod, const PodInfo& info, const std::string& now) {
  const json spec = jvalue(pod, "spec", json::object());
  const json old = pod.contains("status") && pod["status"].is_object() ? pod["status"] : json::object();
  std::string ns = jvalue(jvalue(pod, "metadata", json::object()), "namespace", "");
  std::string name = jvalue(jvalue(pod, "metadata", json::object()), "name", "");

  json init_statuses = json::array(), statuses = json::array();
  std::vector<std::string> incomplete, unready;
  bool initialized = true;
  for (const auto& c : array_or_empty(spec, "initContainers")) {
    std::string cname = jvalue(c, "name", "");
    auto it = info.init_containers.find(cname);
    ContainerInfo ci = it == info.init_containers.end() ? ContainerInfo{} : it->second;
    json st = container_status(c, ci, true, ns, name);
    // An init container is ready once it completed successfully.
    bool done = st["state"].contains("terminated") && jvalue(st["state"]["terminated"], "exitCode", 1) == 0;
    st["ready"] = done;
    if (!done) {
      initialized = false;
      incomplete.push_back(cname);
    }
    init_statuses.push_back(st);
  }
  for (const auto& c : array_or_empty(spec, "containers")) {
    std::string cname = jvalue(c, "name", "");
    auto it = info.containers.find(cname);
    ContainerInfo ci = it == info.containers.end() ? ContainerInfo{} : it->second;
    if (!initialized && !ci.current && ci.waiting_reason.empty()) ci.waiting_reason = "PodInitializing";
    json st = container_status(c, ci, false, ns, name);
    if (!st["ready"].get<bool>()) unready.push_back(cname);
    statuses.push_back(st);
  }

  std::string phase = compute_phase(spec, init_statuses, statuses);
  bool terminal = phase == "Succeeded" || phase == "Failed";

  json status = json::object();
  status["phase"] = phase;
  json conds = json::array();
  conds.push_back(condition(old, "PodReadyToStartContainers", info.sandbox_ready && !terminal, "", "", now));
  if (initialized) {
    conds.push_back(condition(old, "Initialized", true, "", "", now));
  } else {
    conds.push_back(condition(old, "Initialized", false, "ContainersNotInitialized",
                              "containers with incomplete status: [" + strings::join(incomplete, " ") + "]", now));
  }
  bool all_ready = unready.empty() && !terminal;
  std::string nr_reason = terminal ? "PodCompleted" : "ContainersNotReady";
  std::string nr_msg = terminal ? "" : "containers with unready status: [" + strings::join(unready, " ") + "]";
  conds.push_back(condition(old, "Ready", all_ready, all_ready ? "" : nr_reason, all_ready ? "" : nr_msg, now));
  conds.push_back(
      condition(old, "ContainersReady", all_ready, all_ready ? "" : nr_reason, all_ready ? "" : nr_msg, now));
  bool have_scheduled = false;
  for (const auto& oc : array_or_empty(old, "conditions")) {
    if (jvalue(oc, "type", "") == "PodScheduled") {
      conds.push_back(oc);
      have_scheduled = true;
    }
  }
  if (!have_scheduled) conds.push_back(condition(old, "PodScheduled", true, "", "", now));
  status["conditions"] = conds;

  if (!info.host_ip.empty()) {
    status["hostIP"] = info.host_ip;
    status["hostIPs"] = json::array({{{"ip", info.host_ip}}});
  }
  if (!info.pod_ips.empty()) {
    status["podIP"] = info.pod_ips.front();
    json ips = json::array();
    for (const auto& ip : info.pod_ips) ips.push_back({{"ip", ip}});
    status["podIPs"] = ips;
  } else if (old.contains("podIP")) {
    // Keep the last known IP of a pod whose sandbox is gone (as the kubelet does for terminal pods).
    status["podIP"] = old["podIP"];
    if (old.contains("podIPs")) status["podIPs"] = old["podIPs"];
  }
  status["startTime"] = old.contains("startTime") ? old["startTime"] : json(now);
  if (!init_statuses.empty()) status["initContainerStatuses"] = init_statuses;
  status["containerStatuses"] = statuses;
  status["qosClass"] = old.contains("qosClass") ? old["qosClass"] : json(qos_class(pod));
  return status;
}

}  // namespace k3dpp::kubelet
