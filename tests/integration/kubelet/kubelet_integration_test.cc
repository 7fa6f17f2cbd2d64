// CRI against a real node container: starts k3dpp/node (options as images/test-node-image.sh,
// k3dpp-node replaced by sleep), writes our CNI config, imports a busybox image built from the
// host's /bin/busybox, then drives containerd's CRI plugin from the host through the node's
// socket (/proc/<node pid>/root/run/containerd/containerd.sock) with our CriClient and with the
// whole Kubelet (fake API): sandbox + container run, IP in the podCIDR, DNS config, ExecSync,
// logs, memory limit in the cgroup, teardown releases the IP and the pod cgroup.
// Everything it creates is named k3dpp-kubelet-test-<random> and removed at the end.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/strings.h"
#include "../../unit/kubelet/fake_api.h"
#include "cri/cri_client.h"
#include "kubelet/cni.h"
#include "kubelet/kubelet.h"
#include "kubelet/logs.h"
#include "kubelet/translate.h"

using namespace k3dpp;
using namespace k3dpp::kubelet;
using namespace std::chrono_literals;

namespace {

struct Out {
  int code = -1;
  std::string out;
};

// Runs a shell command (our own fixed strings plus generated names only), capturing stdout.
Out sh(const std::string& cmd) {
  Out o;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return o;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) o.out.append(buf.data(), n);
  int st = pclose(p);
  o.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

std::string trim(const std::string& s) { return std::string(strings::trim(s)); }

const char* kImage = "k3dpp-kubelet-test/busybox:1";
const char* kPodCidr = "10.42.7.0/24";

bool skip_engine_tests() {
  const char* v = std::getenv("K3DPP_SKIP_ENGINE_TESTS");
  return v && std::string(v) == "1";
}

// A node container for the duration of a test case.
struct Node {
  std::string id = "k3dpp-kubelet-test-" + strings::random_string(6, "abcdefghijklmnopqrstuvwxyz0123456789");
  std::string name = id + "-node", net = id + "-net", vol = id + "-node-containerd";
  std::string pid;
  std::string root;  // /proc/<pid>/root
  bool ok = false;

  Node() {
    if (sh("docker network create " + net).code != 0) return;
    if (sh("docker volume create " + vol).code != 0) return;
    Out run = sh("docker run -d --name " + name + " --hostname " + name + " --network " + net +
                 " --init --cap-add ALL --cap-drop SYS_RESOURCE"
                 " --security-opt seccomp=unconfined --security-opt apparmor=unconfined"
                 " --tmpfs /run --tmpfs /tmp -v " + vol + ":/var/lib/containerd"
                 " --sysctl net.ipv4.ip_forward=1 --ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
                 " --label k3dpp.test=kubelet -e K3DPP_NODE_BIN=/bin/sleep " K3DPP_NODE_IMAGE " infinity");
    if (run.code != 0) {
      MESSAGE("docker run failed: " << run.out);
      return;
    }
    for (int i = 0; i < 300; ++i) {
      if (sh("docker exec " + name + " test -e /run/k3dpp/entrypoint-ready").code == 0) {
        ok = true;
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    if (!ok) {
      MESSAGE("node did not get ready: " << sh("docker logs " + name).out);
      return;
    }
    pid = trim(sh("docker inspect -f '{{.State.Pid}}' " + name).out);
    root = "/proc/" + pid + "/root";
  }
  ~Node() {
    sh("docker rm -f " + name);
    sh("docker volume rm " + vol);
    sh("docker network rm " + net);
  }
  Out exec(const std::string& cmd) { return sh("docker exec " + name + " sh -c '" + cmd + "'"); }
  std::string socket() const { return "unix://" + root + "/run/containerd/containerd.sock"; }
};

bool ensure_busybox_image() {
  if (sh(std::string("docker image inspect ") + kImage).code == 0) return true;
  std::string dir = "/tmp/k3dpp-kubelet-test-rootfs-" + std::to_string(::getpid());
  std::string cmd = "set -e; rm -rf " + dir + "; mkdir -p " + dir + "/bin " + dir + "/etc; cp /bin/busybox " + dir +
                    "/bin/busybox; for a in sh cat echo sleep hostname ls env nc ip true false; do ln -s busybox " +
                    dir + "/bin/$a; done; tar -C " + dir + " -c . | docker import -c 'CMD [\"/bin/sh\"]' - " + kImage +
                    " >/dev/null; rm -rf " + dir;
  Out o = sh(cmd);
  if (o.code != 0) MESSAGE("building " << kImage << ": " << o.out);
  return o.code == 0;
}

bool in_cidr(const std::string& ip) { return ip.rfind("10.42.7.", 0) == 0; }

json test_pod(const std::string& name, const std::string& uid) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "itest"}, {"uid", uid}, {"labels", {{"app", "web"}}}}},
          {"spec",
           {{"nodeName", "node-it"},
            {"restartPolicy", "Always"},
            {"terminationGracePeriodSeconds", 2},
            {"containers",
             json::array({{{"name", "app"},
                           {"image", kImage},
                           {"imagePullPolicy", "IfNotPresent"},
                           {"command", {"/bin/sh", "-c"}},
                           {"args", {"echo hello from $(POD); trap 'exit 0' TERM; while true; do sleep 1; done"}},
                           {"env", {{{"name", "POD"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}},
                           {"ports", {{{"containerPort", 80}, {"hostPort", 18080}}}},
                           {"resources", {{"limits", {{"memory", "64Mi"}}}, {"requests", {{"memory", "32Mi"}}}}}}})}}},
          {"status", {{"phase", "Pending"}}}};
}

