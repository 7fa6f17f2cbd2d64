#!/usr/bin/env bash
# Integration test: `k3dpp-node server --no-kubelet` (API server, controllers, scheduler) and
# `k3dpp-node agent --hollow 2` as host processes, driven by the real kubectl.
#   create deployment → 3 pods Running on the hollow nodes; scale to 5 and back to 2; a deleted
#   pod is replaced; deleting the deployment removes its pods; kube-system/kube-dns exists.
# Usage: hollow_deployment_test.sh /path/to/k3dpp-node. Exit 1 on the first failed check.
set -u

NODE_BIN=${1:?usage: hollow_deployment_test.sh /path/to/k3dpp-node}
KUBECTL=${KUBECTL:-kubectl}
WORK=$(mktemp -d /tmp/k3dpp-node-hollow-it.XXXXXX)
AGENT_PID=""
OK=0

source "$(dirname "$0")/../../lib/host_server.sh"

cleanup() {
  if [[ -n "$AGENT_PID" ]]; then
    kill "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
  fi
  host_server_stop
  if [[ $OK -ne 1 ]]; then
    echo "--- server log (last 60 lines) ---"
    tail -n 60 "$WORK/server.log" 2>/dev/null
    echo "--- agent log (last 30 lines) ---"
    tail -n 30 "$WORK/agent.log" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

die() {
  echo "FAIL: $*"
  "${K[@]}" get nodes,pods -o wide 2>&1 | sed 's/^/  /'
  exit 1
}

host_server_start "$NODE_BIN" "$WORK" --no-kubelet || die "server did not become ready"
PORT=$HOST_SERVER_PORT

"$NODE_BIN" agent --hollow 2 --server "https://127.0.0.1:$PORT" --token-file "$WORK/data/server/token" \
  >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!

# wait_for DESCRIPTION SECONDS COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    if "$@"; then
      echo "ok: $what"
      return 0
    fi
    sleep 0.5
  done
  die "$what (after ${secs}s)"
}

# The pods of app=web: "<name> <phase> <node> <podIP>" lines, no terminating ones.
web_pods() {
  "${K[@]}" get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name} {.status.phase} {.spec.nodeName} {.status.podIP} {.metadata.deletionTimestamp}{"\n"}{end}' 2>/dev/null
}
# running_on_hollow N: exactly N pods, all Running on hollow-node-*, each with a 10.42.x.y IP.
running_on_hollow() {
  local want=$1 lines
  lines=$(web_pods) || return 1
  [[ $(printf '%s\n' "$lines" | grep -c .) -eq $want ]] || return 1
  [[ $want -eq 0 ]] && return 0
  [[ $(printf '%s\n' "$lines" | grep -cE '^[^ ]+ Running hollow-node-[01] 10\.42\.[0-9]+\.[0-9]+ *$') -eq $want ]]
}

nodes_ready() {
  local out
  out=$("${K[@]}" get nodes --no-headers 2>/dev/null) || return 1
  [[ $(grep -cE '^hollow-node-[01] +Ready ' <<<"$out") -eq 2 ]]
}
pod_cidrs() {
  local out
  out=$("${K[@]}" get nodes -o jsonpath='{range .items[*]}{.spec.podCIDR}{"\n"}{end}' 2>/dev/null) || return 1
  [[ $(grep -cE '^10\.42\.[0-9]+\.0/24$' <<<"$out") -eq 2 ]]
}

wait_for "2 hollow nodes Ready" 60 nodes_ready
wait_for "node controller assigned podCIDRs" 30 pod_cidrs

dns=$("${K[@]}" get svc -n kube-system kube-dns -o jsonpath='{.spec.clusterIP} {.spec.ports[*].name} {.spec.ports[*].protocol} {.metadata.labels.k8s-app}' 2>&1)
[[ "$dns" == "10.43.0.10 dns dns-tcp UDP TCP kube-dns" ]] || die "kube-system/kube-dns: got '$dns'"
echo "ok: Service kube-system/kube-dns 10.43.0.10"

"${K[@]}" create deployment web --image=nginx --replicas=3 || die "kubectl create deployment"
wait_for "3 pods Running on hollow nodes" 60 running_on_hollow 3
spread=$(web_pods | awk '{print $3}' | sort -u | wc -l)
[[ $spread -eq 2 ]] || die "pods not spread over both hollow nodes (on $spread)"
echo "ok: pods spread over both hollow nodes"

avail() { [[ "$("${K[@]}" get deployment web -o jsonpath='{.status.availableReplicas}' 2>/dev/null)" == "$1" ]]; }
wait_for "deployment reports 3 available" 30 avail 3

"${K[@]}" scale deployment web --replicas=5 || die "kubectl scale"
wait_for "scaled up to 5 Running" 60 running_on_hollow 5
"${K[@]}" scale deployment web --replicas=2 || die "kubectl scale"
wait_for "scaled down to 2 Running" 60 running_on_hollow 2

victim=$(web_pods | awk 'NR==1{print $1}')
"${K[@]}" delete pod "$victim" --wait=true --timeout=60s || die "kubectl delete pod $victim"
replaced() {
  running_on_hollow 2 || return 1
  ! web_pods | grep -q "^$victim "
}
wait_for "deleted pod $victim replaced" 60 replaced

"${K[@]}" delete deployment web || die "kubectl delete deployment"
gone() {
  running_on_hollow 0 || return 1
  [[ -z "$("${K[@]}" get rs -l app=web -o name 2>/dev/null)" ]]
}
wait_for "deployment's replicasets and pods gone" 60 gone

OK=1
echo "PASS"
