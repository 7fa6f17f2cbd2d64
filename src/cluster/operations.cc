#include "cluster/operations.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <set>

#include "cluster/kubeconfig.h"
#include "cluster/parse.h"
#include "cluster/pipeline.h"
#include "cluster/translate.h"
#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"

namespace k3dpp::cluster {
namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<spdlog::logger> lg() { return log::get("cluster"); }

Status check_image(runtime::Runtime& rt, const std::string& image) {
  auto r = rt.inspect_image(image);
  if (r) return {};
  if (r.error().is("NotFound")) {
    if (image == default_node_image() || image == default_lb_image()) {
      return fail("image " + image + " not found; build it with images/build.sh", "NotFound");
    }
    return fail("image " + image + " not found", "NotFound");
  }
  return r.error().wrap("inspecting image " + image);
}

Status check_engine(runtime::Runtime& rt) {
  auto info = rt.info();
  if (!info) return info.error().wrap("cannot reach the container engine");
  lg()->debug("engine {} {} (API {})", info->engine, info->version, info->api_version);
  return {};
}

// The pod network backend: the one asked for, else by engine. host-gw routes between podman nodes
// are dropped by a host FORWARD policy DROP (docker's), VXLAN is not (node-container-recipe.md §5).
Result<std::string> choose_pod_network(runtime::Runtime& rt, const std::string& wanted) {
  if (wanted == "host-gw" || wanted == "vxlan") return wanted;
  if (!wanted.empty()) return fail("unknown pod network \"" + wanted + "\" (want host-gw or vxlan)", "Invalid");
  auto info = rt.info();
  return std::string(info && info->engine == "podman" ? "vxlan" : "host-gw");
}

// Waits until a server wrote its admin.kubeconfig; fails early when the server exited.
Result<std::string> wait_admin_kubeconfig(runtime::Runtime& rt, const std::string& server, Clock::time_point deadline,
                                          const HostProbes& probes) {
  std::string last;
  while (true) {
    auto r = rt.read_file(server, kAdminKubeconfigPath);
    if (r && !r->empty()) return *r;
    K3DPP_TRY(check_cancelled());
    last = r ? "empty file" : r.error().message;
    auto ci = rt.inspect_container(server);
    // Exited, or crash-looping under the restart policy: fail now with its last log lines.
    bool crashed = ci && ((!ci->running && ci->state != "created" && ci->state != "restarting") ||
                          (ci->state == "restarting" && ci->exit_code != 0));
    if (crashed) {
      auto logs = rt.logs(server, 20);
      if (logs) lg()->error("last log lines of '{}':\n{}", server, *logs);
      return fail("node '" + server + "' stopped (" + ci->state + ", exit code " + std::to_string(ci->exit_code) +
                      ") before it was ready",
                  "Unavailable");
    }
    if (probes.now() >= deadline) {
      return fail("node '" + server + "' did not write " + std::string(kAdminKubeconfigPath) + " in time (last: " + last + ")",
                  "Timeout");
    }
    probes.sleep(std::chrono::milliseconds(500));
  }
}

std::string norm_ip(const std::string& ip) { return ip.empty() ? "0.0.0.0" : ip; }

struct HostPortUse {
  std::string ip;
  uint16_t port;
  std::string proto;
  std::string what;
};

Status check_host_port_clashes(const std::vector<HostPortUse>& uses) {
  for (size_t i = 0; i < uses.size(); ++i) {
    for (size_t j = i + 1; j < uses.size(); ++j) {
      const auto& a = uses[i];
      const auto& b = uses[j];
      if (a.port != b.port || a.proto != b.proto) continue;
      if (norm_ip(a.ip) == norm_ip(b.ip) || norm_ip(a.ip) == "0.0.0.0" || norm_ip(b.ip) == "0.0.0.0") {
        return fail("host port " + std::to_string(a.port) + "/" + a.proto + " is used twice (" + a.what + " and " +
                        b.what + ")",
                    "Invalid");
      }
    }
  }
  return {};
}

std::string version_of(const NodeState& n) {
  auto v = n.labels.find(kLabelVersion);
  return v != n.labels.end() ? v->second : std::string(K3DPP_VERSION);
}

}  // namespace

// ---------------------------------------------------------------- create

