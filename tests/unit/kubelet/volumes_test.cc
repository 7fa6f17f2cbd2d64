#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/files.h"
#include "fake_api.h"
#include "kubelet/volumes.h"

using namespace k3dpp;
using namespace k3dpp::kubelet;
namespace fs = std::filesystem;

namespace {

struct Tmp {
  std::string root = "/tmp/k3dpp-volumes-test-" + std::to_string(::getpid());
  Tmp() { fs::remove_all(root); }
  ~Tmp() { fs::remove_all(root); }
};

VolumeContext context(const Tmp& t, std::shared_ptr<std::string> mode = std::make_shared<std::string>("prod")) {
  VolumeContext vc;
  vc.pods_root = "/var/lib/kubelet/pods";
  vc.node_root = t.root;
  vc.mount_tmpfs = false;
  vc.lookup = [mode](const std::string& plural, const std::string& ns, const std::string& name) -> Result<json> {
    if (plural == "configmaps" && ns == "web" && name == "app-config") {
      return json{{"data", {{"app.conf", "port=80\n"}, {"mode", *mode}}}};
    }
    if (plural == "secrets" && ns == "web" && name == "creds") return json{{"data", {{"user", "YWRtaW4="}}}};
    if (plural == "persistentvolumeclaims" && name == "bound") {
      return json{{"spec", {{"volumeName", "pv-1"}}}, {"status", {{"phase", "Bound"}}}};
    }
    if (plural == "persistentvolumeclaims" && name == "pending") {
      return json{{"spec", json::object()}, {"status", {{"phase", "Pending"}}}};
    }
    if (plural == "persistentvolumes" && ns.empty() && name == "pv-1") {
      return json{{"spec", {{"hostPath", {{"path", "/tmp/k3d-manual-pv"}}}}}};
    }
    return fail(plural + " \"" + name + "\" not found", "NotFound");
  };
  return vc;
}

json pod_with(const json& volumes) {
  return {{"metadata", {{"name", "p"}, {"namespace", "web"}, {"uid", "u1"}}},
          {"spec", {{"volumes", volumes}, {"containers", json::array({{{"name", "c"}}})}}}};
}

}  // namespace

TEST_CASE("configMap, secret and emptyDir volumes are written under the pod dir") {
  Tmp t;
  json p = pod_with(json::array({
      {{"name", "cfg"}, {"configMap", {{"name", "app-config"}}}},
      {{"name", "one"}, {"configMap", {{"name", "app-config"}, {"items", {{{"key", "mode"}, {"path", "sub/m.txt"}}}}}}},
      {{"name", "sec"}, {"secret", {{"secretName", "creds"}, {"defaultMode", 0400}}}},
      {{"name", "scratch"}, {"emptyDir", json::object()}},
      {{"name", "api"}, {"projected", {{"sources", json::array()}}}},
  }));
  auto v = prepare_volumes(p, context(t));
  REQUIRE_MESSAGE(v, v.error().message);
  CHECK(v->size() == 5);  // an empty projected volume is an empty directory
  std::string base = "/var/lib/kubelet/pods/u1/volumes";
  CHECK((*v)["cfg"].host_path == base + "/kubernetes.io~configmap/cfg");
  CHECK((*v)["cfg"].read_only);
  CHECK(*files::read(t.root + base + "/kubernetes.io~configmap/cfg/app.conf") == "port=80\n");
  CHECK(*files::read(t.root + base + "/kubernetes.io~configmap/one/sub/m.txt") == "prod");
  CHECK_FALSE(fs::exists(t.root + base + "/kubernetes.io~configmap/one/app.conf"));
  CHECK(*files::read(t.root + base + "/kubernetes.io~secret/sec/user") == "admin");
  struct stat st{};
  REQUIRE(::stat((t.root + base + "/kubernetes.io~secret/sec/user").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0400);
  CHECK(fs::is_directory(t.root + base + "/kubernetes.io~empty-dir/scratch"));
  CHECK_FALSE((*v)["scratch"].read_only);
}

TEST_CASE("volume errors read like FailedMount events") {
  Tmp t;
  auto v = prepare_volumes(pod_with(json::array({{{"name", "cfg"}, {"configMap", {{"name", "nope"}}}}})), context(t));
  REQUIRE_FALSE(v);
  CHECK(v.error().message == "MountVolume.SetUp failed for volume \"cfg\" : configmap \"nope\" not found");
  auto opt = prepare_volumes(
      pod_with(json::array({{{"name", "cfg"}, {"configMap", {{"name", "nope"}, {"optional", true}}}}})), context(t));
  CHECK(opt);
  auto pending = prepare_volumes(
      pod_with(json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "pending"}}}}})), context(t));
  REQUIRE_FALSE(pending);
  CHECK(pending.error().is("NotReady"));
}

