#!/usr/bin/env bash
# Ingress cost and reaction times, seen from the host through the load balancer:
#  - requests/s and p99 of GET / on nginx pods through the Ingress (host:HTTP → LB:80 → node :80 →
#    the server's ingress nginx → pod) next to the same requests through a NodePort of the same
#    Service (host:NP → LB:30080 → node → iptables DNAT → pod): the ratio is the Ingress' overhead.
#    bench/api_load --plain 1, keep-alive, C=8 connections (900 requests each), best of INGRESS_BENCH_ROUNDS
#    (default 3) interleaved rounds;
#  - reload time: `kubectl apply` of an Ingress with a new host until that host answers 200 (curl
#    every ~20 ms), median of 5;
#  - endpoint-change propagation: a Ready pod labelled into a Service (`kubectl label`) until the
#    Ingress routes to it (503 → 200), and labelled out until 503; the same through the NodePort
#    (iptables proxy) as the floor. Median of 5 each.
# Figures only (contract: bench/README.md). Every loop is bounded. Needs api_load in $K3DPP_BUILD_DIR.
set -euo pipefail
: "${K3DPP:?}"
build=${K3DPP_BUILD_DIR:-$(dirname "$0")/../build}
LOAD=$build/bench/api_load
[[ -x $LOAD ]] || { echo "ingress_http: $LOAD missing (scripts/build.sh api_load)" >&2; exit 1; }
rounds=${INGRESS_BENCH_ROUNDS:-3}
name=bench-ing-$RANDOM
export KUBECONFIG=$(mktemp /tmp/k3dpp-bench-kc-XXXXXX)
cleanup() {
  "$K3DPP" cluster delete "$name" >/dev/null 2>&1 || true
  rm -f "$KUBECONFIG"
}
trap cleanup EXIT
log() { echo "ingress_http: $*" >&2; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
http=$(free_port)
np=$(free_port)
np2=$(free_port)

log "creating cluster $name (-p $http:80@loadbalancer -p $np:30080@server:0 -p $np2:30081@server:0)"
"$K3DPP" cluster create "$name" --agents 1 -p "$http:80@loadbalancer" -p "$np:30080@server:0" -p "$np2:30081@server:0" >&2
"$K3DPP" image import nginx:1.24 busybox:latest -c "$name" >&2
kubectl create deployment web --image=nginx:1.24 --replicas=2 >&2
kubectl create service nodeport web --tcp=80:80 --node-port=30080 >&2
kubectl create ingress web --rule="bench.local/*=web:80" >&2
kubectl apply -f - >&2 <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: flip}
spec:
  type: NodePort
  selector: {role: flip}
  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]
YAML
kubectl create ingress flip --rule="flip.local/*=flip:80" >&2
kubectl run flipper --image=busybox:latest --image-pull-policy=IfNotPresent --labels=role=spare \
  -- sh -c 'mkdir -p /www && echo flip > /www/index.html && exec httpd -f -p 8080 -h /www' >&2
kubectl rollout status deployment/web --timeout=180s >&2
kubectl wait --for=condition=Ready pod/flipper --timeout=180s >&2

code() { curl -s -o /dev/null --max-time 2 -w '%{http_code}' -H "Host: $1" "http://127.0.0.1:$2/" || true; }
for _ in $(seq 1 90); do [ "$(code bench.local "$http")" = 200 ] && break; sleep 1; done
for _ in $(seq 1 90); do [ "$(code x "$np")" = 200 ] && break; sleep 1; done

