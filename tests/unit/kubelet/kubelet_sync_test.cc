// The Kubelet's pod lifecycle against a fake runtime and a fake API: sandbox + containers,
// status through pods/status, events, restarts with back-off, image pull failures, deletion.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <set>

#include <mutex>
#include <thread>

#include "fake_api.h"
#include "kubelet/kubelet.h"
#include "kubelet/translate.h"

using namespace k3dpp;
using namespace k3dpp::kubelet;
using namespace std::chrono_literals;
using k3dpp::kubelet::testing::FakeApi;

namespace {

class FakeCri : public cri::CriClient {
 public:
  struct Sandbox {
    rt::PodSandboxConfig config;
    rt::PodSandboxState state = rt::SANDBOX_READY;
    long long created = 0;
  };
  struct Ctr {
    std::string sandbox;
    rt::ContainerConfig config;
    rt::ContainerStatus status;
  };
  std::mutex mu;
  std::map<std::string, Sandbox> sandboxes;
  std::map<std::string, Ctr> containers;
  std::set<std::string> images{"busybox:1.36", "local:only"};
  std::vector<std::string> calls;
  std::map<std::string, long long> stop_timeouts;  // container name → timeout
  int next_id = 1;
  long long clock = 1714557600LL * 1000000000LL;

  long long tick() { return clock += 1000000; }
  void call(const std::string& c) { calls.push_back(c); }

