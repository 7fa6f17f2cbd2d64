#include "agent/node_info.h"

#include <cctype>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "common/strings.h"
#include "common/json_read.h"

namespace k3dpp::agent {

namespace {

std::string first_line(const std::string& path) {
  auto r = files::read(path);
  if (!r) return "";
  auto s = *r;
  auto nl = s.find('\n');
  return std::string(strings::trim(s.substr(0, nl)));
}

long long read_number(const std::string& path) {
  long long v = -1;
  std::string s = first_line(path);
  if (s.empty() || !strings::parse_int(s, v)) return -1;
  return v;
}

long long cpu_count() {
  cpu_set_t set;
  long long n = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = std::max(1u, std::thread::hardware_concurrency());
  // cgroup v2 "quota period" / v1 cfs quota: a CPU limit on the node container.
  long long quota = -1, period = -1;
  std::string max = first_line("/sys/fs/cgroup/cpu.max");
  if (!max.empty()) {
    auto parts = strings::split(max, ' ');
    if (parts.size() == 2 && parts[0] != "max") {
      strings::parse_int(parts[0], quota);
      strings::parse_int(parts[1], period);
    }
  } else {
    quota = read_number("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    period = read_number("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  }
  if (quota > 0 && period > 0) n = std::min(n, std::max(1LL, (quota + period - 1) / period));
  return n;
}

long long memory_kib() {
  long long total = 0;
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  long long v;
  while (in >> key >> v >> unit) {
    if (key == "MemTotal:") {
      total = v;
      break;
    }
  }
  for (const char* p : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    long long limit = read_number(p);
    if (limit > 0 && limit / 1024 < total) total = limit / 1024;
  }
  return total;
}

std::string os_image() {
  auto r = files::read("/etc/os-release");
  if (!r) return "Linux";
  std::istringstream in(*r);
  std::string line;
  while (std::getline(in, line)) {
    if (strings::starts_with(line, "PRETTY_NAME=")) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return "Linux";
}

std::string containerd_version() {
  FILE* p = ::popen("containerd --version 2>/dev/null", "r");
  if (p == nullptr) return "";
  std::array<char, 512> buf{};
  std::string out;
  while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
  ::pclose(p);
  // "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1"
  auto parts = strings::split(std::string(strings::trim(out)), ' ');
  if (parts.size() >= 3 && parts[0] == "containerd") return "containerd://" + parts[2];
  return "";
}

std::string go_arch(const std::string& machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine == "armv7l") return "arm";
  return machine;
}

std::string format_time(bool micro) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string s = buf;
  if (micro) {
    char frac[32];
    std::snprintf(frac, sizeof frac, ".%06ld", ts.tv_nsec / 1000);
    s += frac;
  }
  return s + "Z";
}

}  // namespace

std::string rfc3339_now() { return format_time(false); }
std::string micro_time_now() { return format_time(true); }

std::string first_host_ipv4() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    auto* a = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    uint32_t ip = ntohl(a->sin_addr.s_addr);
    if ((ip >> 24) == 127 || (ip >> 16) == 0xA9FE) continue;  // loopback, link-local
    std::string name = i->ifa_name;
    if (strings::starts_with(name, "docker") || strings::starts_with(name, "cni") ||
        strings::starts_with(name, "veth") || strings::starts_with(name, "br-") ||
        strings::starts_with(name, "flannel") || strings::starts_with(name, "podman"))
      continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    found = buf;
  }
  freeifaddrs(list);
  return found;
}

NodeFacts gather_facts() {
  NodeFacts f;
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  f.hostname = host;
  f.cpus = cpu_count();
  f.memory_kib = memory_kib();
  struct statvfs vfs {};
  if (::statvfs("/var/lib", &vfs) == 0 || ::statvfs("/", &vfs) == 0)
    f.ephemeral_storage_kib = static_cast<long long>(vfs.f_blocks) * static_cast<long long>(vfs.f_frsize) / 1024;
  f.os_image = os_image();
  utsname u{};
  if (::uname(&u) == 0) {
    f.kernel_version = u.release;
    f.architecture = go_arch(u.machine);
  }
  f.container_runtime_version = containerd_version();
  f.machine_id = first_line("/etc/machine-id");
  f.system_uuid = first_line("/sys/class/dmi/id/product_uuid");
  if (f.system_uuid.empty()) f.system_uuid = f.machine_id;
  f.boot_id = first_line("/proc/sys/kernel/random/boot_id");
  return f;
}

nlohmann::json node_labels(const NodeFacts& f) {
  nlohmann::json l = {{"beta.kubernetes.io/arch", f.architecture},
                      {"beta.kubernetes.io/os", "linux"},
                      {"kubernetes.io/arch", f.architecture},
                      {"kubernetes.io/hostname", f.name},
                      {"kubernetes.io/os", "linux"}};
  if (f.control_plane) {
    l["node-role.kubernetes.io/control-plane"] = "true";
    l["node-role.kubernetes.io/master"] = "true";
  }
  if (f.etcd) l["node-role.kubernetes.io/etcd"] = "true";
  for (const auto& [k, v] : f.extra_labels) {
    if (!l.contains(k)) l[k] = v;
  }
  return l;
}

