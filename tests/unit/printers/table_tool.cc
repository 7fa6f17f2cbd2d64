// Test helper: prints the Table JSON for a testdata input file, rendered at a fixed instant.
// Usage: printers_table_tool INPUT.in.json NOW(RFC3339)
#include <fstream>
#include <iostream>
#include <sstream>

#include "node-image/printers/printers.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: printers_table_tool INPUT.in.json NOW\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream ss;
  ss << in.rdbuf();
  std::chrono::system_clock::time_point now;
  if (!in.good() || !k3dpp::printers::parse_time(argv[2], now)) {
    std::cerr << "bad input or time\n";
    return 2;
  }
  try {
    const auto input = nlohmann::json::parse(ss.str());
    std::cout << k3dpp::printers::to_table(input.at("group").get<std::string>(), input.at("kind").get<std::string>(),
                                           input.at("objects").get<std::vector<nlohmann::json>>(), now, "4242")
                     .dump()
              << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
