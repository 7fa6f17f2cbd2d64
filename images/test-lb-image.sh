#!/usr/bin/env bash
# End-to-end test of the LB image on a private network:
#   two tiny TCP servers (busybox nc, from an image made of the host's static /bin/busybox)
#   answer "backend-a" / "backend-b"; the LB publishes 8080 and 9090 on 127.0.0.1 and
#   - forwards 8080 to backend-a                       (ports.json copied in before start)
#   - after `docker cp` of a new ports.json: 8080 -> backend-b, 9090 -> backend-a (inotify reload)
#   - an invalid ports.json is refused and traffic keeps flowing
#   - an upstream name that does not resolve yet is left out, and picked up once it exists
#   - an open connection (like kubectl get -w) survives a reload
#   - `k3dpp-lb reload` works, `docker stop` stops it cleanly (exit 0)
#   - nginx accepts the rendered UDP / IPv6 / multi-upstream directives (nginx -t in the image)
# Traffic goes only to 127.0.0.1 and to the containers this script creates; everything it
# creates is named k3dpp-img-test-* and removed at the end.
#
# Usage: images/test-lb-image.sh [IMAGE]   (default k3dpp/lb:latest)
set -euo pipefail

image=${1:-k3dpp/lb:latest}
id=k3dpp-img-test-$$
net=$id-net
lb=$id-lb
backend_a=$id-backend-a
backend_b=$id-backend-b
late=$id-late
bb_image=k3dpp-img-test-busybox:$$
work=$(mktemp -d)
failures=0

