#!/usr/bin/env bash
# Checks the workload images built by images/build-workloads.sh, first with docker, then inside
# a k3dpp node's containerd:
#   nginx:1.24, nginx:1.26, nginx:latest  "Welcome to nginx!" on a published 127.0.0.1 port,
#       access log on stdout and error log on stderr (`docker logs`), nginx is PID 1 behind
#       /docker-entrypoint.sh, bash and apt-get present, STOPSIGNAL SIGQUIT, `docker stop` < 3 s
#       with exit code 0, and the tags tell themselves apart (Server header, page, version file)
#   busybox:latest  `sh -c 'echo hi; date'`, the applets the course uses, CMD sh
#   debian:latest   `bash -c 'apt-get --version'`, CMD bash; `apt-get update && apt-get install -y
#       curl` inside a container when the host reaches the Debian mirror (skipped, not failed,
#       when neither does)
#   in a node (k3dpp/node:latest, K3DPP_NODE_BIN=/bin/sleep as in test-node-image.sh):
#       `docker save nginx:1.24 | ctr -n k8s.io images import -`, the saved busybox/debian
#       tarballs imported from the cache, `ctr run -d` of nginx: PID 1 is nginx, the page is
#       served inside the task's network namespace (bash's /dev/tcp), access log written,
#       SIGTERM stops it; `ctr run --rm` of busybox and debian print what they should.
# Traffic goes only to 127.0.0.1 ports published by the test's containers, into them with
# docker exec / ctr task exec, and (apt check) from a container to the apt mirror.
# Everything it creates is named k3dpp-wl-test-<pid>-* and removed at the end.
#
# Usage: images/test-workloads.sh [--no-node] [--offline]
#   --no-node   skip the containerd-in-node checks
#   --offline   skip the apt-get update/install check (also K3DPP_TEST_OFFLINE=1)
# Environment: K3DPP_IMAGE_CACHE (where build-workloads.sh saved the tarballs),
#   K3DPP_TEST_NODE_IMAGE (default k3dpp/node:latest).
set -euo pipefail

node_checks=1
offline=${K3DPP_TEST_OFFLINE:-0}
while (($#)); do
  case $1 in
    --no-node) node_checks=0; shift ;;
    --offline) offline=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test-workloads: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

id=k3dpp-wl-test-$$
saved=${K3DPP_IMAGE_CACHE:-/var/cache/k3dpp/images}/workloads/saved
node_image=${K3DPP_TEST_NODE_IMAGE:-k3dpp/node:latest}
node=$id-node
net=$id-net
vol=$node-containerd
failures=0
skips=0
created=()

