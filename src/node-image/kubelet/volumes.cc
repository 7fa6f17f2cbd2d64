#include "kubelet/volumes.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/json_read.h"

namespace k3dpp::kubelet {
namespace fs = std::filesystem;

namespace {

std::shared_ptr<spdlog::logger> vlog() { return log::get("kubelet"); }

json array_or_empty(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return json::array();
  return *it;
}

std::string str_of(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string b64decode(const std::string& in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    if (c == '=') break;
    auto pos = kAlphabet.find(c);
    if (pos == std::string::npos) continue;
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

Error setup_failed(const std::string& volume, const std::string& why, const std::string& kind = "FailedMount") {
  return Error("MountVolume.SetUp failed for volume \"" + volume + "\" : " + why, kind);
}

// Go's %q for the strings Kubernetes puts in label/annotation files.
std::string go_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

bool valid_relative_path(const std::string& path) {
  if (path.empty() || path[0] == '/') return false;
  for (const auto& part : strings::split(path, '/')) {
    if (part == ".." || part.empty()) return false;
  }
  return !strings::starts_with(path, "..");
}

// The data of a ConfigMap or Secret as files (items, modes, optional keys).
Result<VolumePayload> key_files(const std::map<std::string, std::string>& data, const json& source, int default_mode,
                                const std::string& volume, const std::string& what) {
  VolumePayload files;
  if (source.contains("items") && source["items"].is_array()) {
    for (const auto& it : source["items"]) {
      std::string key = jvalue(it, "key", "");
      auto d = data.find(key);
      if (d == data.end()) {
        if (jvalue(source, "optional", false)) continue;
        return setup_failed(volume, what + " references non-existent config key: " + key);
      }
      files[jvalue(it, "path", key)] = {d->second, jvalue(it, "mode", default_mode)};
    }
  } else {
    for (const auto& [k, v] : data) files[k] = {v, default_mode};
  }
  return files;
}

// A ConfigMap's or Secret's data (secret values decoded). nullopt: missing and optional.
Result<std::optional<std::map<std::string, std::string>>> object_data(bool secret, const std::string& obj_name,
                                                                      bool optional, const std::string& ns,
                                                                      const std::string& volume,
                                                                      const VolumeContext& ctx) {
  std::string what = secret ? "secret" : "configmap";
  if (!ctx.lookup) return setup_failed(volume, "no API access");
  auto obj = ctx.lookup(secret ? "secrets" : "configmaps", ns, obj_name);
  if (!obj) {
    if (optional && obj.error().is("NotFound")) return std::optional<std::map<std::string, std::string>>();
    return setup_failed(volume, obj.error().is("NotFound") ? what + " \"" + obj_name + "\" not found"
                                                           : obj.error().message);
  }
  std::map<std::string, std::string> data;
  const json d = jvalue(*obj, "data", json::object());
  for (auto it = d.begin(); it != d.end(); ++it) {
    std::string val = str_of(it.value());
    data[it.key()] = secret ? b64decode(val) : val;
  }
  if (!secret && obj->contains("binaryData") && (*obj)["binaryData"].is_object()) {
    for (auto it = (*obj)["binaryData"].begin(); it != (*obj)["binaryData"].end(); ++it) {
      data[it.key()] = b64decode(str_of(it.value()));
    }
  }
  return std::optional<std::map<std::string, std::string>>(std::move(data));
}

Result<std::string> resource_field(const json& pod, const json& ref) {
  std::string res = jvalue(ref, "resource", ""), cname = jvalue(ref, "containerName", "");
  auto dot = res.find('.');
  if (dot == std::string::npos) return fail("invalid resourceFieldRef \"" + res + "\"");
  const json spec = jvalue(pod, "spec", json::object());
  json container;
  for (const auto& c : array_or_empty(spec, "containers")) {
    if (cname.empty() || jvalue(c, "name", "") == cname) {
      container = c;
      break;
    }
  }
  if (container.is_null()) return fail("container \"" + cname + "\" not found");
  std::string kind = res.substr(0, dot), name = res.substr(dot + 1);
  json resources = jvalue(container, "resources", json::object());
  std::string q = str_of(resources.value(kind, json::object()).value(name, json("")));
  if (q.empty() && kind == "limits") q = str_of(jvalue(resources, "requests", json::object()).value(name, json("")));
  if (q.empty()) return std::string("0");
  auto v = parse_quantity(q);
  if (!v) return v.error();
  double divisor = 1;
  if (ref.contains("divisor")) {
    auto d = parse_quantity(str_of(ref["divisor"]));
    if (d && *d > 0) divisor = *d;
  }
  return std::to_string(static_cast<long long>(std::ceil(*v / divisor)));
}

Result<VolumePayload> downward_files(const json& items, const json& pod, int default_mode, const std::string& volume) {
  VolumePayload files;
  for (const auto& it : items) {
    std::string path = jvalue(it, "path", "");
    Result<std::string> content = std::string();
    if (it.contains("fieldRef")) {
      content = downward_field(pod, jvalue(it["fieldRef"], "fieldPath", ""));
    } else if (it.contains("resourceFieldRef")) {
      content = resource_field(pod, it["resourceFieldRef"]);
    }
    if (!content) return setup_failed(volume, content.error().message);
    files[path] = {*content, jvalue(it, "mode", default_mode)};
  }
  return files;
}

bool is_atomic_source(const json& v) {
  return v.contains("configMap") || v.contains("secret") || v.contains("downwardAPI") || v.contains("projected");
}

// The files of a configMap/secret/downwardAPI/projected volume; nullopt when an optional source
// is missing (configMap/secret: an empty volume).
Result<VolumePayload> atomic_payload(const json& v, const json& pod, const VolumeContext& ctx) {
  std::string name = jvalue(v, "name", "");
  std::string ns = jvalue(jvalue(pod, "metadata", json::object()), "namespace", "");
  if (v.contains("configMap") || v.contains("secret")) {
    bool secret = v.contains("secret");
    const json& src = secret ? v["secret"] : v["configMap"];
    std::string obj_name = secret ? jvalue(src, "secretName", "") : jvalue(src, "name", "");
    auto data = object_data(secret, obj_name, jvalue(src, "optional", false), ns, name, ctx);
    if (!data) return data.error();
    if (!*data) return VolumePayload{};
    return key_files(**data, src, jvalue(src, "defaultMode", 0644), name, secret ? "secret" : "configmap");
  }
  if (v.contains("downwardAPI")) {
    const json& src = v["downwardAPI"];
    return downward_files(array_or_empty(src, "items"), pod, jvalue(src, "defaultMode", 0644), name);
  }
  const json& src = v["projected"];
  int default_mode = jvalue(src, "defaultMode", 0644);
  VolumePayload out;
  for (const auto& s : array_or_empty(src, "sources")) {
    Result<VolumePayload> part = VolumePayload{};
    if (s.contains("configMap") || s.contains("secret")) {
      bool secret = s.contains("secret");
      const json& p = secret ? s["secret"] : s["configMap"];
      auto data = object_data(secret, jvalue(p, "name", ""), jvalue(p, "optional", false), ns, name, ctx);
      if (!data) return data.error();
      if (*data) part = key_files(**data, p, default_mode, name, secret ? "secret" : "configmap");
    } else if (s.contains("downwardAPI")) {
      part = downward_files(array_or_empty(s["downwardAPI"], "items"), pod, default_mode, name);
    } else {
      continue;  // serviceAccountToken, clusterTrustBundle: not issued by this cluster
    }
    if (!part) return part.error();
    for (auto& [k, f] : *part) out[k] = std::move(f);
  }
  return out;
}

// Writes the regular files below dir into out (relative path → content, mode).
void read_tree(const fs::path& dir, VolumePayload& out) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    struct stat st{};
    if (::stat(it->path().c_str(), &st) != 0) continue;
    auto content = files::read(it->path().string());
    out[fs::relative(it->path(), dir, ec).string()] = {content ? *content : std::string(),
                                                       static_cast<int>(st.st_mode & 07777)};
  }
}

Status write_file(const std::string& path, const std::string& content, int mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("open " + path + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return fail("write " + path + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  ::fchmod(fd, static_cast<mode_t>(mode));  // exact mode, whatever the umask
  ::close(fd);
  return {};
}

std::string timestamp_dir_name() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "..%Y_%m_%d_%H_%M_%S.", &tm);
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::string(buf) + std::to_string(rng() % 1000000000ULL);
}

bool is_mountpoint(const std::string& path) {
  struct stat a{}, b{};
  if (::stat(path.c_str(), &a) != 0 || ::stat((path + "/..").c_str(), &b) != 0) return false;
  return a.st_dev != b.st_dev;
}

Status setup_empty_dir(const json& src, const std::string& local, bool mount_tmpfs, const std::string& volume) {
  std::error_code ec;
  fs::create_directories(local, ec);
  if (ec) return setup_failed(volume, ec.message());
  fs::permissions(local, fs::perms::all, ec);
  if (jvalue(src, "medium", "") != "Memory" || !mount_tmpfs || is_mountpoint(local)) return {};
  std::string opts;
  if (src.contains("sizeLimit")) {
    auto size = parse_quantity(str_of(src["sizeLimit"]));
    if (size && *size > 0) opts = "size=" + std::to_string(static_cast<long long>(*size));
  }
  if (::mount("tmpfs", local.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.empty() ? nullptr : opts.c_str()) != 0) {
    return setup_failed(volume, "mount tmpfs on " + local + ": " + std::strerror(errno));
  }
  ::chmod(local.c_str(), 0777);
  return {};
}

// hostPath with its type check (Kubernetes' hostPathType semantics).
Status setup_host_path(const std::string& path, const std::string& type, const std::string& local,
                       const std::string& volume) {
  std::error_code ec;
  auto check = [&](bool ok, const std::string& what) -> Status {
    if (ok) return {};
    return setup_failed(volume, "hostPath type check failed: " + path + " is not " + what);
  };
  struct stat st{};
  bool exists = ::stat(local.c_str(), &st) == 0;
  if (type.empty()) return {};
  if (type == "DirectoryOrCreate") {
    if (!exists) {
      fs::create_directories(local, ec);
      if (ec) return setup_failed(volume, "mkdir " + path + ": " + ec.message());
      ::chmod(local.c_str(), 0755);
      return {};
    }
    return check(S_ISDIR(st.st_mode), "a directory");
  }
  if (type == "FileOrCreate") {
    if (!exists) {
      fs::create_directories(fs::path(local).parent_path(), ec);
      int fd = ::open(local.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return setup_failed(volume, "create " + path + ": " + std::strerror(errno));
      ::close(fd);
      return {};
    }
    return check(S_ISREG(st.st_mode), "a file");
  }
  if (type == "Directory") return check(exists && S_ISDIR(st.st_mode), "a directory");
  if (type == "File") return check(exists && S_ISREG(st.st_mode), "a file");
  if (type == "Socket") return check(exists && S_ISSOCK(st.st_mode), "a socket file");
  if (type == "CharDevice") return check(exists && S_ISCHR(st.st_mode), "a character device");
  if (type == "BlockDevice") return check(exists && S_ISBLK(st.st_mode), "a block device");
  return setup_failed(volume, "invalid HostPathType \"" + type + "\"");
}

}  // namespace

Result<std::string> downward_field(const json& pod, const std::string& path) {
  const json md = jvalue(pod, "metadata", json::object());
  if (path == "metadata.name") return jvalue(md, "name", "");
  if (path == "metadata.namespace") return jvalue(md, "namespace", "");
  if (path == "metadata.uid") return jvalue(md, "uid", "");
  for (const char* m : {"labels", "annotations"}) {
    std::string prefix = std::string("metadata.") + m;
    const json map = md.contains(m) && md[m].is_object() ? md[m] : json::object();
    if (path == prefix) {
      std::string out;
      for (auto it = map.begin(); it != map.end(); ++it) {  // nlohmann objects iterate in key order
        if (!out.empty()) out += "\n";
        out += it.key() + "=" + go_quote(str_of(it.value()));
      }
      return out;
    }
    if (strings::starts_with(path, prefix + "['") && strings::ends_with(path, "']")) {
      std::string key = path.substr(prefix.size() + 2, path.size() - prefix.size() - 4);
      return map.contains(key) ? str_of(map[key]) : std::string();
    }
  }
  return fail("unsupported fieldRef path \"" + path + "\"");
}

Status write_payload(const std::string& dir, const VolumePayload& payload) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail("mkdir " + dir + ": " + ec.message());
  for (const auto& [path, _] : payload) {
    if (!valid_relative_path(path)) return fail("invalid path \"" + path + "\"");
  }
  const std::string data_link = dir + "/..data";
  std::string old_dir;
  if (fs::is_symlink(data_link, ec)) old_dir = fs::read_symlink(data_link, ec).string();
  std::set<std::string> tops;
  for (const auto& [path, _] : payload) tops.insert(path.substr(0, path.find('/')));

