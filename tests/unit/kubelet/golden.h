// Golden-file comparison: K3DPP_UPDATE_GOLDEN=1 rewrites the files instead of comparing.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

inline void check_golden(const std::string& name, const std::string& actual) {
  std::string path = std::string(K3DPP_KUBELET_TESTDATA) + "/" + name;
  if (std::getenv("K3DPP_UPDATE_GOLDEN")) {
    std::ofstream(path) << actual << "\n";
    return;
  }
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string expected = ss.str();
  if (!expected.empty() && expected.back() == '\n') expected.pop_back();
  CHECK_MESSAGE(actual == expected, "golden mismatch: " << path << "\n--- actual ---\n" << actual);
}
