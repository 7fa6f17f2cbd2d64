#!/usr/bin/env bash
# Pod start-up on a 1 server + 1 agent cluster: the time from `kubectl apply` of N pods (busybox
# sleep, image already imported, imagePullPolicy IfNotPresent) until all are Ready, each pod's
# creation → Ready (p50/max, 1 s resolution of the API timestamps), the time to delete them, and
# the memory (VmRSS) of k3dpp-node and containerd inside each node container, idle and with the
# pods running (plus the runc shims). Figures only. Env: POD_BENCH_SIZES (default "10 30").
set -euo pipefail
: "${K3DPP:?}"
sizes=${POD_BENCH_SIZES:-10 30}
name=bench-basics-pods-$RANDOM
export KUBECONFIG=$(mktemp /tmp/k3dpp-bench-kc-XXXXXX)
manifest=$(mktemp /tmp/k3dpp-bench-pods-XXXXXX.yaml)
cleanup() {
  "$K3DPP" cluster delete "$name" >/dev/null 2>&1 || true
  rm -f "$KUBECONFIG" "$manifest"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

echo "creating $name (1 server, 1 agent)" >&2
"$K3DPP" cluster create "$name" --servers 1 --agents 1 >&2
"$K3DPP" image import busybox:latest -c "$name" >&2
server=k3dpp-$name-server-0
agent=k3dpp-$name-agent-0

# rss NODE PROCESS: VmRSS in MiB of the processes named PROCESS in a node container (summed).
rss() {
  docker exec "$1" sh -c "for d in /proc/[0-9]*; do
      [ \"\$(cat \$d/comm 2>/dev/null)\" = '$2' ] && sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' \$d/status
    done" 2>/dev/null | awk '{s += $1} END {if (NR) printf "%.1f", s / 1024; else print "NA"}'
}
report_rss() { # $1 = when (idle|pods)
  if [ "$1" != idle ]; then
    printf 'FIGURE pods.rss.%s.agent.shims %s MiB containerd-shim-runc-v2, all pods of the agent\n' "$1" \
      "$(rss "$agent" containerd-shim)"
  fi
  printf 'FIGURE pods.rss.%s.server.k3dpp-node %s MiB server, controllers+apiserver+kubelet\n' "$1" "$(rss "$server" k3dpp-node)"
  printf 'FIGURE pods.rss.%s.agent.k3dpp-node %s MiB agent, kubelet+proxy+dns\n' "$1" "$(rss "$agent" k3dpp-node)"
  printf 'FIGURE pods.rss.%s.server.containerd %s MiB\n' "$1" "$(rss "$server" containerd)"
  printf 'FIGURE pods.rss.%s.agent.containerd %s MiB\n' "$1" "$(rss "$agent" containerd)"
}
sleep 5  # let the nodes settle after start-up before the idle figures
report_rss idle

run_size() { # $1 = number of pods
  local n=$1 t0 t1 all_ready
  for i in $(seq 1 "$n"); do
    cat <<YAML
---
apiVersion: v1
kind: Pod
metadata:
  name: bench-$i
  labels: {app: bench}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
YAML
  done >"$manifest"

  echo "apply $n pods" >&2
  t0=$(now)
  kubectl apply -f "$manifest" >/dev/null
  kubectl wait --for=condition=Ready pod -l app=bench --timeout=300s >/dev/null
  all_ready=$(since "$t0")
  printf 'FIGURE pods.startup.%d.all_ready %s s apply of %d pods until all Ready (1+1 nodes)\n' "$n" "$all_ready" "$n"

  # Per pod: creationTimestamp → Ready condition's lastTransitionTime (seconds).
  kubectl get pods -l app=bench -o jsonpath='{range .items[*]}{.metadata.creationTimestamp} {.status.conditions[?(@.type=="Ready")].lastTransitionTime} {.spec.nodeName}{"\n"}{end}' |
    while read -r created ready node; do
      echo "$(($(date -d "$ready" +%s) - $(date -d "$created" +%s))) $node"
    done >"$manifest.per-pod"
  sort -n "$manifest.per-pod" | awk -v n="$n" '
    { v[NR] = $1; nodes[$2]++ }
    END {
      spread = ""; for (k in nodes) spread = spread sprintf("%s=%d ", k, nodes[k])
      printf "FIGURE pods.startup.%d.per_pod.p50 %d s created->Ready, %s\n", n, v[int((NR + 1) / 2)], spread
      printf "FIGURE pods.startup.%d.per_pod.max %d s created->Ready\n", n, v[NR]
    }' | sed "s/k3dpp-$name-//g"
  rm -f "$manifest.per-pod"
  sleep 3
  report_rss "pods$n"

  echo "delete $n pods" >&2
  t1=$(now)
  kubectl delete pods -l app=bench --wait=true >/dev/null
  printf 'FIGURE pods.delete.%d.all_gone %s s delete of %d pods (grace 1 s) until all gone\n' "$n" "$(since "$t1")" "$n"
}

for n in $sizes; do run_size "$n"; done
