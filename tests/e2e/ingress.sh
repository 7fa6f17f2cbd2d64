#!/usr/bin/env bash
# Chapter: Ingress the k3d way. k3d's "exposing services" guide with k3dpp's bundled ingress
# controller (IngressClass k3dpp, nginx on the server nodes, reached through the load balancer's
# ports 80 and 443): `-p HTTP:80@loadbalancer -p HTTPS:443@loadbalancer`, `kubectl create ingress`,
# host rules (exact and wildcard), Prefix/Exact paths, a missing Service answering 503 for its own
# host only, TLS from a kubernetes.io/tls Secret by SNI (curl --resolve to 127.0.0.1) and the
# default certificate otherwise, an Ingress of another class left alone, invalid hosts and paths
# refused with Kubernetes' messages, and a rolling update behind the Ingress under a bounded curl
# loop without one failed request. The host only talks to 127.0.0.1.
source "$(dirname "$0")/lib.sh"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])'; }

e2e_new_cluster c ing
http=$(free_port)
https=$(free_port)
run "cluster create $c --agents 1 -p $http:80@loadbalancer -p $https:443@loadbalancer" -- \
  "$K3DPP" cluster create "$c" --agents 1 -p "$http:80@loadbalancer" -p "$https:443@loadbalancer"
run "image import nginx:1.24 busybox" -- "$K3DPP" image import nginx:1.24 busybox:latest -c "$c"
get() { curl -sS --max-time 5 -H "Host: $1" "http://127.0.0.1:$http$2"; }
code() { curl -s -o /dev/null --max-time 5 -w '%{http_code}' -H "Host: $1" "http://127.0.0.1:$http$2"; }

# ---------------------------------------------------------------- the controller's objects
eventually 30 2 "IngressClass k3dpp, controller k3dpp.io/ingress-nginx" "^k3dpp +k3dpp\.io/ingress-nginx +<none> " -- \
  kubectl get ingressclass --no-headers
expect "k3dpp is the default class" "ingressclass.kubernetes.io/is-default-class: \"true\"" -- \
  kubectl get ingressclass k3dpp -o yaml
eventually 30 2 "kube-system/k3dpp-ingress is a LoadBalancer on 80 and 443 with the node IPs" \
  "^k3dpp-ingress +LoadBalancer +10\.43\.[0-9.]+ +[0-9.]+,[0-9.]+ +80:3[0-9]{4}/TCP,443:3[0-9]{4}/TCP" -- \
  kubectl get svc -n kube-system k3dpp-ingress --no-headers

# ---------------------------------------------------------------- k3d's guide: one Ingress for nginx
run "create deployment nginx (2 replicas) and expose it on 80" -- sh -c \
  'kubectl create deployment nginx --image=nginx:1.24 --replicas=2 && kubectl expose deployment nginx --port=80'
expect "kubectl create ingress nginx --rule=/*=nginx:80" "ingress.networking.k8s.io/nginx created" -- \
  kubectl create ingress nginx --rule="/*=nginx:80"
expect "the default class was filled in" "^k3dpp\$" -- kubectl get ingress nginx -o jsonpath='{.spec.ingressClassName}'
run "deployment nginx available" -- kubectl wait --for=condition=Available deployment/nginx --timeout=120s
eventually 30 2 "curl 127.0.0.1:$http/ (-p $http:80@loadbalancer) reaches nginx through the Ingress" \
  "Welcome to nginx!" -- curl -sS --max-time 5 "http://127.0.0.1:$http/"
eventually 30 2 "kubectl get ingress shows CLASS, HOSTS, ADDRESS (node IPs), PORTS" \
  "^nginx +k3dpp +\* +[0-9.]+,[0-9.]+ +80 " -- kubectl get ingress nginx --no-headers

# ---------------------------------------------------------------- hosts and paths
cat >"$E2E_TMP/colors.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: blue}
spec:
  selector: {matchLabels: {app: blue}}
  template:
    metadata: {labels: {app: blue}}
    spec:
      containers:
      - name: httpd
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "mkdir -p /www/api && echo blue > /www/index.html && echo blue > /www/apix && echo blue-exact > /www/exact && exec httpd -f -p 8080 -h /www"]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: green}
spec:
  selector: {matchLabels: {app: green}}
  template:
    metadata: {labels: {app: green}}
    spec:
      containers:
      - name: httpd
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "mkdir -p /www/api && echo green > /www/index.html && echo green-api > /www/api/index.html && echo green-exact > /www/exact && exec httpd -f -p 8080 -h /www"]
        ports: [{name: web, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: blue}
spec:
  selector: {app: blue}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: green}
spec:
  selector: {app: green}
  ports: [{name: web, port: 8000, targetPort: web}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: colors}
spec:
  rules:
  - host: colors.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: blue, port: {number: 80}}}}
      - {path: /api, pathType: Prefix, backend: {service: {name: green, port: {name: web}}}}
      - {path: /exact, pathType: Exact, backend: {service: {name: green, port: {number: 8000}}}}
  - host: "*.apps.example.com"
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: green, port: {number: 8000}}}}
  - host: missing.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: nope, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: foreign}
spec:
  ingressClassName: other
  rules:
  - host: foreign.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: green, port: {number: 8000}}}}
YAML
run "apply blue, green, their Services, Ingress colors and an Ingress of class other" -- \
  kubectl apply -f "$E2E_TMP/colors.yaml"
