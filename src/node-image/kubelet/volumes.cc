#include "kubelet/volumes.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/files.h"
#include "common/strings.h"

namespace k3dpp::kubelet {
namespace fs = std::filesystem;

namespace {

json array_or_empty(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return json::array();
  return *it;
}

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

// Writes key files of a ConfigMap/Secret into dir (fresh), honouring items and modes.
Status write_key_files(const std::string& dir, const std::map<std::string, std::string>& data, const json& source,
                       const std::string& volume, const std::string& what, const std::string& obj_name) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  int default_mode = source.value("defaultMode", 0644);
  std::vector<std::tuple<std::string, std::string, int>> files;  // path, content, mode
  if (source.contains("items") && source["items"].is_array()) {
    for (const auto& it : source["items"]) {
      std::string key = it.value("key", "");
      auto d = data.find(key);
      if (d == data.end()) {
        if (source.value("optional", false)) continue;
        return setup_failed(volume, "configmap references non-existent config key: " + key);
      }
      files.emplace_back(it.value("path", key), d->second, it.value("mode", default_mode));
    }
  } else {
    for (const auto& [k, v] : data) files.emplace_back(k, v, default_mode);
  }
  (void)what;
  (void)obj_name;
  for (const auto& [path, content, mode] : files) {
    if (path.find("..") != std::string::npos || (!path.empty() && path[0] == '/')) {
      return setup_failed(volume, "invalid path \"" + path + "\"");
    }
    fs::path p = fs::path(dir) / path;
    fs::create_directories(p.parent_path(), ec);
    auto st = files::write_atomic(p.string(), content, static_cast<mode_t>(mode));
    if (!st) return setup_failed(volume, st.error().message);
  }
  return {};
}

}  // namespace

Result<std::map<std::string, PreparedVolume>> prepare_volumes(const json& pod, const VolumeContext& ctx) {
  const json spec = pod.value("spec", json::object());
  const json md = pod.value("metadata", json::object());
  std::string ns = md.value("namespace", ""), uid = md.value("uid", "");
  std::string node_root = ctx.pods_root + "/" + uid + "/volumes";
  std::string local_root = ctx.node_root + node_root;
  std::map<std::string, PreparedVolume> out;
  std::error_code ec;
  auto get = [&](const std::string& plural, const std::string& ons, const std::string& name) -> Result<json> {
    if (!ctx.lookup) return fail("no API access", "Unavailable");
    return ctx.lookup(plural, ons, name);
  };
  for (const auto& v : array_or_empty(spec, "volumes")) {
    std::string name = v.value("name", "");
    PreparedVolume pv;
    if (v.contains("emptyDir")) {
      std::string rel = "/kubernetes.io~empty-dir/" + name;
      fs::create_directories(local_root + rel, ec);
      fs::permissions(local_root + rel, fs::perms::all, ec);
      pv.host_path = node_root + rel;
    } else if (v.contains("hostPath")) {
      pv.host_path = v["hostPath"].value("path", "");
      std::string type = v["hostPath"].value("type", "");
      std::string local = ctx.node_root + pv.host_path;
      if (type == "DirectoryOrCreate") {
        fs::create_directories(local, ec);
      } else if (type == "Directory" && !fs::is_directory(local, ec)) {
        return setup_failed(name, "hostPath type check failed: " + pv.host_path + " is not a directory");
      }
    } else if (v.contains("configMap") || v.contains("secret")) {
      bool secret = v.contains("secret");
      const json& src = secret ? v["secret"] : v["configMap"];
      std::string obj_name = secret ? src.value("secretName", "") : src.value("name", "");
      std::string what = secret ? "secret" : "configmap";
      auto obj = get(secret ? "secrets" : "configmaps", ns, obj_name);
      std::map<std::string, std::string> data;
      if (!obj) {
        if (!(src.value("optional", false) && obj.error().is("NotFound"))) {
          return setup_failed(name, obj.error().is("NotFound") ? what + " \"" + obj_name + "\" not found"
                                                               : obj.error().message);
        }
      } else {
        const json d = obj->value("data", json::object());
        for (auto it = d.begin(); it != d.end(); ++it) {
          std::string val = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
          data[it.key()] = secret ? b64decode(val) : val;
        }
        if (!secret && obj->contains("binaryData") && (*obj)["binaryData"].is_object()) {
          for (auto it = (*obj)["binaryData"].begin(); it != (*obj)["binaryData"].end(); ++it) {
            data[it.key()] = b64decode(it.value().get<std::string>());
          }
        }
      }
      std::string rel = std::string(secret ? "/kubernetes.io~secret/" : "/kubernetes.io~configmap/") + name;
      K3DPP_TRY(write_key_files(local_root + rel, data, src, name, what, obj_name));
      pv.host_path = node_root + rel;
      pv.read_only = true;
    } else if (v.contains("persistentVolumeClaim")) {
      std::string claim = v["persistentVolumeClaim"].value("claimName", "");
      auto pvc = get("persistentvolumeclaims", ns, claim);
      if (!pvc) {
        return setup_failed(name, pvc.error().is("NotFound")
                                      ? "persistentvolumeclaim \"" + claim + "\" not found"
                                      : pvc.error().message,
                            pvc.error().is("NotFound") ? "FailedMount" : "NotReady");
      }
      std::string pv_name = pvc->value("spec", json::object()).value("volumeName", "");
      std::string phase = pvc->value("status", json::object()).value("phase", "");
      if (pv_name.empty() || phase != "Bound") {
        return Error("persistentvolumeclaim \"" + claim + "\" is not bound", "NotReady");
      }
      auto vol = get("persistentvolumes", "", pv_name);
      if (!vol) return setup_failed(name, "persistentvolume \"" + pv_name + "\" not found", "NotReady");
      const json pspec = vol->value("spec", json::object());
      if (pspec.contains("hostPath")) {
        pv.host_path = pspec["hostPath"].value("path", "");
      } else if (pspec.contains("local")) {
        pv.host_path = pspec["local"].value("path", "");
      } else {
        return setup_failed(name, "persistentvolume \"" + pv_name + "\" has no hostPath or local source");
      }
      // Like local-path-provisioner's helper and hostPath DirectoryOrCreate: make sure it exists.
      std::string local = ctx.node_root + pv.host_path;
      fs::create_directories(local, ec);
      fs::permissions(local, fs::perms::all, fs::perm_options::add, ec);
      pv.read_only = v["persistentVolumeClaim"].value("readOnly", false);
    } else {
      continue;  // unsupported sources (downwardAPI, projected, ...) are not mounted
    }
    out[name] = pv;
  }
  return out;
}

