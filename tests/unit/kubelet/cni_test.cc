#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>

#include "common/files.h"
#include "kubelet/cni.h"

using namespace k3dpp;

TEST_CASE("CNI conflist for a podCIDR") {
  auto c = kubelet::render_cni_conflist("10.42.1.0/24");
  REQUIRE(c);
  CHECK(*c == R"({
  "cniVersion": "1.0.0",
  "name": "k3dpp",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "hairpinMode": true,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [
          [
            {
              "subnet": "10.42.1.0/24"
            }
          ]
        ],
        "routes": [
          {
            "dst": "0.0.0.0/0"
          }
        ]
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      },
      "snat": true
    }
  ]
}
)");
}

TEST_CASE("CNI conflist rejects bad CIDRs") {
  for (const char* bad : {"", "10.42.0.0", "10.42.0.0/33", "10.42.0.0/x", "fd00::/64", "10.42.0.300/24"}) {
    auto c = kubelet::render_cni_conflist(bad);
    REQUIRE_FALSE(c);
    CHECK(c.error().kind == "Invalid");
    CHECK(c.error().message.find("invalid podCIDR") != std::string::npos);
  }
}

TEST_CASE("write_cni_conflist writes once, rewrites on change") {
  std::string dir = "/tmp/k3dpp-cni-test-" + std::to_string(::getpid());
  std::string path = dir + "/net.d/10-k3dpp.conflist";
  auto w1 = kubelet::write_cni_conflist("10.42.0.0/24", path);
  REQUIRE(w1);
  CHECK(*w1);
  auto w2 = kubelet::write_cni_conflist("10.42.0.0/24", path);
  REQUIRE(w2);
  CHECK_FALSE(*w2);
  auto w3 = kubelet::write_cni_conflist("10.42.5.0/24", path);
  REQUIRE(w3);
  CHECK(*w3);
  CHECK(files::read(path)->find("10.42.5.0/24") != std::string::npos);
  std::filesystem::remove_all(dir);
}
