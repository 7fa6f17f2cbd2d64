// k3dpp: k3d's command surface for clusters whose nodes run k3dpp-node.
#include <iostream>

#include "cli/cli.h"

int main(int argc, char** argv) {
  k3dpp::cli::Context ctx;
  std::vector<std::string> args(argv + 1, argv + argc);
  return k3dpp::cli::run(args, ctx, std::cerr);
}
