#!/usr/bin/env bash
# Copies images from dockerd into rootful podman's storage (docker save | podman load), skipping
# every image podman already has with the same image ID. Nothing is pulled: the images must exist
# in docker (images/build.sh, images/build-workloads.sh).
#
#   images/load-into-podman.sh [IMAGE...]
#
# Without arguments: the node and LB images ($K3DPP_NODE_IMAGE / $K3DPP_LB_IMAGE, default
# k3dpp/node:<version>, k3dpp/lb:<version>) and the workload images the tests use (nginx:latest,
# nginx:1.24, nginx:1.26, busybox:latest, debian:latest). The pause image travels inside the node
# image. Images missing in docker are an error (exit 1) when named explicitly, a warning otherwise.
#
# Podman names a loaded `k3dpp/node:X` `localhost/k3dpp/node:X` and `nginx:latest`
# `docker.io/library/nginx:latest`; `k3dpp --runtime podman` looks both up by the short name.
# An image a new load replaced (left without a tag) is removed when no container uses it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

command -v docker >/dev/null || { echo "load-into-podman: docker is not installed" >&2; exit 1; }
command -v podman >/dev/null || { echo "load-into-podman: podman is not installed" >&2; exit 1; }

version=$(sed -nE 's/^project\(k3dpp VERSION ([0-9.]+).*/\1/p' "$top/CMakeLists.txt" | head -n1)
explicit=1
if [ $# -eq 0 ]; then
  explicit=0
  set -- "${K3DPP_NODE_IMAGE:-k3dpp/node:$version}" "${K3DPP_LB_IMAGE:-k3dpp/lb:$version}" \
    nginx:latest nginx:1.24 nginx:1.26 busybox:latest debian:latest
fi

# Podman's name for a short docker ref: no registry domain → localhost/ for names with a path
# (k3dpp/node), docker.io/library/ for single names (nginx); podman resolves short names to these.
podman_id() {
  local ref=$1 id
  for cand in "$ref" "localhost/$ref" "docker.io/library/$ref" "docker.io/$ref"; do
    if id=$(podman image inspect --format '{{.Id}}' "$cand" 2>/dev/null); then
      echo "${id#sha256:}"
      return 0
    fi
  done
  return 1
}

missing=()
stale=()
for ref in "$@"; do
  if ! did=$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null); then
    if [ $explicit = 1 ]; then
      echo "load-into-podman: $ref is not in docker" >&2
      exit 1
    fi
    echo "load-into-podman: warning: $ref is not in docker; skipped" >&2
    continue
  fi
  did=${did#sha256:}
  if pid=$(podman_id "$ref"); then
    if [ "$pid" = "$did" ]; then
      echo "load-into-podman: $ref already in podman (${did:0:12})" >&2
      continue
    fi
    stale+=("$pid")
  fi
  missing+=("$ref")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "load-into-podman: nothing to load" >&2
  exit 0
fi
start=$(date +%s%N)
echo "load-into-podman: loading ${missing[*]}" >&2
# One archive for all: layers shared between the images travel once.
docker save "${missing[@]}" | podman load -q >&2
ms=$((($(date +%s%N) - start) / 1000000))
echo "load-into-podman: loaded ${#missing[@]} image(s) in $((ms / 1000)).$((ms % 1000 / 100)) s" >&2

for ref in "${missing[@]}"; do
  did=$(docker image inspect --format '{{.Id}}' "$ref")
  if ! pid=$(podman_id "$ref") || [ "$pid" != "${did#sha256:}" ]; then
    echo "load-into-podman: $ref did not arrive in podman with ID ${did#sha256:}" >&2
    exit 1
  fi
done

# Images the load replaced: removed once untagged and unused (podman rmi refuses used ones).
for id in "${stale[@]}"; do
  tags=$(podman image inspect --format '{{len .RepoTags}}' "$id" 2>/dev/null || echo gone)
  if [ "$tags" = 0 ]; then
    podman rmi "$id" >/dev/null 2>&1 && echo "load-into-podman: removed the replaced image ${id:0:12}" >&2 || true
  fi
done
