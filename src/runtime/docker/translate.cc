#include "runtime/docker/translate.h"

#include "common/strings.h"

namespace k3dpp::runtime::docker {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Labels labels_of(const json& j) {
  Labels out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_string()) out[it.key()] = it->get<std::string>();
  }
  return out;
}

std::string port_key(const PortBinding& p) {
  return std::to_string(p.container_port) + "/" + (p.protocol.empty() ? "tcp" : p.protocol);
}

// "6443/tcp" -> port, protocol.
bool split_port_key(const std::string& key, uint16_t& port, std::string& proto) {
  auto slash = key.find('/');
  long long v = 0;
  if (!strings::parse_int(key.substr(0, slash), v) || v <= 0 || v > 65535) return false;
  port = static_cast<uint16_t>(v);
  proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
  return true;
}

// Parses "M.N" into comparable numbers.
bool parse_version(const std::string& v, long long& major, long long& minor) {
  auto parts = strings::split(v, '.');
  return parts.size() == 2 && strings::parse_int(parts[0], major) && strings::parse_int(parts[1], minor);
}

}  // namespace

json container_create_body(const ContainerSpec& spec) {
  json body = json::object();
  body["Image"] = spec.image;
  if (!spec.hostname.empty()) body["Hostname"] = spec.hostname;
  if (!spec.env.empty()) body["Env"] = spec.env;
  if (!spec.cmd.empty()) body["Cmd"] = spec.cmd;
  if (!spec.entrypoint.empty()) body["Entrypoint"] = spec.entrypoint;
  body["Labels"] = json::object();
  for (const auto& [k, v] : spec.labels) body["Labels"][k] = v;

  json host = json::object();
  if (!spec.binds.empty()) host["Binds"] = spec.binds;
  if (!spec.tmpfs.empty()) {
    host["Tmpfs"] = json::object();
    for (const auto& [path, opts] : spec.tmpfs) host["Tmpfs"][path] = opts;
  }
  if (!spec.cap_add.empty()) host["CapAdd"] = spec.cap_add;
  if (!spec.cap_drop.empty()) host["CapDrop"] = spec.cap_drop;
  if (!spec.security_opt.empty()) host["SecurityOpt"] = spec.security_opt;
  if (!spec.sysctls.empty()) {
    host["Sysctls"] = json::object();
    for (const auto& [k, v] : spec.sysctls) host["Sysctls"][k] = v;
  }
  if (!spec.ports.empty()) {
    json exposed = json::object();
    json bindings = json::object();
    for (const auto& p : spec.ports) {
      std::string key = port_key(p);
      exposed[key] = json::object();
      json b = {{"HostIp", p.host_ip},
                {"HostPort", p.host_port == 0 ? std::string() : std::to_string(p.host_port)}};
      if (!bindings.contains(key)) bindings[key] = json::array();
      bindings[key].push_back(b);
    }
    body["ExposedPorts"] = exposed;
    host["PortBindings"] = bindings;
  }
  if (!spec.ulimits.empty()) {
    host["Ulimits"] = json::array();
    for (const auto& u : spec.ulimits) {
      host["Ulimits"].push_back({{"Name", u.name}, {"Soft", u.soft}, {"Hard", u.hard}});
    }
  }
  if (!spec.device_cgroup_rules.empty()) host["DeviceCgroupRules"] = spec.device_cgroup_rules;
  if (!spec.extra_hosts.empty()) host["ExtraHosts"] = spec.extra_hosts;
  if (spec.memory > 0) {
    host["Memory"] = spec.memory;
    host["MemorySwap"] = spec.memory;  // no swap beyond the limit
  }
  if (spec.init) host["Init"] = true;
  if (!spec.restart_policy.empty()) host["RestartPolicy"] = {{"Name", spec.restart_policy}};
  if (!spec.network.empty()) host["NetworkMode"] = spec.network;
  body["HostConfig"] = host;

  if (!spec.network.empty()) {
    json endpoint = json::object();
    if (!spec.network_aliases.empty()) endpoint["Aliases"] = spec.network_aliases;
    body["NetworkingConfig"] = {{"EndpointsConfig", {{spec.network, endpoint}}}};
  }
  return body;
}

std::string label_filters(const Labels& labels) {
  json values = json::array();
  for (const auto& [k, v] : labels) values.push_back(v.empty() ? k : k + "=" + v);
  return json{{"label", values}}.dump();
}

