// The Docker backend against the real engine. Builds its own busybox image from the host's
// /bin/busybox (no registry), and removes every object it created (names k3dpp-rt-test-<random>).
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/log.h"
#include "common/strings.h"
#include "runtime/docker/docker_runtime.h"
#include "runtime/docker/tar.h"

using namespace k3dpp::runtime;
using namespace k3dpp::runtime::docker;
using nlohmann::json;

namespace {

bool skip_allowed() {
  const char* v = std::getenv("K3DPP_SKIP_ENGINE_TESTS");
  return v != nullptr && std::string(v) == "1";
}

std::string read_host_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Everything the test created, removed at the end even when a check failed.
struct Cleanup {
  DockerRuntime* rt;
  std::vector<std::string> containers, networks, volumes, images, files;
  ~Cleanup() {
    for (const auto& c : containers) (void)rt->remove_container(c, true);
    for (const auto& n : networks) (void)rt->remove_network(n);
    for (const auto& v : volumes) (void)rt->remove_volume(v, true);
    for (const auto& i : images) {
      HttpRequest req;
      req.method = "DELETE";
      req.target = "/images/" + i + "?force=1";
      (void)rt->call(req);
    }
    for (const auto& f : files) ::unlink(f.c_str());
  }
};

// A minimal image: /bin/busybox from the host plus applet symlinks, imported through the API.
k3dpp::Status import_busybox_image(DockerRuntime& rt, const std::string& repo, const std::string& tag) {
  std::string busybox = read_host_file("/bin/busybox");
  if (busybox.empty()) return k3dpp::fail("/bin/busybox missing (apt-get install busybox-static)");
  std::vector<tar::Entry> entries = {{"bin", tar::EntryType::kDirectory, 0755, {}, {}, 0, 0, 0},
                                     {"bin/busybox", tar::EntryType::kFile, 0755, busybox, {}, 0, 0, 0},
                                     {"etc", tar::EntryType::kDirectory, 0755, {}, {}, 0, 0, 0},
                                     {"tmp", tar::EntryType::kDirectory, 01777, {}, {}, 0, 0, 0}};
  for (const char* applet : {"sh", "cat", "echo", "sleep", "stat", "wc", "ls", "mkdir", "head"}) {
    entries.push_back({std::string("bin/") + applet, tar::EntryType::kSymlink, 0777, {}, "busybox", 0, 0, 0});
  }
  HttpRequest req;
  req.method = "POST";
  req.target = "/images/create?fromSrc=-&repo=" + url_encode(repo) + "&tag=" + url_encode(tag);
  req.body = tar::build(entries);
  req.content_type = "application/x-tar";
  req.log_bodies = false;
  auto r = rt.call(req);
  if (!r) return r.error();
  if (r->body.find("\"error\"") != std::string::npos) return k3dpp::fail("image import: " + r->body);
  return {};
}

}  // namespace

