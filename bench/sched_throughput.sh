#!/usr/bin/env bash
# Scheduler throughput as kube-scheduler's scheduler_perf measures it: the pods exist before the
# scheduler may place them, then pods/s from the first bind to the last. `k3dpp-node server
# --no-kubelet` and `k3dpp-node agent --hollow 100` as host processes on 127.0.0.1, driven by kubectl.
# A Deployment of N replicas (default 10,000) whose pods mount the claim sched-gate, which does not
# exist yet: every pod is created and stays Pending ("persistentvolumeclaim not found"). Then one
# `kubectl apply` of a PersistentVolume (no node affinity, ReadWriteMany) and the claim, bound to it,
# opens the gate for every pod on every node at once. Figures: the scheduler's own count (its log
# line "throughput: N pods bound in S s from the first bind of this burst"), gate open → all bound
# as kubectl sees it (polls of the pods still pending; includes the polling), the spread, the
# server's RSS. Prints figures only (bench/README.md).
#   SCHED_BENCH_PODS (default 10000), SCHED_BENCH_NODES (default 100),
#   SCHED_BENCH_TIMEOUT (s for each wait, default 300).
set -uo pipefail
build=${K3DPP_BUILD_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build}
node_bin=${K3DPP_NODE_BIN:-$build/src/node-image/cmd/k3dpp-node}
pods=${SCHED_BENCH_PODS:-10000}
nodes=${SCHED_BENCH_NODES:-100}
timeout=${SCHED_BENCH_TIMEOUT:-300}
[[ -x $node_bin ]] || { echo "no k3dpp-node at $node_bin (build target k3dpp-node)" >&2; exit 1; }

work=$(mktemp -d /tmp/k3dpp-bench-sched-XXXXXX)
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

"$node_bin" agent --hollow "$nodes" --server "https://127.0.0.1:$port" --token-file "$work/data/server/token" \
  >"$work/agent.log" 2>&1 &
agent_pid=$!
n=0
for _ in $(seq 1 240); do
  n=$("${K[@]}" get nodes --no-headers 2>/dev/null | grep -c ' Ready ')
  ((n >= nodes)) && break
  sleep 0.5
done
((n >= nodes)) || { echo "hollow nodes did not all become Ready ($n/$nodes)" >&2; exit 1; }

count_pods() { # all pods, bound pods
  "${K[@]}" get pods -l app=sched -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}' 2>/dev/null |
    awk 'NF >= 1 {a++} NF >= 2 {b++} END {printf "%d %d", a, b}'
}
# While the scheduler binds: only the pods still without a node (the server sends the pending ones,
# not all 10,000 pods every poll, which took a large share of the server's CPU from the scheduler).
count_pending() {
  local out
  out=$("${K[@]}" get pods -l app=sched --field-selector spec.nodeName= -o name 2>/dev/null) || { echo -1; return; }
  grep -c . <<<"$out"
}

t_create=$(now)
"${K[@]}" apply -f - >/dev/null <<YAML || exit 1
apiVersion: apps/v1
kind: Deployment
metadata: {name: sched}
spec:
  replicas: $pods
  selector: {matchLabels: {app: sched}}
  template:
    metadata: {labels: {app: sched}}
    spec:
      containers: [{name: c, image: nginx:1.24, volumeMounts: [{name: gate, mountPath: /gate}]}]
      volumes: [{name: gate, persistentVolumeClaim: {claimName: sched-gate}}]
YAML
created_s=NA all=0 bound=0
end=$((SECONDS + timeout))
while ((SECONDS < end)); do
  read -r all bound <<<"$(count_pods)"
  ((all >= pods)) && { created_s=$(since "$t_create"); break; }
  sleep 1
done
echo "$all/$pods pods created (Pending, $bound bound) after ${created_s}s" >&2
((all >= pods && bound == 0)) || { echo "pods not all created, or some bound before the gate opened" >&2; exit 1; }
sleep 2

t_gate=$(now)
"${K[@]}" apply -f - >/dev/null <<YAML || exit 1
apiVersion: v1
kind: PersistentVolume
metadata: {name: sched-gate}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteMany]
  storageClassName: ""
  hostPath: {path: /tmp/k3dpp-sched-gate}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: sched-gate}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: sched-gate
  resources: {requests: {storage: 1Gi}}
YAML
label_s=$(since "$t_gate")
bound_s=NA
end=$((SECONDS + timeout))
while ((SECONDS < end)); do
  pending=$(count_pending)
  if ((pending >= 0)); then
    bound=$((pods - pending))
    echo "  $(since "$t_gate")s: $bound bound" >&2
    ((pending == 0)) && { bound_s=$(since "$t_gate"); break; }
  fi
  sleep 0.5
done
read -r all bound <<<"$(count_pods)"  # all of them, once
echo "bound $bound of $pods after ${bound_s}s (creating the claim took ${label_s}s)" >&2
rss=$(rss_mib)
sleep 1
# The scheduler's own count: its last throughput line of this run.
echo "gate opened at $(date -u -d "@$t_gate" +%H:%M:%S.%3N) UTC; scheduler:" >&2
grep -a 'throughput: ' "$work/server.log" >&2
line=$(grep -a 'throughput: ' "$work/server.log" | tail -n 1)
sched_n=$(sed -E 's/.*throughput: ([0-9]+) pods bound in ([0-9.]+) s.*/\1/' <<<"$line")
sched_s=$(sed -E 's/.*throughput: ([0-9]+) pods bound in ([0-9.]+) s.*/\2/' <<<"$line")
sched_rate=NA
[[ -n $line ]] && sched_rate=$(awk -v n="$sched_n" -v s="$sched_s" 'BEGIN{ if (s > 0) printf "%.0f", (n - 1) / s; else print "NA"}')
[[ -n $line ]] || { sched_n=NA sched_s=NA; }
gate_rate=NA
[[ $bound_s != NA ]] && gate_rate=$(awk -v n="$pods" -v s="$bound_s" 'BEGIN{printf "%.0f", n/s}')
spread=$("${K[@]}" get pods -l app=sched -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' 2>/dev/null |
  grep . | sort | uniq -c | awk 'NR == 1 {mn = $1; mx = $1} {if ($1 < mn) mn = $1; if ($1 > mx) mx = $1; k++}
                                 END {printf "%d %d %d", k, mn, mx}')
read -r spread_nodes spread_min spread_max <<<"${spread:-0 0 0}"

echo "FIGURE sched.pods${pods}.create_pending $created_s s apply deployment → $pods pods exist, none schedulable yet"
echo "FIGURE sched.pods${pods}.scheduler_rate $sched_rate pods/s scheduler's count: first bind → bind #$sched_n in ${sched_s} s ($nodes hollow nodes)"
echo "FIGURE sched.pods${pods}.gate_to_all_bound $bound_s s claim created → every pod has a node (as kubectl's polls see it)"
echo "FIGURE sched.pods${pods}.gate_rate $gate_rate pods/s pods / gate_to_all_bound"
echo "FIGURE sched.pods${pods}.spread_min $spread_min count pods on the emptiest of $spread_nodes nodes"
echo "FIGURE sched.pods${pods}.spread_max $spread_max count pods on the fullest node"
echo "FIGURE sched.server_rss.pods $rss MiB server with $pods pods bound"
