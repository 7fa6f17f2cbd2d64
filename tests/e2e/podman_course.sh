#!/usr/bin/env bash
# Chapter: the course chapters on rootful Podman. Runs tests/e2e/pods_services.sh (pods, exec,
# logs, port-forward, ClusterIP by DNS, NodePort through the LB, self-healing Deployment) and
# tests/e2e/course_deployments.sh (course 11.9: node create, rolling update, history, undo,
# pause/resume) and tests/e2e/cluster_lifecycle.sh (list, stop/start, node lifecycle, logs, bad
# input, delete leaves nothing) unchanged with K3DPP_RUNTIME=podman, each as its own bash process (own lib.sh
# state, clusters, cleanup and summary), and sums their counts into one "N passed, N failed".
# Skips (exit 0) only when podman cannot run at all (the rule of podman.sh). Loads the images the
# sub-chapters need from docker into podman first (images/load-into-podman.sh).
#
# The sub-chapters' own `docker exec`/`docker ps` checks (e.g. an added node's images, no
# container left after cluster delete) must look at podman here: they get an exported bash
# function `docker` that calls podman. It reaches only bash processes (the chapters, their
# `bash -c` steps and lib.sh's failure dump), never the k3dpp binary.
source "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v podman >/dev/null 2>&1; then
  echo "SKIP  podman is not installed (scripts/install-deps.sh installs it); nothing tested"
  exit 0
fi
if ! "$top/scripts/start-podman.sh" >"$E2E_TMP/start-podman.log" 2>&1; then
  echo "SKIP  the podman API service cannot start here; nothing tested:"
  sed 's/^/      /' "$E2E_TMP/start-podman.log"
  exit 0
fi

node_image=${K3DPP_NODE_IMAGE:-$("$K3DPP" version | sed -n 's/^node image //p')}
lb_image=${K3DPP_LB_IMAGE:-$("$K3DPP" version | sed -n 's/^lb image //p')}
run "load $node_image, $lb_image and the workload images into podman" -- \
  "$top/images/load-into-podman.sh" "$node_image" "$lb_image" nginx:latest nginx:1.24 nginx:1.26 busybox:latest

docker() { podman "$@"; }
export -f docker

total_passed=$E2E_PASSED
total_failed=$E2E_FAILED
for sub in pods_services course_deployments cluster_lifecycle; do
  echo "----- $sub.sh on podman"
  t0=$(date +%s)
  out=$E2E_TMP/$sub.out
  # A sub-chapter's run ID of its own: cluster names stay unique per sub-chapter.
  K3DPP_RUNTIME=podman E2E_RUN_ID="${E2E_RUN_ID}${sub:0:2}" bash "$top/tests/e2e/$sub.sh" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1)
  echo "----- $sub.sh on podman: ${summary:-no summary}, exit $rc, $(($(date +%s) - t0)) s"
  if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    total_passed=$((total_passed + BASH_REMATCH[1]))
    total_failed=$((total_failed + BASH_REMATCH[2]))
    # A chapter that died after its summary or exited non-zero without a failed step still fails.
    [ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] && total_failed=$((total_failed + 1))
  else
    echo "FAIL  $sub.sh printed no summary (exit $rc)" >&2
    total_failed=$((total_failed + 1))
  fi
done

E2E_PASSED=$total_passed
E2E_FAILED=$total_failed
e2e_summary
