#include "runtime/factory.h"

#include <sys/stat.h>

#include <cstdlib>

#include "common/log.h"
#include "runtime/docker/docker_runtime.h"
#include "runtime/podman/podman_runtime.h"

namespace k3dpp::runtime {
namespace {

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

bool path_exists(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0;
}

Result<std::unique_ptr<Runtime>> make_docker() {
  auto sock = docker::socket_from_env();
  if (!sock) return sock.error();
  log::get("runtime")->debug("runtime: docker on {}", *sock);
  return std::unique_ptr<Runtime>(std::make_unique<docker::DockerRuntime>(*sock));
}

Result<std::unique_ptr<Runtime>> make_podman() {
  auto sock = podman::socket_from_env();
  if (!sock) return sock.error();
  log::get("runtime")->debug("runtime: podman on {}", *sock);
  return std::unique_ptr<Runtime>(std::make_unique<podman::PodmanRuntime>(*sock));
}

}  // namespace

Result<std::unique_ptr<Runtime>> make_runtime(const std::string& name) {
  std::string chosen = name;
  if (chosen.empty()) {
    const char* env = std::getenv("K3DPP_RUNTIME");
    if (env != nullptr && *env != '\0') chosen = env;
  }
  if (chosen.empty()) {
    auto sock = docker::socket_from_env();
    if (env_set("DOCKER_HOST") || (sock && docker::ping(*sock))) {
      chosen = "docker";
    } else if (env_set("CONTAINER_HOST") || path_exists(podman::kDefaultSocket)) {
      chosen = "podman";
    } else {
      chosen = "docker";  // nothing answers: the docker backend reports the unreachable engine clearly
    }
  }
  if (chosen == "docker") return make_docker();
  if (chosen == "podman") return make_podman();
  return fail("unknown container runtime \"" + chosen + "\" (want docker or podman)", "Invalid");
}

}  // namespace k3dpp::runtime
