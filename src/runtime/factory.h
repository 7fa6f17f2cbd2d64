// Chooses and constructs a Runtime backend. The only place that names concrete backends.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "runtime/runtime.h"

namespace k3dpp::runtime {

// name: "docker", "podman" or "" (auto: $K3DPP_RUNTIME, else docker if DOCKER_HOST or
// /var/run/docker.sock answers, else podman if CONTAINER_HOST or /run/podman/podman.sock exists).
Result<std::unique_ptr<Runtime>> make_runtime(const std::string& name);

}  // namespace k3dpp::runtime
