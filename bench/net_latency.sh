#!/usr/bin/env bash
# Service proxy and cluster DNS cost, seen from a pod: a busybox client times N sequential HTTP
# requests (busybox wget, one process and one connection each) to an nginx pod by its pod IP and
# by its ClusterIP (DNAT by the proxy's iptables rules), and N lookups of the service's name
# (busybox nslookup: A and AAAA through 10.43.0.10 → node-local DNS). Prints per-request times and
# the ratio ClusterIP / pod IP. Figures only. N=NET_BENCH_N (default 200), best of
# NET_BENCH_ROUNDS (default 5) interleaved rounds; every loop is bounded (timeout 300 on the exec).
# Cluster: 1 server + 1 agent; the client and nginx are pinned to different nodes (the usual case).
set -euo pipefail
: "${K3DPP:?}"
n=${NET_BENCH_N:-200}
name=bench-net-$RANDOM
export KUBECONFIG=$(mktemp /tmp/k3dpp-bench-kc-XXXXXX)
cleanup() {
  "$K3DPP" cluster delete "$name" >/dev/null 2>&1 || true
  rm -f "$KUBECONFIG"
}
trap cleanup EXIT
log() { echo "net_latency: $*" >&2; }

log "creating cluster $name"
"$K3DPP" cluster create "$name" --agents 1 >&2
"$K3DPP" image import nginx:1.24 busybox:latest -c "$name" >&2
server=k3dpp-$name-server-0
agent=k3dpp-$name-agent-0
kubectl run target --image=nginx:1.24 --labels=app=target --port=80 \
  --overrides="{\"spec\":{\"nodeName\":\"$agent\"}}" >&2
kubectl run client --image=busybox:latest --image-pull-policy=IfNotPresent \
  --overrides="{\"spec\":{\"nodeName\":\"$server\"}}" -- sleep 3600 >&2
kubectl expose pod target --port=80 --name=target >&2
kubectl wait --for=condition=Ready pod/target pod/client --timeout=180s >&2

pod_ip=$(kubectl get pod target -o jsonpath='{.status.podIP}')
cluster_ip=$(kubectl get svc target -o jsonpath='{.spec.clusterIP}')
log "pod IP $pod_ip, ClusterIP $cluster_ip, N=$n"
# Wait until the service answers (endpoints and rules in place) before timing.
for _ in $(seq 1 60); do
  kubectl exec client -- timeout 5 wget -q -O /dev/null "http://$cluster_ip/" 2>/dev/null && break
  sleep 1
done

# Seconds (busybox `time`, 10 ms resolution) for N runs of CMD inside the client.
time_loop() {
  local cmd=$1 out
  out=$(timeout 300 kubectl exec client -- sh -c \
    "time sh -c 'i=0; while [ \$i -lt $n ]; do $cmd >/dev/null 2>&1 || exit 1; i=\$((i+1)); done'" 2>&1) || {
    log "loop failed: $cmd: $out"
    echo NA
    return
  }
  awk '/^real/ { sub("m", "", $2); sub("s", "", $3); print $2 * 60 + $3 }' <<<"$out"
}
per_ms() { [ "$1" = NA ] && echo NA || awk -v t="$1" -v n="$n" 'BEGIN { printf "%.3f", t * 1000 / n }'; }

# Warm-up, then R rounds alternating pod IP and ClusterIP; the fastest round of each counts (the
# machine is shared: the minimum is the run least disturbed by others).
rounds=${NET_BENCH_ROUNDS:-5}
time_loop "wget -q -O- http://$pod_ip/" >/dev/null
pods=() cips=() floors=() dnss=()
for _ in $(seq 1 "$rounds"); do
  pods+=("$(time_loop "wget -q -O- http://$pod_ip/")")
  cips+=("$(time_loop "wget -q -O- http://$cluster_ip/")")
  floors+=("$(time_loop "/bin/true")")
  dnss+=("$(time_loop "nslookup target.default.svc.cluster.local.")")
done
log "pod IP ${pods[*]} s, ClusterIP ${cips[*]} s, loop floor ${floors[*]} s, DNS ${dnss[*]} s (each for N=$n)"

minimum() { printf '%s\n' "$@" | awk '$1 != "NA" && (m == "" || $1 < m) { m = $1 } END { print m == "" ? "NA" : m }'; }
pod=$(minimum "${pods[@]}")
cip=$(minimum "${cips[@]}")
floor=$(minimum "${floors[@]}")
dns=$(minimum "${dnss[@]}")
echo "FIGURE net.http.pod_ip.per_req $(per_ms "$pod") ms N=$n sequential busybox wget, client and nginx on different nodes, best of $rounds"
echo "FIGURE net.http.cluster_ip.per_req $(per_ms "$cip") ms N=$n same requests to the ClusterIP (iptables DNAT), best of $rounds"
if [ "$pod" = NA ] || [ "$cip" = NA ]; then
  echo "FIGURE net.http.cluster_ip_vs_pod_ip.ratio NA x"
else
  echo "FIGURE net.http.cluster_ip_vs_pod_ip.ratio $(awk -v a="$cip" -v b="$pod" 'BEGIN { printf "%.3f", a / b }') x ClusterIP/pod IP"
fi
echo "FIGURE net.loop.floor.per_iter $(per_ms "$floor") ms N=$n the loop running /bin/true (fork+exec cost inside each request figure), best of $rounds"
echo "FIGURE net.dns.lookup.per_query $(per_ms "$dns") ms N=$n busybox nslookup of a service FQDN (A+AAAA), best of $rounds"
