// The archive name rewriter (podman saves "localhost/NAME:TAG"; containerd must see "NAME:TAG")
// and save_images through a fake podman socket.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "fake_engine.h"
#include "runtime/podman/archive_names.h"
#include "runtime/podman/podman_runtime.h"

using nlohmann::json;
using namespace k3dpp::runtime::podman;
using k3dpp::runtime::testing::FakeEngine;
using k3dpp::runtime::testing::FakeRequest;
using k3dpp::runtime::testing::FakeResponse;

namespace {

// A ustar entry (regular file) the way tar writers lay it out.
std::string tar_entry(const std::string& name, const std::string& body) {
  std::string h(512, '\0');
  std::memcpy(&h[0], name.data(), name.size());
  std::memcpy(&h[100], "0000644", 7);
  std::memcpy(&h[108], "0000000", 7);
  std::memcpy(&h[116], "0000000", 7);
  char size[12];
  std::snprintf(size, sizeof size, "%011zo", body.size());
  std::memcpy(&h[124], size, 11);
  std::memcpy(&h[136], "00000000000", 11);
  h[156] = '0';
  std::memcpy(&h[257], "ustar\0" "00", 8);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  char cs[8];
  std::snprintf(cs, sizeof cs, "%06o", sum);
  std::memcpy(&h[148], cs, 7);
  std::string b = body;
  b.resize((b.size() + 511) / 512 * 512, '\0');
  return h + b;
}

// Parses a tar: name -> content; checks every header checksum.
std::map<std::string, std::string> untar(const std::string& t) {
  std::map<std::string, std::string> out;
  size_t off = 0;
  while (off + 512 <= t.size()) {
    std::string h = t.substr(off, 512);
    if (h == std::string(512, '\0')) break;
    unsigned want = std::stoul(h.substr(148, 6), nullptr, 8);
    std::string blank = h;
    std::memset(&blank[148], ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : blank) sum += c;
    CHECK(sum == want);
    std::string name = h.substr(0, h.find('\0'));
    size_t size = std::stoul(h.substr(124, 11), nullptr, 8);
    out[name] = t.substr(off + 512, size);
    off += 512 + (size + 511) / 512 * 512;
  }
  return out;
}

const std::string kManifest =
    R"([{"Config":"77b4.json","RepoTags":["localhost/nginx:latest","localhost/k3dpp/node:0.1.0","docker.io/library/busybox:latest"],"Layers":["8482.tar"]}])";
const std::string kRepositories = R"({"localhost/nginx":{"latest":"d2d0"}})";

std::string sample_archive() {
  std::string layer(1500, 'x');  // an entry bigger than a block, passed through as is
  return tar_entry("8482.tar", layer) + tar_entry("77b4.json", R"({"architecture":"amd64"})") +
         tar_entry("manifest.json", kManifest) + tar_entry("repositories", kRepositories) + std::string(1024, '\0');
}

std::string rewrite(const std::string& in, size_t chunk) {
  std::string out;
  ArchiveNameRewriter rw([&](const char* p, size_t n) {
    out.append(p, n);
    return true;
  });
  for (size_t i = 0; i < in.size(); i += chunk) REQUIRE(rw.feed(in.data() + i, std::min(chunk, in.size() - i)));
  REQUIRE(rw.finish());
  return out;
}

}  // namespace

TEST_CASE("strip_localhost_names: manifest RepoTags and repositories keys") {
  auto m = json::parse(strip_localhost_names(kManifest, true));
  CHECK(m[0]["RepoTags"] ==
        json::array({"nginx:latest", "k3dpp/node:0.1.0", "docker.io/library/busybox:latest"}));
  CHECK(m[0]["Config"] == "77b4.json");
  CHECK(json::parse(strip_localhost_names(kRepositories, false)) == json::parse(R"({"nginx":{"latest":"d2d0"}})"));
  CHECK(strip_localhost_names("not json", true) == "not json");
  CHECK(strip_localhost_names("{}", true) == "{}");
}

TEST_CASE("ArchiveNameRewriter: only the name files change, in any chunking") {
  const std::string in = sample_archive();
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{512}, size_t{100000}}) {
    CAPTURE(chunk);
    std::string out = rewrite(in, chunk);
    auto files = untar(out);
    REQUIRE(files.size() == 4);
    CHECK(files["8482.tar"] == std::string(1500, 'x'));
    CHECK(files["77b4.json"] == R"({"architecture":"amd64"})");
    CHECK(json::parse(files["manifest.json"])[0]["RepoTags"][0] == "nginx:latest");
    CHECK(json::parse(files["repositories"]).contains("nginx"));
    CHECK(out.size() % 512 == 0);
    CHECK(out.substr(out.size() - 1024) == std::string(1024, '\0'));
  }
  SUBCASE("a truncated stream is an error") {
    std::string out;
    ArchiveNameRewriter rw([&](const char* p, size_t n) {
      out.append(p, n);
      return true;
    });
    REQUIRE(rw.feed(in.data(), 700));
    CHECK_FALSE(rw.finish());
  }
  SUBCASE("a sink that refuses stops the feed") {
    ArchiveNameRewriter rw([](const char*, size_t) { return false; });
    CHECK_FALSE(rw.feed(in.data(), in.size()));
  }
}

TEST_CASE("save_images: localhost/ names resolved for podman, archive names as docker writes them") {
  FakeEngine engine([](const FakeRequest& r) -> FakeResponse {
    if (r.path == "/version" || r.path == "/v1.41/version")
      return {200, R"({"Version":"4.3.1","ApiVersion":"1.41","MinAPIVersion":"1.24","Os":"linux"})", "application/json", {}};
    if (r.method == "GET" && r.path == "/v4.0.0/libpod/images/localhost/nginx:latest/json")
      return {200, R"({"Id":"77b4"})", "application/json", {}};
    if (r.method == "GET" && r.path == "/v1.41/images/get") return {200, sample_archive(), "application/x-tar", {}};
    return {404, R"({"message":"no such image"})", "application/json", {}};
  });
  PodmanRuntime rt(engine.socket_path());
  std::string out;
  auto st = rt.save_images({"nginx:latest"}, [&](const char* p, size_t n) {
    out.append(p, n);
    return true;
  });
  REQUIRE_MESSAGE(st, (st ? "" : st.error().message));
  auto get = engine.find("/v1.41/images/get", "GET");
  CHECK(get.query["names"] == "localhost/nginx:latest");
  auto files = untar(out);
  CHECK(json::parse(files["manifest.json"])[0]["RepoTags"][0] == "nginx:latest");
}
