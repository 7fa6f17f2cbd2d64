#include "kubelet/kubelet.h"

#include <ifaddrs.h>
#include <malloc.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>

#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "kubelet/cni.h"
#include "kubelet/events.h"
#include "kubelet/pod_status.h"
#include "kubelet/probes.h"
#include "kubelet/start_trace.h"
#include "kubelet/termination.h"
#include "kubelet/volumes.h"
#include "common/json_read.h"

namespace k3dpp::kubelet {
namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

namespace {

std::shared_ptr<spdlog::logger> klog() { return log::get("kubelet"); }

std::string md(const json& pod, const char* k) { return jvalue(pod, "metadata", json::object()).value(k, ""); }

json array_or_empty(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return json::array();
  return *it;
}

Clock::time_point from_nanos(long long ns) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

// The runtime's own message without our "CRI <Rpc>: " prefix.
std::string runtime_message(const Error& e) {
  const std::string& m = e.message;
  if (strings::starts_with(m, "CRI ")) {
    auto colon = m.find(": ");
    if (colon != std::string::npos) return m.substr(colon + 2);
  }
  return m;
}

// imagePullPolicy with Kubernetes' default: Always for ":latest" or no tag, else IfNotPresent.
std::string pull_policy(const json& container) {
  std::string p = jvalue(container, "imagePullPolicy", "");
  if (!p.empty()) return p;
  std::string image = jvalue(container, "image", "");
  if (image.find('@') != std::string::npos) return "IfNotPresent";
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return "Always";
  return image.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
}

bool should_restart(const std::string& policy, int exit_code) {
  if (policy == "Always") return true;
  if (policy == "OnFailure") return exit_code != 0;
  return false;
}

}  // namespace

std::string detect_host_ip() {
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return {};
  std::string best;
  for (ifaddrs* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK)) continue;
    std::string name = i->ifa_name;
    if (name == "cni0" || strings::starts_with(name, "veth") || strings::starts_with(name, "flannel")) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
    if (best.empty() || name == "eth0") best = buf;
  }
  freeifaddrs(ifs);
  return best;
}

