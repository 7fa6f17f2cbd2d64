#!/usr/bin/env bash
# API server throughput and latency (figures only, no asserts). Starts `k3dpp-node server` as a host
# process (--no-kubelet --disable-controllers: the API alone) on 127.0.0.1 and drives it over TLS
# with the admin client certificate through bench/api_load (keep-alive, C connections):
#   GET one pod and CREATE configmap at C=1, 8 and 50, LIST 1,000 pods at C=1 and 8: req/s, p50, p99
#   (p99 at C=50 printed next to the targets: GET < 2 ms, CREATE < 10 ms; idle RSS < 30 MiB);
#   the same at C=50 in an open loop at a fixed rate (API_BENCH_OPEN_GET_RATE, default 4000 req/s;
#   API_BENCH_OPEN_CREATE_RATE, 1000), ours and the floor; the load generator's CPU per request;
# the same request loops against the floor: nginx (docker, host network, listening on 127.0.0.1)
# serving the same response bytes over TLS with the same serving certificate and client-cert
# verification → ratio = floor req/s / our req/s (how many times the floor's cost we are);
# idle RSS after start and after 1000 more objects; watch fan-out: create → event seen by 10
# watchers. Needs the k3dpp-node and api_load targets in $K3DPP_BUILD_DIR. ~2-3 minutes.
set -uo pipefail
build=${K3DPP_BUILD_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build}
NODE=${API_BENCH_NODE:-$build/src/node-image/cmd/k3dpp-node}  # API_BENCH_NODE: another binary (before/after)
LOAD=$build/bench/api_load
for b in "$NODE" "$LOAD"; do
  [[ -x $b ]] || { echo "api_throughput: $b missing (scripts/build.sh k3dpp-node api_load)" >&2; exit 1; }
done
SECS=${API_BENCH_SECONDS:-3}     # each measured run lasts this long (bounded by MAXREQ requests per connection)
MAXREQ=50000
work=$(mktemp -d /tmp/k3dpp-bench-api.XXXXXX)
floor_name=k3dpp-bench-api-floor-$$
srv=""
cleanup() {
  [[ -n $srv ]] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
  docker rm -f "$floor_name" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
figure() { printf 'FIGURE %s %s %s %s\n' "$1" "$2" "$3" "${4:-}"; }
field() { sed -nE "s/.*(^| )$1=([^ ]+).*/\2/p" <<<"$2"; }
rss_mib() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$1/status"; }

port=$(free_port)
mkdir -p "$work/data"
"$NODE" server --data-dir "$work/data" --listen "127.0.0.1:$port" --no-kubelet --disable-controllers >"$work/server.log" 2>&1 &
srv=$!
tls=$work/data/server/tls
for _ in $(seq 1 150); do
  [[ -f $tls/admin.crt ]] && curl -sf --cacert "$tls/ca.crt" --cert "$tls/admin.crt" --key "$tls/admin.key" \
    "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
C=(--host 127.0.0.1 --cert "$tls/admin.crt" --key "$tls/admin.key")
api() { curl -sS --cacert "$tls/ca.crt" --cert "$tls/admin.crt" --key "$tls/admin.key" "$@"; }
sleep 2
figure api.rss.idle "$(rss_mib "$srv")" MiB "after start, no objects of ours; target <30MiB"

# Fixtures: namespace bench with 1,000 pods.
api -X POST -H 'Content-Type: application/json' "https://127.0.0.1:$port/api/v1/namespaces" \
  -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}}' >/dev/null
cat >"$work/pod.json" <<'JSON'
{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"bench-","labels":{"app":"bench"}},
 "spec":{"containers":[{"name":"nginx","image":"nginx:latest","ports":[{"containerPort":80}]}]}}
JSON
cat >"$work/cm.json" <<'JSON'
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"bench-"},"data":{"key":"value","other":"some longer value here"}}
JSON
"$LOAD" load "${C[@]}" --port "$port" --path /api/v1/namespaces/bench/pods --method POST --body-file "$work/pod.json" \
  --connections 4 --requests 250 >&2