TEST_CASE("docker runtime against the real engine") {
  auto sock = socket_from_env();
  REQUIRE_MESSAGE(sock.has_value(), sock.error().message);
  if (!ping(*sock)) {
    if (skip_allowed()) {
      MESSAGE("SKIPPED: no Docker engine answers on " << *sock << " and K3DPP_SKIP_ENGINE_TESTS=1");
      return;
    }
    FAIL("no Docker engine answers on " << *sock
                                        << " (start it with scripts/start-dockerd.sh, or set K3DPP_SKIP_ENGINE_TESTS=1 to skip)");
  }

  if (const char* level = std::getenv("K3DPP_LOG_LEVEL")) k3dpp::log::set_level(level);
  DockerRuntime rt(*sock);
  const std::string id = k3dpp::strings::random_string(8, "abcdefghijklmnopqrstuvwxyz0123456789");
  const std::string base = "k3dpp-rt-test-" + id;
  const std::string repo = "k3dpp-test/busybox";
  const std::string image = repo + ":" + id;
  const Labels labels = {{"k3dpp.test", base}};
  Cleanup cleanup{&rt, {}, {}, {}, {}, {}};

  // Engine info.
  auto info = rt.info();
  REQUIRE_MESSAGE(info.has_value(), info.error().message);
  CHECK(info->engine == "docker");
  CHECK_FALSE(info->version.empty());
  CHECK_FALSE(info->api_version.empty());
  CHECK_FALSE(info->cgroup_driver.empty());
  CHECK((info->cgroup_version == "1" || info->cgroup_version == "2"));

  // Images.
  auto none = rt.inspect_image(repo + ":absent-" + id);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().is("NotFound"));
  cleanup.images.push_back(image);
  auto imported = import_busybox_image(rt, repo, id);
  REQUIRE_MESSAGE(imported.has_value(), imported.error().message);
  auto img = rt.inspect_image(image);
  REQUIRE_MESSAGE(img.has_value(), img.error().message);
  CHECK(std::find(img->tags.begin(), img->tags.end(), image) != img->tags.end());
  CHECK(img->size > 1000000);

  // Networks.
  const std::string net = base;
  cleanup.networks.push_back(net);
  auto n = rt.create_network(net, labels);
  REQUIRE_MESSAGE(n.has_value(), n.error().message);
  CHECK(n->name == net);
  CHECK_FALSE(n->subnet.empty());
  CHECK_FALSE(n->gateway.empty());
  CHECK(n->labels == labels);
  auto dup = rt.create_network(net, labels);
  REQUIRE_FALSE(dup.has_value());
  CHECK(dup.error().is("Conflict"));
  auto nets = rt.list_networks(labels);
  REQUIRE(nets.has_value());
  REQUIRE(nets->size() == 1);
  CHECK(nets->front().id == n->id);

  // Volumes.
  const std::string vol = base + "-data";
  cleanup.volumes.push_back(vol);
  auto v = rt.create_volume(vol, labels);
  REQUIRE_MESSAGE(v.has_value(), v.error().message);
  CHECK(v->name == vol);
  auto vols = rt.list_volumes(labels);
  REQUIRE(vols.has_value());
  REQUIRE(vols->size() == 1);
  CHECK(vols->front().name == vol);

  // Container: created, files put before start.
  const std::string name = base + "-node";
  ContainerSpec spec;
  spec.name = name;
  spec.image = image;
  spec.hostname = name;
  spec.network = net;
  spec.network_aliases = {"node-alias"};
  spec.labels = labels;
  spec.labels["k3dpp.role"] = "server";
  spec.env = {"K3DPP_TEST=" + id};
  spec.entrypoint = {"/bin/busybox"};
  spec.cmd = {"sh", "-c", "echo started; echo to-stderr >&2; exec sleep 3600"};
  spec.binds = {vol + ":/data"};
  spec.tmpfs = {{"/run", ""}};
  spec.ports = {{"127.0.0.1", 0, 8080, "tcp"}};
  spec.ulimits = {{"nofile", 20000, 20000}};
  spec.init = true;
  cleanup.containers.push_back(name);
  auto cid = rt.create_container(spec);
  REQUIRE_MESSAGE(cid.has_value(), cid.error().message);
  auto dup_c = rt.create_container(spec);
  REQUIRE_FALSE(dup_c.has_value());
  CHECK(dup_c.error().is("Conflict"));

  auto put = rt.put_file(name, "/etc/k3dpp/token", "secret-" + id + "\n", 0600);
  REQUIRE_MESSAGE(put.has_value(), put.error().message);
  auto put2 = rt.put_file(name, "/etc/k3dpp/token", "secret2-" + id + "\n", 0600);  // overwrite
  REQUIRE_MESSAGE(put2.has_value(), put2.error().message);
  auto back = rt.read_file(name, "/etc/k3dpp/token");
  REQUIRE_MESSAGE(back.has_value(), back.error().message);
  CHECK(*back == "secret2-" + id + "\n");
  auto missing = rt.read_file(name, "/etc/k3dpp/absent");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().is("NotFound"));

  auto created = rt.inspect_container(name);
  REQUIRE(created.has_value());
  CHECK(created->state == "created");
  CHECK_FALSE(created->running);

  // Start and inspect.
  auto started = rt.start_container(name);
  REQUIRE_MESSAGE(started.has_value(), started.error().message);
  auto ci = rt.inspect_container(name);
  REQUIRE(ci.has_value());
  CHECK(ci->id == *cid);
  CHECK(ci->name == name);
  CHECK(ci->image == image);
  CHECK(ci->running);
  CHECK(ci->state == "running");
  CHECK(ci->pid > 0);
  CHECK(ci->labels.at("k3dpp.role") == "server");
  REQUIRE(ci->ips.count(net) == 1);
  std::string subnet_prefix = n->subnet.substr(0, n->subnet.rfind('.'));
  subnet_prefix = subnet_prefix.substr(0, subnet_prefix.rfind('.'));  // "172.19" of "172.19.0.0/16"
  CHECK(ci->ips.at(net).rfind(subnet_prefix, 0) == 0);
  REQUIRE(ci->ports.size() == 1);
  CHECK(ci->ports[0].container_port == 8080);
  CHECK(ci->ports[0].host_ip == "127.0.0.1");
  CHECK(ci->ports[0].host_port > 0);

  // Exec: exit code, separated streams, stdin (small and larger than socket buffers).
  auto e = rt.exec(name, {"sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE_MESSAGE(e.has_value(), e.error().message);
  CHECK(e->exit_code == 3);
  CHECK(e->out == "out\n");
  CHECK(e->err == "err\n");
  auto cat = rt.exec(name, {"cat"}, "hello\nworld\n");
  REQUIRE_MESSAGE(cat.has_value(), cat.error().message);
  CHECK(cat->exit_code == 0);
  CHECK(cat->out == "hello\nworld\n");
  auto wc = rt.exec(name, {"wc", "-c"}, std::string(3 << 20, 'x'));
  REQUIRE_MESSAGE(wc.has_value(), wc.error().message);
  CHECK(k3dpp::strings::trim(wc->out) == std::to_string(3 << 20));
  auto mode = rt.exec(name, {"stat", "-c", "%a %u", "/etc/k3dpp/token", "/etc/k3dpp"});
  REQUIRE(mode.has_value());
  CHECK(mode->out == "600 0\n755 0\n");
  auto env = rt.exec(name, {"sh", "-c", "echo $K3DPP_TEST; ulimit -n"});
  REQUIRE(env.has_value());
  CHECK(env->out == id + "\n20000\n");
  auto bad_exec = rt.exec(name, {"/no/such/binary"});
  // docker 20.10 reports a missing binary as exit code 126/127 or as an error: either way not success.
  CHECK((!bad_exec.has_value() || bad_exec->exit_code != 0));

  // Archives.
  auto arch = rt.put_archive(name, "/data",
                             tar::build({{"sub", tar::EntryType::kDirectory, 0750, {}, {}, 0, 0, 0},
                                         {"sub/f.txt", tar::EntryType::kFile, 0644, "archived\n", {}, 0, 0, 0}}));
  REQUIRE_MESSAGE(arch.has_value(), arch.error().message);
  auto catf = rt.exec(name, {"cat", "/data/sub/f.txt"});
  REQUIRE(catf.has_value());
  CHECK(catf->out == "archived\n");
  auto got = rt.get_archive(name, "/etc/k3dpp");
  REQUIRE(got.has_value());
  auto got_entries = tar::parse(*got);
  REQUIRE_MESSAGE(got_entries.has_value(), got_entries.error().message);
  bool token_seen = false;
  for (const auto& en : *got_entries) {
    if (en.path == "k3dpp/token") {
      token_seen = true;
      CHECK(en.mode == 0600);
      CHECK(en.content == "secret2-" + id + "\n");
    }
  }
  CHECK(token_seen);

  // Listing by labels.
  auto listed = rt.list_containers(labels, false);
  REQUIRE(listed.has_value());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().name == name);
  auto by_role = rt.list_containers({{"k3dpp.test", base}, {"k3dpp.role", "agent"}}, true);
  REQUIRE(by_role.has_value());
  CHECK(by_role->empty());

  // Second network.
  const std::string net2 = base + "-b";
  cleanup.networks.push_back(net2);
  auto n2 = rt.create_network(net2, labels);
  REQUIRE_MESSAGE(n2.has_value(), n2.error().message);
  auto conn = rt.connect_network(net2, name);
  REQUIRE_MESSAGE(conn.has_value(), conn.error().message);
  auto ci2 = rt.inspect_container(name);
  REQUIRE(ci2.has_value());
  CHECK(ci2->ips.size() == 2);
  CHECK_FALSE(ci2->ips[net2].empty());
  // Disconnect (cluster delete detaches a used registry this way) and connect again.
  auto disc = rt.disconnect_network(net2, name);
  REQUIRE_MESSAGE(disc.has_value(), disc.error().message);
  auto ci3 = rt.inspect_container(name);
  REQUIRE(ci3.has_value());
  CHECK(ci3->ips.size() == 1);
  CHECK(ci3->ips.count(net2) == 0);
  CHECK_FALSE(rt.disconnect_network(net2, name).has_value());  // not connected any more
  auto conn2 = rt.connect_network(net2, name);
  REQUIRE_MESSAGE(conn2.has_value(), conn2.error().message);

  // Logs.
  auto lg = rt.logs(name, 0);
  REQUIRE_MESSAGE(lg.has_value(), lg.error().message);
  CHECK(lg->find("started\n") != std::string::npos);
  CHECK(lg->find("to-stderr\n") != std::string::npos);
  auto lg1 = rt.logs(name, 1);
  REQUIRE(lg1.has_value());
  CHECK(std::count(lg1->begin(), lg1->end(), '\n') == 1);

  // Stop (init forwards SIGTERM to sleep, so this is quick), remove.
  auto stopped = rt.stop_container(name, 10);
  REQUIRE_MESSAGE(stopped.has_value(), stopped.error().message);
  auto cs = rt.inspect_container(name);
  REQUIRE(cs.has_value());
  CHECK_FALSE(cs->running);
  CHECK(cs->state == "exited");
  CHECK(rt.stop_container(name, 1).has_value());  // already stopped: fine
  auto exec_stopped = rt.exec(name, {"true"});
  REQUIRE_FALSE(exec_stopped.has_value());
  CHECK(exec_stopped.error().is("Conflict"));
  auto all_listed = rt.list_containers(labels, true);
  REQUIRE(all_listed.has_value());
  CHECK(all_listed->size() == 1);
  auto removed = rt.remove_container(name, true);
  REQUIRE_MESSAGE(removed.has_value(), removed.error().message);
  auto gone = rt.inspect_container(name);
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().is("NotFound"));

  // Save to a file, remove the image, load it back.
  std::string saved_path = "/tmp/" + base + ".tar";
  cleanup.files.push_back(saved_path);
  {
    std::ofstream out(saved_path, std::ios::binary);
    auto saved = rt.save_images({image}, [&out](const char* p, size_t len) {
      out.write(p, static_cast<std::streamsize>(len));
      return static_cast<bool>(out);
    });
    REQUIRE_MESSAGE(saved.has_value(), saved.error().message);
  }
  auto saved_entries = tar::parse(read_host_file(saved_path));
  REQUIRE_MESSAGE(saved_entries.has_value(), saved_entries.error().message);
  bool manifest = false;
  for (const auto& en : *saved_entries) manifest = manifest || en.path == "manifest.json";
  CHECK(manifest);
  HttpRequest del;
  del.method = "DELETE";
  del.target = "/images/" + image;
  REQUIRE(rt.call(del).has_value());
  CHECK(rt.inspect_image(image).error().is("NotFound"));
  auto loaded = rt.load_image_file(saved_path);
  REQUIRE_MESSAGE(loaded.has_value(), loaded.error().message);
  CHECK(rt.inspect_image(image).has_value());
  CHECK_FALSE(rt.load_image_file("/tmp/" + base + "-absent.tar").has_value());

  // Volumes and networks go away.
  CHECK(rt.remove_network(net2).has_value());
  CHECK(rt.remove_network(net).has_value());
  CHECK(rt.inspect_network(net).error().is("NotFound"));
  CHECK(rt.remove_volume(vol, false).has_value());
  auto vols_after = rt.list_volumes(labels);
  REQUIRE(vols_after.has_value());
  CHECK(vols_after->empty());
}
