#!/usr/bin/env bash
# Chapter: a local registry the way k3d users use one (issue 8). `k3dpp registry create`, a push
# from the host to 127.0.0.1:PORT, a cluster with --registry-use whose nodes pull `nginx:1.24`
# through the registry (docker.io mirror, no `k3dpp image import`) and `k3dpp-NAME:5000/...`
# by the registry's own name; --registry-create; cluster delete removes the registry it created
# and keeps a used one; registry delete leaves no container or volume.
# Needs the registry image (built here if missing) and nginx:1.24, busybox:latest in docker
# (images/build-workloads.sh).
source "$(dirname "$0")/lib.sh"

repo=$(cd "$(dirname "$0")/../.." && pwd)
version=$(sed -n 's/^project(k3dpp VERSION \([0-9][0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
reg_image=${K3DPP_REGISTRY_IMAGE:-k3dpp/registry:$version}
reg=e2e-reg-$E2E_RUN_ID        # container k3dpp-$reg
reg2=e2e-reg2-$E2E_RUN_ID      # created with the second cluster
pushed_tags=()

_registry_cleanup() {
  [ "$BASHPID" = "$E2E_MAIN_PID" ] || return 0
  [ "${E2E_KEEP:-0}" = 1 ] && return 0
  local t
  for t in "${pushed_tags[@]}"; do docker rmi "$t" >/dev/null 2>&1 || true; done
  for r in "$reg" "$reg2"; do "$K3DPP" registry delete "$r" >/dev/null 2>&1 || true; done
}
# Clusters first (a used registry is disconnected from their networks), then the registries.
trap '_e2e_cleanup; _registry_cleanup' EXIT

if ! docker image inspect "$reg_image" >/dev/null 2>&1; then
  if [ -n "${K3DPP_REGISTRY_IMAGE:-}" ]; then
    run "registry image $reg_image exists" -- docker image inspect "$reg_image"
  else
    run "build the registry image (images/build.sh --only registry)" -- \
      env -u K3DPP_IMAGE_TAG "$repo/images/build.sh" --only registry
  fi
fi

# host_port NAME: the registry's published port, from `registry list`.
host_port() { "$K3DPP" registry list "$1" --no-headers | awk '{print $NF}' | sed 's/.*://'; }
# push SRC DEST: tag and push a local image into a registry (run it in the main shell: the tag
# is remembered for cleanup).
push() {
  pushed_tags+=("$2")
  run "docker push $1 as $2" -- bash -c "docker tag $1 $2 && docker push $2"
}
# node_of POD CONTEXT
node_of() { kubectl --context "$2" get pod "$1" -o jsonpath='{.spec.nodeName}'; }

# ---- a standalone registry
expect "registry create $reg prints how to use it" "k3dpp cluster create --registry-use k3dpp-$reg:[0-9]+" -- \
  "$K3DPP" registry create "$reg"
port=$(host_port "$reg")
expect "registry list: NAME ROLE CLUSTER STATUS HOST" \
  "^NAME +ROLE +CLUSTER +STATUS +HOST.*k3dpp-$reg +registry +running +127\.0\.0\.1:$port" -- \
  bash -c "\"$K3DPP\" registry list | tr '\n' ' '"
expect_fail "registry create twice is refused" "registry 'k3dpp-$reg' already exists" -- \
  "$K3DPP" registry create "$reg"
expect_fail "--registry-use with a bad name is refused" "registry name 'Bad_Name' is not valid" -- \
  "$K3DPP" cluster create "e2e-registry-bad-$E2E_RUN_ID" --registry-use Bad_Name
eventually 20 1 "the registry answers /v2/ on 127.0.0.1:$port" "^200$" -- \
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/"
push nginx:1.24 "127.0.0.1:$port/library/nginx:1.24"
push busybox:latest "127.0.0.1:$port/e2e/busybox:1"
# What the nodes must end up with: the manifest digest the registry stored, the image (config) id.
digest=$(docker inspect -f '{{join .RepoDigests " "}}' nginx:1.24 | tr ' ' '\n' | sed -n "s|^127.0.0.1:$port/library/nginx@||p")
image_id=$(docker inspect -f '{{.Id}}' nginx:1.24)
expect "the registry's catalog lists both" '"repositories":\["e2e/busybox","library/nginx"\]' -- \
  curl -s "http://127.0.0.1:$port/v2/_catalog"

# ---- a cluster that uses it
e2e_new_cluster c registry
ctx=k3dpp-$c
t0=$(date +%s)
run "cluster create $c --agents 1 --registry-use k3dpp-$reg:$port" -- \
  "$K3DPP" cluster create "$c" --agents 1 --registry-use "k3dpp-$reg:$port"
echo "      (cluster create took $(( $(date +%s) - t0 )) s)"
for node in "k3dpp-$c-server-0" "k3dpp-$c-agent-0"; do
  expect "$node: docker.io is mirrored through http://k3dpp-$reg:5000 (hosts.toml)" \
    "^server = \"https://registry-1.docker.io\".*\[host\.\"http://k3dpp-$reg:5000\"\] +capabilities = \[\"pull\", \"resolve\"\]" -- \
    bash -c "docker exec $node cat /etc/containerd/certs.d/docker.io/hosts.toml | grep -v '^#' | tr '\n' ' '"
  expect "$node: k3dpp-$reg:$port is the registry too" "server = \"http://k3dpp-$reg:5000\"" -- \
    docker exec "$node" cat "/etc/containerd/certs.d/k3dpp-$reg:$port/hosts.toml"
  expect "$node: no nginx image before the pod (nothing imported)" "^none$" -- \
    bash -c "docker exec $node ctr -n k8s.io images ls -q | grep -c 'nginx' >/dev/null && echo some || echo none"
done
expect "the registry is on the cluster network" "k3dpp-$c" -- \
  docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "k3dpp-$reg"

cat >"$E2E_TMP/pods.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: nginx
    image: nginx:1.24
    imagePullPolicy: Always
---
apiVersion: v1
kind: Pod
metadata:
  name: bb
spec:
  containers:
  - name: bb
    image: k3dpp-$reg:5000/e2e/busybox:1
    command: ["sh", "-c", "echo pulled by name; sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: bb-hostport
spec:
  containers:
  - name: bb
    image: k3dpp-$reg:$port/e2e/busybox:1
    command: ["sh", "-c", "sleep 3600"]
YAML
t0=$(date +%s)
expect "apply pods: nginx:1.24 (Always), k3dpp-$reg:5000/e2e/busybox:1, k3dpp-$reg:$port/e2e/busybox:1" \
  "pod/bb-hostport created" -- kubectl --context "$ctx" apply -f "$E2E_TMP/pods.yaml"
eventually 90 2 "all three pods Running 1/1" "bb +1/1 +Running .*bb-hostport +1/1 +Running .*web +1/1 +Running" -- \
  bash -c "kubectl --context $ctx get pods --no-headers | sort | tr '\n' ' '"
echo "      (pods Running $(( $(date +%s) - t0 )) s after apply)"
expect "describe pod web: Pulling and Pulled events" \
  "Pulling +.*Pulling image \"nginx:1\.24\".*Pulled +.*Successfully pulled image \"nginx:1\.24\"" -- \
  bash -c "kubectl --context $ctx describe pod web | tr '\n' ' '"
echo "      ($(grep -oE 'Successfully pulled image "nginx:1\.24" in [^ ]+ \([^)]*\)\. Image size: [0-9]+ bytes' <<<"$E2E_LAST_OUT" | head -n 1))"
expect "pod web's imageID is the pushed image ($digest / $image_id)" "${digest:-none}|${image_id:-none}" -- \
  kubectl --context "$ctx" get pod web -o jsonpath='{.status.containerStatuses[0].imageID}'
node=$(node_of web "$ctx")
expect "ctr in $node shows docker.io/library/nginx:1.24" "^docker\.io/library/nginx:1\.24$" -- \
  docker exec "$node" ctr -n k8s.io images ls -q name==docker.io/library/nginx:1.24
# containerd asks a mirror with ?ns=<upstream>: these requests are the nodes' pulls, not the push.
expect "the registry served the node's pull (HEAD manifests/1.24?ns=docker.io in its log)" \
  "\"HEAD /v2/library/nginx/manifests/1\.24\?ns=docker\.io HTTP/1\.1\" 200" -- \
  bash -c "docker logs k3dpp-$reg 2>&1 | grep -F 'ns=docker.io' | grep -F '\"HEAD ' | head -n 3"
expect "pod bb pulled by the registry's name" "^pulled by name" -- kubectl --context "$ctx" logs bb

# ---- --registry-create
e2e_new_cluster c2 registry2
ctx2=k3dpp-$c2
run "cluster create $c2 --registry-create $reg2" -- "$K3DPP" cluster create "$c2" --registry-create "$reg2"
expect "registry list: $reg2 belongs to $c2" "k3dpp-$reg2 +registry +$c2 +running +127\.0\.0\.1:[0-9]+" -- \
  "$K3DPP" registry list
port2=$(host_port "$reg2")
eventually 20 1 "registry $reg2 answers on 127.0.0.1:$port2" "^200$" -- \
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port2/v2/"
push nginx:1.24 "127.0.0.1:$port2/library/nginx:1.24"
expect "kubectl run web2 --image=nginx:1.24" "pod/web2 created" -- \
  kubectl --context "$ctx2" run web2 --image=nginx:1.24 --image-pull-policy=Always
eventually 90 2 "web2 Running 1/1 (pulled through $reg2)" "web2 +1/1 +Running" -- \
  kubectl --context "$ctx2" get pods --no-headers
expect "$reg2 served it" "\"HEAD /v2/library/nginx/manifests/1\.24\?ns=docker\.io HTTP/1\.1\" 200" -- \
  bash -c "docker logs k3dpp-$reg2 2>&1 | grep -F 'ns=docker.io' | grep -F '\"HEAD ' | head -n 3"
run "cluster delete $c2" -- "$K3DPP" cluster delete "$c2"
expect "its registry is gone (container and volume)" "^0 0$" -- \
  bash -c "echo \$(docker ps -aq --filter name=^/k3dpp-$reg2\$ | wc -l) \$(docker volume ls -q --filter name=^k3dpp-$reg2-data\$ | wc -l)"

# ---- cluster delete keeps a used registry
run "cluster delete $c" -- "$K3DPP" cluster delete "$c"
expect "the used registry is still running" "k3dpp-$reg +registry +running" -- "$K3DPP" registry list "$reg"
expect "and is off the deleted cluster's network" "^bridge $" -- \
  docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "k3dpp-$reg"
expect_fail "the cluster network is gone" "No such network|not found" -- docker network inspect "k3dpp-$c"

# ---- registry delete
expect "registry delete $reg" "Successfully deleted registry 'k3dpp-$reg'" -- "$K3DPP" registry delete "$reg"
expect "no container and no volume left" "^0 0$" -- \
  bash -c "echo \$(docker ps -aq --filter name=^/k3dpp-$reg\$ | wc -l) \$(docker volume ls -q --filter name=^k3dpp-$reg-data\$ | wc -l)"
expect_fail "registry delete of a missing registry" "registry 'k3dpp-$reg' not found" -- \
  "$K3DPP" registry delete "$reg"

e2e_summary
