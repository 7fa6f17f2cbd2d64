#!/usr/bin/env bash
# The completion scripts as the shells run them. bash: `source <(k3dpp completion bash)`, then the
# completion function called with COMP_WORDS/COMP_CWORD set as bash sets them on TAB; zsh and fish
# below when installed.
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

# zsh and fish, when installed (scripts/install-deps.sh does not install them): the same
# protocol through each shell's own script. zsh: compadd/_files stand in for the completion
# system's builtins (they only work inside a completion widget); fish: `complete -C`.
if command -v zsh >/dev/null; then
  zsh_words() {
    zsh -fc 'compdef() { :; }; compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }; _files() { print -- FILES; }
      source <(k3dpp completion zsh) || exit 9; words=(k3dpp "$@"); CURRENT=$#words; _k3dpp' _ "$@"
  }
  check_shell() {
    local desc=$1 want=$2 got; shift 2
    got=$("$@")
    if [ "$got" = "$want" ]; then passed=$((passed + 1)); echo "ok    $desc"
    else failed=$((failed + 1)); echo "FAIL  $desc"; echo "      want: $want"; echo "      got:  $got"; fi
  }
  check_shell "zsh: k3dpp cl -> cluster" "cluster" zsh_words cl
  check_shell "zsh: cluster list -o -> json yaml wide" $'json\nyaml\nwide' zsh_words cluster list -o ""
  check_shell "zsh: cluster create -c -> files" "FILES" zsh_words cluster create -c ""
else
  echo "skip  zsh not installed"
fi
if command -v fish >/dev/null; then
  fish_complete() { fish -c 'k3dpp completion fish | source; complete -C "$argv[1]"' "$1"; }
  check_fish() {
    local desc=$1 want=$2 got
    got=$(fish_complete "$3")
    if [ "$got" = "$want" ]; then passed=$((passed + 1)); echo "ok    $desc"
    else failed=$((failed + 1)); echo "FAIL  $desc"; echo "      want: $want"; echo "      got:  $got"; fi
  }
  check_fish "fish: k3dpp cl -> cluster" "cluster" "k3dpp cl"
  check_fish "fish: cluster create --no-" $'--no-image-volume\n--no-lb\n--no-rollback' "k3dpp cluster create --no-"
else
  echo "skip  fish not installed"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
