// k3dpp: k3d's command surface for clusters whose nodes run k3dpp-node.
#include <signal.h>

#include <iostream>

#include "cli/cli.h"
#include "cluster/pipeline.h"

namespace {
// First Ctrl-C (or SIGTERM) cancels the running pipeline, which then rolls back; a second one
// kills the process (SA_RESETHAND restores the default action).
void on_signal(int) { k3dpp::cluster::request_cancel(); }
}  // namespace

int main(int argc, char** argv) {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  k3dpp::cli::Context ctx;
  std::vector<std::string> args(argv + 1, argv + argc);
  return k3dpp::cli::run(args, ctx, std::cerr);
}