nlohmann::json node_status(const NodeFacts& f, const nlohmann::json& previous) {
  const std::string now = rfc3339_now();
  nlohmann::json resources = {{"cpu", std::to_string(f.cpus)},
                              {"ephemeral-storage", std::to_string(f.ephemeral_storage_kib) + "Ki"},
                              {"hugepages-1Gi", "0"},
                              {"hugepages-2Mi", "0"},
                              {"memory", std::to_string(f.memory_kib) + "Ki"},
                              {"pods", std::to_string(f.max_pods)}};
  struct Cond {
    const char* type;
    const char* status;
    const char* reason;
    const char* message;
  };
  const Cond conds[] = {
      {"MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
      {"DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
      {"PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
      {"Ready", "True", "KubeletReady", "kubelet is posting ready status"},
  };
  nlohmann::json conditions = nlohmann::json::array();
  for (const auto& c : conds) {
    std::string transition = now;
    if (previous.is_object() && previous.contains("conditions") && previous["conditions"].is_array()) {
      for (const auto& p : previous["conditions"]) {
        if (jvalue(p, "type", "") == c.type && jvalue(p, "status", "") == c.status &&
            p.contains("lastTransitionTime") && p["lastTransitionTime"].is_string())
          transition = p["lastTransitionTime"].get<std::string>();
      }
    }
    conditions.push_back({{"type", c.type},
                          {"status", c.status},
                          {"lastHeartbeatTime", now},
                          {"lastTransitionTime", transition},
                          {"reason", c.reason},
                          {"message", c.message}});
  }
  nlohmann::json addresses = nlohmann::json::array();
  if (!f.internal_ip.empty()) addresses.push_back({{"type", "InternalIP"}, {"address", f.internal_ip}});
  addresses.push_back({{"type", "Hostname"}, {"address", f.name}});
  return {{"capacity", resources},
          {"allocatable", resources},
          {"conditions", conditions},
          {"addresses", addresses},
          {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 10250}}}}},
          {"nodeInfo",
           {{"machineID", f.machine_id},
            {"systemUUID", f.system_uuid},
            {"bootID", f.boot_id},
            {"kernelVersion", f.kernel_version},
            {"osImage", f.os_image},
            {"containerRuntimeVersion", f.container_runtime_version},
            {"kubeletVersion", K3DPP_KUBE_VERSION "-k3dpp"},
            {"kubeProxyVersion", K3DPP_KUBE_VERSION "-k3dpp"},
            {"operatingSystem", "linux"},
            {"architecture", f.architecture}}}};
}

nlohmann::json node_object(const NodeFacts& f) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata",
           {{"name", f.name},
            {"labels", node_labels(f)},
            {"annotations", {{"node.alpha.kubernetes.io/ttl", "0"}}}}},
          {"spec", f.taints.empty() ? nlohmann::json::object() : nlohmann::json{{"taints", f.taints}}},
          {"status", node_status(f)}};
}

nlohmann::json lease_object(const std::string& node_name, const std::string& node_uid,
                            int duration_seconds) {
  nlohmann::json meta = {{"name", node_name}, {"namespace", "kube-node-lease"}};
  if (!node_uid.empty()) {
    meta["ownerReferences"] = nlohmann::json::array(
        {{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node_name}, {"uid", node_uid}}});
  }
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", meta},
          {"spec",
           {{"holderIdentity", node_name},
            {"leaseDurationSeconds", duration_seconds},
            {"renewTime", micro_time_now()}}}};
}

namespace {
bool label_part_ok(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  if (!std::isalnum(static_cast<unsigned char>(s.front())) || !std::isalnum(static_cast<unsigned char>(s.back())))
    return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}
bool label_key_ok(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return label_part_ok(key, 63);
  return label_part_ok(key.substr(0, slash), 253) && label_part_ok(key.substr(slash + 1), 63);
}
}  // namespace

Result<std::pair<std::string, std::string>> parse_node_label(const std::string& text) {
  auto eq = text.find('=');
  std::string key = text.substr(0, eq);
  std::string value = eq == std::string::npos ? "" : text.substr(eq + 1);
  if (!label_key_ok(key)) return fail("invalid node label '" + text + "': bad key '" + key + "'", "Invalid");
  if (!value.empty() && !label_part_ok(value, 63)) return fail("invalid node label '" + text + "': bad value", "Invalid");
  return std::make_pair(key, value);
}

Result<nlohmann::json> parse_node_taint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return fail("invalid node taint '" + text + "': expected KEY[=VALUE]:EFFECT", "Invalid");
  std::string effect = text.substr(colon + 1);
  if (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
    return fail("invalid node taint '" + text + "': effect must be NoSchedule, PreferNoSchedule or NoExecute", "Invalid");
  auto kv = parse_node_label(text.substr(0, colon));
  if (!kv) return fail("invalid node taint '" + text + "': " + kv.error().message, "Invalid");
  nlohmann::json t = {{"key", kv->first}, {"effect", effect}};
  if (!kv->second.empty()) t["value"] = kv->second;
  return t;
}

}  // namespace k3dpp::agent