Result<std::string> wait_for_pod_cidr(client::ApiClient& api, const std::string& node_name,
                                      std::chrono::milliseconds timeout, std::stop_token stop) {
  auto end = std::chrono::steady_clock::now() + timeout;
  std::string last_error = "node not registered yet";
  while (!stop.stop_requested()) {
    auto n = api.get(client::res::kNodes, "", node_name);
    if (n) {
      std::string cidr = jvalue(jvalue(*n, "spec", json::object()), "podCIDR", "");
      if (!cidr.empty()) return cidr;
      last_error = "no podCIDR assigned yet";
    } else {
      last_error = n.error().message;
    }
    if (std::chrono::steady_clock::now() >= end) {
      return fail("node " + node_name + " has no podCIDR after " +
                      go_duration(std::chrono::duration_cast<std::chrono::milliseconds>(timeout)) + ": " + last_error,
                  "Timeout");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return fail("waiting for the podCIDR of node " + node_name + " cancelled", "Cancelled");
}

// ---------------------------------------------------------------------------------------------
// One pod's worker: owns everything the kubelet does for that pod uid.

struct ProbeState {
  Clock::time_point last_run{};
  int successes = 0;
  int failures = 0;
  bool result = false;
};

struct Kubelet::PodWorker {
  static constexpr std::chrono::milliseconds kMinRunBeforeStop{1000};
  Kubelet& k;
  std::string uid, ns, name;
  std::mutex mu;
  std::condition_variable cv;
  json pod;                 // newest object from the watch
  bool dirty = true;        // a new object arrived
  bool gone = false;        // deleted from the API (force delete or our final delete)
  std::atomic<bool> done{false};
  std::jthread thread;

  // Sync state (worker thread only).
  json last_status = json::object();     // what we last sent
  std::map<std::string, std::pair<std::string, std::string>> waiting;  // container → (reason, message)
  std::map<std::string, ProbeState> readiness, liveness, startup;     // by container id
  std::map<std::string, std::string> backoff_event_sent;              // container → finished-at marker
  bool killed = false;
  bool idle = false;  // terminal pod: wake up only for changes (deletion)
  bool steady = false;  // last sync: Running, all containers up, no probes, nothing waiting
  std::string last_fingerprint;                              // runtime relist seen before the last sync
  std::chrono::steady_clock::time_point last_full_sync{};
  // Where the first start spends its time: logged with the first Running status, then dropped.
  std::optional<StartTrace> trace{std::in_place};

  template <typename F>
  auto timed(const char* step, F&& f) {
    if (trace) return trace->timed(step, std::forward<F>(f));
    return f();
  }

  PodWorker(Kubelet& kl, const json& p) : k(kl), uid(md(p, "uid")), ns(md(p, "namespace")), name(md(p, "name")), pod(p) {}

  void update(const json& p, bool deleted) {
    {
      std::lock_guard lk(mu);
      if (!deleted) pod = p;
      gone = gone || deleted;
      dirty = true;
    }
    cv.notify_all();
  }

  void run(std::stop_token st) {
    while (!st.stop_requested()) {
      json p;
      bool is_gone, changed;
      {
        std::unique_lock lk(mu);
        if (idle) {
          cv.wait(lk, [&] { return dirty || st.stop_requested(); });  // terminal: only changes matter
        } else {
          cv.wait_for(lk, k.opts_.resync, [&] { return dirty || st.stop_requested(); });
        }
        if (st.stop_requested()) break;
        changed = dirty;
        dirty = false;
        p = pod;
        is_gone = gone;
      }
      // Nothing new from the API and nothing changed in the runtime: a steady pod needs no sync.
      std::string fingerprint;
      if (auto fps = timed("relist", [&] { return k.runtime_fingerprints(); })) {
        auto it = fps->find(uid);
        if (it != fps->end()) fingerprint = it->second;
      }
      if (!changed && steady && !fingerprint.empty() && fingerprint == last_fingerprint &&
          std::chrono::steady_clock::now() - last_full_sync < k.opts_.full_sync) {
        continue;
      }
      last_fingerprint = fingerprint;
      last_full_sync = std::chrono::steady_clock::now();
      steady = false;
      bool finished = false;
      try {
        finished = sync(p, is_gone);
      } catch (const std::exception& e) {  // json type errors on odd objects: log, retry later
        klog()->warn("pod {}/{}: sync failed: {}", ns, name, e.what());
      }
      if (finished) break;
    }
    done = true;
  }

  // Whether the API has asked for this pod's deletion since the sync began. Checked between the
  // start-up steps: a pod deleted while it starts gets no further containers started (a SIGTERM
  // sent while a container's entrypoint is still a shell is lost, and the stop then waits out the
  // whole grace period). The next round (the update set dirty) takes the deletion path.
  bool deletion_requested() {
    std::lock_guard lk(mu);
    return gone || (pod.contains("metadata") && pod["metadata"].contains("deletionTimestamp"));
  }

  void event(const json& p, const std::string& type, const std::string& reason, const std::string& message,
             const std::string& field_path = {}) {
    timed("events", [&] { k.events_->record(p, type, reason, message, field_path); });
  }

  // ---- sandboxes and containers in the runtime ----

  std::vector<rt::PodSandbox> sandboxes() {
    rt::PodSandboxFilter f;
    (*f.mutable_label_selector())[kLabelPodUid] = uid;
    auto r = k.cri_->list_pod_sandbox(f);
    if (!r) return {};
    auto v = *r;
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.created_at() < b.created_at(); });
    return v;
  }

  std::vector<rt::Container> containers(const std::string& sandbox_id) {
    rt::ContainerFilter f;
    (*f.mutable_label_selector())[kLabelPodUid] = uid;
    if (!sandbox_id.empty()) f.set_pod_sandbox_id(sandbox_id);
    auto r = k.cri_->list_containers(f);
    if (!r) return {};
    return *r;
  }

  // ---- teardown ----

  void kill_pod(const json& p, long long grace) {
    auto ctrs = containers("");
    std::vector<std::future<void>> stops;
    for (const auto& c : ctrs) {
      if (c.state() != rt::CONTAINER_RUNNING && c.state() != rt::CONTAINER_CREATED) continue;
      bool init = false;
      for (const auto& ic : array_or_empty(jvalue(p, "spec", json::object()), "initContainers")) {
        if (jvalue(ic, "name", "") == c.metadata().name()) init = true;
      }
      if (c.state() == rt::CONTAINER_RUNNING) {
        event(p, "Normal", "Killing", "Stopping container " + c.metadata().name(),
              container_field_path(c.metadata().name(), init));
      }
      std::string id = c.id();
      // A container created moments ago may still be running its entrypoint shell as PID 1, which
      // has no handler for the stop signal: the signal would be lost and the stop would wait out
      // the whole grace period. Such a container gets until kMinRunBeforeStop after its creation.
      auto age = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch()) -
                 std::chrono::nanoseconds(c.created_at());
      auto settle = c.state() == rt::CONTAINER_RUNNING && age >= std::chrono::nanoseconds::zero() && age < kMinRunBeforeStop
                        ? std::chrono::duration_cast<std::chrono::milliseconds>(kMinRunBeforeStop - age)
                        : std::chrono::milliseconds::zero();
      stops.push_back(std::async(std::launch::async, [this, id, grace, settle] {
        if (settle.count() > 0) std::this_thread::sleep_for(settle);
        auto st = k.cri_->stop_container(id, grace);
        if (!st) klog()->warn("pod {}/{}: {}", ns, name, st.error().message);
      }));
    }
    for (auto& f : stops) f.wait();
    for (const auto& sb : sandboxes()) {
      if (auto st = k.cri_->stop_pod_sandbox(sb.id()); !st) klog()->warn("pod {}/{}: {}", ns, name, st.error().message);
    }
  }

  void remove_pod_resources(const json& p) {
    for (const auto& sb : sandboxes()) {
      if (auto st = k.cri_->stop_pod_sandbox(sb.id()); !st) klog()->warn("{}", st.error().message);
      if (auto st = k.cri_->remove_pod_sandbox(sb.id()); !st) klog()->warn("{}", st.error().message);
    }
    // CRI leaves the pod-level cgroup behind: remove it in every controller hierarchy.
    std::string parent = pod_cgroup_parent(p);
    std::error_code ec;
    for (const auto& ctrl : fs::directory_iterator(k.opts_.cgroup_root, ec)) {
      fs::path dir = ctrl.path() / parent.substr(1);
      if (fs::is_directory(dir, ec)) {
        if (::rmdir(dir.c_str()) != 0) klog()->debug("rmdir {}: {}", dir.string(), std::strerror(errno));
      }
    }
    fs::remove_all(k.opts_.log_root + "/" + ns + "_" + name + "_" + uid, ec);
    teardown_volumes(k.opts_.node_root + k.opts_.defaults.pods_root + "/" + uid);  // tmpfs emptyDirs
    fs::remove_all(k.opts_.node_root + k.opts_.defaults.pods_root + "/" + uid, ec);
  }

  // ---- images ----

  // True when the image is ready to use; else sets the waiting reason.
  bool ensure_image(const json& p, const json& c, bool init, const rt::PodSandboxConfig& sb_config) {
    std::string cname = jvalue(c, "name", ""), image = jvalue(c, "image", "");
    std::string fp = container_field_path(cname, init);
    std::string policy = pull_policy(c);
    auto present = timed("image", [&] { return k.cri_->image_status(image); });
    bool have = present && present->has_value();
    if (policy == "Never") {
      if (have) return true;
      std::string msg = "Container image \"" + image + "\" is not present with pull policy of Never";
      waiting[cname] = {"ErrImageNeverPull", msg};
      event(p, "Warning", "ErrImageNeverPull", msg, fp);
      return false;
    }
    if (policy == "IfNotPresent" && have) {
      event(p, "Normal", "Pulled", "Container image \"" + image + "\" already present on machine", fp);
      return true;
    }
    std::string key = uid + "/image/" + image;
    if (auto it = pull_failed_at_.find(image);
        it != pull_failed_at_.end() && Clock::now() - it->second < k.image_backoff_.get(key)) {
      std::string msg = "Back-off pulling image \"" + image + "\"";
      if (waiting_reason(cname) != "ImagePullBackOff") {
        event(p, "Normal", "BackOff", msg, fp);
        event(p, "Warning", "Failed", "Error: ImagePullBackOff", fp);
      }
      waiting[cname] = {"ImagePullBackOff", msg};
      return false;
    }
    event(p, "Normal", "Pulling", "Pulling image \"" + image + "\"", fp);
    auto t0 = std::chrono::steady_clock::now();
    auto pulled = k.cri_->pull_image(image, &sb_config);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    if (pulled) {
      k.image_backoff_.reset(key);
      long long size = 0;
      if (auto st = k.cri_->image_status(image); st && st->has_value()) size = static_cast<long long>((*st)->size());
      event(p, "Normal", "Pulled",
            "Successfully pulled image \"" + image + "\" in " + go_duration(took) + " (" + go_duration(took) +
                " including waiting). Image size: " + std::to_string(size) + " bytes.",
            fp);
      return true;
    }
    std::string err = runtime_message(pulled.error());
    if (have) {
      // Offline node: the registry is unreachable but the image is here. Use it, say so.
      event(p, "Warning", "Failed",
            "Failed to pull image \"" + image + "\": " + err + "; using the image already present on the node", fp);
      return true;
    }
    event(p, "Warning", "Failed", "Failed to pull image \"" + image + "\": " + err, fp);
    event(p, "Warning", "Failed", "Error: ErrImagePull", fp);
    k.image_backoff_.next(key, Clock::now());
    pull_failed_at_[image] = Clock::now();
    waiting[cname] = {"ErrImagePull", "Failed to pull image \"" + image + "\": " + err};
    return false;
  }
  std::map<std::string, Clock::time_point> pull_failed_at_;

  std::string waiting_reason(const std::string& cname) {
    auto it = waiting.find(cname);
    return it == waiting.end() ? "" : it->second.first;
  }

  // ---- containers ----

  // Volumes and /etc/hosts, set up once the sandbox has its IP. False while they cannot be.
  std::optional<std::map<std::string, PreparedVolume>> volumes;
  std::string etc_hosts;        // node path of the managed hosts file
  std::string last_mount_error;

  Clock::time_point volumes_refreshed{};

  bool ensure_volumes(const json& p, const std::string& pod_ip) {
    VolumeContext vc;
    vc.pods_root = k.opts_.defaults.pods_root;
    vc.node_root = k.opts_.node_root;
    vc.lookup = [this](const std::string& plural, const std::string& ons, const std::string& oname) {
      return k.api_.get(client::Resource{"v1", plural}, ons, oname);
    };
    if (volumes) {
      // configMap/secret/downwardAPI/projected files follow their sources (the kubelet's sync period).
      if (Clock::now() - volumes_refreshed >= k.opts_.volume_refresh) {
        volumes_refreshed = Clock::now();
        if (auto st = refresh_volumes(p, vc); !st) klog()->debug("pod {}/{}: {}", ns, name, st.error().message);
      }
      return true;
    }
    auto v = prepare_volumes(p, vc);
    if (!v) {
      if (v.error().message != last_mount_error) {
        last_mount_error = v.error().message;
        if (!v.error().is("NotReady")) event(p, "Warning", "FailedMount", v.error().message);
        klog()->info("pod {}/{}: {}", ns, name, v.error().message);
      }
      return false;
    }
    std::string hosts = k.opts_.defaults.pods_root + "/" + uid + "/etc-hosts";
    std::error_code ec;
    fs::create_directories(k.opts_.node_root + k.opts_.defaults.pods_root + "/" + uid, ec);
    if (auto st = files::write_atomic(k.opts_.node_root + hosts, render_etc_hosts(p, pod_ip), 0644); st) {
      etc_hosts = hosts;
    } else {
      klog()->warn("pod {}/{}: {}", ns, name, st.error().message);
    }
    for (const auto& [_, pv] : *v) {
      if (strings::starts_with(pv.host_path, std::string(kLocalPathStorageRoot) + "/")) k.start_local_path_cleaner();
    }
    volumes = std::move(*v);
    volumes_refreshed = Clock::now();
    return true;
  }

  // Pull, create and start one container (attempt N). False when it did not start.
  bool start_container(const json& p, const json& c, bool init, uint32_t attempt, const std::string& sandbox_id,
                       const rt::PodSandboxConfig& sb_config, const std::string& pod_ip) {
    std::string cname = jvalue(c, "name", "");
    std::string fp = container_field_path(cname, init);
    if (deletion_requested()) return false;
    if (!ensure_image(p, c, init, sb_config)) return false;
    EnvContext ectx;
    ectx.pod_ip = pod_ip;
    ectx.host_ip = k.opts_.host_ip;
    ectx.node_name = k.opts_.node_name;
    ectx.lookup = [this](const std::string& plural, const std::string& ons, const std::string& oname) {
      return k.api_.get(client::Resource{"v1", plural}, ons, oname);
    };
    ectx.services = [this](const std::string& ons) -> Result<std::vector<json>> {
      if (k.opts_.cached_services) {
        if (auto cached = k.opts_.cached_services(ons)) return std::move(*cached);
      }
      auto l = k.api_.list(client::Resource{"v1", "services"}, ons);
      if (!l) return l.error();
      return l->items;
    };
    auto env = timed("env", [&] { return resolve_env(p, c, ectx, k.opts_.defaults); });
    if (env) {
      std::optional<long long> image_uid;
      std::string image_user;
      if (auto img = timed("image", [&] { return k.cri_->image_status(jvalue(c, "image", "")); });
          img && img->has_value()) {
        if ((*img)->has_uid()) image_uid = (*img)->uid().value();
        image_user = (*img)->username();
      }
      if (auto st = verify_run_as_non_root(p, c, image_uid, image_user); !st) env = st.error();
    }
    if (!env) {
      waiting[cname] = {"CreateContainerConfigError", env.error().message};
      event(p, "Warning", "Failed", "Error: " + env.error().message, fp);
      return false;
    }
    auto mounts = container_mounts(p, c, *volumes, etc_hosts);
    add_termination_log_mount(c, attempt, mounts);
    auto config = make_container_config(p, c, attempt, *env, mounts);
    auto id = timed("create", [&] { return k.cri_->create_container(sandbox_id, config, sb_config); });
    if (!id) {
      std::string msg = runtime_message(id.error());
      waiting[cname] = {"CreateContainerError", msg};
      event(p, "Warning", "Failed", "Error: " + msg, fp);
      return false;
    }
    event(p, "Normal", "Created", "Created container: " + cname, fp);
    if (deletion_requested()) return false;  // created, never started: the kill removes it
    if (auto st = timed("start", [&] { return k.cri_->start_container(*id); }); !st) {
      std::string msg = runtime_message(st.error());
      waiting[cname] = {"RunContainerError", msg};
      event(p, "Warning", "Failed", "Error: " + msg, fp);
      return false;
    }
    event(p, "Normal", "Started", "Started container " + cname, fp);
    waiting.erase(cname);
    return true;
  }

  // The file behind terminationMessagePath (an empty 0666 file per attempt under the pod dir), so
  // what the container writes there becomes its terminated.message.
  void add_termination_log_mount(const json& c, uint32_t attempt, std::vector<rt::Mount>& mounts) {
    std::string target = jvalue(c, "terminationMessagePath", "/dev/termination-log");
    if (target.empty()) return;
    for (const auto& m : mounts) {
      if (m.container_path() == target) return;  // a volume already sits there
    }
    std::string file = termination_file_path(k.opts_.defaults.pods_root, uid, jvalue(c, "name", ""), attempt);
    std::string node_file = k.opts_.node_root + file;
    std::error_code ec;
    fs::create_directories(fs::path(node_file).parent_path(), ec);
    if (auto st = files::write_atomic(node_file, "", 0666); !st) {
      klog()->warn("pod {}/{}: termination log: {}", ns, name, st.error().message);
      return;
    }
    ::chmod(node_file.c_str(), 0666);  // writable by any user in the container, as the kubelet does
    rt::Mount m;
    m.set_container_path(target);
    m.set_host_path(file);
    mounts.push_back(m);
  }

  // Latest and previous attempt of each container name in the sandbox, with full statuses.
  std::map<std::string, ContainerInfo> runtime_view(const std::string& sandbox_id) {
    std::map<std::string, std::vector<rt::Container>> by_name;
    for (auto& c : containers(sandbox_id)) by_name[c.metadata().name()].push_back(c);
    std::map<std::string, ContainerInfo> out;
    for (auto& [cname, list] : by_name) {
      std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
        return a.metadata().attempt() != b.metadata().attempt() ? a.metadata().attempt() > b.metadata().attempt()
                                                                : a.created_at() > b.created_at();
      });
      ContainerInfo ci;
      if (auto s = k.cri_->container_status(list[0].id())) ci.current = *s;
      if (list.size() > 1) {
        if (auto s = k.cri_->container_status(list[1].id())) ci.previous = *s;
      }
      if (ci.current) add_termination_message(*ci.current, k.opts_.node_root);
      if (ci.previous) add_termination_message(*ci.previous, k.opts_.node_root);
      // Keep the two newest attempts (current + previous for `logs --previous`).
      for (size_t i = 2; i < list.size(); ++i) (void)k.cri_->remove_container(list[i].id());
      out[cname] = ci;
    }
    return out;
  }

  // Returns true when the worker is finished (pod gone).
  bool sync(const json& p, bool is_gone) {
    const json spec = jvalue(p, "spec", json::object());
    const json meta = jvalue(p, "metadata", json::object());

    // --- Deletion ---
    if (is_gone || meta.contains("deletionTimestamp")) {
      long long grace = jvalue(meta, "deletionGracePeriodSeconds", jvalue(spec, "terminationGracePeriodSeconds", 30LL));
      if (is_gone) grace = std::min<long long>(grace, 2);  // the object is already gone: be quick
      if (!killed) {
        kill_pod(p, grace);
        killed = true;
      }
      remove_pod_resources(p);
      if (!is_gone) {
        client::DeleteOptions del;
        del.grace_period_seconds = 0;
        del.precondition_uid = uid;
        auto st = k.api_.remove(client::res::kPods, ns, name, del);
        if (!st && !st.error().is("NotFound") && !st.error().is("Conflict")) {
          klog()->warn("pod {}/{}: final delete failed: {}", ns, name, st.error().message);
          return false;  // retry next round
        }
      }
      klog()->info("pod {}/{} removed", ns, name);
      return true;
    }

    std::string phase = jvalue(jvalue(p, "status", json::object()), "phase", "");
    if (last_status.contains("phase")) phase = jvalue(last_status, "phase", phase);
    if (phase == "Succeeded" || phase == "Failed") {
      // Terminal: nothing more runs; release the sandbox (IP) but keep containers for logs.
      for (const auto& sb : sandboxes()) {
        if (sb.state() == rt::SANDBOX_READY) (void)k.cri_->stop_pod_sandbox(sb.id());
      }
      idle = true;
      return false;
    }

    // --- Sandbox ---
    std::string sandbox_id;
    uint32_t attempt = 0;
    auto sbs = timed("list", [&] { return sandboxes(); });
    for (const auto& sb : sbs) {
      attempt = std::max(attempt, sb.metadata().attempt() + 1);
      if (sb.state() == rt::SANDBOX_READY) sandbox_id = sb.id();
    }
    rt::PodSandboxConfig sb_config;
    if (sandbox_id.empty() && deletion_requested()) return false;  // deleted before it got a sandbox
    if (sandbox_id.empty()) {
      // Old sandboxes (node restarted, or the sandbox died): stop and remove them, then a new one.
      for (const auto& sb : sbs) {
        (void)k.cri_->stop_pod_sandbox(sb.id());
        (void)k.cri_->remove_pod_sandbox(sb.id());
      }
      sb_config = make_sandbox_config(p, attempt, k.opts_.defaults);
      volumes.reset();  // a new sandbox may get a new IP: /etc/hosts is rewritten
      std::error_code ec;  // the runtime writes the container logs below it
      fs::create_directories(k.opts_.log_root + "/" + ns + "_" + name + "_" + uid, ec);
      auto id = timed("sandbox", [&] { return k.cri_->run_pod_sandbox(sb_config); });
      if (!id) {
        event(p, "Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: " + runtime_message(id.error()));
        PodInfo info;
        info.host_ip = k.opts_.host_ip;
        publish(p, info);
        return false;
      }
      sandbox_id = *id;
    } else {
      uint32_t sb_attempt = 0;
      for (const auto& sb : sbs) {
        if (sb.id() == sandbox_id) sb_attempt = sb.metadata().attempt();
      }
      sb_config = make_sandbox_config(p, sb_attempt, k.opts_.defaults);
      // Sandboxes that are not the current one (e.g. NOTREADY leftovers) go.
      for (const auto& sb : sbs) {
        if (sb.id() != sandbox_id) {
          (void)k.cri_->stop_pod_sandbox(sb.id());
          (void)k.cri_->remove_pod_sandbox(sb.id());
        }
      }
    }

    PodInfo info;
    info.host_ip = k.opts_.host_ip;
    auto sb_status = timed("sandbox_status", [&] { return k.cri_->pod_sandbox_status(sandbox_id); });
    info.sandbox_ready = sb_status && sb_status->state() == rt::SANDBOX_READY;
    if (jvalue(spec, "hostNetwork", false)) {
      info.pod_ips.push_back(k.opts_.host_ip);
    } else if (sb_status && !sb_status->network().ip().empty()) {
      info.pod_ips.push_back(sb_status->network().ip());
      for (const auto& ip : sb_status->network().additional_ips()) info.pod_ips.push_back(ip.ip());
    }
    std::string pod_ip = info.pod_ips.empty() ? "" : info.pod_ips.front();
    std::string policy = jvalue(spec, "restartPolicy", "Always");

    // --- Volumes ---
    auto view = timed("view", [&] { return runtime_view(sandbox_id); });
    if (!timed("volumes", [&] { return ensure_volumes(p, pod_ip); })) {
      for (const auto& c : array_or_empty(spec, "initContainers")) fill_info(c, view, info.init_containers, true);
      for (const auto& c : array_or_empty(spec, "containers")) fill_info(c, view, info.containers, false);
      publish(p, info);
      return false;
    }

    // Report what the runtime shows before acting on it, as the kubelet does (status first, then
    // SyncPod): a container that just exited is seen as terminated (STATUS Error / Completed)
    // before it is restarted, instead of jumping straight to the next attempt.
    if (any_exited(view)) {
      PodInfo seen = info;
      for (const auto& c : array_or_empty(spec, "initContainers")) fill_info(c, view, seen.init_containers, true);
      for (const auto& c : array_or_empty(spec, "containers")) fill_info(c, view, seen.containers, false);
      publish(p, seen);
    }

    // --- Init containers, in order ---
    bool initialized = true;
    for (const auto& c : array_or_empty(spec, "initContainers")) {
      std::string cname = jvalue(c, "name", "");
      auto it = view.find(cname);
      if (it == view.end() || !it->second.current) {
        initialized = false;
        if (start_container(p, c, true, first_attempt(p, cname, true), sandbox_id, sb_config, pod_ip)) {
          view = runtime_view(sandbox_id);
        }
        break;
      }
      const auto& cur = *it->second.current;
      if (cur.state() == rt::CONTAINER_EXITED && cur.exit_code() == 0) continue;
      initialized = false;
      if (cur.state() == rt::CONTAINER_EXITED && policy != "Never") {
        if (restart_with_backoff(p, c, true, cur, sandbox_id, sb_config, pod_ip)) view = runtime_view(sandbox_id);
      } else if (cur.state() == rt::CONTAINER_CREATED) {
        if (!deletion_requested()) (void)k.cri_->start_container(cur.id());
      }
      break;
    }

    // --- App containers ---
    if (initialized) {
      bool started_any = false;
      for (const auto& c : array_or_empty(spec, "containers")) {
        std::string cname = jvalue(c, "name", "");
        auto it = view.find(cname);
        if (it == view.end() || !it->second.current) {
          started_any |= start_container(p, c, false, first_attempt(p, cname, false), sandbox_id, sb_config, pod_ip);
          continue;
        }
        const auto& cur = *it->second.current;
        if (cur.state() == rt::CONTAINER_CREATED) {
          if (!deletion_requested() && k.cri_->start_container(cur.id())) started_any = true;
        } else if (cur.state() == rt::CONTAINER_EXITED) {
          if (should_restart(policy, cur.exit_code())) {
            started_any |= restart_with_backoff(p, c, false, cur, sandbox_id, sb_config, pod_ip);
          }
        } else if (cur.state() == rt::CONTAINER_RUNNING) {
          if (run_probes(p, c, cur, pod_ip)) started_any = true;  // liveness kill: refresh
        }
      }
      if (started_any) view = timed("view", [&] { return runtime_view(sandbox_id); });
    }

    // --- Status ---
    for (const auto& c : array_or_empty(spec, "initContainers")) fill_info(c, view, info.init_containers, true);
    for (const auto& c : array_or_empty(spec, "containers")) fill_info(c, view, info.containers, false);
    publish(p, info);
    steady = is_steady(spec, info);
    return false;
  }

  // Running, sandbox ready, every app container running without probes, nothing waiting: such a
  // pod only changes through the API or the runtime, both of which end a skipped resync.
  bool is_steady(const json& spec, const PodInfo& info) const {
    if (!info.sandbox_ready || !waiting.empty() || !volumes) return false;
    if (jvalue(last_status, "phase", "") != "Running") return false;
    for (const auto& c : array_or_empty(spec, "containers")) {
      if (c.contains("livenessProbe") || c.contains("readinessProbe") || c.contains("startupProbe")) return false;
      auto it = info.containers.find(jvalue(c, "name", ""));
      if (it == info.containers.end() || !it->second.current ||
          it->second.current->state() != rt::CONTAINER_RUNNING) {
        return false;
      }
    }
    return true;
  }

  static bool any_exited(const std::map<std::string, ContainerInfo>& view) {
    for (const auto& [_, ci] : view) {
      if (ci.current && ci.current->state() == rt::CONTAINER_EXITED) return true;
    }
    return false;
  }

  // First attempt number of a container that has no attempt in the current sandbox: 0 for a new
  // pod; after the sandbox was replaced (node restart), one more than the restartCount the pod's
  // status already shows for a container that ran, so restart counts keep growing.
  uint32_t first_attempt(const json& p, const std::string& cname, bool init) {
    const json& st = !last_status.empty() ? last_status : jvalue(p, "status", json::object());
    for (const auto& cs : array_or_empty(st, init ? "initContainerStatuses" : "containerStatuses")) {
      if (jvalue(cs, "name", "") == cname && cs.contains("containerID") && cs["containerID"].is_string() &&
          !cs["containerID"].get<std::string>().empty()) {
        return static_cast<uint32_t>(jvalue(cs, "restartCount", 0) + 1);
      }
    }
    return 0;
  }

  void fill_info(const json& c, std::map<std::string, ContainerInfo>& view, std::map<std::string, ContainerInfo>& out,
                 bool init) {
    std::string cname = jvalue(c, "name", "");
    ContainerInfo ci;
    if (auto it = view.find(cname); it != view.end()) ci = it->second;
    auto w = waiting.find(cname);
    bool running = ci.current && ci.current->state() == rt::CONTAINER_RUNNING;
    if (w != waiting.end() && !running) {
      ci.waiting_reason = w->second.first;
      ci.waiting_message = w->second.second;
    }
    if (running) {
      const std::string& id = ci.current->id();
      bool has_startup = c.contains("startupProbe") && !init;
      ci.started = !has_startup || startup[id].result;
      bool has_readiness = c.contains("readinessProbe") && !init;
      ci.ready = ci.started && (!has_readiness || readiness[id].result);
    }
    out[cname] = ci;
  }

  // An exited container that should run again: restart now, or hold it in CrashLoopBackOff.
  bool restart_with_backoff(const json& p, const json& c, bool init, const rt::ContainerStatus& cur,
                            const std::string& sandbox_id, const rt::PodSandboxConfig& sb_config,
                            const std::string& pod_ip) {
    std::string cname = jvalue(c, "name", "");
    std::string key = uid + "/" + cname;
    auto now = Clock::now();
    auto finished = from_nanos(cur.finished_at());
    if (k.restart_backoff_.in_backoff_since(key, finished, now)) {
      std::string delay = go_duration(k.restart_backoff_.get(key));
      waiting[cname] = {"CrashLoopBackOff", "back-off " + delay + " restarting failed container=" + cname + " pod=" +
                                                name + "_" + ns + "(" + uid + ")"};
      std::string marker = std::to_string(cur.finished_at());
      if (backoff_event_sent[cname] != marker) {
        backoff_event_sent[cname] = marker;
        event(p, "Warning", "BackOff",
              "Back-off restarting failed container " + cname + " in pod " + name + "_" + ns + "(" + uid + ")",
              container_field_path(cname, init));
      }
      return false;
    }
    k.restart_backoff_.next(key, now);
    waiting.erase(cname);
    return start_container(p, c, init, cur.metadata().attempt() + 1, sandbox_id, sb_config, pod_ip);
  }

  // Runs due probes of a running container. True when liveness killed it.
  bool run_probes(const json& p, const json& c, const rt::ContainerStatus& cur, const std::string& pod_ip) {
    const std::string& id = cur.id();
    std::string cname = jvalue(c, "name", "");
    std::string fp = container_field_path(cname, false);
    auto now = Clock::now();
    auto started = from_nanos(cur.started_at());
    auto due = [&](const json& probe, ProbeState& ps) {
      ProbeTiming t = probe_timing(probe);
      if (now - started < std::chrono::seconds(t.initial_delay_seconds)) return false;
      if (ps.last_run != Clock::time_point{} && now - ps.last_run < std::chrono::seconds(t.period_seconds)) {
        return false;
      }
      ps.last_run = now;
      return true;
    };
    auto step = [&](const json& probe, ProbeState& ps, const char* kind) {
      ProbeTiming t = probe_timing(probe);
      ProbeResult r = run_probe(probe, c, pod_ip, *k.cri_, id);
      if (r.success) {
        ps.failures = 0;
        if (++ps.successes >= t.success_threshold) ps.result = true;
      } else {
        ps.successes = 0;
        ++ps.failures;
        event(p, "Warning", "Unhealthy", std::string(kind) + " probe failed: " + r.output, fp);
        if (ps.failures >= t.failure_threshold) ps.result = false;
      }
      return ps.failures >= t.failure_threshold;
    };
    bool has_startup = c.contains("startupProbe");
    ProbeState& su = startup[id];
    if (has_startup && !su.result) {
      if (due(c["startupProbe"], su) && step(c["startupProbe"], su, "Startup")) {
        kill_for_probe(p, c, cur, "startup");
        return true;
      }
      if (!su.result) return false;  // liveness and readiness wait for startup
    }
    if (c.contains("livenessProbe")) {
      ProbeState& lv = liveness[id];
      if (due(c["livenessProbe"], lv) && step(c["livenessProbe"], lv, "Liveness")) {
        kill_for_probe(p, c, cur, "liveness");
        return true;
      }
    }
    if (c.contains("readinessProbe")) {
      ProbeState& rd = readiness[id];
      if (due(c["readinessProbe"], rd)) step(c["readinessProbe"], rd, "Readiness");
    }
    return false;
  }

  void kill_for_probe(const json& p, const json& c, const rt::ContainerStatus& cur, const char* which) {
    std::string cname = jvalue(c, "name", "");
    event(p, "Normal", "Killing", "Container " + cname + " failed " + which + " probe, will be restarted",
          container_field_path(cname, false));
    long long grace = jvalue(jvalue(p, "spec", json::object()), "terminationGracePeriodSeconds", 30LL);
    (void)k.cri_->stop_container(cur.id(), grace);
    readiness.erase(cur.id());
    liveness.erase(cur.id());
    startup.erase(cur.id());
  }

  void publish(const json& p, const PodInfo& info) {
    json base = p;
    if (!last_status.empty()) base["status"] = last_status;
    json status = compute_pod_status(base, info, rfc3339_now());
    if (status == last_status) return;
    json patch = {{"status", status}};
    auto r = timed("status",
                   [&] { return k.api_.patch(client::res::kPods, ns, name, client::PatchType::kMerge, patch, "status"); });
    if (!r) {
      klog()->warn("pod {}/{}: status update failed: {}", ns, name, r.error().message);
      return;
    }
    if (jvalue(status, "phase", "") != jvalue(last_status, "phase", "")) {
      std::string took;
      if (trace && jvalue(status, "phase", "") == "Running") {
        took = " (start-up " + trace->summary() + ")";
        trace.reset();
      }
      klog()->info("pod {}/{}: {}{}{}", ns, name, jvalue(status, "phase", ""),
                   status.contains("podIP") ? " " + jvalue(status, "podIP", "") : "", took);
    }
    last_status = status;
  }
};

