// `k3dpp image import`: images from the engine into every node's containerd (namespace k8s.io).
// One `save_images` of all refs into a temp file on the host, then every node imports it in
// parallel with `ctr -n k8s.io images import`. The temp file (and any copy in a node) is removed
// whatever happens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/runtime.h"

namespace k3dpp::cluster {

// How the saved archive reaches a node's ctr. Measured (nginx:1.24, 91 MB, 2 nodes, load ~10):
// stdin 8.8 s, put_archive 9.1 s end to end; stdin also leaves nothing in the node, so it is the
// default. kArchive stays as an escape hatch (K3DPP_IMAGE_IMPORT_TRANSPORT=archive in the CLI).
enum class ImportTransport {
  kStdin,    // exec `ctr -n k8s.io images import -` with the archive on stdin
  kArchive,  // put_archive into the node's /var/lib/containerd, exec `ctr ... import F`, remove F
};

struct ImageImportOptions {
  std::vector<std::string> images;  // refs as the user typed them ("nginx:1.24", "busybox"), or archive paths
  std::string cluster;
  std::string tmp_dir;              // host dir for the saved archive; "" = $TMPDIR or /tmp
  ImportTransport transport = ImportTransport::kStdin;
};

struct NodeImport {
  std::string node;                 // container name
  std::vector<std::string> images;  // names ctr reported ("docker.io/library/nginx:1.24")
  int64_t millis = 0;
};

struct ImageImportResult {
  std::vector<std::string> images;  // normalised names of the requested refs
  int64_t archive_bytes = 0;
  int64_t save_millis = 0;
  int64_t import_millis = 0;        // wall clock of the parallel node imports
  std::vector<NodeImport> nodes;
};

// docker's normalisation, as containerd names images: "nginx" -> "docker.io/library/nginx:latest",
// "user/app:1" -> "docker.io/user/app:1", "localhost:5000/x" -> "localhost:5000/x:latest";
// a digest ref keeps its digest and gets no tag.
std::string normalize_image_ref(const std::string& ref);

// The ref to ask the engine for: as typed, with ":latest" added when it has neither tag nor
// digest (a bare repository name would make the engine save every tag of it).
std::string engine_image_ref(const std::string& ref);

// The names ctr printed while importing ("unpacking NAME (sha256:...)...done" lines).
std::vector<std::string> parse_ctr_import_output(const std::string& out);

// True when an `image import` argument names an image archive (`docker save` output, plain or
// gzipped: ctr reads both) instead of an image: an existing regular file, or a path-looking
// argument (/x, ./x, ../x, *.tar, *.tar.gz, *.tgz), which must then exist.
bool is_archive_path(const std::string& ref);

// A ustar header for one regular file (base-256 size field beyond 8 GiB), for put_archive.
std::string tar_file_header(const std::string& name, uint64_t size, int mode);

// Imports opts.images into every server and agent node of opts.cluster. Errors: the cluster does
// not exist ("NotFound"), an image is not in the engine ("NotFound"), a node is not running
// ("Unavailable"), ctr failed in a node.
Result<ImageImportResult> import_images(runtime::Runtime& rt, const ImageImportOptions& opts);

}  // namespace k3dpp::cluster