say() { echo "test-lb-image: $*" >&2; }
pass() { say "PASS $*"; }
failed() { say "FAIL $*"; failures=$((failures + 1)); }
cleanup() {
  docker rm -f "$lb" "$backend_a" "$backend_b" "$late" "$echo_server" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  docker rmi "$bb_image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

docker image inspect "$image" >/dev/null 2>&1 || { say "image $image not found (run images/build.sh)"; exit 1; }
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 ||
  { say "needs a static /bin/busybox (apt-get install busybox-static)"; exit 1; }

# A one-file busybox image, no registry.
mkdir -p "$work/bb/bin"
cp /bin/busybox "$work/bb/bin/busybox"
ln -s busybox "$work/bb/bin/sh"
tar --numeric-owner --owner=0 --group=0 -C "$work/bb" -cf - bin |
  docker import -c 'ENTRYPOINT ["/bin/busybox"]' - "$bb_image" >/dev/null

docker network create "$net" >/dev/null
backend() { # $1 = container name, $2 = answer
  docker run -d --name "$1" --network "$net" --label k3dpp.test=images "$bb_image" \
    nc -ll -p 8080 -e echo "$2" >/dev/null
}
backend "$backend_a" backend-a
backend "$backend_b" backend-b
echo_server=$id-echo
docker run -d --name "$echo_server" --network "$net" --label k3dpp.test=images "$bb_image" \
  nc -ll -p 8080 -e cat >/dev/null

# Reads what the server behind 127.0.0.1:$1 says ("" when nothing answers).
ask() {
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && cat <&3" 2>/dev/null | tr -d '\r\n' || true
}
# Waits (up to $3 seconds, default 5) until 127.0.0.1:$1 answers $2.
expect_answer() {
  local port=$1 want=$2 secs=${3:-5} got="" i
  for i in $(seq 1 $((secs * 5))); do
    got=$(ask "$port")
    [ "$got" = "$want" ] && return 0
    sleep 0.2
  done
  say "127.0.0.1:$port answered '$got', want '$want'"
  return 1
}
# Waits (up to $2 seconds, default 5) for a line matching the regex $1 in the LB's log.
# (The log is read into a variable first: `docker logs | grep -q` dies of SIGPIPE under pipefail.)
wait_log() {
  local i out
  for i in $(seq 1 $((${2:-5} * 5))); do
    out=$(docker logs "$lb" 2>&1)
    grep -Eq -- "$1" <<<"$out" && return 0
    sleep 0.2
  done
  return 1
}
reload_count() { local out; out=$(docker logs "$lb" 2>&1); grep -c 'nginx reloaded' <<<"$out" || true; }
ports_file() { # $1 = file, rest = JSON port entries
  local f=$1; shift
  local IFS=,
  printf '{"ports":[%s]}\n' "$*" >"$f"
}
entry() { # $1 = port, rest = upstreams
  local port=$1; shift
  local ups="" u
  for u in "$@"; do ups="$ups${ups:+,}\"$u\""; done
  printf '{"listen":%s,"protocol":"tcp","upstreams":[%s]}' "$port" "$ups"
}

ports_file "$work/ports-1.json" "$(entry 8080 "$backend_a:8080")"
docker create --name "$lb" --network "$net" --label k3dpp.test=images \
  -p 127.0.0.1::8080 -p 127.0.0.1::9090 "$image" >/dev/null
docker cp "$work/ports-1.json" "$lb:/etc/k3dpp-lb/ports.json"
docker start "$lb" >/dev/null
hp8080=$(docker port "$lb" 8080/tcp | head -n 1 | sed 's/.*://')
hp9090=$(docker port "$lb" 9090/tcp | head -n 1 | sed 's/.*://')
say "LB publishes 127.0.0.1:$hp8080 -> 8080 and 127.0.0.1:$hp9090 -> 9090"

if expect_answer "$hp8080" backend-a; then pass "8080 -> backend-a"; else failed "8080 -> backend-a"; fi
got=$(ask "$hp9090")
[ -z "$got" ] && pass "9090 not served yet" || failed "9090 answered '$got' before it was configured"

# Change the ports file from outside the container: the agent must notice and reload nginx.
ports_file "$work/ports-2.json" "$(entry 8080 "$backend_b:8080")" "$(entry 9090 "$backend_a:8080")"
docker cp "$work/ports-2.json" "$lb:/etc/k3dpp-lb/ports.json"
if expect_answer "$hp8080" backend-b && expect_answer "$hp9090" backend-a; then
  pass "after docker cp: 8080 -> backend-b, 9090 -> backend-a"
else
  failed "reload after docker cp"
fi

# An invalid file (written in place inside the container) is refused; traffic keeps flowing.
docker exec "$lb" sh -c 'echo "{\"ports\": [{\"listen\": 8080, \"upstreams\": [\"no-port\"]}]}" >/etc/k3dpp-lb/ports.json'
wait_log 'keeping the current nginx configuration.*no-port' && pass "invalid ports file refused with a log line" || failed "no refusal logged for an invalid ports file"
if expect_answer "$hp8080" backend-b && expect_answer "$hp9090" backend-a; then
  pass "old configuration still serves"
else
  failed "traffic broken by an invalid ports file"
fi

# An upstream that does not resolve yet: nginx would refuse the whole file, so the agent
# leaves it out, then adds it (periodic re-resolution, every 10 s) once the container exists.
ports_file "$work/ports-3.json" "$(entry 8080 "$late:8080")" "$(entry 9090 "$backend_a:8080")"
docker cp "$work/ports-3.json" "$lb:/etc/k3dpp-lb/ports.json"
wait_log "upstream host $late does not resolve yet" &&
  pass "unresolvable upstream logged" || failed "no log line for the unresolvable upstream"
wait_log 'nginx reloaded \(new configuration\)' || true
if expect_answer "$hp9090" backend-a && [ -z "$(ask "$hp8080")" ]; then
  pass "unresolvable upstream left out, other ports keep working"
else
  failed "unresolvable upstream broke the configuration"
fi
backend "$late" backend-late
if expect_answer "$hp8080" backend-late 15; then pass "late upstream picked up after it appeared"; else failed "late upstream never picked up"; fi

# A long-lived connection (kubectl watch, exec, port-forward) must survive a reload: old nginx
# workers keep serving their connections.
ports_file "$work/ports-4.json" "$(entry 8080 "$late:8080")" "$(entry 9090 "$echo_server:8080")"
docker cp "$work/ports-4.json" "$lb:/etc/k3dpp-lb/ports.json"
for _ in $(seq 1 25); do
  [ "$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$hp9090 && echo ping >&3 && head -n 1 <&3" 2>/dev/null)" = ping ] && break
  sleep 0.2
done
exec 7<>"/dev/tcp/127.0.0.1/$hp9090"
echo before-reload >&7
read -r -t 3 line1 <&7 || line1=""
before=$(reload_count)
ports_file "$work/ports-5.json" "$(entry 8080 "$late:8080")" "$(entry 9090 "$echo_server:8080")" "$(entry 9191 "$backend_a:8080")"
docker cp "$work/ports-5.json" "$lb:/etc/k3dpp-lb/ports.json"
for _ in $(seq 1 25); do [ "$(reload_count)" -gt "$before" ] && break; sleep 0.2; done
[ "$(reload_count)" -gt "$before" ] || failed "no reload after adding port 9191"
sleep 0.5  # nginx starts new workers; the old one keeps our connection
echo after-reload >&7
read -r -t 3 line2 <&7 || line2=""
exec 7>&-
if [ "$line1" = before-reload ] && [ "$line2" = after-reload ]; then
  pass "open connection survives a reload"
else
  failed "open connection across a reload: got '$line1' / '$line2'"
fi

if docker exec "$lb" k3dpp-lb reload; then
  wait_log 'reload requested' && pass "k3dpp-lb reload" || failed "reload not logged"
else
  failed "k3dpp-lb reload exited non-zero"
fi
expect_answer "$hp8080" backend-late && pass "serves after k3dpp-lb reload" || failed "broken after k3dpp-lb reload"

# nginx accepts everything the renderer writes for UDP, IPv6 and several upstreams.
printf '%s\n' '{"ports":[{"listen":53,"protocol":"udp","upstreams":["10.0.0.1:53","[fd00::1]:53"]},' \
  '{"listen":6443,"upstreams":["127.0.0.1:6443","127.0.0.2:6443"]}]}' >"$work/ports-check.json"
docker cp "$work/ports-check.json" "$lb:/tmp/ports-check.json"
if out=$(docker exec "$lb" sh -c 'k3dpp-lb render --config /tmp/ports-check.json --out /tmp/check.conf && nginx -t -c /tmp/check.conf' 2>&1); then
  pass "nginx -t accepts a rendered UDP/IPv6/multi-upstream config"
else
  failed "nginx -t refused a rendered config: $out"
fi

t0=$(date +%s.%N)
docker stop -t 10 "$lb" >/dev/null
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
code=$(docker inspect -f '{{.State.ExitCode}}' "$lb")
[ "$code" = 0 ] && pass "docker stop: exit 0 in ${secs}s" || failed "docker stop: exit code $code"
wait_log 'nginx stopped' 1 && pass "nginx stopped by the agent" || failed "no 'nginx stopped' log line"

if [ "$failures" = 0 ]; then
  say "all checks passed ($image)"
else
  say "$failures check(s) failed; LB log:"
  docker logs "$lb" 2>&1 | tail -n 40 >&2
  exit 1
fi
