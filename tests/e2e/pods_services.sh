#!/usr/bin/env bash
# Chapter: pods, exec/logs/port-forward, Services (ClusterIP by DNS from a pod, NodePort through the
# load balancer) and a self-healing Deployment, on a real cluster (course 11.5, 11.8, 11.9).
# Needs the workload images (images/build-workloads.sh), imported with `k3dpp image import`.
source "$(dirname "$0")/lib.sh"

e2e_new_cluster c pods
port=$((30100 + RANDOM % 500))
run "cluster create $c --agents 1 -p $port:$port@server:0" -- \
  "$K3DPP" cluster create "$c" --agents 1 -p "$port:$port@server:0"
run "image import nginx:1.24 busybox" -- "$K3DPP" image import nginx:1.24 busybox:latest -c "$c"

expect "kubectl run nginx-pod" "^pod/nginx-pod created" -- \
  kubectl run nginx-pod --image=nginx:1.24 --restart=Never --port=80 --labels="app=nginx,zone=prod,version=v1"
expect "kubectl run a busybox client" "^pod/client created" -- \
  kubectl run client --image=busybox:latest --image-pull-policy=IfNotPresent --restart=Never -- \
  sh -c 'echo client started; sleep 3600'
eventually 60 2 "both pods Running 1/1" "client +1/1 +Running .*nginx-pod +1/1 +Running" -- \
  bash -c "kubectl get pods --no-headers | sort | tr '\n' ' '"
expect "get pods -o wide: IP in 10.42/16 and NODE filled" "nginx-pod +1/1 +Running +0 +[0-9a-z]+ +10\.42\.[0-9]+\.[0-9]+ +k3dpp-$c-(server|agent)-0" -- \
  kubectl get pods -o wide
expect "describe pod shows node and labels" "Labels: +app=nginx" -- kubectl describe pod nginx-pod
expect "kubectl logs" "^client started" -- kubectl logs client
expect "kubectl exec ls -al (nginx image root)" "docker-entrypoint.sh" -- kubectl exec nginx-pod -- ls -al /
expect_fail "kubectl exec exit code reaches the user" "command terminated with exit code 3" -- \
  kubectl exec client -- sh -c 'exit 3'
expect "hostname is the pod name" "^nginx-pod\$" -- kubectl exec nginx-pod -- hostname

cat >"$E2E_TMP/svc.yaml" <<YAML
apiVersion: v1
kind: Service
metadata:
  name: nginx-svc
spec:
  selector:
    app: nginx
  ports:
  - protocol: TCP
    port: 8080
    targetPort: 80
---
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
    nodePort: $port
YAML
expect "apply the ClusterIP and NodePort services" "service/nginx-srv2 created" -- kubectl apply -f "$E2E_TMP/svc.yaml"
expect "get svc -o wide columns" "nginx-svc +ClusterIP +10\.43\.[0-9.]+ +<none> +8080/TCP +[0-9a-z]+ +app=nginx" -- kubectl get svc -o wide
expect "NodePort PORT(S) column" "8080:$port/TCP" -- kubectl get svc nginx-srv2
eventually 30 2 "a pod reaches the ClusterIP service by its short DNS name" "Welcome to nginx!" -- \
  kubectl exec client -- sh -c 'printf "GET / HTTP/1.0\r\nHost: x\r\n\r\n" | nc -w 3 nginx-svc 8080'
eventually 15 2 "and by its full name" "HTTP/1.1 200 OK" -- \
  kubectl exec client -- sh -c "printf 'GET / HTTP/1.0\r\nHost: x\r\n\r\n' | nc -w 3 nginx-svc.default.svc.cluster.local 8080"
eventually 30 2 "curl localhost:$port on the host reaches nginx through the LB (NodePort)" "Welcome to nginx!" -- \
  curl -s --max-time 5 "http://127.0.0.1:$port/"

pfport=$((18000 + RANDOM % 1000))
kubectl port-forward pod/nginx-pod "$pfport:80" >"$E2E_TMP/pf.log" 2>&1 &
pf=$!
eventually 15 1 "port-forward pod/nginx-pod prints Forwarding from" "Forwarding from 127.0.0.1:$pfport -> 80" -- cat "$E2E_TMP/pf.log"
eventually 10 1 "curl through port-forward" "Welcome to nginx!" -- curl -s --max-time 5 "http://127.0.0.1:$pfport/"
kill "$pf" 2>/dev/null; wait "$pf" 2>/dev/null

expect "delete pod" "pod \"client\" deleted" -- kubectl delete pod client
expect_fail "deleted pod is gone" "NotFound" -- kubectl get pod client

expect "create deployment (2 replicas)" "deployment.apps/web created" -- \
  kubectl create deployment web --image=nginx:1.24 --replicas=2
eventually 60 2 "deployment 2/2 available" "^web +2/2 +2 +2 " -- kubectl get deployment web --no-headers
victim=$(kubectl get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
expect "pod names are <deploy>-<hash>-<5 chars>" "^web-[a-z0-9]+-[bcdfghjklmnpqrstvwxz2456789]{5}\$" -- echo "$victim"
run "self-healing: delete one pod" -- kubectl delete pod "$victim"
eventually 60 2 "a replacement pod runs (2 Running, the deleted one gone)" "^2 0\$" -- bash -c \
  "echo \$(kubectl get pods -l app=web --no-headers | grep -c ' Running ') \$(kubectl get pods -l app=web --no-headers | grep -c '^$victim ')"
run "scale to 4" -- kubectl scale deployment web --replicas=4
eventually 60 2 "deployment 4/4" "^web +4/4 +4 +4 " -- kubectl get deployment web --no-headers
expect "delete deployment" "deployment.apps \"web\" deleted" -- kubectl delete deployment web
eventually 60 2 "cascading delete removes its pods" "^0\$" -- bash -c "kubectl get pods -l app=web --no-headers 2>/dev/null | wc -l"

e2e_summary
