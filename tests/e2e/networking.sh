#!/usr/bin/env bash
# Chapter: service networking end to end. LoadBalancer services the way k3s's servicelb behaves
# (node IPs as EXTERNAL-IP, the port served on every node, a clash stays <pending> with an event),
# `-p HOST:80@loadbalancer` reaching them from the host, `cluster edit --port-add/--port-delete` on
# a live cluster, and the proxy and DNS behaviour pods rely on (refusal without endpoints, ClientIP
# affinity, endpoint changes within a second or two, headless A and SRV records, kube-dns), again
# after `cluster stop` + `start`. The host only talks to 127.0.0.1; pods are reached through
# `kubectl exec` into a busybox client.
source "$(dirname "$0")/lib.sh"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])'; }
in_client() { kubectl exec client -- sh -c "$1"; }
# busybox 1.35's wget crashes (SIGSEGV) with -T and on a refused connection: bound it with timeout.
http_get() { echo "timeout 5 wget -q -O- http://$1/"; }

e2e_new_cluster c net
lbport=$(free_port)
editport=$(free_port)
run "cluster create $c --agents 1 -p $lbport:80@loadbalancer --disable-ingress (port 80 for LoadBalancer services, as k3s without Traefik)" -- \
  "$K3DPP" cluster create "$c" --agents 1 -p "$lbport:80@loadbalancer" --disable-ingress
run "image import nginx:1.24 busybox" -- "$K3DPP" image import nginx:1.24 busybox:latest -c "$c"

