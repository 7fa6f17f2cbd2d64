#!/usr/bin/env bash
# Time to a Ready cluster (1 server, 1 agent, LB; `k3dpp cluster create` returns when every node
# is Ready) next to the floor: creating and starting the same three containers bare (same images
# and options, entrypoint replaced by sleep). Prints the ratio. Needs dockerd and the images.
set -euo pipefail
: "${K3DPP:?}"
name=bench-$RANDOM
export KUBECONFIG=$(mktemp /tmp/k3dpp-bench-kc-XXXXXX)
cleanup() {
  "$K3DPP" cluster delete "$name" >/dev/null 2>&1 || true
  docker rm -f "$name-floor-0" "$name-floor-1" "$name-floor-2" >/dev/null 2>&1 || true
  docker network rm "$name-floor" >/dev/null 2>&1 || true
  rm -f "$KUBECONFIG"
}
trap cleanup EXIT
now() { date +%s.%N; }

t0=$(now)
"$K3DPP" cluster create "$name" --servers 1 --agents 1 >/dev/null 2>&1
t1=$(now)
ready=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')

ver=$("$K3DPP" version 2>/dev/null | awk '/k3dpp/{print $NF; exit}')
img=k3dpp/node:${ver#v}
t2=$(now)
docker network create "$name-floor" >/dev/null
for i in 0 1; do
  docker run -d --name "$name-floor-$i" --network "$name-floor" --init --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt seccomp=unconfined --tmpfs /run --tmpfs /tmp --entrypoint sleep "$img" infinity >/dev/null
done
docker run -d --name "$name-floor-2" --network "$name-floor" --entrypoint sleep "k3dpp/lb:${ver#v}" infinity >/dev/null
t3=$(now)
floor=$(awk -v a="$t2" -v b="$t3" 'BEGIN{print b-a}')
printf 'FIGURE cluster.create_1s1a_lb.ready %.2f s 1 server, 1 agent, LB, until every node is Ready\n' "$ready"
printf 'FIGURE cluster.create.floor %.2f s 3 bare containers create+start\n' "$floor"
printf 'FIGURE cluster.create.ratio %.1f x ready/floor\n' "$(awk -v a="$ready" -v b="$floor" 'BEGIN{print a/b}')"
