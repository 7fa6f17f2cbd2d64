#!/usr/bin/env bash
# Chapter: the same cluster on rootful Podman (--runtime podman). A server and an agent with a
# NodePort published through the load balancer; pods on both nodes reach each other and a
# ClusterIP service by DNS name over the VXLAN pod network (the CLI's choice on podman: the host's
# FORWARD policy DROP eats host-gw traffic between podman containers); NodePort on 127.0.0.1; a
# self-healing Deployment; `cluster delete` leaves no podman container, volume or network behind.
# Skips (exit 0) only when podman cannot run at all. Loads the images it needs from docker into
# podman itself (images/load-into-podman.sh), so it works from a clean machine.
source "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v podman >/dev/null 2>&1; then
  echo "SKIP  podman is not installed (scripts/install-deps.sh installs it); nothing tested"
  exit 0
fi
if ! "$top/scripts/start-podman.sh" >"$E2E_TMP/start-podman.log" 2>&1; then
  echo "SKIP  the podman API service cannot start here; nothing tested:"
  sed 's/^/      /' "$E2E_TMP/start-podman.log"
  exit 0
fi

# Every k3dpp call of this chapter (and lib.sh's cleanup) talks to podman.
export K3DPP_RUNTIME=podman

# Failure diagnostics from podman (lib.sh's default asks docker).
_e2e_dump_logs() {
  for c in "${E2E_CLUSTERS[@]}"; do
    for ctr in $(podman ps -a --filter "label=k3dpp.cluster=$c" --format '{{.Names}}' 2>/dev/null); do
      echo "----- podman logs --tail 30 $ctr" >&2
      podman logs --tail 30 "$ctr" 2>&1 | sed 's/^/    /' >&2
    done
  done
}

node_image=${K3DPP_NODE_IMAGE:-$("$K3DPP" version | sed -n 's/^node image //p')}
lb_image=${K3DPP_LB_IMAGE:-$("$K3DPP" version | sed -n 's/^lb image //p')}
run "load $node_image, $lb_image, nginx:1.24, busybox into podman" -- \
  "$top/images/load-into-podman.sh" "$node_image" "$lb_image" nginx:1.24 busybox:latest
expect "loading again skips what podman already has" "already in podman" -- "$top/images/load-into-podman.sh" busybox:latest

e2e_new_cluster c podman
port=$((30600 + RANDOM % 300))
t0=$(date +%s)
expect "cluster create $c --runtime podman --agents 1 -p $port:$port@server:0" "Cluster '$c' created successfully" -- \
  "$K3DPP" --runtime podman cluster create "$c" --agents 1 -p "$port:$port@server:0" --timeout 180s
echo "      (cluster create took $(($(date +%s) - t0)) s)"
expect "the nodes are podman containers" "k3dpp-$c-agent-0.*k3dpp-$c-server-0.*k3dpp-$c-serverlb" -- \
  bash -c "podman ps --filter label=k3dpp.cluster=$c --format '{{.Names}}' | sort | tr '\n' ' '"
expect "podman picked the vxlan pod network" "^vxlan vxlan\$" -- bash -c \
  "echo \$(podman inspect -f '{{index .Config.Labels \"k3dpp.pod-network\"}}' k3dpp-$c-server-0 k3dpp-$c-agent-0)"
eventually 60 2 "both nodes Ready" "k3dpp-$c-agent-0 +Ready +<none> .*k3dpp-$c-server-0 +Ready +control-plane,master" -- \
  bash -c "kubectl get nodes --no-headers | sort | tr '\n' ' '"
eventually 30 2 "every node published its VTEP MAC" "^2\$" -- bash -c \
  "kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.annotations.k3dpp\.io/vtep-mac}{\"\n\"}{end}' | grep -cE '^02:6b(:[0-9a-f]{2}){4}\$'"
