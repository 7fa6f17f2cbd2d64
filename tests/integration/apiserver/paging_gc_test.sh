#!/usr/bin/env bash
# Integration test: `k3dpp-node server` as a host process WITH its controllers (no kubelet), driven
# by the real kubectl: list pagination (--chunk-size), YAML request bodies, and deletion with
# propagationPolicy Orphan / Foreground / Background through the garbage collector.
# Usage: paging_gc_test.sh /path/to/k3dpp-node
set -u

NODE_BIN=${1:?usage: paging_gc_test.sh /path/to/k3dpp-node}
KUBECTL=${KUBECTL:-kubectl}
WORK=$(mktemp -d /tmp/k3dpp-apiserver-gc.XXXXXX)
FAILURES=0
CHECKS=0

source "$(dirname "$0")/../../lib/host_server.sh"

cleanup() {
  host_server_stop
  if [[ $FAILURES -ne 0 ]]; then
    echo "--- server log (last 40 lines) ---"
    tail -n 40 "$WORK/server.log" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

host_server_start "$NODE_BIN" "$WORK" --no-kubelet || { echo "FAIL: server did not become ready"; exit 1; }
PORT=$HOST_SERVER_PORT

ok() { CHECKS=$((CHECKS + 1)); echo "ok: $1"; }
bad() { CHECKS=$((CHECKS + 1)); FAILURES=$((FAILURES + 1)); echo "FAIL: $1"; }
# expect_eq DESCRIPTION WANT GOT
expect_eq() { if [[ "$2" == "$3" ]]; then ok "$1"; else bad "$1: want [$2], got [$3]"; fi; }
# eventually SECONDS DESCRIPTION -- command...: retries until the command succeeds.
eventually() {
  local secs=$1 what=$2
  shift 3
  local end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    if "$@" >/dev/null 2>&1; then ok "$what"; return 0; fi
    sleep 0.3
  done
  bad "$what (after ${secs}s)"
}

# --- pagination: kubectl get --chunk-size=2 over 7 pods ---
for i in 1 2 3 4 5 6 7; do "${K[@]}" run "p$i" --image=nginx >/dev/null; done
out=$("${K[@]}" get pods --chunk-size=2 -v=6 2>"$WORK/v6.log")
expect_eq "chunked get lists all 7 pods once, in order" "p1 p2 p3 p4 p5 p6 p7" \
  "$(awk 'NR>1{print $1}' <<<"$out" | xargs)"
expect_eq "chunked get prints one header" "1" "$(grep -c '^NAME' <<<"$out")"
expect_eq "kubectl made 4 requests of limit=2" "4" "$(grep -cE 'GET [^ ]*/pods\?[^ ]*limit=2([& ]|$)[^ ]* 200' "$WORK/v6.log")"
expect_eq "3 of them carried a continue token" "3" "$(grep -cE 'GET [^ ]*/pods\?[^ ]*continue=[^ ]* 200' "$WORK/v6.log")"
raw=$("${K[@]}" get --raw '/api/v1/namespaces/default/pods?limit=5')
expect_eq "limit=5: 5 items, remainingItemCount 2" "5 2" \
  "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["items"]), d["metadata"]["remainingItemCount"])' <<<"$raw")"
out=$("${K[@]}" get pods -l run=p3 --chunk-size=1 --no-headers 2>&1 | awk '{print $1}')
expect_eq "chunked get with a selector" "p3" "$out"
out=$("${K[@]}" get --raw '/api/v1/namespaces/default/pods?limit=2&continue=bm9wZQ' 2>&1)
expect_eq "a malformed continue token is a 400" "Error from server (BadRequest): continue key is not valid: not a continue token" "$out"
"${K[@]}" delete pods --all --wait=false >/dev/null

# --- YAML request bodies (curl with the admin client cert) ---
python3 - "$KUBECONFIG" "$WORK" <<'PY'
import base64, sys, re
kc = open(sys.argv[1]).read()
for field, name in (("client-certificate-data", "crt"), ("client-key-data", "key"), ("certificate-authority-data", "ca")):
    m = re.search(field + r": (\S+)", kc)
    open(f"{sys.argv[2]}/{name}.pem", "wb").write(base64.b64decode(m.group(1)))
PY
curl_api() {
  curl -sS --cacert "$WORK/ca.pem" --cert "$WORK/crt.pem" --key "$WORK/key.pem" -o "$WORK/body" -w '%{http_code}' "$@"
}
code=$(curl_api -X POST -H 'Content-Type: application/yaml' --data-binary $'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  port: "8080"\n  on: "true"\n' \
  "https://127.0.0.1:$PORT/api/v1/namespaces/default/configmaps")
expect_eq "POST application/yaml → 201" "201" "$code"
expect_eq "YAML body stored as typed JSON" "8080 true" "$("${K[@]}" get cm from-yaml -o jsonpath='{.data.port} {.data.on}')"
code=$(curl_api -X POST -H 'Content-Type: text/plain' --data-binary 'x' "https://127.0.0.1:$PORT/api/v1/namespaces/default/configmaps")
expect_eq "POST text/plain → 415" "415" "$code"
expect_eq "415 is an UnsupportedMediaType Status" "UnsupportedMediaType" \
  "$(python3 -c 'import json; print(json.load(open("'"$WORK/body"'"))["reason"])')"

# --- garbage collection: --cascade=orphan keeps the ReplicaSet and its pods ---
"${K[@]}" create deploy web --image=nginx --replicas=2 >/dev/null
eventually 60 "deployment web has 2 pods" -- bash -c "[[ \$(${K[*]} get pods -l app=web --no-headers 2>/dev/null | wc -l) == 2 ]]"
rs=$("${K[@]}" get rs -l app=web -o jsonpath='{.items[0].metadata.name}')
pods_before=$("${K[@]}" get pods -l app=web -o jsonpath='{.items[*].metadata.name}')
expect_eq "kubectl delete --cascade=orphan prints" 'deployment.apps "web" deleted' "$("${K[@]}" delete deploy web --cascade=orphan 2>&1)"
eventually 30 "deployment web is gone" -- bash -c "! ${K[*]} get deploy web"
expect_eq "its ReplicaSet stays" "$rs" "$("${K[@]}" get rs "$rs" -o jsonpath='{.metadata.name}')"
expect_eq "the ReplicaSet lost its owner reference" "" "$("${K[@]}" get rs "$rs" -o jsonpath='{.metadata.ownerReferences}')"
sleep 2
expect_eq "its pods stay" "$pods_before" "$("${K[@]}" get pods -l app=web -o jsonpath='{.items[*].metadata.name}')"
"${K[@]}" delete rs "$rs" >/dev/null
eventually 30 "deleting the orphaned ReplicaSet (background) removes its pods" -- \
  bash -c "[[ -z \$(${K[*]} get pods -l app=web -o name) ]]"

# --- foreground: the owner stays, with deletionTimestamp + foregroundDeletion, until a blocking
# dependent is gone ---
"${K[@]}" create deploy fg --image=nginx --replicas=1 >/dev/null
uid=$("${K[@]}" get deploy fg -o jsonpath='{.metadata.uid}')
cat >"$WORK/held.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: held
  finalizers: [example.com/hold]
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: fg, uid: $uid, blockOwnerDeletion: true}
spec:
  containers: [{name: c, image: nginx}]