  Result<rt::VersionResponse> version() override {
    rt::VersionResponse v;
    v.set_runtime_name("fake");
    return v;
  }
  Result<rt::RuntimeStatus> status() override { return rt::RuntimeStatus(); }
  Result<std::string> run_pod_sandbox(const rt::PodSandboxConfig& config) override {
    std::lock_guard lk(mu);
    call("RunPodSandbox " + config.metadata().name());
    std::string id = "sb" + std::to_string(next_id++);
    sandboxes[id] = Sandbox{config, rt::SANDBOX_READY, tick()};
    return id;
  }
  Status stop_pod_sandbox(const std::string& id) override {
    std::lock_guard lk(mu);
    call("StopPodSandbox");
    if (sandboxes.count(id)) sandboxes[id].state = rt::SANDBOX_NOTREADY;
    for (auto& [_, c] : containers) {
      if (c.sandbox == id && c.status.state() == rt::CONTAINER_RUNNING) exit_locked(c, 137);
    }
    return {};
  }
  Status remove_pod_sandbox(const std::string& id) override {
    std::lock_guard lk(mu);
    call("RemovePodSandbox");
    sandboxes.erase(id);
    for (auto it = containers.begin(); it != containers.end();) {
      it = it->second.sandbox == id ? containers.erase(it) : std::next(it);
    }
    return {};
  }
  Result<rt::PodSandboxStatus> pod_sandbox_status(const std::string& id) override {
    std::lock_guard lk(mu);
    auto it = sandboxes.find(id);
    if (it == sandboxes.end()) return fail("no sandbox", "NotFound");
    rt::PodSandboxStatus s;
    s.set_id(id);
    s.set_state(it->second.state);
    if (it->second.state == rt::SANDBOX_READY) s.mutable_network()->set_ip("10.42.0." + id.substr(2));
    return s;
  }
  Result<std::vector<rt::PodSandbox>> list_pod_sandbox(const rt::PodSandboxFilter& f) override {
    std::lock_guard lk(mu);
    std::vector<rt::PodSandbox> out;
    for (const auto& [id, sb] : sandboxes) {
      bool ok = true;
      for (const auto& [k, v] : f.label_selector()) {
        auto l = sb.config.labels().find(k);
        if (l == sb.config.labels().end() || l->second != v) ok = false;
      }
      if (!ok) continue;
      rt::PodSandbox p;
      p.set_id(id);
      *p.mutable_metadata() = sb.config.metadata();
      p.set_state(sb.state);
      p.set_created_at(sb.created);
      *p.mutable_labels() = sb.config.labels();
      out.push_back(p);
    }
    return out;
  }
  Result<std::string> create_container(const std::string& sandbox_id, const rt::ContainerConfig& config,
                                       const rt::PodSandboxConfig&) override {
    std::lock_guard lk(mu);
    call("CreateContainer " + config.metadata().name() + " " + std::to_string(config.metadata().attempt()));
    std::string id = "c" + std::to_string(next_id++);
    Ctr c{sandbox_id, config, {}};
    c.status.set_id(id);
    *c.status.mutable_metadata() = config.metadata();
    c.status.set_state(rt::CONTAINER_CREATED);
    c.status.set_created_at(tick());
    *c.status.mutable_labels() = config.labels();
    containers[id] = c;
    return id;
  }
  Status start_container(const std::string& id) override {
    std::lock_guard lk(mu);
    call("StartContainer " + containers[id].config.metadata().name());
    containers[id].status.set_state(rt::CONTAINER_RUNNING);
    containers[id].status.set_started_at(tick());
    return {};
  }
  void exit_locked(Ctr& c, int code) {
    c.status.set_state(rt::CONTAINER_EXITED);
    c.status.set_exit_code(code);
    c.status.set_finished_at(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
    c.status.set_reason(code == 0 ? "Completed" : "Error");
  }
  // Test helper: make the newest running container called name exit.
  void exit_container(const std::string& name, int code) {
    std::lock_guard lk(mu);
    for (auto& [_, c] : containers) {
      if (c.config.metadata().name() == name && c.status.state() == rt::CONTAINER_RUNNING) exit_locked(c, code);
    }
  }
  Status stop_container(const std::string& id, long long timeout) override {
    std::lock_guard lk(mu);
    call("StopContainer");
    auto it = containers.find(id);
    if (it == containers.end()) return {};
    stop_timeouts[it->second.config.metadata().name()] = timeout;
    if (it->second.status.state() == rt::CONTAINER_RUNNING) exit_locked(it->second, 0);
    return {};
  }
  Status remove_container(const std::string& id) override {
    std::lock_guard lk(mu);
    call("RemoveContainer");
    containers.erase(id);
    return {};
  }
  Result<std::vector<rt::Container>> list_containers(const rt::ContainerFilter& f) override {
    std::lock_guard lk(mu);
    std::vector<rt::Container> out;
    for (const auto& [id, c] : containers) {
      if (!f.pod_sandbox_id().empty() && c.sandbox != f.pod_sandbox_id()) continue;
      bool ok = true;
      for (const auto& [k, v] : f.label_selector()) {
        auto l = c.config.labels().find(k);
        if (l == c.config.labels().end() || l->second != v) ok = false;
      }
      if (!ok) continue;
      rt::Container o;
      o.set_id(id);
      o.set_pod_sandbox_id(c.sandbox);
      *o.mutable_metadata() = c.config.metadata();
      o.set_state(c.status.state());
      o.set_created_at(c.status.created_at());
      *o.mutable_labels() = c.config.labels();
      out.push_back(o);
    }
    return out;
  }
  int status_calls = 0;
  Result<rt::ContainerStatus> container_status(const std::string& id) override {
    std::lock_guard lk(mu);
    ++status_calls;
    auto it = containers.find(id);
    if (it == containers.end()) return fail("no container", "NotFound");
    return it->second.status;
  }
  std::map<std::string, int> exec_codes;  // by cmd[0]
  Result<rt::ExecSyncResponse> exec_sync(const std::string&, const std::vector<std::string>& cmd, long long) override {
    std::lock_guard lk(mu);
    rt::ExecSyncResponse r;
    int code = cmd.empty() || !exec_codes.count(cmd[0]) ? 0 : exec_codes[cmd[0]];
    r.set_exit_code(code);
    if (code != 0) r.set_stdout(cmd[0] + " said no\n");
    return r;
  }
  void set_exec_code(const std::string& cmd, int code) {
    std::lock_guard lk(mu);
    exec_codes[cmd] = code;
  }
  Result<std::string> exec(const rt::ExecRequest&) override { return std::string("http://127.0.0.1:1/exec/x"); }
  Result<std::string> attach(const rt::AttachRequest&) override { return std::string("u"); }
  Result<std::string> port_forward(const std::string&, const std::vector<int>&) override { return std::string("u"); }
  Result<std::vector<rt::Image>> list_images() override { return std::vector<rt::Image>{}; }
  Result<std::optional<rt::Image>> image_status(const std::string& image) override {
    std::lock_guard lk(mu);
    if (!images.count(image)) return std::optional<rt::Image>();
    rt::Image i;
    i.set_id("sha256:" + image);
    i.set_size(4096);
    return std::optional<rt::Image>(i);
  }
  Result<std::string> pull_image(const std::string& image, const rt::PodSandboxConfig*) override {
    std::lock_guard lk(mu);
    call("PullImage " + image);
    if (image == "pullable:1") {
      images.insert(image);
      return std::string("sha256:p");
    }
    return fail("CRI PullImage: failed to resolve reference \"" + image + "\": dial tcp: lookup registry: no such host",
                "Runtime");
  }
  Status remove_image(const std::string&) override { return {}; }
  Result<rt::ImageFsInfoResponse> image_fs_info() override { return rt::ImageFsInfoResponse(); }

  std::vector<std::string> calls_snapshot() {
    std::lock_guard lk(mu);
    return calls;
  }
};

json make_pod(const std::string& name, const std::string& image, const std::string& policy = "Always") {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"uid", "uid-" + name}, {"resourceVersion", "5"}}},
          {"spec",
           {{"nodeName", "node-a"},
            {"restartPolicy", policy},
            {"terminationGracePeriodSeconds", 7},
            {"containers", json::array({{{"name", "app"}, {"image", image}}})}}},
          {"status", {{"phase", "Pending"}}}};
}

