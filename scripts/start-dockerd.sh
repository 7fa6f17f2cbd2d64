#!/usr/bin/env bash
# Starts the Docker engine if none answers on its socket, and waits until it does.
# Honours DOCKER_HOST=unix://PATH. Needs root.
set -euo pipefail
sock=${DOCKER_HOST:-unix:///var/run/docker.sock}
sock=${sock#unix://}

ping() { curl -sf --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; }

if ping; then echo "start-dockerd: engine already answers on $sock" >&2; exit 0; fi
command -v dockerd >/dev/null || { echo "start-dockerd: dockerd not installed (run scripts/install-deps.sh)" >&2; exit 1; }
# containerd ships with docker.io; dockerd starts its own when none is running.
log=/var/log/k3dpp-dockerd.log
# From /: a daemon keeps its working directory (and hands it to what it starts); a checkout that is
# deleted later must not be it.
(cd / && nohup dockerd --host "unix://$sock" >"$log" 2>&1 &)
for _ in $(seq 1 150); do
  ping && { echo "start-dockerd: engine ready on $sock" >&2; exit 0; }
  sleep 0.2
done
echo "start-dockerd: dockerd did not answer within 30 s; last log lines:" >&2
tail -n 20 "$log" >&2
exit 1
