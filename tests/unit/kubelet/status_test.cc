#include <doctest/doctest.h>

#include "golden.h"
#include "kubelet/pod_status.h"

using namespace k3dpp::kubelet;

namespace {

const long long kT0 = 1714557600LL * 1000000000LL;  // 2024-05-01T10:00:00Z

json pod(const std::string& policy = "Always") {
  return {{"metadata", {{"name", "web"}, {"namespace", "default"}, {"uid", "uid-1"}}},
          {"spec", {{"restartPolicy", policy}, {"containers", json::array({{{"name", "app"}, {"image", "busybox"}}})}}},
          {"status",
           {{"phase", "Pending"},
            {"qosClass", "BestEffort"},
            {"conditions", json::array({{{"type", "PodScheduled"}, {"status", "True"}, {"lastProbeTime", nullptr},
                                         {"lastTransitionTime", "2024-05-01T09:59:59Z"}}})}}}};
}

rt::ContainerStatus cs(const std::string& id, rt::ContainerState state, uint32_t attempt, int exit_code = 0) {
  rt::ContainerStatus s;
  s.set_id(id);
  s.mutable_metadata()->set_name("app");
  s.mutable_metadata()->set_attempt(attempt);
  s.set_state(state);
  s.set_created_at(kT0);
  s.set_started_at(kT0 + 1000000000LL);
  if (state == rt::CONTAINER_EXITED) {
    s.set_finished_at(kT0 + 5000000000LL);
    s.set_exit_code(exit_code);
    s.set_reason(exit_code == 0 ? "Completed" : "Error");
  }
  s.mutable_image()->set_image("docker.io/library/busybox:latest");
  s.set_image_ref("sha256:1111");
  return s;
}

PodInfo running_info() {
  PodInfo i;
  i.sandbox_ready = true;
  i.pod_ips = {"10.42.0.5"};
  i.host_ip = "172.18.0.2";
  ContainerInfo ci;
  ci.current = cs("c1", rt::CONTAINER_RUNNING, 0);
  ci.ready = ci.started = true;
  i.containers["app"] = ci;
  return i;
}

const json* cond(const json& st, const std::string& type) {
  for (const auto& c : st["conditions"]) {
    if (c["type"] == type) return &c;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("running pod: golden status") {
  json st = compute_pod_status(pod(), running_info(), "2024-05-01T10:00:02Z");
  check_golden("status_running.json", st.dump(2));
  CHECK(st["phase"] == "Running");
  CHECK((*cond(st, "Ready"))["status"] == "True");
  // PodScheduled is kept as the scheduler wrote it.
  CHECK((*cond(st, "PodScheduled"))["lastTransitionTime"] == "2024-05-01T09:59:59Z");
}

TEST_CASE("lastTransitionTime only moves when a condition's status changes") {
  json p = pod();
  json st1 = compute_pod_status(p, running_info(), "2024-05-01T10:00:02Z");
  p["status"] = st1;
  json st2 = compute_pod_status(p, running_info(), "2024-05-01T10:05:00Z");
  CHECK((*cond(st2, "Ready"))["lastTransitionTime"] == "2024-05-01T10:00:02Z");
  PodInfo unready = running_info();
  unready.containers["app"].ready = false;
  json st3 = compute_pod_status(p, unready, "2024-05-01T10:06:00Z");
  CHECK((*cond(st3, "Ready"))["lastTransitionTime"] == "2024-05-01T10:06:00Z");
  CHECK((*cond(st3, "Ready"))["reason"] == "ContainersNotReady");
  CHECK((*cond(st3, "Ready"))["message"] == "containers with unready status: [app]");
  CHECK(st3["startTime"] == "2024-05-01T10:00:02Z");
}

TEST_CASE("ContainerCreating and ErrImagePull/ImagePullBackOff keep the pod Pending") {
  PodInfo i;
  i.sandbox_ready = true;
  i.pod_ips = {"10.42.0.5"};
  json st = compute_pod_status(pod(), i, "2024-05-01T10:00:02Z");
  CHECK(st["phase"] == "Pending");
  CHECK(st["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating");
  CHECK(st["containerStatuses"][0]["ready"] == false);
  CHECK(st["containerStatuses"][0]["restartCount"] == 0);

  i.containers["app"].waiting_reason = "ImagePullBackOff";
  i.containers["app"].waiting_message = "Back-off pulling image \"nope\"";
  st = compute_pod_status(pod(), i, "2024-05-01T10:00:02Z");
  CHECK(st["phase"] == "Pending");
  CHECK(st["containerStatuses"][0]["state"] ==
        json({{"waiting", {{"reason", "ImagePullBackOff"}, {"message", "Back-off pulling image \"nope\""}}}}));
}

TEST_CASE("CrashLoopBackOff: waiting with lastState terminated and restartCount") {
  PodInfo i = running_info();
  ContainerInfo ci;
  ci.current = cs("c3", rt::CONTAINER_EXITED, 2, 1);
  ci.previous = cs("c2", rt::CONTAINER_EXITED, 1, 1);
  ci.waiting_reason = "CrashLoopBackOff";
  ci.waiting_message = "back-off 20s restarting failed container=app pod=web_default(uid-1)";
  i.containers["app"] = ci;
  json st = compute_pod_status(pod(), i, "2024-05-01T10:00:30Z");
  check_golden("status_crashloop.json", st.dump(2));
  CHECK(st["phase"] == "Running");
  const json& c = st["containerStatuses"][0];
  CHECK(c["state"]["waiting"]["reason"] == "CrashLoopBackOff");
  CHECK(c["lastState"]["terminated"]["exitCode"] == 1);
  CHECK(c["lastState"]["terminated"]["containerID"] == "containerd://c3");
  CHECK(c["restartCount"] == 2);
}

TEST_CASE("phase per restartPolicy when the container exited") {
  auto exited = [](int code) {
    PodInfo i;
    i.sandbox_ready = true;
    ContainerInfo ci;
    ci.current = cs("c1", rt::CONTAINER_EXITED, 0, code);
    i.containers["app"] = ci;
    return i;
  };
  CHECK(compute_pod_status(pod("Never"), exited(0), "t")["phase"] == "Succeeded");
  CHECK(compute_pod_status(pod("Never"), exited(2), "t")["phase"] == "Failed");
  CHECK(compute_pod_status(pod("OnFailure"), exited(0), "t")["phase"] == "Succeeded");
  CHECK(compute_pod_status(pod("OnFailure"), exited(2), "t")["phase"] == "Running");
  CHECK(compute_pod_status(pod("Always"), exited(0), "t")["phase"] == "Running");
  json st = compute_pod_status(pod("Never"), exited(2), "t");
  CHECK(st["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error");
  CHECK(st["containerStatuses"][0]["state"]["terminated"]["finishedAt"] == "2024-05-01T10:00:05Z");
  CHECK((*cond(st, "Ready"))["reason"] == "PodCompleted");
  CHECK((*cond(st, "PodReadyToStartContainers"))["status"] == "False");
}

TEST_CASE("init containers: Initialized false, app containers PodInitializing") {
  json p = pod();
  p["spec"]["initContainers"] = json::array({{{"name", "init"}, {"image", "busybox"}}});
  PodInfo i;
  i.sandbox_ready = true;
  ContainerInfo ic;
  ic.current = cs("i1", rt::CONTAINER_RUNNING, 0);
  ic.current->mutable_metadata()->set_name("init");
  i.init_containers["init"] = ic;
  json st = compute_pod_status(p, i, "t");
  CHECK(st["phase"] == "Pending");
  CHECK((*cond(st, "Initialized"))["status"] == "False");
  CHECK((*cond(st, "Initialized"))["message"] == "containers with incomplete status: [init]");
  CHECK(st["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing");
  CHECK(st["initContainerStatuses"][0]["state"].contains("running"));

  // Init failed with restartPolicy Never: the pod fails.
  p["spec"]["restartPolicy"] = "Never";
  ic.current = cs("i1", rt::CONTAINER_EXITED, 0, 1);
  i.init_containers["init"] = ic;
  CHECK(compute_pod_status(p, i, "t")["phase"] == "Failed");

  // Init done: initialized, app containers run.
  ic.current = cs("i1", rt::CONTAINER_EXITED, 0, 0);
  i.init_containers["init"] = ic;
  i.containers = running_info().containers;
  json ok = compute_pod_status(p, i, "t");
  CHECK(ok["phase"] == "Running");
  CHECK((*cond(ok, "Initialized"))["status"] == "True");
  CHECK(ok["initContainerStatuses"][0]["ready"] == true);
}

TEST_CASE("rfc3339_from_nanos") {
  CHECK(rfc3339_from_nanos(kT0) == "2024-05-01T10:00:00Z");
  CHECK(rfc3339_from_nanos(kT0 + 999999999) == "2024-05-01T10:00:00Z");
}
