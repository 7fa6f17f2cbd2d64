// The argument shapes several commands share: NAME...|--all cluster selections and list options.
#include "cli/cli.h"
#include "cluster/operations.h"
#include "cluster/output.h"

namespace k3dpp::cli {

void add_cluster_selection(CLI::App& cmd, ClusterSelection& sel, const std::string& all_help) {
  cmd.add_option("NAME", sel.names, "Cluster name(s) (default: default)");
  cmd.add_flag("-a,--all", sel.all, all_help);
}

Result<std::vector<std::string>> selected_clusters(runtime::Runtime& rt, const ClusterSelection& sel) {
  if (sel.all && !sel.names.empty()) return fail("give cluster names or --all, not both", "Invalid");
  if (sel.all) return cluster::cluster_names(rt);
  if (sel.names.empty()) return std::vector<std::string>{"default"};
  return sel.names;
}

void add_list_options(CLI::App& cmd, ListOptions& opts, const std::string& names_help) {
  cmd.add_option("NAME", opts.names, names_help);
  cmd.add_option("-o,--output", opts.output, "Output format: json|yaml|wide (default: a table)")
      ->check(CLI::IsMember({"json", "yaml", "wide", ""}));
  cmd.add_flag("--no-headers", opts.no_headers, "Omit the table header");
}

Status print_listing(const Context& ctx, const ListOptions& opts, const std::string& json, const std::string& table,
                     const std::string& wide_table) {
  if (opts.output == "json") {
    *ctx.out << json;
  } else if (opts.output == "yaml") {
    auto y = cluster::json_to_yaml(json);
    if (!y) return y.error();
    *ctx.out << *y;
  } else {
    const std::string& t = opts.output == "wide" ? wide_table : table;
    *ctx.out << (opts.no_headers ? t.substr(t.find('\n') + 1) : t);
  }
  return {};
}

}  // namespace k3dpp::cli
