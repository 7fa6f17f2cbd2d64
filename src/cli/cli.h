// Shared plumbing of the k3dpp CLI: global options, the deferred command action, runtime opening.
// One command per file (cluster_create.cc, ...), each registering itself on its parent.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <chrono>
#include <iostream>

#include "cluster/probes.h"
#include "common/result.h"
#include "runtime/runtime.h"

namespace k3dpp::cli {

struct Globals {
  std::string runtime;  // --runtime docker|podman ("" = auto)
  bool verbose = false;
  bool trace = false;
};

// Commands set `run` from their CLI11 callback; main runs it after parsing and prints one
// `ERROR: ...` line on failure.
struct Context {
  Globals globals;
  std::function<Status()> run;
  std::ostream* out = &std::cout;  // data (tables, YAML, JSON, hints)
  // Tests inject an in-memory runtime and host probes here.
  runtime::Runtime* runtime_override = nullptr;
  cluster::HostProbes probes = cluster::real_probes();
  bool logging_setup = true;  // tests keep their own log format

  // Opens the runtime chosen by --runtime (or auto); errors say the engine is unreachable.
  Result<std::shared_ptr<runtime::Runtime>> open_runtime() const;
};

// Parses args (without argv[0]) and runs the chosen command; returns the exit code. Errors are
// printed as one `ERROR: ...` line on err.
int run(const std::vector<std::string>& args, Context& ctx, std::ostream& err);

// "120s", "2m", "1m30s", "90" (seconds) -> seconds.
Result<std::chrono::seconds> parse_duration(const std::string& text);

void add_cluster_create(CLI::App& cluster, Context& ctx);
void add_cluster_delete(CLI::App& cluster, Context& ctx);
void add_cluster_list(CLI::App& cluster, Context& ctx);
void add_cluster_start(CLI::App& cluster, Context& ctx);
void add_cluster_stop(CLI::App& cluster, Context& ctx);
void add_cluster_edit(CLI::App& cluster, Context& ctx);
void add_cluster_logs(CLI::App& cluster, Context& ctx);
void add_node_create(CLI::App& node, Context& ctx);
void add_node_list(CLI::App& node, Context& ctx);
void add_node_delete(CLI::App& node, Context& ctx);
void add_node_start(CLI::App& node, Context& ctx);
void add_node_stop(CLI::App& node, Context& ctx);
void add_node_edit(CLI::App& node, Context& ctx);

// cluster edit NAME / node edit LB: --port-add/--port-delete specs applied to the cluster's LB.
Status edit_cluster_ports_cli(const Context& ctx, const std::string& name, const std::vector<std::string>& add,
                              const std::vector<std::string>& del);
void add_kubeconfig_get(CLI::App& kubeconfig, Context& ctx);
void add_kubeconfig_merge(CLI::App& kubeconfig, Context& ctx);
void add_version(CLI::App& app, Context& ctx);
void add_completion(CLI::App& app, Context& ctx);
void add_config(CLI::App& app, Context& ctx);

// `k3dpp version` text (or its JSON, {"k3dpp", "kubernetes", "nodeImage", "lbImage"}).
std::string version_text(bool json);

// Shell completion (completion.cc): the candidates for the last of words (the word being
// completed, "" for a new one), given the words before it; files = let the shell complete paths.
struct CompletionResult {
  std::vector<std::string> candidates;
  bool files = false;
};
CompletionResult complete_words(const CLI::App& root, const Context& ctx, const std::vector<std::string>& words);
// The script for bash, zsh, fish or powershell; it calls `k3dpp __complete WORDS...`.
Result<std::string> completion_script(const std::string& shell);
void add_registry_create(CLI::App& registry, Context& ctx);
void add_registry_list(CLI::App& registry, Context& ctx);
void add_registry_delete(CLI::App& registry, Context& ctx);

// NAME...|--all, as the cluster commands take it (stop, start, delete, kubeconfig get|merge).
struct ClusterSelection {
  std::vector<std::string> names;
  bool all = false;
};
// Registers NAME... and -a,--all on cmd; all_help says what --all does.
void add_cluster_selection(CLI::App& cmd, ClusterSelection& sel, const std::string& all_help);
// The clusters selected: every existing one for --all, else the names, else "default" (as k3d).
// Names together with --all are refused.
Result<std::vector<std::string>> selected_clusters(runtime::Runtime& rt, const ClusterSelection& sel);

// [NAME...] [-o json|yaml|wide] [--no-headers], as the list commands take it (cluster, node, registry list).
struct ListOptions {
  std::vector<std::string> names;
  std::string output;
  bool no_headers = false;
};
// Registers them on cmd; names_help describes NAME.
void add_list_options(CLI::App& cmd, ListOptions& opts, const std::string& names_help);
// Prints the JSON document for -o json, it as YAML for -o yaml, the wide table for -o wide, else
// the table (tables without their header for --no-headers).
Status print_listing(const Context& ctx, const ListOptions& opts, const std::string& json, const std::string& table,
                     const std::string& wide_table);
// The items whose name is one of names (all of them when names is empty), in their order; a name
// that matches nothing is NotFound ("<kind> 'NAME' not found").
template <typename T, typename NameOf>
Result<std::vector<T>> filter_named(const std::vector<T>& items, const std::vector<std::string>& names, NameOf name_of,
                                    const std::string& kind) {
  std::vector<T> shown;
  for (const auto& item : items) {
    if (names.empty() || std::find(names.begin(), names.end(), name_of(item)) != names.end()) shown.push_back(item);
  }
  for (const auto& n : names) {
    if (std::none_of(shown.begin(), shown.end(), [&](const T& item) { return name_of(item) == n; })) {
      return fail(kind + " '" + n + "' not found", "NotFound");
    }
  }
  return shown;
}

// Builds the whole command tree on app (used by main and by the CLI tests).
void build_app(CLI::App& app, Context& ctx);

// k3d-style log lines on stderr: "INFO[0003] message" (seconds since start).
void setup_logging(const Globals& g);

}  // namespace k3dpp::cli
