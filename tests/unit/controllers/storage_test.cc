#include <doctest/doctest.h>

#include "controllers/storage.h"

using namespace k3dpp::controllers;

namespace {
json pv(const std::string& name, const std::string& size, const std::string& cls = "manual") {
  return {{"metadata", {{"name", name}, {"labels", {{"type", "local"}}}}},
          {"spec", {{"capacity", {{"storage", size}}}, {"accessModes", json::array({"ReadWriteOnce", "ReadOnlyMany"})},
                    {"storageClassName", cls}}},
          {"status", {{"phase", "Available"}}}};
}
json pvc(const std::string& size, const std::string& cls = "manual") {
  return {{"metadata", {{"name", "data"}, {"namespace", "default"}, {"uid", "U1"}}},
          {"spec", {{"accessModes", json::array({"ReadWriteOnce"})}, {"storageClassName", cls},
                    {"resources", {{"requests", {{"storage", size}}}}}}}};
}
}  // namespace

TEST_CASE("quantities") {
  CHECK(parse_storage("1Gi") == 1073741824LL);
  CHECK(parse_storage("500Mi") == 524288000LL);
  CHECK(parse_storage("1G") == 1000000000LL);
  CHECK(parse_storage("1.5Gi") == 1610612736LL);
  CHECK(parse_storage("12") == 12);
  CHECK(parse_storage("x") == -1);
  CHECK(parse_storage("1Qi") == -1);
}

TEST_CASE("smallest fit by class, modes and capacity; prebound wins; Released never") {
  json big = pv("big", "10Gi"), small = pv("small", "2Gi"), tiny = pv("tiny", "500Mi"), other = pv("other", "2Gi", "fast");
  json released = pv("rel", "1Gi");
  released["status"]["phase"] = "Released";
  json c = pvc("1Gi");
  CHECK(meta_str(*find_best_volume({&big, &small, &tiny, &other, &released}, c, nullptr), "name") == "small");
  json rwx = c;
  rwx["spec"]["accessModes"] = json::array({"ReadWriteMany"});
  CHECK(find_best_volume({&big, &small}, rwx, nullptr) == nullptr);
  json pre = pv("pre", "10Gi");
  pre["spec"]["claimRef"] = {{"namespace", "default"}, {"name", "data"}};
  CHECK(meta_str(*find_best_volume({&small, &pre}, c, nullptr), "name") == "pre");
  json taken = pv("taken", "1Gi");
  taken["spec"]["claimRef"] = {{"namespace", "default"}, {"name", "data"}, {"uid", "OTHER"}};
  CHECK(find_best_volume({&taken}, c, nullptr) == nullptr);
  json sel = c;
  sel["spec"]["selector"] = {{"matchLabels", {{"type", "nfs"}}}};
  CHECK(find_best_volume({&small}, sel, nullptr) == nullptr);
}

TEST_CASE("local-path class and provisioned volume") {
  json sc = local_path_storage_class();
  CHECK(sc["provisioner"] == "rancher.io/local-path");
  CHECK(sc["volumeBindingMode"] == "WaitForFirstConsumer");
  CHECK(sc["reclaimPolicy"] == "Delete");
  CHECK(sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true");
  json c = pvc("3Gi", "local-path");
  json v = local_path_volume(c, sc, "node-a");
  CHECK(v["metadata"]["name"] == "pvc-U1");
  CHECK(v["spec"]["hostPath"]["path"] == "/var/lib/k3dpp/storage/pvc-U1_default_data");
  CHECK(v["spec"]["capacity"]["storage"] == "3Gi");
  CHECK(v["spec"]["claimRef"]["uid"] == "U1");
  CHECK(v["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "rancher.io/local-path");
  json na = {{"metadata", {{"name", "node-a"}, {"labels", {{"kubernetes.io/hostname", "node-a"}}}}}};
  json nb = {{"metadata", {{"name", "node-b"}, {"labels", {{"kubernetes.io/hostname", "node-b"}}}}}};
  CHECK(volume_node_affinity_matches(v, na));
  CHECK(!volume_node_affinity_matches(v, nb));
  CHECK(volume_matches(v, c, &na));
  CHECK(!volume_matches(v, c, &nb));
}
