#include "runtime/docker/docker_runtime.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "runtime/docker/stream.h"
#include "runtime/docker/tar.h"
#include "runtime/docker/translate.h"

namespace k3dpp::runtime::docker {
namespace {

using nlohmann::json;

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("runtime.docker");
  return l;
}

std::string enc(const std::string& s) { return url_encode(s); }

// Directory part and base name of an absolute path ("/etc/k3dpp/token" -> "/etc/k3dpp", "token").
void split_path(const std::string& path, std::string& dir, std::string& base) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    dir = "/";
    base = path;
    return;
  }
  dir = slash == 0 ? "/" : path.substr(0, slash);
  base = path.substr(slash + 1);
}

// Engine answers with a JSON message stream (load, import): the first error in it, if any.
Status stream_error(const std::string& body, const std::string& what) {
  for (const auto& line : strings::split(body, '\n')) {
    if (strings::trim(line).empty()) continue;
    try {
      auto j = json::parse(line);
      if (j.is_object() && j.contains("error")) {
        return fail("docker engine: " + what + ": " + j["error"].get<std::string>(), "Engine");
      }
    } catch (const json::exception&) {
      // Not a JSON line (older engines answer plain text): ignore.
    }
  }
  return {};
}

}  // namespace

Result<std::string> socket_from_env() {
  const char* host = std::getenv("DOCKER_HOST");
  if (host == nullptr || *host == '\0') return std::string(kDefaultSocket);
  std::string h = host;
  if (strings::starts_with(h, "unix://")) {
    std::string path = h.substr(7);
    if (path.empty()) return fail("DOCKER_HOST=" + h + " names no socket path", "Invalid");
    return path;
  }
  return fail("DOCKER_HOST=" + h + " is not supported: k3dpp talks to the engine over a local unix:// socket",
              "Invalid");
}

bool ping(const std::string& socket_path) {
  EngineClient client(socket_path);
  HttpRequest req;
  req.target = "/_ping";
  req.timeout_ms = 3000;
  auto r = client.send(req);
  return r && r->status == 200;
}

DockerRuntime::DockerRuntime(std::string socket_path) : client_(std::move(socket_path)) {}

Result<std::string> DockerRuntime::api_version() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!api_version_.empty()) return api_version_;
  HttpRequest req;
  req.target = "/version";
  req.timeout_ms = 30000;
  auto r = client_.send(req);
  if (!r) return r.error();
  if (r->status != 200) return error_from_response(r->status, r->body, "GET /version");
  auto j = parse_json(r->body, "GET /version");
  if (!j) return j.error();
  std::string server = j->value("ApiVersion", std::string());
  std::string v = negotiate_api_version(server);
  if (v.empty()) return fail("docker engine: GET /version gave no usable ApiVersion (\"" + server + "\")", "Engine");
  logger()->debug("engine API {} (server {}), using {}", server, j->value("Version", std::string()), v);
  api_version_ = v;
  return api_version_;
}

void DockerRuntime::assume_api_version(std::string v) {
  std::lock_guard<std::mutex> lock(mu_);
  api_version_ = std::move(v);
}

Result<HttpResponse> DockerRuntime::call(HttpRequest req) {
  auto v = api_version();
  if (!v) return v.error();
  std::string what = req.method + " " + req.target;
  req.target = "/v" + *v + req.target;
  auto r = client_.send(req);
  if (!r) return r.error();
  if (r->status >= 300 && r->status != 304) return error_from_response(r->status, r->body, what);
  return r;
}

Result<json> DockerRuntime::call_json(const std::string& method, const std::string& target, const json* body,
                                      long timeout_ms) {
  HttpRequest req;
  req.method = method;
  req.target = target;
  req.timeout_ms = timeout_ms;
  if (body != nullptr) {
    req.body = body->dump();
    req.content_type = "application/json";
  }
  auto r = call(std::move(req));
  if (!r) return r.error();
  if (r->body.empty()) return json();
  return parse_json(r->body, method + " " + target);
}

Result<EngineInfo> DockerRuntime::info() {
  auto v = api_version();
  if (!v) return v.error();
  auto version = call_json("GET", "/version");
  if (!version) return version.error();
  auto info = call_json("GET", "/info");
  if (!info) return info.error();
  return parse_engine_info(*info, *version, *v);
}

// ---- networks

