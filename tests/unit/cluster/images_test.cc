#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "cluster/images.h"
#include "cluster/pipeline.h"
#include "fake_runtime.h"

using namespace k3dpp;
using namespace k3dpp::cluster;
using k3dpp::testing::FakeRuntime;

namespace {

// FakeRuntime plus what image import uses: save_images streams `saved`, exec/put_archive record
// what each node got (nodes run in parallel, hence the mutex).
class ImageFake : public FakeRuntime {
 public:
  std::mutex mu;
  std::string saved = std::string(3000, 'x') + "END";
  std::vector<std::string> saved_refs;
  int save_calls = 0;
  bool save_fails_midway = false;
  std::map<std::string, std::string> stdin_by_node;
  std::map<std::string, std::string> archive_by_node;
  std::vector<std::string> execs;  // "node: cmd..."
  std::string fail_ctr_on;         // node whose ctr exits 1
  std::string fail_put_on;         // node whose put_archive fails
  std::string ctr_out = "unpacking docker.io/library/nginx:1.24 (sha256:0a1b)...done\n";

  Status save_images(const std::vector<std::string>& refs,
                     const std::function<bool(const char*, size_t)>& out) override {
    ++save_calls;
    saved_refs = refs;
    // Two chunks, like a streamed body.
    size_t half = saved.size() / 2;
    if (!out(saved.data(), half)) return fail("aborted by the sink");
    if (save_fails_midway) return fail("docker engine: unexpected EOF", "Engine");
    if (!out(saved.data() + half, saved.size() - half)) return fail("aborted by the sink");
    return {};
  }
  Result<runtime::ExecResult> exec(const std::string& node, const std::vector<std::string>& cmd,
                                   const std::string& stdin_data) override {
    std::lock_guard<std::mutex> lock(mu);
    std::string joined;
    for (const auto& c : cmd) joined += (joined.empty() ? "" : " ") + c;
    execs.push_back(node + ": " + joined);
    runtime::ExecResult r;
    if (cmd[0] == "ctr") {
      stdin_by_node[node] = stdin_data;
      if (node == fail_ctr_on) {
        r.exit_code = 1;
        r.err = "ctr: something\nctr: failed to extract layer: no space left on device\n";
        return r;
      }
      r.out = ctr_out;
    }
    return r;
  }
  Status put_archive(const std::string& node, const std::string& dir, const std::string& tar) override {
    std::lock_guard<std::mutex> lock(mu);
    execs.push_back(node + ": put_archive " + dir);
    if (node == fail_put_on) return fail("docker engine: no space left on device", "Engine");
    archive_by_node[node] = tar;
    return {};
  }

  Result<runtime::ImageInfo> inspect_image(const std::string& ref) override {
    if (ref == "e9dd9d63") return runtime::ImageInfo{"sha256:e9dd9d63542b0000", {"nginx:1.24"}, 1};
    return FakeRuntime::inspect_image(ref);
  }