pod=$(api "https://127.0.0.1:$port/api/v1/namespaces/bench/pods?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["metadata"]["name"])')
api "https://127.0.0.1:$port/api/v1/namespaces/bench/pods/$pod" >"$work/get.json"
api "https://127.0.0.1:$port/api/v1/namespaces/bench/pods" >"$work/list.json"
api -X POST -H 'Content-Type: application/json' --data-binary @"$work/cm.json" \
  "https://127.0.0.1:$port/api/v1/namespaces/bench/configmaps" >"$work/create.json"
echo "fixtures: get $(wc -c <"$work/get.json") B, list $(wc -c <"$work/list.json") B, create $(wc -c <"$work/create.json") B" >&2

# RSS with 1000 objects: the 1,000 pods (before the create runs add many configmaps).
sleep 1
figure api.rss.after_1000_objects "$(rss_mib "$srv")" MiB "1,000 pods"

# The floor: nginx serving the same bytes (POST via error_page 405 → 201 with the static file).
fport=$(free_port)
mkdir -p "$work/floor"
cp "$work/get.json" "$work/list.json" "$work/create.json" "$tls/serving.crt" "$tls/serving.key" "$tls/ca.crt" "$work/floor/"
chmod -R a+rX "$work"
create_body=$(tr -d "'\$\\\\" <"$work/create.json")  # inside nginx quotes: no quote, variable or escape
cat >"$work/floor/nginx.conf" <<CONF
worker_processes auto;
pid /tmp/nginx-bench.pid;
error_log /dev/stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path /tmp/nginx-body;
  server {
    listen 127.0.0.1:$fport ssl;
    ssl_certificate /floor/serving.crt;
    ssl_certificate_key /floor/serving.key;
    ssl_client_certificate /floor/ca.crt;
    ssl_verify_client on;
    root /floor;
    default_type application/json;
    location = /get { try_files /get.json =404; }
    location = /list { try_files /list.json =404; }
    location = /create { return 201 '$create_body'; }
  }
}
CONF
have_floor=0
if docker run -d --name "$floor_name" --network host -v "$work/floor:/floor:ro" nginx:latest \
  nginx -c /floor/nginx.conf -g 'daemon off;' >/dev/null 2>"$work/floor.err"; then
  for _ in $(seq 1 50); do
    curl -skf --cert "$tls/admin.crt" --key "$tls/admin.key" "https://127.0.0.1:$fport/get" >/dev/null 2>&1 && { have_floor=1; break; }
    sleep 0.2
  done
fi
[[ $have_floor == 1 ]] || echo "floor: nginx did not start ($(cat "$work/floor.err"); docker logs: $(docker logs "$floor_name" 2>&1 | tail -3))" >&2

