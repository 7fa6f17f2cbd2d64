// k3dpp completion bash|zsh|fish|powershell, and the hidden `k3dpp __complete WORDS... CURRENT`
// the scripts call (k3d: cobra's completion command and __complete protocol; CLI11 has no
// completion generator). The scripts are thin: they hand the words typed so far to the binary,
// which walks this CLI11 app's own tree (subcommands, aliases left out, options) and asks the
// engine for cluster, node and registry names where a command takes them. It prints one
// candidate per line, then a directive line ":0" (the candidates) or ":1" (complete file names).
#include <map>
#include <set>

#include "cli/cli.h"
#include "cluster/operations.h"

namespace k3dpp::cli {
namespace {

// What an option value or a positional argument is.
enum class ValueKind { kNone, kFiles, kClusters, kNodes, kRegistries, kWords };

struct Want {
  ValueKind kind = ValueKind::kNone;
  std::vector<std::string> words;
};

std::string path_of(const CLI::App* app) {
  std::vector<std::string> parts;
  for (const CLI::App* a = app; a != nullptr && a->get_parent() != nullptr; a = a->get_parent()) {
    parts.insert(parts.begin(), a->get_name());
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

Want option_value(const CLI::App* cmd, const CLI::Option* opt) {
  std::string path = path_of(cmd);
  std::string name = opt->get_lnames().empty() ? "" : opt->get_lnames().front();
  if (name == "runtime") return {ValueKind::kWords, {"docker", "podman"}};
  if (name == "role") return {ValueKind::kWords, {"agent", "server"}};
  if (name == "mode") return {ValueKind::kWords, {"auto", "direct", "tools"}};
  if (name == "pod-network") return {ValueKind::kWords, {"host-gw", "vxlan"}};
  if (name == "output") {
    if (path == "version") return {ValueKind::kWords, {"json"}};
    if (path == "kubeconfig merge" || path == "kubeconfig write" || path == "config init") return {ValueKind::kFiles, {}};
    return {ValueKind::kWords, {"json", "yaml", "wide"}};
  }
  if (name == "cluster") return {ValueKind::kClusters, {}};
  if (name == "config" || name == "volume" || name == "lb-config-override") return {ValueKind::kFiles, {}};
  return {};
}

Want positional_value(const CLI::App* cmd) {
  std::string path = path_of(cmd);
  auto group = path.substr(0, path.find(' '));
  bool create = path.size() > 7 && path.compare(path.size() - 7, 7, " create") == 0;
  if (path == "completion") return {ValueKind::kWords, {"bash", "zsh", "fish", "powershell"}};
  if (path == "image import" || path == "image load") return {ValueKind::kFiles, {}};
  if (create) return {};
  if (group == "cluster" || group == "kubeconfig") return {ValueKind::kClusters, {}};
  if (group == "node") return {ValueKind::kNodes, {}};
  if (group == "registry") return {ValueKind::kRegistries, {}};
  return {};
}

bool hidden(const CLI::App* a) { return a->get_group().empty(); }

const CLI::Option* find_option(const CLI::App* cmd, const std::string& word) {
  for (const CLI::App* a = cmd; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* o : a->get_options()) {
      if (o->get_positional() && !o->nonpositional()) continue;
      if (o->check_name(word)) return o;
    }
    if (!a->get_fallthrough()) break;
  }
  return nullptr;
}

std::vector<std::string> dynamic_names(const Context& ctx, ValueKind kind) {
  std::vector<std::string> out;
  auto rt = ctx.open_runtime();
  if (!rt) return out;
  if (kind == ValueKind::kClusters) {
    auto names = cluster::cluster_names(**rt);
    if (names) out = *names;
  } else if (kind == ValueKind::kNodes) {
    auto nodes = cluster::list_nodes(**rt);
    if (nodes) {
      for (const auto& n : *nodes) out.push_back(n.name);
    }
  } else if (kind == ValueKind::kRegistries) {
    auto regs = cluster::list_registries(**rt);
    if (regs) {
      for (const auto& r : *regs) out.push_back(r.name);
    }
  }
  return out;
}

}  // namespace

CompletionResult complete_words(const CLI::App& root, const Context& ctx, const std::vector<std::string>& words) {
  CompletionResult res;
  const CLI::App* cmd = &root;
  std::string cur = words.empty() ? "" : words.back();
  const CLI::Option* pending = nullptr;  // an option whose value comes next
  std::vector<std::string> given;        // positional words given to cmd so far
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    const std::string& w = words[i];
    if (pending != nullptr) {
      pending = nullptr;
      continue;
    }
    if (w.size() > 1 && w[0] == '-') {
      std::string name = w.substr(0, w.find('='));
      const CLI::Option* o = find_option(cmd, name);
      if (o != nullptr && o->get_type_size() > 0 && w.find('=') == std::string::npos &&
          !(name.size() > 2 && name[1] != '-')) {  // -oVALUE carries its value
        pending = o;
      }
      continue;
    }
    const CLI::App* sub = nullptr;
    for (const CLI::App* s : cmd->get_subcommands([](const CLI::App*) { return true; })) {
      if (s->check_name(w)) sub = s;
    }
    if (sub != nullptr) {
      cmd = sub;
      given.clear();
    } else {
      given.push_back(w);
    }
  }
  Want want;
  std::vector<std::string> cands;
  if (pending != nullptr) {
    want = option_value(cmd, pending);
  } else if (!cur.empty() && cur[0] == '-') {
    for (const CLI::App* a = cmd; a != nullptr; a = a->get_parent()) {
      for (const CLI::Option* o : a->get_options()) {
        if (o->get_group().empty()) continue;
        for (const auto& l : o->get_lnames()) cands.push_back("--" + l);
        if (cur.size() <= 2) {
          for (const auto& s : o->get_snames()) cands.push_back("-" + s);
        }
      }
      if (!a->get_fallthrough()) break;
    }
  } else {
    for (const CLI::App* s : cmd->get_subcommands([](const CLI::App*) { return true; })) {
      if (!hidden(s)) cands.push_back(s->get_name());
    }
    bool takes_positional = false;
    for (const CLI::Option* o : cmd->get_options()) {
      if (o->get_positional() && !o->nonpositional()) takes_positional = true;
    }
    if (takes_positional) want = positional_value(cmd);
  }
  if (want.kind == ValueKind::kFiles) {
    res.files = true;
    return res;
  }
  if (want.kind == ValueKind::kWords) cands.insert(cands.end(), want.words.begin(), want.words.end());
  if (want.kind == ValueKind::kClusters || want.kind == ValueKind::kNodes || want.kind == ValueKind::kRegistries) {
    for (const auto& n : dynamic_names(ctx, want.kind)) {
      // A name already given is not offered again (k3d's ValidArgsAvailableClusters).
      if (pending != nullptr || std::find(given.begin(), given.end(), n) == given.end()) cands.push_back(n);
    }
  }
  std::set<std::string> seen;
  for (const auto& c : cands) {
    if (c.compare(0, cur.size(), cur) == 0 && seen.insert(c).second) res.candidates.push_back(c);
  }
  return res;
}

namespace {

const char* kBash = R"(# bash completion for k3dpp (k3dpp completion bash)
# Load it in this shell:  source <(k3dpp completion bash)
# For every new shell:    k3dpp completion bash > /etc/bash_completion.d/k3dpp
_k3dpp() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local out directive
  out=$("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  directive=${out##*$'\n'}
  if [[ $out == *$'\n'* ]]; then out=${out%$'\n'*}; else out=; fi
  COMPREPLY=()
  if [[ $directive == ":1" ]]; then
    local IFS=$'\n'
    COMPREPLY=($(compgen -f -- "$cur"))
    compopt -o filenames 2>/dev/null
    return 0
  fi
  local IFS=$'\n'
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
}
complete -F _k3dpp k3dpp
)";

const char* kZsh = R"(#compdef k3dpp
# zsh completion for k3dpp (k3dpp completion zsh)
# Load it in this shell:  source <(k3dpp completion zsh)   (after compinit)
# For every new shell:    k3dpp completion zsh > "${fpath[1]}/_k3dpp"
_k3dpp() {
  local -a lines cands
  lines=("${(@f)$(${words[1]} __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  local directive=${lines[-1]}
  cands=("${(@)lines[1,-2]}")
  if [[ $directive == ":1" ]]; then
    _files
  elif (( ${#cands} )); then
    compadd -- "${(@)cands}"
  fi
}
if [[ "${funcstack[1]}" == "_k3dpp" ]]; then
  _k3dpp "$@"
else
  compdef _k3dpp k3dpp
fi
)";

const char* kFish = R"(# fish completion for k3dpp (k3dpp completion fish)
# Load it in this shell:  k3dpp completion fish | source
# For every new shell:    k3dpp completion fish > ~/.config/fish/completions/k3dpp.fish
function __k3dpp_complete
    set -l args (commandline -opc)
    set -e args[1]
    set -l out (k3dpp __complete $args (commandline -ct) 2>/dev/null)
    if test "$out[-1]" = ":1"
        __fish_complete_path (commandline -ct)
        return
    end
    for line in $out
        if not string match -q -- ':*' $line
            echo $line
        end
    end
end
complete -c k3dpp -f -a '(__k3dpp_complete)'
)";

const char* kPowershell = R"(# PowerShell completion for k3dpp (k3dpp completion powershell)
# Load it in this shell:  k3dpp completion powershell | Out-String | Invoke-Expression
# For every new shell:    add that line to $PROFILE
Register-ArgumentCompleter -Native -CommandName k3dpp -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })
    if ($wordToComplete -eq '') { $words += '' }
    $quoted = $words | ForEach-Object { "'" + ($_ -replace "'", "''") + "'" }
    $out = @(Invoke-Expression ("k3dpp __complete " + ($quoted -join ' ') + " 2>`$null"))
    if ($out.Count -eq 0) { return }
    if ($out[-1] -eq ':1') {
        Get-ChildItem -Path "$wordToComplete*" | ForEach-Object {
            [System.Management.Automation.CompletionResult]::new($_.Name, $_.Name, 'ProviderItem', $_.Name)
        }
        return
    }
    $out | Where-Object { -not $_.StartsWith(':') } | ForEach-Object {
        [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
    }
}
)";

}  // namespace

Result<std::string> completion_script(const std::string& shell) {
  if (shell == "bash") return std::string(kBash);
  if (shell == "zsh") return std::string(kZsh);
  if (shell == "fish") return std::string(kFish);
  if (shell == "powershell") return std::string(kPowershell);
  return fail("unknown shell '" + shell + "' (want bash, zsh, fish or powershell)", "Invalid");
}

void add_completion(CLI::App& app, Context& ctx) {
  auto shell = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("completion", "Generate a shell completion script (bash, zsh, fish, powershell)");
  cmd->add_option("SHELL", *shell, "bash|zsh|fish|powershell")->required();
  cmd->callback([shell, &ctx] {
    ctx.run = [shell, &ctx]() -> Status {
      auto s = completion_script(*shell);
      if (!s) return s.error();
      *ctx.out << *s;
      return {};
    };
  });
}

}  // namespace k3dpp::cli
