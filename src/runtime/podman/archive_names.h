// Podman saves an image it knows as "localhost/nginx:latest" (every image loaded from a `docker
// save` archive without a registry gets that prefix) with exactly that name in the archive, and
// containerd would then import it as "localhost/nginx:latest" instead of the
// "docker.io/library/nginx:latest" a pod's `image: nginx:latest` means. ArchiveNameRewriter
// filters a docker-archive tar stream and drops the "localhost/" prefix from the names in
// `manifest.json` (RepoTags) and `repositories` (keys), so the archive names its images the way
// `docker save` would. Every other entry passes through byte for byte, as it streams.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "common/result.h"

namespace k3dpp::runtime::podman {

// Pure: the rewritten text of manifest.json (is_manifest) or repositories; the input unchanged
// when it is not the JSON expected.
std::string strip_localhost_names(const std::string& text, bool is_manifest);

class ArchiveNameRewriter {
 public:
  using Sink = std::function<bool(const char*, size_t)>;
  explicit ArchiveNameRewriter(Sink out) : out_(std::move(out)) {}

  // False when the sink refused data (the caller stops).
  bool feed(const char* data, size_t size);
  // At the end of the stream: an error when it stopped inside an entry.
  Status finish() const;

 private:
  bool header_done();
  bool emit(const char* p, size_t n) { return n == 0 || out_(p, n); }

  Sink out_;
  std::string header_;   // collecting a 512-byte header
  size_t pass_ = 0;      // bytes of the current entry (with padding) still to pass through
  bool capture_ = false; // collecting manifest.json / repositories to rewrite
  size_t capture_size_ = 0;   // its size
  size_t capture_total_ = 0;  // with padding
  std::string captured_;
  std::string captured_header_;
  bool is_manifest_ = false;
};

}  // namespace k3dpp::runtime::podman
