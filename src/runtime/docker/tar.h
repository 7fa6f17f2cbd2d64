// In-memory tar archives (POSIX ustar, with PAX/GNU long names on read and PAX on write),
// for the engine's archive API. Only what k3dpp needs: files, directories, symlinks.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::runtime::docker::tar {

enum class EntryType { kFile, kDirectory, kSymlink, kOther };

struct Entry {
  std::string path;      // relative, no leading '/', directories without trailing '/'
  EntryType type = EntryType::kFile;
  int mode = 0644;       // permission bits
  std::string content;   // files only
  std::string link;      // symlinks only
  int uid = 0;
  int gid = 0;
  long long mtime = 0;   // seconds since the epoch
};

// Builds an archive (with the two zero blocks at the end). Paths longer than ustar allows get a
// PAX extended header.
std::string build(const std::vector<Entry>& entries);

// Parses an archive; fails on a bad checksum or a truncated entry.
Result<std::vector<Entry>> parse(const std::string& archive);

}  // namespace k3dpp::runtime::docker::tar