expect "the agent routes the server's pod CIDR over the vxlan device" "10\.42\.[0-9]+\.0/24 via 10\.42\.[0-9]+\.0 dev k3dpp\.42 onlink" -- \
  podman exec "k3dpp-$c-agent-0" ip route
run "image import nginx:1.24 busybox --runtime podman" -- "$K3DPP" image import nginx:1.24 busybox:latest -c "$c"
expect "images land in containerd under their docker names" "docker.io/library/busybox:latest.*docker.io/library/nginx:1.24" -- \
  bash -c "podman exec k3dpp-$c-agent-0 ctr -n k8s.io images ls -q | grep -v sha256 | sort | tr '\n' ' '"

# One nginx and one busybox client on each node.
for role in server agent; do
  node="k3dpp-$c-$role-0"
  pin="{\"spec\":{\"nodeSelector\":{\"kubernetes.io/hostname\":\"$node\"}}}"
  expect "nginx on the $role" "^pod/web-$role created" -- kubectl run "web-$role" --image=nginx:1.24 --restart=Never \
    --port=80 --labels="app=web-$role" --overrides="$pin"
  expect "busybox client on the $role" "^pod/client-$role created" -- kubectl run "client-$role" --image=busybox:latest \
    --image-pull-policy=IfNotPresent --restart=Never --overrides="$pin" -- sleep 3600
done
eventually 90 2 "four pods Running on their nodes" \
  "client-agent +1/1 +Running .*k3dpp-$c-agent-0 .*client-server +1/1 +Running .*k3dpp-$c-server-0 .*web-agent +1/1 +Running .*k3dpp-$c-agent-0 .*web-server +1/1 +Running .*k3dpp-$c-server-0" -- \
  bash -c "kubectl get pods -o wide --no-headers | sort | tr '\n' ' '"
ip_agent=$(kubectl get pod web-agent -o jsonpath='{.status.podIP}')
ip_server=$(kubectl get pod web-server -o jsonpath='{.status.podIP}')
expect "pods on different nodes have IPs in different node CIDRs" "^10\.42\.([0-9]+)\.[0-9]+ 10\.42\.[0-9]+\.[0-9]+ differ\$" -- \
  bash -c 'echo "$1 $2 $([ "${1%.*}" != "${2%.*}" ] && echo differ)"' _ "$ip_agent" "$ip_server"
get='printf "GET / HTTP/1.0\r\nHost: x\r\n\r\n" | nc -w 5'
eventually 30 2 "server pod -> agent pod $ip_agent:80 (cross-node, VXLAN)" "Welcome to nginx!" -- \
  kubectl exec client-server -- sh -c "$get $ip_agent 80"
eventually 30 2 "agent pod -> server pod $ip_server:80 (cross-node, VXLAN)" "Welcome to nginx!" -- \
  kubectl exec client-agent -- sh -c "$get $ip_server 80"
# A body larger than the VXLAN MTU (1450) crosses too (path MTU discovery works).
run "a 200 kB file in the agent's nginx" -- kubectl exec web-agent -- sh -c \
  'head -c 150000 /dev/urandom | base64 > /usr/share/nginx/html/big.txt; wc -c < /usr/share/nginx/html/big.txt'
size=$E2E_LAST_OUT
eventually 10 2 "server pod fetches it whole across the VXLAN ($size bytes)" "^$size\$" -- \
  kubectl exec client-server -- sh -c "printf 'GET /big.txt HTTP/1.0\r\nHost: x\r\n\r\n' | nc -w 10 $ip_agent 80 | sed '1,/^\r\$/d' | wc -c"

cat >"$E2E_TMP/svc.yaml" <<YAML
apiVersion: v1
kind: Service
metadata:
  name: web-agent-svc
spec:
  selector:
    app: web-agent
  ports:
  - port: 8080
    targetPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web-np
spec:
  type: NodePort
  selector:
    app: web-agent
  ports:
  - port: 8080
    targetPort: 80
    nodePort: $port
YAML
expect "apply a ClusterIP and a NodePort service (endpoint on the agent)" "service/web-np created" -- \
  kubectl apply -f "$E2E_TMP/svc.yaml"
