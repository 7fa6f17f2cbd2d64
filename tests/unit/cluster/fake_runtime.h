// In-memory Runtime for cluster-layer tests: records calls, keeps containers/volumes/networks/files,
// and fails on demand ("method" or "method:name", optionally on the Nth match).
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/runtime.h"

namespace k3dpp::testing {

class FakeRuntime : public runtime::Runtime {
 public:
  struct Container {
    runtime::ContainerSpec spec;
    std::string state = "created";
    std::map<std::string, std::string> files;
    std::map<std::string, int> modes;
    std::set<std::string> networks;  // connected with connect_network (besides spec.network)
  };

  // Failure injection: fail the call whose key ("create_container:k3dpp-x-agent-0" or just
  // "create_container") equals fail_on.
  std::string fail_on;
  bool engine_down = false;
  std::string engine = "docker";  // what info() reports
  std::set<std::string> images{"k3dpp/node:" K3DPP_VERSION, "k3dpp/lb:" K3DPP_VERSION};
  // When a server container starts, it writes this admin kubeconfig (like k3dpp-node would).
  std::string admin_kubeconfig;
  int lb_reload_exit = 0;

  std::map<std::string, Container> containers;
  std::map<std::string, runtime::Labels> networks;
  std::map<std::string, std::string> subnets;  // network -> subnet given to create_network
  std::map<std::string, runtime::Labels> volumes;
  std::vector<std::string> calls;

  bool should_fail(const std::string& method, const std::string& arg = {}) {
    calls.push_back(arg.empty() ? method : method + ":" + arg);
    return !fail_on.empty() && (fail_on == method || fail_on == method + ":" + arg);
  }
  static Unexpected<Error> injected(const std::string& what) { return fail("injected failure: " + what); }

  Result<runtime::EngineInfo> info() override {
    if (engine_down || should_fail("info")) return fail("cannot connect to /var/run/docker.sock: No such file", "Unavailable");
    runtime::EngineInfo i;
    i.engine = engine;
    i.version = "20.10.24";
    i.api_version = "1.41";
    return i;
  }

  Result<runtime::NetworkInfo> create_network(const std::string& name, const runtime::Labels& labels,
                                              const std::string& subnet = "") override {
    if (should_fail("create_network", name)) return injected("create_network");
    if (networks.count(name)) return fail("network " + name + " exists", "Conflict");
    networks[name] = labels;
    subnets[name] = subnet.empty() ? "172.19.0.0/16" : subnet;
    return runtime::NetworkInfo{"id-" + name, name, labels, subnets[name], "172.19.0.1"};
  }
  Result<runtime::NetworkInfo> inspect_network(const std::string& name) override {
    calls.push_back("inspect_network:" + name);
    auto it = networks.find(name);
    if (it == networks.end()) return fail("network " + name + " not found", "NotFound");
    return runtime::NetworkInfo{"id-" + name, name, it->second, "172.19.0.0/16", "172.19.0.1"};
  }
  Result<std::vector<runtime::NetworkInfo>> list_networks(const runtime::Labels& f) override {
    std::vector<runtime::NetworkInfo> out;
    for (const auto& [n, l] : networks) {
      if (match(l, f)) out.push_back({"id-" + n, n, l, "", ""});
    }
    return out;
  }
  Status remove_network(const std::string& name) override {
    if (should_fail("remove_network", name)) return injected("remove_network");
    for (const auto& [cn, c] : containers) {  // like docker: "network has active endpoints"
      if (c.spec.network == name || c.networks.count(name)) return fail("network " + name + " has active endpoints", "Conflict");
    }
    if (!networks.erase(name)) return fail("network " + name + " not found", "NotFound");
    return {};
  }

  Result<runtime::VolumeInfo> create_volume(const std::string& name, const runtime::Labels& labels) override {
    if (should_fail("create_volume", name)) return injected("create_volume");
    volumes[name] = labels;
    return runtime::VolumeInfo{name, labels, "/var/lib/docker/volumes/" + name};
  }
  Result<std::vector<runtime::VolumeInfo>> list_volumes(const runtime::Labels& f) override {
    std::vector<runtime::VolumeInfo> out;
    for (const auto& [n, l] : volumes) {
      if (match(l, f)) out.push_back({n, l, ""});
    }
    return out;
  }
  Status remove_volume(const std::string& name, bool) override {
    if (should_fail("remove_volume", name)) return injected("remove_volume");
    if (!volumes.erase(name)) return fail("volume " + name + " not found", "NotFound");
    return {};
  }

