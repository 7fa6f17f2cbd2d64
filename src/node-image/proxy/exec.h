// Runs a program with stdin text and captures its output (for iptables-restore/iptables-save).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::proxy {

struct ExecResult {
  int exit_code = -1;
  std::string output;  // stdout followed by stderr
};

// argv[0] is looked up in PATH. Fails only when the program cannot be started.
Result<ExecResult> run_program(const std::vector<std::string>& argv, const std::string& stdin_text = {});

}  // namespace k3dpp::proxy