expect "get svc" "web-agent-svc +ClusterIP +10\.43\.[0-9.]+ +<none> +8080/TCP" -- kubectl get svc web-agent-svc
eventually 30 2 "server pod -> ClusterIP service by DNS name (endpoint on the other node)" "Welcome to nginx!" -- \
  kubectl exec client-server -- sh -c "$get web-agent-svc 8080"
eventually 15 2 "and by its full name" "HTTP/1.1 200 OK" -- \
  kubectl exec client-server -- sh -c "$get web-agent-svc.default.svc.cluster.local 8080"
eventually 30 2 "127.0.0.1:$port -> LB -> server-0 NodePort -> pod on the agent" "Welcome to nginx!" -- \
  curl -s --max-time 5 "http://127.0.0.1:$port/"

expect "create deployment (2 replicas)" "deployment.apps/web created" -- \
  kubectl create deployment web --image=nginx:1.24 --replicas=2
eventually 90 2 "deployment 2/2 available" "^web +2/2 +2 +2 " -- kubectl get deployment web --no-headers
victim=$(kubectl get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
run "self-healing: delete $victim" -- kubectl delete pod "$victim"
eventually 90 2 "a replacement pod runs (2 Running, the deleted one gone)" "^2 0\$" -- bash -c \
  "echo \$(kubectl get pods -l app=web --no-headers | grep -c ' Running ') \$(kubectl get pods -l app=web --no-headers | grep -c '^$victim ')"
expect "delete deployment" "deployment.apps \"web\" deleted" -- kubectl delete deployment web

# A restarted node has a fresh network namespace (and maybe a new IP): its VXLAN device, routes
# and FDB come back, and the other node follows its address.
agent="k3dpp-$c-agent-0"
run "node stop $agent" -- "$K3DPP" node stop "$agent"
run "node start $agent" -- "$K3DPP" node start "$agent"
eventually 60 2 "the restarted agent is Ready" "^$agent +Ready " -- kubectl get node "$agent" --no-headers
eventually 30 2 "its vxlan route to the server's pod CIDR is back" "dev k3dpp\.42 onlink" -- podman exec "$agent" ip route
agent_ip=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$agent")
eventually 30 2 "the server's FDB points at the agent's current address $agent_ip" "02:6b(:[0-9a-f]{2}){4} dst $agent_ip " -- \
  podman exec "k3dpp-$c-server-0" bridge fdb show dev k3dpp.42
pin="{\"spec\":{\"nodeSelector\":{\"kubernetes.io/hostname\":\"$agent\"}}}"
expect "a new busybox client on the restarted agent" "^pod/client2 created" -- kubectl run client2 --image=busybox:latest \
  --image-pull-policy=IfNotPresent --restart=Never --overrides="$pin" -- sleep 3600
eventually 90 2 "client2 Running on the agent" "client2 +1/1 +Running .*$agent" -- kubectl get pod client2 -o wide --no-headers
eventually 30 2 "restarted agent's pod -> server pod $ip_server:80 (VXLAN reprogrammed)" "Welcome to nginx!" -- \
  kubectl exec client2 -- sh -c "$get $ip_server 80"

t0=$(date +%s)
expect "cluster delete $c" "Successfully deleted cluster $c" -- "$K3DPP" --runtime podman cluster delete "$c"
echo "      (cluster delete took $(($(date +%s) - t0)) s)"
expect "no podman container of the cluster is left" "^0\$" -- bash -c \
  "podman ps -a --format '{{.Names}}' | grep -c -- '$c' || true"
expect "no podman volume of the cluster is left" "^0\$" -- bash -c \
  "podman volume ls --format '{{.Name}}' | grep -c -- '$c' || true"
expect "no podman network of the cluster is left" "^0\$" -- bash -c \
  "podman network ls --format '{{.Name}}' | grep -c -- '$c' || true"

e2e_summary
