#include "runtime/podman/translate.h"

#include <algorithm>
#include <cctype>

#include "common/strings.h"

namespace k3dpp::runtime::podman {
namespace {

using nlohmann::json;

bool is_hex_id(const std::string& s) {
  if (s.size() < 12 || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) && !std::isupper(c); });
}

// Splits "a,b,,c" into non-empty trimmed parts.
std::vector<std::string> split_options(const std::string& s) {
  std::vector<std::string> out;
  for (const auto& p : strings::split(s, ',')) {
    std::string t{strings::trim(p)};
    if (!t.empty()) out.push_back(t);
  }
  return out;
}

Result<json> device_number(const std::string& s, const std::string& rule) {
  if (s == "*") return json();  // null: any
  long long v = 0;
  if (!strings::parse_int(s, v) || v < 0) return fail("device cgroup rule \"" + rule + "\": bad number \"" + s + "\"", "Invalid");
  return json(v);
}

// Security options in docker's "key=value" (or "key:value") form.
Status apply_security_opt(const std::string& opt, json& body) {
  auto sep = opt.find_first_of("=:");
  std::string key = opt.substr(0, sep);
  std::string value = sep == std::string::npos ? std::string() : opt.substr(sep + 1);
  if (key == "seccomp" && !value.empty()) {
    body["seccomp_profile_path"] = value;  // "unconfined" turns seccomp off
  } else if (key == "apparmor" && !value.empty()) {
    body["apparmor_profile"] = value;
  } else if (key == "label" && !value.empty()) {
    body["selinux_opts"].push_back(value);
  } else if (key == "no-new-privileges") {
    body["no_new_privileges"] = value.empty() || value == "true";
  } else if (key == "systempaths" && value == "unconfined") {
    body["unmask"] = json::array({"ALL"});
  } else {
    return fail("podman: security option \"" + opt + "\" is not supported", "Invalid");
  }
  return {};
}

}  // namespace

Result<json> device_cgroup_rule(const std::string& rule) {
  auto bad = [&](const std::string& why) { return fail("device cgroup rule \"" + rule + "\": " + why, "Invalid"); };
  std::vector<std::string> parts;
  for (const auto& p : strings::split(rule, ' ')) {
    if (!p.empty()) parts.push_back(p);
  }
  if (parts.empty()) return bad("empty");
  const std::string& type = parts[0];
  if (type != "a" && type != "b" && type != "c") return bad("type must be a, b or c");
  json j = {{"allow", true}, {"type", type}};
  if (type == "a") {
    if (parts.size() > 1) return bad("type a takes no device numbers");
    j["access"] = "rwm";
    return j;
  }
  if (parts.size() != 3) return bad("want \"TYPE MAJOR:MINOR ACCESS\"");
  auto colon = parts[1].find(':');
  if (colon == std::string::npos) return bad("want MAJOR:MINOR");
  auto major = device_number(parts[1].substr(0, colon), rule);
  if (!major) return major.error();
  auto minor = device_number(parts[1].substr(colon + 1), rule);
  if (!minor) return minor.error();
  const std::string& access = parts[2];
  if (access.empty() || access.find_first_not_of("rwm") != std::string::npos) return bad("access must be of r, w, m");
  if (!major->is_null()) j["major"] = *major;
  if (!minor->is_null()) j["minor"] = *minor;
  j["access"] = access;
  return j;
}

