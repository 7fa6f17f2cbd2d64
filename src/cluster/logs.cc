#include "cluster/logs.h"

#include "cluster/registry.h"
#include "cluster/state.h"
#include "cluster/types.h"

namespace k3dpp::cluster {

std::string tail_lines(const std::string& text, int n) {
  if (n <= 0 || text.empty()) return text;
  // Walk back over n line breaks, ignoring a trailing one.
  size_t end = text.size();
  if (text[end - 1] == '\n') --end;
  size_t pos = end;
  int found = 0;
  while (pos > 0) {
    if (text[pos - 1] == '\n' && ++found == n) return text.substr(pos);
    --pos;
  }
  return text;
}

namespace {

ContainerLogs read_one(runtime::Runtime& rt, const std::string& name, const std::string& role,
                       const std::string& state, bool node, int tail) {
  ContainerLogs out;
  out.container = name;
  out.role = role;
  out.state = state;
  auto log = rt.logs(name, tail);
  if (log) {
    out.log = *log;
  } else {
    out.log_error = log.error().message;
  }
  if (node) {
    // read_file goes through the engine's archive API: works on stopped containers too.
    auto f = rt.read_file(name, kContainerdLogFile);
    if (f) out.containerd_log = tail_lines(*f, tail);
  }
  return out;
}

}  // namespace

Result<std::vector<ContainerLogs>> collect_cluster_logs(runtime::Runtime& rt, const std::string& cluster, int tail) {
  auto st = load_cluster(rt, cluster);
  if (!st) return st.error();
  std::vector<ContainerLogs> out;
  for (const auto& n : st->nodes) {
    out.push_back(read_one(rt, n.name, role_name(n.role), n.state, n.role != Role::kLoadBalancer, tail));
  }
  auto regs = list_registries(rt);
  if (!regs) return regs.error();
  for (const auto& r : *regs) {
    if (r.cluster == cluster) out.push_back(read_one(rt, r.name, kRoleRegistry, r.state, false, tail));
  }
  return out;
}

}  // namespace k3dpp::cluster