Result<NetworkInfo> DockerRuntime::create_network(const std::string& name, const Labels& labels,
                                                  const std::string& subnet) {
  json body = {{"Name", name}, {"Driver", "bridge"}, {"CheckDuplicate", true}, {"Labels", json::object()}};
  if (!subnet.empty()) body["IPAM"] = {{"Driver", "default"}, {"Config", json::array({{{"Subnet", subnet}}})}};
  for (const auto& [k, v] : labels) body["Labels"][k] = v;
  auto r = call_json("POST", "/networks/create", &body);
  if (!r) return r.error().wrap("create network " + name);
  return inspect_network(name);
}

Result<NetworkInfo> DockerRuntime::inspect_network(const std::string& name) {
  auto r = call_json("GET", "/networks/" + enc(name));
  if (!r) return r.error();
  return parse_network(*r);
}

Result<std::vector<NetworkInfo>> DockerRuntime::list_networks(const Labels& label_filter) {
  std::string target = "/networks";
  if (!label_filter.empty()) target += "?filters=" + enc(label_filters(label_filter));
  auto r = call_json("GET", target);
  if (!r) return r.error();
  std::vector<NetworkInfo> out;
  if (r->is_array()) {
    for (const auto& n : *r) out.push_back(parse_network(n));
  }
  return out;
}

Status DockerRuntime::remove_network(const std::string& name) {
  auto r = call_json("DELETE", "/networks/" + enc(name));
  if (!r) return r.error();
  return {};
}

// ---- volumes

Result<VolumeInfo> DockerRuntime::create_volume(const std::string& name, const Labels& labels) {
  json body = {{"Name", name}, {"Driver", "local"}, {"Labels", json::object()}};
  for (const auto& [k, v] : labels) body["Labels"][k] = v;
  auto r = call_json("POST", "/volumes/create", &body);
  if (!r) return r.error().wrap("create volume " + name);
  return parse_volume(*r);
}

Result<std::vector<VolumeInfo>> DockerRuntime::list_volumes(const Labels& label_filter) {
  std::string target = "/volumes";
  if (!label_filter.empty()) target += "?filters=" + enc(label_filters(label_filter));
  auto r = call_json("GET", target);
  if (!r) return r.error();
  std::vector<VolumeInfo> out;
  if (r->contains("Volumes") && (*r)["Volumes"].is_array()) {
    for (const auto& v : (*r)["Volumes"]) out.push_back(parse_volume(v));
  }
  return out;
}

Status DockerRuntime::remove_volume(const std::string& name, bool force) {
  auto r = call_json("DELETE", "/volumes/" + enc(name) + (force ? "?force=1" : ""));
  if (!r) return r.error();
  return {};
}

// ---- containers

Result<std::string> DockerRuntime::create_container(const ContainerSpec& spec) {
  json body = container_create_body(spec);
  std::string target = "/containers/create";
  if (!spec.name.empty()) target += "?name=" + enc(spec.name);
  auto r = call_json("POST", target, &body);
  if (!r) return r.error().wrap("create container " + spec.name);
  if (r->contains("Warnings") && (*r)["Warnings"].is_array()) {
    for (const auto& w : (*r)["Warnings"]) {
      if (w.is_string()) logger()->warn("create container {}: {}", spec.name, w.get<std::string>());
    }
  }
  std::string id = r->value("Id", std::string());
  if (id.empty()) return fail("docker engine: create container " + spec.name + " answered no Id", "Engine");
  return id;
}

Status DockerRuntime::start_container(const std::string& name) {
  auto r = call_json("POST", "/containers/" + enc(name) + "/start");  // 304 = already running
  if (!r) return r.error().wrap("start container " + name);
  return {};
}

Status DockerRuntime::stop_container(const std::string& name, int timeout_seconds) {
  long limit = (static_cast<long>(std::max(timeout_seconds, 0)) + 60) * 1000;
  auto r = call_json("POST", "/containers/" + enc(name) + "/stop?t=" + std::to_string(timeout_seconds), nullptr,
                     limit);  // 304 = already stopped
  if (!r) return r.error().wrap("stop container " + name);
  return {};
}

Status DockerRuntime::remove_container(const std::string& name, bool force) {
  auto r = call_json("DELETE", "/containers/" + enc(name) + "?v=1" + (force ? "&force=1" : ""));
  if (!r) return r.error().wrap("remove container " + name);
  return {};
}

Result<ContainerInfo> DockerRuntime::inspect_container(const std::string& name) {
  auto r = call_json("GET", "/containers/" + enc(name) + "/json");
  if (!r) return r.error();
  return parse_container_inspect(*r);
}