  bool same = false;
  if (!old_dir.empty()) {
    VolumePayload current;
    read_tree(fs::path(dir) / old_dir, current);
    same = current == payload;
  }
  if (!same) {
    std::string ts = timestamp_dir_name();
    fs::path ts_dir = fs::path(dir) / ts;
    fs::create_directories(ts_dir, ec);
    if (ec) return fail("mkdir " + ts_dir.string() + ": " + ec.message());
    ::chmod(ts_dir.c_str(), 0755);
    for (const auto& [path, file] : payload) {
      fs::path p = ts_dir / path;
      fs::create_directories(p.parent_path(), ec);
      K3DPP_TRY(write_file(p.string(), file.first, file.second));
    }
    std::string tmp_link = dir + "/..data_tmp";
    fs::remove(tmp_link, ec);
    if (::symlink(ts.c_str(), tmp_link.c_str()) != 0) return fail("symlink " + tmp_link + ": " + std::strerror(errno));
    if (::rename(tmp_link.c_str(), data_link.c_str()) != 0) {
      return fail("rename " + tmp_link + ": " + std::strerror(errno));
    }
  }
  // User-visible names: symlinks through ..data; stale ones (and plain files of an older layout) go.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string n = entry.path().filename().string();
    if (strings::starts_with(n, "..")) {
      if (!same && n != "..data" && n != fs::read_symlink(data_link, ec).string()) fs::remove_all(entry.path(), ec);
      continue;
    }
    if (!tops.count(n) || !entry.is_symlink(ec)) fs::remove_all(entry.path(), ec);
  }
  for (const auto& t : tops) {
    std::string link = dir + "/" + t;
    if (fs::is_symlink(link, ec)) continue;
    if (::symlink(("..data/" + t).c_str(), link.c_str()) != 0) return fail("symlink " + link + ": " + std::strerror(errno));
  }
  return {};
}

