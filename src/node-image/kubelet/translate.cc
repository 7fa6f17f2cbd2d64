#include "kubelet/translate.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "common/strings.h"
#include "common/json_read.h"

namespace k3dpp::kubelet {
namespace {

std::string meta(const json& pod, const char* key) {
  if (!pod.contains("metadata") || !pod["metadata"].is_object()) return {};
  return pod["metadata"].value(key, "");
}

const json& spec_of(const json& pod) {
  static const json kEmpty = json::object();
  auto it = pod.find("spec");
  return it != pod.end() && it->is_object() ? *it : kEmpty;
}

json array_or_empty(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return json::array();
  return *it;
}

std::string str_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return {};
  return v.dump();
}

// 64-bit FNV-1a, as hex: the container "hash" annotation (detects spec changes, like kubelet's).
std::string fnv_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Result<std::string> field_ref(const json& pod, const std::string& path, const EnvContext& ctx) {
  if (path == "metadata.name") return meta(pod, "name");
  if (path == "metadata.namespace") return meta(pod, "namespace");
  if (path == "metadata.uid") return meta(pod, "uid");
  if (path == "spec.nodeName") return jvalue(spec_of(pod), "nodeName", ctx.node_name);
  if (path == "spec.serviceAccountName") return jvalue(spec_of(pod), "serviceAccountName", "");
  if (path == "status.hostIP" || path == "status.hostIPs") return ctx.host_ip;
  if (path == "status.podIP" || path == "status.podIPs") return ctx.pod_ip;
  for (const char* m : {"labels", "annotations"}) {
    std::string prefix = std::string("metadata.") + m + "['";
    if (strings::starts_with(path, prefix) && strings::ends_with(path, "']")) {
      std::string key = path.substr(prefix.size(), path.size() - prefix.size() - 2);
      const json& md = jvalue(pod, "metadata", json::object());
      if (md.contains(m) && md[m].contains(key)) return str_of(md[m][key]);
      return std::string();
    }
    if (path == std::string("metadata.") + m) {
      std::string out;
      const json& md = jvalue(pod, "metadata", json::object());
      if (md.contains(m) && md[m].is_object()) {
        for (auto it = md[m].begin(); it != md[m].end(); ++it) {
          out += it.key() + "=\"" + str_of(it.value()) + "\"\n";
        }
      }
      if (!out.empty()) out.pop_back();
      return out;
    }
  }
  return fail("unsupported fieldRef path \"" + path + "\"", "CreateContainerConfigError");
}

Result<std::string> resource_field_ref(const json& container, const json& ref) {
  std::string res = jvalue(ref, "resource", "");
  auto dot = res.find('.');
  if (dot == std::string::npos) return fail("invalid resourceFieldRef \"" + res + "\"", "CreateContainerConfigError");
  std::string kind = res.substr(0, dot), name = res.substr(dot + 1);
  json resources = jvalue(container, "resources", json::object());
  std::string q = resources.value(kind, json::object()).value(name, "");
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

Result<json> lookup(const EnvContext& ctx, const std::string& plural, const std::string& ns, const std::string& name) {
  if (!ctx.lookup) return fail("no API access to read " + plural + " " + ns + "/" + name, "CreateContainerConfigError");
  return ctx.lookup(plural, ns, name);
}

// Value of key in a ConfigMap (data) or Secret (data, base64).
Result<std::optional<std::string>> key_of(const json& obj, bool secret, const std::string& key) {
  const json data = jvalue(obj, "data", json::object());
  if (!data.contains(key)) {
    if (!secret && obj.contains("binaryData") && obj["binaryData"].contains(key)) {
      secret = true;  // binaryData is base64 like a Secret's data
    } else {
      return std::optional<std::string>();
    }
  }
  std::string v = data.contains(key) ? str_of(data[key]) : str_of(obj["binaryData"][key]);
  if (!secret) return std::optional<std::string>(v);
  // base64 decode
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : v) {
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
  return std::optional<std::string>(out);
}

}  // namespace

std::string pod_log_directory(const json& pod) {
  return "/var/log/pods/" + meta(pod, "namespace") + "_" + meta(pod, "name") + "_" + meta(pod, "uid");
}

std::string qos_class(const json& pod) {
  if (pod.contains("status") && pod["status"].is_object()) {
    std::string q = jvalue(pod["status"], "qosClass", "");
    if (!q.empty()) return q;
  }
  bool any = false, guaranteed = true;
  json all = array_or_empty(spec_of(pod), "containers");
  for (const auto& c : array_or_empty(spec_of(pod), "initContainers")) all.push_back(c);
  for (const auto& c : all) {
    json r = jvalue(c, "resources", json::object());
    json req = jvalue(r, "requests", json::object()), lim = jvalue(r, "limits", json::object());
    for (const char* res : {"cpu", "memory"}) {
      bool has_req = req.contains(res), has_lim = lim.contains(res);
      if (has_req || has_lim) any = true;
      if (!has_lim) {
        guaranteed = false;
      } else if (has_req) {
        auto a = parse_quantity(str_of(req[res])), b = parse_quantity(str_of(lim[res]));
        if (!a || !b || *a != *b) guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

std::string pod_cgroup_parent(const json& pod) {
  std::string q = qos_class(pod), uid = meta(pod, "uid");
  if (q == "Guaranteed") return "/kubepods/pod" + uid;
  if (q == "Burstable") return "/kubepods/burstable/pod" + uid;
  return "/kubepods/besteffort/pod" + uid;
}

Result<double> parse_quantity(const std::string& q) {
  std::string s(strings::trim(q));
  if (s.empty()) return fail("empty quantity", "Invalid");
  static const std::vector<std::pair<std::string, double>> kSuffixes = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0}, {"n", 1e-9}, {"u", 1e-6},
      {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18}};
  double mult = 1;
  std::string num = s;
  for (const auto& [suf, m] : kSuffixes) {
    if (strings::ends_with(s, suf)) {
      num = s.substr(0, s.size() - suf.size());
      mult = m;
      break;
    }
  }
  char* end = nullptr;
  double v = std::strtod(num.c_str(), &end);
  if (num.empty() || end != num.c_str() + num.size() || !std::isfinite(v) || v < 0) {
    return fail("invalid quantity \"" + q + "\"", "Invalid");
  }
  return v * mult;
}

rt::PodSandboxConfig make_sandbox_config(const json& pod, uint32_t attempt, const PodDefaults& d) {
  const json& spec = spec_of(pod);
  std::string ns = meta(pod, "namespace"), name = meta(pod, "name"), uid = meta(pod, "uid");
  rt::PodSandboxConfig c;
  auto* m = c.mutable_metadata();
  m->set_name(name);
  m->set_namespace_(ns);
  m->set_uid(uid);
  m->set_attempt(attempt);

  bool host_network = jvalue(spec, "hostNetwork", false);
  if (!host_network) {
    // Kubernetes: spec.hostname, else the pod name truncated to 63 characters.
    std::string hostname = jvalue(spec, "hostname", name);
    if (hostname.size() > 63) hostname.resize(63);
    while (!hostname.empty() && (hostname.back() == '-' || hostname.back() == '.')) hostname.pop_back();
    c.set_hostname(hostname);
  }
  c.set_log_directory(pod_log_directory(pod));

  std::string dns_policy = jvalue(spec, "dnsPolicy", "ClusterFirst");
  // ClusterFirst on the host network falls back to Default (the node's resolv.conf).
  bool cluster_dns = (dns_policy == "ClusterFirst" && !host_network) || dns_policy == "ClusterFirstWithHostNet";
  if (dns_policy == "None" || cluster_dns) {
    auto* dns = c.mutable_dns_config();
    if (cluster_dns) {
      dns->add_servers(d.cluster_dns);
      dns->add_searches(ns + ".svc." + d.cluster_domain);
      dns->add_searches("svc." + d.cluster_domain);
      dns->add_searches(d.cluster_domain);
      dns->add_options("ndots:5");
    }
    if (spec.contains("dnsConfig") && spec["dnsConfig"].is_object()) {
      const json& dc = spec["dnsConfig"];
      for (const auto& s : array_or_empty(dc, "nameservers")) dns->add_servers(str_of(s));
      for (const auto& s : array_or_empty(dc, "searches")) dns->add_searches(str_of(s));
      for (const auto& o : array_or_empty(dc, "options")) {
        std::string opt = jvalue(o, "name", "");
        if (o.contains("value") && !o["value"].is_null()) opt += ":" + str_of(o["value"]);
        // A pod option replaces the default one of the same name.
        std::string key = opt.substr(0, opt.find(':'));
        auto* opts = dns->mutable_options();
        for (int i = 0; i < opts->size(); ++i) {
          if (opts->Get(i).substr(0, opts->Get(i).find(':')) == key) {
            opts->DeleteSubrange(i, 1);
            break;
          }
        }
        dns->add_options(opt);
      }
    }
  }

  for (const auto& ctr : array_or_empty(spec, "containers")) {
    for (const auto& p : array_or_empty(ctr, "ports")) {
      int host_port = jvalue(p, "hostPort", 0);
      if (host_port <= 0) continue;
      auto* pm = c.add_port_mappings();
      std::string proto = jvalue(p, "protocol", "TCP");
      pm->set_protocol(proto == "UDP" ? rt::UDP : proto == "SCTP" ? rt::SCTP : rt::TCP);
      pm->set_container_port(jvalue(p, "containerPort", 0));
      pm->set_host_port(host_port);
      pm->set_host_ip(jvalue(p, "hostIP", ""));
    }
  }

  const json& md = jvalue(pod, "metadata", json::object());
  auto& labels = *c.mutable_labels();
  if (md.contains("labels") && md["labels"].is_object()) {
    for (auto it = md["labels"].begin(); it != md["labels"].end(); ++it) labels[it.key()] = str_of(it.value());
  }
  labels[kLabelPodName] = name;
  labels[kLabelPodNamespace] = ns;
  labels[kLabelPodUid] = uid;
  auto& ann = *c.mutable_annotations();
  if (md.contains("annotations") && md["annotations"].is_object()) {
    for (auto it = md["annotations"].begin(); it != md["annotations"].end(); ++it) {
      ann[it.key()] = str_of(it.value());
    }
  }
  ann["kubernetes.io/config.source"] = "api";

  auto* linux = c.mutable_linux();
  linux->set_cgroup_parent(pod_cgroup_parent(pod));
  auto* sc = linux->mutable_security_context();
  auto* nso = sc->mutable_namespace_options();
  nso->set_network(host_network ? rt::NODE : rt::POD);
  nso->set_pid(jvalue(spec, "hostPID", false) ? rt::NODE
               : jvalue(spec, "shareProcessNamespace", false) ? rt::POD
                                                             : rt::CONTAINER);
  nso->set_ipc(jvalue(spec, "hostIPC", false) ? rt::NODE : rt::POD);
  json psc = jvalue(spec, "securityContext", json::object());
  if (psc.contains("runAsUser")) sc->mutable_run_as_user()->set_value(psc["runAsUser"].get<long long>());
  if (psc.contains("runAsGroup")) sc->mutable_run_as_group()->set_value(psc["runAsGroup"].get<long long>());
  for (const auto& g : array_or_empty(psc, "supplementalGroups")) sc->add_supplemental_groups(g.get<long long>());
  if (psc.contains("fsGroup")) sc->add_supplemental_groups(psc["fsGroup"].get<long long>());
  if (psc.contains("sysctls")) {
    for (const auto& s : array_or_empty(psc, "sysctls")) {
      (*linux->mutable_sysctls())[jvalue(s, "name", "")] = str_of(jvalue(s, "value", json("")));
    }
  }
  return c;
}

std::string expand_vars(const std::string& s, const std::map<std::string, std::string>& env) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '$' && i + 1 < s.size()) {
      if (s[i + 1] == '$') {
        out += '$';
        ++i;
        continue;
      }
      if (s[i + 1] == '(') {
        auto close = s.find(')', i + 2);
        if (close != std::string::npos) {
          std::string name = s.substr(i + 2, close - i - 2);
          auto it = env.find(name);
          if (it != env.end()) {
            out += it->second;
            i = close;
            continue;
          }
        }
      }
    }
    out += s[i];
  }
  return out;
}

