#include "cluster/registry.h"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cluster/pipeline.h"
#include "cluster/types.h"
#include "common/log.h"
#include "common/strings.h"

namespace k3dpp::cluster {
namespace {

std::shared_ptr<spdlog::logger> lg() { return log::get("cluster"); }

Unexpected<Error> invalid(const std::string& msg) { return fail(msg, "Invalid"); }

constexpr const char* kPrefix = "k3dpp-";
constexpr size_t kMaxHostName = 63;

Result<uint16_t> port_number(const std::string& text, const std::string& s) {
  long long v = 0;
  if (!strings::parse_int(s, v)) return invalid("'" + text + "': port '" + s + "' is not a number");
  if (v < 1 || v > 65535) return invalid("'" + text + "': port " + s + " is out of range (1-65535)");
  return static_cast<uint16_t>(v);
}

bool is_ipv4(const std::string& s) {
  auto parts = strings::split(s, '.');
  if (parts.size() != 4) return false;
  for (const auto& p : parts) {
    long long v = 0;
    if (p.empty() || p.size() > 3 || !strings::parse_int(p, v) || v < 0 || v > 255) return false;
  }
  return true;
}

Result<std::string> host_ip(const std::string& text, const std::string& s) {
  if (s == "localhost") return std::string("127.0.0.1");
  if (!is_ipv4(s)) return invalid("'" + text + "': '" + s + "' is not an IPv4 address");
  return s;
}

std::string label(const runtime::Labels& l, const char* key) {
  auto it = l.find(key);
  return it == l.end() ? std::string() : it->second;
}

std::string own_host(const std::string& name) { return name + ":" + std::to_string(kRegistryPort); }

}  // namespace

std::string registry_container_name(const std::string& name) {
  return strings::starts_with(name, kPrefix) ? name : kPrefix + name;
}

std::string registry_volume_name(const std::string& container) { return registry_container_name(container) + "-data"; }

std::string default_registry_image() {
  const char* e = std::getenv("K3DPP_REGISTRY_IMAGE");
  return e && *e ? std::string(e) : std::string("k3dpp/registry:") + K3DPP_VERSION;
}

Status validate_registry_name(const std::string& name) {
  if (name.empty() || name == kPrefix) return invalid("registry name must not be empty");
  std::string full = registry_container_name(name);
  if (full.size() > kMaxHostName) {
    return invalid("registry name '" + name + "' is too long ('" + full + "' has " + std::to_string(full.size()) +
                   " > 63 characters)");
  }
  for (char c : full) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) {
      return invalid("registry name '" + name + "' is not valid: only lower-case letters, digits, '-' and '.' are allowed");
    }
  }
  char last = full.back();
  if (last == '-' || last == '.' || full.find("..") != std::string::npos) {
    return invalid("registry name '" + name + "' is not valid: it must end with a letter or digit");
  }
  return {};
}

namespace {
// NAME[:PORT], or with allow_host NAME[:[HOST:]PORT].
Result<RegistryRef> parse_registry_ref(const std::string& text, bool allow_host) {
  RegistryRef r;
  r.text = text;
  auto parts = strings::split(text, ':');
  if (text.empty() || parts.size() > (allow_host ? 3u : 2u)) {
    return invalid("invalid registry '" + text + "': expected " + (allow_host ? "NAME[:[HOST:]PORT]" : "NAME[:PORT]"));
  }
  K3DPP_TRY(validate_registry_name(parts[0]));
  r.name = registry_container_name(parts[0]);
  if (parts.size() == 3) {
    auto ip = host_ip(text, parts[1]);
    if (!ip) return ip.error();
    r.host_ip = *ip;
  }
  if (parts.size() >= 2) {
    auto p = port_number(text, parts.back());
    if (!p) return p.error();
    r.port = *p;
  }
  return r;
}
}  // namespace

Result<RegistryRef> parse_registry_create(const std::string& text) { return parse_registry_ref(text, true); }