Result<json> libpod_create_body(const ContainerSpec& spec, const std::string& image) {
  json body = json::object();
  if (!spec.name.empty()) body["name"] = spec.name;
  body["image"] = image;
  if (!spec.hostname.empty()) body["hostname"] = spec.hostname;
  body["labels"] = json::object();
  for (const auto& [k, v] : spec.labels) body["labels"][k] = v;
  if (!spec.env.empty()) {
    body["env"] = json::object();
    for (const auto& e : spec.env) {
      auto eq = e.find('=');
      body["env"][e.substr(0, eq)] = eq == std::string::npos ? std::string() : e.substr(eq + 1);
    }
  }
  if (!spec.entrypoint.empty()) body["entrypoint"] = spec.entrypoint;
  if (!spec.cmd.empty()) body["command"] = spec.cmd;

  // Network: one named bridge network (with aliases), or host/none.
  if (spec.network == "host" || spec.network == "none") {
    body["netns"] = {{"nsmode", spec.network}};
  } else if (!spec.network.empty()) {
    body["netns"] = {{"nsmode", "bridge"}};
    json opts = json::object();
    if (!spec.network_aliases.empty()) opts["aliases"] = spec.network_aliases;
    body["Networks"] = {{spec.network, opts}};
  }
  if (!spec.ports.empty()) {
    body["portmappings"] = json::array();
    for (const auto& p : spec.ports) {
      body["portmappings"].push_back({{"host_ip", p.host_ip},
                                      {"host_port", p.host_port},
                                      {"container_port", p.container_port},
                                      {"protocol", p.protocol.empty() ? "tcp" : p.protocol}});
    }
  }
  if (!spec.extra_hosts.empty()) body["hostadd"] = spec.extra_hosts;

  // Storage: host paths are bind mounts, other sources named volumes; tmpfs are mounts too.
  json mounts = json::array();
  json volumes = json::array();
  for (const auto& b : spec.binds) {
    auto parts = strings::split(b, ':');
    if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty() || parts[1][0] != '/') {
      return fail("podman: bind \"" + b + "\" is not SOURCE:/PATH[:OPTIONS]", "Invalid");
    }
    std::vector<std::string> opts = parts.size() == 3 ? split_options(parts[2]) : std::vector<std::string>{};
    if (parts[0][0] == '/') {
      opts.insert(opts.begin(), "rbind");
      mounts.push_back({{"destination", parts[1]}, {"type", "bind"}, {"source", parts[0]}, {"options", opts}});
    } else {
      volumes.push_back({{"Name", parts[0]}, {"Dest", parts[1]}, {"Options", opts}});
    }
  }
  for (const auto& [path, options] : spec.tmpfs) {
    mounts.push_back({{"destination", path}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", split_options(options)}});
  }
  if (!mounts.empty()) body["mounts"] = mounts;
  if (!volumes.empty()) body["volumes"] = volumes;

  // Security. Never privileged: k3dpp asks for exactly the capabilities it needs.
  if (!spec.cap_add.empty()) body["cap_add"] = spec.cap_add;
  if (!spec.cap_drop.empty()) body["cap_drop"] = spec.cap_drop;
  for (const auto& opt : spec.security_opt) K3DPP_TRY(apply_security_opt(opt, body));
  if (!spec.sysctls.empty()) {
    body["sysctl"] = json::object();
    for (const auto& [k, v] : spec.sysctls) body["sysctl"][k] = v;
  }

  // Rlimits: podman's type names are "nofile", "nproc" (it adds the RLIMIT_ prefix itself).
  json rlimits = json::array();
  bool has_nofile = false, has_nproc = false;
  for (const auto& u : spec.ulimits) {
    std::string name = strings::to_lower(u.name);
    if (strings::starts_with(name, "rlimit_")) name = name.substr(7);
    has_nofile = has_nofile || name == "nofile";
    has_nproc = has_nproc || name == "nproc";
    rlimits.push_back({{"type", name}, {"soft", u.soft}, {"hard", u.hard}});
  }
  if (!has_nofile) rlimits.push_back({{"type", "nofile"}, {"soft", kDefaultNofile}, {"hard", kDefaultNofile}});
  if (!has_nproc) rlimits.push_back({{"type", "nproc"}, {"soft", kDefaultNproc}, {"hard", kDefaultNproc}});
  body["r_limits"] = rlimits;
  if (spec.memory > 0) {
    body["resource_limits"] = {{"memory", {{"limit", spec.memory}, {"swap", spec.memory}}}};
  }

  // Device cgroup rules (the compat API ignores HostConfig.DeviceCgroupRules in podman 4.3).
  std::vector<std::string> rules = spec.device_cgroup_rules;
  if (std::find(rules.begin(), rules.end(), kConsoleDeviceRule) == rules.end()) rules.emplace_back(kConsoleDeviceRule);
  body["device_cgroup_rule"] = json::array();
  for (const auto& r : rules) {
    auto j = device_cgroup_rule(r);
    if (!j) return j.error();
    body["device_cgroup_rule"].push_back(*j);
  }

  if (spec.init) body["init"] = true;
  if (!spec.restart_policy.empty() && spec.restart_policy != "no") body["restart_policy"] = spec.restart_policy;
  return body;
}

std::vector<std::string> image_candidates(const std::string& ref) {
  if (ref.empty()) return {ref};
  if (strings::starts_with(ref, "sha256:") || is_hex_id(ref)) return {ref};
  auto slash = ref.find('/');
  std::string first = slash == std::string::npos ? std::string() : ref.substr(0, slash);
  bool qualified = !first.empty() && (first == "localhost" || first.find_first_of(".:") != std::string::npos);
  if (qualified) return {ref};
  std::string last = slash == std::string::npos ? ref : ref.substr(ref.rfind('/') + 1);
  std::string full = ref;
  if (last.find(':') == std::string::npos && ref.find('@') == std::string::npos) full += ":latest";
  return {"localhost/" + full, ref};
}

std::string display_image_name(const std::string& name) {
  constexpr std::string_view kLocal = "localhost/";
  return strings::starts_with(name, kLocal) ? name.substr(kLocal.size()) : name;
}

EngineInfo engine_info_from_libpod(const nlohmann::json& info) {
  auto str = [](const nlohmann::json& j, const char* k) {
    return j.is_object() && j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  EngineInfo e;
  e.engine = "podman";
  e.api_version = kCompatApiVersion;
  const auto host = info.is_object() ? info.value("host", nlohmann::json::object()) : nlohmann::json::object();
  const auto version = info.is_object() ? info.value("version", nlohmann::json::object()) : nlohmann::json::object();
  e.version = str(version, "Version");
  e.kernel = str(host, "kernel");
  const auto dist = host.value("distribution", nlohmann::json::object());
  e.os = str(dist, "distribution");
  if (!str(dist, "version").empty()) e.os += " " + str(dist, "version");
  if (!str(dist, "codename").empty()) e.os += " (" + str(dist, "codename") + ")";
  e.cgroup_driver = str(host, "cgroupManager");
  e.cgroup_version = str(host, "cgroupVersion");
  if (!e.cgroup_version.empty() && e.cgroup_version[0] == 'v') e.cgroup_version.erase(0, 1);
  if (e.cgroup_version.empty()) e.cgroup_version = "1";
  const auto sec = host.value("security", nlohmann::json::object());
  e.rootless = sec.is_object() && sec.value("rootless", false);
  return e;
}

Error podman_error(const Error& e) {
  constexpr std::string_view kDocker = "docker engine: ";
  std::string msg = e.message;
  auto pos = msg.find(kDocker);
  if (pos != std::string::npos) msg.replace(pos, kDocker.size(), "podman: ");
  return Error(msg, e.kind);
}

Error error_from_libpod(long status, const std::string& body, const std::string& what) {
  std::string message;
  try {
    auto j = json::parse(body);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) message = j["message"];
  } catch (const json::exception&) {
  }
  if (message.empty()) {
    std::string text{strings::trim(body)};
    if (text.size() > 300) text = text.substr(0, 300) + "...";
    message = "HTTP " + std::to_string(status) + " on " + what + (text.empty() ? "" : ": " + text);
  }
  std::string kind = "Engine";
  if (status == 404) kind = "NotFound";
  if (status == 409) kind = "Conflict";
  if (status == 400) kind = "Invalid";
  return Error("podman: " + message, kind);
}

}  // namespace k3dpp::runtime::podman
