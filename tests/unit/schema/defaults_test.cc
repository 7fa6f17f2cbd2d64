#include <doctest/doctest.h>

#include "node-image/schema/schema.h"

using namespace k3dpp::schema;

namespace {
json defaulted(const char* api_version, const char* kind, const char* text) {
  const ResourceType* t = find_by_kind(api_version, kind);
  REQUIRE(t != nullptr);
  json o = json::parse(text);
  apply_defaults(*t, o);
  return o;
}
}  // namespace

TEST_CASE("pod defaults match a real cluster") {
  json p = defaulted("v1", "Pod", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"nginx-pod"},
    "spec":{"containers":[{"name":"nginx-pod","image":"nginx","ports":[{"containerPort":80}]},
                          {"name":"b","image":"nginx:1.24"},{"name":"c","image":"nginx:latest"},
                          {"name":"d","image":"reg:5000/x@sha256:abc"},{"name":"e","image":"reg:5000/x"}]}})");
  const json& s = p["spec"];
  CHECK(s["restartPolicy"] == "Always");
  CHECK(s["dnsPolicy"] == "ClusterFirst");
  CHECK(s["schedulerName"] == "default-scheduler");
  CHECK(s["terminationGracePeriodSeconds"] == 30);
  CHECK(s["securityContext"] == json::object());
  CHECK(s["enableServiceLinks"] == true);
  CHECK(s["preemptionPolicy"] == "PreemptLowerPriority");
  CHECK(s["priority"] == 0);
  CHECK(s["serviceAccountName"] == "default");
  CHECK(s["serviceAccount"] == "default");
  const json& c = s["containers"];
  CHECK(c[0]["imagePullPolicy"] == "Always");
  CHECK(c[1]["imagePullPolicy"] == "IfNotPresent");
  CHECK(c[2]["imagePullPolicy"] == "Always");
  CHECK(c[3]["imagePullPolicy"] == "IfNotPresent");
  CHECK(c[4]["imagePullPolicy"] == "Always");
  CHECK(c[0]["terminationMessagePath"] == "/dev/termination-log");
  CHECK(c[0]["terminationMessagePolicy"] == "File");
  CHECK(c[0]["resources"] == json::object());
  CHECK(c[0]["ports"][0] == json({{"containerPort", 80}, {"protocol", "TCP"}}));
  CHECK(s["tolerations"] == json::parse(R"([
    {"effect":"NoExecute","key":"node.kubernetes.io/not-ready","operator":"Exists","tolerationSeconds":300},
    {"effect":"NoExecute","key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":300}])"));
  CHECK(p["status"]["phase"] == "Pending");
  CHECK(p["status"]["qosClass"] == "BestEffort");
}

TEST_CASE("pod defaults keep user values and existing tolerations") {
  json p = defaulted("v1", "Pod", R"({"metadata":{"name":"x"},"spec":{"restartPolicy":"Never",
    "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":5}],
    "containers":[{"name":"a","image":"i:1","imagePullPolicy":"Never",
       "resources":{"limits":{"cpu":"1","memory":"1Gi"}},
       "livenessProbe":{"httpGet":{"port":80}}}],
    "volumes":[{"name":"v"},{"name":"c","configMap":{"name":"cm"}}]}})");
  CHECK(p["spec"]["restartPolicy"] == "Never");
  CHECK(p["spec"]["tolerations"].size() == 2);
  CHECK(p["spec"]["tolerations"][0]["tolerationSeconds"] == 5);
  const json& c = p["spec"]["containers"][0];
  CHECK(c["imagePullPolicy"] == "Never");
  CHECK(c["resources"]["requests"] == json({{"cpu", "1"}, {"memory", "1Gi"}}));
  CHECK(c["livenessProbe"] == json::parse(R"({"httpGet":{"port":80,"path":"/","scheme":"HTTP"},
    "timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3})"));
  CHECK(p["spec"]["volumes"][0]["emptyDir"] == json::object());
  CHECK(p["spec"]["volumes"][1]["configMap"]["defaultMode"] == 420);
  CHECK(p["status"]["qosClass"] == "Guaranteed");
}