Result<RegistryRef> parse_registry_use(const std::string& text) { return parse_registry_ref(text, false); }

Result<RegistryHostPort> parse_registry_port(const std::string& text) {
  RegistryHostPort hp;
  auto parts = strings::split(text, ':');
  if (text.empty() || parts.size() > 2) return invalid("invalid --port '" + text + "': expected [HOST:]PORT");
  if (parts.size() == 2) {
    auto ip = host_ip(text, parts[0]);
    if (!ip) return ip.error().wrap("invalid --port");
    hp.host_ip = *ip;
  }
  auto p = port_number(text, parts.back());
  if (!p) return p.error().wrap("invalid --port");
  hp.host_port = *p;
  return hp;
}

runtime::ContainerSpec registry_container(const RegistrySpec& spec) {
  runtime::ContainerSpec s;
  s.name = spec.name;
  s.hostname = spec.name;
  s.image = spec.image.empty() ? default_registry_image() : spec.image;
  s.network = spec.network;
  s.labels = {{kLabelRole, kRoleRegistry},
              {kLabelVersion, spec.version.empty() ? std::string(K3DPP_VERSION) : spec.version},
              {kLabelRegistryHostIp, spec.host.host_ip},
              {kLabelRegistryHostPort, std::to_string(spec.host.host_port)}};
  if (!spec.cluster.empty()) s.labels[kLabelRegistryCluster] = spec.cluster;
  s.binds = {registry_volume_name(spec.name) + ":" + kRegistryDataDir};
  s.ports = {{spec.host.host_ip, spec.host.host_port, kRegistryPort, "tcp"}};
  s.restart_policy = "unless-stopped";
  return s;
}

bool registry_from_container(const runtime::ContainerInfo& c, RegistryState& out) {
  if (label(c.labels, kLabelRole) != kRoleRegistry) return false;
  out = RegistryState{};
  out.name = c.name;
  out.state = c.state;
  out.running = c.running || c.state == "running";
  out.image = c.image;
  out.cluster = label(c.labels, kLabelRegistryCluster);
  out.host_ip = label(c.labels, kLabelRegistryHostIp);
  long long port = 0;
  if (strings::parse_int(label(c.labels, kLabelRegistryHostPort), port) && port > 0 && port <= 65535) {
    out.host_port = static_cast<uint16_t>(port);
  }
  for (const auto& p : c.ports) {  // what the engine bound wins over the label
    if (p.container_port == kRegistryPort && p.protocol == "tcp" && p.host_port != 0) {
      out.host_port = p.host_port;
      if (!p.host_ip.empty()) out.host_ip = p.host_ip;
      break;
    }
  }
  for (const auto& [net, _] : c.ips) out.networks.push_back(net);
  return true;
}

// ---- hosts.toml

std::string render_docker_hub_hosts_toml(const std::vector<std::string>& mirror_hosts) {
  std::string out =
      "# Written by k3dpp (docs/node-contract.md): docker.io images are pulled through the local\n"
      "# registries below, in order, then from Docker Hub.\n"
      "server = \"" + std::string(kDockerHubUpstream) + "\"\n";
  for (const auto& h : mirror_hosts) {
    out += "\n[host.\"http://" + h + "\"]\n  capabilities = [\"pull\", \"resolve\"]\n";
  }
  return out;
}

std::string render_registry_hosts_toml(const std::string& host) {
  // The [host] entry is what makes containerd 1.6 use plain http; `server` alone is tried over
  // https first.
  return "# Written by k3dpp (docs/node-contract.md): a local k3dpp registry, plain http.\n"
         "server = \"http://" + host + "\"\n\n"
         "[host.\"http://" + host + "\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n";
}

