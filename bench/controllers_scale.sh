#!/usr/bin/env bash
# Control plane at scale, no containers: `k3dpp-node server --no-kubelet` (API server, controllers,
# scheduler) and `k3dpp-node agent --hollow 100` as host processes on 127.0.0.1, driven by kubectl.
# A Deployment of 1000 replicas: time until every pod is bound (scheduling throughput, pods/s) and
# until 1000 are Ready (deployment readyReplicas), the spread over the 100 nodes, then the cascading
# delete; server RSS idle, with 100 nodes, with 1000 pods; the scheduler's own first→last bind rate
# from its log. Prints figures only (bench/README.md). Scheduler alone: sched_throughput.sh.
#   CONTROLLERS_BENCH_REPLICAS (default 1000), CONTROLLERS_BENCH_NODES (default 100),
#   CONTROLLERS_BENCH_TIMEOUT (s to wait for all Ready, default 180; 10,000 replicas: 300).
set -uo pipefail
build=${K3DPP_BUILD_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build}
node_bin=${K3DPP_NODE_BIN:-$build/src/node-image/cmd/k3dpp-node}
replicas=${CONTROLLERS_BENCH_REPLICAS:-1000}
nodes=${CONTROLLERS_BENCH_NODES:-100}
[[ -x $node_bin ]] || { echo "no k3dpp-node at $node_bin (build target k3dpp-node)" >&2; exit 1; }

work=$(mktemp -d /tmp/k3dpp-bench-ctrl-XXXXXX)
server_pid="" agent_pid=""
cleanup() {
  for p in "$agent_pid" "$server_pid"; do
    [[ -n $p ]] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
rss_mib() { awk '/^VmRSS/{printf "%.1f", $2/1024}' "/proc/$server_pid/status" 2>/dev/null || echo NA; }
source "$(dirname "$0")/../tests/lib/host_server.sh"
host_server_start "$node_bin" "$work" --no-kubelet || exit 1
server_pid=$HOST_SERVER_PID
port=$HOST_SERVER_PORT
sleep 2
rss_idle=$(rss_mib)

t_nodes=$(now)
"$node_bin" agent --hollow "$nodes" --server "https://127.0.0.1:$port" --token-file "$work/data/server/token" \
  >"$work/agent.log" 2>&1 &
agent_pid=$!
n=0
for _ in $(seq 1 240); do
  n=$("${K[@]}" get nodes --no-headers 2>/dev/null | grep -c ' Ready ')
  ((n >= nodes)) && break
  sleep 0.5
done
nodes_ready_s=$(since "$t_nodes")
echo "$n/$nodes hollow nodes Ready after ${nodes_ready_s}s" >&2
((n >= nodes)) || { echo "hollow nodes did not all become Ready" >&2; tail -n 20 "$work/agent.log" >&2; exit 1; }
sleep 2
rss_nodes=$(rss_mib)

# The deployment; then poll every 0.5 s (bounded to CONTROLLERS_BENCH_TIMEOUT s): pods bound, deployment readyReplicas.
t0=$(now)
"${K[@]}" create deployment scale --image=nginx:1.24 --replicas="$replicas" >/dev/null || exit 1
bound_s=NA ready_s=NA bound=0 readyr=0
end=$((SECONDS + ${CONTROLLERS_BENCH_TIMEOUT:-180}))
while ((SECONDS < end)); do
  if [[ $bound_s == NA ]]; then
    bound=$("${K[@]}" get pods -l app=scale -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' 2>/dev/null | grep -c .)
    ((bound >= replicas)) && bound_s=$(since "$t0")
  fi
  readyr=$("${K[@]}" get deployment scale -o jsonpath='{.status.readyReplicas}' 2>/dev/null)
  if [[ ${readyr:-0} -ge $replicas ]]; then
    ready_s=$(since "$t0")
    [[ $bound_s == NA ]] && bound_s=$ready_s
    break
  fi
  sleep 0.5
done
echo "bound $bound, ready ${readyr:-0} of $replicas (bound after ${bound_s}s, ready after ${ready_s}s)" >&2
rss_pods=$(rss_mib)
spread=$("${K[@]}" get pods -l app=scale -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' 2>/dev/null |
  grep . | sort | uniq -c | awk 'NR == 1 {mn = $1; mx = $1} {if ($1 < mn) mn = $1; if ($1 > mx) mx = $1; k++}
                                 END {printf "%d %d %d", k, mn, mx}')
read -r spread_nodes spread_min spread_max <<<"${spread:-0 0 0}"

t_del=$(now)
"${K[@]}" delete deployment scale >/dev/null 2>&1
delete_s=NA
end=$((SECONDS + 60))
while ((SECONDS < end)); do
  left=$("${K[@]}" get pods -l app=scale --no-headers 2>/dev/null | grep -c .)
  ((left == 0)) && { delete_s=$(since "$t_del"); break; }
  sleep 0.5
done

rate=NA
[[ $bound_s != NA ]] && rate=$(awk -v n="$replicas" -v s="$bound_s" 'BEGIN{printf "%.1f", n/s}')
# The scheduler's own count over this run (first bind → last; the ReplicaSet creates pace it here).
line=$(grep -a 'throughput: ' "$work/server.log" | tail -n 1)
sched_rate=NA sched_n=NA sched_s=NA
if [[ -n $line ]]; then
  sched_n=$(sed -E 's/.*throughput: ([0-9]+) pods bound in ([0-9.]+) s.*/\1/' <<<"$line")
  sched_s=$(sed -E 's/.*throughput: ([0-9]+) pods bound in ([0-9.]+) s.*/\2/' <<<"$line")
  sched_rate=$(awk -v n="$sched_n" -v s="$sched_s" 'BEGIN{ if (s > 0) printf "%.0f", (n - 1) / s; else print "NA"}')
fi
echo "FIGURE controllers.hollow_nodes_ready $nodes_ready_s s N=$nodes hollow nodes registered and Ready"
echo "FIGURE controllers.deploy${replicas}.all_bound $bound_s s create deployment → every pod has a node"
echo "FIGURE controllers.deploy${replicas}.schedule_rate $rate pods/s replicas/all_bound (RS creates + scheduler binds)"
echo "FIGURE controllers.deploy${replicas}.scheduler_rate $sched_rate pods/s scheduler's count: first bind → bind #$sched_n in $sched_s s, while the ReplicaSet creates"
echo "FIGURE controllers.deploy${replicas}.all_ready $ready_s s create deployment → readyReplicas=$replicas (hollow kubelets)"
echo "FIGURE controllers.deploy${replicas}.spread_min $spread_min count pods on the emptiest of $spread_nodes nodes"
echo "FIGURE controllers.deploy${replicas}.spread_max $spread_max count pods on the fullest node"
echo "FIGURE controllers.deploy${replicas}.delete_all $delete_s s delete deployment → no pod left"
echo "FIGURE controllers.server_rss.idle $rss_idle MiB server, no nodes"
echo "FIGURE controllers.server_rss.nodes $rss_nodes MiB with $nodes hollow nodes"
echo "FIGURE controllers.server_rss.pods $rss_pods MiB with $replicas pods Ready"