# bench NAME "CONCURRENCIES" TARGET_P99_MS_AT_C50 PATH FLOOR_PATH METHOD [BODY]
bench() {
  local name=$1 cs=$2 target=$3 path=$4 fpath=$5 method=$6 body=${7:-}
  local extra=()
  [[ -n $body ]] && extra=(--body-file "$body")
  for c in $cs; do
    local ours floor
    ours=$("$LOAD" load "${C[@]}" --port "$port" --path "$path" --method "$method" "${extra[@]}" --connections "$c" \
      --requests "$MAXREQ" --seconds "$SECS")
    echo "$name c$c ours: $ours" >&2
    figure "api.$name.c$c.rps" "$(field rps "$ours")" req/s "$(field ok "$ours") requests in ${SECS}s, errors=$(field errors "$ours")"
    figure "api.$name.c$c.p50" "$(field p50_ms "$ours")" ms
    figure "api.$name.c$c.client_cpu" "$(field client_cpu_us "$ours")" us "the load generator's own CPU per request"
    if [[ $c == 50 && -n $target ]]; then
      local verdict
      verdict=$(awk -v p="$(field p99_ms "$ours")" -v t="$target" 'BEGIN{print (p + 0 < t + 0 ? "met" : "MISSED")}')
      figure "api.$name.c$c.p99" "$(field p99_ms "$ours")" ms "target <${target}ms ($verdict)"
    else
      figure "api.$name.c$c.p99" "$(field p99_ms "$ours")" ms
    fi
    if [[ $have_floor == 1 ]]; then
      floor=$("$LOAD" load "${C[@]}" --port "$fport" --path "$fpath" --method "$method" "${extra[@]}" --connections "$c" \
        --requests "$MAXREQ" --seconds "$SECS")
      echo "$name c$c floor: $floor" >&2
      figure "api.$name.c$c.floor_rps" "$(field rps "$floor")" req/s "nginx TLS, same response bytes, errors=$(field errors "$floor")"
      figure "api.$name.c$c.floor_p50" "$(field p50_ms "$floor")" ms
      figure "api.$name.c$c.floor_p99" "$(field p99_ms "$floor")" ms
      figure "api.$name.c$c.ratio" "$(awk -v a="$(field rps "$floor")" -v b="$(field rps "$ours")" 'BEGIN{printf "%.1f", (b > 0 ? a / b : 0)}')" x "floor req/s / ours"
    else
      figure "api.$name.c$c.ratio" NA x "no floor (docker nginx unavailable)"
    fi
  done
}
# open NAME RATE TARGET PATH FLOOR_PATH METHOD [BODY]: C=50 open loop — RATE req/s in total, each
# request timed from its scheduled send (a stall counts for every request it delays), ours and the
# floor: latency at a given load instead of at saturation, where a closed loop's latency is
# C / throughput (Little's law) whatever the server does.
open_loop() {
  local name=$1 rate=$2 target=$3 path=$4 fpath=$5 method=$6 body=${7:-}
  local extra=() ours floor verdict
  [[ -n $body ]] && extra=(--body-file "$body")
  ours=$("$LOAD" load "${C[@]}" --port "$port" --path "$path" --method "$method" "${extra[@]}" --connections 50 \
    --requests "$MAXREQ" --seconds "$SECS" --rate "$rate")
  echo "$name open c50 rate $rate ours: $ours" >&2
  verdict=$(awk -v p="$(field p99_ms "$ours")" -v t="$target" 'BEGIN{print (p + 0 < t + 0 ? "met" : "MISSED")}')
  figure "api.$name.c50_open.rps" "$(field rps "$ours")" req/s "offered ${rate} req/s over 50 connections, errors=$(field errors "$ours")"
  figure "api.$name.c50_open.p50" "$(field p50_ms "$ours")" ms
  figure "api.$name.c50_open.p99" "$(field p99_ms "$ours")" ms "target <${target}ms ($verdict)"
  if [[ $have_floor == 1 ]]; then
    floor=$("$LOAD" load "${C[@]}" --port "$fport" --path "$fpath" --method "$method" "${extra[@]}" --connections 50 \
      --requests "$MAXREQ" --seconds "$SECS" --rate "$rate")
    echo "$name open c50 rate $rate floor: $floor" >&2
    figure "api.$name.c50_open.floor_p50" "$(field p50_ms "$floor")" ms
    figure "api.$name.c50_open.floor_p99" "$(field p99_ms "$floor")" ms "nginx TLS, same offered rate"
    figure "api.$name.c50_open.p99_ratio" "$(awk -v a="$(field p99_ms "$floor")" -v b="$(field p99_ms "$ours")" 'BEGIN{printf "%.1f", (a > 0 ? b / a : 0)}')" x "our p99 / floor p99"
  fi
}
bench get_pod "1 8 50" 2 "/api/v1/namespaces/bench/pods/$pod" /get GET
open_loop get_pod "${API_BENCH_OPEN_GET_RATE:-4000}" 2 "/api/v1/namespaces/bench/pods/$pod" /get GET
bench list_1000_pods "1 8" "" /api/v1/namespaces/bench/pods /list GET
bench create_configmap "1 8 50" 10 /api/v1/namespaces/bench/configmaps /create POST "$work/cm.json"
open_loop create_configmap "${API_BENCH_OPEN_CREATE_RATE:-1000}" 10 /api/v1/namespaces/bench/configmaps /create POST "$work/cm.json"
nobj=$(api "https://127.0.0.1:$port/api/v1/namespaces/bench/configmaps" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
figure api.rss.after_create_runs "$(rss_mib "$srv")" MiB "$nobj configmaps + 1,000 pods"

# Watch fan-out: 10 watchers on one namespace; each create timed until every watcher saw it.
api -X POST -H 'Content-Type: application/json' "https://127.0.0.1:$port/api/v1/namespaces" \
  -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"fan"}}' >/dev/null
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME"},"data":{"k":"v"}}' >"$work/fan.json"
rv=$(api "https://127.0.0.1:$port/api/v1/namespaces/fan/configmaps" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
fan=$("$LOAD" fanout "${C[@]}" --port "$port" --watchers 10 --events 30 \
  --watch-path "/api/v1/namespaces/fan/configmaps?watch=1&resourceVersion=$rv" \
  --path /api/v1/namespaces/fan/configmaps --body-file "$work/fan.json")
echo "fanout: $fan" >&2
figure api.watch_fanout.n10.p50 "$(field p50_ms "$fan")" ms "create sent → event read, per watcher, 30 events"
figure api.watch_fanout.n10.p99 "$(field p99_ms "$fan")" ms
figure api.watch_fanout.n10.all_seen_p50 "$(field all_seen_p50_ms "$fan")" ms "until the 10th watcher saw it"
