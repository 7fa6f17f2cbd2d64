#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/files.h"
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

VolumeContext context(const Tmp& t) {
  VolumeContext vc;
  vc.pods_root = "/var/lib/kubelet/pods";
  vc.node_root = t.root;
  vc.lookup = [](const std::string& plural, const std::string& ns, const std::string& name) -> Result<json> {
    if (plural == "configmaps" && ns == "web" && name == "app-config") {
      return json{{"data", {{"app.conf", "port=80\n"}, {"mode", "prod"}}}};
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
  CHECK(v->size() == 4);  // projected is not supported: not mounted
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
