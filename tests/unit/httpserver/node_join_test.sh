#!/usr/bin/env bash
# Two host processes on 127.0.0.1: `k3dpp-node server --no-kubelet` and `k3dpp-node agent`;
# kubectl must show the agent's node Ready. Then: a server that is its own node (no
# --no-kubelet) shows the control-plane roles; a wrong token is refused and never registers;
# SIGTERM ends every process with status 0.
# Usage: node_join_test.sh /path/to/k3dpp-node
set -euo pipefail
BIN=${1:?usage: $0 /path/to/k3dpp-node}
command -v kubectl >/dev/null || { echo "SKIP: kubectl not found"; exit 0; }
WORK=$(mktemp -d /tmp/k3dpp-node-join-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$WORK"/*.log; do echo "== $f"; tail -n 20 "$f"; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export KUBECONFIG="$WORK/data/server/admin.kubeconfig"

PORT=$(free_port)
"$BIN" server --node-name srv --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --no-kubelet \
  >"$WORK/server.log" 2>&1 &
SERVER=$!; PIDS+=("$SERVER")
for _ in $(seq 50); do
  [ -f "$KUBECONFIG" ] && curl -sf --cacert "$WORK/data/server/tls/ca.crt" \
    --cert "$WORK/data/server/tls/admin.crt" --key "$WORK/data/server/tls/admin.key" \
    "https://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.2
done
[ "$(curl -s --cacert "$WORK/data/server/tls/ca.crt" "https://127.0.0.1:$PORT/readyz" | grep -o '"code":401')" = '"code":401' ] \
  || fail "anonymous /readyz is not 401"
kubectl version >/dev/null || fail "kubectl version"

"$BIN" agent --registration-only --node-name agent-a --server "https://127.0.0.1:$PORT" \
  --token-file "$WORK/data/server/token" >"$WORK/agent.log" 2>&1 &
AGENT=$!; PIDS+=("$AGENT")
echo wrong >"$WORK/bad-token"
"$BIN" agent --registration-only --node-name intruder --server "https://127.0.0.1:$PORT" \
  --token-file "$WORK/bad-token" >"$WORK/bad-agent.log" 2>&1 &
BAD=$!; PIDS+=("$BAD")

ready=""
for _ in $(seq 50); do
  ready=$(kubectl get node agent-a -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  [ "$ready" = "True" ] && break
  sleep 0.2
done
[ "$ready" = "True" ] || fail "agent-a is not Ready"
kubectl get nodes | grep -E '^agent-a +Ready +<none> .* v1\.32\.4-k3dpp$' >/dev/null || fail "kubectl get nodes row"
kubectl -n kube-node-lease get lease agent-a -o jsonpath='{.spec.holderIdentity}' | grep -qx agent-a \
  || fail "no lease for agent-a"
sleep 2
grep -q "refused the node token.*check --token-file" "$WORK/bad-agent.log" || fail "no refusal line"
grep -q "wrong" "$WORK/bad-agent.log" && fail "the token leaked into the log"
kubectl get node intruder >/dev/null 2>&1 && fail "the intruder registered"

for p in "$BAD" "$AGENT" "$SERVER"; do
  kill -TERM "$p"
  wait "$p" || fail "process $p exited with $?"
done
PIDS=()

# A server that is also a node: restart on the same data (PKI reused) without --no-kubelet.
"$BIN" server --registration-only --node-name srv --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" \
  >"$WORK/server2.log" 2>&1 &
SERVER=$!; PIDS+=("$SERVER")
roles=""
for _ in $(seq 50); do
  roles=$(kubectl get nodes srv --no-headers 2>/dev/null | awk '{print $2" "$3}' || true)
  [ "$roles" = "Ready control-plane,master" ] && break
  sleep 0.2
done
[ "$roles" = "Ready control-plane,master" ] || fail "server node: got '$roles'"
grep -q "generated the cluster CA" "$WORK/server2.log" && fail "the CA was regenerated on restart"
kill -TERM "$SERVER"; wait "$SERVER" || fail "server exit status"
PIDS=()
echo "PASS"