Result<std::map<std::string, PreparedVolume>> prepare_volumes(const json& pod, const VolumeContext& ctx) {
  const json spec = jvalue(pod, "spec", json::object());
  const json md = jvalue(pod, "metadata", json::object());
  std::string ns = jvalue(md, "namespace", ""), uid = jvalue(md, "uid", "");
  std::string node_root = ctx.pods_root + "/" + uid + "/volumes";
  std::string local_root = ctx.node_root + node_root;
  std::map<std::string, PreparedVolume> out;
  std::error_code ec;
  auto get = [&](const std::string& plural, const std::string& ons, const std::string& name) -> Result<json> {
    if (!ctx.lookup) return fail("no API access", "Unavailable");
    return ctx.lookup(plural, ons, name);
  };
  for (const auto& v : array_or_empty(spec, "volumes")) {
    std::string name = jvalue(v, "name", "");
    PreparedVolume pv;
    if (v.contains("emptyDir")) {
      std::string rel = "/kubernetes.io~empty-dir/" + name;
      K3DPP_TRY(setup_empty_dir(v["emptyDir"], local_root + rel, ctx.mount_tmpfs, name));
      pv.host_path = node_root + rel;
    } else if (v.contains("hostPath")) {
      pv.host_path = jvalue(v["hostPath"], "path", "");
      K3DPP_TRY(setup_host_path(pv.host_path, jvalue(v["hostPath"], "type", ""), ctx.node_root + pv.host_path, name));
    } else if (is_atomic_source(v)) {
      const char* plugin = v.contains("secret")        ? "/kubernetes.io~secret/"
                           : v.contains("configMap")   ? "/kubernetes.io~configmap/"
                           : v.contains("downwardAPI") ? "/kubernetes.io~downward-api/"
                                                       : "/kubernetes.io~projected/";
      std::string rel = plugin + name;
      auto payload = atomic_payload(v, pod, ctx);
      if (!payload) return payload.error();
      // Secrets (and projected volumes, which carry them) stay off the disk: a tmpfs, as the
      // kubelet does. Where mounting is not possible (tests from outside the node) plain files.
      if ((v.contains("secret") || v.contains("projected")) && ctx.mount_tmpfs) {
        std::string local = local_root + rel;
        fs::create_directories(local, ec);
        if (!is_mountpoint(local) && ::mount("tmpfs", local.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, nullptr) != 0) {
          vlog()->debug("tmpfs for volume {}: {} (plain files instead)", name, std::strerror(errno));
        }
      }
      if (auto st = write_payload(local_root + rel, *payload); !st) return setup_failed(name, st.error().message);
      pv.host_path = node_root + rel;
      pv.read_only = true;
    } else if (v.contains("persistentVolumeClaim")) {
      std::string claim = jvalue(v["persistentVolumeClaim"], "claimName", "");
      auto pvc = get("persistentvolumeclaims", ns, claim);
      if (!pvc) {
        return setup_failed(name, pvc.error().is("NotFound")
                                      ? "persistentvolumeclaim \"" + claim + "\" not found"
                                      : pvc.error().message,
                            pvc.error().is("NotFound") ? "FailedMount" : "NotReady");
      }
      std::string pv_name = jvalue(jvalue(*pvc, "spec", json::object()), "volumeName", "");
      std::string phase = jvalue(jvalue(*pvc, "status", json::object()), "phase", "");
      if (pv_name.empty() || phase != "Bound") {
        return Error("persistentvolumeclaim \"" + claim + "\" is not bound", "NotReady");
      }
      auto vol = get("persistentvolumes", "", pv_name);
      if (!vol) return setup_failed(name, "persistentvolume \"" + pv_name + "\" not found", "NotReady");
      const json pspec = jvalue(*vol, "spec", json::object());
      std::string local = ctx.node_root;
      if (pspec.contains("hostPath")) {
        pv.host_path = jvalue(pspec["hostPath"], "path", "");
        std::string type = jvalue(pspec["hostPath"], "type", "");
        local += pv.host_path;
        // An untyped hostPath PV is created when missing, as the runtime would for a bind source.
        K3DPP_TRY(setup_host_path(pv.host_path, type.empty() ? "DirectoryOrCreate" : type, local, name));
      } else if (pspec.contains("local")) {
        pv.host_path = jvalue(pspec["local"], "path", "");
        local += pv.host_path;
        if (!fs::exists(local, ec)) {
          return setup_failed(name, "path \"" + pv.host_path + "\" does not exist");
        }
      } else {
        return setup_failed(name, "persistentvolume \"" + pv_name + "\" has no hostPath or local source");
      }
      // local-path-provisioner makes its directories world-writable (0777).
      if (strings::starts_with(pv.host_path, std::string(kLocalPathStorageRoot) + "/")) {
        fs::permissions(local, fs::perms::all, ec);
      }
      pv.read_only = jvalue(v["persistentVolumeClaim"], "readOnly", false);
    } else {
      continue;  // unsupported sources (ephemeral, csi, nfs, ...) are not mounted
    }
    out[name] = pv;
  }
  return out;
}