Result<CreateResult> create_cluster(runtime::Runtime& rt, const CreateOptions& opts, const HostProbes& probes) {
  auto log = lg();
  ClusterSpec spec = opts.spec;
  if (spec.node_image.empty()) spec.node_image = default_node_image();
  if (spec.lb_image.empty()) spec.lb_image = default_lb_image();
  if (spec.version.empty()) spec.version = K3DPP_VERSION;
  if (spec.network.empty()) {
    spec.network = network_name(spec.name);
    spec.own_network = true;
  }

  // ---- preflight: nothing is created before all of this passed.
  K3DPP_TRY(validate_cluster_name(spec.name));
  if (spec.servers < 1) return fail("a cluster needs at least 1 server (got " + std::to_string(spec.servers) + ")", "Invalid");
  if (spec.agents < 0) return fail("the number of agents cannot be negative", "Invalid");
  if (spec.servers > 99 || spec.agents > 99) return fail("at most 99 servers and 99 agents", "Invalid");
  K3DPP_TRY(check_engine(rt));
  {
    auto pn = choose_pod_network(rt, spec.pod_network);
    if (!pn) return pn.error().wrap("--pod-network");
    spec.pod_network = *pn;
  }
  {
    auto existing = rt.list_containers({{kLabelCluster, spec.name}}, true);
    if (!existing) return existing.error().wrap("listing containers");
    if (!existing->empty()) return fail("cluster '" + spec.name + "' already exists", "Conflict");
    if (spec.own_network) {
      auto net = rt.inspect_network(spec.network);
      if (net) {
        return fail("network '" + spec.network + "' already exists (left over? remove it with: k3dpp cluster delete " +
                        spec.name + ")",
                    "Conflict");
      }
    } else {
      // --network: join it when it exists, else create it for this cluster (as k3d does; it is
      // then deleted with the cluster).
      auto net = rt.inspect_network(spec.network);
      if (!net && net.error().is("NotFound")) {
        spec.own_network = true;
      } else if (!net) {
        return net.error().wrap("network '" + spec.network + "'");
      } else if (!spec.subnet.empty()) {
        return fail("--subnet " + spec.subnet + ": network '" + spec.network + "' exists already (subnet " +
                        net->subnet + "); --subnet applies to a network the cluster creates",
                    "Invalid");
      }
    }
  }
  K3DPP_TRY(check_image(rt, spec.node_image));
  if (spec.with_lb) K3DPP_TRY(check_image(rt, spec.lb_image));
  auto registries = plan_cluster_registries(rt, spec.name, spec.network, opts.registry_create, opts.registry_use, probes);
  if (!registries) return registries.error();
  if (opts.kubeconfig.update_default) {
    // A kubeconfig we could not merge into would fail the very last step: find out now.
    std::string path = opts.kubeconfig.path.empty() ? default_kubeconfig_path() : opts.kubeconfig.path;
    if (files::exists(path)) {
      auto text = files::read(path);
      if (!text) return text.error();
      auto probe = remove_cluster_from_kubeconfig(*text, spec.name);
      if (!probe) return probe.error().wrap(path);
    }
  }

  std::vector<NodeSpec> nodes = planned_nodes(spec);
  std::vector<FilterNode> fnodes;
  for (const auto& n : nodes) fnodes.push_back({n.role, n.index, n.name});
  if (spec.with_lb) fnodes.push_back({Role::kLoadBalancer, 0, lb_name(spec.name)});

  std::vector<ResolvedPort> ports;
  for (const auto& pm : spec.ports) {
    auto rp = resolve_port(pm, fnodes, spec.with_lb);
    if (!rp) return rp.error();
    ports.push_back(*rp);
  }
  K3DPP_TRY(check_lb_port_conflicts(ports));

  std::map<std::string, std::vector<std::string>> binds;  // node -> extra binds
  std::vector<std::string> node_volumes;  // -v DEST: one volume per node, created and deleted with the cluster
  for (size_t vi = 0; vi < spec.volumes.size(); ++vi) {
    const auto& vm = spec.volumes[vi];
    std::string source = vm.host_path;
    if (!source.empty() && source.find('/') != std::string::npos && source[0] != '/') {
      std::error_code ec;
      source = std::filesystem::absolute(source, ec).lexically_normal().string();
      if (ec) return fail("volume '" + vm.text + "': " + ec.message(), "Invalid");
    }
    std::set<std::string> done;
    for (const auto& f : vm.filters) {
      auto names = resolve_filter(f, fnodes);
      if (!names) return names.error().wrap("volume '" + vm.text + "'");
      for (const auto& n : *names) {
        if (n == lb_name(spec.name)) {
          if (f.group == "loadbalancer") return fail("volume '" + vm.text + "': cannot mount into the load balancer", "Invalid");
          continue;
        }
        if (!done.insert(n).second) continue;
        std::string src = source;
        if (src.empty()) {
          src = containerd_volume_name(spec.name, n);
          src = src.substr(0, src.size() - std::string("-containerd").size()) + "-vol" + std::to_string(vi);
          node_volumes.push_back(src);
        }
        binds[n].push_back(src + ":" + vm.node_path + (vm.mode.empty() ? "" : ":" + vm.mode));
      }
    }
  }
  auto extras = node_extras(spec, fnodes);
  if (!extras) return extras.error();
  for (const auto& [node, e] : *extras) {
    for (const auto& w : e.warnings) log->warn("{}", w);
  }
  if (!spec.api.host.empty()) {
    // The kubeconfig names the API by kubeAPI.host: the servers' certificate must carry it.
    for (const auto& n : nodes) {
      if (n.role == Role::kServer) extras->at(n.name).node_args.push_back("--tls-san=" + spec.api.host);
    }
  }

  // Host ports: the API port, then every fixed host port; all must be free before we start.
  if (spec.api.host_port == 0) {
    auto p = probes.pick_free_port(spec.api.host_ip);
    if (!p) return p.error().wrap("choosing the API port");
    spec.api.host_port = *p;
  }
  std::vector<HostPortUse> uses{{spec.api.host_ip, spec.api.host_port, "tcp", "--api-port"}};
  for (const auto& p : ports) {
    if (p.host_port == 0) continue;
    uses.push_back({p.host_ip, p.host_port, p.protocol, "-p " + p.text});
  }
  K3DPP_TRY(check_host_port_clashes(uses));
  for (const auto& u : uses) {
    auto st = probes.port_free(u.ip, u.port, u.proto);
    if (!st) return st.error().wrap(u.what);
  }
  if (spec.token.empty()) spec.token = strings::random_hex(32);
  if (spec.servers > 1) spec.server_token = strings::random_hex(32);

  // ---- pipeline
  Rollback rb(rt);
  CreateResult result;
  result.api_port = spec.api.host_port;
  NodeContext ctx{spec.name, spec.network, spec.node_image, spec.version, spec.pod_network};
  HaContext ha;
  if (spec.servers > 1) {
    // HA (k3s's embedded etcd): server-0 --cluster-init, the others join it; agents reach the API
    // through the load balancer so they keep working while any one server is down.
    ha.ha = true;
    if (spec.with_lb) ha.agent_server_url = "https://" + lb_name(spec.name) + ":6443";
  }
  runtime::Labels base_labels{{kLabelCluster, spec.name}, {kLabelVersion, spec.version}};
  Clock::time_point deadline{};
  std::string server0 = nodes.front().name;
  std::string kubeconfig;
  std::vector<std::string> node_names;
  for (const auto& n : nodes) node_names.push_back(n.name);

  std::vector<Step> steps;
  steps.push_back({"Prep: Network",
                   [&]() -> Status {
                     if (!spec.own_network) {
                       log->info("Using existing network '{}'", spec.network);
                       return {};
                     }
                     auto r = rt.create_network(spec.network, base_labels, spec.subnet);
                     if (!r) return r.error().wrap("creating network '" + spec.network + "'");
                     rb.network(spec.network);
                     log->info("Created network '{}'{}", spec.network,
                               spec.subnet.empty() ? std::string() : " with subnet " + r->subnet);
                     return {};
                   },
                   "network"});
  if (registries->create || !registries->use.empty()) {
    steps.push_back({"Prep: Registries", [&]() { return attach_cluster_registries(rt, *registries, rb, probes); },
                     "registries"});
  }
  steps.push_back({"",
                   [&]() -> Status {
                     std::vector<std::string> all;
                     for (const auto& n : nodes) all.push_back(containerd_volume_name(spec.name, n.name));
                     all.insert(all.end(), node_volumes.begin(), node_volumes.end());
                     for (const auto& v : all) {
                       auto r = rt.create_volume(v, base_labels);
                       if (!r) return r.error().wrap("creating volume '" + v + "'");
                       rb.volume(v);
                       log->info("Created volume '{}'", v);
                     }
                     return {};
                   },
                   "volumes"});
  steps.push_back({"",
                   [&]() -> Status {
                     for (const auto& n : nodes) {
                       log->info("Creating node '{}'", n.name);
                       std::vector<runtime::PortBinding> direct;
                       for (const auto& p : ports) {
                         if (!p.direct) continue;
                         if (std::find(p.nodes.begin(), p.nodes.end(), n.name) == p.nodes.end()) continue;
                         direct.push_back({p.host_ip, p.host_port, p.container_port, p.protocol});
                       }
                       if (!spec.with_lb && n.role == Role::kServer && n.index == 0) {
                         direct.push_back({spec.api.host_ip, spec.api.host_port, kApiContainerPort, "tcp"});
                       }
                       auto cs = node_container(ctx, n, binds[n.name], direct);
                       apply_extras(cs, extras->at(n.name), spec);
                       HaContext nha = ha;
                       if (nha.ha && n.role == Role::kServer && n.index > 0)
                         nha.join_url = "https://" + node_name(spec.name, Role::kServer, 0) + ":6443";
                       apply_ha(cs, n, nha);
                       if (!spec.with_lb && n.role == Role::kServer && n.index == 0) {
                         cs.labels[kLabelApiHost] = spec.api.host_ip;
                         if (!spec.api.host.empty()) cs.labels[kLabelApiHostName] = spec.api.host;
                         cs.labels[kLabelApiPort] = std::to_string(spec.api.host_port);
                       }
                       auto r = rt.create_container(cs);
                       if (!r) return r.error().wrap("creating node '" + n.name + "'");
                       rb.container(n.name);
                       auto st = rt.put_file(n.name, kTokenPath, spec.token, 0600);
                       if (!st) return st.error().wrap("putting the token into '" + n.name + "'");
                       if (nha.ha && n.role == Role::kServer) {
                         auto sst = rt.put_file(n.name, kServerTokenPath, spec.server_token, 0600);
                         if (!sst) return sst.error().wrap("putting the servers' token into '" + n.name + "'");
                       }
                       K3DPP_TRY(put_registry_files(rt, n.name, registries->attached));
                     }
                     return {};
                   },
                   "nodes"});
  if (spec.with_lb) {
    steps.push_back({"Creating LoadBalancer '" + lb_name(spec.name) + "'",
                     [&]() -> Status {
                       NodeContext lctx = ctx;
                       lctx.image = spec.lb_image;
                       auto cs = lb_container(lctx, spec.api, ports);
                       apply_extras(cs, extras->at(cs.name), spec);
                       if (spec.lb_settings.worker_connections > 0)
                         cs.labels[kLabelLbWorkerConnections] = std::to_string(spec.lb_settings.worker_connections);
                       auto r = rt.create_container(cs);
                       if (!r) return r.error().wrap("creating load balancer '" + cs.name + "'");
                       rb.container(cs.name);
                       std::vector<std::string> servers;
                       for (const auto& n : nodes) {
                         if (n.role == Role::kServer) servers.push_back(n.name);
                       }
                       auto st = rt.put_file(cs.name, kLbPortsPath, render_ports_json(servers, ports, {}, spec.lb_settings.worker_connections), 0644);
                       if (!st) return st.error().wrap("putting ports.json into '" + cs.name + "'");
                       return {};
                     },
                     "loadbalancer"});
  }
  steps.push_back({"Starting servers...",
                   [&]() -> Status {
                     deadline = probes.now() + opts.timeout;
                     for (const auto& n : nodes) {
                       if (n.role != Role::kServer) continue;
                       log->info("Starting node '{}'", n.name);
                       auto st = rt.start_container(n.name);
                       if (!st) return st.error().wrap("starting node '" + n.name + "'");
                     }
                     auto kc = wait_admin_kubeconfig(rt, server0, deadline, probes);
                     if (!kc) return kc.error();
                     auto mine = make_cluster_kubeconfig(*kc, spec.name, spec.api.host.empty() ? spec.api.host_ip : spec.api.host,
                                                         spec.api.host_port);
                     if (!mine) return mine.error();
                     kubeconfig = *mine;
                     return {};
                   },
                   "start-servers"});
  if (spec.agents > 0) {
    steps.push_back({"Starting agents...",
                     [&]() -> Status {
                       for (const auto& n : nodes) {
                         if (n.role != Role::kAgent) continue;
                         log->info("Starting node '{}'", n.name);
                         auto st = rt.start_container(n.name);
                         if (!st) return st.error().wrap("starting node '" + n.name + "'");
                       }
                       return {};
                     },
                     "start-agents"});
  }
  if (spec.with_lb) {
    steps.push_back({"Starting helpers...",
                     [&]() -> Status {
                       log->info("Starting node '{}'", lb_name(spec.name));
                       auto st = rt.start_container(lb_name(spec.name));
                       if (!st) return st.error().wrap("starting load balancer");
                       return {};
                     },
                     "start-helpers"});
  }
  steps.push_back({"",
                   [&]() -> Status {
                     auto creds = client_credentials(kubeconfig);
                     if (!creds) return creds.error();
                     log->info("Waiting for the API server at {} ...", creds->server);
                     K3DPP_TRY(wait_api_ready(probes, *creds, deadline));
                     if (opts.wait) {
                       log->info("Waiting for {} node(s) to be Ready...", node_names.size());
                       K3DPP_TRY(wait_nodes_ready(probes, *creds, node_names, deadline));
                     }
                     return {};
                   },
                   "readiness"});
  if (opts.kubeconfig.update_default) {
    steps.push_back({"",
                     [&]() -> Status {
                       std::string path = opts.kubeconfig.path.empty() ? default_kubeconfig_path() : opts.kubeconfig.path;
                       log->info("Updating default kubeconfig with a new context for cluster {}", spec.name);
                       auto st = merge_into_file(path, kubeconfig, opts.kubeconfig.switch_context);
                       if (!st) return st.error().wrap("updating kubeconfig");
                       log->info("Successfully added cluster context 'k3dpp-{}' to {}", spec.name, path);
                       return {};
                     },
                     "kubeconfig"});
  }

  auto st = run_steps(steps);
  if (!st && st.error().is("Timeout")) {
    // Show why before the rollback removes it: the last log lines of the node that was waited
    // for (named in the message), else of server-0.
    std::string failing = server0;
    for (const auto& n : node_names) {
      if (st.error().message.find("'" + n + "'") != std::string::npos) failing = n;
    }
    auto logs = rt.logs(failing, 15);
    if (logs && !strings::trim(*logs).empty()) log->error("last log lines of '{}':\n{}", failing, strings::trim(*logs));
    st = unexpected(Error(st.error().message + " (waited --timeout " + std::to_string(opts.timeout.count()) +
                              "s; give it more with --timeout, or keep the nodes with --no-rollback and read "
                              "k3dpp cluster logs " + spec.name + ")",
                          "Timeout"));
  }
  if (!st) {
    if (opts.rollback) {
      log->error("Failed to create cluster >>> Rolling Back");
      rb.undo();
      log->info("Cluster creation FAILED, all changes have been rolled back!");
    } else {
      log->warn("Failed to create cluster; --no-rollback: leaving what was created (delete it with: k3dpp cluster delete {})",
                spec.name);
    }
    return st.error().wrap("creating cluster '" + spec.name + "'");
  }
  log->info("Cluster '{}' created successfully!", spec.name);
  result.kubeconfig = kubeconfig;
  return result;
}

