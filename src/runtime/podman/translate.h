// Pure translations between k3dpp::runtime types and Podman's libpod API (v4), plus the podman
// image-name rules. No I/O: tested with golden JSON in tests/unit/runtime_podman.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/runtime.h"

namespace k3dpp::runtime::podman {

// Prefix of every libpod call. Podman 4.x serves /v4.0.0/libpod/... on all 4.x releases.
inline constexpr const char* kLibpodPrefix = "/v4.0.0/libpod";

// Rootful podman asks runc for NOFILE/NPROC 1048576, which fails on hosts without CAP_SYS_RESOURCE
// ("error setting rlimit type 7"). When a spec sets no such limit we ask for these (podman's own
// measured hard limits on Debian 12: NOFILE 20000 from the host, NPROC 32768 set by podman).
inline constexpr int64_t kDefaultNofile = 20000;
inline constexpr int64_t kDefaultNproc = 32768;

// Docker allows /dev/console (c 5:1) in its default device cgroup; podman's default list lacks it,
// so `ctr run` inside a node fails. Every container gets this rule, for parity with docker.
inline constexpr const char* kConsoleDeviceRule = "c 5:1 rwm";

// "c 5:1 rwm" / "b *:* m" / "a" -> an OCI LinuxDeviceCgroup object
// {"allow":true,"type":"c","major":5,"minor":1,"access":"rwm"} ("*" leaves major/minor out).
Result<nlohmann::json> device_cgroup_rule(const std::string& rule);

// Body of POST /libpod/containers/create (a SpecGenerator) for a spec whose image is already
// resolved to the name podman knows (see image_candidates). Adds the podman defaults above.
// Fails ("Invalid") on security options or device rules it cannot express.
Result<nlohmann::json> libpod_create_body(const ContainerSpec& spec, const std::string& image);

// Podman stores images loaded or imported without a registry as "localhost/NAME:TAG".
// For an unqualified reference (no registry host in the first path component) this returns
// {"localhost/REF", "REF"} with ":latest" added when REF has no tag or digest; for a qualified
// reference just {REF}. Inspect tries them in order.
std::vector<std::string> image_candidates(const std::string& ref);

// "localhost/k3dpp/node:0.1.0" -> "k3dpp/node:0.1.0"; other names unchanged. What callers see.
std::string display_image_name(const std::string& name);

// Podman 4.x serves the Docker API 1.41 on its compat endpoints (4.0 through 4.9).
inline constexpr const char* kCompatApiVersion = "1.41";

// EngineInfo from GET /libpod/info (one call of ~1 s; compat /version + /info take ~2-3 s):
// version.Version, host.kernel, host.distribution, host.cgroupManager/cgroupVersion ("v1" -> "1"),
// host.security.rootless. engine "podman", api_version kCompatApiVersion.
EngineInfo engine_info_from_libpod(const nlohmann::json& info);

// Rewrites an error from the docker-compatible layer so it names podman ("docker engine: x"
// -> "podman: x"); kind and context stay.
Error podman_error(const Error& e);

// Maps a libpod error answer ({"cause","message","response"}) to an Error, kinds as docker's.
Error error_from_libpod(long status, const std::string& body, const std::string& what);

}  // namespace k3dpp::runtime::podman
