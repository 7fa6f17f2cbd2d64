#!/usr/bin/env bash
# Chapter: the course's chapters 11.4-11.8 replayed in order (course-commands.md steps 1-41) with
# k3dpp for k3d and the real kubectl: two clusters (dev, test), pods imperative and declarative,
# get/describe/exec (also with a real TTY), kubeconfig contexts, namespaces, ClusterIP and
# NodePort services, port-forward, cluster list/delete and a third cluster publishing a NodePort.
# The course's cluster names get a run-unique suffix; the course's NodePort 30050 is a random free
# port in 30000-32767 so a user's own cluster cannot collide.
# Needs the workload images (images/build-workloads.sh), imported with `k3dpp image import`.
source "$(dirname "$0")/lib.sh"
t_begin=$SECONDS

e2e_new_cluster dev basics-dev
e2e_new_cluster test basics-test
e2e_new_cluster my basics-my
dctx=k3dpp-$dev
tctx=k3dpp-$test
mctx=k3dpp-$my

# A port in the NodePort range that nothing on the host listens on.
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((30000 + RANDOM % 2768))
    ss -Htln "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
  done
  echo 30999
}
np=$(free_port)

# ip_in_cidr IP CIDR: exit 0 when IP lies inside the IPv4 CIDR.
ip_in_cidr() {
  local ip=$1 net=${2%/*} bits=${2#*/} a b c d
  IFS=. read -r a b c d <<<"$ip"; local i=$(((a << 24) | (b << 16) | (c << 8) | d))
  IFS=. read -r a b c d <<<"$net"; local n=$(((a << 24) | (b << 16) | (c << 8) | d))
  local mask=$(((0xffffffff << (32 - bits)) & 0xffffffff))
  [ $((i & mask)) -eq $((n & mask)) ]
}

# tty_exec INPUT CMD...: runs CMD under a pseudo-terminal (util-linux script), feeding INPUT after
# the session had time to start, and prints what the terminal showed.
tty_exec() {
  local input=$1; shift
  { sleep 4; printf '%b' "$input"; sleep 4; } | timeout 120 script -qec "$*" /dev/null
}

# ---------------------------------------------------------------- 11.4 Cluster creation
# 1
run "1 cluster create $dev --servers 1 --agents 1" -- "$K3DPP" cluster create "$dev" --servers 1 --agents 1
expect "1 containers server-0, agent-0, serverlb" "^k3dpp-$dev-agent-0 k3dpp-$dev-server-0 k3dpp-$dev-serverlb \$" -- \
  bash -c "docker ps --filter label=k3dpp.cluster=$dev --format '{{.Names}}' | sort | tr '\n' ' '"
expect "1 network k3dpp-$dev" "^k3dpp-$dev\$" -- docker network ls --filter "name=^k3dpp-$dev\$" --format '{{.Name}}'
expect "1 context $dctx is current" "^$dctx\$" -- kubectl config current-context
expect "1 kubeconfig cluster $dctx, user admin@$dctx" "^$dctx admin@$dctx\$" -- \
  kubectl config view -o jsonpath="{.contexts[?(@.name==\"$dctx\")].context.cluster} {.contexts[?(@.name==\"$dctx\")].context.user}"
run "import nginx busybox debian into $dev" -- \
  "$K3DPP" image import nginx:latest busybox:latest debian:latest -c "$dev"
# 2
expect "2 get nodes header" "^NAME +STATUS +ROLES +AGE +VERSION" -- kubectl get nodes
eventually 60 2 "2 get nodes: agent <none>, server control-plane,master, v1.32" \
  "^k3dpp-$dev-agent-0 +Ready +<none> +[0-9a-z]+ +v1\.32\.[0-9]+[^ ]* k3dpp-$dev-server-0 +Ready +control-plane,master +[0-9a-z]+ +v1\.32\.[0-9]" -- \
  bash -c "kubectl get nodes --no-headers | sort | tr '\n' ' '"

# ---------------------------------------------------------------- 11.5 Pods
# 3
expect "3 kubectl run nginx-pod --image=nginx" "^pod/nginx-pod created\$" -- \
  kubectl run nginx-pod --image=nginx --restart=Never --port=80 --labels="zone=prod,version=v1"
expect "3 the container is named after the pod" "^nginx-pod nginx 80\$" -- \
  kubectl get pod nginx-pod -o jsonpath='{.spec.containers[0].name} {.spec.containers[0].image} {.spec.containers[0].ports[0].containerPort}'