// ---------------------------------------------------------------- delete / list

Result<std::vector<std::string>> cluster_names(runtime::Runtime& rt) {
  auto cs = load_clusters(rt);
  if (!cs) return cs.error();
  std::vector<std::string> out;
  for (const auto& c : *cs) out.push_back(c.name);
  return out;
}

Status delete_cluster(runtime::Runtime& rt, const std::string& name, const KubeconfigOptions& kc) {
  auto log = lg();
  auto st = load_cluster(rt, name);
  if (!st) {
    if (st.error().is("NotFound")) {
      log->info("No cluster '{}' found", name);
      return {};
    }
    return st.error();
  }
  log->info("Deleting cluster '{}'", name);
  Status first;
  auto note = [&](const Status& s) {
    if (!s && first) first = s;
    if (!s) log->warn("{}", s.error().message);
  };
  // LB first, then agents, then servers.
  std::vector<NodeState> order(st->nodes.rbegin(), st->nodes.rend());
  for (const auto& n : order) {
    log->info("Deleting node '{}'", n.name);
    auto r = rt.remove_container(n.name, true);
    if (!r && !r.error().is("NotFound")) note(r.error().wrap("deleting node '" + n.name + "'"));
  }
  if (!st->volumes.empty()) log->info("Deleting {} attached volumes...", st->volumes.size());
  for (const auto& v : st->volumes) {
    auto r = rt.remove_volume(v, true);
    if (!r && !r.error().is("NotFound")) note(r.error().wrap("deleting volume '" + v + "'"));
  }
  note(detach_cluster_registries(rt, name, st->network, st->network_owned));
  if (st->network_owned) {
    log->info("Deleting cluster network '{}'", st->network);
    auto r = rt.remove_network(st->network);
    if (!r && !r.error().is("NotFound")) note(r.error().wrap("deleting network '" + st->network + "'"));
  }
  if (kc.update_default) {
    std::string path = kc.path.empty() ? default_kubeconfig_path() : kc.path;
    log->info("Removing cluster details from default kubeconfig...");
    note(remove_from_file(path, name));
  }
  if (!first) return first.error().wrap("deleting cluster '" + name + "'");
  log->info("Successfully deleted cluster {}!", name);
  return {};
}

