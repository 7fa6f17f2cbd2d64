#!/usr/bin/env bash
# Integration test: 100 concurrent watches (one TLS connection each) on the configmaps of one
# namespace through 1,000 writes (create / merge-patch / delete); every watcher must see every event,
# in the order written, with strictly increasing resourceVersions. `k3dpp-node server` runs as a host
# process with the API alone (--no-kubelet --disable-controllers); watch_order_client does the rest.
# Usage: watch_order_test.sh /path/to/k3dpp-node /path/to/watch_order_client
set -u

NODE_BIN=${1:?usage: watch_order_test.sh /path/to/k3dpp-node /path/to/watch_order_client}
CLIENT=${2:?usage: watch_order_test.sh /path/to/k3dpp-node /path/to/watch_order_client}
WORK=$(mktemp -d /tmp/k3dpp-apiserver-watch.XXXXXX)
RC=1

source "$(dirname "$0")/../../lib/host_server.sh"

cleanup() {
  host_server_stop
  if [[ $RC -ne 0 ]]; then
    echo "--- server log (last 40 lines) ---"
    tail -n 40 "$WORK/server.log" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

host_server_start "$NODE_BIN" "$WORK" --no-kubelet --disable-controllers ||
  { echo "FAIL: server did not become ready"; exit 1; }
TLS=$WORK/data/server/tls
"$CLIENT" --port "$HOST_SERVER_PORT" --cert "$TLS/admin.crt" --key "$TLS/admin.key" \
  --watchers "${WATCHERS:-100}" --writes "${WRITES:-1000}" --timeout-seconds 50
RC=$?
exit $RC
