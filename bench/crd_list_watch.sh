#!/usr/bin/env bash
# Custom resources vs ConfigMaps (figures only, no asserts): starts `k3dpp-node server` as a host
# process (API only) on 127.0.0.1, creates a CRD with a structural schema, 10,000 custom objects of
# it and 10,000 ConfigMaps of similar size (bench/api_load, 8 connections), then times for each
# kind: CREATE (req/s), a full LIST (JSON, median of 5), a LIST as a Table (kubectl's view,
# printer columns for the CRD), and a watch from resourceVersion 0 (every object as ADDED, to the
# last byte). Prints FIGURE lines and each ratio custom/configmap (1.0 = as fast).
# Needs the k3dpp-node and api_load targets in $K3DPP_BUILD_DIR. N=${CRD_BENCH_N:-10000}.
set -uo pipefail
build=${K3DPP_BUILD_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build}
NODE=${CRD_BENCH_NODE:-$build/src/node-image/cmd/k3dpp-node}
LOAD=$build/bench/api_load
for b in "$NODE" "$LOAD"; do
  [[ -x $b ]] || { echo "crd_list_watch: $b missing (scripts/build.sh k3dpp-node api_load)" >&2; exit 1; }
done
N=${CRD_BENCH_N:-10000}
work=$(mktemp -d /tmp/k3dpp-bench-crd.XXXXXX)
srv=""
cleanup() {
  [[ -n $srv ]] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
figure() { printf 'FIGURE %s %s %s %s\n' "$1" "$2" "$3" "${4:-}"; }
field() { sed -nE "s/.*(^| )$1=([^ ]+).*/\2/p" <<<"$2"; }

port=$(free_port)
mkdir -p "$work/data"
"$NODE" server --data-dir "$work/data" --listen "127.0.0.1:$port" --no-kubelet --disable-controllers >"$work/server.log" 2>&1 &
srv=$!
tls=$work/data/server/tls
api() { curl -sS --cacert "$tls/ca.crt" --cert "$tls/admin.crt" --key "$tls/admin.key" "$@"; }
for _ in $(seq 1 150); do
  [[ -f $tls/admin.crt ]] && api -f "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
base=https://127.0.0.1:$port

api -X POST -H 'Content-Type: application/json' "$base/apis/apiextensions.k8s.io/v1/customresourcedefinitions" -d '{
  "apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
  "metadata":{"name":"widgets.bench.example.com"},
  "spec":{"group":"bench.example.com","scope":"Namespaced",
    "names":{"plural":"widgets","singular":"widget","kind":"Widget"},
    "versions":[{"name":"v1","served":true,"storage":true,
      "additionalPrinterColumns":[{"name":"Size","type":"integer","jsonPath":".spec.size"},
                                  {"name":"Colour","type":"string","jsonPath":".spec.colour"}],
      "schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object",
        "properties":{"size":{"type":"integer","minimum":0},"colour":{"type":"string","enum":["red","blue"]},
                      "note":{"type":"string","maxLength":64}}}}}}}]}}' >/dev/null
for _ in $(seq 1 50); do
  api -f "$base/apis/bench.example.com/v1/namespaces/default/widgets" >/dev/null 2>&1 && break
  sleep 0.2
done
cat >"$work/widget.json" <<'JSON'
{"apiVersion":"bench.example.com/v1","kind":"Widget","metadata":{"generateName":"w-"},"spec":{"size":3,"colour":"red","note":"some longer value here"}}
JSON
cat >"$work/cm.json" <<'JSON'
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"w-"},"data":{"size":"3","colour":"red","note":"some longer value here"}}
JSON
C=(--host 127.0.0.1 --port "$port" --cert "$tls/admin.crt" --key "$tls/admin.key")
per=$(((N + 7) / 8))
declare -A create
for kind in widgets configmaps; do
  if [[ $kind == widgets ]]; then path=/apis/bench.example.com/v1/namespaces/default/widgets; body=$work/widget.json
  else path=/api/v1/namespaces/default/configmaps; body=$work/cm.json; fi
  out=$("$LOAD" load "${C[@]}" --path "$path" --method POST --body-file "$body" --content-type application/json \
    --connections 8 --requests "$per" --seconds 600)
  create[$kind]=$(field rps "$out")
  figure "crd.create.$kind" "${create[$kind]}" req/s "C=8, $((per * 8)) objects ($(field errors "$out") errors)"
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() {  # time_ms URL [curl args...]: median wall time of 5 full reads, in ms
  local url=$1; shift
  for _ in 1 2 3 4 5; do
    api -o /dev/null -w '%{time_total}\n' "$@" "$url" | awk '{printf "%.1f\n", $1 * 1000}'
  done | median
}
watch_ms() {  # watch_ms PATH N: ms from the request until N events were read (one line each)
  python3 - "$port" "$tls" "$1" "$2" <<'PY'
import http.client, ssl, sys, time
port, tls, path, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=tls + "/ca.crt")
ctx.load_cert_chain(tls + "/admin.crt", tls + "/admin.key")
c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=120)
t = time.monotonic()
c.request("GET", path + "?watch=1&resourceVersion=0&timeoutSeconds=60")
r = c.getresponse()
seen = 0
while seen < n:
    line = r.readline()
    if not line:
        break
    if b'"type":"ADDED"' in line:
        seen += 1
print("%.1f" % ((time.monotonic() - t) * 1000) if seen == n else "nan")
PY
}
declare -A list table watch
for kind in widgets configmaps; do
  if [[ $kind == widgets ]]; then path=/apis/bench.example.com/v1/namespaces/default/widgets
  else path=/api/v1/namespaces/default/configmaps; fi
  n=$(api "$base$path" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
  list[$kind]=$(time_ms "$base$path")
  table[$kind]=$(time_ms "$base$path" -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io')
  # watch from resourceVersion 0: every object arrives as ADDED; timed to the n-th event
  watch[$kind]=$(for _ in 1 2 3; do watch_ms "$path" "$n"; done | median)
  figure "crd.list.$kind" "${list[$kind]}" ms "LIST of $n (JSON), median of 5"
  figure "crd.table.$kind" "${table[$kind]}" ms "LIST of $n as a Table, median of 5"
  figure "crd.watch.$kind" "${watch[$kind]}" ms "watch from rv 0 until its $n ADDED events are read, median of 3"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
figure crd.ratio.create "$(ratio "${create[configmaps]}" "${create[widgets]}")" x "configmap req/s / custom req/s (1.0 = as fast)"
figure crd.ratio.list "$(ratio "${list[widgets]}" "${list[configmaps]}")" x "custom / configmap LIST time"
figure crd.ratio.table "$(ratio "${table[widgets]}" "${table[configmaps]}")" x "custom / configmap Table LIST time"
figure crd.ratio.watch "$(ratio "${watch[widgets]}" "${watch[configmaps]}")" x "custom / configmap watch time"
