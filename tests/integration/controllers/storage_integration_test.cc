// PersistentVolume binding and local-path provisioning against the real ApiServer.
#include <doctest/doctest.h>

#include "controllers/util.h"
#include "harness.h"

using namespace k3dpp;
using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::Harness;

namespace {

json pv(const std::string& name, const std::string& size, const std::string& reclaim) {
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolume"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"capacity", {{"storage", size}}},
            {"accessModes", json::array({"ReadWriteOnce"})},
            {"persistentVolumeReclaimPolicy", reclaim},
            {"storageClassName", "manual"},
            {"hostPath", {{"path", "/mnt/data-" + name}}}}}};
}

json pvc(const std::string& name, const std::string& size, const std::string* cls) {
  json c = {{"apiVersion", "v1"},
            {"kind", "PersistentVolumeClaim"},
            {"metadata", {{"name", name}}},
            {"spec", {{"accessModes", json::array({"ReadWriteOnce"})}, {"resources", {{"requests", {{"storage", size}}}}}}}};
  if (cls != nullptr) c["spec"]["storageClassName"] = *cls;
  return c;
}

std::string phase(const json& o) { return o.is_null() ? "<gone>" : o.value("status", json::object()).value("phase", ""); }

}  // namespace

TEST_CASE("storage: local-path StorageClass exists and is the default") {
  Harness h;
  json sc = h.get(client::res::kStorageClasses, "", "local-path");
  REQUIRE(!sc.is_null());
  CHECK(sc["provisioner"] == "rancher.io/local-path");
  CHECK(sc["reclaimPolicy"] == "Delete");
  CHECK(sc["volumeBindingMode"] == "WaitForFirstConsumer");
  CHECK(sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true");
  CHECK(sc["metadata"]["annotations"]["defaultVolumeType"] == "local");
}

TEST_CASE("storage: manual binding picks the smallest fit; Retain releases, Delete removes") {
  Harness h;
  auto& api = h.api();
  REQUIRE(api.create(client::res::kPersistentVolumes, "", pv("big", "10Gi", "Retain")).has_value());
  REQUIRE(api.create(client::res::kPersistentVolumes, "", pv("small", "2Gi", "Retain")).has_value());
  REQUIRE(api.create(client::res::kPersistentVolumes, "", pv("tiny", "500Mi", "Delete")).has_value());
  REQUIRE(Harness::wait_for([&] { return phase(h.get(client::res::kPersistentVolumes, "", "small")) == "Available"; }, 10s));
  std::string manual = "manual";
  REQUIRE(api.create(client::res::kPersistentVolumeClaims, "default", pvc("data", "1Gi", &manual)).has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return phase(h.get(client::res::kPersistentVolumeClaims, "default", "data")) == "Bound"; }, 10s),
                  h.get(client::res::kPersistentVolumeClaims, "default", "data").dump());
  json c = h.get(client::res::kPersistentVolumeClaims, "default", "data");
  CHECK(c["spec"]["volumeName"] == "small");
  CHECK(c["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes");
  CHECK(c["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes");
  CHECK(c["status"]["capacity"]["storage"] == "2Gi");
  CHECK(c["status"]["accessModes"] == json::array({"ReadWriteOnce"}));
  json v = h.get(client::res::kPersistentVolumes, "", "small");
  CHECK(phase(v) == "Bound");
  CHECK(v["spec"]["claimRef"]["name"] == "data");
  CHECK(v["spec"]["claimRef"]["uid"] == c["metadata"]["uid"]);
  CHECK(v["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes");
  CHECK(phase(h.get(client::res::kPersistentVolumes, "", "big")) == "Available");

  // Retain: the claim deleted → the volume is Released and kept.
  REQUIRE(api.remove(client::res::kPersistentVolumeClaims, "default", "data").has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return phase(h.get(client::res::kPersistentVolumes, "", "small")) == "Released"; }, 15s),
                  h.get(client::res::kPersistentVolumes, "", "small").dump());

  // Delete: bound to a small claim, then the claim goes and the PV with it.
  REQUIRE(api.create(client::res::kPersistentVolumeClaims, "default", pvc("little", "100Mi", &manual)).has_value());
  REQUIRE(Harness::wait_for([&] { return h.get(client::res::kPersistentVolumes, "", "tiny")["spec"].contains("claimRef"); }, 10s));
  REQUIRE(Harness::wait_for([&] { return phase(h.get(client::res::kPersistentVolumeClaims, "default", "little")) == "Bound"; }, 10s));
  REQUIRE(api.remove(client::res::kPersistentVolumeClaims, "default", "little").has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return h.get(client::res::kPersistentVolumes, "", "tiny").is_null(); }, 15s),
                  h.get(client::res::kPersistentVolumes, "", "tiny").dump());
}