template <typename F>
bool eventually(F f, std::chrono::milliseconds timeout = 5s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return f();
}

struct Rig {
  FakeApi api{"node-a"};
  std::shared_ptr<FakeCri> cri = std::make_shared<FakeCri>();
  std::unique_ptr<Kubelet> k;
  std::string tmp = "/tmp/k3dpp-kubelet-sync-" + std::to_string(::getpid());
  explicit Rig(std::function<void(KubeletOptions&)> tweak = {}) {
    KubeletOptions o;
    o.node_name = "node-a";
    o.host_ip = "172.18.0.2";
    o.cgroup_root = tmp + "/cgroup";
    o.log_root = tmp + "/pods";
    o.defaults.pods_root = tmp + "/kubelet";
    o.resync = 50ms;
    if (tweak) tweak(o);
    k = std::make_unique<Kubelet>(api, cri, o);
  }
  ~Rig() {
    k->stop();
    std::filesystem::remove_all(tmp);
  }
};

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("a pod runs: sandbox, container, Running status with IP, events") {
  Rig r;
  r.api.pods.push_back(make_pod("web", "busybox:1.36"));
  REQUIRE(r.k->start());
  REQUIRE(eventually([&] { return r.api.status("web").value("phase", "") == "Running"; }));
  json st = r.api.status("web");
  CHECK(st["podIP"] == "10.42.0.1");
  CHECK(st["hostIP"] == "172.18.0.2");
  CHECK(st["containerStatuses"][0]["ready"] == true);
  CHECK(st["containerStatuses"][0]["state"].contains("running"));
  auto calls = r.cri->calls_snapshot();
  REQUIRE(calls.size() >= 3);
  CHECK(calls[0] == "RunPodSandbox web");
  CHECK(calls[1] == "CreateContainer app 0");
  CHECK(calls[2] == "StartContainer app");
  CHECK_FALSE(has(calls, "PullImage busybox:1.36"));  // IfNotPresent and present
  {
    // /dev/termination-log is an empty, world-writable file of this attempt under the pod dir.
    std::lock_guard lk(r.cri->mu);
    std::string want = r.tmp + "/kubelet/uid-web/containers/app/termination-0";
    bool mounted = false;
    for (const auto& [_, c] : r.cri->containers) {
      for (const auto& m : c.config.mounts()) {
        if (m.container_path() == "/dev/termination-log" && m.host_path() == want) mounted = true;
      }
    }
    CHECK(mounted);
    CHECK(std::filesystem::file_size(want) == 0);
    CHECK((std::filesystem::status(want).permissions() & std::filesystem::perms::others_write) !=
          std::filesystem::perms::none);
  }
  r.k->flush_events();
  auto ev = r.api.event_lines();
  CHECK(has(ev, "Normal Pulled Container image \"busybox:1.36\" already present on machine"));
  CHECK(has(ev, "Normal Created Created container: app"));
  CHECK(has(ev, "Normal Started Started container app"));
  // exec helpers find the container
  auto url = r.k->exec_url("default", "web", "", {"ls"}, false, false, true, true);
  REQUIRE(url);
  CHECK(*url == "http://127.0.0.1:1/exec/x");
}