# ---- throughput and p99
# 900 requests per connection: nginx (pods and ingress) closes a keep-alive connection after 1000.
load() { "$LOAD" load --plain 1 --host 127.0.0.1 --port "$1" --host-header "$2" --path / --connections 8 \
  --requests 900 --seconds 5 || true; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
load "$http" bench.local >/dev/null; load "$np" x >/dev/null  # warm-up
best_ing_rps=0; best_ing_p99=; best_np_rps=0; best_np_p99=
for r in $(seq 1 "$rounds"); do
  a=$(load "$http" bench.local); b=$(load "$np" x)
  log "round $r ingress: $a"
  log "round $r nodeport: $b"
  if awk -v x="$(field rps "$a")" -v y="$best_ing_rps" 'BEGIN{exit !(x>y)}'; then best_ing_rps=$(field rps "$a"); best_ing_p99=$(field p99_ms "$a"); fi
  if awk -v x="$(field rps "$b")" -v y="$best_np_rps" 'BEGIN{exit !(x>y)}'; then best_np_rps=$(field rps "$b"); best_np_p99=$(field p99_ms "$b"); fi
done
echo "FIGURE ingress.http.rps $best_ing_rps req/s GET / on 2 nginx pods through the Ingress, C=8 keep-alive (900 requests each), best of $rounds"
echo "FIGURE ingress.http.p99 $best_ing_p99 ms same run"
echo "FIGURE nodeport.http.rps $best_np_rps req/s same requests through a NodePort (the floor)"
echo "FIGURE nodeport.http.p99 $best_np_p99 ms same run"
echo "FIGURE ingress_vs_nodeport.rps.ratio $(awk -v a="$best_ing_rps" -v b="$best_np_rps" 'BEGIN{printf "%.3f", a/b}') x Ingress/NodePort"
echo "FIGURE ingress_vs_nodeport.p99.ratio $(awk -v a="$best_ing_p99" -v b="$best_np_p99" 'BEGIN{printf "%.3f", a/b}') x Ingress/NodePort"

# ---- helpers for timings: ms until CODE answers for HOST on PORT (bounded: 10 s)
until_code() {
  local want=$1 host=$2 port=$3 t0=$4 i
  for i in $(seq 1 500); do
    [ "$(code "$host" "$port")" = "$want" ] && { echo $(( $(now_ms) - t0 )); return; }
    sleep 0.02
  done
  echo NA
}
median() { printf '%s\n' "$@" | grep -v NA | sort -n | awk '{v[NR]=$1} END {print NR ? v[int((NR+1)/2)] : "NA"}'; }

# ---- reload time after an Ingress change
reloads=()
for i in 1 2 3 4 5; do
  t0=$(now_ms)
  kubectl create ingress "new$i" --rule="new$i.local/*=web:80" >/dev/null
  reloads+=("$(until_code 200 "new$i.local" "$http" "$t0")")
done
log "reload ms: ${reloads[*]}"
echo "FIGURE ingress.reload.apply_to_served $(median "${reloads[@]}") ms kubectl create ingress (new host) until it answers 200, median of 5"

# ---- endpoint-change propagation
ing_in=(); ing_out=(); np_in=(); np_out=()
for i in 1 2 3 4 5; do
  t0=$(now_ms); kubectl label pod flipper role=flip --overwrite >/dev/null
  ing_in+=("$(until_code 200 flip.local "$http" "$t0")")
  np_in+=("$(until_code 200 x "$np2" "$t0")")
  t0=$(now_ms); kubectl label pod flipper role=spare --overwrite >/dev/null
  ing_out+=("$(until_code 503 flip.local "$http" "$t0")")
  np_out+=("$(until_code 000 x "$np2" "$t0")")
done
log "ingress endpoint add ms: ${ing_in[*]}; remove ms: ${ing_out[*]}"
log "nodeport endpoint add ms (measured after the ingress one): ${np_in[*]}; remove ms: ${np_out[*]}"
echo "FIGURE ingress.endpoints.add_to_served $(median "${ing_in[@]}") ms pod labelled into the Service until the Ingress routes to it, median of 5"
echo "FIGURE ingress.endpoints.remove_to_503 $(median "${ing_out[@]}") ms pod labelled out until the Ingress answers 503, median of 5"
echo "FIGURE nodeport.endpoints.remove_to_refused $(median "${np_out[@]}") ms the same removal seen through the NodePort (iptables proxy; measured after the Ingress answered), median of 5"