std::map<std::string, std::string> registry_host_files(const std::vector<RegistryState>& registries) {
  std::map<std::string, std::string> files;
  if (registries.empty()) return files;
  std::vector<RegistryState> regs = registries;
  std::sort(regs.begin(), regs.end(), [](const RegistryState& a, const RegistryState& b) { return a.name < b.name; });
  std::string dir = kContainerdCertsDir;
  std::vector<std::string> mirrors;
  for (const auto& r : regs) {
    std::string own = own_host(r.name);
    mirrors.push_back(own);
    files[dir + "/" + own + "/hosts.toml"] = render_registry_hosts_toml(own);
    // k3d users tag images NAME:HOSTPORT/...: that name reaches the same registry.
    if (r.host_port != 0 && r.host_port != kRegistryPort) {
      files[dir + "/" + r.name + ":" + std::to_string(r.host_port) + "/hosts.toml"] = render_registry_hosts_toml(own);
    }
  }
  files[dir + "/docker.io/hosts.toml"] = render_docker_hub_hosts_toml(mirrors);
  return files;
}

// ---- operations

Result<RegistryState> get_registry(runtime::Runtime& rt, const std::string& name) {
  std::string full = registry_container_name(name);
  auto ci = rt.inspect_container(full);
  if (!ci) {
    if (ci.error().is("NotFound")) return fail("registry '" + full + "' not found", "NotFound");
    return ci.error().wrap("inspecting registry '" + full + "'");
  }
  RegistryState st;
  if (!registry_from_container(*ci, st)) return fail("container '" + full + "' is not a k3dpp registry", "Invalid");
  return st;
}

Result<std::vector<RegistryState>> list_registries(runtime::Runtime& rt) {
  auto cs = rt.list_containers({{kLabelRole, kRoleRegistry}}, true);
  if (!cs) return cs.error().wrap("listing registries");
  std::vector<RegistryState> out;
  for (const auto& c : *cs) {
    RegistryState st;
    if (registry_from_container(c, st)) out.push_back(st);
  }
  std::sort(out.begin(), out.end(), [](const RegistryState& a, const RegistryState& b) { return a.name < b.name; });
  return out;
}

Result<std::vector<RegistryState>> network_registries(runtime::Runtime& rt, const std::string& network) {
  auto all = list_registries(rt);
  if (!all) return all.error();
  std::vector<RegistryState> out;
  for (const auto& r : *all) {
    if (std::find(r.networks.begin(), r.networks.end(), network) != r.networks.end()) out.push_back(r);
  }
  return out;
}

Status put_registry_files(runtime::Runtime& rt, const std::string& node, const std::vector<RegistryState>& registries) {
  for (const auto& [path, content] : registry_host_files(registries)) {
    auto st = rt.put_file(node, path, content, 0644);
    if (!st) return st.error().wrap("putting " + path + " into '" + node + "'");
  }
  return {};
}

