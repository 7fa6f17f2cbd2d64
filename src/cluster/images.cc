#include "cluster/images.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <zlib.h>

#include "cluster/pipeline.h"
#include "cluster/state.h"
#include "common/log.h"
#include "common/strings.h"

namespace k3dpp::cluster {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kNodeImportDir = "/var/lib/containerd";

std::shared_ptr<spdlog::logger> lg() { return log::get("cluster"); }

int64_t millis_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// docker's rule: the first component is a registry when it has a '.' or ':' or is "localhost".
bool is_registry(const std::string& s) {
  return s.find('.') != std::string::npos || s.find(':') != std::string::npos || s == "localhost";
}

bool has_tag_or_digest(const std::string& ref) {
  if (ref.find('@') != std::string::npos) return true;
  auto slash = ref.rfind('/');
  std::string last = slash == std::string::npos ? ref : ref.substr(slash + 1);
  return last.find(':') != std::string::npos;
}

// The last non-empty line of a command's output, for one-line errors.
std::string last_line(const std::string& text) {
  auto lines = strings::split(text, '\n');
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    auto t = strings::trim(*it);
    if (!t.empty()) return std::string(t);
  }
  return {};
}

bool write_all(int fd, const char* p, size_t n);

// Inflates the gzip file at path into out_fd (bounded by the disk, not memory: 64 KiB at a time).
Status gunzip_to(const std::string& path, int out_fd) {
  gzFile in = ::gzopen(path.c_str(), "rb");
  if (in == nullptr) return fail("cannot open image archive " + path, "NotFound");
  std::vector<char> buf(64 * 1024);
  Status st;
  while (true) {
    int n = ::gzread(in, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int code = 0;
      st = fail("image archive " + path + " is not valid gzip: " + ::gzerror(in, &code), "Invalid");
      break;
    }
    if (n == 0) break;
    if (!write_all(out_fd, buf.data(), static_cast<size_t>(n))) {
      st = fail("inflating image archive " + path + ": " + std::strerror(errno));
      break;
    }
  }
  ::gzclose(in);
  return st;
}