  void add_node(const std::string& cluster, const std::string& role, int index, const std::string& state = "running") {
    std::string name = "k3dpp-" + cluster + "-" + (role == "loadbalancer" ? "serverlb" : role + "-" + std::to_string(index));
    auto& c = containers[name];
    c.spec.name = name;
    c.spec.image = "k3dpp/node:" K3DPP_VERSION;
    c.spec.labels = {{"k3dpp.cluster", cluster}, {"k3dpp.role", role}, {"k3dpp.node.index", std::to_string(index)}};
    c.state = state;
  }
};

struct Env {
  ImageFake rt;
  std::string dir;
  Env() {
    char tmpl[] = "/tmp/k3dpp-imgtest-XXXXXX";
    dir = ::mkdtemp(tmpl);
    rt.images.insert({"nginx:1.24", "busybox", "debian:latest"});
    rt.add_node("demo", "server", 0);
    rt.add_node("demo", "agent", 0);
    rt.add_node("demo", "agent", 1);
    rt.add_node("demo", "loadbalancer", 0);
  }
  ~Env() { std::filesystem::remove_all(dir); }
  ImageImportOptions opts(std::vector<std::string> images, ImportTransport t = ImportTransport::kStdin) {
    ImageImportOptions o;
    o.images = std::move(images);
    o.cluster = "demo";
    o.tmp_dir = dir;
    o.transport = t;
    return o;
  }
  bool tmp_dir_empty() const { return std::filesystem::is_empty(dir); }
};

std::string run_cmd(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

}  // namespace

TEST_CASE("normalize_image_ref follows docker's rules") {
  CHECK(normalize_image_ref("nginx") == "docker.io/library/nginx:latest");
  CHECK(normalize_image_ref("nginx:1.24") == "docker.io/library/nginx:1.24");
  CHECK(normalize_image_ref("bitnami/redis") == "docker.io/bitnami/redis:latest");
  CHECK(normalize_image_ref("docker.io/nginx:1.26") == "docker.io/library/nginx:1.26");
  CHECK(normalize_image_ref("index.docker.io/library/busybox") == "docker.io/library/busybox:latest");
  CHECK(normalize_image_ref("localhost/app") == "localhost/app:latest");
  CHECK(normalize_image_ref("localhost:5000/team/app:v2") == "localhost:5000/team/app:v2");
  CHECK(normalize_image_ref("registry.example.com/app") == "registry.example.com/app:latest");
  CHECK(normalize_image_ref("k3dpp.local/pause:3.10") == "k3dpp.local/pause:3.10");
  CHECK(normalize_image_ref("nginx@sha256:abcd") == "docker.io/library/nginx@sha256:abcd");
  CHECK(normalize_image_ref("nginx:1.24@sha256:abcd") == "docker.io/library/nginx:1.24@sha256:abcd");
}

TEST_CASE("engine_image_ref adds :latest only to bare names") {
  CHECK(engine_image_ref("nginx") == "nginx:latest");
  CHECK(engine_image_ref("nginx:1.24") == "nginx:1.24");
  CHECK(engine_image_ref("localhost:5000/app") == "localhost:5000/app:latest");
  CHECK(engine_image_ref("nginx@sha256:abcd") == "nginx@sha256:abcd");
}

TEST_CASE("parse_ctr_import_output takes the unpacked names") {
  std::string out =
      "unpacking docker.io/library/nginx:1.24 (sha256:8f1e)...done\n"
      "unpacking docker.io/library/busybox:latest (sha256:77aa)...done\n"
      "some other line\n";
  CHECK(parse_ctr_import_output(out) ==
        std::vector<std::string>{"docker.io/library/nginx:1.24", "docker.io/library/busybox:latest"});
  CHECK(parse_ctr_import_output("").empty());
}

TEST_CASE("tar_file_header makes an archive tar reads back") {
  std::string content = "hello images\n";
  std::string tar = tar_file_header("k3dpp-images-x.tar", content.size(), 0644) + content;
  tar.resize((tar.size() + 511) / 512 * 512 + 1024, '\0');
  CHECK(tar.size() == 512 + 512 + 1024);
  CHECK(tar.compare(257, 5, "ustar") == 0);
  CHECK(tar.compare(124, 12, std::string("00000000015") + '\0') == 0);  // 13 bytes, octal

  char tmpl[] = "/tmp/k3dpp-tarhdr-XXXXXX";
  int fd = ::mkstemp(tmpl);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, tar.data(), tar.size()) == static_cast<ssize_t>(tar.size()));
  ::close(fd);
  std::string listing = run_cmd(std::string("tar -tvf ") + tmpl + " 2>&1");
  std::string extracted = run_cmd(std::string("tar -xOf ") + tmpl + " k3dpp-images-x.tar 2>&1");
  ::unlink(tmpl);
  CHECK(listing.find("-rw-r--r--") != std::string::npos);
  CHECK(listing.find("k3dpp-images-x.tar") != std::string::npos);
  CHECK(listing.find("13") != std::string::npos);
  CHECK(extracted == content);

  // Beyond 8 GiB the size is base-256.
  std::string big = tar_file_header("f", (uint64_t{1} << 33) + 5, 0644);
  CHECK(static_cast<unsigned char>(big[124]) == 0x80);
  CHECK(static_cast<unsigned char>(big[135]) == 5);
  CHECK(static_cast<unsigned char>(big[131]) == 2);  // 2^33 = 0x02_0000_0000
}

