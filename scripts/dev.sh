#!/usr/bin/env bash
# The README's first command: on a fresh Debian 12 machine (as root) it installs everything,
# starts dockerd, builds k3dpp and its images, installs k3dpp into /usr/local/bin (with its bash
# completion; `cmake --install`, prefix $K3DPP_PREFIX), creates the cluster `dev` (1 server,
# 1 agent, NodePort 30050 published through the load balancer) and shows its nodes with kubectl.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${K3DPP_BUILD_DIR:-$top/build}
step() { echo "==> $*" >&2; }

step "installing packages";  "$top/scripts/install-deps.sh"
step "starting the Docker engine"; "$top/scripts/start-dockerd.sh"
step "building k3dpp, k3dpp-node, k3dpp-lb"
# Only what running a cluster needs; the tests build in the test command (scripts/test.sh).
"$top/scripts/build.sh" k3dpp k3dpp-node k3dpp-lb
step "building images";      "$top/images/build.sh" --build-dir "$build"
prefix=${K3DPP_PREFIX:-/usr/local}
step "installing k3dpp into $prefix/bin"
cmake --install "$build" --prefix "$prefix" >/dev/null
k3dpp=$prefix/bin/k3dpp
if "$k3dpp" cluster list -o json | grep -q '"name": *"dev"'; then
  step "cluster dev exists; recreating it"
  "$k3dpp" cluster delete dev
fi
step "creating cluster dev"
"$k3dpp" cluster create dev --servers 1 --agents 1 -p 30050:30050@server:0
kubectl --context k3dpp-dev get nodes
