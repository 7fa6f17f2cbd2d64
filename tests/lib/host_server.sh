# Starts `k3dpp-node server` as a host process for integration tests and benchmarks (source it).
#   host_server_free_port            prints a free TCP port on 127.0.0.1
#   host_server_start BIN WORK ARGS  runs `BIN server --data-dir WORK/data --listen 127.0.0.1:PORT ARGS`
#                                    (log in WORK/server.log) and waits up to 60 s for /readyz. Sets
#                                    HOST_SERVER_PID, HOST_SERVER_PORT, KUBECONFIG (WORK/kubeconfig,
#                                    exported) and K (a kubectl command array with its own cache dir).
#                                    Returns 1, with the log's tail on stderr, if the API is not ready.
#   host_server_stop                 stops it (safe to call twice).

host_server_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000))
}

host_server_start() {
  local bin=$1 work=$2
  shift 2
  HOST_SERVER_PORT=$(host_server_free_port)
  mkdir -p "$work/data"
  "$bin" server --data-dir "$work/data" --listen "127.0.0.1:$HOST_SERVER_PORT" "$@" >"$work/server.log" 2>&1 &
  HOST_SERVER_PID=$!
  export KUBECONFIG=$work/kubeconfig
  K=("${KUBECTL:-kubectl}" --cache-dir "$work/cache" --request-timeout=60s)
  local _
  for _ in $(seq 1 300); do
    kill -0 "$HOST_SERVER_PID" 2>/dev/null || break
    if [[ -f $work/data/server/admin.kubeconfig ]]; then
      sed "s#server: https://.*#server: https://127.0.0.1:$HOST_SERVER_PORT#" \
        "$work/data/server/admin.kubeconfig" >"$KUBECONFIG"
      "${K[@]}" get --raw /readyz >/dev/null 2>&1 && return 0
    fi
    sleep 0.2
  done
  echo "k3dpp-node server did not become ready on 127.0.0.1:$HOST_SERVER_PORT; last log lines:" >&2
  tail -n 40 "$work/server.log" >&2
  return 1
}

host_server_stop() {
  if [[ -n ${HOST_SERVER_PID:-} ]]; then
    kill "$HOST_SERVER_PID" 2>/dev/null
    wait "$HOST_SERVER_PID" 2>/dev/null
    HOST_SERVER_PID=""
  fi
}