Result<std::vector<ContainerInfo>> DockerRuntime::list_containers(const Labels& label_filter, bool all) {
  std::string target = std::string("/containers/json?all=") + (all ? "1" : "0");
  if (!label_filter.empty()) target += "&filters=" + enc(label_filters(label_filter));
  auto r = call_json("GET", target);
  if (!r) return r.error();
  std::vector<ContainerInfo> out;
  if (!r->is_array()) return out;
  // The list lacks exit codes and pids: inspect each, skipping containers removed meanwhile.
  for (const auto& c : *r) {
    std::string id = c.value("Id", std::string());
    if (id.empty()) continue;
    auto info = inspect_container(id);
    if (!info) {
      if (info.error().is("NotFound")) continue;
      return info.error();
    }
    out.push_back(std::move(*info));
  }
  return out;
}

// Network connect/disconnect answer an empty body (docker) or a plain "OK" (podman's compat
// API): only the status counts.
Status DockerRuntime::connect_network(const std::string& network, const std::string& container) {
  HttpRequest req;
  req.method = "POST";
  req.target = "/networks/" + enc(network) + "/connect";
  req.body = json{{"Container", container}}.dump();
  req.content_type = "application/json";
  auto r = call(std::move(req));
  if (!r) return r.error().wrap("connect " + container + " to network " + network);
  return {};
}

Status DockerRuntime::disconnect_network(const std::string& network, const std::string& container) {
  HttpRequest req;
  req.method = "POST";
  req.target = "/networks/" + enc(network) + "/disconnect";
  req.body = json{{"Container", container}, {"Force", true}}.dump();
  req.content_type = "application/json";
  auto r = call(std::move(req));
  if (!r) return r.error().wrap("disconnect " + container + " from network " + network);
  return {};
}

// ---- exec