TEST_CASE("storage: local-path WaitForFirstConsumer provisions on the pod's node") {
  Harness h;
  auto& api = h.api();
  REQUIRE(api.create(client::res::kPersistentVolumeClaims, "default", pvc("web-data", "1Gi", nullptr)).has_value());
  json c = h.get(client::res::kPersistentVolumeClaims, "default", "web-data");
  CHECK(c["spec"].value("storageClassName", "") == "local-path");  // DefaultStorageClass admission
  std::this_thread::sleep_for(1s);
  c = h.get(client::res::kPersistentVolumeClaims, "default", "web-data");
  CHECK(phase(c) == "Pending");
  auto ev = api.list(client::res::kEvents, "default");
  REQUIRE(ev.has_value());
  bool waiting = false;
  for (const auto& e : ev->items) {
    if (e.value("reason", "") == "WaitForFirstConsumer") {
      waiting = true;
      CHECK(e["message"] == "waiting for first consumer to be created before binding");
      CHECK(e["source"]["component"] == "persistentvolume-controller");
    }
  }
  CHECK(waiting);

  json pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},
    "spec":{"containers":[{"name":"web","image":"nginx:1.24","volumeMounts":[{"name":"d","mountPath":"/data"}]}],
    "volumes":[{"name":"d","persistentVolumeClaim":{"claimName":"web-data"}}]}})");
  REQUIRE(api.create(client::res::kPods, "default", pod).has_value());
  REQUIRE_MESSAGE(Harness::wait_for([&] { return controllers::pod_is_ready(h.get(client::res::kPods, "default", "web")); }, 60s),
                  (h.get(client::res::kPods, "default", "web").dump() + "\n" +
                   h.get(client::res::kPersistentVolumeClaims, "default", "web-data").dump()));
  std::string node = h.get(client::res::kPods, "default", "web")["spec"]["nodeName"];
  c = h.get(client::res::kPersistentVolumeClaims, "default", "web-data");
  CHECK(phase(c) == "Bound");
  CHECK(c["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node);
  std::string uid = c["metadata"]["uid"];
  CHECK(c["spec"]["volumeName"] == "pvc-" + uid);
  json v = h.get(client::res::kPersistentVolumes, "", "pvc-" + uid);
  REQUIRE(!v.is_null());
  CHECK(phase(v) == "Bound");
  CHECK(v["spec"]["hostPath"]["path"] == "/var/lib/k3dpp/storage/pvc-" + uid + "_default_web-data");
  CHECK(v["spec"]["capacity"]["storage"] == "1Gi");
  CHECK(v["spec"]["persistentVolumeReclaimPolicy"] == "Delete");
  CHECK(v["spec"]["storageClassName"] == "local-path");
  CHECK(v["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "rancher.io/local-path");
  CHECK(v["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0] == node);
  ev = api.list(client::res::kEvents, "default");
  bool provisioned = false, external = false;
  for (const auto& e : ev->items) {
    if (e.value("reason", "") == "ProvisioningSucceeded") {
      provisioned = true;
      CHECK(e["message"] == "Successfully provisioned volume pvc-" + uid);
      CHECK(e["source"]["component"] == "rancher.io/local-path_local-path-provisioner");
    }
    if (e.value("reason", "") == "ExternalProvisioning") {
      external = true;
      CHECK(e["message"].get<std::string>().find("external provisioner 'rancher.io/local-path'") != std::string::npos);
    }
  }
  CHECK(provisioned);
  CHECK(external);

  // A second pod using the claim goes to the same node (volume node affinity).
  pod["metadata"]["name"] = "web2";
  REQUIRE(api.create(client::res::kPods, "default", pod).has_value());
  REQUIRE(Harness::wait_for([&] { return controllers::pod_is_ready(h.get(client::res::kPods, "default", "web2")); }, 60s));
  CHECK(h.get(client::res::kPods, "default", "web2")["spec"]["nodeName"] == node);
}