// A host temp file removed when it goes out of scope.
class TempFile {
 public:
  static Result<TempFile> create(const std::string& dir) {
    std::string tmpl = dir + "/k3dpp-images-XXXXXX.tar";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = ::mkstemps(buf.data(), 4);
    if (fd < 0) return fail("cannot create a temp file in " + dir + ": " + std::strerror(errno), "Invalid");
    return TempFile(buf.data(), fd);
  }
  TempFile(TempFile&& o) noexcept : path_(std::move(o.path_)), fd_(o.fd_) {
    o.path_.clear();
    o.fd_ = -1;
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  TempFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Appends the file's bytes [0, size) to out.
Status read_into(int fd, int64_t size, std::string& out) {
  size_t base = out.size();
  out.resize(base + static_cast<size_t>(size));
  size_t got = 0;
  while (got < static_cast<size_t>(size)) {
    ssize_t r = ::pread(fd, out.data() + base + got, static_cast<size_t>(size) - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return fail(std::string("reading the saved images back: ") + (r < 0 ? std::strerror(errno) : "short file"));
    got += static_cast<size_t>(r);
  }
  return {};
}

Status node_ctr_failed(const std::string& node, const runtime::ExecResult& r) {
  std::string why = last_line(r.err);
  if (why.empty()) why = last_line(r.out);
  return fail("ctr images import failed in node '" + node + "' (exit code " + std::to_string(r.exit_code) + ")" +
                  (why.empty() ? "" : ": " + why),
              "Engine");
}

Result<NodeImport> import_into_node(runtime::Runtime& rt, const std::string& node, const std::string& payload,
                                    ImportTransport transport, const std::string& node_file) {
  auto start = Clock::now();
  Result<runtime::ExecResult> r = runtime::ExecResult{};
  if (transport == ImportTransport::kStdin) {
    r = rt.exec(node, {"ctr", "-n", "k8s.io", "images", "import", "-"}, payload);
  } else {
    // Not /tmp: it is a tmpfs in the node, and the engine's archive API writes beneath tmpfs mounts
    // (the file lands in the hidden rootfs dir). The containerd volume is disk and is where the
    // content goes anyway.
    std::string path = std::string(kNodeImportDir) + "/" + node_file;
    auto put = rt.put_archive(node, kNodeImportDir, payload);
    if (put) r = rt.exec(node, {"ctr", "-n", "k8s.io", "images", "import", path});
    // Remove the copy whatever happened (put_archive may have written part of it).
    auto rm = rt.exec(node, {"rm", "-f", path});
    if (!rm || rm->exit_code != 0) lg()->warn("could not remove {}:{}", node, path);
    if (!put) return put.error().wrap("copying the images into node '" + node + "'");
  }
  if (!r) return r.error().wrap("importing images into node '" + node + "'");
  if (r->exit_code != 0) return unexpected(node_ctr_failed(node, *r).error());
  NodeImport ni;
  ni.node = node;
  ni.images = parse_ctr_import_output(r->out + "\n" + r->err);
  ni.millis = millis_since(start);
  lg()->debug("node {}: imported {} in {} ms", node, strings::join(ni.images, ", "), ni.millis);
  return ni;
}

}  // namespace

std::string normalize_image_ref(const std::string& ref) {
  std::string name = ref;
  std::string digest;
  if (auto at = name.find('@'); at != std::string::npos) {
    digest = name.substr(at);
    name.resize(at);
  }
  std::string domain = "docker.io";
  std::string rest = name;
  if (auto slash = name.find('/'); slash != std::string::npos && is_registry(name.substr(0, slash))) {
    domain = name.substr(0, slash);
    rest = name.substr(slash + 1);
  }
  if (domain == "index.docker.io") domain = "docker.io";
  if (domain == "docker.io" && rest.find('/') == std::string::npos) rest = "library/" + rest;
  if (digest.empty() && !has_tag_or_digest(rest)) rest += ":latest";
  return domain + "/" + rest + digest;
}

std::string engine_image_ref(const std::string& ref) { return has_tag_or_digest(ref) ? ref : ref + ":latest"; }

std::vector<std::string> parse_ctr_import_output(const std::string& out) {
  // containerd 1.6: "unpacking docker.io/library/nginx:1.24 (sha256:...)...done"
  std::vector<std::string> names;
  for (const auto& raw : strings::split(out, '\n')) {
    auto line = strings::trim(raw);
    if (!strings::starts_with(line, "unpacking ")) continue;
    line.remove_prefix(std::strlen("unpacking "));
    auto end = line.find(" (");
    if (end == std::string_view::npos) end = line.find(' ');
    std::string name(line.substr(0, end));
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

bool is_archive_path(const std::string& ref) {
  // k3d takes an argument naming an existing file as a tarball; an image reference never names one
  // here unless it is also a path, so a path-looking argument (./x, /x, *.tar) must exist.
  struct stat sb {};
  if (::stat(ref.c_str(), &sb) == 0 && S_ISREG(sb.st_mode)) return true;
  return ref.find('/') == 0 || ref.rfind("./", 0) == 0 || ref.rfind("../", 0) == 0 || strings::ends_with(ref, ".tar") ||
         strings::ends_with(ref, ".tar.gz") || strings::ends_with(ref, ".tgz");
}

std::string tar_file_header(const std::string& name, uint64_t size, int mode) {
  std::string h(512, '\0');
  auto put_octal = [&h](size_t off, size_t width, uint64_t v) {
    // width-1 octal digits, then NUL.
    for (size_t i = width - 1; i-- > 0;) {
      h[off + i] = static_cast<char>('0' + (v & 7));
      v >>= 3;
    }
  };
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 100));
  put_octal(100, 8, static_cast<uint64_t>(mode) & 07777);
  put_octal(108, 8, 0);  // uid
  put_octal(116, 8, 0);  // gid
  if (size < (uint64_t{1} << 33)) {
    put_octal(124, 12, size);
  } else {  // base-256 (GNU/POSIX.1-2001 readers): high bit set, big-endian value
    h[124] = static_cast<char>(0x80);
    for (int i = 11; i >= 1; --i) {
      h[124 + i] = static_cast<char>(size & 0xff);
      size >>= 8;
    }
  }
  put_octal(136, 12, static_cast<uint64_t>(std::time(nullptr)));
  h[156] = '0';
  std::memcpy(h.data() + 257, "ustar\0" "00", 8);
  std::memcpy(h.data() + 265, "root", 4);
  std::memcpy(h.data() + 297, "root", 4);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum & 0777777);
  std::memcpy(h.data() + 148, chk, 6);
  h[154] = '\0';
  h[155] = ' ';
  return h;
}

Result<ImageImportResult> import_images(runtime::Runtime& rt, const ImageImportOptions& opts) {
  if (opts.images.empty()) return fail("no image given", "Invalid");

  // 1. The cluster and its nodes (all must run: a half-imported cluster is no use).
  auto cs = load_cluster(rt, opts.cluster);
  if (!cs) return cs.error();
  std::vector<const NodeState*> nodes = cs->with_role(Role::kServer);
  for (const auto* a : cs->with_role(Role::kAgent)) nodes.push_back(a);
  if (nodes.empty()) return fail("cluster '" + opts.cluster + "' has no server or agent node", "NotFound");
  for (const auto* n : nodes) {
    if (!n->running) {
      return fail("node '" + n->name + "' of cluster '" + opts.cluster + "' is not running (" + n->state +
                      "); start it with `k3dpp cluster start " + opts.cluster + "`",
                  "Unavailable");
    }
  }

  // 2. Every image must be in the engine, by name (an ID would reach containerd without a name).
  std::string engine = "Docker";
  if (auto info = rt.info(); info && info->engine == "podman") engine = "Podman";
  ImageImportResult result;
  std::vector<std::string> save_refs;
  std::set<std::string> seen;
  std::vector<std::string> archives;  // `docker save` tarballs given by path (as k3d takes them)
  for (const auto& ref : opts.images) {
    if (ref.empty()) return fail("empty image name", "Invalid");
    if (is_archive_path(ref)) {
      struct stat sb {};
      if (::stat(ref.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        return fail("image archive " + ref + " is not a readable file", "NotFound");
      }
      if (sb.st_size == 0) return fail("image archive " + ref + " is empty", "Invalid");
      archives.push_back(ref);
      continue;
    }
    auto img = rt.inspect_image(ref);
    if (!img) {
      if (img.error().is("NotFound")) return fail("image \"" + ref + "\" not found in the " + engine + " engine", "NotFound");
      return img.error().wrap("inspecting image \"" + ref + "\"");
    }
    std::string id = img->id;
    if (strings::starts_with(id, "sha256:")) id = id.substr(7);
    std::string bare = strings::starts_with(ref, "sha256:") ? ref.substr(7) : ref;
    bool hex = bare.size() >= 4 && bare.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (hex && strings::starts_with(id, bare)) {
      return fail("\"" + ref + "\" is an image ID; give a name (repository:tag) so containerd can name the image",
                  "Invalid");
    }
    std::string norm = normalize_image_ref(ref);
    if (!seen.insert(norm).second) continue;
    result.images.push_back(norm);
    save_refs.push_back(engine_image_ref(ref));
  }
  K3DPP_TRY(check_cancelled());

  lg()->info("Importing image(s) into cluster '{}'", opts.cluster);

  // 3. One save of all engine images into a host temp file; archives are read as they are.
  std::string dir = opts.tmp_dir;
  if (dir.empty()) {
    const char* t = std::getenv("TMPDIR");
    dir = (t != nullptr && *t != '\0') ? t : "/tmp";
  }
  struct Source {
    int fd = -1;
    int64_t bytes = 0;
    std::string what;
  };
  std::vector<Source> sources;
  std::optional<TempFile> tmp;
  if (!save_refs.empty()) {
    auto t = TempFile::create(dir);
    if (!t) return t.error();
    tmp.emplace(std::move(*t));
    lg()->info("Saving {} image(s) from the {} engine...", save_refs.size(), engine);
    auto save_start = Clock::now();
    bool write_failed = false;
    int write_errno = 0;
    int64_t bytes = 0;
    int fd = tmp->fd();
    auto saved = rt.save_images(save_refs, [&](const char* p, size_t n) {
      if (cancelled()) return false;
      if (!write_all(fd, p, n)) {
        write_failed = true;
        write_errno = errno;
        return false;
      }
      bytes += static_cast<int64_t>(n);
      return true;
    });
    if (write_failed) return fail("writing " + tmp->path() + ": " + std::strerror(write_errno));
    K3DPP_TRY(check_cancelled());
    if (!saved) return saved.error();
    if (bytes == 0) return fail("the engine saved an empty archive for " + strings::join(save_refs, " "), "Engine");
    result.save_millis = millis_since(save_start);
    lg()->debug("saved {} bytes to {} in {} ms", bytes, tmp->path(), result.save_millis);
    sources.push_back({tmp->fd(), bytes, strings::join(save_refs, " ")});
  }
  std::vector<int> archive_fds;
  struct FdCloser {
    std::vector<int>& fds;
    ~FdCloser() {
      for (int fd : fds) ::close(fd);
    }
  } closer{archive_fds};
  std::vector<TempFile> gunzipped;  // ctr imports plain tar only: .tar.gz archives are inflated here
  gunzipped.reserve(archives.size());
  for (const auto& path : archives) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail("cannot open image archive " + path + ": " + std::strerror(errno), "NotFound");
    archive_fds.push_back(fd);
    unsigned char magic[2] = {0, 0};
    if (::pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
      auto t = TempFile::create(dir);
      if (!t) return t.error();
      K3DPP_TRY(gunzip_to(path, t->fd()));
      gunzipped.push_back(std::move(*t));
      fd = gunzipped.back().fd();
    }
    struct stat sb {};
    if (::fstat(fd, &sb) != 0) return fail("cannot stat image archive " + path + ": " + std::strerror(errno));
    sources.push_back({fd, static_cast<int64_t>(sb.st_size), path});
  }
  int64_t bytes = 0;
  for (auto& src : sources) {
    K3DPP_TRY(check_cancelled());
    bytes += src.bytes;
    // 4. The payload each node gets: the archive itself (stdin) or a tar holding it (put_archive).
    if (::lseek(src.fd, 0, SEEK_SET) < 0) return fail("cannot rewind " + src.what + ": " + std::strerror(errno));
    std::string node_file = "k3dpp-images-" + strings::random_hex(6) + ".tar";
    std::string payload;
    if (opts.transport == ImportTransport::kArchive) {
      size_t padded = (static_cast<size_t>(src.bytes) + 511) / 512 * 512;
      payload.reserve(512 + padded + 1024);
      payload = tar_file_header(node_file, static_cast<uint64_t>(src.bytes), 0644);
      K3DPP_TRY(read_into(src.fd, src.bytes, payload));
      payload.resize(512 + padded + 1024, '\0');
    } else {
      payload.reserve(static_cast<size_t>(src.bytes));
      K3DPP_TRY(read_into(src.fd, src.bytes, payload));
    }

    // 5. All nodes in parallel.
    lg()->info("Importing {} into {} node(s)...", src.what, nodes.size());
    auto import_start = Clock::now();
    std::vector<std::optional<Result<NodeImport>>> outcomes(nodes.size());
    std::vector<std::thread> workers;
    workers.reserve(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      workers.emplace_back([&, i] {
        outcomes[i] = import_into_node(rt, nodes[i]->name, payload, opts.transport, node_file);
      });
    }
    for (auto& w : workers) w.join();
    result.import_millis += millis_since(import_start);
    std::optional<Error> first;
    for (auto& o : outcomes) {
      if (!*o) {
        if (!first) {
          first = o->error();
        } else {
          lg()->error("{}", o->error().message);
        }
        continue;
      }
      result.nodes.push_back(std::move(o->value()));
    }
    if (first) return unexpected(*first);
  }
  result.archive_bytes = bytes;

  // ctr names what it imported; say so when that is not the name the user will write in a pod.
  std::set<std::string> got;
  for (const auto& n : result.nodes) got.insert(n.images.begin(), n.images.end());
  for (const auto& name : result.images) {
    if (!got.empty() && !got.count(name)) {
      lg()->warn("containerd did not report '{}' (it imported: {})", name,
                 strings::join(std::vector<std::string>(got.begin(), got.end()), ", "));
    }
  }
  lg()->info("Successfully imported {} image(s) into cluster '{}' ({} node(s), {:.1f} MB in {:.1f} s)",
             std::max(result.images.size(), got.size()), opts.cluster, nodes.size(), static_cast<double>(bytes) / 1e6,
             static_cast<double>(result.save_millis + result.import_millis) / 1000.0);
  return result;
}

}  // namespace k3dpp::cluster
