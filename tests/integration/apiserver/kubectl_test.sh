#!/usr/bin/env bash
# Integration test: the real `k3dpp-node server` as a host process, driven by the real kubectl.
# Usage: kubectl_test.sh /path/to/k3dpp-node
# Every command is printed; its output (ages and random IPs normalized) is compared to what a real
# Kubernetes 1.32 cluster prints. Any difference fails the test (exit 1).
set -u

NODE_BIN=${1:?usage: kubectl_test.sh /path/to/k3dpp-node}
KUBECTL=${KUBECTL:-kubectl}
WORK=$(mktemp -d /tmp/k3dpp-apiserver-it.XXXXXX)
FAILURES=0

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

mkdir -p "$WORK/m"
host_server_start "$NODE_BIN" "$WORK" --no-kubelet --disable-controllers || { echo "FAIL: server did not become ready"; exit 1; }
PORT=$HOST_SERVER_PORT

# Normalizes what differs between runs: ages (0s, 5s, 2m3s...), ClusterIPs other than .1/.10,
# uids, timestamps and resourceVersions.
normalize() {
  sed -E \
    -e 's/(^|[[:space:]])([0-9]+[smhdy])+([[:space:]]|$)/\1AGE\3/g' \
    -e 's/(^|[[:space:]])([0-9]+[smhdy])+([[:space:]]|$)/\1AGE\3/g' \
    -e 's/10\.43\.([0-9]+)\.([0-9]+)/CLUSTERIP/g' \
    -e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/UID/g' \
    -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/TIME/g' \
    -e 's/resourceVersion: "[0-9]+"/resourceVersion: "RV"/' \
    -e 's/[[:space:]]+$//' \
    -e 's/[[:space:]]+/ /g'
}

# check "description" expected_rc <<'EOF' expected output EOF -- command...
# Runs the command (stdout+stderr), prints it, compares normalized output and exit code.
check() {
  local expected_rc=$1
  shift
  local expected
  expected=$(cat | normalize)
  echo "\$ $*"
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  local got
  got=$(printf '%s\n' "$out" | normalize)
  printf '%s\n' "$out"
  if [[ "$got" != "$expected" || $rc -ne $expected_rc ]]; then
    echo "FAIL (rc=$rc, want $expected_rc): output differs:"
    diff <(printf '%s\n' "$expected") <(printf '%s\n' "$got") | sed 's/^/    /'
    FAILURES=$((FAILURES + 1))
  fi
}

# Like check, but only requires each expected line to appear (for long outputs such as -o yaml).
check_contains() {
  local expected_rc=$1
  shift
  echo "\$ $*"
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  local norm
  norm=$(printf '%s\n' "$out" | normalize)
  local missing=0
  while IFS= read -r line; do
    [[ -z "$line" ]] && continue
    if ! grep -qxF -- "$line" <<<"$norm"; then
      echo "FAIL: missing line: $line"
      missing=1
    fi
  done < <(normalize)
  if [[ $missing -ne 0 || $rc -ne $expected_rc ]]; then
    [[ $rc -ne $expected_rc ]] && echo "FAIL: rc=$rc, want $expected_rc"
    FAILURES=$((FAILURES + 1))
  fi
}

cat >"$WORK/m/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: mypod
  labels:
    app: web
spec:
  containers:
  - name: nginx
    image: nginx:1.25
    ports:
    - containerPort: 80
EOF
cat >"$WORK/m/deployment.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
EOF
cat >"$WORK/m/service.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: web-svc
spec:
  type: NodePort
  selector:
    app: web
  ports:
  - port: 8080
    targetPort: 80
    nodePort: 30050
EOF
cat >"$WORK/m/unknown.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
  - name: nginx
    imagee: nginx
EOF
cat >"$WORK/m/invalid.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
  - name: nginx