Result<ExecResult> DockerRuntime::exec(const std::string& container, const std::vector<std::string>& cmd,
                                       const std::string& stdin_data) {
  bool with_stdin = !stdin_data.empty();
  json create = {{"AttachStdin", with_stdin}, {"AttachStdout", true}, {"AttachStderr", true},
                 {"Tty", false}, {"Cmd", cmd}};
  auto created = call_json("POST", "/containers/" + enc(container) + "/exec", &create);
  if (!created) return created.error().wrap("exec in " + container);
  std::string id = created->value("Id", std::string());
  if (id.empty()) return fail("docker engine: exec create in " + container + " answered no Id", "Engine");

  json start = {{"Detach", false}, {"Tty", false}};
  Demuxer demux;
  if (with_stdin) {
    auto v = api_version();
    if (!v) return v.error();
    auto r = client_.hijack("/v" + *v + "/exec/" + id + "/start", start.dump(), stdin_data);
    if (!r) return r.error().wrap("exec in " + container);
    if (r->status != 101 && r->status != 200) {
      return error_from_response(r->status, r->body, "POST /exec/" + id + "/start").wrap("exec in " + container);
    }
    demux.feed(r->body);
  } else {
    HttpRequest req;
    req.method = "POST";
    req.target = "/exec/" + id + "/start";
    req.body = start.dump();
    req.content_type = "application/json";
    req.sink = [&demux](const char* p, size_t n) {
      demux.feed(p, n);
      return true;
    };
    auto r = call(std::move(req));
    if (!r) return r.error().wrap("exec in " + container);
  }
  if (!demux.complete()) logger()->warn("exec in {}: output ended inside a stream frame", container);

  // The stream ends when the process exits; the exit code may lag a moment behind.
  ExecResult result;
  for (int attempt = 0;; ++attempt) {
    auto inspect = call_json("GET", "/exec/" + id + "/json");
    if (!inspect) return inspect.error().wrap("exec in " + container);
    bool running = inspect->value("Running", false);
    if (!running || attempt >= 50) {
      if (running) return fail("exec in " + container + ": the process still runs after its output ended", "Engine");
      result.exit_code = (*inspect)["ExitCode"].is_number() ? (*inspect)["ExitCode"].get<int>() : -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  result.out = demux.out();
  result.err = demux.err();
  return result;
}

// ---- files

Status DockerRuntime::put_archive_once(const std::string& container, const std::string& dir,
                                       const std::string& archive) {
  HttpRequest req;
  req.method = "PUT";
  req.target = "/containers/" + enc(container) + "/archive?path=" + enc(dir);
  req.body = archive;
  req.content_type = "application/x-tar";
  req.log_bodies = false;  // binary, and may hold keys
  req.timeout_ms = 0;
  auto r = call(std::move(req));
  if (!r) return r.error();
  return {};
}

Status DockerRuntime::put_archive(const std::string& container, const std::string& dir, const std::string& archive) {
  auto r = put_archive_once(container, dir, archive);
  if (!r) return r.error().wrap("copy into " + container + ":" + dir);
  return {};
}

Status DockerRuntime::put_file(const std::string& container, const std::string& path, const std::string& content,
                               int mode) {
  if (path.empty() || path[0] != '/' || path.back() == '/') {
    return fail("put_file: want an absolute file path, got \"" + path + "\"", "Invalid");
  }
  // Extract into the deepest existing ancestor, carrying the missing directories in the archive.
  // Existing directories are never in the archive, so their mode and owner stay as they are.
  std::string dir, base;
  split_path(path, dir, base);
  std::vector<std::string> missing;  // from the extraction dir downwards
  for (;;) {
    std::vector<tar::Entry> entries;
    std::string rel;
    for (const auto& m : missing) {
      rel += m + "/";
      entries.push_back({rel.substr(0, rel.size() - 1), tar::EntryType::kDirectory, 0755, {}, {}, 0, 0, 0});
    }
    entries.push_back({rel + base, tar::EntryType::kFile, mode, content, {}, 0, 0, 0});
    auto r = put_archive_once(container, dir, tar::build(entries));
    if (r) return {};
    if (!r.error().is("NotFound") || dir == "/") return r.error().wrap("put " + container + ":" + path);
    std::string parent, name;
    split_path(dir, parent, name);
    missing.insert(missing.begin(), name);
    dir = parent;
  }
}

Result<std::string> DockerRuntime::get_archive(const std::string& container, const std::string& path) {
  HttpRequest req;
  req.target = "/containers/" + enc(container) + "/archive?path=" + enc(path);
  req.log_bodies = false;
  auto r = call(std::move(req));
  if (!r) return r.error().wrap("copy from " + container + ":" + path);
  return std::move(r->body);
}

Result<std::string> DockerRuntime::read_file(const std::string& container, const std::string& path) {
  auto archive = get_archive(container, path);
  if (!archive) return archive.error();
  auto entries = tar::parse(*archive);
  if (!entries) return entries.error().wrap("read " + container + ":" + path);
  for (auto& e : *entries) {
    if (e.type == tar::EntryType::kFile) return std::move(e.content);
  }
  return fail("read " + container + ":" + path + ": not a regular file", "Invalid");
}

// ---- images

Result<ImageInfo> DockerRuntime::inspect_image(const std::string& ref) {
  auto r = call_json("GET", "/images/" + ref + "/json");
  if (!r) return r.error();
  return parse_image(*r);
}

Status DockerRuntime::save_images(const std::vector<std::string>& refs,
                                  const std::function<bool(const char*, size_t)>& out) {
  if (refs.empty()) return fail("save_images: no image given", "Invalid");
  std::string target = "/images/get?";
  for (size_t i = 0; i < refs.size(); ++i) target += (i ? "&names=" : "names=") + enc(refs[i]);
  HttpRequest req;
  req.target = target;
  req.sink = out;
  req.log_bodies = false;
  auto r = call(std::move(req));
  if (!r) return r.error().wrap("save images " + strings::join(refs, " "));
  return {};
}

Status DockerRuntime::load_image_file(const std::string& tar_path) {
  struct stat st {};
  if (::stat(tar_path.c_str(), &st) != 0) return fail("load image: cannot read " + tar_path, "NotFound");
  std::FILE* f = std::fopen(tar_path.c_str(), "rb");
  if (f == nullptr) return fail("load image: cannot open " + tar_path, "NotFound");
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{f};
  HttpRequest req;
  req.method = "POST";
  req.target = "/images/load?quiet=1";
  req.content_type = "application/x-tar";
  req.body_size = st.st_size;
  req.body_source = [f](char* buf, size_t n) -> long {
    size_t got = std::fread(buf, 1, n, f);
    if (got == 0 && std::ferror(f)) return -1;
    return static_cast<long>(got);
  };
  auto r = call(std::move(req));
  if (!r) return r.error().wrap("load image " + tar_path);
  return stream_error(r->body, "load image " + tar_path);
}

// ---- logs

Result<std::string> DockerRuntime::logs(const std::string& container, int tail) {
  std::string target = "/containers/" + enc(container) + "/logs?stdout=1&stderr=1&tail=" +
                       (tail > 0 ? std::to_string(tail) : std::string("all"));
  Demuxer demux;
  HttpRequest req;
  req.target = target;
  req.log_bodies = false;
  req.sink = [&demux](const char* p, size_t n) {
    demux.feed(p, n);
    return true;
  };
  auto r = call(std::move(req));
  if (!r) return r.error().wrap("logs of " + container);
  return demux.combined();
}

}  // namespace k3dpp::runtime::docker
