#!/usr/bin/env bash
# Job throughput on hollow nodes, no containers: `k3dpp-node server --no-kubelet` and
# `k3dpp-node agent --hollow N` as host processes on 127.0.0.1, driven by kubectl. One Job of
# JOB_BENCH_COMPLETIONS (500) completions at parallelism JOB_BENCH_PARALLELISM (50) whose pods the
# hollow kubelets finish at once (test-only annotation hollow.k3dpp.io/exit-code: "0"): the time
# from create to the Complete condition, completions/s, and the check that exactly that many pods
# succeeded. What it measures is the control plane's per-completion cost: the Job controller's pod
# creates, the scheduler's binds, the pod status writes and the controller's finalizer/status
# tracking (two status writes and one pod patch per completion). Prints figures (bench/README.md).
#   JOB_BENCH_NODES (default 20), JOB_BENCH_TIMEOUT (s, default 300).
set -uo pipefail
build=${K3DPP_BUILD_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build}
node_bin=${K3DPP_NODE_BIN:-$build/src/node-image/cmd/k3dpp-node}
completions=${JOB_BENCH_COMPLETIONS:-500}
parallelism=${JOB_BENCH_PARALLELISM:-50}
nodes=${JOB_BENCH_NODES:-20}
[[ -x $node_bin ]] || { echo "no k3dpp-node at $node_bin (build target k3dpp-node)" >&2; exit 1; }

work=$(mktemp -d /tmp/k3dpp-bench-job-XXXXXX)
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
((n >= nodes)) || { echo "hollow nodes did not all become Ready ($n/$nodes)" >&2; tail -n 20 "$work/agent.log" >&2; exit 1; }
sleep 2

cat >"$work/job.yaml" <<YAML
apiVersion: batch/v1
kind: Job
metadata:
  name: bench
spec:
  completions: $completions
  parallelism: $parallelism
  template:
    metadata:
      annotations:
        hollow.k3dpp.io/exit-code: "0"
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:latest
YAML
t0=$(now)
"${K[@]}" create -f "$work/job.yaml" >/dev/null || exit 1
done_s=NA
end=$((SECONDS + ${JOB_BENCH_TIMEOUT:-300}))
while ((SECONDS < end)); do
  c=$("${K[@]}" get job bench -o jsonpath='{.status.conditions[?(@.type=="Complete")].status}' 2>/dev/null)
  if [[ $c == True ]]; then done_s=$(since "$t0"); break; fi
  sleep 0.25
done
succeeded=$("${K[@]}" get job bench -o jsonpath='{.status.succeeded}' 2>/dev/null)
pods_ok=$("${K[@]}" get pods -l job-name=bench --no-headers 2>/dev/null | grep -c ' Completed ')
pods_all=$("${K[@]}" get pods -l job-name=bench --no-headers 2>/dev/null | grep -c .)
echo "Complete after ${done_s}s: status.succeeded=${succeeded:-0}, $pods_ok Completed pods of $pods_all" >&2
rate=NA
[[ $done_s != NA ]] && rate=$(awk -v n="$completions" -v s="$done_s" 'BEGIN{printf "%.1f", n/s}')
echo "FIGURE jobs.job${completions}p${parallelism}.complete $done_s s create job → Complete ($nodes hollow nodes)"
echo "FIGURE jobs.job${completions}p${parallelism}.rate $rate completions/s completions/complete"
echo "FIGURE jobs.job${completions}p${parallelism}.succeeded ${succeeded:-0} pods status.succeeded (must be $completions; pods Completed: $pods_ok of $pods_all)"
[[ ${succeeded:-0} == "$completions" && $pods_ok == "$completions" && $pods_all == "$completions" ]]