run "blue and green available" -- kubectl wait --for=condition=Available deployment/blue deployment/green --timeout=120s
eventually 30 2 "Host colors.example.com / -> blue" "^blue\$" -- get colors.example.com /
expect "Prefix /api (port by name) -> green" "^green-api\$" -- get colors.example.com /api/
expect "Prefix /api does not match /apix (element-wise)" "^blue\$" -- get colors.example.com /apix
expect "Exact /exact -> green" "^green-exact\$" -- get colors.example.com /exact
expect "wildcard *.apps.example.com matches one label" "^green\$" -- get shop.apps.example.com /
expect "wildcard does not match two labels (catch-all nginx instead)" "Welcome to nginx!" -- get a.b.apps.example.com /
expect "missing Service -> 503 for its host" "^503\$" -- code missing.example.com /
expect "... while the other hosts still answer 200" "^200\$" -- code colors.example.com /
expect "an Ingress of class other is not served (catch-all answers)" "Welcome to nginx!" -- get foreign.example.com /
eventually 15 2 "Ingress colors gets an ADDRESS" "^colors +k3dpp +colors\.example\.com,\*\.apps\.example\.com,missing\.example\.com +[0-9.]+" -- \
  kubectl get ingress colors --no-headers
expect "the Ingress of class other keeps no ADDRESS" "^foreign +other +foreign\.example\.com +80 " -- \
  kubectl get ingress foreign --no-headers

# ---------------------------------------------------------------- TLS
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$E2E_TMP/tls.key" -out "$E2E_TMP/tls.crt" -days 2 \
  -subj "/CN=secure.example.com" -addext "subjectAltName=DNS:secure.example.com" >/dev/null 2>&1
run "kubectl create secret tls secure-tls" -- \
  kubectl create secret tls secure-tls --cert="$E2E_TMP/tls.crt" --key="$E2E_TMP/tls.key"
expect "kubectl create ingress secure with tls=secure-tls" "ingress.networking.k8s.io/secure created" -- \
  kubectl create ingress secure --rule="secure.example.com/*=blue:80,tls=secure-tls"
eventually 30 2 "https://secure.example.com:$https (curl --resolve, verified with the Secret's certificate)" "^blue\$" -- \
  curl -sS --max-time 5 --cacert "$E2E_TMP/tls.crt" --resolve "secure.example.com:$https:127.0.0.1" \
  "https://secure.example.com:$https/"
expect "a host without a TLS Secret gets the default self-signed certificate" "subject: CN=K3DPP INGRESS DEFAULT CERT" -- \
  sh -c "curl -skv --max-time 5 --resolve colors.example.com:$https:127.0.0.1 https://colors.example.com:$https/ 2>&1"

# ---------------------------------------------------------------- validation
expect_fail "an IP address as host is refused" \
  'spec.rules\[0\].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address' -- \
  kubectl create ingress bad1 --rule="10.0.0.1/*=blue:80"
cat >"$E2E_TMP/bad.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bad2}
spec:
  rules:
  - host: Bad_Host.example.com
    http:
      paths:
      - {path: api, pathType: Prefix, backend: {service: {name: blue, port: {number: 80}}}}
YAML
expect_fail "an invalid host and a relative path are refused with Kubernetes' messages" \
  'The Ingress "bad2" is invalid: [\s\S]*\* spec.rules\[0\].host: Invalid value: "Bad_Host.example.com": a lowercase RFC 1123 subdomain must consist of [\s\S]*\* spec.rules\[0\].http.paths\[0\].path: Invalid value: "api": must be an absolute path' -- \
  kubectl apply -f "$E2E_TMP/bad.yaml"

# ---------------------------------------------------------------- rolling update behind the Ingress
run "scale nginx to 3" -- kubectl scale deployment nginx --replicas=3
run "nginx has 3 available replicas" -- kubectl rollout status deployment/nginx --timeout=120s
cat >"$E2E_TMP/loop.sh" <<'SH'
# At most 3000 requests or 120 s; stops once $1/done exists. Prints "total failed".
total=0; failed=0; end=$(( $(date +%s) + 120 ))
while [ "$total" -lt 3000 ] && [ "$(date +%s)" -lt "$end" ] && [ ! -e "$1/done" ]; do
  out=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}s %{errormsg}' "http://127.0.0.1:$2/")
  total=$((total + 1))
  [ "${out%% *}" = 200 ] || { failed=$((failed + 1)); echo "request $total at $(date +%T.%N): $out" >>"$1/failures"; }
done
echo "$total $failed"
SH
bash "$E2E_TMP/loop.sh" "$E2E_TMP" "$http" >"$E2E_TMP/loop.out" &
loop_pid=$!
sleep 2
run "kubectl rollout restart deployment nginx" -- kubectl rollout restart deployment nginx
run "rollout finished" -- kubectl rollout status deployment/nginx --timeout=180s
sleep 3
touch "$E2E_TMP/done"
wait "$loop_pid"
read -r total failed <"$E2E_TMP/loop.out"
echo "      rolling update: $total requests, $failed failed"
expect "no failed request through the Ingress during the rolling update ($total requests)" "^0 [1-9][0-9]+\$" -- \
  sh -c "echo $failed $total; cat '$E2E_TMP/failures' 2>/dev/null || true"

e2e_summary