EOF
cat >"$WORK/editor.sh" <<'EOF'
#!/bin/sh
sed -i 's/replicas: 6/replicas: 3/' "$1"
EOF
chmod +x "$WORK/editor.sh"
cd "$WORK" || exit 1

# --- namespaces ---
check 0 "${K[@]}" get ns <<'EOF'
NAME              STATUS   AGE
default           Active   1s
kube-node-lease   Active   1s
kube-public       Active   1s
kube-system       Active   1s
EOF
check 0 "${K[@]}" create ns dev <<'EOF'
namespace/dev created
EOF
check 1 "${K[@]}" create ns dev <<'EOF'
Error from server (AlreadyExists): namespaces "dev" already exists
EOF
check 0 "${K[@]}" get ns dev <<'EOF'
NAME   STATUS   AGE
dev    Active   1s
EOF
check 0 "${K[@]}" get sa -n dev <<'EOF'
NAME      SECRETS   AGE
default   0         1s
EOF

# --- apply: created / unchanged / configured ---
check 0 "${K[@]}" apply -f m/pod.yaml <<'EOF'
pod/mypod created
EOF
check 0 "${K[@]}" apply -f m/pod.yaml <<'EOF'
pod/mypod unchanged
EOF
check 0 "${K[@]}" apply -f m/deployment.yaml -f m/service.yaml <<'EOF'
deployment.apps/web created
service/web-svc created
EOF
sed -i 's/nginx:1.25/nginx:1.26/' m/deployment.yaml
check 0 "${K[@]}" apply -f m/deployment.yaml <<'EOF'
deployment.apps/web configured
EOF
check 0 "${K[@]}" get deployment web -o 'jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}' <<'EOF'
nginx:1.26 2
EOF

# --- get ---
check 0 "${K[@]}" get pods <<'EOF'
NAME    READY   STATUS    RESTARTS   AGE
mypod   0/1     Pending   0          1s
EOF
check 0 "${K[@]}" get pods -o wide <<'EOF'
NAME    READY   STATUS    RESTARTS   AGE   IP       NODE     NOMINATED NODE   READINESS GATES
mypod   0/1     Pending   0          1s    <none>   <none>   <none>           <none>
EOF
check 0 "${K[@]}" get pods -A --show-labels <<'EOF'
NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE   LABELS
default     mypod   0/1     Pending   0          1s    app=web
EOF
check 0 "${K[@]}" get svc <<'EOF'
NAME         TYPE        CLUSTER-IP    EXTERNAL-IP   PORT(S)          AGE
kubernetes   ClusterIP   10.43.0.1     <none>        443/TCP          1s
web-svc      NodePort    10.43.1.1     <none>        8080:30050/TCP   1s
EOF
check 0 "${K[@]}" get deploy <<'EOF'
NAME   READY   UP-TO-DATE   AVAILABLE   AGE
web    0/2     0            0           1s
EOF
check 0 "${K[@]}" get pods -n dev <<'EOF'
No resources found in dev namespace.
EOF
check_contains 0 "${K[@]}" get pod mypod -o yaml <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: mypod
  namespace: default
  uid: 00000000-0000-0000-0000-000000000000
  creationTimestamp: "2026-01-01T00:00:00Z"
    app: web
    imagePullPolicy: IfNotPresent
      protocol: TCP
  dnsPolicy: ClusterFirst
  restartPolicy: Always
  serviceAccountName: default
  phase: Pending
  qosClass: BestEffort
EOF
check_contains 0 "${K[@]}" describe pod mypod <<'EOF'
Name:             mypod
Namespace:        default
Service Account:  default
Labels:           app=web
Status:           Pending
    Image:        nginx:1.25
    Port:         80/TCP
QoS Class:        BestEffort
Events:           <none>
EOF