  Result<std::string> create_container(const runtime::ContainerSpec& spec) override {
    if (should_fail("create_container", spec.name)) return injected("create_container");
    if (containers.count(spec.name)) return fail("container " + spec.name + " exists", "Conflict");
    containers[spec.name].spec = spec;
    return "id-" + spec.name;
  }
  Status start_container(const std::string& name) override {
    if (should_fail("start_container", name)) return injected("start_container");
    auto it = containers.find(name);
    if (it == containers.end()) return fail("no such container " + name, "NotFound");
    it->second.state = "running";
    auto role = it->second.spec.labels.find("k3dpp.role");
    if (role != it->second.spec.labels.end() && role->second == "server" && !admin_kubeconfig.empty()) {
      it->second.files["/var/lib/k3dpp/server/admin.kubeconfig"] = admin_kubeconfig;
    }
    return {};
  }
  Status stop_container(const std::string& name, int) override {
    if (should_fail("stop_container", name)) return injected("stop_container");
    auto it = containers.find(name);
    if (it == containers.end()) return fail("no such container " + name, "NotFound");
    it->second.state = "exited";
    return {};
  }
  Status remove_container(const std::string& name, bool) override {
    if (should_fail("remove_container", name)) return injected("remove_container");
    if (!containers.erase(name)) return fail("no such container " + name, "NotFound");
    return {};
  }
  Result<runtime::ContainerInfo> inspect_container(const std::string& name) override {
    auto it = containers.find(name);
    if (it == containers.end()) return fail("no such container " + name, "NotFound");
    return to_info(it->second);
  }
  Result<std::vector<runtime::ContainerInfo>> list_containers(const runtime::Labels& f, bool all) override {
    std::vector<runtime::ContainerInfo> out;
    for (const auto& [n, c] : containers) {
      if (!all && c.state != "running") continue;
      if (match(c.spec.labels, f)) out.push_back(to_info(c));
    }
    return out;
  }
  Status connect_network(const std::string& network, const std::string& container) override {
    if (should_fail("connect_network", container)) return injected("connect_network");
    auto it = containers.find(container);
    if (it == containers.end()) return fail("no such container " + container, "NotFound");
    if (!networks.count(network)) return fail("network " + network + " not found", "NotFound");
    it->second.networks.insert(network);
    return {};
  }
  Status disconnect_network(const std::string& network, const std::string& container) override {
    if (should_fail("disconnect_network", container)) return injected("disconnect_network");
    auto it = containers.find(container);
    if (it == containers.end()) return fail("no such container " + container, "NotFound");
    if (!it->second.networks.erase(network)) return fail(container + " is not connected to " + network, "NotFound");
    return {};
  }

  Result<runtime::ExecResult> exec(const std::string& container, const std::vector<std::string>& cmd,
                                   const std::string& = {}) override {
    std::string joined;
    for (const auto& c : cmd) joined += (joined.empty() ? "" : " ") + c;
    if (should_fail("exec", container)) return injected("exec");
    calls.push_back("exec-cmd:" + container + ":" + joined);
    runtime::ExecResult r;
    r.exit_code = lb_reload_exit;
    if (r.exit_code) r.err = "nginx: [emerg] bad config";
    return r;
  }
  Status put_file(const std::string& container, const std::string& path, const std::string& content, int mode) override {
    if (should_fail("put_file", container)) return injected("put_file");
    auto it = containers.find(container);
    if (it == containers.end()) return fail("no such container " + container, "NotFound");
    it->second.files[path] = content;
    it->second.modes[path] = mode;
    return {};
  }
  Result<std::string> read_file(const std::string& container, const std::string& path) override {
    if (should_fail("read_file", container)) return injected("read_file");
    auto it = containers.find(container);
    if (it == containers.end()) return fail("no such container " + container, "NotFound");
    auto f = it->second.files.find(path);
    if (f == it->second.files.end()) return fail("Could not find the file " + path, "NotFound");
    return f->second;
  }
  Status put_archive(const std::string&, const std::string&, const std::string&) override { return {}; }
  Result<std::string> get_archive(const std::string&, const std::string&) override { return std::string(); }
  Result<runtime::ImageInfo> inspect_image(const std::string& ref) override {
    calls.push_back("inspect_image:" + ref);
    if (!images.count(ref)) return fail("No such image: " + ref, "NotFound");
    return runtime::ImageInfo{"sha256:1", {ref}, 1};
  }
  Status save_images(const std::vector<std::string>&, const std::function<bool(const char*, size_t)>&) override {
    return {};
  }
  Status load_image_file(const std::string&) override { return {}; }
  Result<std::string> logs(const std::string&, int) override { return std::string("log line\n"); }

  // Names of every object left (containers, volumes, networks), for leak checks.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> out;
    for (const auto& [n, _] : containers) out.push_back("container " + n);
    for (const auto& [n, _] : volumes) out.push_back("volume " + n);
    for (const auto& [n, _] : networks) out.push_back("network " + n);
    return out;
  }

 private:
  static bool match(const runtime::Labels& have, const runtime::Labels& want) {
    for (const auto& [k, v] : want) {
      auto it = have.find(k);
      if (it == have.end() || (!v.empty() && it->second != v)) return false;
    }
    return true;
  }
  static runtime::ContainerInfo to_info(const Container& c) {
    runtime::ContainerInfo i;
    i.id = "id-" + c.spec.name;
    i.name = c.spec.name;
    i.image = c.spec.image;
    i.labels = c.spec.labels;
    i.state = c.state;
    i.running = c.state == "running";
    i.ports = c.spec.ports;
    i.memory = c.spec.memory;
    i.env = c.spec.env;
    i.extra_hosts = c.spec.extra_hosts;
    if (!c.spec.network.empty()) i.ips[c.spec.network] = "172.19.0.2";
    for (const auto& n : c.networks) i.ips[n] = "172.19.0.3";
    return i;
  }
};

}  // namespace k3dpp::testing