// ---------------------------------------------------------------------------------------------

Kubelet::Kubelet(client::ApiClient& api, KubeletOptions options)
    : Kubelet(api, std::shared_ptr<cri::CriClient>(cri::make_grpc_client(options.cri)), options) {}

Kubelet::Kubelet(client::ApiClient& api, const std::string& node_name, const std::string& pod_cidr)
    : Kubelet(api, [&] {
        KubeletOptions o;
        o.node_name = node_name;
        o.pod_cidr = pod_cidr;
        return o;
      }()) {}

Kubelet::Kubelet(client::ApiClient& api, std::shared_ptr<cri::CriClient> cri, KubeletOptions options)
    : api_(api), cri_(std::move(cri)), opts_(std::move(options)) {
  if (opts_.host_ip.empty()) opts_.host_ip = detect_host_ip();
  events_ = std::make_unique<EventRecorder>(api_, opts_.node_name);
}

Kubelet::~Kubelet() { stop(); }

Status Kubelet::start() {
  if (running_) return {};
  auto log = klog();
  if (!opts_.pod_cidr.empty()) {
    auto w = write_cni_conflist(opts_.pod_cidr, opts_.cni_conf_path);
    if (!w) return w.error().wrap("kubelet");
    if (*w) log->info("wrote CNI config {} for podCIDR {}", opts_.cni_conf_path, opts_.pod_cidr);
  }
  auto v = cri_->version();
  if (!v) return v.error().wrap("kubelet: container runtime not reachable");
  log->info("container runtime {} {} (CRI {})", v->runtime_name(), v->runtime_version(), v->runtime_api_version());

  client::ListOptions lo;
  lo.field_selector = "spec.nodeName=" + opts_.node_name;
  informer_ = std::make_unique<client::Informer>(api_, client::res::kPods, "", lo);
  informer_->add_handlers({[this](const json& o) { on_pod(o, false); },
                           [this](const json&, const json& o) { on_pod(o, false); },
                           [this](const json& o) { on_pod(o, true); }});
  running_ = true;
  informer_->start();
  if (!informer_->wait_for_sync(std::chrono::seconds(30))) log->warn("pod informer not synced after 30s");
  if (auto st = cleanup_orphans(); !st) log->warn("{}", st.error().message);
  std::error_code ec;
  if (fs::is_directory(opts_.node_root + kLocalPathStorageRoot, ec)) start_local_path_cleaner();
  housekeeping_ = std::jthread([this](std::stop_token st) { housekeeping_loop(st); });
  return {};
}

