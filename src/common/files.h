// File helpers: atomic writes (temp name + rename, like kind), reads.
#pragma once

#include <string>
#include <sys/types.h>

#include "common/result.h"

namespace k3dpp::files {

// Writes content to path atomically with the given mode (temp file in the same dir, fsync, rename).
Status write_atomic(const std::string& path, const std::string& content, mode_t mode = 0644);
Result<std::string> read(const std::string& path);
bool exists(const std::string& path);

}  // namespace k3dpp::files
