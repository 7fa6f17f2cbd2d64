#!/usr/bin/env bash
# Configures and builds k3dpp into ./build (or $K3DPP_BUILD_DIR). Extra args go to ninja (targets).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${K3DPP_BUILD_DIR:-$top/build}
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
# ccache keyed on paths relative to the checkout, so a fresh clone elsewhere (CI) reuses the cache.
export CCACHE_BASEDIR=$top CCACHE_NOHASHDIR=true
jobs=$(nproc)
ninja -C "$build" -j "$jobs" "$@"
