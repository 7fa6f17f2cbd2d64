#include "cluster/config_file.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <set>

#include "common/files.h"
#include "common/strings.h"

namespace k3dpp::cluster {
namespace {

// Thrown inside the walker only; caught in parse_config_file.
struct ConfigError {
  std::string message;
};

class Walker {
 public:
  explicit Walker(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void error(const YAML::Node& at, const std::string& field, const std::string& msg) const {
    std::string where = path_;
    if (at.IsDefined() && at.Mark().line >= 0) where += ":" + std::to_string(at.Mark().line + 1);
    throw ConfigError{where + ": " + field + ": " + msg};
  }

  // The keys of a map node, each checked against `known` (unknown keys are errors).
  void check_keys(const YAML::Node& map, const std::string& field, const std::set<std::string>& known) const {
    if (!map.IsMap()) error(map, field.empty() ? "(document)" : field, "want a mapping");
    for (auto it = map.begin(); it != map.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      if (!known.count(key)) {
        error(it->first, join(field, key.empty() ? "?" : key),
              "unknown field (not in k3d's Simple config " + std::string(kConfigApiVersionK3d) + ")");
      }
    }
  }

  static std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

  // The key node of map[key], whose line is the one to report for a refused block value.
  static YAML::Node key_of(const YAML::Node& map, const std::string& key) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->first;
    }
    return map;
  }

  std::string str(const YAML::Node& n, const std::string& field) const {
    if (!n.IsScalar()) error(n, field, "want a string");
    return n.Scalar();
  }
  int integer(const YAML::Node& n, const std::string& field) const {
    long long v = 0;
    if (!n.IsScalar() || !strings::parse_int(n.Scalar(), v) || v < 0 || v > 1000000) {
      error(n, field, "want a non-negative integer (got '" + (n.IsScalar() ? n.Scalar() : std::string("?")) + "')");
    }
    return static_cast<int>(v);
  }
  int64_t int64(const YAML::Node& n, const std::string& field) const {
    long long v = 0;
    if (!n.IsScalar() || !strings::parse_int(n.Scalar(), v)) error(n, field, "want an integer");
    return v;
  }
  bool boolean(const YAML::Node& n, const std::string& field) const {
    bool b = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b)) error(n, field, "want true or false");
    return b;
  }
  // A string, or a number YAML typed as one (hostPort: 6445).
  std::string scalar(const YAML::Node& n, const std::string& field) const { return str(n, field); }
  std::vector<std::string> strings_list(const YAML::Node& n, const std::string& field) const {
    std::vector<std::string> out;
    if (n.IsNull()) return out;
    if (!n.IsSequence()) error(n, field, "want a list of strings");
    for (size_t i = 0; i < n.size(); ++i) out.push_back(str(n[i], field + "[" + std::to_string(i) + "]"));
    return out;
  }

  // [{KEY: value, nodeFilters: [..]}] -> "value@f1;f2".
  std::vector<std::string> filtered_list(const YAML::Node& n, const std::string& field, const std::string& key,
                                         const std::set<std::string>& other_keys = {}) const {
    std::vector<std::string> out;
    if (n.IsNull()) return out;
    if (!n.IsSequence()) error(n, field, "want a list");
    for (size_t i = 0; i < n.size(); ++i) {
      std::string f = field + "[" + std::to_string(i) + "]";
      const YAML::Node& item = n[i];
      std::set<std::string> keys = other_keys;
      keys.insert({key, "nodeFilters"});
      check_keys(item, f, keys);
      if (!item[key]) error(item, join(f, key), "missing");
      std::string value = str(item[key], join(f, key));
      if (value.empty()) error(item[key], join(f, key), "must not be empty");
      if (item["nodeFilters"]) {
        auto filters = strings_list(item["nodeFilters"], join(f, "nodeFilters"));
        if (!filters.empty()) value += "@" + strings::join(filters, ";");
      }
      out.push_back(value);
    }
    return out;
  }

 private:
  std::string path_;
};