node_ips=$(kubectl get nodes -o jsonpath='{range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' | sort | paste -sd, -)
server_ip=$(kubectl get node "k3dpp-$c-server-0" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
expect "two node IPs known" "^[0-9.]+,[0-9.]+\$" -- echo "$node_ips"

expect "kubectl run a busybox client" "^pod/client created" -- \
  kubectl run client --image=busybox:latest --image-pull-policy=IfNotPresent --restart=Never -- sleep 3600
expect "create deployment web (nginx, 2 replicas)" "deployment.apps/web created" -- \
  kubectl create deployment web --image=nginx:1.24 --replicas=2
cat >"$E2E_TMP/echo.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 3
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      containers:
      - name: echo
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports:
        - {name: http, containerPort: 8080}
---
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  selector: {app: echo}
  ports:
  - {name: http, port: 80, targetPort: http}
---
apiVersion: v1
kind: Service
metadata:
  name: echo-headless
spec:
  clusterIP: None
  selector: {app: echo}
  ports:
  - {name: http, port: 8080, targetPort: http}
---
apiVersion: v1
kind: Service
metadata:
  name: echo-lb
spec:
  type: LoadBalancer
  selector: {app: echo}
  ports:
  - {name: http, port: 8080, targetPort: http}
---
apiVersion: v1
kind: Service
metadata:
  name: nothing
spec:
  selector: {app: nothing}
  ports:
  - {port: 80}
---
apiVersion: v1
kind: Service
metadata:
  name: nothing-lb
spec:
  type: LoadBalancer
  selector: {app: nothing}
  ports:
  - {port: 8081}
YAML
expect "apply echo (3 replicas), its ClusterIP, headless and LoadBalancer services, and two without pods" \
  "service/nothing-lb created" -- kubectl apply -f "$E2E_TMP/echo.yaml"
eventually 90 2 "client, web 2/2 and echo 3/3 Running" "^client 1 web 2 echo 3\$" -- bash -c \
  "echo client \$(kubectl get pod client --no-headers | grep -c ' Running ') web \$(kubectl get pods -l app=web --no-headers | grep -c ' Running ') echo \$(kubectl get pods -l app=echo --no-headers | grep -c ' Running ')"

# ---------------------------------------------------------------- LoadBalancer services
expect "expose web as a LoadBalancer on port 80" "service/web exposed" -- \
  kubectl expose deployment web --type=LoadBalancer --port=80
eventually 15 1 "get svc: EXTERNAL-IP lists the node IPs, PORT(S) has the allocated NodePort" \
  "^web +LoadBalancer +10\.43\.[0-9.]+ +${node_ips//./\\.} +80:3[0-9]{4}/TCP " -- kubectl get svc web --no-headers
expect "status.loadBalancer.ingress: one ip per node, ipMode VIP" '^\[\{"ip":"[0-9.]+","ipMode":"VIP"\},\{"ip":"[0-9.]+","ipMode":"VIP"\}\]$' -- \
  kubectl get svc web -o jsonpath='{.status.loadBalancer.ingress}'
expect "describe svc web: LoadBalancer Ingress and the EnsuredLoadBalancer event" \
  "Normal +EnsuredLoadBalancer .*Ensured load balancer" -- kubectl describe svc web
expect "describe svc web: LoadBalancer Ingress line" "LoadBalancer Ingress: +[0-9.]+" -- kubectl describe svc web
eventually 30 2 "curl 127.0.0.1:$lbport (-p $lbport:80@loadbalancer) gives the nginx page" "Welcome to nginx!" -- \
  curl -s --max-time 5 "http://127.0.0.1:$lbport/"
eventually 10 1 "a pod reaches the service on a node's address, port 80 (like a hostPort)" "Welcome to nginx!" -- \
  in_client "$(http_get "$server_ip:80")"
np=$(kubectl get svc web -o jsonpath='{.spec.ports[0].nodePort}')
expect "and on its NodePort $np" "Welcome to nginx!" -- in_client "$(http_get "$server_ip:$np")"

expect "a second LoadBalancer on port 80 (same pods)" "service/web2 exposed" -- \
  kubectl expose deployment web --name=web2 --type=LoadBalancer --port=80
eventually 10 1 "the clash is reported as a Warning event on web2" \
  "Warning +SyncLoadBalancerFailed +service/web2 +Error syncing load balancer: failed to ensure load balancer: port 80/TCP is not available: it is already used by LoadBalancer service default/web" -- \
  kubectl get events --field-selector involvedObject.name=web2
expect "web2 stays <pending>" "^web2 +LoadBalancer +10\.43\.[0-9.]+ +<pending> +80:3[0-9]{4}/TCP" -- kubectl get svc web2 --no-headers
expect "describe svc web2 says why" "port 80/TCP is not available: it is already used by LoadBalancer service default/web" -- \
  kubectl describe svc web2
expect "a LoadBalancer on 6443 (the API server's port)" "service/api-clash created" -- \
  kubectl create service loadbalancer api-clash --tcp=6443:6443
eventually 10 1 "stays <pending> with the reason" "port 6443/TCP is not available: it is used by the API server on every node" -- \
  kubectl describe svc api-clash
expect "kubectl still works (the API port was not taken over)" "^web2 " -- kubectl get svc web2 --no-headers
expect "delete web" "service \"web\" deleted" -- kubectl delete svc web
eventually 15 1 "web2 takes port 80 over" "^web2 +LoadBalancer +10\.43\.[0-9.]+ +${node_ips//./\\.} +80:" -- \
  kubectl get svc web2 --no-headers
eventually 15 1 "and serves 127.0.0.1:$lbport" "Welcome to nginx!" -- curl -s --max-time 5 "http://127.0.0.1:$lbport/"

# ---------------------------------------------------------------- cluster edit on a live cluster
ids_before=$(docker inspect -f '{{.Id}} {{.State.StartedAt}}' "k3dpp-$c-server-0" "k3dpp-$c-agent-0")
expect "cluster edit --port-add $editport:8080@loadbalancer" "Successfully updated cluster '$c'" -- \
  "$K3DPP" cluster edit "$c" --port-add "$editport:8080@loadbalancer"
expect "the serverlb publishes $editport" "8080/tcp -> 0\.0\.0\.0:$editport" -- docker port "k3dpp-$c-serverlb"
expect "curl 127.0.0.1:$editport right after the edit reaches echo-lb" "^echo-[a-z0-9]+-[a-z0-9]{5}\$" -- \
  curl -s --max-time 5 "http://127.0.0.1:$editport/"
expect "the first mapping still works" "Welcome to nginx!" -- curl -s --max-time 5 "http://127.0.0.1:$lbport/"
expect "nodes untouched (same containers, not restarted)" "^same\$" -- bash -c \
  "[ \"\$(docker inspect -f '{{.Id}} {{.State.StartedAt}}' k3dpp-$c-server-0 k3dpp-$c-agent-0)\" = '$ids_before' ] && echo same"
expect "kubectl works through the recreated LB" "k3dpp-$c-server-0 +Ready" -- kubectl get nodes
expect_fail "adding it again says it exists" "port mapping '$editport:8080@loadbalancer' already exists in cluster '$c'" -- \
  "$K3DPP" cluster edit "$c" --port-add "$editport:8080@loadbalancer"
expect "cluster edit --port-delete $editport:8080@loadbalancer" "Successfully updated cluster '$c'" -- \
  "$K3DPP" cluster edit "$c" --port-delete "$editport:8080@loadbalancer"
expect "the port is no longer published" "^gone\$" -- bash -c \
  "docker port k3dpp-$c-serverlb | grep -q ':$editport\$' && echo still || echo gone"
expect_fail "curl 127.0.0.1:$editport fails" "" -- curl -s --max-time 3 "http://127.0.0.1:$editport/"
expect_fail "deleting it again: not found" "port mapping '$editport:8080@loadbalancer' not found in cluster '$c'" -- \
  "$K3DPP" cluster edit "$c" --port-delete "$editport:8080@loadbalancer"

# ---------------------------------------------------------------- proxy behaviour
expect "a service without endpoints refuses at once (TCP reset, not a hang or a 1 s retry)" \
  "Connection refused.*real +0m 0\.[0-4]" -- bash -c "kubectl exec client -- sh -c 'time nc -w 5 nothing 80 </dev/null' 2>&1 | tr '\\n\\t' '  '"
expect "so does a LoadBalancer port without endpoints on a node address" "Connection refused.*real +0m 0\.[0-4]" -- \
  bash -c "kubectl exec client -- sh -c 'time nc -w 5 $server_ip 8081 </dev/null' 2>&1 | tr '\\n\\t' '  '"
expect "without affinity requests spread over the echo pods (12 requests, >= 2 pods)" "^[2-3]\$" -- bash -c \
  "kubectl exec client -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do timeout 5 wget -q -O- http://echo/; done' | sort -u | wc -l"
run "sessionAffinity: ClientIP" -- kubectl patch svc echo -p '{"spec":{"sessionAffinity":"ClientIP"}}'
eventually 10 1 "with ClientIP affinity 12 requests hit one pod" "^1 12\$" -- bash -c \
  "kubectl exec client -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do timeout 5 wget -q -O- http://echo/; echo; done' | grep . | sort | uniq -c | awk '{print NR, \$1}' | tail -1"
run "sessionAffinity back to None" -- kubectl patch svc echo -p '{"spec":{"sessionAffinity":"None"}}'

client_node=$(kubectl get pod client -o jsonpath='{.spec.nodeName}')
victim=$(kubectl get pods -l app=echo -o jsonpath='{.items[0].metadata.name}')
victim_ip=$(kubectl get pod "$victim" -o jsonpath='{.status.podIP}')
expect "the client's node has a rule for echo pod $victim_ip" "DNAT --to-destination $victim_ip:8080" -- \
  docker exec "$client_node" iptables-save -t nat
run "take $victim out of the service (label app=out)" -- kubectl label pod "$victim" app=out --overwrite
t0=$(date +%s%N)
while docker exec "$client_node" iptables-save -t nat | grep -q "DNAT --to-destination $victim_ip:8080"; do
  [ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 10000 ] && break
  sleep 0.1
done
gone_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "      endpoint removal reached the node's rules after $gone_ms ms"
expect "endpoint change applied within 2 s ($gone_ms ms)" "^ok\$" -- bash -c "[ $gone_ms -le 2000 ] && echo ok"
expect "12 requests answered, none by the removed pod" "^answers 12 victim 0\$" -- bash -c \
  "kubectl exec client -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do timeout 5 wget -q -O- http://echo/; done' | awk '/^echo-/ {a++} \$0 == \"$victim\" {v++} END {print \"answers\", a+0, \"victim\", v+0}'"
run "delete the relabelled pod" -- kubectl delete pod "$victim" --wait=false
eventually 60 2 "echo back to 3 ready endpoints" "^3\$" -- bash -c \
  "kubectl get endpoints echo -o jsonpath='{.subsets[*].addresses[*].ip}' | wc -w"

# ---------------------------------------------------------------- spreading and graceful pod deletion
# Each echo pod answers with its own name. Times are read from /proc/uptime, the same clock on the
# host and in every container (busybox date has no %N).
echo_ip=$(kubectl get svc echo -o jsonpath='{.spec.clusterIP}')
kubectl exec client -- sh -c "for i in \$(seq 300); do timeout 5 wget -q -O- http://$echo_ip/; done" \
  >"$E2E_TMP/spread.txt" 2>/dev/null
echo "      300 requests to $echo_ip: $(sort "$E2E_TMP/spread.txt" | uniq -c | awk '{printf "%s=%s ", $2, $1}')"
expect "300 requests to the ClusterIP: all answered, spread over the 3 pods, each > 10%" "^pods 3 total 300 each>10% yes\$" -- \
  awk '/^echo-/ {n[$1]++; t++} END {m = 300; for (p in n) {k++; if (n[p] < m) m = n[p]}; print "pods", k+0, "total", t+0, "each>10%", (m > 30 ? "yes" : "no")}' \
  "$E2E_TMP/spread.txt"

victim=$(kubectl get pods -l app=echo -o jsonpath='{.items[1].metadata.name}')
# One line per request: uptime at its start, ok + the answering pod, or fail. At most 600 requests
# (20 ms apart) or 25 s, so requests still come after the SIGKILL at the end of the 5 s grace period.
kubectl exec client -- sh -c "end=\$((\$(date +%s) + 25)); n=0
  while [ \$n -lt 600 ] && [ \$(date +%s) -lt \$end ]; do
    read t x </proc/uptime
    r=\$(timeout 2 wget -q -O- http://$echo_ip/ 2>/dev/null) && echo \"\$t ok \$r\" || echo \"\$t fail\"
    n=\$((n + 1)); usleep 20000
  done" >"$E2E_TMP/during.txt" 2>/dev/null &
loop_pid=$!
eventually 30 1 "the request loop is running" "^running\$" -- bash -c \
  "[ \$(grep -c ' ok ' '$E2E_TMP/during.txt') -ge 20 ] && echo running"
read -r t_del _ </proc/uptime
run "delete pod $victim (graceful, 5 s grace) while requests keep coming" -- \
  kubectl delete pod "$victim" --grace-period=5 --wait=false
wait "$loop_pid"
summary=$(awk -v td="$t_del" -v v="$victim" '
  {n++} $2 == "fail" {f++; d = $1 - td; if (d > last) last = d}
  $2 == "ok" && $3 == v && $1 > td + 2 {late++}
  $2 == "ok" && $3 == v {vl = $1 - td}
  $1 > td + 6 {after++}
  END {printf "requests %d failed %d window_ms %d late_victim %d after_kill %d victim_last_ms %d\n",
       n, f, (f ? last * 1000 : 0), late, after, vl * 1000}' \
  "$E2E_TMP/during.txt")
echo "      during the deletion: $summary"
expect "requests went on past the SIGKILL at 5 s" "after_kill [1-9]" -- echo "$summary"
expect "no request failed later than 2 s after the deletion started ($summary)" "^ok\$" -- bash -c \
  "echo '$summary' | awk '{print (\$6 <= 2000 ? \"ok\" : \"too long\")}'"
expect "no answer from $victim more than 2 s after the deletion" "late_victim 0 " -- echo "$summary"
eventually 90 2 "echo back to 3 ready endpoints after the deletion" "^3\$" -- bash -c \
  "kubectl get endpoints echo -o jsonpath='{.subsets[*].addresses[*].ip}' | wc -w"

# Prints "match IPS" when the headless name resolves to exactly the ready echo pods' IPs.
headless_matches() {
  local want got
  want=$(kubectl get endpoints echo -o jsonpath='{.subsets[*].addresses[*].ip}' | tr ' ' '\n' | sort | paste -sd' ' -)
  got=$(kubectl exec client -- nslookup echo-headless.default.svc.cluster.local. | sed -n 's/^Address: //p' | sort | paste -sd' ' -)
  [ -n "$want" ] && [ "$want" = "$got" ] && echo "match $got" || echo "want '$want' got '$got'"
}
check_dns() {
  local when=$1
  eventually 30 2 "headless service DNS returns the 3 pod IPs ($when)" "^match [0-9.]+ [0-9.]+ [0-9.]+\$" -- headless_matches
  expect "SRV for the named port: 3 targets on 8080 ($when)" "^3\$" -- bash -c \
    "kubectl exec client -- nslookup -type=SRV _http._tcp.echo-headless.default.svc.cluster.local. | grep -cE 'service = 0 [0-9]+ 8080 10-42-[0-9]+-[0-9]+\.echo-headless\.default\.svc\.cluster\.local'"
  expect "a ClusterIP service by its short name ($when)" "^echo-[a-z0-9]+-[a-z0-9]{5}\$" -- in_client "$(http_get echo)"
}
check_dns "before stop"
expect "kube-dns 10.43.0.10 listed in get svc -A" "kube-system +kube-dns +ClusterIP +10\.43\.0\.10 +<none> +53/UDP,53/TCP" -- \
  kubectl get svc -A
expect "SRV for kube-dns's named port" "service = 0 100 53 kube-dns\.kube-system\.svc\.cluster\.local" -- \
  kubectl exec client -- nslookup -type=SRV _dns-tcp._tcp.kube-dns.kube-system.svc.cluster.local.

# ---------------------------------------------------------------- stop + start
run "cluster stop $c" -- "$K3DPP" cluster stop "$c"
run "cluster start $c" -- "$K3DPP" cluster start "$c"
eventually 60 2 "nodes Ready again" "^2\$" -- bash -c "kubectl get nodes --no-headers | grep -c ' Ready '"
eventually 90 2 "client and echo pods running again" "^client 1 echo 3\$" -- bash -c \
  "echo client \$(kubectl get pod client --no-headers | grep -c ' Running ') echo \$(kubectl get endpoints echo -o jsonpath='{.subsets[*].addresses[*].ip}' | wc -w)"
eventually 30 2 "after restart: a pod reaches echo by DNS name" "^echo-[a-z0-9]+-[a-z0-9]{5}\$" -- in_client "$(http_get echo)"
check_dns "after restart"
eventually 30 2 "after restart: curl 127.0.0.1:$lbport reaches nginx through the LoadBalancer service" "Welcome to nginx!" -- \
  curl -s --max-time 5 "http://127.0.0.1:$lbport/"
expect_fail "after restart: still refused without endpoints" "Connection refused" -- \
  kubectl exec client -- nc -w 5 nothing 80
expect "after restart: web2 EXTERNAL-IP lists the node IPs" "^web2 +LoadBalancer +10\.43\.[0-9.]+ +${node_ips//./\\.} " -- \
  kubectl get svc web2 --no-headers

e2e_summary