// ---------------------------------------------------------------- start / stop

Result<std::string> get_kubeconfig(runtime::Runtime& rt, const std::string& name) {
  auto st = load_cluster(rt, name);
  if (!st) return st.error();
  if (st->api_port == 0) return fail("cluster '" + name + "' has no API port label", "Invalid");
  auto servers = st->with_role(Role::kServer);
  if (servers.empty()) return fail("cluster '" + name + "' has no server node", "NotFound");
  Error last("no server");
  for (const auto* s : servers) {
    auto kc = rt.read_file(s->name, kAdminKubeconfigPath);
    if (!kc) {
      last = kc.error();
      continue;
    }
    return make_cluster_kubeconfig(*kc, name, st->api_hostname.empty() ? st->api_host : st->api_hostname, st->api_port);
  }
  return last.wrap("reading the kubeconfig of cluster '" + name + "'");
}

Result<std::string> merge_kubeconfig_for(runtime::Runtime& rt, const std::string& name, const KubeconfigOptions& kc) {
  auto y = get_kubeconfig(rt, name);
  if (!y) return y.error();
  std::string path = kc.path.empty() ? default_kubeconfig_path() : kc.path;
  auto st = merge_into_file(path, *y, kc.switch_context);
  if (!st) return st.error();
  return path;
}

