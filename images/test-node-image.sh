#!/usr/bin/env bash
# Smoke test of the node image: starts one node container with the contract's options (no
# --privileged) and the real entrypoint, with k3dpp-node replaced by `sleep infinity`
# (K3DPP_NODE_BIN), then checks from inside the node:
#   - the entrypoint reached its end (containerd up, shipped images imported)
#   - cgroup controllers and /proc/sys/net are writable
#   - every shared library k3dpp-node links is present in the image
#   - `ctr -n k8s.io images ls` lists the pause image
#   - a container of the pause image runs under runc and exits 0 on SIGTERM
# Everything it creates is named k3dpp-img-test-* and removed at the end.
#
# Usage: images/test-node-image.sh [IMAGE]   (default k3dpp/node:latest)
set -euo pipefail

image=${1:-k3dpp/node:latest}
id=k3dpp-img-test-$$
node=$id-node
net=$id-net
vol=$node-containerd
pause=k3dpp.local/pause:3.10
failures=0

say() { echo "test-node-image: $*" >&2; }
pass() { say "PASS $*"; }
failed() { say "FAIL $*"; failures=$((failures + 1)); }
cleanup() {
  docker rm -f "$node" >/dev/null 2>&1 || true
  docker volume rm "$vol" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
in_node() { docker exec "$node" "$@"; }

docker image inspect "$image" >/dev/null 2>&1 || { say "image $image not found (run images/build.sh)"; exit 1; }
docker network create "$net" >/dev/null
docker volume create "$vol" >/dev/null
t0=$(date +%s.%N)
docker run -d --name "$node" --hostname "$node" --network "$net" --init \
  --cap-add ALL --cap-drop SYS_RESOURCE \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  --tmpfs /run --tmpfs /tmp \
  -v "$vol:/var/lib/containerd" \
  --sysctl net.ipv4.ip_forward=1 \
  --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
  --label k3dpp.test=images \
  -e K3DPP_NODE_BIN=/bin/sleep \
  "$image" infinity >/dev/null

ready=0
for _ in $(seq 1 300); do
  if in_node test -e /run/k3dpp/entrypoint-ready 2>/dev/null; then ready=1; break; fi
  [ "$(docker inspect -f '{{.State.Running}}' "$node")" = true ] || break
  sleep 0.1
done
if [ "$ready" = 1 ]; then
  pass "entrypoint ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }')"
else
  failed "entrypoint did not get ready; container log:"
  docker logs "$node" 2>&1 | tail -n 30 >&2
  in_node tail -n 20 /var/log/containerd.log >&2 2>/dev/null || true
  exit 1
fi

[ "$(docker inspect -f '{{.HostConfig.Privileged}}' "$node")" = false ] && pass "node is not privileged" ||
  failed "node runs privileged"

if in_node sh -c 'set -e; for c in /sys/fs/cgroup/cpu /sys/fs/cgroup/memory /sys/fs/cgroup/pids; do
     [ -d "$c" ] || continue; mkdir "$c/k3dpp-img-test"; rmdir "$c/k3dpp-img-test"; done
   [ ! -f /sys/fs/cgroup/cgroup.controllers ] || { mkdir /sys/fs/cgroup/k3dpp-img-test; rmdir /sys/fs/cgroup/k3dpp-img-test; }'; then
  pass "cgroups writable"
else
  failed "cgroups are not writable"
fi
if in_node sh -c 'v=$(cat /proc/sys/net/ipv4/conf/all/route_localnet); echo "$v" >/proc/sys/net/ipv4/conf/all/route_localnet'; then
  pass "/proc/sys/net writable"
else
  failed "/proc/sys/net is not writable"
fi
if in_node sh -c 'echo 1 >/proc/sys/vm/overcommit_memory' 2>/dev/null; then
  failed "/proc/sys/vm is writable (only /proc/sys/net should be)"
else
  pass "/proc/sys/vm stays read-only"
fi

missing=$(in_node ldd /usr/local/bin/k3dpp-node 2>&1 | grep 'not found' || true)
[ -z "$missing" ] && pass "k3dpp-node's libraries are all in the image" || failed "k3dpp-node misses libraries: $missing"
in_node grep -q 'sandbox_image = "k3dpp.local/pause:3.10"' /etc/containerd/config.toml &&
  pass "containerd config has our sandbox_image" || failed "containerd config lacks sandbox_image"

if in_node ctr -n k8s.io images ls -q | grep -qx "$pause"; then
  pass "ctr -n k8s.io images ls lists $pause"
else
  failed "$pause not in containerd's k8s.io namespace"
fi
in_node ctr plugins ls 2>/dev/null | grep -Eq 'io\.containerd\.grpc\.v1[[:space:]]+cri[[:space:]].*ok' &&
  pass "CRI plugin ok" || failed "CRI plugin not ok"

# A pause container under runc: it must start, keep running, and exit 0 on SIGTERM.
task=k3dpp-img-test-pause
t1=$(date +%s.%N)
if in_node ctr -n k8s.io run -d "$pause" "$task" >/dev/null; then
  sleep 0.5
  status=$(in_node ctr -n k8s.io tasks ls | awk -v t="$task" '$1 == t {print $3}')
  [ "$status" = RUNNING ] && pass "pause task running (ctr run took $(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }'))" ||
    failed "pause task status '$status', want RUNNING"
  in_node ctr -n k8s.io tasks kill -s SIGTERM "$task" >/dev/null
  for _ in $(seq 1 50); do
    status=$(in_node ctr -n k8s.io tasks ls | awk -v t="$task" '$1 == t {print $3}')
    [ "$status" = STOPPED ] && break
    sleep 0.1
  done
  [ "$status" = STOPPED ] && pass "pause task stopped on SIGTERM" || failed "pause task status '$status' after SIGTERM"
  in_node ctr -n k8s.io tasks delete "$task" >/dev/null 2>&1 || true
  in_node ctr -n k8s.io containers delete "$task" >/dev/null 2>&1 || true
else
  failed "ctr run of $pause failed"
fi
# Attached run with --rm: the task's own exit code comes back through ctr.
if in_node timeout 20 ctr -n k8s.io run --rm "$pause" "$task-2" /pause extra-arg >/dev/null 2>&1; then
  failed "pause accepted an argument (expected exit 2)"
else
  rc=$?
  [ "$rc" = 2 ] && pass "ctr run --rm returns the task's exit code (pause rejects arguments: 2)" ||
    failed "ctr run --rm exit code $rc, want 2"
fi

if [ "$failures" = 0 ]; then
  say "all checks passed ($image)"
else
  say "$failures check(s) failed"
  exit 1
fi