TEST_CASE("import over stdin: one save, every server and agent gets the archive, nothing left") {
  Env env;
  auto r = import_images(env.rt, env.opts({"nginx:1.24", "busybox"}));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(env.rt.save_calls == 1);
  CHECK(env.rt.saved_refs == std::vector<std::string>{"nginx:1.24", "busybox:latest"});
  CHECK(r->images == std::vector<std::string>{"docker.io/library/nginx:1.24", "docker.io/library/busybox:latest"});
  CHECK(r->archive_bytes == static_cast<int64_t>(env.rt.saved.size()));
  REQUIRE(env.rt.stdin_by_node.size() == 3);  // not the load balancer
  for (const auto* n : {"k3dpp-demo-server-0", "k3dpp-demo-agent-0", "k3dpp-demo-agent-1"}) {
    CHECK(env.rt.stdin_by_node[n] == env.rt.saved);
  }
  CHECK(env.rt.stdin_by_node.count("k3dpp-demo-serverlb") == 0);
  CHECK(std::count(env.rt.execs.begin(), env.rt.execs.end(),
                   "k3dpp-demo-agent-1: ctr -n k8s.io images import -") == 1);
  REQUIRE(r->nodes.size() == 3);
  CHECK(r->nodes[0].images == std::vector<std::string>{"docker.io/library/nginx:1.24"});
  CHECK(env.tmp_dir_empty());
}

TEST_CASE("import over put_archive: the node gets a tar holding the archive, then it is removed") {
  Env env;
  auto r = import_images(env.rt, env.opts({"nginx:1.24"}, ImportTransport::kArchive));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  REQUIRE(env.rt.archive_by_node.size() == 3);
  const std::string& tar = env.rt.archive_by_node["k3dpp-demo-agent-0"];
  REQUIRE(tar.size() == 512 + (env.rt.saved.size() + 511) / 512 * 512 + 1024);
  std::string name = tar.substr(0, tar.find('\0'));
  CHECK(name.rfind("k3dpp-images-", 0) == 0);
  CHECK(tar.substr(512, env.rt.saved.size()) == env.rt.saved);
  std::vector<std::string> want = {"k3dpp-demo-agent-0: put_archive /var/lib/containerd",
                                   "k3dpp-demo-agent-0: ctr -n k8s.io images import /var/lib/containerd/" + name,
                                   "k3dpp-demo-agent-0: rm -f /var/lib/containerd/" + name};
  std::vector<std::string> got;
  for (const auto& e : env.rt.execs) {
    if (e.rfind("k3dpp-demo-agent-0:", 0) == 0) got.push_back(e);
  }
  CHECK(got == want);
  CHECK(env.tmp_dir_empty());
}

TEST_CASE("a failed copy into a node still removes the node's file") {
  Env env;
  env.rt.fail_put_on = "k3dpp-demo-agent-1";
  auto r = import_images(env.rt, env.opts({"nginx:1.24"}, ImportTransport::kArchive));
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("copying the images into node 'k3dpp-demo-agent-1'") != std::string::npos);
  bool removed = false;
  for (const auto& e : env.rt.execs) removed |= e.rfind("k3dpp-demo-agent-1: rm -f /var/lib/containerd/k3dpp-images-", 0) == 0;
  CHECK(removed);
  CHECK(env.tmp_dir_empty());
}