# --- errors as kubectl prints them for a real server ---
check 1 "${K[@]}" get pod nosuch <<'EOF'
Error from server (NotFound): pods "nosuch" not found
EOF
check 1 "${K[@]}" get deployment nosuch <<'EOF'
Error from server (NotFound): deployments.apps "nosuch" not found
EOF
check 1 "${K[@]}" create -f m/pod.yaml <<'EOF'
Error from server (AlreadyExists): error when creating "m/pod.yaml": pods "mypod" already exists
EOF
check 1 "${K[@]}" apply -f m/unknown.yaml <<'EOF'
Error from server (BadRequest): error when creating "m/unknown.yaml": Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee"
EOF
check 1 "${K[@]}" apply -f m/invalid.yaml <<'EOF'
The Pod "bad" is invalid: spec.containers[0].image: Required value
EOF
check 1 "${K[@]}" create service nodeport np80 --tcp=80:80 --node-port=80 <<'EOF'
error: failed to create NodePort service: Service "np80" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767
EOF
check 1 "${K[@]}" create service nodeport dup --tcp=80:80 --node-port=30050 <<'EOF'
error: failed to create NodePort service: Service "dup" is invalid: spec.ports[0].nodePort: Invalid value: 30050: provided port is already allocated
EOF

# --- label, scale, edit ---
check 0 "${K[@]}" label pod mypod tier=front <<'EOF'
pod/mypod labeled
EOF
check 0 "${K[@]}" get pods -l tier=front <<'EOF'
NAME    READY   STATUS    RESTARTS   AGE
mypod   0/1     Pending   0          1s
EOF
check 0 "${K[@]}" scale deployment web --replicas=6 <<'EOF'
deployment.apps/web scaled
EOF
check 0 "${K[@]}" get deployment web -o 'jsonpath={.spec.replicas}' <<'EOF'
6
EOF
check 0 env KUBE_EDITOR="$WORK/editor.sh" "${K[@]}" edit deployment web <<'EOF'
deployment.apps/web edited
EOF
check 0 "${K[@]}" get deployment web -o 'jsonpath={.spec.replicas}' <<'EOF'
3
EOF
check 0 env KUBE_EDITOR=true "${K[@]}" edit deployment web <<'EOF'
Edit cancelled, no changes made.
EOF

# --- create/run in another namespace, delete ---
check 0 "${K[@]}" run r1 --image=nginx --restart=Never --port=80 --labels=a=b -n dev <<'EOF'
pod/r1 created
EOF
check 0 "${K[@]}" create configmap cm1 --from-literal=a=b -n dev <<'EOF'
configmap/cm1 created
EOF
check 0 "${K[@]}" get cm -n dev <<'EOF'
NAME            DATA   AGE
cm1                1      1s
kube-root-ca.crt   1      1s
EOF
check 0 "${K[@]}" delete pod mypod <<'EOF'
pod "mypod" deleted
EOF
check 1 "${K[@]}" get pod mypod <<'EOF'
Error from server (NotFound): pods "mypod" not found
EOF
check 0 "${K[@]}" delete -f m/service.yaml <<'EOF'
service "web-svc" deleted
EOF
check 0 "${K[@]}" delete ns dev <<'EOF'
namespace "dev" deleted
EOF
check 0 "${K[@]}" get ns <<'EOF'
NAME              STATUS   AGE
default           Active   1s
kube-node-lease   Active   1s
kube-public       Active   1s
kube-system       Active   1s
EOF

# --- restart: data survives ---
host_server_stop
"$NODE_BIN" server --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --no-kubelet --disable-controllers >>"$WORK/server.log" 2>&1 &
HOST_SERVER_PID=$!
for _ in $(seq 1 100); do
  "${K[@]}" get --raw /readyz >/dev/null 2>&1 && break
  sleep 0.2
done
check 0 "${K[@]}" get deploy <<'EOF'
NAME   READY   UP-TO-DATE   AVAILABLE   AGE
web    0/3     0            0           1s
EOF

if [[ $FAILURES -ne 0 ]]; then
  echo "$FAILURES check(s) FAILED"
  exit 1
fi
echo "all checks passed"
