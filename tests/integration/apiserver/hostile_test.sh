#!/usr/bin/env bash
# Integration test (issue 15): the requests that crashed, bricked or swelled the API server, sent
# over TLS to the real `k3dpp-node server` (host process, controllers on, no kubelet). Each must get
# its Kubernetes Status while the server keeps serving; stalled unauthenticated connections must
# not grow the thread count; a malformed object written straight into the store (bypassing
# validation) must not stop the server from starting, listing, printing or deleting it.
# Usage: hostile_test.sh /path/to/k3dpp-node
set -u

NODE_BIN=${1:?usage: hostile_test.sh /path/to/k3dpp-node}
WORK=$(mktemp -d /tmp/k3dpp-hostile-it.XXXXXX)
PASSED=0
FAILED=0

source "$(dirname "$0")/../../lib/host_server.sh"

cleanup() {
  [[ -n ${STALL_PID:-} ]] && kill "$STALL_PID" 2>/dev/null
  host_server_stop
  if [[ $FAILED -ne 0 ]]; then
    echo "--- server log (last 40 lines) ---"
    tail -n 40 "$WORK/server.log" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

pass() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
expect_eq() {  # expect_eq WHAT GOT WANT
  if [[ "$2" == "$3" ]]; then pass "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi
}
alive() { kill -0 "$HOST_SERVER_PID" 2>/dev/null && "${K[@]}" get --raw /readyz >/dev/null 2>&1; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$HOST_SERVER_PID/status"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$HOST_SERVER_PID/status"; }

start() {
  host_server_start "$NODE_BIN" "$WORK" --no-kubelet || { echo "FAIL: server did not become ready"; exit 1; }
  kubectl config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$WORK/cert.pem"
  kubectl config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$WORK/key.pem"
  kubectl config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$WORK/ca.pem"
  API=https://127.0.0.1:$HOST_SERVER_PORT
}
start

# req METHOD PATH BODYFILE CONTENT-TYPE → "CODE" (body in $WORK/out)
req() {
  local args=(-s -o "$WORK/out" -w '%{http_code}' --cacert "$WORK/ca.pem" --cert "$WORK/cert.pem"
    --key "$WORK/key.pem" -X "$1" --path-as-is "$API$2")
  [[ -n ${3:-} ]] && args+=(--data-binary "@$3" -H "Content-Type: ${4:-application/json}")
  curl "${args[@]}"
}
message() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("message",""))' "$WORK/out" 2>/dev/null; }
CMS=/api/v1/namespaces/default/configmaps

python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
def put(name, obj):
    open(f"{w}/{name}", "w").write(obj if isinstance(obj, str) else json.dumps(obj))
put("bigkey.json", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bigkey"}, "data": {"k" * 200000: "v"}})
put("bigname.json", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a" * 200000}})
put("biglabel.json", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "l", "labels": {"app": "v" * 100000}}})
put("deep.json", '{"a":' * 100000 + '1' + '}' * 100000)
put("big.json", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"k": "v" * (4 << 20)}})
y = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nx0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
for i in range(1, 10):
    y += f"x{i}: &a{i} [" + ",".join([f"*a{i-1}"] * 10) + "]\n"
put("bomb.yaml", y)
put("cm.json", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
put("pod.json", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                 "spec": {"nodeName": "gone", "containers": [{"name": "c", "image": "nginx"}]}})
put("phase5.json", {"status": {"phase": 5}})
PY

echo "== oversized names, keys, label values; deep JSON; too-large body"
expect_eq "200,000-char data key" "$(req POST $CMS "$WORK/bigkey.json")" 422
expect_eq "200,000-char metadata.name" "$(req POST $CMS "$WORK/bigname.json")" 422
expect_eq "100,000-char label value" "$(req POST $CMS "$WORK/biglabel.json")" 422
expect_eq "  its message" "$(message | grep -o 'must be no more than 63 characters' | head -1)" "must be no more than 63 characters"
expect_eq "create x" "$(req POST $CMS "$WORK/cm.json")" 201
expect_eq "merge patch nested 100,000 deep" "$(req PATCH $CMS/x "$WORK/deep.json" application/merge-patch+json)" 400
expect_eq "  its message" "$(message)" "invalid character '{' exceeded max depth"
expect_eq "4 MiB body" "$(req POST $CMS "$WORK/big.json")" 413
expect_eq "  its message" "$(message)" "Request entity too large: limit is 3145728"
if alive; then pass "server still serving"; else fail "server died"; start; fi

echo "== YAML alias bomb (9 levels x 10)"
rss_before=$(rss_kb)
expect_eq "alias bomb" "$(req POST $CMS "$WORK/bomb.yaml" application/yaml)" 400
expect_eq "  its message" "$(message)" "error converting YAML to JSON: yaml: document contains excessive aliasing"
rss_after=$(rss_kb)
echo "  RSS before ${rss_before} kB, after ${rss_after} kB"
if (( rss_after - rss_before < 100000 )); then pass "RSS grew by less than 100 MB"; else fail "RSS grew by $((rss_after - rss_before)) kB"; fi