# 4
eventually 60 3 "4 get pods: nginx-pod 1/1 Running 0" "^NAME +READY +STATUS +RESTARTS +AGE
nginx-pod +1/1 +Running +0 +[0-9a-z]+\$" -- kubectl get pods

# 5
run "5 cluster create $test -s 1 -a 1" -- "$K3DPP" cluster create "$test" -s 1 -a 1
out5=$E2E_LAST_OUT
expect "5 progress: Prep: Network" "Prep: Network" -- echo "$out5"
expect "5 progress: Created network" "Created network 'k3dpp-$test'" -- echo "$out5"
expect "5 progress: created successfully" "Cluster '$test' created successfully!" -- echo "$out5"
expect "5 progress: how to use it" "You can now use it like this:" -- echo "$out5"
expect "5 prints kubectl cluster-info" "kubectl cluster-info" -- echo "$out5"
expect "5 the context switched to $tctx" "^$tctx\$" -- kubectl config current-context
run "import nginx busybox debian into $test" -- \
  "$K3DPP" image import nginx:latest busybox:latest debian:latest -c "$test"
eventually 60 2 "5 both nodes of $test Ready" "^2\$" -- bash -c "kubectl get nodes --no-headers | grep -c ' Ready '"

# 6
cat >"$E2E_TMP/second-pod.yaml" <<'YAML'
kind: Pod
apiVersion: v1
metadata:
  name: nginx-pod2
  labels:
    zone: prod
    version: v1
spec:
  containers:
    - name: nginxcont
      image: nginx
      ports:
        - containerPort: 80
YAML
expect "6 apply second-pod.yaml" "^pod/nginx-pod2 created\$" -- kubectl apply -f "$E2E_TMP/second-pod.yaml"
# 7
eventually 60 3 "7 get pods -o wide: Running, IP, node of $test only" \
  "^NAME +READY +STATUS +RESTARTS +AGE +IP +NODE +NOMINATED NODE +READINESS GATES
