// Golden-file comparison: tests/unit/cluster/golden/NAME. K3DPP_UPDATE_GOLDEN=1 rewrites them
// (review the diff before committing).
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace k3dpp::testing {

inline void check_golden(const std::string& name, const std::string& actual) {
  std::string path = std::string(K3DPP_GOLDEN_DIR) + "/" + name;
  if (const char* u = std::getenv("K3DPP_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
  }
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK_MESSAGE(ss.str() == actual, "golden mismatch: " << path << "\n--- actual ---\n" << actual);
}

}  // namespace k3dpp::testing