namespace {
std::vector<std::string> env_of(FakeCri& cri, const std::string& container) {
  std::lock_guard lk(cri.mu);
  std::vector<std::string> out;
  for (const auto& [_, c] : cri.containers) {
    if (c.config.metadata().name() != container) continue;
    for (const auto& kv : c.config.envs()) out.push_back(kv.key() + "=" + kv.value());
  }
  return out;
}
json service(const std::string& name, const std::string& ip) {
  return {{"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"clusterIP", ip}, {"ports", json::array({{{"port", 80}, {"protocol", "TCP"}}})}}}};
}
}  // namespace

TEST_CASE("service env vars: from the cached services once that cache has synced, else a LIST") {
  std::atomic<bool> synced{false};
  std::atomic<int> asked{0};
  Rig r([&](KubeletOptions& o) {
    o.cached_services = [&](const std::string& ns) -> std::optional<std::vector<json>> {
      ++asked;
      if (!synced) return std::nullopt;
      CHECK(ns == "default");
      return std::vector<json>{service("cached", "10.43.0.20")};
    };
  });
  r.api.services.push_back(service("listed", "10.43.0.10"));
  r.api.pods.push_back(make_pod("web", "busybox:1.36"));
  REQUIRE(r.k->start());
  REQUIRE(eventually([&] { return r.api.status("web").value("phase", "") == "Running"; }));
  auto env = env_of(*r.cri, "app");
  CHECK(asked.load() >= 1);
  CHECK(has(env, "LISTED_SERVICE_HOST=10.43.0.10"));  // not synced yet: the LIST's
  CHECK_FALSE(has(env, "CACHED_SERVICE_HOST=10.43.0.20"));

  synced = true;
  r.api.push("ADDED", make_pod("web2", "busybox:1.36"));
  REQUIRE(eventually([&] { return r.api.status("web2").value("phase", "") == "Running"; }));
  std::vector<std::string> env2;
  {
    std::lock_guard lk(r.cri->mu);
    for (const auto& [_, c] : r.cri->containers) {
      if (c.sandbox.empty()) continue;
      auto sb = r.cri->sandboxes.find(c.sandbox);
      if (sb == r.cri->sandboxes.end() || sb->second.config.metadata().name() != "web2") continue;
      for (const auto& kv : c.config.envs()) env2.push_back(kv.key() + "=" + kv.value());
    }
  }
  CHECK(has(env2, "CACHED_SERVICE_HOST=10.43.0.20"));
  CHECK_FALSE(has(env2, "LISTED_SERVICE_HOST=10.43.0.10"));
}

TEST_CASE("restarts: immediate first restart, then CrashLoopBackOff") {
  Rig r;
  r.api.pods.push_back(make_pod("crash", "busybox:1.36"));
  REQUIRE(r.k->start());
  REQUIRE(eventually([&] { return r.api.status("crash").value("phase", "") == "Running"; }));
  r.cri->exit_container("app", 1);
  REQUIRE(eventually([&] { return has(r.cri->calls_snapshot(), "CreateContainer app 1"); }));
  REQUIRE(eventually([&] {
    json st = r.api.status("crash");
    return st.contains("containerStatuses") && st["containerStatuses"][0]["restartCount"] == 1 &&
           st["containerStatuses"][0]["state"].contains("running");
  }));
  r.cri->exit_container("app", 1);
  REQUIRE(eventually([&] {
    json st = r.api.status("crash");
    return st["containerStatuses"][0]["state"].contains("waiting");
  }));
  json c = r.api.status("crash")["containerStatuses"][0];
  CHECK(c["state"]["waiting"]["reason"] == "CrashLoopBackOff");
  CHECK(c["state"]["waiting"]["message"] == "back-off 10s restarting failed container=app pod=crash_default(uid-crash)");
  CHECK(c["lastState"]["terminated"]["exitCode"] == 1);
  CHECK(c["restartCount"] == 1);
  CHECK(r.api.status("crash")["phase"] == "Running");
  r.k->flush_events();
  CHECK(has(r.api.event_lines(),
            "Warning BackOff Back-off restarting failed container app in pod crash_default(uid-crash)"));
  CHECK_FALSE(has(r.cri->calls_snapshot(), "CreateContainer app 2"));

  // Each exit was reported (terminated, STATUS Error) before the container ran again or was held
  // back: the statuses sent go running 0 → terminated 0 → running 1 → terminated 1 → waiting 1.
  std::vector<std::string> seq;
  for (const auto& st : r.api.status_history("crash")) {
    if (!st.contains("containerStatuses")) continue;
    const json& c0 = st["containerStatuses"][0];
    std::string s = c0["state"].empty() ? "none" : c0["state"].begin().key();
    s += " " + std::to_string(c0["restartCount"].get<int>());
    if (seq.empty() || seq.back() != s) seq.push_back(s);
  }
  std::vector<std::string> tail;
  for (const auto& s : seq) {
    if (s != "waiting 0") tail.push_back(s);  // ContainerCreating before the first start
  }
  CHECK(tail == std::vector<std::string>{"running 0", "terminated 0", "running 1", "terminated 1", "waiting 1"});
}

TEST_CASE("restartPolicy Never: exit 0 → Succeeded, sandbox stopped") {
  Rig r;
  r.api.pods.push_back(make_pod("job", "busybox:1.36", "Never"));
  REQUIRE(r.k->start());
  REQUIRE(eventually([&] { return r.api.status("job").value("phase", "") == "Running"; }));
  r.cri->exit_container("app", 0);
  REQUIRE(eventually([&] { return r.api.status("job").value("phase", "") == "Succeeded"; }));
  CHECK(r.api.status("job")["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed");
  REQUIRE(eventually([&] { return has(r.cri->calls_snapshot(), "StopPodSandbox"); }));
  CHECK_FALSE(has(r.cri->calls_snapshot(), "CreateContainer app 1"));
}

TEST_CASE("images: ErrImagePull then ImagePullBackOff; offline with a local image still runs") {
  Rig r;
  json missing = make_pod("missing", "nope:1");
  json local = make_pod("local", "local:only");
  local["spec"]["containers"][0]["imagePullPolicy"] = "Always";
  json pullable = make_pod("pullable", "pullable:1");
  r.api.pods = {missing, local, pullable};
  REQUIRE(r.k->start());
  REQUIRE(eventually([&] {
    json st = r.api.status("missing");
    return st.contains("containerStatuses") &&
           st["containerStatuses"][0]["state"].value("waiting", json::object()).value("reason", "") ==
               "ImagePullBackOff";
  }));
  r.k->flush_events();
  auto ev = r.api.event_lines();
  CHECK(has(ev, "Normal Pulling Pulling image \"nope:1\""));
  CHECK(has(ev, "Warning Failed Failed to pull image \"nope:1\": failed to resolve reference \"nope:1\": dial tcp: "
                "lookup registry: no such host"));
  CHECK(has(ev, "Warning Failed Error: ErrImagePull"));
  CHECK(has(ev, "Normal BackOff Back-off pulling image \"nope:1\""));
  CHECK(has(ev, "Warning Failed Error: ImagePullBackOff"));
  CHECK(r.api.status("missing")["phase"] == "Pending");

  REQUIRE(eventually([&] { return r.api.status("local").value("phase", "") == "Running"; }));
  r.k->flush_events();
  CHECK(has(r.api.event_lines(),
            "Warning Failed Failed to pull image \"local:only\": failed to resolve reference \"local:only\": dial tcp: "
            "lookup registry: no such host; using the image already present on the node"));
  REQUIRE(eventually([&] { return r.api.status("pullable").value("phase", "") == "Running"; }));
  bool pulled = false;
  r.k->flush_events();
  for (const auto& e : r.api.event_lines()) {
    if (e.rfind("Normal Pulled Successfully pulled image \"pullable:1\" in ", 0) == 0 &&
        e.find("including waiting). Image size: 4096 bytes.") != std::string::npos) {
      pulled = true;
    }
  }
  CHECK(pulled);
}

TEST_CASE("deletion: graceful stop, sandbox removed, final delete with grace 0") {
  Rig r;
  json p = make_pod("gone", "busybox:1.36");
  r.api.pods.push_back(p);
  REQUIRE(r.k->start());
  REQUIRE(eventually([&] { return r.api.status("gone").value("phase", "") == "Running"; }));
  std::filesystem::create_directories(r.tmp + "/cgroup/memory/kubepods/besteffort/poduid-gone");
  p["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:00Z";
  p["metadata"]["deletionGracePeriodSeconds"] = 7;
  r.api.push("MODIFIED", p);
  REQUIRE(eventually([&] {
    std::lock_guard lk(r.api.mu);
    return r.api.deletes.size() == 1;
  }));
  CHECK(r.api.delete_uids[0] == "uid-gone");
  auto calls = r.cri->calls_snapshot();
  CHECK(has(calls, "StopContainer"));
  CHECK(has(calls, "StopPodSandbox"));
  CHECK(has(calls, "RemovePodSandbox"));
  CHECK(r.cri->stop_timeouts["app"] == 7);
  CHECK(r.cri->sandboxes.empty());
  r.k->flush_events();
  CHECK(has(r.api.event_lines(), "Normal Killing Stopping container app"));
  CHECK_FALSE(std::filesystem::exists(r.tmp + "/cgroup/memory/kubepods/besteffort/poduid-gone"));
}

TEST_CASE("reconcile at start: orphan sandboxes removed, NOTREADY sandbox replaced") {
  Rig r;
  // Left over from before a node restart: an orphan and a NOTREADY sandbox of a live pod.
  json live = make_pod("live", "busybox:1.36");
  rt::PodSandboxConfig orphan = make_sandbox_config(make_pod("orphan", "busybox:1.36"), 0);
  rt::PodSandboxConfig old = make_sandbox_config(live, 0);
  auto o1 = r.cri->run_pod_sandbox(orphan);
  auto o2 = r.cri->run_pod_sandbox(old);
  REQUIRE(o1);
  REQUIRE(o2);
  r.cri->sandboxes[*o2].state = rt::SANDBOX_NOTREADY;
  r.api.pods.push_back(live);
  REQUIRE(r.k->start());
  REQUIRE(eventually([&] { return r.api.status("live").value("phase", "") == "Running"; }));
  std::lock_guard lk(r.cri->mu);
  CHECK_FALSE(r.cri->sandboxes.count(*o1));
  CHECK_FALSE(r.cri->sandboxes.count(*o2));
  REQUIRE(r.cri->sandboxes.size() == 1);
  CHECK(r.cri->sandboxes.begin()->second.config.metadata().attempt() == 1);
}

TEST_CASE("probes: readiness drives Ready, liveness failure restarts the container") {
  Rig r;
  json p = make_pod("probed", "busybox:1.36");
  p["spec"]["containers"][0]["readinessProbe"] = {{"exec", {{"command", {"ready-check"}}}}, {"periodSeconds", 1}};
  p["spec"]["containers"][0]["livenessProbe"] = {
      {"exec", {{"command", {"alive-check"}}}}, {"periodSeconds", 1}, {"failureThreshold", 2}};
  r.cri->set_exec_code("ready-check", 1);
  r.api.pods.push_back(p);
  REQUIRE(r.k->start());
  REQUIRE(eventually([&] { return has(r.api.event_lines(), "Warning Unhealthy Readiness probe failed: ready-check said no"); }));
  json st = r.api.status("probed");
  CHECK(st["phase"] == "Running");
  CHECK(st["containerStatuses"][0]["ready"] == false);
  CHECK(st["containerStatuses"][0]["started"] == true);
  // Repeated failures aggregate into one Event with a count.
  REQUIRE(eventually([&] { return r.api.event_count("Warning Unhealthy Readiness probe failed: ready-check said no") >= 2; }));
  r.cri->set_exec_code("ready-check", 0);
  REQUIRE(eventually([&] { return r.api.status("probed")["containerStatuses"][0]["ready"] == true; }));
  for (const auto& c : r.api.status("probed")["conditions"]) {
    if (c["type"] == "Ready") CHECK(c["status"] == "True");
  }
  r.cri->set_exec_code("alive-check", 1);
  REQUIRE(eventually([&] { return has(r.cri->calls_snapshot(), "CreateContainer app 1"); }, 8s));
  r.k->flush_events();
  auto ev = r.api.event_lines();
  CHECK(has(ev, "Warning Unhealthy Liveness probe failed: alive-check said no"));
  CHECK(has(ev, "Normal Killing Container app failed liveness probe, will be restarted"));
  CHECK(r.cri->stop_timeouts["app"] == 7);
}

TEST_CASE("wait_for_pod_cidr: waits for the controller, times out with a clear error") {
  FakeApi api("node-a");
  auto t = std::thread([&] {
    std::this_thread::sleep_for(300ms);
    std::lock_guard lk(api.mu);
    api.objects["nodes//node-a"] = {{"spec", json::object()}};
  });
  auto t2 = std::thread([&] {
    std::this_thread::sleep_for(700ms);
    std::lock_guard lk(api.mu);
    api.objects["nodes//node-a"] = {{"spec", {{"podCIDR", "10.42.3.0/24"}}}};
  });
  auto r = wait_for_pod_cidr(api, "node-a", 5s);
  t.join();
  t2.join();
  REQUIRE(r);
  CHECK(*r == "10.42.3.0/24");
  auto none = wait_for_pod_cidr(api, "node-b", 300ms);
  REQUIRE_FALSE(none);
  CHECK(none.error().is("Timeout"));
  CHECK(none.error().message == "node node-b has no podCIDR after 300ms: nodes \"node-b\" not found");
}

TEST_CASE("a steady pod is not re-synced while the runtime relist shows no change, but an exit is seen") {
  Rig r;
  r.api.pods.push_back(make_pod("calm", "busybox:1.36"));
  REQUIRE(r.k->start());
  REQUIRE(eventually([&] { return r.api.status("calm").value("phase", "") == "Running"; }));
  std::this_thread::sleep_for(300ms);  // the sync after the start, then steady
  int before;
  {
    std::lock_guard lk(r.cri->mu);
    before = r.cri->status_calls;
  }
  std::this_thread::sleep_for(1000ms);  // 20 resync periods of 50 ms
  int during;
  {
    std::lock_guard lk(r.cri->mu);
    during = r.cri->status_calls - before;
  }
  CHECK(during <= 2);  // a full sync reads every container's status: ~20 without the relist

  r.cri->exit_container("app", 1);  // only the runtime changes: the relist must notice
  REQUIRE(eventually([&] {
    json st = r.api.status("calm");
    return st["containerStatuses"][0]["restartCount"] == 1 && st["containerStatuses"][0]["state"].contains("running");
  }));
}