ContainerInfo parse_container_inspect(const json& j) {
  ContainerInfo c;
  c.id = str(j, "Id");
  c.name = str(j, "Name");
  if (!c.name.empty() && c.name[0] == '/') c.name.erase(0, 1);
  const json& config = j.contains("Config") && j["Config"].is_object() ? j["Config"] : json::object();
  c.image = str(config, "Image");
  if (c.image.empty()) c.image = str(j, "Image");
  if (config.contains("Labels")) c.labels = labels_of(config["Labels"]);
  if (config.contains("Env") && config["Env"].is_array()) {
    for (const auto& e : config["Env"]) {
      if (e.is_string()) c.env.push_back(e.get<std::string>());
    }
  }
  if (j.contains("HostConfig") && j["HostConfig"].is_object()) {
    const json& h = j["HostConfig"];
    if (h.contains("Memory") && h["Memory"].is_number_integer()) c.memory = h["Memory"].get<int64_t>();
    if (h.contains("ExtraHosts") && h["ExtraHosts"].is_array()) {
      for (const auto& e : h["ExtraHosts"]) {
        if (e.is_string()) c.extra_hosts.push_back(e.get<std::string>());
      }
    }
  }
  if (j.contains("State") && j["State"].is_object()) {
    const json& s = j["State"];
    c.state = str(s, "Status");
    c.running = s.value("Running", false);
    c.exit_code = s.value("ExitCode", 0);
    c.pid = s.value("Pid", 0);
  }
  if (j.contains("NetworkSettings") && j["NetworkSettings"].is_object()) {
    const json& ns = j["NetworkSettings"];
    if (ns.contains("Networks") && ns["Networks"].is_object()) {
      for (auto it = ns["Networks"].begin(); it != ns["Networks"].end(); ++it) {
        c.ips[it.key()] = str(*it, "IPAddress");
      }
    }
    if (ns.contains("Ports") && ns["Ports"].is_object()) {
      for (auto it = ns["Ports"].begin(); it != ns["Ports"].end(); ++it) {
        PortBinding base;
        if (!split_port_key(it.key(), base.container_port, base.protocol)) continue;
        if (!it->is_array()) continue;  // exposed but not published
        for (const auto& b : *it) {
          PortBinding p = base;
          p.host_ip = str(b, "HostIp");
          long long hp = 0;
          if (strings::parse_int(str(b, "HostPort"), hp) && hp > 0 && hp <= 65535) {
            p.host_port = static_cast<uint16_t>(hp);
          }
          c.ports.push_back(p);
        }
      }
    }
  }
  return c;
}

NetworkInfo parse_network(const json& j) {
  NetworkInfo n;
  n.id = str(j, "Id");
  n.name = str(j, "Name");
  if (j.contains("Labels")) n.labels = labels_of(j["Labels"]);
  if (j.contains("IPAM") && j["IPAM"].is_object() && j["IPAM"].contains("Config") &&
      j["IPAM"]["Config"].is_array()) {
    for (const auto& cfg : j["IPAM"]["Config"]) {
      std::string subnet = str(cfg, "Subnet");
      if (subnet.empty() || subnet.find(':') != std::string::npos) continue;  // IPv4 first
      n.subnet = subnet;
      n.gateway = str(cfg, "Gateway");
      break;
    }
  }
  return n;
}

VolumeInfo parse_volume(const json& j) {
  VolumeInfo v;
  v.name = str(j, "Name");
  if (j.contains("Labels")) v.labels = labels_of(j["Labels"]);
  v.mountpoint = str(j, "Mountpoint");
  return v;
}

ImageInfo parse_image(const json& j) {
  ImageInfo i;
  i.id = str(j, "Id");
  if (j.contains("RepoTags") && j["RepoTags"].is_array()) {
    for (const auto& t : j["RepoTags"]) {
      if (t.is_string()) i.tags.push_back(t.get<std::string>());
    }
  }
  if (j.contains("Size") && j["Size"].is_number()) i.size = j["Size"].get<int64_t>();
  return i;
}

EngineInfo parse_engine_info(const json& info, const json& version, const std::string& api_version) {
  EngineInfo e;
  e.engine = "docker";
  if (version.contains("Components") && version["Components"].is_array()) {
    for (const auto& c : version["Components"]) {
      if (strings::to_lower(str(c, "Name")).find("podman") != std::string::npos) e.engine = "podman";
    }
  }
  e.version = str(version, "Version");
  if (e.version.empty()) e.version = str(info, "ServerVersion");
  e.api_version = api_version;
  e.os = str(info, "OperatingSystem");
  e.kernel = str(info, "KernelVersion");
  e.cgroup_driver = str(info, "CgroupDriver");
  e.cgroup_version = str(info, "CgroupVersion");
  if (e.cgroup_version.empty()) e.cgroup_version = "1";  // engines before API 1.40 only knew v1
  if (info.contains("SecurityOptions") && info["SecurityOptions"].is_array()) {
    for (const auto& o : info["SecurityOptions"]) {
      if (o.is_string() && o.get<std::string>().find("name=rootless") != std::string::npos) e.rootless = true;
    }
  }
  return e;
}

Error error_from_response(long status, const std::string& body, const std::string& what) {
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
  std::string kind;
  switch (status) {
    case 404: kind = "NotFound"; break;
    case 409: kind = "Conflict"; break;
    case 400: kind = "Invalid"; break;
    default: kind = "Engine"; break;
  }
  return Error("docker engine: " + message, kind);
}

std::string negotiate_api_version(const std::string& server_api_version) {
  long long maj = 0, min = 0, cap_maj = 0, cap_min = 0;
  if (!parse_version(server_api_version, maj, min)) return {};
  parse_version(kMaxApiVersion, cap_maj, cap_min);
  if (maj > cap_maj || (maj == cap_maj && min > cap_min)) return kMaxApiVersion;
  return server_api_version;
}

Result<json> parse_json(const std::string& body, const std::string& what) {
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    return fail("docker engine: bad JSON from " + what + ": " + e.what(), "Engine");
  }
}

}  // namespace k3dpp::runtime::docker
