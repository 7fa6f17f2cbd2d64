#include <doctest/doctest.h>

#include "node-image/schema/schema.h"

using namespace k3dpp::schema;

namespace {
const ResourceType& type(const char* api_version, const char* kind) {
  const ResourceType* t = find_by_kind(api_version, kind);
  REQUIRE(t != nullptr);
  return *t;
}
std::vector<std::string> texts(const std::vector<FieldCause>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(cause_text(c));
  return out;
}
json defaulted(const ResourceType& t, const char* text) {
  json o = json::parse(text);
  apply_defaults(t, o);
  return o;
}
const char* kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
}  // namespace

TEST_CASE("metadata.name rules and messages") {
  const auto& pod = type("v1", "Pod");
  auto c = validate_create(pod, json::parse(R"({"metadata":{"name":"Nginx_Pod"},
    "spec":{"containers":[{"name":"a","image":"nginx"}]}})"));
  REQUIRE(c.size() == 1);
  CHECK(c[0].reason == "FieldValueInvalid");
  CHECK(c[0].field == "metadata.name");
  CHECK(c[0].message == std::string("Invalid value: \"Nginx_Pod\": ") + kSubdomainMsg);
  auto n = validate_create(type("v1", "Namespace"), json::parse(R"({"metadata":{"name":"my.ns"}})"));
  CHECK(texts(n) == std::vector<std::string>{
      "metadata.name: Invalid value: \"my.ns\": a lowercase RFC 1123 label must consist of lower case "
      "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
      "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"});
  auto s = validate_create(type("v1", "Service"), json::parse(R"({"metadata":{"name":"1svc"},"spec":{"ports":[{"port":80}]}})"));
  CHECK(texts(s) == std::vector<std::string>{
      "metadata.name: Invalid value: \"1svc\": a DNS-1035 label must consist of lower case alphanumeric "
      "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
      "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"});
  auto r = validate_create(type("v1", "ConfigMap"), json::parse(R"({"metadata":{}})"));
  CHECK(texts(r) == std::vector<std::string>{"metadata.name: Required value: name or generateName is required"});
}

TEST_CASE("labels and annotations") {
  auto c = validate_create(type("v1", "ConfigMap"), json::parse(R"({"metadata":{"name":"c",
    "labels":{"bad key":"v","ok":"bad value!"},"annotations":{"Kubernetes.io/change-cause":"x"}}})"));
  CHECK(texts(c) == std::vector<std::string>{
      "metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' "
      "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
      "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      "metadata.labels: Invalid value: \"bad value!\": a valid label must be an empty string or consist of "
      "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
      "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
      "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"});
}

TEST_CASE("pod containers: required, duplicate, ports, volume mounts") {
  const auto& pod = type("v1", "Pod");
  auto c = validate_create(pod, defaulted(pod, R"({"metadata":{"name":"mypod"},"spec":{"containers":[
    {"name":"a"},{"name":"a","image":"x","ports":[{"containerPort":70000},{"containerPort":80,"protocol":"TCPX"}],
     "volumeMounts":[{"name":"nope","mountPath":"/x"}]}]}})"));
  CHECK(texts(c) == std::vector<std::string>{
      "spec.containers[0].image: Required value",
      "spec.containers[1].name: Duplicate value: \"a\"",
      "spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
      "spec.containers[1].ports[1].protocol: Unsupported value: \"TCPX\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
      "spec.containers[1].volumeMounts[0].name: Not found: \"nope\""});
  CHECK(c[0].reason == "FieldValueRequired");
  CHECK(c[1].reason == "FieldValueDuplicate");
  CHECK(c[3].reason == "FieldValueNotSupported");
  auto none = validate_create(pod, json::parse(R"({"metadata":{"name":"p"},"spec":{}})"));
  CHECK(texts(none) == std::vector<std::string>{"spec.containers: Required value"});
  auto ok = validate_create(pod, defaulted(pod, R"({"metadata":{"name":"pvc-demo"},"spec":{"containers":[
    {"name":"app","image":"busybox","volumeMounts":[{"name":"persistent-storage","mountPath":"/mydata"}]}],
    "volumes":[{"name":"persistent-storage","persistentVolumeClaim":{"claimName":"manual-pvc"}}]}})"));
  CHECK(ok.empty());
}

