#include "runtime/podman/podman_runtime.h"

#include <cstdlib>

#include "common/log.h"
#include "common/strings.h"
#include "runtime/docker/translate.h"
#include "runtime/podman/archive_names.h"
#include "runtime/podman/translate.h"

namespace k3dpp::runtime::podman {
namespace {

using nlohmann::json;

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("runtime.podman");
  return l;
}

constexpr long kDefaultTimeoutMs = 120000;

// Passes a compat result through, naming podman in its error.
template <typename T>
Result<T> pm(Result<T> r) {
  if (!r) return podman_error(r.error());
  return r;
}

}  // namespace

Result<std::string> socket_from_env() {
  const char* host = std::getenv("CONTAINER_HOST");
  if (host == nullptr || *host == '\0') return std::string(kDefaultSocket);
  std::string h = host;
  if (strings::starts_with(h, "unix://")) {
    std::string path = h.substr(7);
    if (path.empty()) return fail("CONTAINER_HOST=" + h + " names no socket path", "Invalid");
    return path;
  }
  return fail("CONTAINER_HOST=" + h + " is not supported: k3dpp talks to podman over a local unix:// socket",
              "Invalid");
}

bool ping(const std::string& socket_path) {
  docker::EngineClient client(socket_path, "Podman");
  docker::HttpRequest req;
  req.target = "/_ping";
  req.timeout_ms = 3000;
  auto r = client.send(req);
  return r && r->status == 200;
}

PodmanRuntime::PodmanRuntime(std::string socket_path)
    : PodmanRuntime(PodmanOptions{std::move(socket_path), true, {}}) {}

PodmanRuntime::PodmanRuntime(PodmanOptions options)
    : options_(std::move(options)), client_(options_.socket_path, "Podman"), compat_(options_.socket_path) {
  if (!options_.run_command) options_.run_command = firewall::system_runner();
  // No GET /version round (seconds on podman) before the first compat call.
  compat_.assume_api_version(kCompatApiVersion);
}

Result<docker::HttpResponse> PodmanRuntime::libpod_call(docker::HttpRequest req) {
  std::string what = req.method + " " + req.target;
  req.target = std::string(kLibpodPrefix) + req.target;
  auto r = client_.send(req);
  if (!r) return r.error();
  if (r->status >= 300 && r->status != 304) return error_from_libpod(r->status, r->body, what);
  return r;
}

Result<json> PodmanRuntime::libpod_json(const std::string& method, const std::string& target, const json* body) {
  docker::HttpRequest req;
  req.method = method;
  req.target = target;
  req.timeout_ms = kDefaultTimeoutMs;
  if (body != nullptr) {
    req.body = body->dump();
    req.content_type = "application/json";
  }
  auto r = libpod_call(std::move(req));
  if (!r) return r.error();
  if (r->body.empty()) return json();
  auto j = docker::parse_json(r->body, method + " " + target);
  if (!j) return podman_error(j.error());
  return j;
}

Result<EngineInfo> PodmanRuntime::info() {
  auto j = libpod_json("GET", "/info");
  if (!j) return j.error();
  return engine_info_from_libpod(*j);
}

// ---- networks (compat: bridge networks with podman's dnsname plugin and isolation)

Result<NetworkInfo> PodmanRuntime::create_network(const std::string& name, const Labels& labels,
                                                  const std::string& subnet) {
  return pm(compat_.create_network(name, labels, subnet));
}

Result<NetworkInfo> PodmanRuntime::inspect_network(const std::string& name) {
  return pm(compat_.inspect_network(name));
}

Result<std::vector<NetworkInfo>> PodmanRuntime::list_networks(const Labels& label_filter) {
  return pm(compat_.list_networks(label_filter));
}

std::string PodmanRuntime::bridge_of(const std::string& network) {
  auto j = libpod_json("GET", "/networks/" + docker::url_encode(network) + "/json");
  if (!j || !j->is_object()) return {};
  return j->value("network_interface", std::string());
}

Status PodmanRuntime::remove_network(const std::string& name) {
  std::string bridge = options_.clean_host_firewall ? bridge_of(name) : std::string();
  auto r = pm(compat_.remove_network(name));
  if (!r) return r.error();
  if (bridge.empty()) return {};
  // Podman reuses bridge names: leave the rules alone if another network has this bridge now.
  auto all = libpod_json("GET", "/networks/json");
  if (!all) {
    logger()->warn("network {} removed; not cleaning its firewall rules: {}", name, all.error().message);
    return {};
  }
  if (all->is_array()) {
    for (const auto& n : *all) {
      if (n.is_object() && n.value("network_interface", std::string()) == bridge) {
        logger()->debug("bridge {} of removed network {} is in use by {}", bridge, name, n.value("name", std::string()));
        return {};
      }
    }
  }
  auto removed = firewall::remove_isolation_rules(options_.run_command, bridge);
  if (!removed) {
    // Best effort: the network is gone, stale rules only name a bridge that no longer exists.
    logger()->warn("network {} removed, but its stale CNI isolation rules stay: {}", name, removed.error().message);
  } else if (*removed > 0) {
    logger()->debug("removed {} stale CNI isolation rule(s) for bridge {} of network {}", *removed, bridge, name);
  }
  return {};
}

// ---- volumes (compat)

Result<VolumeInfo> PodmanRuntime::create_volume(const std::string& name, const Labels& labels) {
  return pm(compat_.create_volume(name, labels));
}