// Prepares a node: CNI config for kPodCidr, busybox imported. Returns false (and says why) on failure.
bool prepare(Node& n) {
  if (!n.ok) return false;
  auto conf = render_cni_conflist(kPodCidr);
  std::filesystem::create_directories(n.root + "/etc/cni/net.d");
  std::ofstream(n.root + "/etc/cni/net.d/10-k3dpp.conflist") << *conf;
  Out imp = sh(std::string("docker save ") + kImage + " | docker exec -i " + n.name +
               " ctr -n k8s.io images import - >/dev/null");
  if (imp.code != 0) {
    MESSAGE("image import failed: " << imp.out);
    return false;
  }
  return true;
}

bool engine_ready() {
  bool up = sh("docker info >/dev/null").code == 0 &&
            sh(std::string("docker image inspect ") + K3DPP_NODE_IMAGE + " >/dev/null").code == 0;
  return up;
}

}  // namespace

TEST_CASE("CriClient drives a real sandbox and container in a node container") {
  if (!engine_ready()) {
    if (skip_engine_tests()) return;
    FAIL("docker or image " K3DPP_NODE_IMAGE " not available (scripts/start-dockerd.sh, images/build.sh)");
  }
  REQUIRE(ensure_busybox_image());
  Node n;
  REQUIRE(n.ok);
  REQUIRE(prepare(n));

  cri::CriOptions o;
  o.endpoint = n.socket();
  o.timeout = 30s;
  auto c = cri::make_grpc_client(o);
  auto v = c->version();
  REQUIRE_MESSAGE(v, v.error().message);
  CHECK(v->runtime_name() == "containerd");
  CHECK(v->runtime_api_version() == "v1");
  // The CNI config is picked up asynchronously: wait for NetworkReady.
  bool net_ready = false;
  for (int i = 0; i < 100 && !net_ready; ++i) {
    auto st = c->status();
    REQUIRE(st);
    for (const auto& cond : st->conditions()) {
      if (cond.type() == "NetworkReady" && cond.status()) net_ready = true;
    }
    if (!net_ready) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(net_ready);
  auto img = c->image_status(kImage);
  REQUIRE(img);
  REQUIRE(img->has_value());

  json pod = test_pod("web-0", "11111111-2222-3333-4444-555555555555");
  auto sb_config = make_sandbox_config(pod, 0);
  std::filesystem::create_directories(n.root + sb_config.log_directory());
  auto t0 = std::chrono::steady_clock::now();
  auto sb = c->run_pod_sandbox(sb_config);
  REQUIRE_MESSAGE(sb, sb.error().message);
  auto sb_status = c->pod_sandbox_status(*sb);
  REQUIRE(sb_status);
  CHECK(sb_status->state() == rt::SANDBOX_READY);
  std::string ip = sb_status->network().ip();
  CHECK_MESSAGE(in_cidr(ip), "pod IP " << ip);

  EnvContext ectx;
  ectx.pod_ip = ip;
  auto env = resolve_env(pod, pod["spec"]["containers"][0], ectx);
  REQUIRE(env);
  auto ccfg = make_container_config(pod, pod["spec"]["containers"][0], 0, *env);
  auto ctr = c->create_container(*sb, ccfg, sb_config);
  REQUIRE_MESSAGE(ctr, ctr.error().message);
  REQUIRE(c->start_container(*ctr));
  MESSAGE("sandbox + create + start took "
          << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
          << " ms");
  auto cs = c->container_status(*ctr);
  REQUIRE(cs);
  CHECK(cs->state() == rt::CONTAINER_RUNNING);

  auto resolv = c->exec_sync(*ctr, {"cat", "/etc/resolv.conf"}, 10);
  REQUIRE(resolv);
  CHECK(resolv->exit_code() == 0);
  CHECK(resolv->stdout().find("nameserver 10.43.0.10") != std::string::npos);
  CHECK(resolv->stdout().find("search itest.svc.cluster.local svc.cluster.local cluster.local") != std::string::npos);
  CHECK(resolv->stdout().find("options ndots:5") != std::string::npos);
  auto host = c->exec_sync(*ctr, {"hostname"}, 10);
  REQUIRE(host);
  CHECK(host->stdout() == "web-0\n");
  auto code = c->exec_sync(*ctr, {"sh", "-c", "echo err >&2; exit 3"}, 10);
  REQUIRE(code);
  CHECK(code->exit_code() == 3);
  CHECK(code->stderr() == "err\n");

  // The container's log, through our reader, from the node's filesystem.
  LogOptions lo;
  lo.log_root = n.root + "/var/log/pods";
  std::string log;
  for (int i = 0; i < 50 && log.empty(); ++i) {
    auto r = read_container_log("itest", "web-0", "app", lo);
    if (r) log = *r;
    if (log.empty()) std::this_thread::sleep_for(100ms);
  }
  CHECK(log == "hello from web-0\n");

  // The memory limit reached the container's cgroup under the pod's cgroup parent.
  std::string mem = n.root + "/sys/fs/cgroup/memory" + sb_config.linux().cgroup_parent() + "/" + *ctr +
                    "/memory.limit_in_bytes";
  std::ifstream mf(mem);
  std::string limit;
  mf >> limit;
  CHECK_MESSAGE(limit == std::to_string(64 * 1024 * 1024), mem);

  // The hostPort is DNATed (portmap) to the pod: a chain names the hostport.
  CHECK(n.exec("iptables-save -t nat | grep -c 18080").out != "0\n");

  // Teardown releases the IP.
  CHECK(n.exec("test -e /var/lib/cni/networks/k3dpp/" + ip).code == 0);
  REQUIRE(c->stop_container(*ctr, 2));
  cs = c->container_status(*ctr);
  REQUIRE(cs);
  CHECK(cs->state() == rt::CONTAINER_EXITED);
  CHECK(cs->exit_code() == 0);  // the trap: SIGTERM arrived
  REQUIRE(c->remove_container(*ctr));
  REQUIRE(c->stop_pod_sandbox(*sb));
  REQUIRE(c->remove_pod_sandbox(*sb));
  CHECK(n.exec("test -e /var/lib/cni/networks/k3dpp/" + ip).code != 0);
  auto gone = c->pod_sandbox_status(*sb);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().is("NotFound"));
}