Status start_cluster(runtime::Runtime& rt, const std::string& name, bool wait, std::chrono::seconds timeout,
                     const HostProbes& probes) {
  auto log = lg();
  auto st = load_cluster(rt, name);
  if (!st) return st.error();
  log->info("Starting cluster '{}'", name);
  auto deadline = probes.now() + timeout;
  for (auto [role, title] : {std::pair{Role::kServer, "Starting servers..."}, std::pair{Role::kAgent, "Starting agents..."},
                             std::pair{Role::kLoadBalancer, "Starting helpers..."}}) {
    auto group = st->with_role(role);
    if (group.empty()) continue;
    log->info("{}", title);
    for (const auto* n : group) {
      if (n->running) continue;
      log->info("Starting node '{}'", n->name);
      auto r = rt.start_container(n->name);
      if (!r) return r.error().wrap("starting node '" + n->name + "'");
    }
  }
  if (wait) {
    auto kc = get_kubeconfig(rt, name);
    if (!kc) return kc.error();
    auto creds = client_credentials(*kc);
    if (!creds) return creds.error();
    K3DPP_TRY(wait_api_ready(probes, *creds, deadline));
  }
  log->info("Started cluster '{}'", name);
  return {};
}

Status stop_cluster(runtime::Runtime& rt, const std::string& name) {
  auto log = lg();
  auto st = load_cluster(rt, name);
  if (!st) return st.error();
  log->info("Stopping cluster '{}'", name);
  std::vector<NodeState> order(st->nodes.rbegin(), st->nodes.rend());
  for (const auto& n : order) {
    if (!n.running) continue;
    log->info("Stopping node '{}'", n.name);
    auto r = rt.stop_container(n.name, 10);
    if (!r) return r.error().wrap("stopping node '" + n.name + "'");
  }
  log->info("Stopped cluster '{}'", name);
  return {};
}

// ---------------------------------------------------------------- LB

