// The podman backend against the real podman service (scripts/start-podman.sh). Builds a tiny
// image from the host's /bin/busybox as a `docker save` archive and loads it (no registry), runs the
// whole container life cycle, then one real node container if the node image is available; removes
// every object it created (names k3dpp-pm-test-<random>). K3DPP_SKIP_PODMAN_TESTS=1 skips;
// otherwise an unreachable podman fails the test.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/strings.h"
#include "runtime/docker/tar.h"
#include "runtime/podman/host_firewall.h"
#include "runtime/podman/podman_runtime.h"

using namespace k3dpp::runtime;
using namespace k3dpp::runtime::podman;
using nlohmann::json;
namespace tar = k3dpp::runtime::docker::tar;

namespace {

constexpr const char* kNodeImage = "k3dpp/node:0.1.0";

bool skip_requested() {
  const char* v = std::getenv("K3DPP_SKIP_PODMAN_TESTS");
  return v != nullptr && std::string(v) == "1";
}

// The podman backend, or nullptr when the test should be skipped. Fails clearly when podman
// does not answer and skipping was not asked for.
std::unique_ptr<PodmanRuntime> open_podman() {
  if (skip_requested()) {
    MESSAGE("K3DPP_SKIP_PODMAN_TESTS=1: podman integration test skipped");
    return nullptr;
  }
  auto sock = socket_from_env();
  REQUIRE_MESSAGE(sock.has_value(), (sock ? "" : sock.error().message));
  INFO("podman socket " << *sock);
  REQUIRE_MESSAGE(ping(*sock), "podman does not answer on " << *sock
                                   << ": run scripts/start-podman.sh (or set K3DPP_SKIP_PODMAN_TESTS=1)");
  return std::make_unique<PodmanRuntime>(*sock);
}

std::string read_host_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::string run_host(const std::string& cmd) {
  auto r = firewall::system_runner()({"sh", "-c", cmd});
  return r ? *r : "ERROR: " + r.error().message;
}

// Everything the test created, removed at the end even when a check failed.
struct Cleanup {
  PodmanRuntime* rt;
  std::vector<std::string> containers, networks, volumes, images, files;
  ~Cleanup() {
    for (const auto& c : containers) (void)rt->remove_container(c, true);
    for (const auto& n : networks) (void)rt->remove_network(n);
    for (const auto& v : volumes) (void)rt->remove_volume(v, true);
    for (const auto& i : images) {
      k3dpp::runtime::docker::HttpRequest req;
      req.method = "DELETE";
      req.target = "/images/" + i + "?force=true";
      (void)rt->libpod_call(req);
    }
    for (const auto& f : files) ::unlink(f.c_str());
  }
};

// A `docker save` archive of a one-layer image: the host's /bin/busybox plus applet symlinks.
std::string busybox_save_archive(const std::string& repo_tag) {
  std::string busybox = read_host_file("/bin/busybox");
  REQUIRE_MESSAGE(!busybox.empty(), "/bin/busybox missing (apt-get install busybox-static)");
  std::vector<tar::Entry> layer = {{"bin", tar::EntryType::kDirectory, 0755, {}, {}, 0, 0, 0},
                                   {"bin/busybox", tar::EntryType::kFile, 0755, busybox, {}, 0, 0, 0},
                                   {"etc", tar::EntryType::kDirectory, 0755, {}, {}, 0, 0, 0},
                                   {"tmp", tar::EntryType::kDirectory, 01777, {}, {}, 0, 0, 0}};
  for (const char* applet : {"sh", "cat", "sleep", "echo", "nslookup", "grep", "ls", "mkdir", "stat", "hostname", "httpd"}) {
    layer.push_back({std::string("bin/") + applet, tar::EntryType::kSymlink, 0777, {}, "busybox", 0, 0, 0});
  }
  std::string layer_tar = tar::build(layer);
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", {{"Env", {"PATH=/bin"}}, {"Cmd", {"sh"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {"sha256:" + sha256_hex(layer_tar)}}}}};
  std::string config_text = config.dump();
  std::string config_name = sha256_hex(config_text) + ".json";
  json manifest = json::array({{{"Config", config_name}, {"RepoTags", {repo_tag}}, {"Layers", {"layer/layer.tar"}}}});
  return tar::build({{"layer", tar::EntryType::kDirectory, 0755, {}, {}, 0, 0, 0},
                     {"layer/layer.tar", tar::EntryType::kFile, 0644, layer_tar, {}, 0, 0, 0},
                     {config_name, tar::EntryType::kFile, 0644, config_text, {}, 0, 0, 0},
                     {"manifest.json", tar::EntryType::kFile, 0644, manifest.dump(), {}, 0, 0, 0}});
}

// GET / from 127.0.0.1:port; the whole answer or "" on a connection failure.
std::string http_get_local(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET /index.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("podman backend: image load, network, volume, container life cycle, exec, files, logs, clean-up") {
  auto rt = open_podman();
  if (!rt) return;
  std::string id = k3dpp::strings::random_string(6, "abcdefghijklmnopqrstuvwxyz0123456789");
  std::string base = "k3dpp-pm-test-" + id;
  Cleanup cleanup{rt.get(), {}, {}, {}, {}, {}};

  auto info = rt->info();
  REQUIRE_MESSAGE(info.has_value(), (info ? "" : info.error().message));
  CHECK(info->engine == "podman");
  CHECK_FALSE(info->version.empty());

  // Image: a docker-save archive loads as localhost/NAME:TAG and is found by its short name.
  std::string image = "k3dpp-pm-test/busybox:" + id;
  std::string archive_path = "/tmp/" + base + "-image.tar";
  {
    std::ofstream f(archive_path, std::ios::binary);
    f << busybox_save_archive(image);
  }
  cleanup.files.push_back(archive_path);
  auto loaded = rt->load_image_file(archive_path);
  REQUIRE_MESSAGE(loaded.has_value(), (loaded ? "" : loaded.error().message));
  cleanup.images.push_back("localhost/" + image);
  CHECK(*rt->resolve_image(image) == "localhost/" + image);
  auto img = rt->inspect_image(image);
  REQUIRE(img.has_value());
  CHECK(std::find(img->tags.begin(), img->tags.end(), image) != img->tags.end());
  auto no_image = rt->inspect_image("k3dpp-pm-test/absent:" + id);
  REQUIRE_FALSE(no_image.has_value());
  CHECK(no_image.error().kind == "NotFound");
  // save_images streams a tar of it (the short name maps too).
  size_t saved = 0;
  auto save = rt->save_images({image}, [&](const char*, size_t n) {
    saved += n;
    return true;
  });
  CHECK_MESSAGE(save.has_value(), (save ? "" : save.error().message));
  CHECK(saved > 1000000);  // busybox is ~2 MB

  // Network and volume, found by label.
  Labels labels = {{"k3dpp.test", base}};
  std::string net = base + "-net";
  auto n = rt->create_network(net, labels);
  REQUIRE_MESSAGE(n.has_value(), (n ? "" : n.error().message));
  cleanup.networks.push_back(net);
  CHECK_FALSE(n->subnet.empty());
  auto nets = rt->list_networks(labels);
  REQUIRE(nets.has_value());
  REQUIRE(nets->size() == 1);
  CHECK((*nets)[0].name == net);
  std::string vol = base + "-vol";
  auto v = rt->create_volume(vol, labels);
  REQUIRE(v.has_value());
  cleanup.volumes.push_back(vol);
  auto vols = rt->list_volumes(labels);
  REQUIRE(vols.has_value());
  REQUIRE(vols->size() == 1);
  CHECK((*vols)[0].name == vol);

  // Container: created through libpod with the unqualified image name, no explicit limits.
  ContainerSpec a;
  a.name = base + "-a";
  a.hostname = a.name;
  a.image = image;
  a.network = net;
  a.labels = labels;
  a.labels["k3dpp.test.role"] = "a";
  a.cmd = {"sh", "-c",
           "echo hello-from-podman; echo oops >&2; mkdir -p /www; echo page-from-podman > /www/index.html; "
           "httpd -p 8080 -h /www; exec sleep 3600"};
  a.ports = {{"127.0.0.1", 0, 8080, "tcp"}};
  a.binds = {vol + ":/data"};
  a.tmpfs = {{"/run", ""}};
  a.cap_add = {"NET_ADMIN"};
  a.security_opt = {"seccomp=unconfined"};
  a.sysctls = {{"net.ipv4.ip_forward", "1"}};
  a.init = true;
  auto created = rt->create_container(a);
  REQUIRE_MESSAGE(created.has_value(), (created ? "" : created.error().message));
  cleanup.containers.push_back(a.name);
  auto before = rt->inspect_container(a.name);
  REQUIRE(before.has_value());
  CHECK(before->state == "created");
  CHECK(before->image == image);  // shown without localhost/

  // put_file into a created container, parent directories created.
  auto put = rt->put_file(a.name, "/etc/k3dpp/token", "s3cret\n", 0600);
  REQUIRE_MESSAGE(put.has_value(), (put ? "" : put.error().message));

  auto started = rt->start_container(a.name);
  REQUIRE_MESSAGE(started.has_value(), (started ? "" : started.error().message));
  CHECK(rt->start_container(a.name).has_value());  // idempotent

  auto cat = rt->exec(a.name, {"cat", "/etc/k3dpp/token"});
  REQUIRE_MESSAGE(cat.has_value(), (cat ? "" : cat.error().message));
  CHECK(cat->exit_code == 0);
  CHECK(cat->out == "s3cret\n");
  auto st = rt->exec(a.name, {"stat", "-c", "%a", "/etc/k3dpp/token"});
  REQUIRE(st.has_value());
  CHECK(k3dpp::strings::trim(st->out) == "600");
  auto rf = rt->read_file(a.name, "/etc/k3dpp/token");
  REQUIRE(rf.has_value());
  CHECK(*rf == "s3cret\n");
  CHECK(rt->read_file(a.name, "/etc/nothing-here").error().kind == "NotFound");

  // Exec: stdin, stderr, exit codes.
  auto in = rt->exec(a.name, {"sh", "-c", "cat > /data/x; cat /data/x; echo err >&2"}, "from-stdin");
  REQUIRE_MESSAGE(in.has_value(), (in ? "" : in.error().message));
  CHECK(in->out == "from-stdin");
  CHECK(in->err == "err\n");
  auto code = rt->exec(a.name, {"sh", "-c", "exit 3"});
  REQUIRE(code.has_value());
  CHECK(code->exit_code == 3);

  // The podman defaults: rlimits, the /dev/console device rule, init as PID 1, the sysctl.
  auto limits = rt->exec(a.name, {"sh", "-c", "ulimit -n; ulimit -u; cat /proc/sys/net/ipv4/ip_forward"});
  REQUIRE(limits.has_value());
  CHECK(limits->out == "20000\n32768\n1\n");
  auto devs = rt->exec(a.name, {"cat", "/sys/fs/cgroup/devices/devices.list"});
  REQUIRE(devs.has_value());
  CHECK(contains(devs->out, "c 5:1 rwm"));
  auto pid1 = rt->exec(a.name, {"cat", "/proc/1/cmdline"});
  REQUIRE(pid1.has_value());
  CHECK(contains(pid1->out, "init"));  // /run/podman-init (catatonit), not sh

  // A second container finds the first by name on the network (dnsname plugin).
  ContainerSpec b = a;
  b.name = base + "-b";
  b.hostname = b.name;
  b.labels["k3dpp.test.role"] = "b";
  b.binds.clear();
  b.cmd = {"sleep", "3600"};
  b.ports.clear();
  REQUIRE(rt->create_container(b).has_value());
  cleanup.containers.push_back(b.name);
  REQUIRE(rt->start_container(b.name).has_value());

  auto list = rt->list_containers(labels, false);
  REQUIRE(list.has_value());
  REQUIRE(list->size() == 2);
  auto only_a = rt->list_containers({{"k3dpp.test.role", "a"}, {"k3dpp.test", base}}, false);
  REQUIRE(only_a.has_value());
  REQUIRE(only_a->size() == 1);
  const ContainerInfo& ia = (*only_a)[0];
  CHECK(ia.name == a.name);
  CHECK(ia.running);
  CHECK(ia.pid > 0);
  CHECK(ia.image == image);
  REQUIRE(ia.ips.count(net) == 1);
  CHECK_FALSE(ia.ips.at(net).empty());
  // The published port (engine-chosen) answers on 127.0.0.1.
  REQUIRE(ia.ports.size() == 1);
  CHECK(ia.ports[0].container_port == 8080);
  CHECK(ia.ports[0].host_ip == "127.0.0.1");
  REQUIRE(ia.ports[0].host_port != 0);
  std::string page;
  for (int i = 0; i < 20 && !contains(page, "page-from-podman"); ++i) {
    page = http_get_local(ia.ports[0].host_port);
    if (!contains(page, "page-from-podman")) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  CHECK(contains(page, "page-from-podman"));

  std::string lookup_out;
  for (int i = 0; i < 20; ++i) {
    auto lookup = rt->exec(b.name, {"nslookup", a.name});
    if (lookup && contains(lookup->out, ia.ips.at(net))) {
      lookup_out = lookup->out;
      break;
    }
    lookup_out = lookup ? lookup->out + lookup->err : lookup.error().message;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  INFO("nslookup " << a.name << " from " << b.name << ": " << lookup_out);
  CHECK(contains(lookup_out, ia.ips.at(net)));

  auto lg = rt->logs(a.name, 10);
  REQUIRE(lg.has_value());
  CHECK(contains(*lg, "hello-from-podman\n"));
  CHECK(contains(*lg, "oops\n"));

  // Stop, remove, and the network's stale host rules go with it.
  REQUIRE(rt->stop_container(a.name, 2).has_value());
  auto stopped = rt->inspect_container(a.name);
  REQUIRE(stopped.has_value());
  CHECK_FALSE(stopped->running);
  CHECK(rt->list_containers(labels, false)->size() == 1);
  CHECK(rt->list_containers(labels, true)->size() == 2);
  REQUIRE(rt->remove_container(a.name, false).has_value());
  REQUIRE(rt->remove_container(b.name, true).has_value());
  CHECK(rt->inspect_container(a.name).error().kind == "NotFound");

  k3dpp::runtime::docker::HttpRequest req;
  req.target = "/networks/" + net + "/json";
  auto netj = rt->libpod_call(req);
  REQUIRE(netj.has_value());
  std::string bridge = json::parse(netj->body).value("network_interface", std::string());
  REQUIRE_FALSE(bridge.empty());
  CHECK(contains(run_host("iptables -w 5 -S CNI-ISOLATION-STAGE-2"), "-o " + bridge + " "));
  REQUIRE(rt->remove_network(net).has_value());
  CHECK(rt->inspect_network(net).error().kind == "NotFound");
  // Unless podman gave the bridge name to another network meanwhile, no rule names it any more.
  req.target = "/networks/json";
  auto all = rt->libpod_call(req);
  REQUIRE(all.has_value());
  if (!contains(all->body, "\"" + bridge + "\"")) {
    std::string rules = run_host("iptables -w 5 -S CNI-ISOLATION-STAGE-1; iptables -w 5 -S CNI-ISOLATION-STAGE-2");
    INFO(rules);
    CHECK_FALSE(contains(rules, " " + bridge + " "));
  }
  REQUIRE(rt->remove_volume(vol, false).has_value());
  CHECK(rt->list_volumes(labels)->empty());
}

TEST_CASE("podman backend: one node container with the contract options runs containerd") {
  auto rt = open_podman();
  if (!rt) return;
  std::string id = k3dpp::strings::random_string(6, "abcdefghijklmnopqrstuvwxyz0123456789");
  std::string base = "k3dpp-pm-test-" + id;
  Cleanup cleanup{rt.get(), {}, {}, {}, {}, {}};

  if (!rt->inspect_image(kNodeImage)) {
    if (run_host(std::string("docker image inspect ") + kNodeImage + " >/dev/null 2>&1 && echo yes") != "yes\n") {
      MESSAGE("node image " << kNodeImage << " is neither in podman nor in docker (images/build.sh): node test skipped");
      return;
    }
    std::string path = "/tmp/" + base + "-node.tar";
    cleanup.files.push_back(path);
    std::string saved = run_host(std::string("docker save -o ") + path + " " + kNodeImage + " && echo ok");
    REQUIRE_MESSAGE(saved == "ok\n", saved);
    auto loaded = rt->load_image_file(path);
    REQUIRE_MESSAGE(loaded.has_value(), (loaded ? "" : loaded.error().message));
  }
  REQUIRE(*rt->resolve_image(kNodeImage) == std::string("localhost/") + kNodeImage);

  Labels labels = {{"k3dpp.test", base}};
  std::string net = base + "-net";
  REQUIRE(rt->create_network(net, labels).has_value());
  cleanup.networks.push_back(net);
  std::string node = base + "-server-0";
  std::string vol = node + "-containerd";
  REQUIRE(rt->create_volume(vol, labels).has_value());
  cleanup.volumes.push_back(vol);

  // docs/node-contract.md's node options (what cluster/translate.cc asks for).
  ContainerSpec s;
  s.name = node;
  s.hostname = node;
  s.image = kNodeImage;
  s.network = net;
  s.labels = labels;
  s.cmd = {"server", "--node-name", node, "--cluster-name", base, "--data-dir", "/var/lib/k3dpp", "--listen",
           "0.0.0.0:6443", "--token-file", "/etc/k3dpp/token", "--tls-san", node};
  s.binds = {vol + ":/var/lib/containerd"};
  s.tmpfs = {{"/run", ""}, {"/tmp", ""}};
  s.cap_add = {"ALL"};
  s.cap_drop = {"SYS_RESOURCE"};
  s.security_opt = {"seccomp=unconfined", "apparmor=unconfined"};
  s.sysctls = {{"net.ipv4.ip_forward", "1"}};
  s.ulimits = {{"nofile", 20000, 20000}, {"nproc", 32768, 32768}};
  s.init = true;
  s.restart_policy = "unless-stopped";
  auto created = rt->create_container(s);
  REQUIRE_MESSAGE(created.has_value(), (created ? "" : created.error().message));
  cleanup.containers.push_back(node);
  REQUIRE(rt->put_file(node, "/etc/k3dpp/token", k3dpp::strings::random_hex(32) + "\n", 0600).has_value());
  auto started = rt->start_container(node);
  REQUIRE_MESSAGE(started.has_value(), (started ? "" : started.error().message));

  // containerd answers, then the entrypoint imports the pause image (k8s.io namespace).
  std::string last;
  bool up = false;
  for (int i = 0; i < 120 && !up; ++i) {
    auto v = rt->exec(node, {"ctr", "version"});
    auto imgs = rt->exec(node, {"ctr", "-n", "k8s.io", "images", "ls", "-q"});
    if (v && v->exit_code == 0 && contains(v->out, "Server:") && imgs && contains(imgs->out, "pause")) {
      up = true;
      break;
    }
    last = v ? v->out + v->err : v.error().message;
    if (imgs) last += " | images: " + imgs->out + imgs->err;
    auto ci = rt->inspect_container(node);
    if (ci && !ci->running) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (!up) {
    auto lg = rt->logs(node, 40);
    INFO("node logs:\n" << (lg ? *lg : lg.error().message));
    FAIL("containerd did not come up (with the pause image) in the podman node: " << last);
  }
  // The device rule reached the node (ctr run needs /dev/console).
  auto devs = rt->exec(node, {"cat", "/sys/fs/cgroup/devices/devices.list"});
  REQUIRE(devs.has_value());
  CHECK(contains(devs->out, "c 5:1 rwm"));

  REQUIRE(rt->remove_container(node, true).has_value());
  REQUIRE(rt->remove_volume(vol, false).has_value());
  REQUIRE(rt->remove_network(net).has_value());
  CHECK(rt->list_containers(labels, true)->empty());
}
