#!/usr/bin/env bash
# Integration test: HA control plane as host processes on 127.0.0.1 (no engine, no containers).
#   ha-s0 --cluster-init, ha-s1 and ha-s2 --server https://127.0.0.1:<s0> (shared token): a
#   3-member etcd (TLS from the cluster CA), every server serves the same objects and
#   resourceVersions; nodes carry ROLES control-plane,etcd,master; one Lease holder per control
#   loop; a deployment runs on 2 hollow nodes; a non-leader killed (SIGKILL) and the API still
#   works; restarted, it rejoins from its data; the leader killed: leadership moves, a deleted pod
#   is still replaced; a 4th server joins as a 4th etcd member.
# Usage: ha_servers_test.sh /path/to/k3dpp-node. Exit 1 on the first failed check.
set -u

NODE_BIN=${1:?usage: ha_servers_test.sh /path/to/k3dpp-node}
KUBECTL=${KUBECTL:-kubectl}
WORK=$(mktemp -d /tmp/k3dpp-ha-it.XXXXXX)
OK=0
declare -A PID API ETCD_C ETCD_P
AGENT_PID=""

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cleanup() {
  [[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null
  for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null; done
  for n in "${!PID[@]}"; do wait "${PID[$n]}" 2>/dev/null; done
  [[ -n $AGENT_PID ]] && wait "$AGENT_PID" 2>/dev/null
  if [[ $OK -ne 1 ]]; then
    for n in "${!PID[@]}"; do
      echo "--- $n log (last 25 lines) ---"
      tail -n 25 "$WORK/$n.log" 2>/dev/null
      echo "--- $n etcd log (last 10 lines) ---"
      tail -n 10 "$WORK/$n/server/etcd.log" 2>/dev/null
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

die() {
  echo "FAIL: $*"
  k ha-s0 get nodes,pods -o wide 2>&1 | sed 's/^/  /'
  exit 1
}

# k SERVER ARGS...: kubectl against that server's API directly.
k() {
  local n=$1
  shift
  "$KUBECTL" --kubeconfig "$WORK/kubeconfig" --server "https://127.0.0.1:${API[$n]}" --cache-dir "$WORK/cache" \
    --request-timeout=20s "$@"
}

wait_for() {
  local what=$1 secs=$2
  shift 2
  local end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    if "$@" >/dev/null 2>&1; then
      echo "ok: $what"
      return 0
    fi
    sleep 1
  done
  die "$what (after ${secs}s)"
}

echo "k3dpp-ha-$RANDOM$RANDOM" >"$WORK/token"
echo "k3dpp-ha-servers-$RANDOM$RANDOM" >"$WORK/server-token"

# start_server NAME [--cluster-init | --server URL]: ports are chosen once per name (a restart reuses them).
start_server() {
  local n=$1
  shift
  [[ -n ${API[$n]:-} ]] || { API[$n]=$(free_port); ETCD_C[$n]=$(free_port); ETCD_P[$n]=$(free_port); }
  "$NODE_BIN" server --node-name "$n" --data-dir "$WORK/$n" --listen "127.0.0.1:${API[$n]}" \
    --token-file "$WORK/token" --server-token-file "$WORK/server-token" --advertise-address 127.0.0.1 --etcd-listen 127.0.0.1 \
    --etcd-client-port "${ETCD_C[$n]}" --etcd-peer-port "${ETCD_P[$n]}" --registration-only \
    --leader-elect-lease-duration 8 --leader-elect-renew-deadline 5000 --leader-elect-retry-period 1000 \
    "$@" >>"$WORK/$n.log" 2>&1 &
  PID[$n]=$!
}

ready() {
  kill -0 "${PID[$1]}" 2>/dev/null || die "$1 exited; last lines: $(tail -n 5 "$WORK/$1.log")"
  k "$1" get --raw /readyz
}

start_server ha-s0 --cluster-init
for _ in $(seq 1 120); do [[ -f $WORK/ha-s0/server/admin.kubeconfig ]] && break; sleep 0.5; done
cp "$WORK/ha-s0/server/admin.kubeconfig" "$WORK/kubeconfig" 2>/dev/null || die "no admin kubeconfig from ha-s0"
wait_for "ha-s0 (--cluster-init) serves the API from etcd" 120 ready ha-s0
grep -q "etcd: initializing a new cluster" "$WORK/ha-s0.log" || die "ha-s0 did not start etcd"
S0="https://127.0.0.1:${API[ha-s0]}"
# The node token (every agent has it) must not buy the CA key: only the servers' token does.
bootstrap_status() {
  curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ha-s0/server/tls/ca.crt" -X POST \
    -H "Authorization: Bearer $(cat "$1")" -H 'Content-Type: application/json' -d '{}' "$S0/k3dpp/v1/server-bootstrap"
}
[[ $(bootstrap_status "$WORK/token") == 401 ]] || die "server-bootstrap answered the node token with $(bootstrap_status "$WORK/token"), want 401"
echo "ok: server-bootstrap refuses the node token (401)"
[[ $(bootstrap_status "$WORK/server-token") == 200 ]] || die "server-bootstrap refused the servers' token"
echo "ok: server-bootstrap answers the servers' token (200)"
start_server ha-s1 --server "$S0"
wait_for "ha-s1 joined (--server)" 180 ready ha-s1
start_server ha-s2 --server "$S0"
wait_for "ha-s2 joined (--server)" 180 ready ha-s2

# etcd membership: 3 voting members.
members() {
  ETCDCTL_API=3 etcdctl --endpoints "https://127.0.0.1:${ETCD_C[$1]}" --cacert "$WORK/ha-s0/server/tls/ca.crt" \
    --cert "$WORK/ha-s0/server/tls/etcd.crt" --key "$WORK/ha-s0/server/tls/etcd.key" member list 2>/dev/null
}
three_members() { [[ $(members ha-s0 | grep -c ", started, ha-s.*, false") -eq 3 ]]; }
wait_for "etcd has 3 started voting members" 60 three_members

"$NODE_BIN" agent --hollow 2 --node-name ha-hollow --server "https://127.0.0.1:${API[ha-s1]}" \
  --token-file "$WORK/token" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
five_ready() { [[ $(k ha-s2 get nodes --no-headers 2>/dev/null | grep -c " Ready ") -eq 5 ]]; }
wait_for "3 servers + 2 hollow nodes Ready (seen from ha-s2)" 120 five_ready
roles=$(k ha-s1 get nodes --no-headers | awk '$1=="ha-s1"{print $3}')
[[ $roles == "control-plane,etcd,master" ]] || die "ROLES of ha-s1: '$roles'"
echo "ok: ROLES control-plane,etcd,master"

# The same object, with the same resourceVersion, from every server.
k ha-s0 create configmap ha-cm --from-literal=k=v >/dev/null || die "create configmap via ha-s0"
rv0=$(k ha-s0 get configmap ha-cm -o jsonpath='{.metadata.resourceVersion}')
for n in ha-s1 ha-s2; do
  rv=$(k $n get configmap ha-cm -o jsonpath='{.metadata.resourceVersion}:{.data.k}')
  [[ $rv == "$rv0:v" ]] || die "$n sees ha-cm as '$rv', ha-s0 as '$rv0:v'"
done
echo "ok: ha-cm resourceVersion $rv0 on all three servers"
k ha-s2 patch configmap ha-cm -p '{"data":{"k":"w"}}' >/dev/null || die "patch via ha-s2"
[[ $(k ha-s0 get configmap ha-cm -o jsonpath='{.data.k}') == w ]] || die "ha-s0 does not see ha-s2's write"
echo "ok: a write through ha-s2 is seen through ha-s0"

holder() { k ha-s0 get lease -n kube-system "$1" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
one_leader() { [[ -n $(holder kube-controller-manager) && -n $(holder kube-scheduler) ]]; }
wait_for "kube-controller-manager and kube-scheduler Leases are held" 60 one_leader
leader=$(holder kube-controller-manager)
leader=${leader%%_*}
echo "ok: controller-manager leader is $leader"
[[ $(grep -l "kube-controller-manager: .* became the leader" "$WORK"/ha-s*.log | wc -l) -eq 1 ]] ||
  die "more than one server became controller-manager leader"

# The servers here run no kubelet (--registration-only): pods go to the hollow nodes.
k ha-s0 label nodes ha-hollow-0 ha-hollow-1 pool=hollow >/dev/null || die "label hollow nodes"
k ha-s0 apply -f - >/dev/null <<'YAML' || die "create deployment"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      nodeSelector: {pool: hollow}
      containers:
      - name: nginx
        image: nginx:1.24
YAML
three_running() { [[ $(k "$1" get pods -l app=web --no-headers 2>/dev/null | grep -c Running) -eq 3 ]]; }
wait_for "deployment web: 3 pods Running" 120 three_running ha-s1

# Kill a server that is not the leader: the API keeps working through the others.
other=ha-s0
[[ $leader == ha-s0 ]] && other=ha-s1
alive=ha-s2
[[ $leader == ha-s2 ]] && alive=ha-s1
[[ $alive == "$other" ]] && alive=ha-s0
etcd_pid=$(pgrep -P "${PID[$other]}" -x etcd)
kill -9 "${PID[$other]}" $etcd_pid
wait "${PID[$other]}" 2>/dev/null
unset "PID[$other]"
echo "ok: killed $other (not the leader)"
k "$alive" create configmap after-kill --from-literal=a=b >/dev/null || die "create through $alive with $other down"
echo "ok: writes work with $other down"
start_server "$other"  # no --server: the etcd data in its data dir makes it an HA server again
wait_for "$other restarted from its data and serves again" 180 ready "$other"
[[ $(k "$other" get configmap after-kill -o jsonpath='{.data.a}') == b ]] || die "$other misses the write made while it was down"
echo "ok: $other caught up (sees after-kill)"
grep -q "etcd: restarting member $other" "$WORK/$other.log" || die "$other did not restart its etcd member from data"

# Kill the leader: another server takes the Leases; the deployment still self-heals.
etcd_pid=$(pgrep -P "${PID[$leader]}" -x etcd)
kill -9 "${PID[$leader]}" $etcd_pid
wait "${PID[$leader]}" 2>/dev/null
unset "PID[$leader]"
echo "ok: killed the leader $leader"
k_alive() { k "$alive" "$@"; }
moved() {
  local h
  h=$(k "$alive" get lease -n kube-system kube-controller-manager -o jsonpath='{.spec.holderIdentity}')
  [[ -n $h && ${h%%_*} != "$leader" ]]
}
wait_for "controller-manager leadership moved away from $leader" 90 moved
victim=$(k "$alive" get pods -l app=web --no-headers -o custom-columns=N:.metadata.name | head -1)
k "$alive" delete pod "$victim" --wait=false >/dev/null || die "delete pod $victim"
healed() {
  local pods
  pods=$(k "$alive" get pods -l app=web --no-headers 2>/dev/null)
  [[ $(grep -c Running <<<"$pods") -eq 3 ]] && ! grep -q "^$victim " <<<"$pods"
}
wait_for "deployment self-heals under the new leader" 120 healed
start_server "$leader"
wait_for "$leader rejoined" 180 ready "$leader"

# A fourth server joins through any server: 4 etcd members.
start_server ha-s3 --server "https://127.0.0.1:${API[$alive]}"
wait_for "ha-s3 joined" 180 ready ha-s3
four_members() { [[ $(members "$alive" | grep -c ", started, ha-s.*, false") -eq 4 ]]; }
wait_for "etcd has 4 started voting members" 60 four_members
[[ $(k ha-s3 get configmap ha-cm -o jsonpath='{.metadata.resourceVersion}') -ge $rv0 ]] || die "ha-s3 does not serve ha-cm"
echo "ok: ha-s3 serves the cluster's objects"

OK=1
echo "PASS: ha_servers_test"