void walk(const Walker& w, const YAML::Node& doc, ConfigFile& c) {
  w.check_keys(doc, "", {"apiVersion", "kind", "metadata", "servers", "agents", "kubeAPI", "image", "network", "subnet",
                         "token", "volumes", "ports", "env", "files", "registries", "hostAliases", "options"});
  if (!doc["apiVersion"]) w.error(doc, "apiVersion", "missing (want " + std::string(kConfigApiVersionK3d) + ")");
  std::string api = w.str(doc["apiVersion"], "apiVersion");
  if (api != kConfigApiVersionK3d && api != kConfigApiVersionK3dpp) {
    if (strings::starts_with(api, "k3d.io/")) {
      w.error(doc["apiVersion"], "apiVersion",
              "'" + api + "' is not supported by k3dpp: migrate the file to " + kConfigApiVersionK3d +
                  " (k3d config migrate)");
    }
    w.error(doc["apiVersion"], "apiVersion",
            "'" + api + "' is unknown (want " + kConfigApiVersionK3d + " or " + kConfigApiVersionK3dpp + ")");
  }
  if (!doc["kind"]) w.error(doc, "kind", "missing (want Simple)");
  std::string kind = w.str(doc["kind"], "kind");
  if (strings::to_lower(kind) != "simple") {
    w.error(doc["kind"], "kind", "'" + kind + "' is not supported by k3dpp: only kind Simple is");
  }
  if (auto m = doc["metadata"]) {
    w.check_keys(m, "metadata", {"name"});
    if (m["name"]) c.name = w.str(m["name"], "metadata.name");
  }
  if (doc["servers"]) c.servers = w.integer(doc["servers"], "servers");
  if (doc["agents"]) c.agents = w.integer(doc["agents"], "agents");
  if (auto k = doc["kubeAPI"]) {
    w.check_keys(k, "kubeAPI", {"host", "hostIP", "hostPort"});
    std::string ip = k["hostIP"] ? w.scalar(k["hostIP"], "kubeAPI.hostIP") : "";
    std::string port = k["hostPort"] ? w.scalar(k["hostPort"], "kubeAPI.hostPort") : "";
    if (!ip.empty() && port.empty()) w.error(k, "kubeAPI.hostPort", "missing (kubeAPI.hostIP needs a hostPort)");
    if (!port.empty()) c.api_port = ip.empty() ? port : ip + ":" + port;
    if (k["host"]) c.api_host = w.str(k["host"], "kubeAPI.host");
  }
  if (doc["image"]) c.image = w.str(doc["image"], "image");
  if (doc["network"]) c.network = w.str(doc["network"], "network");
  if (doc["subnet"]) c.subnet = w.str(doc["subnet"], "subnet");
  if (doc["token"]) c.token = w.str(doc["token"], "token");
  if (doc["volumes"]) c.volumes = w.filtered_list(doc["volumes"], "volumes", "volume");
  if (auto ports = doc["ports"]) {
    if (!ports.IsNull() && !ports.IsSequence()) w.error(ports, "ports", "want a list");
    for (size_t i = 0; i < ports.size() && ports.IsSequence(); ++i) {
      std::string f = "ports[" + std::to_string(i) + "]";
      w.check_keys(ports[i], f, {"port", "nodeFilters", "removal"});
      if (ports[i]["removal"] && w.boolean(ports[i]["removal"], f + ".removal")) {
        w.error(ports[i]["removal"], f + ".removal",
                "not supported by k3dpp: remove a port of a running cluster with k3dpp cluster edit --port-delete");
      }
    }
    c.ports = w.filtered_list(ports, "ports", "port", {"removal"});
  }
  if (doc["env"]) c.env = w.filtered_list(doc["env"], "env", "envVar");
  if (auto files = doc["files"]) {
    if (!(files.IsSequence() && files.size() == 0) && !files.IsNull()) {
      w.error(Walker::key_of(doc, "files"), "files",
              "not supported by k3dpp: nodes have no auto-deploy manifests directory; apply the manifests with kubectl "
              "after create, or mount host files with volumes");
    }
  }
  if (auto r = doc["registries"]) {
    w.check_keys(r, "registries", {"create", "use", "config"});
    if (auto cr = r["create"]) {
      w.check_keys(cr, "registries.create", {"name", "host", "hostPort", "image", "proxy", "volumes", "enforcePortMatch"});
      for (const char* no : {"image", "proxy", "volumes"}) {
        if (cr[no] && !cr[no].IsNull() && !(cr[no].IsSequence() && cr[no].size() == 0) &&
            !(cr[no].IsMap() && cr[no].size() == 0)) {
          w.error(Walker::key_of(cr, no), std::string("registries.create.") + no,
                  std::string("not supported by k3dpp: k3dpp registries run k3dpp's own registry image") +
                      (std::string(no) == "proxy" ? " and pull through docker.io already (a containerd mirror)"
                                                  : " without extra volumes"));
        }
      }
      if (cr["enforcePortMatch"] && w.boolean(cr["enforcePortMatch"], "registries.create.enforcePortMatch")) {
        w.error(cr["enforcePortMatch"], "registries.create.enforcePortMatch",
                "not supported by k3dpp: the registry listens on 5000 inside the network; choose the host port with "
                "hostPort");
      }
      if (!cr["name"]) w.error(cr, "registries.create.name", "missing");
      std::string v = w.str(cr["name"], "registries.create.name");
      std::string host = cr["host"] ? w.scalar(cr["host"], "registries.create.host") : "";
      std::string port = cr["hostPort"] ? w.scalar(cr["hostPort"], "registries.create.hostPort") : "";
      if (!host.empty() && port.empty()) w.error(cr, "registries.create.hostPort", "missing (host needs a hostPort)");
      if (!port.empty()) v += ":" + (host.empty() ? "" : host + ":") + port;
      c.registry_create = v;
    }
    if (r["use"]) c.registry_use = w.strings_list(r["use"], "registries.use");
    if (auto cfg = r["config"]) {
      if (!cfg.IsNull() && !(cfg.IsScalar() && cfg.Scalar().empty())) {
        w.error(Walker::key_of(r, "config"), "registries.config",
                "not supported by k3dpp: k3dpp writes the nodes' containerd mirror files itself; use registries.create "
                "or registries.use");
      }
    }
  }
  if (auto ha = doc["hostAliases"]) {
    if (!ha.IsNull() && !ha.IsSequence()) w.error(ha, "hostAliases", "want a list");
    for (size_t i = 0; ha.IsSequence() && i < ha.size(); ++i) {
      std::string f = "hostAliases[" + std::to_string(i) + "]";
      w.check_keys(ha[i], f, {"ip", "hostnames"});
      if (!ha[i]["ip"]) w.error(ha[i], f + ".ip", "missing");
      auto names = ha[i]["hostnames"] ? w.strings_list(ha[i]["hostnames"], f + ".hostnames") : std::vector<std::string>{};
      if (names.empty()) w.error(ha[i], f + ".hostnames", "want at least one host name");
      c.host_aliases.push_back(w.str(ha[i]["ip"], f + ".ip") + ":" + strings::join(names, ","));
    }
  }
  auto o = doc["options"];
  if (!o) return;
  w.check_keys(o, "options", {"k3d", "k3s", "kubeconfig", "runtime"});
  if (auto k = o["k3d"]) {
    w.check_keys(k, "options.k3d",
                 {"wait", "timeout", "disableLoadbalancer", "disableImageVolume", "disableRollback", "nodeHookActions",
                  "loadbalancer"});
    if (k["wait"]) c.wait = w.boolean(k["wait"], "options.k3d.wait");
    if (k["timeout"]) c.timeout = w.str(k["timeout"], "options.k3d.timeout");
    if (k["disableLoadbalancer"]) c.no_lb = w.boolean(k["disableLoadbalancer"], "options.k3d.disableLoadbalancer");
    if (k["disableRollback"]) c.no_rollback = w.boolean(k["disableRollback"], "options.k3d.disableRollback");
    if (k["disableImageVolume"]) {
      w.boolean(k["disableImageVolume"], "options.k3d.disableImageVolume");
      c.notes.push_back("options.k3d.disableImageVolume: k3dpp clusters have no image volume either way; "
                        "k3dpp image import streams images into every node");
    }
    if (auto h = k["nodeHookActions"]; h && !h.IsNull() && !(h.IsSequence() && h.size() == 0)) {
      w.error(Walker::key_of(k, "nodeHookActions"), "options.k3d.nodeHookActions", "not supported by k3dpp: k3d's internal node hooks have no k3dpp equivalent");
    }
    if (auto lb = k["loadbalancer"]) {
      w.check_keys(lb, "options.k3d.loadbalancer", {"configOverrides"});
      if (lb["configOverrides"])
        c.lb_config_overrides = w.strings_list(lb["configOverrides"], "options.k3d.loadbalancer.configOverrides");
    }
  }
  if (auto k = o["k3s"]) {
    w.check_keys(k, "options.k3s", {"extraArgs", "nodeLabels"});
    if (k["extraArgs"]) c.k3s_args = w.filtered_list(k["extraArgs"], "options.k3s.extraArgs", "arg");
    if (k["nodeLabels"]) c.node_labels = w.filtered_list(k["nodeLabels"], "options.k3s.nodeLabels", "label");
  }
  if (auto k = o["kubeconfig"]) {
    w.check_keys(k, "options.kubeconfig", {"updateDefaultKubeconfig", "switchCurrentContext"});
    if (k["updateDefaultKubeconfig"])
      c.update_default_kubeconfig = w.boolean(k["updateDefaultKubeconfig"], "options.kubeconfig.updateDefaultKubeconfig");
    if (k["switchCurrentContext"])
      c.switch_context = w.boolean(k["switchCurrentContext"], "options.kubeconfig.switchCurrentContext");
  }
  if (auto r = o["runtime"]) {
    w.check_keys(r, "options.runtime",
                 {"gpuRequest", "serversMemory", "agentsMemory", "hostPidMode", "labels", "ulimits"});
    if (auto g = r["gpuRequest"]; g && !(g.IsScalar() && g.Scalar().empty()) && !g.IsNull()) {
      w.error(g, "options.runtime.gpuRequest", "not supported by k3dpp: nodes get no GPUs");
    }
    if (r["hostPidMode"] && w.boolean(r["hostPidMode"], "options.runtime.hostPidMode")) {
      w.error(r["hostPidMode"], "options.runtime.hostPidMode",
              "not supported by k3dpp: nodes always run in their own PID namespace");
    }
    if (r["serversMemory"]) c.servers_memory = w.scalar(r["serversMemory"], "options.runtime.serversMemory");
    if (r["agentsMemory"]) c.agents_memory = w.scalar(r["agentsMemory"], "options.runtime.agentsMemory");
    if (r["labels"]) c.runtime_labels = w.filtered_list(r["labels"], "options.runtime.labels", "label");
    if (auto u = r["ulimits"]) {
      if (!u.IsNull() && !u.IsSequence()) w.error(u, "options.runtime.ulimits", "want a list");
      for (size_t i = 0; u.IsSequence() && i < u.size(); ++i) {
        std::string f = "options.runtime.ulimits[" + std::to_string(i) + "]";
        w.check_keys(u[i], f, {"name", "soft", "hard"});
        for (const char* need : {"name", "soft", "hard"}) {
          if (!u[i][need]) w.error(u[i], f + "." + need, "missing");
        }
        c.runtime_ulimits.push_back(w.str(u[i]["name"], f + ".name") + "=" +
                                    std::to_string(w.int64(u[i]["soft"], f + ".soft")) + ":" +
                                    std::to_string(w.int64(u[i]["hard"], f + ".hard")));
      }
    }
  }
}

}  // namespace