echo "== URL decoding and integer parameters"
expect_eq "GET configmaps/%FF" "$(req GET "$CMS/%FF")" 404
expect_eq "GET configmaps/%C3" "$(req GET "$CMS/%C3")" 404
expect_eq "GET configmaps/%ZZ" "$(req GET "$CMS/%ZZ")" 400
expect_eq "GET configmaps/x%" "$(req GET "$CMS/x%")" 400
expect_eq "limit=abc" "$(req GET "$CMS?limit=abc")" 400
expect_eq "  its message" "$(message)" 'strconv.ParseInt: parsing "abc": invalid syntax'
expect_eq "limit=2^64" "$(req GET "$CMS?limit=18446744073709551616")" 400
expect_eq "watch timeoutSeconds=1e9" "$(req GET "$CMS?watch=1&timeoutSeconds=1e9")" 400
expect_eq "delete gracePeriodSeconds=x" "$(req DELETE "$CMS/x?gracePeriodSeconds=x")" 400

echo "== PATCH pods/p/status {\"status\":{\"phase\":5}}"
expect_eq "create pod p" "$(req POST /api/v1/namespaces/default/pods "$WORK/pod.json")" 201
expect_eq "status patch with a number" \
  "$(req PATCH /api/v1/namespaces/default/pods/p/status "$WORK/phase5.json" application/merge-patch+json)" 422
expect_eq "  its message" "$(message | grep -o 'cannot unmarshal number into Go struct field PodStatus.status.phase of type v1.PodPhase' | head -1)" \
  "cannot unmarshal number into Go struct field PodStatus.status.phase of type v1.PodPhase"
expect_eq "kubectl get pod p" "$("${K[@]}" get pod p -o jsonpath='{.metadata.name}' 2>&1)" p

echo "== 600 unauthenticated TLS connections stalling mid-header"
threads_before=$(threads)
python3 - "$HOST_SERVER_PORT" 600 >"$WORK/stall.out" 2>&1 <<'PY' &
import socket, ssl, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
conns = []
for i in range(n):
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5))
        s.sendall(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        conns.append(s)
    except Exception as e:
        pass
print("open", len(conns), flush=True)
time.sleep(20)
PY
STALL_PID=$!
max_threads=$threads_before
ok_during=0
for _ in $(seq 1 30); do
  t=$(threads); (( t > max_threads )) && max_threads=$t
  grep -q '^open' "$WORK/stall.out" 2>/dev/null && break
  sleep 0.5
done
for _ in 1 2 3; do
  t=$(threads); (( t > max_threads )) && max_threads=$t
  "${K[@]}" get ns default -o name >/dev/null 2>&1 && ok_during=$((ok_during + 1))
done
echo "  threads before ${threads_before}, at most ${max_threads} during; $(cat "$WORK/stall.out")"
if (( max_threads <= threads_before + 8 )); then pass "thread count bounded"; else fail "threads grew from $threads_before to $max_threads"; fi
expect_eq "kubectl answered during the attack (3 tries)" "$ok_during" 3
kill "$STALL_PID" 2>/dev/null; wait "$STALL_PID" 2>/dev/null; STALL_PID=""

echo "== malformed objects written straight into the store, then a restart"
host_server_stop
DB="$WORK/data/server/db/state.db"
sqlite3 "$DB" "UPDATE kv SET value = json_set(value, '$.status.phase', 5, '$.status.conditions', 'x',
  '$.status.containerStatuses', json('[{\"name\":7,\"restartCount\":\"a\",\"state\":\"s\"}]'),
  '$.spec.containers[0].name', 9) WHERE key = '/registry/pods/default/p';
  UPDATE kv SET value = json_set(value, '$.metadata.labels', 'notamap', '$.data', json('[1,2]'))
  WHERE key = '/registry/configmaps/default/x';" || fail "sqlite3 update"
host_server_start "$NODE_BIN" "$WORK" --no-kubelet && pass "server starts with the malformed objects" || { fail "server does not start"; exit 1; }
expect_eq "kubectl get pods" "$("${K[@]}" get pods --no-headers 2>&1 | awk '{print $1}')" p
"${K[@]}" get pods -o wide >/dev/null 2>&1 && pass "kubectl get pods -o wide" || fail "kubectl get pods -o wide"
# (kubectl describe decodes into Go types on the client side and refuses such a pod itself:
# "cannot unmarshal number into Go struct field"; the server's part is to serve it.)
"${K[@]}" get pod p -o json >/dev/null 2>&1 && pass "kubectl get pod p -o json" || fail "kubectl get pod p -o json"
"${K[@]}" get cm -o yaml >/dev/null 2>&1 && pass "kubectl get cm -o yaml" || fail "kubectl get cm -o yaml"
expect_eq "kubectl delete pod p" "$("${K[@]}" delete pod p --grace-period=0 --force 2>&1 | grep -o 'pod "p" force deleted')" 'pod "p" force deleted'
expect_eq "kubectl delete cm x" "$("${K[@]}" delete cm x 2>&1)" 'configmap "x" deleted'
if alive; then pass "server still serving"; else fail "server died"; fi
if grep -q "terminate called\|SIGABRT\|Aborted" "$WORK/server.log"; then fail "abort in the server log"; else pass "no abort in the log"; fi

echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