void Kubelet::stop() {
  if (!running_.exchange(false)) return;
  if (informer_) informer_->stop();
  if (local_path_) local_path_->stop();
  housekeeping_ = {};
  std::map<std::string, std::shared_ptr<PodWorker>> ws;
  {
    std::lock_guard lk(mu_);
    ws.swap(workers_);
  }
  for (auto& [_, w] : ws) {
    w->thread.request_stop();
    w->cv.notify_all();
  }
  for (auto& [_, w] : ws) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Kubelet::on_pod(const json& pod, bool deleted) {
  if (!running_) return;
  std::string uid = md(pod, "uid");
  if (uid.empty()) return;
  std::lock_guard lk(mu_);
  auto it = workers_.find(uid);
  if (it != workers_.end() && it->second->done) {
    if (it->second->thread.joinable()) it->second->thread.join();
    workers_.erase(it);
    it = workers_.end();
  }
  if (it != workers_.end()) {
    it->second->update(pod, deleted);
    return;
  }
  auto w = std::make_shared<PodWorker>(*this, pod);
  if (deleted) w->gone = true;
  workers_[uid] = w;
  w->thread = std::jthread([w](std::stop_token st) { w->run(st); });
}

Status Kubelet::cleanup_orphans() {
  rt::PodSandboxFilter f;
  auto sbs = cri_->list_pod_sandbox(f);
  if (!sbs) return sbs.error().wrap("kubelet: listing sandboxes");
  std::map<std::string, bool> live;
  if (informer_) {
    for (const auto& p : informer_->list()) live[md(*p, "uid")] = true;
  }
  for (const auto& sb : *sbs) {
    const std::string& uid = sb.metadata().uid();
    if (live.count(uid)) continue;
    {
      std::lock_guard lk(mu_);
      if (workers_.count(uid)) continue;
    }
    klog()->info("removing sandbox of pod {}/{} (uid {}): the pod no longer exists", sb.metadata().namespace_(),
                 sb.metadata().name(), uid);
    rt::ContainerFilter cf;
    cf.set_pod_sandbox_id(sb.id());
    if (auto cs = cri_->list_containers(cf)) {
      for (const auto& c : *cs) {
        if (c.state() == rt::CONTAINER_RUNNING) (void)cri_->stop_container(c.id(), 2);
      }
    }
    (void)cri_->stop_pod_sandbox(sb.id());
    (void)cri_->remove_pod_sandbox(sb.id());
    json fake = {{"metadata", {{"uid", uid}, {"namespace", sb.metadata().namespace_()}, {"name", sb.metadata().name()}}}};
    std::error_code ec;
    for (const char* q : {"/kubepods/pod", "/kubepods/burstable/pod", "/kubepods/besteffort/pod"}) {
      for (const auto& ctrl : fs::directory_iterator(opts_.cgroup_root, ec)) {
        fs::path dir = ctrl.path() / (std::string(q + 1) + uid);
        if (fs::is_directory(dir, ec)) ::rmdir(dir.c_str());
      }
    }
    fs::remove_all(opts_.log_root + "/" + sb.metadata().namespace_() + "_" + sb.metadata().name() + "_" + uid, ec);
  }
  return {};
}

void Kubelet::housekeeping_loop(std::stop_token st) {
  std::mutex m;
  std::condition_variable_any cv;
  while (!st.stop_requested()) {
    {
      std::unique_lock lk(m);
      cv.wait_for(lk, st, opts_.housekeeping, [] { return false; });
    }
    if (st.stop_requested()) break;
    (void)cleanup_orphans();
    restart_backoff_.gc(Clock::now());
    image_backoff_.gc(Clock::now());
    ::malloc_trim(0);  // hand memory freed by finished pods back to the system (RSS)
    std::lock_guard lk(mu_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (it->second->done) {
        if (it->second->thread.joinable()) it->second->thread.join();
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

// This node holds local-path volumes: watch PVs to remove their directories when deleted.
void Kubelet::start_local_path_cleaner() {
  std::call_once(local_path_once_, [this] {
    local_path_ = std::make_unique<LocalPathCleaner>(api_, opts_.node_name, opts_.node_root);
    local_path_->start();
  });
}

std::shared_ptr<const std::map<std::string, std::string>> Kubelet::runtime_fingerprints() {
  std::lock_guard lk(relist_mu_);
  auto now = std::chrono::steady_clock::now();
  if (relist_ && now - relist_at_ < opts_.resync) return relist_;
  auto sbs = cri_->list_pod_sandbox(rt::PodSandboxFilter());
  auto cs = cri_->list_containers(rt::ContainerFilter());
  if (!sbs || !cs) {
    relist_.reset();
    return nullptr;
  }
  std::map<std::string, std::vector<std::string>> parts;
  auto uid_of = [](const auto& labels) {
    auto it = labels.find(kLabelPodUid);
    return it == labels.end() ? std::string() : it->second;
  };
  for (const auto& sb : *sbs) {
    parts[uid_of(sb.labels())].push_back("s " + sb.id() + " " + std::to_string(sb.state()));
  }
  for (const auto& c : *cs) {
    parts[uid_of(c.labels())].push_back("c " + c.id() + " " + std::to_string(c.state()) + " " +
                                        std::to_string(c.metadata().attempt()));
  }
  auto out = std::make_shared<std::map<std::string, std::string>>();
  for (auto& [uid, v] : parts) {
    std::sort(v.begin(), v.end());
    (*out)[uid] = strings::join(v, ";");
  }
  relist_ = out;
  relist_at_ = now;
  return relist_;
}

client::ObjectPtr Kubelet::find_pod(const std::string& ns, const std::string& name) {
  return informer_ ? informer_->get(ns, name) : nullptr;
}

Result<std::string> Kubelet::sandbox_id(const std::string& ns, const std::string& pod) {
  auto p = find_pod(ns, pod);
  if (!p) return fail("pod \"" + pod + "\" not found on node " + opts_.node_name, "NotFound");
  rt::PodSandboxFilter f;
  (*f.mutable_label_selector())[kLabelPodUid] = md(*p, "uid");
  auto sbs = cri_->list_pod_sandbox(f);
  if (!sbs) return sbs.error();
  for (const auto& sb : *sbs) {
    if (sb.state() == rt::SANDBOX_READY) return sb.id();
  }
  return fail("pod \"" + pod + "\" has no running sandbox", "NotFound");
}

Result<std::string> Kubelet::container_id(const std::string& ns, const std::string& pod, const std::string& container) {
  auto p = find_pod(ns, pod);
  if (!p) return fail("pod \"" + pod + "\" not found on node " + opts_.node_name, "NotFound");
  std::string cname = container;
  if (cname.empty()) {
    auto cs = array_or_empty(jvalue(*p, "spec", json::object()), "containers");
    if (!cs.empty()) cname = jvalue(cs[0], "name", "");
  }
  rt::ContainerFilter f;
  (*f.mutable_label_selector())[kLabelPodUid] = md(*p, "uid");
  (*f.mutable_label_selector())[kLabelContainerName] = cname;
  auto cs = cri_->list_containers(f);
  if (!cs) return cs.error();
  const rt::Container* best = nullptr;
  for (const auto& c : *cs) {
    if (!best || c.metadata().attempt() > best->metadata().attempt()) best = &c;
  }
  if (!best) return fail("container \"" + cname + "\" in pod \"" + pod + "\" not found", "NotFound");
  return best->id();
}

Status Kubelet::logs(const std::string& ns, const std::string& pod, const std::string& container, LogOptions opts,
                     const std::function<bool(std::string_view)>& out, std::stop_token stop) {
  auto p = find_pod(ns, pod);
  if (!p) return fail("pod \"" + pod + "\" not found on node " + opts_.node_name, "NotFound");
  std::string cname = container;
  if (cname.empty()) {
    auto cs = array_or_empty(jvalue(*p, "spec", json::object()), "containers");
    if (!cs.empty()) cname = jvalue(cs[0], "name", "");
  }
  opts.pod_uid = md(*p, "uid");
  opts.log_root = opts_.log_root;
  if (opts.follow && !opts.keep_following) {
    auto id = container_id(ns, pod, cname);
    if (id) {
      std::string cid = *id;
      opts.keep_following = [this, cid] {
        auto st = cri_->container_status(cid);
        return st && st->state() == rt::CONTAINER_RUNNING;
      };
    }
  }
  return read_container_log(ns, pod, cname, opts, out, stop);
}

Result<rt::ExecSyncResponse> Kubelet::exec_sync(const std::string& ns, const std::string& pod,
                                                const std::string& container, const std::vector<std::string>& cmd,
                                                long long timeout_seconds) {
  auto id = container_id(ns, pod, container);
  if (!id) return id.error();
  return cri_->exec_sync(*id, cmd, timeout_seconds);
}

Result<std::string> Kubelet::exec_url(const std::string& ns, const std::string& pod, const std::string& container,
                                      const std::vector<std::string>& cmd, bool tty, bool in, bool out, bool err) {
  auto id = container_id(ns, pod, container);
  if (!id) return id.error();
  rt::ExecRequest req;
  req.set_container_id(*id);
  for (const auto& c : cmd) req.add_cmd(c);
  req.set_tty(tty);
  req.set_stdin(in);
  req.set_stdout(out);
  req.set_stderr(err && !tty);  // with a tty stderr is merged into stdout
  return cri_->exec(req);
}

Result<std::string> Kubelet::attach_url(const std::string& ns, const std::string& pod, const std::string& container,
                                        bool tty, bool in, bool out, bool err) {
  auto id = container_id(ns, pod, container);
  if (!id) return id.error();
  rt::AttachRequest req;
  req.set_container_id(*id);
  req.set_tty(tty);
  req.set_stdin(in);
  req.set_stdout(out);
  req.set_stderr(err && !tty);
  return cri_->attach(req);
}

Result<std::string> Kubelet::port_forward_url(const std::string& ns, const std::string& pod,
                                              const std::vector<int>& ports) {
  auto id = sandbox_id(ns, pod);
  if (!id) return id.error();
  return cri_->port_forward(*id, ports);
}

}  // namespace k3dpp::kubelet