nginx-pod2 +1/1 +Running +0 +[0-9a-z]+ +10\.42\.[0-9]+\.[0-9]+ +k3dpp-$test-(server|agent)-0 +<none> +<none>\$" -- kubectl get pods -o wide
pod_ip=$(kubectl get pod nginx-pod2 -o jsonpath='{.status.podIP}')
pod_node=$(kubectl get pod nginx-pod2 -o jsonpath='{.spec.nodeName}')
node_cidr=$(kubectl get node "$pod_node" -o jsonpath='{.spec.podCIDR}')
run "7 pod IP $pod_ip lies in the podCIDR $node_cidr of $pod_node" -- ip_in_cidr "$pod_ip" "$node_cidr"
# 8
expect "8 config get-clusters" "^NAME
($tctx
$dctx|$dctx
$tctx)\$" -- kubectl config get-clusters
# 9
node_ip=$(kubectl get node "$pod_node" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
expect "9 describe pod nginx-pod2" "Name: +nginx-pod2
Namespace: +default
Priority: +0
Service Account: +default
Node: +$pod_node/$node_ip
Start Time: .*
Labels: +version=v1
 +zone=prod
Annotations: +<none>
Status: +Running
IP: +$pod_ip" -- kubectl describe pod nginx-pod2
expect "9 describe: container nginxcont, image, port, Ready" "nginxcont:[\s\S]*Image: +nginx[\s\S]*Port: +80/TCP[\s\S]*State: +Running[\s\S]*Ready: +True" -- echo "$E2E_LAST_OUT"
expect "9 describe: conditions and events" "Type +Status
 +PodReadyToStartContainers +True *
 +Initialized +True *
 +Ready +True *
 +ContainersReady +True *
 +PodScheduled +True *
[\s\S]*Normal +Scheduled +.*default-scheduler +Successfully assigned default/nginx-pod2 to $pod_node[\s\S]*Started container nginxcont" -- echo "$E2E_LAST_OUT"
# 10
expect "10 delete pod nginx-pod2" "^pod \"nginx-pod2\" deleted\$" -- kubectl delete pod nginx-pod2
expect "10 get pods -o wide: none left" "^No resources found in default namespace\.\$" -- kubectl get pods -o wide
# 11
expect "11 apply second-pod.yaml again" "^pod/nginx-pod2 created\$" -- kubectl apply -f "$E2E_TMP/second-pod.yaml"
eventually 60 3 "11 nginx-pod2 Running" "^nginx-pod2 +1/1 +Running" -- kubectl get pods --no-headers
expect "11 exec -- ls -al: the nginx image root" "bin -> usr/bin[\s\S]*docker-entrypoint\.sh[\s\S]*etc" -- kubectl exec nginx-pod2 -- ls -al
# 12
expect "12 exec -it bash: prompt root@nginx-pod2:/# and a command's output" \
  "root@nginx-pod2:/# [\s\S]*PRETTY_NAME=\"Debian GNU/Linux[\s\S]*tty-is /dev/pts/[0-9]+" -- \
  tty_exec 'grep PRETTY /etc/os-release; echo tty-is $(tty)\nexit\n' kubectl exec -it nginx-pod2 -- bash

# ---------------------------------------------------------------- 11.6 kubectl, contexts, CRUD
# 13
expect "13 config view: both clusters, DATA+OMITTED, current-context" \
  "certificate-authority-data: DATA\+OMITTED
    server: https://(0\.0\.0\.0|127\.0\.0\.1):[0-9]+
  name: k3dpp-[\s\S]*user: admin@$tctx[\s\S]*current-context: $tctx[\s\S]*name: admin@$dctx
  user:
    client-certificate-data: DATA\+OMITTED
    client-key-data: DATA\+OMITTED" -- kubectl config view
expect "13 config view names both clusters" "name: $dctx[\s\S]*name: $tctx" -- echo "$E2E_LAST_OUT"
ports=$(kubectl config view -o jsonpath='{.clusters[*].cluster.server}' | grep -oE ':[0-9]+' | sort -u | wc -l)
expect "13 a different API port per cluster" "^2\$" -- echo "$ports"
# 14
expect "14 config current-context" "^$tctx\$" -- kubectl config current-context
# 15
expect "15 config get-contexts" "^CURRENT +NAME +CLUSTER +AUTHINFO +NAMESPACE
 +$dctx +$dctx +admin@$dctx +
\* +$tctx +$tctx +admin@$tctx +\$" -- kubectl config get-contexts
# 16
expect "16 use-context $dctx" "^Switched to context \"$dctx\"\.\$" -- kubectl config use-context "$dctx"
expect "16 get pods on $dev: nginx-pod still Running" "^nginx-pod +1/1 +Running +0 " -- kubectl get pods --no-headers
# 17
expect "17 set-context dev-context" "^Context \"dev-context\" created\.\$" -- \
  kubectl config set-context dev-context --cluster="$dctx" --user="admin@$dctx" --namespace=default
expect "17 get-contexts: dev-context, * $dctx, $tctx" "^CURRENT +NAME +CLUSTER +AUTHINFO +NAMESPACE
 +dev-context +$dctx +admin@$dctx +default
\* +$dctx +$dctx +admin@$dctx +
 +$tctx +$tctx +admin@$tctx +\$" -- kubectl config get-contexts
# 18
expect "18 use-context $tctx" "^Switched to context \"$tctx\"\.\$" -- kubectl config use-context "$tctx"
# 19: the CRUD table's commands
cat >"$E2E_TMP/mypod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: mypod
spec:
  containers:
  - name: box
    image: busybox:latest
    command: ["sleep", "3600"]
YAML
expect "19 create -f mypod.yaml" "^pod/mypod created\$" -- kubectl create -f "$E2E_TMP/mypod.yaml"
expect "19 get pod mypod" "^NAME +READY +STATUS +RESTARTS +AGE
mypod +[01]/1 +" -- kubectl get pod mypod
expect "19 get pod mypod -o yaml" "^apiVersion: v1
kind: Pod[\s\S]*  name: mypod
  namespace: default[\s\S]*    image: busybox:latest" -- kubectl get pod mypod -o yaml
expect "19 -o jsonpath" "^mypod default\$" -- kubectl get pod mypod -o jsonpath='{.metadata.name} {.metadata.namespace}'
expect "19 describe svc kubernetes" "Name: +kubernetes
Namespace: +default[\s\S]*Type: +ClusterIP[\s\S]*IP: +10\.43\.0\.1
IPs: +10\.43\.0\.1
Port: +https +443/TCP
TargetPort: +6443/TCP" -- kubectl describe svc kubernetes
expect "19 create deployment web" "^deployment.apps/web created\$" -- kubectl create deployment web --image=nginx:latest
expect "19 edit deployment web (editor exits unchanged)" "^Edit cancelled, no changes made\.\$" -- \
  env EDITOR=true kubectl edit deployment web
expect "19 delete deployment web" "^deployment.apps \"web\" deleted\$" -- kubectl delete deployment web
expect "19 delete -f mypod.yaml" "^pod \"mypod\" deleted\$" -- kubectl delete -f "$E2E_TMP/mypod.yaml" --grace-period=1
# The names joined on one line: a one-line pattern is matched line by line, so ^nginx-pod2$ on the
# plain listing would pass with web's pods still listed.
eventually 60 2 "19 web's pods are gone" "^nginx-pod2\$" -- \
  bash -c "kubectl get pods --no-headers -o custom-columns=N:.metadata.name | paste -sd' '"
# 20
expect "20 get pod" "^NAME +READY +STATUS +RESTARTS +AGE
nginx-pod2 +1/1 +Running +0 +[0-9a-z]+\$" -- kubectl get pod
expect "20 get pod -o wide: IP" "^nginx-pod2 +1/1 +Running +0 +[0-9a-z]+ +10\.42\.[0-9]+\.[0-9]+ " -- \
  kubectl get pod -o wide --no-headers
# 21
expect "21 edit pod nginx-pod2, quit without changes" "^Edit cancelled, no changes made\.\$" -- \
  env EDITOR=true kubectl edit pod nginx-pod2
# 22
expect "22 delete pod nginx-pod2" "^pod \"nginx-pod2\" deleted\$" -- kubectl delete pod nginx-pod2
expect "22 get pod: none left" "^No resources found in default namespace\.\$" -- kubectl get pod

# ---------------------------------------------------------------- 11.7 Namespaces
# 23
expect "23 get namespaces: exactly the four, Active" "^NAME +STATUS +AGE
default +Active +[0-9a-z]+
kube-node-lease +Active +[0-9a-z]+
kube-public +Active +[0-9a-z]+
kube-system +Active +[0-9a-z]+\$" -- kubectl get namespaces
# 24
expect "24 create ns pxl" "^namespace/pxl created\$" -- kubectl create ns pxl
expect "24 get namespaces: + pxl Active" "^pxl +Active +[0-9a-z]+\$" -- bash -c "kubectl get namespaces | tail -1"
# 25
cat >"$E2E_TMP/ns.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: dev
YAML
expect "25 apply ns.yaml" "^namespace/dev created\$" -- kubectl apply -f "$E2E_TMP/ns.yaml"
expect "25 get namespaces: six, sorted" "^default dev kube-node-lease kube-public kube-system pxl \$" -- \
  bash -c "kubectl get namespaces --no-headers | awk '\$2 == \"Active\" {printf \"%s \", \$1}'"
# 26
expect "26 run nginx-dev -n dev" "^pod/nginx-dev created\$" -- kubectl run nginx-dev --image nginx -n dev
# 27
expect "27 get pods (default): none" "^No resources found in default namespace\.\$" -- kubectl get pods
eventually 60 3 "27 get pods -n dev: nginx-dev Running" "^NAME +READY +STATUS +RESTARTS +AGE
nginx-dev +1/1 +Running +0 +[0-9a-z]+\$" -- kubectl get pods -n dev
# 28
expect "28 set-context --current --namespace dev" "^Context \"$tctx\" modified\.\$" -- \
  kubectl config set-context --current --namespace dev
expect "28 get pods now lists dev" "^nginx-dev +1/1 +Running" -- kubectl get pods --no-headers
# 29
expect "29 get pods --all-namespaces: NAMESPACE column, dev/nginx-dev" "^NAMESPACE +NAME +READY +STATUS +RESTARTS +AGE
[\s\S]*dev +nginx-dev +1/1 +Running +0 " -- kubectl get pods --all-namespaces

# ---------------------------------------------------------------- 11.8 Services (namespace dev)
# 30
cat >"$E2E_TMP/svc.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: nginx-svc
spec:
  type: ClusterIP
  selector:
    app: nginx
  ports:
    - port: 8080
      targetPort: 80
      protocol: TCP
YAML
expect "30 apply svc.yaml" "^service/nginx-svc created\$" -- kubectl apply -f "$E2E_TMP/svc.yaml"
expect "30 it landed in namespace dev" "^dev\$" -- kubectl get svc nginx-svc -o jsonpath='{.metadata.namespace}'
# 31
expect "31 get svc -o wide" "^NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE +SELECTOR
nginx-svc +ClusterIP +10\.43\.[0-9]+\.[0-9]+ +<none> +8080/TCP +[0-9a-z]+ +app=nginx\$" -- kubectl get svc -o wide
# 32
cat >"$E2E_TMP/svc-deb.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: debian-pod
spec:
  containers:
    - name: debian
      image: debian:latest
      command: ["sleep", "infinity"]
      tty: true
YAML
cat >"$E2E_TMP/svc-nginx.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: nginx-pod
  labels:
    app: nginx
spec:
  containers:
    - name: nginx
      image: nginx
      ports:
        - containerPort: 80
YAML
expect "32 apply svc-deb.yaml" "^pod/debian-pod created\$" -- kubectl apply -f "$E2E_TMP/svc-deb.yaml"
expect "32 apply svc-nginx.yaml" "^pod/nginx-pod created\$" -- kubectl apply -f "$E2E_TMP/svc-nginx.yaml"
eventually 60 3 "32 get pods: debian-pod, nginx-dev, nginx-pod all 1/1 Running" \
  "^debian-pod +1/1 +Running +0 +[0-9a-z]+
nginx-dev +1/1 +Running +0 +[0-9a-z]+
nginx-pod +1/1 +Running +0 +[0-9a-z]+\$" -- kubectl get pods --no-headers
eventually 30 2 "32 the service's endpoints list the nginx pod" "^nginx-svc +10\.42\.[0-9]+\.[0-9]+:80 " -- \
  kubectl get endpoints nginx-svc --no-headers
# 33: the debian image has no curl (the course apt-installs it): bash's /dev/tcp does the GET.
get_script='exec 3<>/dev/tcp/$0/8080 && printf "GET / HTTP/1.0\r\nHost: $0\r\n\r\n" >&3 && cat <&3'
eventually 30 2 "33 debian-pod reaches http://nginx-svc:8080 (search path, 8080 -> 80)" "HTTP/1\.1 200 OK[\s\S]*<title>Welcome to nginx!</title>" -- kubectl exec debian-pod -- bash -c "$get_script" nginx-svc
svc_ip=$(kubectl get svc nginx-svc -o jsonpath='{.spec.clusterIP}')
expect "33 debian-pod got nginx-svc's service variables (created before it)" \
  "^NGINX_SVC_PORT=tcp://$svc_ip:8080
NGINX_SVC_PORT_8080_TCP=tcp://$svc_ip:8080
NGINX_SVC_PORT_8080_TCP_ADDR=$svc_ip
NGINX_SVC_PORT_8080_TCP_PORT=8080
NGINX_SVC_PORT_8080_TCP_PROTO=tcp
NGINX_SVC_SERVICE_HOST=$svc_ip
NGINX_SVC_SERVICE_PORT=8080\$" -- bash -c "kubectl exec debian-pod -- env | grep ^NGINX_SVC | sort"
expect "33 and by its full name" "<title>Welcome to nginx!</title>" -- \
  kubectl exec debian-pod -- bash -c "$get_script" nginx-svc.dev.svc.cluster.local
expect "33 exec -it debian-pod -- sh: a shell on a TTY" "# [\s\S]*dev\.svc\.cluster\.local[\s\S]*Welcome to nginx" -- tty_exec \
  "grep ^search /etc/resolv.conf; bash -c 'exec 3<>/dev/tcp/nginx-svc/8080; printf \"GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n\" >&3; cat <&3' | grep title\nexit\n" \
  kubectl exec -it debian-pod -- sh
# 34
cat >"$E2E_TMP/nodeport.yaml" <<YAML
apiVersion: v1
kind: Service
metadata:
  name: nginx-srv2
spec:
  type: NodePort
  selector:
    app: nginx
  ports:
    - port: 8080
      targetPort: 80
      nodePort: $np
YAML
sed "s/nodePort: $np/nodePort: 80/" "$E2E_TMP/nodeport.yaml" >"$E2E_TMP/nodeport-bad.yaml"
expect_fail "34 a nodePort outside 30000-32767 is refused (422)" \
  "provided port is not in the valid range\. The range of valid ports is 30000-32767" -- \
  kubectl apply -f "$E2E_TMP/nodeport-bad.yaml"
expect "34 apply nodeport.yaml (nodePort $np)" "^service/nginx-srv2 created\$" -- kubectl apply -f "$E2E_TMP/nodeport.yaml"
expect "34 PORT(S) 8080:$np/TCP" "^nginx-srv2 +NodePort +10\.43\.[0-9.]+ +<none> +8080:$np/TCP " -- kubectl get svc nginx-srv2 --no-headers
# 35
expect_fail "35 curl localhost:$np fails: nothing published without -p" "Failed to connect to localhost port $np" -- \
  curl -sS --max-time 5 "http://localhost:$np"
# 36
expect "36 docker ps: serverlb/server-0/agent-0 per cluster, no tools containers" \
  "^k3dpp-$dev-agent-0 k3dpp-$dev-server-0 k3dpp-$dev-serverlb k3dpp-$test-agent-0 k3dpp-$test-server-0 k3dpp-$test-serverlb \$" -- \
  bash -c "docker ps --filter name=k3dpp-$dev --filter name=k3dpp-$test --format '{{.Names}}' | sort | tr '\n' ' '"
expect "36 docker ps columns" "^CONTAINER ID +IMAGE +COMMAND " -- docker ps --filter "name=k3dpp-$test"
# 37: Option A
kubectl port-forward svc/nginx-srv2 "$np:8080" -n dev >"$E2E_TMP/pf.log" 2>&1 &
pf=$!
eventually 20 1 "37 port-forward svc/nginx-srv2 $np:8080: Forwarding from 127.0.0.1:$np -> 80" \
  "^Forwarding from 127\.0\.0\.1:$np -> 80" -- cat "$E2E_TMP/pf.log"
eventually 10 1 "37 curl localhost:$np through the port-forward" "<title>Welcome to nginx!</title>" -- \
  curl -sS --max-time 5 "http://localhost:$np"
expect "37 kubectl says Handling connection for $np" "Handling connection for $np" -- cat "$E2E_TMP/pf.log"
# 38: Option B
expect "38 cluster list" "^NAME +SERVERS +AGENTS +LOADBALANCER[\s\S]*
$dev +1/1 +1/1 +true[\s\S]*
$test +1/1 +1/1 +true" -- "$K3DPP" cluster list
# 39
expect "39 cluster delete $dev" "Successfully deleted cluster $dev!" -- "$K3DPP" cluster delete "$dev"
expect "39 cluster delete $test" "Deleting cluster '$test'[\s\S]*Successfully deleted cluster $test!" -- "$K3DPP" cluster delete "$test"
eventually 30 1 "39 the port-forward lost its connection and exited" "^gone\$" -- \
  bash -c "kill -0 $pf 2>/dev/null && echo running || echo gone"
wait "$pf" 2>/dev/null
expect_fail "39 port $np is free again" "Failed to connect" -- curl -sS --max-time 5 "http://localhost:$np"
# 40
run "40 cluster create $my -p $np:$np@server:0" -- "$K3DPP" cluster create "$my" -p "$np:$np@server:0"
expect "40 one server, no agents, LB" "^$my +1/1 +0/0 +true" -- bash -c "'$K3DPP' cluster list | grep '^$my '"
expect "40 context $mctx, namespace default" "^\* +$mctx +$mctx +admin@$mctx +\$" -- \
  bash -c "kubectl config get-contexts | grep '^\*'"
run "import nginx into $my" -- "$K3DPP" image import nginx:latest -c "$my"
# 41
expect "41 apply nodeport.yaml" "^service/nginx-srv2 created\$" -- kubectl apply -f "$E2E_TMP/nodeport.yaml"
expect "41 apply svc-nginx.yaml" "^pod/nginx-pod created\$" -- kubectl apply -f "$E2E_TMP/svc-nginx.yaml"
eventually 60 3 "41 nginx-pod Running" "^nginx-pod +1/1 +Running" -- kubectl get pods --no-headers
eventually 30 2 "41 curl localhost:$np: host -> serverlb -> server-0 NodePort -> nginx" "<title>Welcome to nginx!</title>" -- \
  curl -sS --max-time 5 "http://localhost:$np"

echo "elapsed $((SECONDS - t_begin))s"
e2e_summary