YAML
"${K[@]}" create -f "$WORK/held.yaml" >/dev/null
eventually 60 "deployment fg has its ReplicaSet" -- bash -c "[[ -n \$(${K[*]} get rs -l app=fg -o name) ]]"
expect_eq "kubectl delete --cascade=foreground --wait=false prints" 'deployment.apps "fg" deleted' \
  "$("${K[@]}" delete deploy fg --cascade=foreground --wait=false 2>&1)"
eventually 30 "the ReplicaSet of fg is deleted first" -- bash -c "[[ -z \$(${K[*]} get rs -l app=fg -o name) ]]"
sleep 1
expect_eq "fg stays visible with the foregroundDeletion finalizer" "true [\"foregroundDeletion\"]" \
  "$("${K[@]}" get deploy fg -o jsonpath='{.metadata.deletionTimestamp}' | sed 's/.\+/true/') $("${K[@]}" get deploy fg -o jsonpath='{.metadata.finalizers}')"
expect_eq "the blocking dependent is being deleted" "true" \
  "$("${K[@]}" get pod held -o jsonpath='{.metadata.deletionTimestamp}' | sed 's/.\+/true/')"
"${K[@]}" patch pod held --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
eventually 30 "once the dependent is gone, fg is removed" -- bash -c "! ${K[*]} get deploy fg"

# --- foreground with kubectl waiting (the default): returns once everything is gone ---
"${K[@]}" create deploy fw --image=nginx --replicas=2 >/dev/null
eventually 60 "deployment fw has 2 pods" -- bash -c "[[ \$(${K[*]} get pods -l app=fw --no-headers 2>/dev/null | wc -l) == 2 ]]"
expect_eq "kubectl delete --cascade=foreground waits and prints" 'deployment.apps "fw" deleted' \
  "$("${K[@]}" delete deploy fw --cascade=foreground 2>&1)"
expect_eq "no ReplicaSet or pod of fw is left" "" "$("${K[@]}" get rs,pods -l app=fw -o name)"

# --- background (kubectl's default) ---
"${K[@]}" create deploy bg --image=nginx --replicas=2 >/dev/null
eventually 60 "deployment bg has 2 pods" -- bash -c "[[ \$(${K[*]} get pods -l app=bg --no-headers 2>/dev/null | wc -l) == 2 ]]"
expect_eq "kubectl delete (background) prints" 'deployment.apps "bg" deleted' "$("${K[@]}" delete deploy bg 2>&1)"
eventually 30 "background: ReplicaSet and pods follow" -- bash -c "[[ -z \$(${K[*]} get rs,pods -l app=bg -o name) ]]"

echo "$CHECKS checks, $FAILURES failed"
[[ $FAILURES -eq 0 ]]
