#!/usr/bin/env bash
# Starts the rootful Podman API service if none answers on its socket, and waits until it does.
# Installs nothing (scripts/install-deps.sh does). Honours CONTAINER_HOST=unix://PATH, default
# /run/podman/podman.sock. Needs root. Leaves dockerd and the host firewall alone.
set -euo pipefail
sock=${CONTAINER_HOST:-unix:///run/podman/podman.sock}
case $sock in
  unix://*) sock=${sock#unix://} ;;
  *) echo "start-podman: CONTAINER_HOST=$sock is not a unix:// socket" >&2; exit 1 ;;
esac

ping() { curl -sf --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; }

# A service whose working directory is gone (started from a checkout deleted since) answers pings
# but cannot start containers: conmon inherits the directory ("Failed to get working directory",
# "write child: broken pipe"). Such a service is replaced.
stale_service() {
  local pid
  for pid in $(pgrep -f "podman system service .*$sock" || true); do
    if [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == *" (deleted)" ]]; then echo "$pid"; fi
  done
  return 0
}
stale=$(stale_service)
if [ -n "$stale" ]; then
  echo "start-podman: the podman service (pid $stale) runs in a deleted directory; restarting it" >&2
  kill $stale 2>/dev/null || true
  for _ in $(seq 1 50); do ping || break; sleep 0.2; done
fi
if ping; then echo "start-podman: podman already answers on $sock" >&2; exit 0; fi
command -v podman >/dev/null || { echo "start-podman: podman not installed (run scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$(dirname "$sock")"
# A socket file left by a dead service makes the new one fail to bind.
[ -S "$sock" ] && rm -f "$sock"
log=/var/log/k3dpp-podman.log
# --time=0: never exit for idleness. setsid: not in our process group, so it outlives this shell.
# From /: the service (and every conmon it starts) keeps its working directory.
(cd / && setsid nohup podman system service --time=0 "unix://$sock" >"$log" 2>&1 < /dev/null &)
for _ in $(seq 1 150); do
  ping && { echo "start-podman: podman ready on $sock" >&2; exit 0; }
  sleep 0.2
done
echo "start-podman: podman did not answer on $sock within 30 s; last log lines:" >&2
tail -n 20 "$log" >&2
exit 1