Result<std::vector<VolumeInfo>> PodmanRuntime::list_volumes(const Labels& label_filter) {
  return pm(compat_.list_volumes(label_filter));
}

Status PodmanRuntime::remove_volume(const std::string& name, bool force) {
  return pm(compat_.remove_volume(name, force));
}

// ---- containers

Result<std::string> PodmanRuntime::create_container(const ContainerSpec& spec) {
  auto image = resolve_image(spec.image);
  if (!image) return image.error().wrap("create container " + spec.name);
  auto body = libpod_create_body(spec, *image);
  if (!body) return body.error().wrap("create container " + spec.name);
  auto r = libpod_json("POST", "/containers/create", &*body);
  if (!r) return r.error().wrap("create container " + spec.name);
  if (r->contains("Warnings") && (*r)["Warnings"].is_array()) {
    for (const auto& w : (*r)["Warnings"]) {
      if (w.is_string()) logger()->warn("create container {}: {}", spec.name, w.get<std::string>());
    }
  }
  std::string id = r->value("Id", std::string());
  if (id.empty()) return fail("podman: create container " + spec.name + " answered no Id", "Engine");
  return id;
}

Status PodmanRuntime::start_container(const std::string& name) { return pm(compat_.start_container(name)); }

Status PodmanRuntime::stop_container(const std::string& name, int timeout_seconds) {
  return pm(compat_.stop_container(name, timeout_seconds));
}

Status PodmanRuntime::remove_container(const std::string& name, bool force) {
  if (force) {
    // Podman's forced removal first stops with the container's stop timeout (10 s when PID 1
    // ignores SIGTERM); docker kills at once. Kill first for docker's behaviour. Not running or
    // already gone: nothing to kill (the removal below reports what matters).
    docker::HttpRequest kill;
    kill.method = "POST";
    kill.target = "/containers/" + docker::url_encode(name) + "/kill?signal=SIGKILL";
    kill.timeout_ms = kDefaultTimeoutMs;
    (void)libpod_call(std::move(kill));
  }
  return pm(compat_.remove_container(name, force));
}

Result<ContainerInfo> PodmanRuntime::inspect_container(const std::string& name) {
  auto r = pm(compat_.inspect_container(name));
  if (r) r->image = display_image_name(r->image);
  return r;
}

Result<std::vector<ContainerInfo>> PodmanRuntime::list_containers(const Labels& label_filter, bool all) {
  auto r = pm(compat_.list_containers(label_filter, all));
  if (r) {
    for (auto& c : *r) c.image = display_image_name(c.image);
  }
  return r;
}

Status PodmanRuntime::connect_network(const std::string& network, const std::string& container) {
  return pm(compat_.connect_network(network, container));
}

Status PodmanRuntime::disconnect_network(const std::string& network, const std::string& container) {
  return pm(compat_.disconnect_network(network, container));
}

Result<ExecResult> PodmanRuntime::exec(const std::string& container, const std::vector<std::string>& cmd,
                                       const std::string& stdin_data) {
  return pm(compat_.exec(container, cmd, stdin_data));
}

// ---- files (compat archive API)

Status PodmanRuntime::put_file(const std::string& container, const std::string& path, const std::string& content,
                               int mode) {
  return pm(compat_.put_file(container, path, content, mode));
}

Result<std::string> PodmanRuntime::read_file(const std::string& container, const std::string& path) {
  return pm(compat_.read_file(container, path));
}

Status PodmanRuntime::put_archive(const std::string& container, const std::string& dir, const std::string& tar) {
  return pm(compat_.put_archive(container, dir, tar));
}

Result<std::string> PodmanRuntime::get_archive(const std::string& container, const std::string& path) {
  return pm(compat_.get_archive(container, path));
}

// ---- images

Result<std::string> PodmanRuntime::resolve_image(const std::string& ref) {
  if (ref.empty()) return fail("podman: no image given", "Invalid");
  auto candidates = image_candidates(ref);
  Error last;
  for (const auto& c : candidates) {
    auto r = libpod_json("GET", "/images/" + c + "/json");
    if (r) {
      logger()->debug("image {} is {} in podman", ref, c);
      return c;
    }
    if (!r.error().is("NotFound")) return r.error();
    last = r.error();
  }
  return fail("podman: image " + ref + " not found (looked for " + strings::join(candidates, ", ") + ")", "NotFound");
}

Result<ImageInfo> PodmanRuntime::inspect_image(const std::string& ref) {
  auto name = resolve_image(ref);
  if (!name) return name.error();
  auto r = pm(compat_.inspect_image(*name));
  if (!r) return r.error();
  for (auto& t : r->tags) t = display_image_name(t);
  return r;
}

Status PodmanRuntime::save_images(const std::vector<std::string>& refs,
                                  const std::function<bool(const char*, size_t)>& out) {
  std::vector<std::string> names;
  for (const auto& ref : refs) {
    auto n = resolve_image(ref);
    if (!n) return n.error().wrap("save images");
    names.push_back(*n);
  }
  // Names in the archive as docker would write them (archive_names.h).
  ArchiveNameRewriter rewriter(out);
  K3DPP_TRY(pm(compat_.save_images(names, [&](const char* p, size_t n) { return rewriter.feed(p, n); })));
  return rewriter.finish();
}

Status PodmanRuntime::load_image_file(const std::string& tar_path) { return pm(compat_.load_image_file(tar_path)); }

Result<std::string> PodmanRuntime::logs(const std::string& container, int tail) {
  return pm(compat_.logs(container, tail));
}

}  // namespace k3dpp::runtime::podman