Status refresh_volumes(const json& pod, const VolumeContext& ctx) {
  const json md = jvalue(pod, "metadata", json::object());
  std::string local_root = ctx.node_root + ctx.pods_root + "/" + jvalue(md, "uid", "") + "/volumes";
  Status first;
  for (const auto& v : array_or_empty(jvalue(pod, "spec", json::object()), "volumes")) {
    if (!is_atomic_source(v)) continue;
    std::string name = jvalue(v, "name", "");
    const char* plugin = v.contains("secret")        ? "/kubernetes.io~secret/"
                         : v.contains("configMap")   ? "/kubernetes.io~configmap/"
                         : v.contains("downwardAPI") ? "/kubernetes.io~downward-api/"
                                                     : "/kubernetes.io~projected/";
    std::string dir = local_root + plugin + name;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;  // not set up (yet)
    auto payload = atomic_payload(v, pod, ctx);
    Status st = payload ? write_payload(dir, *payload) : Status(payload.error());
    if (!st && first) first = st;
  }
  return first;
}

void teardown_volumes(const std::string& pod_dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> targets;
  std::string line;
  std::string prefix = pod_dir + "/";
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, parent, devno, root, mount_point;
    ls >> id >> parent >> devno >> root >> mount_point;
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    std::string unescaped;
    for (size_t i = 0; i < mount_point.size(); ++i) {
      if (mount_point[i] == '\\' && i + 3 < mount_point.size()) {
        unescaped.push_back(static_cast<char>(std::stoi(mount_point.substr(i + 1, 3), nullptr, 8)));
        i += 3;
      } else {
        unescaped.push_back(mount_point[i]);
      }
    }
    if (strings::starts_with(unescaped, prefix)) targets.push_back(unescaped);
  }
  std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& t : targets) {
    if (::umount2(t.c_str(), MNT_DETACH) != 0) vlog()->warn("umount {}: {}", t, std::strerror(errno));
  }
}