say() { echo "test-workloads: $*" >&2; }
pass() { say "PASS $*"; }
failed() { say "FAIL $*"; failures=$((failures + 1)); }
skipped() { say "SKIP $*"; skips=$((skips + 1)); }
check() { # $1 = description, rest = command; PASS/FAIL by its exit status
  local what=$1; shift
  if "$@"; then pass "$what"; else failed "$what"; fi
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

cleanup() {
  local c
  for c in "${created[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  docker rm -f "$node" >/dev/null 2>&1 || true
  docker volume rm "$vol" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# A fresh name for each one-shot container (docker run --rm removes asynchronously when the
# CLI is cut short, so names are not reused); all are removed by cleanup.
seq_no=0
next_name() { seq_no=$((seq_no + 1)); name=$id-$1-$seq_no; created+=("$name"); }

for i in nginx:latest nginx:1.24 nginx:1.26 busybox:latest debian:latest debian:bookworm; do
  docker image inspect "$i" >/dev/null 2>&1 || { say "image $i not found (run images/build-workloads.sh)"; exit 1; }
done

# --- nginx with docker -----------------------------------------------------------------------
http_get() { # $1 = host:port, $2 = path; prints headers + body (curl, else bash /dev/tcp)
  if command -v curl >/dev/null; then
    curl -s -i --max-time 5 "http://$1$2"
  else
    local host=${1%:*} port=${1##*:}
    exec 3<>"/dev/tcp/$host/$port" && printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3 && cat <&3
    exec 3<&-
  fi
}

declare -A server_of page_of
for tag in 1.24 1.26 latest; do
  c=$id-nginx-${tag//./-}
  created+=("$c")
  docker run -d --name "$c" -p 127.0.0.1::80 "nginx:$tag" >/dev/null
  addr=$(docker port "$c" 80/tcp | grep -m1 '^127\.0\.0\.1:')
  resp=
  for _ in $(seq 1 50); do
    resp=$(http_get "$addr" "/?probe=$id" 2>/dev/null || true)
    [ -n "$resp" ] && break
    sleep 0.1
  done
  check "nginx:$tag answers on $addr with <title>Welcome to nginx!</title>" \
    grep -q '<title>Welcome to nginx!</title>' <<<"$resp"
  check "nginx:$tag status 200" grep -q '^HTTP/1.1 200 OK' <<<"$resp"
  server_of[$tag]=$(sed -n 's/^Server: \([^[:space:]]*\).*/\1/p' <<<"$resp")
  page_of[$tag]=$(sed -n 's/.*<em>\(k3dpp workload image [^<]*\)<.*/\1/p' <<<"$resp")
  version=$(docker exec "$c" cat /etc/k3dpp-nginx-version)
  check "nginx:$tag Server header '${server_of[$tag]}' matches /etc/k3dpp-nginx-version ($version)" \
    test "${server_of[$tag]}" = "nginx/$version"
  check "nginx:$tag NGINX_VERSION=$version in the environment" \
    bash -c "docker exec '$c' env | grep -qx 'NGINX_VERSION=$version'"
  # A 404 writes the error log too: both streams must reach docker logs.
  http_get "$addr" "/k3dpp-wl-missing-$id" >/dev/null 2>&1 || true
  sleep 0.3
  check "nginx:$tag access log line on stdout (docker logs)" \
    bash -c "docker logs '$c' 2>/dev/null | grep -q '\"GET /?probe=$id HTTP/1.[01]\" 200 '"
  check "nginx:$tag error log line on stderr (docker logs)" \
    bash -c "docker logs '$c' 2>&1 >/dev/null | grep -q 'k3dpp-wl-missing-$id.*No such file or directory'"
  check "nginx:$tag PID 1 is the nginx master" \
    bash -c "docker exec '$c' cat /proc/1/cmdline | tr '\\0' ' ' | grep -q '^nginx: master process nginx -g daemon off;'"
  check "nginx:$tag /docker-entrypoint.sh is in / and executable" \
    bash -c "docker exec '$c' ls -al / | grep -Eq '^-rwxr-xr-x .* docker-entrypoint\\.sh\$'"
  docker exec "$c" sh -c "echo k3dpp-wl-$$ >/usr/share/nginx/html/probe.txt"
  out=$(http_get "$addr" /probe.txt 2>/dev/null | tail -n 1 || true)
  check "nginx:$tag serves /usr/share/nginx/html (a new file there is served)" test "$out" = "k3dpp-wl-$$"
  check "nginx:$tag has bash and apt-get" docker exec "$c" bash -c 'command -v apt-get >/dev/null && [ -n "$BASH_VERSION" ]'
  check "nginx:$tag keeps its apt sources" docker exec "$c" sh -c 'grep -hq "^URIs:" /etc/apt/sources.list.d/*.sources'
  check "nginx:$tag STOPSIGNAL SIGQUIT" test "$(docker inspect -f '{{.Config.StopSignal}}' "$c")" = SIGQUIT
  t0=$(now)
  docker stop -t 10 "$c" >/dev/null
  took=$(since "$t0")
  check "nginx:$tag docker stop took ${took}s (< 3 s)" awk -v t="$took" 'BEGIN { exit !(t < 3) }'
  check "nginx:$tag exited with 0 on its stop signal" test "$(docker inspect -f '{{.State.ExitCode}}' "$c")" = 0
done
check "nginx:1.24 and nginx:1.26 differ in the Server header (${server_of[1.24]} vs ${server_of[1.26]})" \
  test "${server_of[1.24]}" != "${server_of[1.26]}"
check "nginx:1.24 and nginx:1.26 differ in the page ('${page_of[1.24]}' vs '${page_of[1.26]}')" \
  test -n "${page_of[1.24]}" -a "${page_of[1.24]}" != "${page_of[1.26]}"
check "nginx:latest is its own image" \
  test "$(docker image inspect -f '{{.Id}}' nginx:latest)" != "$(docker image inspect -f '{{.Id}}' nginx:1.26)"

# --- busybox ---------------------------------------------------------------------------------
next_name busybox; out=$(docker run --rm --name "$name" busybox sh -c 'echo hi; date' 2>&1 || true)
check "busybox sh -c 'echo hi; date' prints hi then a date" \
  bash -c "printf '%s\n' \"\$1\" | sed -n 1p | grep -qx hi && printf '%s\n' \"\$1\" | sed -n 2p | grep -Eq ' [0-9]{2}:[0-9]{2}:[0-9]{2} UTC [0-9]{4}\$'" _ "$out"
next_name busybox
check "busybox has the course's applets (sh ls cat echo sleep date tail nc wget)" \
  docker run --rm --name "$name" busybox sh -c 'for a in sh ls cat echo sleep date tail nc wget; do [ -x /bin/$a ] || exit 1; done'
next_name busybox; out=$(echo 'echo from-cmd-$((6*7))' | docker run --rm -i --name "$name" busybox 2>&1 || true)
check "busybox CMD is sh (stdin script prints from-cmd-42)" test "$out" = from-cmd-42
next_name busybox; out=$(docker run --rm --name "$name" busybox sh -c 'echo "Log entry at $(date)" >>/tmp/app.log; ls -la /tmp/; tail -n 1 /tmp/app.log' 2>&1 || true)
check "busybox writes /tmp/app.log and lists it (course step 64/65)" \
  bash -c "grep -q ' app.log\$' <<<\"\$1\" && grep -q '^Log entry at ' <<<\"\$1\"" _ "$out"

# --- debian ----------------------------------------------------------------------------------
next_name debian; out=$(docker run --rm --name "$name" debian:latest bash -c 'apt-get --version' 2>&1 || true)
out=$(head -n 1 <<<"$out")
check "debian bash -c 'apt-get --version' ($out)" grep -Eq '^apt [0-9.]+ \(amd64|arm64\)' <<<"$out"
next_name debian; out=$(echo 'echo "$BASH_VERSION"' | docker run --rm -i --name "$name" debian:latest 2>&1 || true)
check "debian CMD is bash ($out)" grep -Eq '^5\.' <<<"$out"
check "debian:latest and debian:bookworm are one image" \
  test "$(docker image inspect -f '{{.Id}}' debian:latest)" = "$(docker image inspect -f '{{.Id}}' debian:bookworm)"
if [ "$offline" = 1 ]; then
  skipped "apt-get update/install inside debian (--offline)"
else
  # What the course does in its debian pod (step 33): apt update && apt install -y curl.
  next_name debian
  out=$(docker run --rm --name "$name" -e DEBIAN_FRONTEND=noninteractive debian:latest timeout 300 \
    bash -c 'apt-get update && apt-get install -y curl && curl --version' 2>&1 || echo "exit $?")
  if grep -q '^curl [0-9]' <<<"$out" && ! grep -Eq '^(Err|W: Failed|E: )|^exit ' <<<"$out"; then
    pass "apt-get update && apt-get install -y curl inside debian ($(grep -m1 '^curl ' <<<"$out" | cut -d' ' -f1-2))"
  else
    mirror=$(awk '$1 == "URIs:" {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    if [ -n "$mirror" ] && curl -s -o /dev/null --max-time 10 "$mirror/dists/bookworm/Release"; then
      failed "apt-get update/install inside debian failed although the host reaches $mirror:"
      tail -n 5 <<<"$out" >&2
    else
      skipped "apt-get update/install inside debian: the mirror is not reachable from this host either"
    fi
  fi
fi

# --- in a k3dpp node's containerd ------------------------------------------------------------
in_node() { docker exec "$node" "$@"; }
task_status() { in_node ctr -n k8s.io tasks ls | awk -v t="$1" '$1 == t {print $3}'; }
node_section() {
  docker network create "$net" >/dev/null
  docker volume create "$vol" >/dev/null
  docker run -d --name "$node" --hostname "$node" --network "$net" --init \
    --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --tmpfs /run --tmpfs /tmp \
    -v "$vol:/var/lib/containerd" \
    --sysctl net.ipv4.ip_forward=1 \
    --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
    --label k3dpp.test=workloads \
    -e K3DPP_NODE_BIN=/bin/sleep \
    "$node_image" infinity >/dev/null
  local ready=0 t0 task=k3dpp-wl-test-nginx pid out status
  for _ in $(seq 1 300); do
    if in_node test -e /run/k3dpp/entrypoint-ready 2>/dev/null; then ready=1; break; fi
    [ "$(docker inspect -f '{{.State.Running}}' "$node")" = true ] || break
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    failed "node did not get ready; its log:"
    docker logs "$node" 2>&1 | tail -n 20 >&2
    return
  fi

  t0=$(now)
  if docker save nginx:1.24 | docker exec -i "$node" ctr -n k8s.io images import - >/dev/null; then
    pass "docker save nginx:1.24 | ctr -n k8s.io images import - ($(since "$t0")s)"
  else
    failed "ctr images import of nginx:1.24"
  fi
  check "containerd lists docker.io/library/nginx:1.24" \
    bash -c "docker exec '$node' ctr -n k8s.io images ls -q | grep -qx docker.io/library/nginx:1.24"
  for r in busybox debian; do
    if [ -f "$saved/$r.tar" ]; then
      t0=$(now)
      if docker exec -i "$node" ctr -n k8s.io images import - <"$saved/$r.tar" >/dev/null; then
        pass "import of the saved $saved/$r.tar ($(since "$t0")s)"
      else
        failed "import of the saved $saved/$r.tar"
      fi
    else
      failed "$saved/$r.tar missing (run images/build-workloads.sh without --no-save)"
    fi
  done

  # nginx as a detached task: stdout/stderr to a file, like a kubelet log.
  if in_node ctr -n k8s.io run -d --log-uri "file:///tmp/$task.log" docker.io/library/nginx:1.24 "$task" >/dev/null; then
    for _ in $(seq 1 50); do
      status=$(task_status "$task"); [ "$status" = RUNNING ] && break; sleep 0.1
    done
    check "nginx:1.24 task RUNNING in containerd" test "$status" = RUNNING
    out=
    for _ in $(seq 1 50); do
      out=$(in_node ctr -n k8s.io tasks exec --exec-id probe-$$-$RANDOM "$task" cat /proc/1/cmdline 2>/dev/null | tr '\0' ' ' || true)
      [[ $out == nginx:* ]] && break; sleep 0.1
    done
    check "task PID 1 is the nginx master ($out)" grep -q '^nginx: master process nginx -g daemon off;' <<<"$out"
    pid=$(in_node ctr -n k8s.io tasks ls | awk -v t="$task" '$1 == t {print $2}')
    check "nginx pid $pid is alive in the node" in_node test -d "/proc/$pid"
    out=
    for _ in $(seq 1 30); do
      out=$(in_node ctr -n k8s.io tasks exec --exec-id http-$$-$RANDOM "$task" \
        bash -c 'exec 3<>/dev/tcp/127.0.0.1/80 && printf "GET /?probe=node HTTP/1.0\r\n\r\n" >&3 && cat <&3' 2>/dev/null || true)
      [ -n "$out" ] && break; sleep 0.1
    done
    check "nginx in the task answers <title>Welcome to nginx!</title> with Server: nginx/1.24.0" \
      bash -c "grep -q '<title>Welcome to nginx!</title>' <<<\"\$1\" && grep -q '^Server: nginx/1.24.0' <<<\"\$1\"" _ "$out"
    sleep 0.3
    check "access log line in the task's stdout log" \
      bash -c "docker exec '$node' cat /tmp/$task.log | grep -q '\"GET /?probe=node HTTP/1.0\" 200 '"
    t0=$(now)
    in_node ctr -n k8s.io tasks kill -s SIGTERM "$task" >/dev/null
    for _ in $(seq 1 50); do
      status=$(task_status "$task"); [ "$status" = STOPPED ] && break; sleep 0.1
    done
    check "nginx task stopped on SIGTERM in $(since "$t0")s" test "$status" = STOPPED
    in_node ctr -n k8s.io tasks delete "$task" >/dev/null 2>&1 || true
    in_node ctr -n k8s.io containers delete "$task" >/dev/null 2>&1 || true
  else
    failed "ctr run -d of docker.io/library/nginx:1.24"
  fi

  out=$(in_node timeout 30 ctr -n k8s.io run --rm docker.io/library/busybox:latest "$id-bb" sh -c 'echo hi; date' 2>&1 || true)
  check "ctr run --rm busybox sh -c 'echo hi; date' prints hi" grep -qx hi <<<"$(head -n 1 <<<"$out" | tr -d '\r')"
  out=$(in_node timeout 30 ctr -n k8s.io run --rm docker.io/library/debian:latest "$id-deb" bash -c 'apt-get --version' 2>&1 || true)
  out=$(head -n 1 <<<"$out")
  check "ctr run --rm debian bash -c 'apt-get --version' ($out)" grep -q '^apt ' <<<"$out"
}
if [ "$node_checks" = 0 ]; then
  skipped "node checks (--no-node)"
elif ! docker image inspect "$node_image" >/dev/null 2>&1; then
  skipped "node checks: $node_image not found (images/build.sh builds it)"
else
  node_section
fi

if [ "$failures" = 0 ]; then
  say "all checks passed ($skips skipped)"
else
  say "$failures check(s) failed, $skips skipped"
  exit 1
fi