TEST_CASE("Kubelet runs, restarts and deletes pods on a real node (fake API)") {
  if (!engine_ready()) {
    if (skip_engine_tests()) return;
    FAIL("docker or image " K3DPP_NODE_IMAGE " not available (scripts/start-dockerd.sh, images/build.sh)");
  }
  REQUIRE(ensure_busybox_image());
  Node n;
  REQUIRE(n.ok);
  REQUIRE(prepare(n));

  testing::FakeApi api("node-it");
  json web = test_pod("web", "aaaaaaaa-0000-0000-0000-000000000001");
  json crash = test_pod("crash", "aaaaaaaa-0000-0000-0000-000000000002");
  crash["spec"]["containers"][0]["args"] = {"echo dying; exit 1"};
  crash["spec"]["containers"][0].erase("ports");
  web["spec"]["volumes"] = {{{"name", "cfg"}, {"configMap", {{"name", "app-config"}}}}};
  web["spec"]["containers"][0]["volumeMounts"] = {{{"name", "cfg"}, {"mountPath", "/etc/app"}}};
  api.objects["configmaps/itest/app-config"] = {{"data", {{"greeting", "hallo"}}}};
  api.pods = {web, crash};

  KubeletOptions o;
  o.node_name = "node-it";
  o.pod_cidr = kPodCidr;
  o.host_ip = trim(sh("docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' " + n.name).out);
  o.cni_conf_path = n.root + "/etc/cni/net.d/10-k3dpp.conflist";
  o.cgroup_root = n.root + "/sys/fs/cgroup";
  o.log_root = n.root + "/var/log/pods";
  o.node_root = n.root;
  o.cri.endpoint = n.socket();
  o.resync = 200ms;
  auto k = std::make_unique<Kubelet>(api, o);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(k->start());

  auto wait_for = [&](auto f, std::chrono::seconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (f()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return f();
  };
  REQUIRE(wait_for([&] { return api.status("web").value("phase", "") == "Running"; }, 60s));
  MESSAGE("pod Running "
          << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
          << " ms after start()");
  json st = api.status("web");
  std::string ip = st.value("podIP", "");
  CHECK_MESSAGE(in_cidr(ip), "podIP " << ip);
  CHECK(st["hostIP"] == o.host_ip);
  CHECK(st["containerStatuses"][0]["ready"] == true);
  CHECK(st["containerStatuses"][0]["containerID"].get<std::string>().rfind("containerd://", 0) == 0);
  auto ev = api.event_lines();
  auto has = [&](const std::string& s) { return std::find(ev.begin(), ev.end(), s) != ev.end(); };
  CHECK(has(std::string("Normal Pulled Container image \"") + kImage + "\" already present on machine"));
  CHECK(has("Normal Created Created container: app"));
  CHECK(has("Normal Started Started container app"));

  auto out = k->exec_sync("itest", "web", "app", {"sh", "-c", "echo $POD"}, 10);
  REQUIRE(out);
  CHECK(out->stdout() == "web\n");
  auto cfg = k->exec_sync("itest", "web", "app", {"cat", "/etc/app/greeting"}, 10);
  REQUIRE(cfg);
  CHECK(cfg->stdout() == "hallo");
  auto hosts = k->exec_sync("itest", "web", "app", {"cat", "/etc/hosts"}, 10);
  REQUIRE(hosts);
  CHECK(hosts->stdout().find(ip + "\tweb\n") != std::string::npos);
  auto url = k->exec_url("itest", "web", "app", {"sh"}, true, true, true, true);
  REQUIRE_MESSAGE(url, url.error().message);
  MESSAGE("CRI Exec URL: " << *url);
  CHECK(url->rfind("http://127.0.0.1:", 0) == 0);
  auto pf = k->port_forward_url("itest", "web", {80});
  REQUIRE(pf);
  MESSAGE("CRI PortForward URL: " << *pf);

  // The crashing pod: restarted once at once, then held in CrashLoopBackOff.
  REQUIRE(wait_for(
      [&] {
        json c = api.status("crash");
        return c.contains("containerStatuses") &&
               c["containerStatuses"][0]["state"].value("waiting", json::object()).value("reason", "") ==
                   "CrashLoopBackOff";
      },
      60s));
  json cs = api.status("crash")["containerStatuses"][0];
  CHECK(cs["restartCount"].get<int>() >= 1);
  CHECK(cs["lastState"]["terminated"]["exitCode"] == 1);
  LogOptions lo;
  lo.log_root = o.log_root;
  CHECK(*read_container_log("itest", "crash", "app", lo) == "dying\n");
  lo.previous = true;
  CHECK(*read_container_log("itest", "crash", "app", lo) == "dying\n");
  // Through the Kubelet: follow on an exited container drains and returns.
  std::string followed;
  LogOptions fo;
  fo.follow = true;
  auto f0 = std::chrono::steady_clock::now();
  auto lst = k->logs("itest", "crash", "", fo, [&](std::string_view s) {
    followed.append(s);
    return true;
  });
  REQUIRE(lst);
  CHECK(followed == "dying\n");
  CHECK(std::chrono::steady_clock::now() - f0 < 3s);
  // Following a running container streams until we stop.
  std::string web_log;
  auto wl = k->logs("itest", "web", "app", LogOptions{}, [&](std::string_view s) {
    web_log.append(s);
    return true;
  });
  REQUIRE(wl);
  CHECK(web_log == "hello from web\n");

  // Deletion of web: graceful stop (the trap exits 0 on SIGTERM), sandbox and IP released,
  // cgroup and log dir removed, final delete sent.
  std::string cg = o.cgroup_root + "/memory" + pod_cgroup_parent(web);
  CHECK(std::filesystem::exists(cg));
  web["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:00Z";
  web["metadata"]["deletionGracePeriodSeconds"] = 2;
  api.push("MODIFIED", web);
  REQUIRE(wait_for(
      [&] {
        std::lock_guard lk(api.mu);
        return std::find(api.deletes.begin(), api.deletes.end(), "web") != api.deletes.end();
      },
      30s));
  CHECK(n.exec("test -e /var/lib/cni/networks/k3dpp/" + ip).code != 0);
  CHECK_FALSE(std::filesystem::exists(cg));
  CHECK_FALSE(std::filesystem::exists(o.log_root + "/itest_web_aaaaaaaa-0000-0000-0000-000000000001"));
  CHECK_FALSE(std::filesystem::exists(n.root + "/var/lib/kubelet/pods/aaaaaaaa-0000-0000-0000-000000000001"));
  rt::PodSandboxFilter f;
  (*f.mutable_label_selector())[kLabelPodUid] = "aaaaaaaa-0000-0000-0000-000000000001";
  auto left = k->runtime().list_pod_sandbox(f);
  REQUIRE(left);
  CHECK(left->empty());

  // The crash pod vanishes from the API without our final delete (force delete): its sandbox goes.
  api.push("DELETED", crash);
  (*f.mutable_label_selector())[kLabelPodUid] = "aaaaaaaa-0000-0000-0000-000000000002";
  CHECK(wait_for(
      [&] {
        auto l = k->runtime().list_pod_sandbox(f);
        return l && l->empty();
      },
      30s));
  k->stop();
}

TEST_CASE("after a node container restart the kubelet replaces NOTREADY sandboxes") {
  if (!engine_ready()) {
    if (skip_engine_tests()) return;
    FAIL("docker or image " K3DPP_NODE_IMAGE " not available (scripts/start-dockerd.sh, images/build.sh)");
  }
  REQUIRE(ensure_busybox_image());
  Node n;
  REQUIRE(n.ok);
  REQUIRE(prepare(n));
  testing::FakeApi api("node-it");
  json web = test_pod("web", "bbbbbbbb-0000-0000-0000-000000000001");
  api.pods = {web};
  auto options = [&] {
    KubeletOptions o;
    o.node_name = "node-it";
    o.pod_cidr = kPodCidr;
    o.host_ip = "172.30.0.2";
    o.cni_conf_path = n.root + "/etc/cni/net.d/10-k3dpp.conflist";
    o.cgroup_root = n.root + "/sys/fs/cgroup";
    o.log_root = n.root + "/var/log/pods";
    o.node_root = n.root;
    o.cri.endpoint = n.socket();
    o.resync = 200ms;
    return o;
  };
  auto running = [&](std::chrono::seconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (api.status("web").value("phase", "") == "Running") return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  };
  std::string ip1;
  {
    Kubelet k(api, options());
    REQUIRE(k.start());
    REQUIRE(running(60s));
    ip1 = api.status("web").value("podIP", "");
    k.stop();
  }
  // The API keeps the pod's last status across the node restart.
  web["status"] = api.status("web");
  api.pods = {web};
  REQUIRE(sh("docker restart -t 1 " + n.name).code == 0);
  bool ready = false;
  for (int i = 0; i < 300 && !ready; ++i) {
    ready = sh("docker exec " + n.name + " test -e /run/k3dpp/entrypoint-ready").code == 0;
    if (!ready) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(ready);
  n.pid = trim(sh("docker inspect -f '{{.State.Pid}}' " + n.name).out);
  n.root = "/proc/" + n.pid + "/root";
  {
    std::lock_guard lk(api.mu);
    api.statuses.clear();
  }
  Kubelet k(api, options());
  // The old sandbox is there, NOTREADY.
  rt::PodSandboxFilter f;
  (*f.mutable_label_selector())[kLabelPodUid] = "bbbbbbbb-0000-0000-0000-000000000001";
  auto before = k.runtime().list_pod_sandbox(f);
  REQUIRE(before);
  REQUIRE(before->size() == 1);
  CHECK((*before)[0].state() == rt::SANDBOX_NOTREADY);
  REQUIRE(k.start());
  REQUIRE(running(60s));
  std::string ip2 = api.status("web").value("podIP", "");
  CHECK(in_cidr(ip2));
  auto after = k.runtime().list_pod_sandbox(f);
  REQUIRE(after);
  REQUIRE(after->size() == 1);
  CHECK((*after)[0].state() == rt::SANDBOX_READY);
  CHECK((*after)[0].metadata().attempt() == 1);
  // The container ran before: its restart count goes on (0 → 1), and --previous has the old log.
  CHECK(api.status("web")["containerStatuses"][0]["restartCount"] == 1);
  LogOptions prev;
  prev.previous = true;
  std::string prev_log;
  CHECK(k.logs("itest", "web", "app", prev, [&](std::string_view s) {
    prev_log.append(s);
    return true;
  }));
  CHECK(prev_log == "hello from web\n");
  if (ip1 != ip2) CHECK(n.exec("test -e /var/lib/cni/networks/k3dpp/" + ip1).code != 0);
  auto out = k.exec_sync("itest", "web", "app", {"hostname"}, 10);
  REQUIRE(out);
  CHECK(out->stdout() == "web\n");
  k.stop();
}