TEST_CASE("deployment defaults") {
  json d = defaulted("apps/v1", "Deployment", R"({"metadata":{"name":"nginx-deployment"},
    "spec":{"selector":{"matchLabels":{"app":"nginx"}},
      "template":{"metadata":{"labels":{"app":"nginx"}},"spec":{"containers":[{"name":"nginx","image":"nginx:latest"}]}}}})");
  const json& s = d["spec"];
  CHECK(s["replicas"] == 1);
  CHECK(s["strategy"] == json::parse(R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}})"));
  CHECK(s["revisionHistoryLimit"] == 10);
  CHECK(s["progressDeadlineSeconds"] == 600);
  CHECK(s["template"]["metadata"]["creationTimestamp"].is_null());
  CHECK(s["template"]["spec"]["restartPolicy"] == "Always");
  CHECK(s["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always");
  CHECK_FALSE(s["template"]["spec"].contains("tolerations"));
  CHECK_FALSE(s["template"]["spec"].contains("enableServiceLinks"));
  json r = defaulted("apps/v1", "Deployment", R"({"spec":{"strategy":{"type":"Recreate"}}})");
  CHECK(r["spec"]["strategy"] == json({{"type", "Recreate"}}));
}

TEST_CASE("service defaults") {
  json s = defaulted("v1", "Service", R"({"metadata":{"name":"nginx-svc"},
    "spec":{"selector":{"app":"nginx"},"ports":[{"port":8080,"targetPort":80},{"port":53,"protocol":"UDP"}]}})");
  CHECK(s["spec"]["type"] == "ClusterIP");
  CHECK(s["spec"]["sessionAffinity"] == "None");
  CHECK(s["spec"]["ports"][0] == json({{"port", 8080}, {"targetPort", 80}, {"protocol", "TCP"}}));
  CHECK(s["spec"]["ports"][1]["targetPort"] == 53);
  CHECK(s["spec"]["ipFamilies"] == json::array({"IPv4"}));
  CHECK(s["spec"]["ipFamilyPolicy"] == "SingleStack");
  CHECK(s["spec"]["internalTrafficPolicy"] == "Cluster");
  CHECK_FALSE(s["spec"].contains("externalTrafficPolicy"));
  json n = defaulted("v1", "Service", R"({"spec":{"type":"NodePort","ports":[{"port":8080,"nodePort":30050}]}})");
  CHECK(n["spec"]["externalTrafficPolicy"] == "Cluster");
}

TEST_CASE("storage, namespace, secret, workload defaults") {
  CHECK(defaulted("v1", "PersistentVolumeClaim", R"({"spec":{}})")["spec"]["volumeMode"] == "Filesystem");
  json pv = defaulted("v1", "PersistentVolume", R"({"spec":{"hostPath":{"path":"/tmp/x"}}})");
  CHECK(pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain");
  CHECK(pv["spec"]["volumeMode"] == "Filesystem");
  CHECK(pv["spec"]["hostPath"]["type"] == "");
  json sc = defaulted("storage.k8s.io/v1", "StorageClass", R"({"provisioner":"x"})");
  CHECK(sc["reclaimPolicy"] == "Delete");
  CHECK(sc["volumeBindingMode"] == "Immediate");
  json ns = defaulted("v1", "Namespace", R"({"metadata":{"name":"dev"}})");
  CHECK(ns["spec"]["finalizers"] == json::array({"kubernetes"}));
  CHECK(ns["status"]["phase"] == "Active");
  CHECK(defaulted("v1", "Secret", R"({})")["type"] == "Opaque");
  json job = defaulted("batch/v1", "Job", R"({"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[]}}}})");
  CHECK(job["spec"]["completions"] == 1);
  CHECK(job["spec"]["parallelism"] == 1);
  CHECK(job["spec"]["backoffLimit"] == 6);
  json cj = defaulted("batch/v1", "CronJob", R"({"spec":{"schedule":"* * * * *"}})");
  CHECK(cj["spec"]["concurrencyPolicy"] == "Allow");
  CHECK(cj["spec"]["successfulJobsHistoryLimit"] == 3);
  CHECK(cj["spec"]["failedJobsHistoryLimit"] == 1);
}