Result<RegistryState> create_registry(runtime::Runtime& rt, const RegistrySpec& in, const HostProbes& probes) {
  auto log = lg();
  RegistrySpec spec = in;
  K3DPP_TRY(validate_registry_name(spec.name));
  spec.name = registry_container_name(spec.name);
  if (spec.image.empty()) spec.image = default_registry_image();
  if (spec.version.empty()) spec.version = K3DPP_VERSION;
  {
    auto info = rt.info();
    if (!info) return info.error().wrap("cannot reach the container engine");
  }
  if (auto ci = rt.inspect_container(spec.name); ci) {
    return fail("registry '" + spec.name + "' already exists", "Conflict");
  } else if (!ci.error().is("NotFound")) {
    return ci.error().wrap("inspecting '" + spec.name + "'");
  }
  if (auto img = rt.inspect_image(spec.image); !img) {
    if (img.error().is("NotFound")) {
      return fail("image " + spec.image + " not found; build it with images/build.sh --only registry", "NotFound");
    }
    return img.error().wrap("inspecting image " + spec.image);
  }
  if (!spec.network.empty()) {
    auto net = rt.inspect_network(spec.network);
    if (!net) return net.error().wrap("network '" + spec.network + "'");
  }
  // A fixed host port (picked now when none was asked for), so the port stays the same across
  // restarts and the NAME:HOSTPORT hosts.toml in the nodes stays right.
  if (spec.host.host_port == 0) {
    auto p = probes.pick_free_port(spec.host.host_ip);
    if (!p) return p.error().wrap("choosing the registry's host port");
    spec.host.host_port = *p;
  } else {
    auto free = probes.port_free(spec.host.host_ip, spec.host.host_port, "tcp");
    if (!free) return free.error().wrap("registry port");
  }

  Rollback rb(rt);
  auto run = [&]() -> Result<RegistryState> {
    std::string vol = registry_volume_name(spec.name);
    auto v = rt.create_volume(vol, {{"k3dpp.registry", spec.name}, {kLabelVersion, spec.version}});
    if (!v) return v.error().wrap("creating volume '" + vol + "'");
    rb.volume(vol);
    log->info("Creating node '{}'", spec.name);
    auto c = rt.create_container(registry_container(spec));
    if (!c) return c.error().wrap("creating registry '" + spec.name + "'");
    rb.container(spec.name);
    log->info("Successfully created registry '{}'", spec.name);
    log->info("Starting node '{}'", spec.name);
    auto s = rt.start_container(spec.name);
    if (!s) return s.error().wrap("starting registry '" + spec.name + "'");
    return get_registry(rt, spec.name);
  };
  auto r = run();
  if (!r) {
    log->error("Failed to create registry >>> Rolling Back");
    rb.undo();
    return r.error().wrap("creating registry '" + spec.name + "'");
  }
  return r;
}

Status delete_registry(runtime::Runtime& rt, const std::string& name) {
  auto log = lg();
  auto reg = get_registry(rt, name);
  if (!reg) return reg.error();
  log->info("Deleting registry '{}'", reg->name);
  auto r = rt.remove_container(reg->name, true);
  if (!r && !r.error().is("NotFound")) return r.error().wrap("deleting registry '" + reg->name + "'");
  auto v = rt.remove_volume(registry_volume_name(reg->name), true);
  if (!v && !v.error().is("NotFound")) return v.error().wrap("deleting the volume of registry '" + reg->name + "'");
  log->info("Successfully deleted registry '{}'", reg->name);
  return {};
}

// ---- registries of a cluster

Result<ClusterRegistries> plan_cluster_registries(runtime::Runtime& rt, const std::string& cluster,
                                                  const std::string& network, const std::optional<RegistryRef>& create,
                                                  const std::vector<RegistryRef>& use, const HostProbes& probes) {
  ClusterRegistries plan;
  plan.cluster = cluster;
  plan.network = network;
  for (const auto& ref : use) {
    auto reg = get_registry(rt, ref.name);
    if (!reg) return reg.error().wrap("--registry-use " + ref.text);
    if (ref.port != 0 && ref.port != reg->host_port && ref.port != kRegistryPort) {
      return fail("--registry-use " + ref.text + ": registry '" + reg->name + "' listens on " + reg->host_ip + ":" +
                      std::to_string(reg->host_port) + " (host) and " + std::to_string(kRegistryPort) + " (cluster network)",
                  "Invalid");
    }
    if (create && create->name == reg->name) {
      return fail("registry '" + reg->name + "' is both created and used", "Invalid");
    }
    bool dup = std::any_of(plan.use.begin(), plan.use.end(), [&](const RegistryState& r) { return r.name == reg->name; });
    if (!dup) plan.use.push_back(*reg);
  }
  if (create) {
    RegistrySpec spec;
    spec.name = create->name;
    spec.image = default_registry_image();
    spec.host = {create->host_ip, create->port};
    spec.network = network;
    spec.cluster = cluster;
    spec.version = K3DPP_VERSION;
    if (auto ci = rt.inspect_container(spec.name); ci) {
      return fail("--registry-create " + create->text + ": registry '" + spec.name + "' already exists (use --registry-use)",
                  "Conflict");
    }
    if (auto img = rt.inspect_image(spec.image); !img) {
      if (img.error().is("NotFound")) {
        return fail("image " + spec.image + " not found; build it with images/build.sh --only registry", "NotFound");
      }
      return img.error().wrap("inspecting image " + spec.image);
    }
    if (spec.host.host_port == 0) {
      auto p = probes.pick_free_port(spec.host.host_ip);
      if (!p) return p.error().wrap("choosing the registry's host port");
      spec.host.host_port = *p;
    } else {
      auto free = probes.port_free(spec.host.host_ip, spec.host.host_port, "tcp");
      if (!free) return free.error().wrap("--registry-create " + create->text);
    }
    plan.create = spec;
  }
  return plan;
}