std::string expand_env(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  auto name_char = [](char c, bool first) {
    return c == '_' || std::isalpha(static_cast<unsigned char>(c)) || (!first && std::isdigit(static_cast<unsigned char>(c)));
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    size_t start = i + 1, end = start;
    bool braced = text[start] == '{';
    if (braced) {
      end = text.find('}', start + 1);
      if (end == std::string::npos) {
        out += text[i];
        continue;
      }
      std::string name = text.substr(start + 1, end - start - 1);
      const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
      out += v ? v : "";
      i = end;
      continue;
    }
    while (end < text.size() && name_char(text[end], end == start)) ++end;
    if (end == start) {
      out += text[i];
      continue;
    }
    const char* v = std::getenv(text.substr(start, end - start).c_str());
    out += v ? v : "";
    i = end - 1;
  }
  return out;
}

Result<ConfigFile> parse_config_file(const std::string& text, const std::string& path) {
  ConfigFile c;
  c.path = path;
  YAML::Node doc;
  try {
    doc = YAML::Load(expand_env(text));
  } catch (const YAML::Exception& e) {
    return fail(path + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg, "Invalid");
  }
  if (!doc || doc.IsNull()) return fail(path + ": empty config file", "Invalid");
  try {
    walk(Walker(path), doc, c);
  } catch (const ConfigError& e) {
    return fail(e.message, "Invalid");
  } catch (const YAML::Exception& e) {
    return fail(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg, "Invalid");
  }
  return c;
}

