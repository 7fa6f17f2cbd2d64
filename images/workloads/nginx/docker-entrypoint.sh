#!/bin/sh
# k3dpp nginx workload image entrypoint, shaped like the official image's: when the command
# is nginx (or nginx-debug), every executable *.sh in /docker-entrypoint.d runs first (sorted),
# then the command replaces this shell, so nginx is PID 1 and gets the stop signal itself.
# Set NGINX_ENTRYPOINT_QUIET_LOGS to any value to silence the lines below.
set -e

note() {
  [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: $*"
}

if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
  if [ -d /docker-entrypoint.d ] && [ -n "$(find /docker-entrypoint.d -mindepth 1 -maxdepth 1 -name '*.sh' 2>/dev/null)" ]; then
    for script in $(find /docker-entrypoint.d -mindepth 1 -maxdepth 1 -name '*.sh' | sort); do
      if [ -x "$script" ]; then
        note "running $script"
        "$script"
      else
        note "skipping $script (not executable)"
      fi
    done
  else
    note "no scripts in /docker-entrypoint.d"
  fi
  note "configuration done, starting nginx"
fi

exec "$@"