std::string render_etc_hosts(const json& pod, const std::string& pod_ip) {
  const json spec = jvalue(pod, "spec", json::object());
  std::string hostname = jvalue(spec, "hostname", jvalue(jvalue(pod, "metadata", json::object()), "name", ""));
  std::string out =
      "# Kubernetes-managed hosts file.\n"
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  std::string fqdn;
  if (spec.contains("subdomain") && spec["subdomain"].is_string()) {
    fqdn = hostname + "." + spec["subdomain"].get<std::string>() + "." +
           jvalue(jvalue(pod, "metadata", json::object()), "namespace", "") + ".svc.cluster.local";
  }
  if (!pod_ip.empty()) out += pod_ip + "\t" + (fqdn.empty() ? "" : fqdn + "\t") + hostname + "\n";
  auto aliases = array_or_empty(spec, "hostAliases");
  if (!aliases.empty()) {
    out += "\n# Entries added by HostAliases.\n";
    for (const auto& a : aliases) {
      std::vector<std::string> names;
      for (const auto& h : array_or_empty(a, "hostnames")) names.push_back(h.get<std::string>());
      out += jvalue(a, "ip", "") + "\t" + strings::join(names, "\t") + "\n";
    }
  }
  return out;
}

std::vector<rt::Mount> container_mounts(const json& pod, const json& container,
                                        const std::map<std::string, PreparedVolume>& volumes,
                                        const std::string& etc_hosts_path) {
  std::vector<rt::Mount> out;
  bool own_hosts = false;
  for (const auto& vm : array_or_empty(container, "volumeMounts")) {
    auto it = volumes.find(jvalue(vm, "name", ""));
    if (it == volumes.end()) continue;
    std::string host = it->second.host_path;
    std::string sub = jvalue(vm, "subPath", "");
    if (!sub.empty() && valid_relative_path(sub)) host += "/" + sub;
    rt::Mount m;
    m.set_container_path(jvalue(vm, "mountPath", ""));
    m.set_host_path(host);
    m.set_readonly(it->second.read_only || jvalue(vm, "readOnly", false));
    if (m.container_path() == "/etc/hosts") own_hosts = true;
    out.push_back(m);
  }
  bool host_network = jvalue(jvalue(pod, "spec", json::object()), "hostNetwork", false);
  if (!own_hosts && !host_network && !etc_hosts_path.empty()) {
    rt::Mount m;
    m.set_container_path("/etc/hosts");
    m.set_host_path(etc_hosts_path);
    out.push_back(m);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

LocalPathCleaner::LocalPathCleaner(client::ApiClient& api, std::string node_name, std::string node_root)
    : api_(api), node_name_(std::move(node_name)), node_root_(std::move(node_root)) {}

LocalPathCleaner::~LocalPathCleaner() { stop(); }

std::string LocalPathCleaner::local_path_dir(const json& pv, const std::string& node_name) {
  const json md = jvalue(pv, "metadata", json::object());
  const json ann = jvalue(md, "annotations", json::object());
  if (jvalue(ann, "pv.kubernetes.io/provisioned-by", "") != "rancher.io/local-path") return {};
  const json spec = jvalue(pv, "spec", json::object());
  bool ours = jvalue(ann, "local.path.provisioner/selected-node", "") == node_name;
  if (!ours && spec.contains("nodeAffinity")) {
    const json req = jvalue(spec["nodeAffinity"], "required", json::object());
    for (const auto& term : array_or_empty(req, "nodeSelectorTerms")) {
      for (const auto& e : array_or_empty(term, "matchExpressions")) {
        if (jvalue(e, "key", "") != "kubernetes.io/hostname" || jvalue(e, "operator", "") != "In") continue;
        for (const auto& val : array_or_empty(e, "values")) ours |= val == node_name;
      }
    }
  }
  if (!ours) return {};
  std::string path;
  if (spec.contains("hostPath")) path = jvalue(spec["hostPath"], "path", "");
  if (path.empty() && spec.contains("local")) path = jvalue(spec["local"], "path", "");
  // Exactly one level below the storage root, no tricks.
  std::string root = std::string(kLocalPathStorageRoot) + "/";
  if (!strings::starts_with(path, root)) return {};
  std::string leaf = path.substr(root.size());
  if (leaf.empty() || leaf.find('/') != std::string::npos || strings::starts_with(leaf, ".")) return {};
  return path;
}

std::string LocalPathCleaner::directory_to_remove(const json& pv, const std::string& node_name) {
  if (jvalue(jvalue(pv, "spec", json::object()), "persistentVolumeReclaimPolicy", "") != "Delete") return {};
  return local_path_dir(pv, node_name);
}

std::string LocalPathCleaner::retain_marker(const std::string& dir) const {
  return node_root_ + kLocalPathStorageRoot + "/.retain/" + fs::path(dir).filename().string();
}

void LocalPathCleaner::remember(const json& pv) {
  std::string dir = local_path_dir(pv, node_name_);
  if (dir.empty()) return;
  std::error_code ec;
  std::string marker = retain_marker(dir);
  if (jvalue(jvalue(pv, "spec", json::object()), "persistentVolumeReclaimPolicy", "") == "Delete") {
    fs::remove(marker, ec);
  } else if (!fs::exists(marker, ec)) {
    fs::create_directories(fs::path(marker).parent_path(), ec);
    (void)write_file(marker, jvalue(jvalue(pv, "metadata", json::object()), "name", "") + "\n", 0600);
  }
}

void LocalPathCleaner::remove_dir(const std::string& path, const std::string& pv_name, const char* why) {
  std::error_code ec;
  auto n = fs::remove_all(node_root_ + path, ec);
  if (ec) {
    vlog()->warn("local-path: removing {} of {} volume {}: {}", path, why, pv_name, ec.message());
  } else if (n > 0) {
    vlog()->info("local-path: removed {} of {} volume {}", path, why, pv_name);
  }
}

void LocalPathCleaner::on_delete(const json& pv) {
  std::string path = directory_to_remove(pv, node_name_);
  if (!path.empty()) remove_dir(path, jvalue(jvalue(pv, "metadata", json::object()), "name", ""), "deleted");
  std::string dir = local_path_dir(pv, node_name_);
  std::error_code ec;
  if (!dir.empty() && !fs::exists(node_root_ + dir, ec)) fs::remove(retain_marker(dir), ec);
}

size_t LocalPathCleaner::sweep() {
  std::string root = node_root_ + kLocalPathStorageRoot;
  std::error_code ec;
  size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::string leaf = entry.path().filename().string();
    if (!strings::starts_with(leaf, "pvc-") || !entry.is_directory(ec)) continue;
    std::string pv_name = leaf.substr(0, leaf.find('_'));
    if (informer_ && informer_->get("", pv_name)) continue;
    if (fs::exists(retain_marker(leaf), ec)) continue;  // a Retain volume's data outlives its PV
    auto live = api_.get(client::res::kPersistentVolumes, "", pv_name);
    if (live || !live.error().is("NotFound")) continue;  // exists after all, or cannot tell
    remove_dir(std::string(kLocalPathStorageRoot) + "/" + leaf, pv_name, "vanished");
    ++removed;
  }
  return removed;
}

void LocalPathCleaner::start() {
  if (informer_) return;
  informer_ = std::make_unique<client::Informer>(api_, client::res::kPersistentVolumes);
  informer_->add_handlers({[this](const json& pv) { remember(pv); },
                           [this](const json&, const json& pv) { remember(pv); },
                           [this](const json& pv) { on_delete(pv); }});
  informer_->start();
  // Volumes deleted while this node was down: once the cache is loaded, remove the directories of
  // Delete volumes whose PV is gone.
  sweeper_ = std::jthread([this](std::stop_token st) {
    std::mutex m;
    std::condition_variable_any cv;
    while (!st.stop_requested()) {
      if (informer_->synced()) {
        sweep();
        return;
      }
      std::unique_lock lk(m);
      cv.wait_for(lk, st, std::chrono::milliseconds(500), [] { return false; });
    }
  });
}

void LocalPathCleaner::stop() {
  sweeper_ = {};
  if (informer_) informer_->stop();
  informer_.reset();
}

}  // namespace k3dpp::kubelet