Status update_lb(runtime::Runtime& rt, const ClusterState& cs) {
  const NodeState* lb = cs.lb();
  if (!lb) return {};
  std::vector<std::string> existing;
  for (const auto& n : cs.nodes) {
    if (n.role != Role::kLoadBalancer) existing.push_back(n.name);
  }
  if (existing.empty()) existing.push_back("-");  // keep nothing
  // A mapping on the load balancer (`@loadbalancer`, `@all`) forwards to every server and agent,
  // including nodes added after the cluster was created (k3dpp node create).
  std::vector<ResolvedPort> ports = cs.ports;
  for (auto& p : ports) {
    if (p.direct) continue;
    auto pm = parse_port_mapping(p.text);
    if (!pm) continue;
    bool every_node = std::any_of(pm->filters.begin(), pm->filters.end(), [](const NodeFilter& f) {
      return f.group == "loadbalancer" || f.group == "all";
    });
    if (!every_node) continue;
    p.nodes.clear();
    for (const auto& n : cs.nodes) {
      if (n.role != Role::kLoadBalancer) p.nodes.push_back(n.name);
    }
  }
  std::string json = render_ports_json(cs.names(Role::kServer), ports, existing, lb_worker_connections(lb->labels));
  lg()->info("Updating load balancer '{}'", lb->name);
  auto st = rt.put_file(lb->name, kLbPortsPath, json, 0644);
  if (!st) return st.error().wrap("updating " + std::string(kLbPortsPath) + " in '" + lb->name + "'");
  if (lb->running) {
    auto r = rt.exec(lb->name, {"k3dpp-lb", "reload"});
    if (!r) return r.error().wrap("reloading load balancer '" + lb->name + "'");
    if (r->exit_code != 0) {
      return fail("k3dpp-lb reload in '" + lb->name + "' failed (exit " + std::to_string(r->exit_code) +
                  "): " + std::string(strings::trim(r->err.empty() ? r->out : r->err)));
    }
  }
  return {};
}

Status edit_cluster_ports(runtime::Runtime& rt, const std::string& name, const std::vector<PortMapping>& add,
                          const std::vector<PortMapping>& del, const HostProbes& probes) {
  auto log = lg();
  K3DPP_TRY(check_engine(rt));
  auto st = load_cluster(rt, name);
  if (!st) return st.error();
  const NodeState* lb = st->lb();
  if (!lb) return fail("cluster '" + name + "' has no load balancer", "Invalid");
  std::vector<ResolvedPort> ports = st->ports;
  for (const auto& d : del) {
    auto before = ports.size();
    ports.erase(std::remove_if(ports.begin(), ports.end(),
                               [&](const ResolvedPort& p) {
                                 return p.container_port == d.container_port && p.protocol == d.protocol &&
                                        (d.host_port == 0 || p.host_port == d.host_port);
                               }),
                ports.end());
    if (ports.size() == before) return fail("port mapping '" + d.text + "' not found in cluster '" + name + "'", "NotFound");
  }
  std::vector<HostPortUse> uses{{st->api_host, st->api_port, "tcp", "--api-port"}};
  for (const auto& p : ports) {
    if (p.host_port) uses.push_back({p.host_ip, p.host_port, p.protocol, "-p " + p.text});
  }
  for (const auto& a : add) {
    auto rp = resolve_port(a, st->filter_nodes(), true);
    if (!rp) return rp.error();
    if (rp->direct) return fail("port mapping '" + a.text + "': ':direct' is not supported by cluster edit", "Invalid");
    if (rp->host_port) {
      uses.push_back({rp->host_ip, rp->host_port, rp->protocol, "-p " + rp->text});
      auto free = probes.port_free(rp->host_ip, rp->host_port, rp->protocol);
      if (!free) return free.error().wrap("-p " + a.text);
    }
    ports.push_back(*rp);
  }
  K3DPP_TRY(check_lb_port_conflicts(ports));
  K3DPP_TRY(check_host_port_clashes(uses));

  NodeContext ctx{name, st->network, lb->image, version_of(*lb), ""};
  std::vector<std::string> old_lb_env, old_lb_hosts;
  if (auto old = rt.inspect_container(lb->name); old) {
    old_lb_env = old->env;
    old_lb_hosts = old->extra_hosts;
  } else {
    return old.error().wrap("inspecting load balancer '" + lb->name + "'");
  }
  ApiPort api{st->api_host, st->api_port, st->api_hostname};
  auto recreate = [&](const std::vector<ResolvedPort>& with) -> Status {
    auto spec = lb_container(ctx, api, with);
    // What the LB was created with beyond its ports stays: runtime labels, settings (labels), env
    // (-e ...@loadbalancer) and host aliases.
    for (const auto& [k, v] : lb->labels) spec.labels.emplace(k, v);
    spec.env = old_lb_env;
    spec.extra_hosts = old_lb_hosts;
    auto r = rt.create_container(spec);
    if (!r) return r.error().wrap("creating load balancer '" + spec.name + "'");
    ClusterState next = *st;
    next.ports = with;
    std::vector<std::string> existing;
    for (const auto& n : next.nodes) {
      if (n.role != Role::kLoadBalancer) existing.push_back(n.name);
    }
    auto put = rt.put_file(spec.name, kLbPortsPath, render_ports_json(next.names(Role::kServer), with, existing,
                                                                           lb_worker_connections(lb->labels)),
                             0644);
    if (!put) return put.error().wrap("putting ports.json");
    auto s = rt.start_container(spec.name);
    if (!s) return s.error().wrap("starting load balancer '" + spec.name + "'");
    return {};
  };
  log->info("Recreating load balancer '{}' with {} port mapping(s)", lb->name, ports.size());
  auto rm = rt.remove_container(lb->name, true);
  if (!rm) return rm.error().wrap("removing load balancer '" + lb->name + "'");
  auto r = recreate(ports);
  if (!r) {
    log->error("Failed to recreate the load balancer; restoring the previous one");
    (void)rt.remove_container(lb->name, true);
    auto back = recreate(st->ports);
    if (!back) log->error("restoring the load balancer failed: {}", back.error().message);
    return r.error().wrap("editing cluster '" + name + "'");
  }
  log->info("Successfully updated cluster '{}'", name);
  return {};
}

