// k3dpp cluster edit NAME --port-add/--port-delete (k3d: cmd/cluster/clusterEdit.go)
#include "cli/cli.h"
#include "cluster/operations.h"
#include "cluster/parse.h"
#include "cluster/probes.h"
#include "cluster/state.h"

namespace k3dpp::cli {
namespace {
// A mapping to add whose host port this cluster already publishes: say so, instead of the host
// probe's "already in use" (which it is, by our own load balancer).
Status check_not_published(const cluster::ClusterState& cs, const std::vector<cluster::PortMapping>& add,
                           const std::vector<cluster::PortMapping>& del) {
  auto deleted = [&](const cluster::ResolvedPort& p) {
    for (const auto& d : del) {
      if (d.container_port == p.container_port && d.protocol == p.protocol && (d.host_port == 0 || d.host_port == p.host_port))
        return true;
    }
    return false;
  };
  for (const auto& a : add) {
    if (a.host_port == 0) continue;
    for (const auto& p : cs.ports) {
      if (p.host_port != a.host_port || p.protocol != a.protocol || deleted(p)) continue;
      if (p.container_port == a.container_port)
        return fail("port mapping '" + a.text + "' already exists in cluster '" + cs.name + "' (-p " + p.text + ")",
                    "AlreadyExists");
      return fail("port mapping '" + a.text + "': host port " + std::to_string(a.host_port) + "/" + a.protocol +
                      " is already published by cluster '" + cs.name + "' for -p " + p.text + " (delete that first)",
                  "Conflict");
    }
  }
  return {};
}

// True when a mapping to add takes a host port that a mapping deleted in the same edit publishes.
bool reuses_deleted_host_port(const cluster::ClusterState& cs, const std::vector<cluster::PortMapping>& add,
                              const std::vector<cluster::PortMapping>& del) {
  for (const auto& a : add) {
    for (const auto& p : cs.ports) {
      if (a.host_port == 0 || p.host_port != a.host_port || p.protocol != a.protocol) continue;
      for (const auto& d : del) {
        if (d.container_port == p.container_port && d.protocol == p.protocol && (d.host_port == 0 || d.host_port == p.host_port))
          return true;
      }
    }
  }
  return false;
}

// The new load balancer serves every port once its nginx answers the API port (it binds all its
// listeners from one config): return only then, so `curl` right after the edit works.
Status wait_lb_serving(runtime::Runtime& rt, const std::string& name, const cluster::HostProbes& probes) {
  auto kc = cluster::get_kubeconfig(rt, name);
  if (!kc) return {};  // a cluster without a reachable server: nothing to wait for
  auto creds = cluster::client_credentials(*kc);
  if (!creds) return {};
  auto st = cluster::wait_api_ready(probes, *creds, probes.now() + std::chrono::seconds(30));
  if (!st) return st.error().wrap("the load balancer was recreated but does not serve yet");
  return {};
}

struct Options {
  std::string name;
  std::vector<std::string> add;
  std::vector<std::string> del;
};
}  // namespace

Status edit_cluster_ports_cli(const Context& ctx, const std::string& name, const std::vector<std::string>& add_specs,
                              const std::vector<std::string>& del_specs) {
  if (add_specs.empty() && del_specs.empty()) return fail("nothing to edit: give --port-add or --port-delete", "Invalid");
  std::vector<cluster::PortMapping> add, del;
  for (const auto& p : add_specs) {
    auto pms = cluster::parse_port_mappings(p);
    if (!pms) return pms.error();
    add.insert(add.end(), pms->begin(), pms->end());
  }
  for (const auto& p : del_specs) {
    auto pms = cluster::parse_port_mappings(p);
    if (!pms) return pms.error();
    del.insert(del.end(), pms->begin(), pms->end());
  }
  auto rt = ctx.open_runtime();
  if (!rt) return rt.error();
  bool two_steps = false;
  bool serving = false;  // a running server: the new LB can be waited for
  if (auto cs = cluster::load_cluster(**rt, name); cs) {
    K3DPP_TRY(check_not_published(*cs, add, del));
    two_steps = reuses_deleted_host_port(*cs, add, del);
    serving = cs->count(cluster::Role::kServer, true) > 0;
  }
  if (!two_steps) {
    K3DPP_TRY(cluster::edit_cluster_ports(**rt, name, add, del, ctx.probes));
  } else {
    // The host port probe would see the port still held by our own load balancer: free it first.
    K3DPP_TRY(cluster::edit_cluster_ports(**rt, name, {}, del, ctx.probes));
    auto st = cluster::edit_cluster_ports(**rt, name, add, {}, ctx.probes);
    if (!st) return st.error().wrap("the --port-delete mappings were removed, but adding failed");
  }
  return serving ? wait_lb_serving(**rt, name, ctx.probes) : Status{};
}

void add_cluster_edit(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<Options>();
  auto* cmd = parent.add_subcommand("edit", "Edit a cluster's port mappings (recreates the serverlb)");
  cmd->add_option("NAME", o->name, "Cluster name")->required();
  cmd->add_option("--port-add", o->add, "Add a port mapping ([HOST:][HOSTPORT:]CONTAINERPORT[/PROTOCOL][@NODEFILTER])");
  cmd->add_option("--port-delete", o->del, "Delete a port mapping (same format)");
  cmd->callback([o, &ctx] {
    ctx.run = [o, &ctx]() -> Status { return edit_cluster_ports_cli(ctx, o->name, o->add, o->del); };
  });
}

}  // namespace k3dpp::cli
