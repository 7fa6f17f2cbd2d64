// Small string helpers shared by every module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace k3dpp::strings {

std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view trim(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
std::string to_lower(std::string_view s);
// Parses a base-10 integer that must fill the whole string; false on garbage or overflow.
bool parse_int(std::string_view s, long long& out);
// Random string of n characters from alphabet (uses a CSPRNG).
std::string random_string(size_t n, std::string_view alphabet);
// Hex of n random bytes (2n characters), for tokens.
std::string random_hex(size_t n_bytes);

}  // namespace k3dpp::strings
