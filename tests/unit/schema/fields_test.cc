#include <doctest/doctest.h>

#include "node-image/schema/schema.h"

using namespace k3dpp::schema;

namespace {
const ResourceType& type(const char* api_version, const char* kind) {
  const ResourceType* t = find_by_kind(api_version, kind);
  REQUIRE(t != nullptr);
  return *t;
}
}  // namespace

TEST_CASE("typo 13: flush-left nodeport.yaml is rejected with the top-level fields") {
  // YAML as typed: spec: (null), then type/selector/app/ports at top level.
  json svc = json::parse(R"({"apiVersion":"v1","kind":"Service",
    "metadata":{"name":"nginx-srv2","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"}},
    "spec":null,"type":"NodePort","selector":null,"app":"nginx",
    "ports":[{"port":8080,"targetPort":80,"nodePort":30050}]})");
  const auto& t = type("v1", "Service");
  CHECK_FALSE(decode_type_error(t, svc).has_value());
  auto unknown = unknown_fields(t, svc);
  CHECK(strict_decoding_message(t, unknown) ==
        "Service in version \"v1\" cannot be handled as a Service: strict decoding error: "
        "unknown field \"app\", unknown field \"ports\", unknown field \"selector\", unknown field \"type\"");
}

TEST_CASE("typo 18: template spec at the wrong level") {
  json d = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"nginx-deployment","annotations":{"kubernetes.io/change-cause":"Initial release"}},
    "spec":{"replicas":10,"selector":{"matchLabels":{"app":"nginx"}},"revisionHistoryLimit":5,
      "progressDeadlineSeconds":300,"minReadySeconds":10,
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":1}},
      "template":{"metadata":{"labels":{"app":"nginx"}}},
      "spec":null,
      "containers":[{"name":"nginx","image":"nginx:1.24","ports":[{"containerPort":80}]}]}})");
  const auto& t = type("apps/v1", "Deployment");
  CHECK_FALSE(decode_type_error(t, d).has_value());
  CHECK(strict_decoding_message(t, unknown_fields(t, d)) ==
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: "
        "unknown field \"spec.containers\", unknown field \"spec.spec\"");
}

TEST_CASE("typo 26: volumeMounts at pod-spec level") {
  json p = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"pvc-demo"},
    "spec":{"containers":[{"name":"app","image":"busybox",
      "command":["sh","-c","echo \"Persistent data\" > /mydata/file.txt && sleep 3600"]}],
      "volumeMounts":[{"name":"persistent-storage","mountPath":"/mydata"}],
      "volumes":[{"name":"persistent-storage","persistentVolumeClaim":{"claimName":"manual-pvc"}}]}})");
  const auto& t = type("v1", "Pod");
  CHECK(strict_decoding_message(t, unknown_fields(t, p)) ==
        "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: "
        "unknown field \"spec.volumeMounts\"");
  CHECK(strict_decoding_warnings(unknown_fields(t, p)) ==
        std::vector<std::string>{"unknown field \"spec.volumeMounts\""});
}

TEST_CASE("unknown fields inside arrays and metadata, free-form places are fine") {
  json p = json::parse(R"({"apiVersion":"v1","kind":"Pod",
    "metadata":{"name":"x","foo":1,"labels":{"any.key/x":"v"},"annotations":{"a":"b"}},
    "spec":{"containers":[{"name":"a","image":"nginx"},{"name":"b","imagee":"nginx",
      "resources":{"limits":{"cpu":"1","memory":"1Gi"}},
      "env":[{"name":"X","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}}]}],
      "nodeSelector":{"whatever":"ok"},
      "volumes":[{"name":"v","emptyDir":{}},{"name":"w","configMap":{"name":"c","itemz":[]}}]},
    "status":{"phase":"Running","madeUp":true}})");
  const auto& t = type("v1", "Pod");
  CHECK(unknown_fields(t, p) == std::vector<std::string>{"metadata.foo", "spec.containers[1].imagee",
                                                        "spec.volumes[1].configMap.itemz"});
  json cm = json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},
    "data":{"anything":"x","other.key":"y"}})");
  CHECK(unknown_fields(type("v1", "ConfigMap"), cm).empty());
  json sx = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"x":1}})");
  CHECK(strict_decoding_message(t, unknown_fields(t, sx)) ==
        "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.x\"");
  // Keys are case-sensitive.
  json k = json::parse(R"({"apiVersion":"v1","kind":"Pod","Metadata":{}})");
  CHECK(unknown_fields(t, k) == std::vector<std::string>{"Metadata"});
}

TEST_CASE("every kind in the registry has a field table") {
  for (const auto& t : all_types()) {
    INFO(t.kind);
    json o = {{"apiVersion", t.api_version()}, {"kind", t.kind}, {"metadata", {{"name", "x"}}}, {"bogus", 1}};
    CHECK(unknown_fields(t, o) == std::vector<std::string>{"bogus"});
  }
}

TEST_CASE("JSON type errors read like Go's") {
  const auto& t = type("v1", "Pod");
  json p = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":"nginx"}})");
  CHECK(decode_type_error(t, p) ==
        "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal string into Go struct "
        "field PodSpec.spec.containers of type []v1.Container");
  json q = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},
    "spec":{"containers":[{"name":"a","image":"i","ports":[{"containerPort":"80"}]}]}})");
  CHECK(decode_type_error(t, q) ==
        "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal string into Go struct "
        "field ContainerPort.spec.containers.ports.containerPort of type int32");
  json l = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","labels":{"version":1}}})");
  CHECK(decode_type_error(t, l) ==
        "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number into Go struct "
        "field ObjectMeta.metadata.labels of type string");
  json r = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":1.5}})");
  CHECK(decode_type_error(type("apps/v1", "Deployment"), r) ==
        "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal number 1.5 "
        "into Go struct field DeploymentSpec.spec.replicas of type int32");
  json ok = json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},
    "spec":{"ports":[{"port":80,"targetPort":"http"},{"port":81,"targetPort":8080}]}})");
  CHECK_FALSE(decode_type_error(type("v1", "Service"), ok).has_value());
}

TEST_CASE("drop_unknown_fields removes what typed decoding drops") {
  const auto& t = type("v1", "Pod");
  json p = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","foo":1},
    "spec":{"x":1,"containers":[{"name":"a","image":"i","imagee":"j"}],"nodeName":null},"status":{"keep":1}})");
  drop_unknown_fields(t, p);
  CHECK(p == json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},
    "spec":{"containers":[{"name":"a","image":"i"}]},"status":{"keep":1}})"));
}
