#!/usr/bin/env bash
# The README's test command: on a fresh Debian 12 machine (as root) it installs everything,
# starts dockerd, builds k3dpp and its images, and runs the unit, integration and e2e tests.
#   scripts/test.sh            all tests
#   scripts/test.sh -L unit    only one label (unit | integration | e2e); extra args go to ctest
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${K3DPP_BUILD_DIR:-$top/build}
step() { echo "==> $*" >&2; }

step "installing packages";  "$top/scripts/install-deps.sh"
step "starting the Docker engine"; "$top/scripts/start-dockerd.sh"
step "starting the Podman service"; "$top/scripts/start-podman.sh"
step "building";             "$top/scripts/build.sh"
step "building images";      "$top/images/build.sh" --build-dir "$build"
step "building workload images (nginx, busybox, debian)"; "$top/images/build-workloads.sh"
step "running tests"
cd "$build"
if [ $# -eq 0 ]; then
  set -- -L 'unit|integration|e2e'
fi
# Tests run side by side (K3DPP_TEST_JOBS, default 3): the e2e chapters mostly wait on their clusters,
# so three at a time fit 2 cores; each picks free ports and makes its own clusters.
ctest --output-on-failure --timeout 1800 -j "${K3DPP_TEST_JOBS:-3}" "$@"