Status verify_run_as_non_root(const json& pod, const json& container, std::optional<long long> image_uid,
                              const std::string& image_user) {
  json psc = jvalue(spec_of(pod), "securityContext", json::object());
  json csc = jvalue(container, "securityContext", json::object());
  auto pick = [&](const char* k) -> json {
    if (csc.contains(k) && !csc[k].is_null()) return csc[k];
    if (psc.contains(k) && !psc[k].is_null()) return psc[k];
    return nullptr;
  };
  json non_root = pick("runAsNonRoot");
  if (!non_root.is_boolean() || !non_root.get<bool>()) return {};
  std::string who = "(pod: \"" + meta(pod, "name") + "_" + meta(pod, "namespace") + "(" + meta(pod, "uid") +
                    ")\", container: " + jvalue(container, "name", "") + ")";
  json run_as = pick("runAsUser");
  if (run_as.is_number_integer()) {
    if (run_as.get<long long>() == 0) return fail("container's runAsUser breaks non-root policy " + who, "CreateContainerConfigError");
    return {};
  }
  if (!image_uid && image_user.empty()) image_uid = 0;  // no user in the image: root
  if (image_uid && *image_uid == 0) {
    return fail("container has runAsNonRoot and image will run as root " + who, "CreateContainerConfigError");
  }
  if (!image_uid) {
    return fail("container has runAsNonRoot and image has non-numeric user (" + image_user +
                    "), cannot verify user is non-root " + who,
                "CreateContainerConfigError");
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> service_env(const json& service) {
  std::vector<std::pair<std::string, std::string>> out;
  const json spec = jvalue(service, "spec", json::object());
  std::string ip = jvalue(spec, "clusterIP", "");
  if (ip.empty() || ip == "None") return out;
  auto env_name = [](std::string s) {
    for (char& ch : s) ch = ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
  };
  auto lower = [](std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  std::string prefix = env_name(jvalue(jvalue(service, "metadata", json::object()), "name", ""));
  json ports = array_or_empty(spec, "ports");
  out.emplace_back(prefix + "_SERVICE_HOST", ip);
  if (!ports.empty()) out.emplace_back(prefix + "_SERVICE_PORT", std::to_string(jvalue(ports[0], "port", 0)));
  for (const auto& sp : ports) {
    std::string pname = jvalue(sp, "name", "");
    if (!pname.empty()) out.emplace_back(prefix + "_SERVICE_PORT_" + env_name(pname), std::to_string(jvalue(sp, "port", 0)));
  }
  bool first = true;
  for (const auto& sp : ports) {
    std::string proto = jvalue(sp, "protocol", "TCP");
    if (proto.empty()) proto = "TCP";
    std::string port = std::to_string(jvalue(sp, "port", 0));
    std::string url = lower(proto) + "://" + (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + port;
    if (first) out.emplace_back(prefix + "_PORT", url);  // Docker special-cases the first port
    first = false;
    std::string pp = prefix + "_PORT_" + port + "_" + env_name(proto);
    out.emplace_back(pp, url);
    out.emplace_back(pp + "_PROTO", lower(proto));
    out.emplace_back(pp + "_PORT", port);
    out.emplace_back(pp + "_ADDR", ip);
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> resolve_env(const json& pod, const json& container,
                                                                     const EnvContext& ctx, const PodDefaults& d) {
  std::vector<std::pair<std::string, std::string>> out;
  std::map<std::string, std::string> seen;
  auto set = [&](const std::string& k, const std::string& v) {
    for (auto& kv : out) {
      if (kv.first == k) {
        kv.second = v;
        seen[k] = v;
        return;
      }
    }
    out.emplace_back(k, v);
    seen[k] = v;
  };
  std::string ns = meta(pod, "namespace");
  // The "kubernetes" service's variables: the kubelet injects them into every pod, whatever
  // enableServiceLinks says (that only governs the other services' variables).
  {
    std::string host = d.kubernetes_service_host, port = std::to_string(d.kubernetes_service_port);
    set("KUBERNETES_SERVICE_HOST", host);
    set("KUBERNETES_SERVICE_PORT", port);
    set("KUBERNETES_SERVICE_PORT_HTTPS", port);
    set("KUBERNETES_PORT", "tcp://" + host + ":" + port);
    set("KUBERNETES_PORT_" + port + "_TCP", "tcp://" + host + ":" + port);
    set("KUBERNETES_PORT_" + port + "_TCP_PROTO", "tcp");
    set("KUBERNETES_PORT_" + port + "_TCP_PORT", port);
    set("KUBERNETES_PORT_" + port + "_TCP_ADDR", host);
  }
  // The other services of the namespace (enableServiceLinks, default true).
  if (ctx.services && jvalue(spec_of(pod), "enableServiceLinks", true)) {
    if (auto svcs = ctx.services(ns)) {
      std::vector<json> sorted = *svcs;
      auto name_of = [](const json& o) { return jvalue(jvalue(o, "metadata", json::object()), "name", ""); };
      std::sort(sorted.begin(), sorted.end(), [&](const json& a, const json& b) { return name_of(a) < name_of(b); });
      for (const auto& svc : sorted) {
        if (ns == "default" && name_of(svc) == "kubernetes") continue;  // done above
        for (const auto& [k, v] : service_env(svc)) set(k, v);
      }
    }
  }

  for (const auto& ef : array_or_empty(container, "envFrom")) {
    std::string prefix = jvalue(ef, "prefix", "");
    bool secret = ef.contains("secretRef");
    json ref = secret ? ef["secretRef"] : jvalue(ef, "configMapRef", json::object());
    std::string name = jvalue(ref, "name", "");
    bool optional = jvalue(ref, "optional", false);
    auto obj = lookup(ctx, secret ? "secrets" : "configmaps", ns, name);
    if (!obj) {
      if (optional && obj.error().is("NotFound")) continue;
      return fail(std::string(secret ? "secret" : "configmap") + " \"" + name + "\" not found",
                  "CreateContainerConfigError");
    }
    json data = jvalue(*obj, "data", json::object());
    for (auto it = data.begin(); it != data.end(); ++it) {
      auto v = key_of(*obj, secret, it.key());
      if (v && *v) set(prefix + it.key(), **v);
    }
  }

  for (const auto& e : array_or_empty(container, "env")) {
    std::string name = jvalue(e, "name", "");
    if (e.contains("value") && !e["value"].is_null()) {
      set(name, expand_vars(str_of(e["value"]), seen));
      continue;
    }
    if (!e.contains("valueFrom")) {
      set(name, "");
      continue;
    }
    const json& vf = e["valueFrom"];
    if (vf.contains("fieldRef")) {
      auto v = field_ref(pod, jvalue(vf["fieldRef"], "fieldPath", ""), ctx);
      if (!v) return v.error();
      set(name, *v);
    } else if (vf.contains("resourceFieldRef")) {
      auto v = resource_field_ref(container, vf["resourceFieldRef"]);
      if (!v) return v.error();
      set(name, *v);
    } else if (vf.contains("configMapKeyRef") || vf.contains("secretKeyRef")) {
      bool secret = vf.contains("secretKeyRef");
      const json& ref = secret ? vf["secretKeyRef"] : vf["configMapKeyRef"];
      std::string obj_name = jvalue(ref, "name", ""), key = jvalue(ref, "key", "");
      bool optional = jvalue(ref, "optional", false);
      const char* what = secret ? "secret" : "configmap";
      auto obj = lookup(ctx, secret ? "secrets" : "configmaps", ns, obj_name);
      if (!obj) {
        if (optional && obj.error().is("NotFound")) continue;
        if (obj.error().is("NotFound")) {
          return fail(std::string(what) + " \"" + obj_name + "\" not found", "CreateContainerConfigError");
        }
        return obj.error().wrap(std::string("reading ") + what + " \"" + obj_name + "\"");
      }
      auto v = key_of(*obj, secret, key);
      if (!v) return v.error();
      if (!*v) {
        if (optional) continue;
        return fail("couldn't find key " + key + " in " + (secret ? "Secret " : "ConfigMap ") + ns + "/" + obj_name,
                    "CreateContainerConfigError");
      }
      set(name, **v);
    }
  }
  return out;
}

rt::LinuxContainerResources container_resources(const json& container) {
  rt::LinuxContainerResources r;
  json res = jvalue(container, "resources", json::object());
  json req = jvalue(res, "requests", json::object()), lim = jvalue(res, "limits", json::object());
  auto q = [](const json& m, const char* k) -> std::optional<double> {
    if (!m.contains(k)) return std::nullopt;
    auto v = parse_quantity(str_of(m[k]));
    if (!v) return std::nullopt;
    return *v;
  };
  // cpu.shares from the request (or the limit, which the request defaults to), at least 2.
  auto cpu_req = q(req, "cpu");
  if (!cpu_req) cpu_req = q(lim, "cpu");
  long long shares = cpu_req ? static_cast<long long>(std::llround(*cpu_req * 1000)) * 1024 / 1000 : 2;
  r.set_cpu_shares(std::max(2LL, shares));
  if (auto cpu_lim = q(lim, "cpu")) {
    const long long period = 100000;
    long long quota = static_cast<long long>(std::llround(*cpu_lim * 1000)) * period / 1000;
    r.set_cpu_period(period);
    r.set_cpu_quota(std::max(1000LL, quota));
  }
  if (auto mem = q(lim, "memory")) r.set_memory_limit_in_bytes(static_cast<long long>(*mem));
  return r;
}

rt::ContainerConfig make_container_config(const json& pod, const json& container, uint32_t attempt,
                                          const std::vector<std::pair<std::string, std::string>>& env,
                                          const std::vector<rt::Mount>& mounts) {
  rt::ContainerConfig c;
  std::string name = jvalue(container, "name", "");
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_attempt(attempt);
  c.mutable_image()->set_image(jvalue(container, "image", ""));
  c.mutable_image()->set_user_specified_image(jvalue(container, "image", ""));

  std::map<std::string, std::string> env_map(env.begin(), env.end());
  for (const auto& s : array_or_empty(container, "command")) c.add_command(expand_vars(str_of(s), env_map));
  for (const auto& s : array_or_empty(container, "args")) c.add_args(expand_vars(str_of(s), env_map));
  c.set_working_dir(jvalue(container, "workingDir", ""));
  for (const auto& [k, v] : env) {
    auto* kv = c.add_envs();
    kv->set_key(k);
    kv->set_value(v);
  }
  for (const auto& m : mounts) *c.add_mounts() = m;

  auto& labels = *c.mutable_labels();
  labels[kLabelContainerName] = name;
  labels[kLabelPodName] = meta(pod, "name");
  labels[kLabelPodNamespace] = meta(pod, "namespace");
  labels[kLabelPodUid] = meta(pod, "uid");
  auto& ann = *c.mutable_annotations();
  ann["io.kubernetes.container.hash"] = fnv_hex(container.dump());
  ann[kAnnotationRestartCount] = std::to_string(attempt);
  ann["io.kubernetes.container.terminationMessagePath"] =
      jvalue(container, "terminationMessagePath", "/dev/termination-log");
  ann["io.kubernetes.container.terminationMessagePolicy"] = jvalue(container, "terminationMessagePolicy", "File");
  ann["io.kubernetes.pod.terminationGracePeriod"] =
      std::to_string(jvalue(spec_of(pod), "terminationGracePeriodSeconds", 30));
  if (container.contains("ports") && container["ports"].is_array() && !container["ports"].empty()) {
    ann["io.kubernetes.container.ports"] = container["ports"].dump();
  }

  c.set_log_path(name + "/" + std::to_string(attempt) + ".log");
  c.set_stdin(jvalue(container, "stdin", false));
  c.set_stdin_once(jvalue(container, "stdinOnce", false));
  c.set_tty(jvalue(container, "tty", false));

  auto* linux = c.mutable_linux();
  *linux->mutable_resources() = container_resources(container);
  auto* sc = linux->mutable_security_context();
  const json& spec = spec_of(pod);
  auto* nso = sc->mutable_namespace_options();
  nso->set_network(jvalue(spec, "hostNetwork", false) ? rt::NODE : rt::POD);
  nso->set_pid(jvalue(spec, "hostPID", false) ? rt::NODE
               : jvalue(spec, "shareProcessNamespace", false) ? rt::POD
                                                             : rt::CONTAINER);
  nso->set_ipc(jvalue(spec, "hostIPC", false) ? rt::NODE : rt::POD);
  // Container securityContext overrides the pod's.
  json psc = jvalue(spec, "securityContext", json::object());
  json csc = jvalue(container, "securityContext", json::object());
  auto pick = [&](const char* k) -> const json* {
    if (csc.contains(k) && !csc[k].is_null()) return &csc[k];
    if (psc.contains(k) && !psc[k].is_null()) return &psc[k];
    return nullptr;
  };
  if (const json* v = pick("runAsUser")) sc->mutable_run_as_user()->set_value(v->get<long long>());
  if (const json* v = pick("runAsGroup")) sc->mutable_run_as_group()->set_value(v->get<long long>());
  for (const auto& g : array_or_empty(psc, "supplementalGroups")) sc->add_supplemental_groups(g.get<long long>());
  if (psc.contains("fsGroup")) sc->add_supplemental_groups(psc["fsGroup"].get<long long>());
  sc->set_privileged(jvalue(csc, "privileged", false));
  sc->set_readonly_rootfs(jvalue(csc, "readOnlyRootFilesystem", false));
  if (csc.contains("allowPrivilegeEscalation") && csc["allowPrivilegeEscalation"].is_boolean()) {
    sc->set_no_new_privs(!csc["allowPrivilegeEscalation"].get<bool>());
  }
  if (csc.contains("capabilities")) {
    for (const auto& cap : array_or_empty(csc["capabilities"], "add")) {
      sc->mutable_capabilities()->add_add_capabilities(str_of(cap));
    }
    for (const auto& cap : array_or_empty(csc["capabilities"], "drop")) {
      sc->mutable_capabilities()->add_drop_capabilities(str_of(cap));
    }
  }
  if (const json* sp = pick("seccompProfile")) {
    std::string type = jvalue(*sp, "type", "");
    if (type == "RuntimeDefault") {
      sc->mutable_seccomp()->set_profile_type(rt::SecurityProfile::RuntimeDefault);
    } else if (type == "Localhost") {
      sc->mutable_seccomp()->set_profile_type(rt::SecurityProfile::Localhost);
      sc->mutable_seccomp()->set_localhost_ref(jvalue(*sp, "localhostProfile", ""));
    } else {
      sc->mutable_seccomp()->set_profile_type(rt::SecurityProfile::Unconfined);
    }
  }
  return c;
}

std::string to_json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!st.ok()) return "{\"error\":\"" + std::string(st.message()) + "\"}";
  return json::parse(out).dump(2);
}

}  // namespace k3dpp::kubelet