TEST_CASE("deployment selector must match template labels") {
  const auto& d = type("apps/v1", "Deployment");
  auto c = validate_create(d, defaulted(d, R"({"metadata":{"name":"x"},"spec":{"replicas":-1,
    "selector":{"matchLabels":{"app":"y"}},
    "template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}})"));
  CHECK(texts(c) == std::vector<std::string>{
      "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
      "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not "
      "match template `labels`"});
  auto nosel = validate_create(d, defaulted(d, R"({"metadata":{"name":"x"},"spec":{
    "template":{"metadata":{"labels":{"app":"x"}},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"nginx"}]}}}})"));
  CHECK(texts(nosel) == std::vector<std::string>{
      "spec.selector: Required value",
      "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""});
  json good = defaulted(d, R"({"metadata":{"name":"nginx-deployment"},"spec":{"replicas":2,
    "selector":{"matchLabels":{"app":"nginx"}},
    "template":{"metadata":{"labels":{"app":"nginx"}},"spec":{"containers":[{"name":"nginx","image":"nginx:latest",
      "ports":[{"containerPort":80}]}]}}}})");
  CHECK(validate_create(d, good).empty());
  json changed = good;
  changed["spec"]["selector"]["matchLabels"]["app"] = "web";
  changed["spec"]["template"]["metadata"]["labels"]["app"] = "web";
  CHECK(texts(validate_update(d, changed, good)) == std::vector<std::string>{
      "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\"}, "
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"});
  json scaled = good;
  scaled["spec"]["replicas"] = 6;
  CHECK(validate_update(d, scaled, good).empty());
}

TEST_CASE("pod updates: only images and the allowed fields") {
  const auto& pod = type("v1", "Pod");
  json old = defaulted(pod, R"({"metadata":{"name":"nginx-pod2"},"spec":{"containers":[
    {"name":"nginxcont","image":"nginx","ports":[{"containerPort":80}]}]}})");
  json img = old;
  img["spec"]["containers"][0]["image"] = "nginx:1.26";
  CHECK(validate_update(pod, img, old).empty());
  json tol = old;
  tol["spec"]["tolerations"].push_back({{"key", "k"}, {"operator", "Exists"}});
  CHECK(validate_update(pod, tol, old).empty());
  json port = old;
  port["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080;
  auto c = validate_update(pod, port, old);
  REQUIRE(c.size() == 1);
  CHECK(c[0].reason == "FieldValueForbidden");
  CHECK(c[0].field == "spec");
  CHECK(c[0].message.rfind(
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
            "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
            "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
            "previously negative)\n", 0) == 0);
}

TEST_CASE("service validation and clusterIP immutability") {
  const auto& svc = type("v1", "Service");
  auto c = validate_create(svc, defaulted(svc, R"({"metadata":{"name":"s"},"spec":{"ports":[
    {"name":"http","port":0},{"name":"http","port":80,"targetPort":70000,"nodePort":30050}]}})"));
  CHECK(texts(c) == std::vector<std::string>{
      "spec.ports[0].port: Required value",
      "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
      "spec.ports[1].name: Duplicate value: \"http\"",
      "spec.ports[1].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
      "spec.ports[1].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"});
  CHECK(texts(validate_create(svc, defaulted(svc, R"({"metadata":{"name":"s"},"spec":{}})"))) ==
        std::vector<std::string>{"spec.ports: Required value"});
  json np = defaulted(svc, R"({"metadata":{"name":"nginx-srv2"},"spec":{"type":"NodePort","selector":{"app":"nginx"},
    "ports":[{"port":8080,"targetPort":80,"nodePort":30050}]}})");
  CHECK(validate_create(svc, np).empty());
  json old = np;
  old["spec"]["clusterIP"] = "10.43.0.5";
  old["spec"]["clusterIPs"] = {"10.43.0.5"};
  json upd = old;
  upd["spec"]["clusterIP"] = "10.43.0.6";
  upd["spec"]["clusterIPs"] = {"10.43.0.6"};
  CHECK(texts(validate_update(svc, upd, old)) ==
        std::vector<std::string>{"spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.6\"}: may not change once set"});
}

TEST_CASE("PV, PVC, storage class, configmap") {
  const auto& pvc = type("v1", "PersistentVolumeClaim");
  json claim = defaulted(pvc, R"({"metadata":{"name":"manual-pvc"},"spec":{"accessModes":["ReadWriteOnce"],
    "storageClassName":"manual","resources":{"requests":{"storage":"1Gi"}}}})");
  CHECK(validate_create(pvc, claim).empty());
  CHECK(texts(validate_create(pvc, json::parse(R"({"metadata":{"name":"c"},"spec":{}})"))) ==
        std::vector<std::string>{"spec.accessModes: Required value: at least 1 access mode is required",
                                 "spec.resources[storage]: Required value"});
  json bigger = claim;
  bigger["spec"]["resources"]["requests"]["storage"] = "2Gi";
  CHECK(validate_update(pvc, bigger, claim).empty());
  json other = claim;
  other["spec"]["storageClassName"] = "fast";
  auto c = validate_update(pvc, other, claim);
  REQUIRE(c.size() == 1);
  CHECK(c[0].message.rfind("Forbidden: spec is immutable after creation except resources.requests for bound claims", 0) == 0);
  const auto& pv = type("v1", "PersistentVolume");
  CHECK(validate_create(pv, defaulted(pv, R"({"metadata":{"name":"manual-pv"},"spec":{"capacity":{"storage":"1Gi"},
    "accessModes":["ReadWriteOnce"],"persistentVolumeReclaimPolicy":"Retain","storageClassName":"manual",
    "hostPath":{"path":"/tmp/k3d-manual-pv"}}})")).empty());
  CHECK(texts(validate_create(pv, json::parse(R"({"metadata":{"name":"p"},"spec":{"capacity":{"storage":"1Gi"},
    "accessModes":["ReadWriteOnce"]}})"))) == std::vector<std::string>{"spec: Required value: must specify a volume type"});
  CHECK(texts(validate_create(type("storage.k8s.io/v1", "StorageClass"),
                              json::parse(R"({"metadata":{"name":"x"},"provisioner":"p","reclaimPolicy":"Keep"})"))) ==
        std::vector<std::string>{"reclaimPolicy: Unsupported value: \"Keep\": supported values: \"Delete\", \"Retain\""});
  const auto& cm = type("v1", "ConfigMap");
  json imm = json::parse(R"({"metadata":{"name":"c"},"data":{"a":"1"},"immutable":true})");
  json imm2 = imm;
  imm2["data"]["a"] = "2";
  CHECK(texts(validate_update(cm, imm2, imm)) ==
        std::vector<std::string>{"data: Forbidden: field is immutable when `immutable` is set"});
}