// ---------------------------------------------------------------- nodes

Status create_nodes(runtime::Runtime& rt, const NodeCreateOptions& opts, const HostProbes& probes) {
  auto log = lg();
  K3DPP_TRY(validate_node_name(opts.name));
  if (opts.role == Role::kLoadBalancer) return fail("--role must be agent or server", "Invalid");
  if (opts.replicas < 1 || opts.replicas > 99) return fail("--replicas must be between 1 and 99", "Invalid");
  if (opts.cluster.empty()) return fail("--cluster is required", "Invalid");
  K3DPP_TRY(check_engine(rt));
  auto cs = load_cluster(rt, opts.cluster);
  if (!cs) {
    if (cs.error().is("NotFound")) return fail("cluster '" + opts.cluster + "' not found", "NotFound");
    return cs.error();
  }
  auto servers = cs->with_role(Role::kServer);
  if (servers.empty()) return fail("cluster '" + opts.cluster + "' has no server node", "Invalid");
  const NodeState& first = *servers.front();
  std::string image = opts.image.empty() ? first.image : opts.image;
  K3DPP_TRY(check_image(rt, image));
  std::vector<NodeSpec> nodes;
  for (int i = 0; i < opts.replicas; ++i) {
    NodeSpec n{opts.role, i, "k3dpp-" + opts.name + "-" + std::to_string(i)};
    auto exists = rt.inspect_container(n.name);
    if (exists) return fail("node '" + n.name + "' already exists", "Conflict");
    nodes.push_back(n);
  }
  auto token = rt.read_file(first.name, kTokenPath);
  if (!token) return token.error().wrap("reading the cluster token from '" + first.name + "'");
  auto registries = network_registries(rt, cs->network);
  if (!registries) return registries.error();
  std::string tok(strings::trim(*token));
  if (!opts.token.empty() && opts.token != tok) {
    return fail("--token does not match the token of cluster '" + opts.cluster + "'", "Invalid");
  }
  for (const auto& [k, _] : opts.runtime_labels) {
    if (k.rfind("k3dpp.", 0) == 0) return fail("--runtime-label " + k + ": labels k3dpp.* belong to k3dpp", "Invalid");
  }
  for (const auto& net : opts.networks) {
    auto ni = rt.inspect_network(net);
    if (!ni) return ni.error().wrap("--network " + net);
  }

  log->info("Adding {} node(s) to the runtime local cluster '{}'...", nodes.size(), opts.cluster);
  std::string pod_network;
  if (auto it = first.labels.find(kLabelPodNetwork); it != first.labels.end()) pod_network = it->second;
  auto pn = choose_pod_network(rt, pod_network);
  if (!pn) return pn.error();
  NodeContext ctx{opts.cluster, cs->network, image, version_of(first), *pn};
  HaContext hactx;
  std::string server_tok;  // HA: the servers' token, for a new server only
  {
    // HA clusters (servers labelled k3dpp.etcd): a new server joins through the LB (any live
    // server answers), agents use the LB too. A single-server (SQLite) cluster cannot grow servers.
    bool ha = first.labels.count(kLabelEtcd) > 0;
    auto lbs = cs->with_role(Role::kLoadBalancer);
    std::string via = lbs.empty() ? "https://" + first.name + ":6443" : "https://" + lbs.front()->name + ":6443";
    if (opts.role == Role::kServer) {
      if (!ha)
        return fail("--role server: cluster '" + opts.cluster +
                        "' has a single server on SQLite; create it with --servers 3 to add servers (etcd)",
                    "Invalid");
      hactx.ha = true;
      hactx.join_url = via;
      auto st = rt.read_file(first.name, kServerTokenPath);
      if (!st) return st.error().wrap("reading the servers' token from '" + first.name + "'");
      server_tok = std::string(strings::trim(*st));
    }
    if (ha && !lbs.empty()) hactx.agent_server_url = via;
  }
  runtime::Labels vlabels{{kLabelCluster, opts.cluster}, {kLabelVersion, ctx.version}};
  Rollback rb(rt);
  auto deadline = probes.now() + opts.timeout;
  auto run = [&]() -> Status {
    for (const auto& n : nodes) {
      K3DPP_TRY(check_cancelled());
      std::string v = containerd_volume_name(opts.cluster, n.name);
      auto vr = rt.create_volume(v, vlabels);
      if (!vr) return vr.error().wrap("creating volume '" + v + "'");
      rb.volume(v);
      auto spec = node_container(ctx, n, {}, {});
      apply_ha(spec, n, hactx);
      spec.memory = opts.memory;
      for (const auto& [k, v] : opts.runtime_labels) spec.labels[k] = v;
      for (const auto& l : opts.node_labels) spec.cmd.push_back("--node-label=" + l);
      for (const auto& [name, limits] : opts.ulimits) {
        bool replaced = false;
        for (auto& u : spec.ulimits) {
          if (u.name == name) {
            u.soft = limits.first;
            u.hard = limits.second;
            replaced = true;
          }
        }
        if (!replaced) spec.ulimits.push_back({name, limits.first, limits.second});
      }
      auto r = rt.create_container(spec);
      if (!r) return r.error().wrap("creating node '" + n.name + "'");
      rb.container(n.name);
      auto put = rt.put_file(n.name, kTokenPath, tok, 0600);
      if (!put) return put.error().wrap("putting the token into '" + n.name + "'");
      if (!server_tok.empty()) {
        auto sput = rt.put_file(n.name, kServerTokenPath, server_tok, 0600);
        if (!sput) return sput.error().wrap("putting the servers' token into '" + n.name + "'");
      }
      K3DPP_TRY(put_registry_files(rt, n.name, *registries));
      for (const auto& net : opts.networks) {
        if (net == cs->network) continue;
        auto c = rt.connect_network(net, n.name);
        if (!c) return c.error().wrap("connecting node '" + n.name + "' to network '" + net + "'");
      }
      log->info("Starting node '{}'", n.name);
      auto s = rt.start_container(n.name);
      if (!s) return s.error().wrap("starting node '" + n.name + "'");
    }
    {
      // Servers serve the API through the LB; every node may serve `@loadbalancer` mappings.
      auto now = load_cluster(rt, opts.cluster);
      if (!now) return now.error();
      K3DPP_TRY(update_lb(rt, *now));
    }
    if (opts.wait) {
      auto kc = get_kubeconfig(rt, opts.cluster);
      if (!kc) return kc.error();
      auto creds = client_credentials(*kc);
      if (!creds) return creds.error();
      std::vector<std::string> names;
      for (const auto& n : nodes) names.push_back(n.name);
      K3DPP_TRY(wait_nodes_ready(probes, *creds, names, deadline));
    }
    return {};
  };
  auto st = run();
  if (!st) {
    if (opts.rollback) {
      log->error("Failed to create node(s) >>> Rolling Back");
      rb.undo();
      auto now = load_cluster(rt, opts.cluster);
      if (now) (void)update_lb(rt, *now);
    }
    return st.error().wrap("creating node(s) '" + opts.name + "'");
  }
  log->info("Successfully created {} node(s)!", nodes.size());
  return {};
}