TEST_CASE("a bound claim mounts its PV's hostPath (created when missing)") {
  Tmp t;
  auto v = prepare_volumes(
      pod_with(json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "bound"}}}}})), context(t));
  REQUIRE_MESSAGE(v, v.error().message);
  CHECK((*v)["data"].host_path == "/tmp/k3d-manual-pv");
  CHECK(fs::is_directory(t.root + "/tmp/k3d-manual-pv"));
}

TEST_CASE("container mounts: subPath, readOnly, managed /etc/hosts") {
  std::map<std::string, PreparedVolume> vols{{"data", {"/pv", false}}, {"cfg", {"/cm", true}}};
  json p = {{"spec", json::object()}};
  json c = {{"volumeMounts",
             {{{"name", "data"}, {"mountPath", "/mydata"}, {"subPath", "a"}},
              {{"name", "cfg"}, {"mountPath", "/etc/app"}},
              {{"name", "missing"}, {"mountPath", "/x"}}}}};
  auto m = container_mounts(p, c, vols, "/var/lib/kubelet/pods/u1/etc-hosts");
  REQUIRE(m.size() == 3);
  CHECK(m[0].host_path() == "/pv/a");
  CHECK(m[0].container_path() == "/mydata");
  CHECK_FALSE(m[0].readonly());
  CHECK(m[1].readonly());
  CHECK(m[2].container_path() == "/etc/hosts");
  p["spec"]["hostNetwork"] = true;
  CHECK(container_mounts(p, c, vols, "/h").size() == 2);
}

TEST_CASE("managed /etc/hosts") {
  json p = {{"metadata", {{"name", "nginx-pod"}, {"namespace", "default"}}},
            {"spec", {{"hostAliases", {{{"ip", "10.0.0.1"}, {"hostnames", {"foo.local", "bar.local"}}}}}}}};
  CHECK(render_etc_hosts(p, "10.42.0.7") ==
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n"
        "10.42.0.7\tnginx-pod\n"
        "\n"
        "# Entries added by HostAliases.\n"
        "10.0.0.1\tfoo.local\tbar.local\n");
}

TEST_CASE("configMap files are symlinks through ..data; an update swaps ..data in the same directory") {
  Tmp t;
  auto mode = std::make_shared<std::string>("prod");
  json p = pod_with(json::array({{{"name", "cfg"}, {"configMap", {{"name", "app-config"}}}}}));
  auto vc = context(t, mode);
  REQUIRE(prepare_volumes(p, vc));
  std::string dir = t.root + "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~configmap/cfg";
  CHECK(fs::is_symlink(dir + "/mode"));
  CHECK(fs::read_symlink(dir + "/mode").string() == "..data/mode");
  std::string first = fs::read_symlink(dir + "/..data").string();
  CHECK(first.rfind("..", 0) == 0);
  struct stat before{};
  REQUIRE(::stat(dir.c_str(), &before) == 0);

  REQUIRE(refresh_volumes(p, vc));  // unchanged: nothing rewritten
  CHECK(fs::read_symlink(dir + "/..data").string() == first);

  *mode = "staging";
  REQUIRE(refresh_volumes(p, vc));
  CHECK(*files::read(dir + "/mode") == "staging");
  CHECK(fs::read_symlink(dir + "/..data").string() != first);
  CHECK_FALSE(fs::exists(dir + "/" + first));  // the old generation is gone
  struct stat after{};
  REQUIRE(::stat(dir.c_str(), &after) == 0);
  CHECK(before.st_ino == after.st_ino);  // bind mounts of the directory keep seeing it
}