std::string render_etc_hosts(const json& pod, const std::string& pod_ip) {
  const json spec = pod.value("spec", json::object());
  std::string hostname = spec.value("hostname", pod.value("metadata", json::object()).value("name", ""));
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
           pod.value("metadata", json::object()).value("namespace", "") + ".svc.cluster.local";
  }
  if (!pod_ip.empty()) out += pod_ip + "\t" + (fqdn.empty() ? "" : fqdn + "\t") + hostname + "\n";
  auto aliases = array_or_empty(spec, "hostAliases");
  if (!aliases.empty()) {
    out += "\n# Entries added by HostAliases.\n";
    for (const auto& a : aliases) {
      std::vector<std::string> names;
      for (const auto& h : array_or_empty(a, "hostnames")) names.push_back(h.get<std::string>());
      out += a.value("ip", "") + "\t" + strings::join(names, "\t") + "\n";
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
    auto it = volumes.find(vm.value("name", ""));
    if (it == volumes.end()) continue;
    std::string host = it->second.host_path;
    std::string sub = vm.value("subPath", "");
    if (!sub.empty() && sub.find("..") == std::string::npos) host += "/" + sub;
    rt::Mount m;
    m.set_container_path(vm.value("mountPath", ""));
    m.set_host_path(host);
    m.set_readonly(it->second.read_only || vm.value("readOnly", false));
    if (m.container_path() == "/etc/hosts") own_hosts = true;
    out.push_back(m);
  }
  bool host_network = pod.value("spec", json::object()).value("hostNetwork", false);
  if (!own_hosts && !host_network && !etc_hosts_path.empty()) {
    rt::Mount m;
    m.set_container_path("/etc/hosts");
    m.set_host_path(etc_hosts_path);
    out.push_back(m);
  }
  return out;
}

}  // namespace k3dpp::kubelet
