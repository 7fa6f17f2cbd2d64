# Shared helpers for the e2e suite (source it). Each chapter script creates its own clusters with
# names unique to the run, prints one line per step, cleans up even when a step fails, and ends
# with "N passed, N failed".
#   K3DPP      path to the k3dpp binary (required)
#   E2E_KEEP=1 keep clusters after the run (for debugging)
set -uo pipefail

: "${K3DPP:?set K3DPP to the k3dpp binary}"
E2E_RUN_ID=${E2E_RUN_ID:-$(tr -dc 'a-z0-9' </dev/urandom | head -c 5)}
E2E_TMP=$(mktemp -d /tmp/k3dpp-e2e-XXXXXX)
export KUBECONFIG=$E2E_TMP/kubeconfig   # never touch the user's ~/.kube/config
export KUBECACHEDIR=$E2E_TMP/kube-cache
E2E_PASSED=0
E2E_FAILED=0
E2E_CLUSTERS=()
E2E_LAST_OUT=""
E2E_MAIN_PID=$BASHPID

# _e2e_match PATTERN TEXT: a one-line pattern is an extended regex (grep -E) matched line by line;
# a pattern with a newline or [\s\S] in it is a Perl regex matched against the whole text (^ and $
# at every line; [\s\S]* spans lines), so a table can be checked row after row.
_e2e_match() {
  if [[ $1 == *$'\n'* || $1 == *'[\s\S]'* ]]; then
    E2E_PAT=$1 perl -0777 -ne 'exit(/$ENV{E2E_PAT}/m ? 0 : 1)' <<<"$2"
  else
    grep -qE -- "$1" <<<"$2"
  fi
}

_e2e_cleanup() {
  # Only the chapter's own shell cleans up, never a subshell that inherited the trap.
  [ "$BASHPID" = "$E2E_MAIN_PID" ] || return 0
  local c
  if [ "${E2E_KEEP:-0}" != 1 ]; then
    for c in "${E2E_CLUSTERS[@]}"; do "$K3DPP" cluster delete "$c" >/dev/null 2>&1 || true; done
    rm -rf "$E2E_TMP"
  fi
}
trap _e2e_cleanup EXIT

# e2e_new_cluster VAR CHAPTER: sets VAR to a cluster name unique to this run and registers it for
# cleanup (in the main shell: a command substitution's subshell could not add to E2E_CLUSTERS).
e2e_new_cluster() {
  local -n _e2e_var=$1
  _e2e_var="e2e-$2-$E2E_RUN_ID"
  E2E_CLUSTERS+=("$_e2e_var")
}

# Collects what explains a failure: node logs of every cluster of this run.
_e2e_dump_logs() {
  local c  # a chapter's own $c must survive a failure dump
  # k3dpp cluster logs goes through the runtime interface: docker and podman alike. Bounded:
  # 40 lines per log (container and containerd), at most 800 lines per cluster.
  for c in "${E2E_CLUSTERS[@]}"; do
    echo "----- $K3DPP cluster logs $c --tail 40" >&2
    "$K3DPP" cluster logs "$c" --tail 40 2>&1 | head -n 800 | sed 's/^/    /' >&2
  done
}

_e2e_fail() {
  E2E_FAILED=$((E2E_FAILED + 1))
  echo "FAIL  $1" >&2
  shift
  printf '      %s\n' "$@" >&2
  _e2e_dump_logs
}

# run DESC -- CMD...: the step passes when CMD exits 0. Output is kept in E2E_LAST_OUT.
run() {
  local desc=$1; shift; [ "$1" = -- ] && shift
  E2E_LAST_OUT=$("$@" 2>&1); local rc=$?
  if [ $rc -eq 0 ]; then
    E2E_PASSED=$((E2E_PASSED + 1)); echo "ok    $desc"
  else
    _e2e_fail "$desc" "command: $*" "exit code: $rc" "output:" "$E2E_LAST_OUT"
  fi
  return $rc
}

# expect DESC PATTERN -- CMD...: passes when CMD exits 0 and its output matches the extended regex.
expect() {
  local desc=$1 pattern=$2; shift 2; [ "$1" = -- ] && shift
  E2E_LAST_OUT=$("$@" 2>&1); local rc=$?
  if [ $rc -eq 0 ] && _e2e_match "$pattern" "$E2E_LAST_OUT"; then
    E2E_PASSED=$((E2E_PASSED + 1)); echo "ok    $desc"; return 0
  fi
  _e2e_fail "$desc" "command: $*" "exit code: $rc" "expected (regex): $pattern" "actual:" "$E2E_LAST_OUT"
  return 1
}

# expect_fail DESC PATTERN -- CMD...: passes when CMD exits non-zero and its output matches.
expect_fail() {
  local desc=$1 pattern=$2; shift 2; [ "$1" = -- ] && shift
  E2E_LAST_OUT=$("$@" 2>&1); local rc=$?
  if [ $rc -ne 0 ] && _e2e_match "$pattern" "$E2E_LAST_OUT"; then
    E2E_PASSED=$((E2E_PASSED + 1)); echo "ok    $desc"; return 0
  fi
  _e2e_fail "$desc" "command: $*" "exit code: $rc (expected non-zero)" "expected (regex): $pattern" "actual:" "$E2E_LAST_OUT"
  return 1
}

# retry N SECONDS DESC PATTERN -- CMD...: like expect, retried up to N times SECONDS apart.
eventually() {
  local n=$1 wait=$2 desc=$3 pattern=$4; shift 4; [ "$1" = -- ] && shift
  local i rc
  for ((i = 0; i < n; i++)); do
    E2E_LAST_OUT=$("$@" 2>&1); rc=$?
    if [ $rc -eq 0 ] && _e2e_match "$pattern" "$E2E_LAST_OUT"; then
      E2E_PASSED=$((E2E_PASSED + 1)); echo "ok    $desc"; return 0
    fi
    sleep "$wait"
  done
  _e2e_fail "$desc" "command: $*" "exit code: $rc" "expected (regex, $n tries): $pattern" "actual:" "$E2E_LAST_OUT"
  return 1
}

e2e_summary() {
  echo "$E2E_PASSED passed, $E2E_FAILED failed"
  [ "$E2E_FAILED" -eq 0 ]
}