TEST_CASE("write_payload removes names no longer in the payload and rejects escaping paths") {
  Tmp t;
  std::string dir = t.root + "/v";
  REQUIRE(write_payload(dir, {{"a", {"1", 0644}}, {"sub/b", {"2", 0600}}}));
  CHECK(*files::read(dir + "/sub/b") == "2");
  REQUIRE(write_payload(dir, {{"a", {"1", 0644}}}));
  CHECK_FALSE(fs::exists(dir + "/sub"));
  CHECK_FALSE(write_payload(dir, {{"../x", {"1", 0644}}}));
  CHECK_FALSE(write_payload(dir, {{"/etc/x", {"1", 0644}}}));
}

TEST_CASE("downwardAPI and projected volumes") {
  Tmp t;
  json p = pod_with(json::array({
      {{"name", "info"},
       {"downwardAPI",
        {{"items",
          {{{"path", "labels"}, {"fieldRef", {{"fieldPath", "metadata.labels"}}}},
           {{"path", "name"}, {"fieldRef", {{"fieldPath", "metadata.name"}}}},
           {{"path", "tier"}, {"fieldRef", {{"fieldPath", "metadata.labels['tier']"}}}},
           {{"path", "mem"}, {"resourceFieldRef", {{"containerName", "c"}, {"resource", "limits.memory"}, {"divisor", "1Mi"}}}}}}}}},
      {{"name", "all"},
       {"projected",
        {{"defaultMode", 0440},
         {"sources",
          {{{"configMap", {{"name", "app-config"}, {"items", {{{"key", "mode"}, {"path", "mode"}}}}}}},
           {{"secret", {{"name", "creds"}}}},
           {{"downwardAPI", {{"items", {{{"path", "ns"}, {"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}}}}},
           {{"serviceAccountToken", {{"path", "token"}}}}}}}}},
  }));
  p["metadata"]["labels"] = {{"tier", "web"}, {"app", "x\"y"}};
  p["spec"]["containers"][0]["resources"] = {{"limits", {{"memory", "64Mi"}}}};
  auto v = prepare_volumes(p, context(t));
  REQUIRE_MESSAGE(v, v.error().message);
  std::string base = t.root + "/var/lib/kubelet/pods/u1/volumes";
  CHECK(*files::read(base + "/kubernetes.io~downward-api/info/labels") == "app=\"x\\\"y\"\ntier=\"web\"");
  CHECK(*files::read(base + "/kubernetes.io~downward-api/info/name") == "p");
  CHECK(*files::read(base + "/kubernetes.io~downward-api/info/tier") == "web");
  CHECK(*files::read(base + "/kubernetes.io~downward-api/info/mem") == "64");
  CHECK(*files::read(base + "/kubernetes.io~projected/all/mode") == "prod");
  CHECK(*files::read(base + "/kubernetes.io~projected/all/user") == "admin");
  CHECK(*files::read(base + "/kubernetes.io~projected/all/ns") == "web");
  CHECK_FALSE(fs::exists(base + "/kubernetes.io~projected/all/token"));
  struct stat st{};
  REQUIRE(::stat((base + "/kubernetes.io~projected/all/user").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0440);
  CHECK((*v)["all"].read_only);

  // A label change reaches the file on the next refresh.
  p["metadata"]["labels"]["tier"] = "db";
  REQUIRE(refresh_volumes(p, context(t)));
  CHECK(*files::read(base + "/kubernetes.io~downward-api/info/tier") == "db");
}

TEST_CASE("hostPath type checks") {
  Tmp t;
  auto vc = context(t);
  auto vol = [](const std::string& path, const std::string& type) {
    return pod_with(json::array({{{"name", "h"}, {"hostPath", {{"path", path}, {"type", type}}}}}));
  };
  CHECK(prepare_volumes(vol("/data/new", "DirectoryOrCreate"), vc));
  CHECK(fs::is_directory(t.root + "/data/new"));
  CHECK(prepare_volumes(vol("/data/new", "Directory"), vc));
  auto missing = prepare_volumes(vol("/data/none", "Directory"), vc);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message ==
        "MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: /data/none is not a directory");
  CHECK(prepare_volumes(vol("/data/f.txt", "FileOrCreate"), vc));
  CHECK(fs::is_regular_file(t.root + "/data/f.txt"));
  CHECK(prepare_volumes(vol("/data/f.txt", "File"), vc));
  CHECK_FALSE(prepare_volumes(vol("/data/new", "File"), vc));
  CHECK_FALSE(prepare_volumes(vol("/data/f.txt", "DirectoryOrCreate"), vc));
  CHECK_FALSE(prepare_volumes(vol("/data/f.txt", "Socket"), vc));
  CHECK_FALSE(prepare_volumes(vol("/data/f.txt", "Bogus"), vc));
  CHECK(prepare_volumes(vol("/data/anything", ""), vc));  // no check
}

TEST_CASE("local-path cleaner: only Delete volumes of this node, directly below the storage root") {
  json pv = {{"metadata",
              {{"name", "pvc-1"},
               {"annotations",
                {{"pv.kubernetes.io/provisioned-by", "rancher.io/local-path"},
                 {"local.path.provisioner/selected-node", "agent-0"}}}}},
             {"spec",
              {{"persistentVolumeReclaimPolicy", "Delete"},
               {"hostPath", {{"path", std::string(kLocalPathStorageRoot) + "/pvc-1_default_data"}}}}}};
  CHECK(LocalPathCleaner::directory_to_remove(pv, "agent-0") == std::string(kLocalPathStorageRoot) + "/pvc-1_default_data");
  CHECK(LocalPathCleaner::directory_to_remove(pv, "agent-1").empty());
  json retain = pv;
  retain["spec"]["persistentVolumeReclaimPolicy"] = "Retain";
  CHECK(LocalPathCleaner::directory_to_remove(retain, "agent-0").empty());
  json other = pv;
  other["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] = "example.com/nfs";
  CHECK(LocalPathCleaner::directory_to_remove(other, "agent-0").empty());
  json escape = pv;
  escape["spec"]["hostPath"]["path"] = std::string(kLocalPathStorageRoot) + "/../../etc";
  CHECK(LocalPathCleaner::directory_to_remove(escape, "agent-0").empty());
  json root = pv;
  root["spec"]["hostPath"]["path"] = std::string(kLocalPathStorageRoot) + "/";
  CHECK(LocalPathCleaner::directory_to_remove(root, "agent-0").empty());
  json by_affinity = pv;
  by_affinity["metadata"]["annotations"].erase("local.path.provisioner/selected-node");
  by_affinity["spec"]["nodeAffinity"] = {
      {"required",
       {{"nodeSelectorTerms",
         {{{"matchExpressions", {{{"key", "kubernetes.io/hostname"}, {"operator", "In"}, {"values", {"agent-0"}}}}}}}}}}};
  CHECK(!LocalPathCleaner::directory_to_remove(by_affinity, "agent-0").empty());
}

TEST_CASE("local-path sweep: directories of vanished Delete volumes go, Retain and live ones stay") {
  Tmp t;
  testing::FakeApi api("agent-0");
  std::string root = t.root + kLocalPathStorageRoot;
  for (const char* d : {"pvc-live_default_a", "pvc-gone_default_b", "pvc-kept_default_c", "other-dir"}) {
    fs::create_directories(root + "/" + d);
  }
  api.objects["persistentvolumes//pvc-live"] = json{{"metadata", {{"name", "pvc-live"}}}};
  LocalPathCleaner cleaner(api, "agent-0", t.root);
  // pvc-kept was last seen with reclaim Retain (the informer's add/update handler writes the marker).
  fs::create_directories(root + "/.retain");
  REQUIRE(files::write_atomic(root + "/.retain/pvc-kept_default_c", "pvc-kept\n"));
  CHECK(cleaner.sweep() == 1);
  CHECK(fs::exists(root + "/pvc-live_default_a"));
  CHECK_FALSE(fs::exists(root + "/pvc-gone_default_b"));
  CHECK(fs::exists(root + "/pvc-kept_default_c"));
  CHECK(fs::exists(root + "/other-dir"));
  CHECK(cleaner.sweep() == 0);
}