Result<ConfigFile> load_config_file(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    if (!files::exists(path)) return fail("config file " + path + " does not exist", "NotFound");
    auto t = files::read(path);
    if (!t) return t.error().wrap("reading config file " + path);
    text = *t;
  }
  if (text.size() > 4 * 1024 * 1024) return fail("config file " + path + " is larger than 4 MiB", "Invalid");
  return parse_config_file(text, path);
}

std::string default_config_file(const std::string& name, const std::string& node_image) {
  std::string out;
  out += "# k3dpp cluster config (k3d's Simple config; k3dpp cluster create -c FILE). Flags given on the\n";
  out += "# command line override these values; list values (ports, volumes, ...) are added to them.\n";
  out += "apiVersion: " + std::string(kConfigApiVersionK3d) + "  # or k3dpp.io/v1alpha1, the same shape\n";
  out += "kind: Simple\n";
  out += "metadata:\n";
  out += "  name: " + name + "  # containers are k3dpp-" + name + "-server-0, ...\n";
  out += "servers: 1  # --servers; 3 or more run embedded etcd\n";
  out += "agents: 0  # --agents\n";
  out += "image: " + node_image + "  # --image\n";
  out += "# kubeAPI:  # --api-port 127.0.0.1:6550\n";
  out += "#   hostIP: 127.0.0.1\n";
  out += "#   hostPort: \"6550\"\n";
  out += "# ports:  # -p 8080:80@loadbalancer\n";
  out += "#   - port: 8080:80\n";
  out += "#     nodeFilters: [loadbalancer]\n";
  out += "# volumes:  # -v /my/dir:/data@all\n";
  out += "#   - volume: /my/dir:/data\n";
  out += "#     nodeFilters: [all]\n";
  out += "# env:  # -e KEY=VALUE@server:0\n";
  out += "#   - envVar: KEY=VALUE\n";
  out += "#     nodeFilters: [server:0]\n";
  out += "# registries:\n";
  out += "#   create:  # --registry-create registry.localhost:5000\n";
  out += "#     name: registry.localhost\n";
  out += "#     hostPort: \"5000\"\n";
  out += "options:\n";
  out += "  k3d:\n";
  out += "    wait: true  # --wait\n";
  out += "    timeout: \"120s\"  # --timeout\n";
  out += "    disableLoadbalancer: false  # --no-lb\n";
  out += "    disableRollback: false  # --no-rollback\n";
  out += "  k3s:\n";
  out += "    extraArgs: []  # --k3s-arg ARG@FILTER; k3dpp maps --tls-san, --node-label, --node-taint, --disable\n";
  out += "    nodeLabels: []  # --node-label KEY=VALUE@FILTER (Kubernetes node labels)\n";
  out += "  kubeconfig:\n";
  out += "    updateDefaultKubeconfig: true  # --kubeconfig-update-default\n";
  out += "    switchCurrentContext: true  # --kubeconfig-switch-context\n";
  out += "  runtime:\n";
  out += "    # serversMemory: 2g  # --servers-memory\n";
  out += "    # agentsMemory: 2g  # --agents-memory\n";
  out += "    labels: []  # --runtime-label KEY=VALUE@FILTER (container labels)\n";
  out += "    ulimits: []  # --runtime-ulimit nofile=65535:65535\n";
  return out;
}

}  // namespace k3dpp::cluster