namespace {
Result<NodeState> find_node(runtime::Runtime& rt, const std::string& container) {
  auto ci = rt.inspect_container(container);
  if (!ci) {
    if (ci.error().is("NotFound")) return fail("node '" + container + "' not found", "NotFound");
    return ci.error();
  }
  NodeState n;
  if (!node_from_container(*ci, n)) return fail("container '" + container + "' is not a k3dpp node", "Invalid");
  return n;
}
}  // namespace

Status delete_node(runtime::Runtime& rt, const std::string& container) {
  auto log = lg();
  auto n = find_node(rt, container);
  if (!n) return n.error();
  log->info("Deleting node '{}'", n->name);
  if (n->role == Role::kServer && n->labels.count(kLabelEtcd)) {
    // An HA server leaves etcd first (through another running server's etcd), so the members
    // that remain decide the quorum; a member left behind would count against it forever.
    auto cs = load_cluster(rt, n->cluster);
    const NodeState* via = nullptr;
    if (cs) {
      for (const auto* s : cs->with_role(Role::kServer))
        if (s->name != n->name && s->running && s->labels.count(kLabelEtcd)) {
          via = s;
          break;
        }
    }
    if (via == nullptr) {
      log->warn("no other running server to remove {}'s etcd member through; it stays a member", n->name);
    } else {
      auto x = rt.exec(via->name, {"k3dpp-node", "etcd-member-remove", n->name});
      if (!x) {
        log->warn("removing the etcd member {}: {}", n->name, x.error().message);
      } else if (x->exit_code == 0) {
        log->info("Removed etcd member '{}'", n->name);
      } else if (x->exit_code != 2) {  // 2: no such member (never joined, or removed already)
        log->warn("removing the etcd member {} through {}: {}", n->name, via->name, strings::trim(x->err + x->out));
      }
    }
  }
  auto r = rt.remove_container(n->name, true);
  if (!r) return r.error().wrap("deleting node '" + n->name + "'");
  if (n->role != Role::kLoadBalancer) {
    auto v = rt.remove_volume(containerd_volume_name(n->cluster, n->name), true);
    if (!v && !v.error().is("NotFound")) log->warn("{}", v.error().message);
  }
  if (n->role != Role::kLoadBalancer) {
    auto cs = load_cluster(rt, n->cluster);
    if (cs) K3DPP_TRY(update_lb(rt, *cs));
  }
  log->info("Successfully deleted node '{}'!", n->name);
  return {};
}

Status start_node(runtime::Runtime& rt, const std::string& container) {
  auto n = find_node(rt, container);
  if (!n) return n.error();
  lg()->info("Starting node '{}'", n->name);
  return rt.start_container(n->name);
}

Status stop_node(runtime::Runtime& rt, const std::string& container) {
  auto n = find_node(rt, container);
  if (!n) return n.error();
  lg()->info("Stopping node '{}'", n->name);
  return rt.stop_container(n->name, 10);
}

Result<std::vector<NodeState>> list_nodes(runtime::Runtime& rt) {
  auto cs = load_clusters(rt);
  if (!cs) return cs.error();
  std::vector<NodeState> out;
  for (const auto& c : *cs) out.insert(out.end(), c.nodes.begin(), c.nodes.end());
  return out;
}

}  // namespace k3dpp::cluster