TEST_CASE("import errors are one clear line and leave nothing behind") {
  Env env;
  SUBCASE("unknown cluster") {
    auto o = env.opts({"nginx:1.24"});
    o.cluster = "nope";
    auto r = import_images(env.rt, o);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "cluster 'nope' not found");
    CHECK(env.rt.save_calls == 0);
  }
  SUBCASE("image not in the engine, checked before anything is saved") {
    auto r = import_images(env.rt, env.opts({"nginx:1.24", "x"}));
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "image \"x\" not found in the Docker engine");
    CHECK(r.error().is("NotFound"));
    CHECK(env.rt.save_calls == 0);
  }
  SUBCASE("a node is not running") {
    env.rt.containers["k3dpp-demo-agent-1"].state = "exited";
    auto r = import_images(env.rt, env.opts({"nginx:1.24"}));
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "node 'k3dpp-demo-agent-1' of cluster 'demo' is not running (exited); start it with `k3dpp cluster start demo`");
    CHECK(env.rt.save_calls == 0);
    CHECK(env.rt.execs.empty());
  }
  SUBCASE("ctr fails in one node: its last error line, with the node") {
    env.rt.fail_ctr_on = "k3dpp-demo-agent-0";
    auto r = import_images(env.rt, env.opts({"nginx:1.24"}));
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "ctr images import failed in node 'k3dpp-demo-agent-0' (exit code 1): ctr: failed to extract layer: no "
          "space left on device");
  }
  SUBCASE("the save breaks off") {
    env.rt.save_fails_midway = true;
    auto r = import_images(env.rt, env.opts({"nginx:1.24"}));
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "docker engine: unexpected EOF");
    CHECK(env.rt.execs.empty());
  }
  SUBCASE("an image ID is refused") {
    auto r = import_images(env.rt, env.opts({"e9dd9d63"}));
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "\"e9dd9d63\" is an image ID; give a name (repository:tag) so containerd can name the image");
    CHECK(env.rt.save_calls == 0);
  }
  SUBCASE("no image") {
    auto r = import_images(env.rt, env.opts({}));
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "no image given");
  }
  CHECK(env.tmp_dir_empty());
}

TEST_CASE("duplicate refs are saved once") {
  Env env;
  auto r = import_images(env.rt, env.opts({"nginx:1.24", "docker.io/library/nginx:1.24", "nginx:1.24"}));
  REQUIRE(env.rt.images.count("docker.io/library/nginx:1.24") == 0);  // the fake knows only short names
  REQUIRE_FALSE(r);
  env.rt.images.insert("docker.io/library/nginx:1.24");
  r = import_images(env.rt, env.opts({"nginx:1.24", "docker.io/library/nginx:1.24", "nginx:1.24"}));
  REQUIRE(r);
  CHECK(env.rt.saved_refs == std::vector<std::string>{"nginx:1.24"});
}

TEST_CASE("archives by path: docker save tarballs, gzipped ones inflated, with images in one run") {
  Env env;
  char tmpl[] = "/tmp/k3dpp-imgarch-XXXXXX";
  std::string adir = ::mkdtemp(tmpl);
  std::string content = std::string(5000, 'a') + "TAR-END";
  { std::ofstream(adir + "/app.tar", std::ios::binary) << content; }
  run_cmd("gzip -c " + adir + "/app.tar > " + adir + "/app.tar.gz");
  CHECK(is_archive_path(adir + "/app.tar"));
  CHECK(is_archive_path("./missing.tar"));
  CHECK_FALSE(is_archive_path("nginx:1.24"));

  auto r = import_images(env.rt, env.opts({adir + "/app.tar.gz"}));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(env.rt.save_calls == 0);  // nothing asked of the engine
  for (const auto* n : {"k3dpp-demo-server-0", "k3dpp-demo-agent-0", "k3dpp-demo-agent-1"}) {
    CHECK(env.rt.stdin_by_node[n] == content);  // inflated
  }
  CHECK(env.tmp_dir_empty());  // the inflated copy is gone

  r = import_images(env.rt, env.opts({"nginx:1.24", adir + "/app.tar"}));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(env.rt.save_calls == 1);
  CHECK(env.rt.stdin_by_node["k3dpp-demo-agent-0"] == content);  // the archive came second
  CHECK(std::count(env.rt.execs.begin(), env.rt.execs.end(), "k3dpp-demo-agent-0: ctr -n k8s.io images import -") == 3);

  auto missing = import_images(env.rt, env.opts({adir + "/nope.tar"}));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "image archive " + adir + "/nope.tar is not a readable file");
  { std::ofstream(adir + "/bad.tar.gz", std::ios::binary) << std::string("\x1f\x8b", 2) << "garbage"; }
  auto bad = import_images(env.rt, env.opts({adir + "/bad.tar.gz"}));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("is not valid gzip") != std::string::npos);
  CHECK(env.tmp_dir_empty());
  std::filesystem::remove_all(adir);
}