TEST_CASE("Status for 422 Invalid") {
  const auto& d = type("apps/v1", "Deployment");
  std::vector<FieldCause> one = {{"FieldValueRequired", "Required value", "spec.selector"}};
  json st = invalid_status(d, "web", one);
  CHECK(st["code"] == 422);
  CHECK(st["reason"] == "Invalid");
  CHECK(st["message"] == "Deployment.apps \"web\" is invalid: spec.selector: Required value");
  CHECK(st["details"] == json::parse(R"({"name":"web","group":"apps","kind":"Deployment",
    "causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.selector"}]})"));
  const auto& pod = type("v1", "Pod");
  std::vector<FieldCause> two = {{"FieldValueRequired", "Required value", "a"}, {"FieldValueRequired", "Required value", "b"}};
  CHECK(invalid_message(pod, "p", two) == "Pod \"p\" is invalid: [a: Required value, b: Required value]");
  CHECK_FALSE(invalid_status(pod, "p", two)["details"].contains("group"));
}

TEST_CASE("ingress: hosts, wildcard hosts, paths and backends as networking/v1 validates them") {
  const auto& ing = type("networking.k8s.io/v1", "Ingress");
  auto ok = validate_create(ing, json::parse(R"({"metadata":{"name":"i"},"spec":{"rules":[
    {"host":"*.example.com","http":{"paths":[{"path":"/a","pathType":"Prefix",
      "backend":{"service":{"name":"web","port":{"name":"http"}}}}]}},
    {"http":{"paths":[{"path":"","pathType":"ImplementationSpecific",
      "backend":{"service":{"name":"web","port":{"number":80}}}}]}}]}})"));
  CHECK(texts(ok).empty());
  auto bad = validate_create(ing, json::parse(R"({"metadata":{"name":"i"},"spec":{"rules":[
    {"host":"10.0.0.1","http":{"paths":[{"path":"a//b","pathType":"Exact",
      "backend":{"service":{"name":"web","port":{"number":80,"name":"http"}}}}]}},
    {"host":"Foo.com","http":{"paths":[{"path":"/x","pathType":"Regex",
      "backend":{"service":{"name":"web"}}},{"path":"/y","backend":{"service":{"name":"w","port":{"number":1}}}}]}},
    {"host":"*.*.com"}]}})"));
  CHECK(texts(bad) == std::vector<std::string>{
      "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address",
      "spec.rules[0].http.paths[0].path: Invalid value: \"a//b\": must be an absolute path",
      "spec.rules[0].http.paths[0].path: Invalid value: \"a//b\": must not contain '//'",
      "spec.rules[0].http.paths[0].backend: Invalid value: \"\": cannot set both port name & port number",
      std::string("spec.rules[1].host: Invalid value: \"Foo.com\": ") + kSubdomainMsg,
      "spec.rules[1].http.paths[0].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", "
      "\"ImplementationSpecific\", \"Prefix\"",
      "spec.rules[1].http.paths[0].backend: Required value: port name or number is required",
      "spec.rules[1].http.paths[1].pathType: Required value: pathType must be specified",
      "spec.rules[2].host: Invalid value: \"*.*.com\": a wildcard DNS-1123 subdomain must start with '*.', followed "
      "by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with "
      "an alphanumeric character (e.g. '*.example.com', regex used for validation is "
      "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"});
  auto empty = validate_create(ing, json::parse(R"({"metadata":{"name":"i"},"spec":{}})"));
  CHECK(texts(empty) == std::vector<std::string>{
      "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"});
}

TEST_CASE("ingressclass: the controller is a domain-prefixed path") {
  const auto& ic = type("networking.k8s.io/v1", "IngressClass");
  CHECK(texts(validate_create(ic, json::parse(R"({"metadata":{"name":"k3dpp"},"spec":{"controller":"k3dpp.io/ingress-nginx"}})")))
            .empty());
  CHECK(texts(validate_create(ic, json::parse(R"({"metadata":{"name":"k3dpp"},"spec":{}})"))) ==
        std::vector<std::string>{"spec.controller: Required value"});
}