Status attach_cluster_registries(runtime::Runtime& rt, ClusterRegistries& plan, Rollback& rb, const HostProbes& probes) {
  auto log = lg();
  plan.attached.clear();
  if (plan.create) {
    // create_registry checks again and removes what it made if it fails; the cluster's rollback
    // removes the whole registry once it exists.
    auto reg = create_registry(rt, *plan.create, probes);
    if (!reg) return reg.error();
    rb.container(reg->name);
    rb.volume(registry_volume_name(reg->name));
    plan.attached.push_back(*reg);
  }
  for (const auto& r : plan.use) {
    if (std::find(r.networks.begin(), r.networks.end(), plan.network) != r.networks.end()) {
      log->info("Registry '{}' is already on network '{}'", r.name, plan.network);
    } else {
      log->info("Connecting registry '{}' to network '{}'", r.name, plan.network);
      // Undo recorded first: a connect that failed half-way must not keep the network alive.
      std::string net = plan.network, name = r.name;
      rb.action("disconnect registry " + name, [&rt, net, name] { (void)rt.disconnect_network(net, name); });
      auto st = rt.connect_network(plan.network, r.name);
      if (!st) return st.error().wrap("connecting registry '" + r.name + "'");
    }
    plan.attached.push_back(r);
  }
  return {};
}

Status detach_cluster_registries(runtime::Runtime& rt, const std::string& cluster, const std::string& network,
                                 bool network_owned) {
  auto log = lg();
  auto all = list_registries(rt);
  if (!all) return all.error();
  Status first;
  for (const auto& r : *all) {
    bool on_net = std::find(r.networks.begin(), r.networks.end(), network) != r.networks.end();
    if (r.cluster == cluster) {
      auto st = delete_registry(rt, r.name);
      if (!st && first) first = st;
    } else if (on_net && network_owned) {
      log->info("Disconnecting registry '{}' from network '{}'", r.name, network);
      auto st = rt.disconnect_network(network, r.name);
      if (!st && !st.error().is("NotFound") && first) first = st.error().wrap("disconnecting registry '" + r.name + "'");
    }
  }
  return first;
}

std::string registry_usage_hint(const RegistryState& reg) {
  std::string port = std::to_string(reg.host_port);
  std::string local = "127.0.0.1:" + port;  // docker trusts plain http to 127.0.0.0/8
  std::string out;
  out += "# You can now use the registry like this (example):\n";
  out += "# 1. create a new cluster that uses this registry\n";
  out += "k3dpp cluster create --registry-use " + reg.name + ":" + port + "\n\n";
  out += "# 2. tag an existing local image to be pushed to the registry\n";
  out += "docker tag nginx:latest " + local + "/mynginx:v0.1\n\n";
  out += "# 3. push that image to the registry\n";
  out += "docker push " + local + "/mynginx:v0.1\n\n";
  out += "# 4. run a pod that uses this image\n";
  out += "kubectl run mynginx --image " + reg.name + ":" + port + "/mynginx:v0.1\n\n";
  out += "# Images pushed as " + local + "/library/NAME:TAG are what the nodes pull for NAME:TAG (docker.io mirror).\n";
  return out;
}

}  // namespace k3dpp::cluster
