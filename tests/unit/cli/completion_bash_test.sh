#!/usr/bin/env bash
# The bash completion script as bash runs it: `source <(k3dpp completion bash)`, then the
# completion function called with COMP_WORDS/COMP_CWORD set as bash sets them on TAB.
# No engine is reachable (DOCKER_HOST points nowhere): only the command tree is completed here;
# cluster names are checked in cli_test (fake engine) and tests/e2e/config_file.sh (real one).
# Usage: completion_bash_test.sh PATH/TO/k3dpp
set -uo pipefail
bin=${1:?usage: completion_bash_test.sh PATH/TO/k3dpp}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$(realpath "$bin")" "$tmp/k3dpp"
export PATH=$tmp:$PATH DOCKER_HOST=unix://$tmp/no-engine.sock K3DPP_RUNTIME=docker
passed=0 failed=0

# complete WORD... : the candidates bash offers for the last word (one per line).
complete_words() {
  bash -c 'source <(k3dpp completion bash) || exit 9
    COMP_WORDS=(k3dpp "$@"); COMP_CWORD=$#; COMP_LINE="k3dpp $*"; COMP_POINT=${#COMP_LINE}
    _k3dpp; printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
check() {
  local desc=$1 want=$2; shift 2
  local got
  got=$(complete_words "$@")
  if [ "$got" = "$want" ]; then
    passed=$((passed + 1)); echo "ok    $desc"
  else
    failed=$((failed + 1)); echo "FAIL  $desc"; echo "      want: $(echo "$want" | tr '\n' ' ')"; echo "      got:  $(echo "$got" | tr '\n' ' ')"
  fi
}

check "k3dpp cl -> cluster" "cluster" cl
check "k3dpp cluster cr -> create" "create" cluster cr
check "k3dpp clu<TAB> in a longer line still completes the word" "cluster" clu
check "k3dpp cluster list -o <TAB> -> json yaml wide" $'json\nyaml\nwide' cluster list -o ""
check "k3dpp completion <TAB> -> the four shells" $'bash\nzsh\nfish\npowershell' completion ""
check "k3dpp cluster create --no-<TAB>" $'--no-rollback\n--no-lb\n--no-image-volume' cluster create --no-
check "k3dpp --run<TAB> -> --runtime" "--runtime" --run
check "no engine: cluster names complete to nothing, no error text" "" cluster delete ""
check "k3dpp zz<TAB> -> nothing" "" zz
# File names where a command takes a file (cluster create -c).
touch "$tmp/my-cluster.yaml"
check "cluster create -c <file>" "$tmp/my-cluster.yaml" cluster create -c "$tmp/my-c"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
