#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "node-image/apimachinery/patch.h"

using nlohmann::json;
using namespace k3dpp::apimachinery;

namespace {

json smp(const json& orig, const json& patch, const std::string& kind = "Deployment") {
  auto r = strategic_merge_patch(orig, patch, kind);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return *r;
}

json deployment() {
  return json::parse(R"({
    "apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","namespace":"default","labels":{"app":"web"},
                "annotations":{"a":"1"},"finalizers":["x"]},
    "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},
      "template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"containers":[
          {"name":"nginx","image":"nginx:1.24","ports":[{"containerPort":80,"protocol":"TCP"}],
           "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
           "args":["a","b"]},
          {"name":"side","image":"busybox"}]}}}})");
}

json fixture(const std::string& name) {
  std::ifstream in(std::string(K3DPP_APIM_FIXTURES) + "/" + name);
  REQUIRE_MESSAGE(in.good(), "missing fixture " << name);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

}  // namespace

TEST_CASE("strategic merge: the patch real kubectl apply sent") {
  json live = fixture("smp-live-deployment.json");
  json patch = fixture("smp-apply-patch.json");
  json got = smp(live, patch);

  json want = live;
  want["metadata"]["labels"]["tier"] = "fe";
  want["metadata"]["annotations"] = patch["metadata"]["annotations"];
  want["spec"]["replicas"] = 3;
  json nginx = live["spec"]["template"]["spec"]["containers"][0];
  nginx["image"] = "nginx:1.25";
  nginx["ports"] = json::parse(R"([{"containerPort":8080}])");
  nginx["env"] = json::parse(R"([{"name":"C","value":"3"},{"name":"A","value":"1"}])");
  want["spec"]["template"]["spec"]["containers"] = json::array({nginx, json::parse(R"({"image":"redis","name":"cache"})")});
  CHECK(got == want);
  // Applying the same patch again changes nothing.
  CHECK(smp(got, patch) == got);
}

TEST_CASE("strategic merge: the patch real kubectl set image sent") {
  json live = fixture("smp-live-deployment.json");
  json got = smp(live, fixture("smp-set-image-patch.json"));
  json want = live;
  want["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26";
  CHECK(got == want);
}

TEST_CASE("json merge patch follows RFC 7386") {
  json orig = json::parse(R"({"a":"b","c":{"d":"e","f":"g"},"l":[1,2]})");
  auto r = json_merge_patch(orig, json::parse(R"({"a":"z","c":{"f":null},"l":[3],"n":{"x":null}})"));
  REQUIRE(r);
  CHECK(*r == json::parse(R"({"a":"z","c":{"d":"e"},"l":[3],"n":{}})"));
  // kubectl scale
  auto s = json_merge_patch(deployment(), json::parse(R"({"spec":{"replicas":6}})"));
  CHECK((*s)["spec"]["replicas"] == 6);
  CHECK((*s)["spec"]["template"] == deployment()["spec"]["template"]);
  // non-object patch replaces
  CHECK(*json_merge_patch(orig, json::array({1})) == json::array({1}));
}

TEST_CASE("json patch ops") {
  json doc = json::parse(R"({"metadata":{"annotations":{"a/b":"1","t~x":"2"}},"list":[1,2,3]})");
  auto r = json_patch(doc, json::parse(R"([
    {"op":"add","path":"/list/-","value":4},
    {"op":"add","path":"/list/0","value":0},
    {"op":"remove","path":"/list/1"},
    {"op":"replace","path":"/metadata/annotations/a~1b","value":"x"},
    {"op":"remove","path":"/metadata/annotations/t~0x"},
    {"op":"copy","from":"/list/0","path":"/first"},
    {"op":"move","from":"/first","path":"/moved"},
    {"op":"test","path":"/moved","value":0}])"));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(*r == json::parse(R"({"metadata":{"annotations":{"a/b":"x"}},"list":[0,2,3,4],"moved":0})"));
}

TEST_CASE("json patch errors") {
  json doc = json::parse(R"({"spec":{"replicas":2}})");
  auto t = json_patch(doc, json::parse(R"([{"op":"test","path":"/spec/replicas","value":3}])"));
  REQUIRE_FALSE(t);
  CHECK(t.error().kind == "Invalid");
  CHECK(t.error().message == "testing value /spec/replicas failed: test failed");
  auto rep = json_patch(doc, json::parse(R"([{"op":"replace","path":"/spec/x","value":1}])"));
  REQUIRE_FALSE(rep);
  CHECK(rep.error().kind == "Invalid");
  CHECK(rep.error().message == "replace operation does not apply: doc is missing key: /spec/x: missing value");
  auto add = json_patch(doc, json::parse(R"([{"op":"add","path":"/a/b","value":1}])"));
  REQUIRE_FALSE(add);
  CHECK(add.error().message == "add operation does not apply: doc is missing path: /a/b");
  auto bad = json_patch(doc, json::parse(R"([{"op":"frobnicate","path":"/a"}])"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == "BadRequest");
  CHECK_FALSE(json_patch(doc, json::object()));
  CHECK_FALSE(json_patch(doc, json::parse(R"([{"op":"add","path":"x","value":1}])")));
  CHECK_FALSE(json_patch(doc, json::parse(R"([{"op":"add","path":"/spec"}])")));
  // rollout undo replaces the template and the annotations
  auto undo = json_patch(deployment(), json::parse(R"([
    {"op":"replace","path":"/spec/template","value":{"spec":{"containers":[{"name":"c","image":"i"}]}}},
    {"op":"replace","path":"/metadata/annotations","value":{"b":"2"}}])"));
  REQUIRE(undo);
  CHECK((*undo)["spec"]["template"]["spec"]["containers"].size() == 1);
  CHECK((*undo)["metadata"]["annotations"] == json{{"b", "2"}});
}

TEST_CASE("strategic merge: kubectl apply image change with $setElementOrder") {
  json patch = json::parse(R"({"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}\n"}},
    "spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"},{"name":"side"}],
      "containers":[{"image":"nginx:1.25","name":"nginx"}]}}}})");
  json r = smp(deployment(), patch);
  auto& cs = r["spec"]["template"]["spec"]["containers"];
  REQUIRE(cs.size() == 2);
  CHECK(cs[0]["name"] == "nginx");
  CHECK(cs[0]["image"] == "nginx:1.25");
  CHECK(cs[0]["ports"] == deployment()["spec"]["template"]["spec"]["containers"][0]["ports"]);
  CHECK(cs[1]["name"] == "side");
  CHECK(r["metadata"]["annotations"]["a"] == "1");
  CHECK(r["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == "{}\n");
  CHECK_FALSE(r["spec"]["template"]["spec"].contains("$setElementOrder/containers"));
}

TEST_CASE("strategic merge: $setElementOrder reorders and adds") {
  json patch = json::parse(R"({"spec":{"template":{"spec":{
    "$setElementOrder/containers":[{"name":"side"},{"name":"new"},{"name":"nginx"}],
    "containers":[{"name":"new","image":"redis"}]}}}})");
  json r = smp(deployment(), patch);
  auto& cs = r["spec"]["template"]["spec"]["containers"];
  REQUIRE(cs.size() == 3);
  CHECK(cs[0]["name"] == "side");
  CHECK(cs[1]["name"] == "new");
  CHECK(cs[2]["name"] == "nginx");
}

TEST_CASE("strategic merge: rollout pause and resume") {
  json paused = smp(deployment(), json::parse(R"({"spec":{"paused":true}})"));
  CHECK(paused["spec"]["paused"] == true);
  json resumed = smp(paused, json::parse(R"({"spec":{"paused":null}})"));
  CHECK_FALSE(resumed["spec"].contains("paused"));
  CHECK(resumed == deployment());
}

TEST_CASE("strategic merge: labels, annotations, env add/remove, container add/remove") {
  json r = smp(deployment(), json::parse(R"({"metadata":{"labels":{"tier":"fe","app":null}}})"));
  CHECK(r["metadata"]["labels"] == json{{"tier", "fe"}});

  // env: add C, change A, delete B
  r = smp(deployment(), json::parse(R"({"spec":{"template":{"spec":{"containers":[{"name":"nginx",
    "env":[{"name":"C","value":"3"},{"name":"A","value":"9"},{"name":"B","$patch":"delete"}]}]}}}})"));
  auto env = r["spec"]["template"]["spec"]["containers"][0]["env"];
  CHECK(env == json::parse(R"([{"name":"C","value":"3"},{"name":"A","value":"9"}])"));

  // container delete
  r = smp(deployment(), json::parse(
      R"({"spec":{"template":{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}}})"));
  CHECK(r["spec"]["template"]["spec"]["containers"].size() == 1);
  CHECK(r["spec"]["template"]["spec"]["containers"][0]["name"] == "nginx");

  // container add without order: appended, directives stripped
  r = smp(deployment(), json::parse(
      R"({"spec":{"template":{"spec":{"containers":[{"name":"x","image":"y","env":[{"name":"Q","value":null}]}]}}}})"));
  REQUIRE(r["spec"]["template"]["spec"]["containers"].size() == 3);
  CHECK(r["spec"]["template"]["spec"]["containers"][2] == json::parse(R"({"name":"x","image":"y","env":[{"name":"Q"}]})"));

  // args replace (no merge)
  r = smp(deployment(), json::parse(R"({"spec":{"template":{"spec":{"containers":[{"name":"nginx","args":["c"]}]}}}})"));
  CHECK(r["spec"]["template"]["spec"]["containers"][0]["args"] == json::array({"c"}));
}

TEST_CASE("strategic merge: container ports by containerPort, service ports by port") {
  json r = smp(deployment(), json::parse(R"({"spec":{"template":{"spec":{"containers":[{"name":"nginx",
    "ports":[{"containerPort":443},{"containerPort":80,"name":"http"}]}]}}}})"));
  auto ports = r["spec"]["template"]["spec"]["containers"][0]["ports"];
  CHECK(ports == json::parse(R"([{"containerPort":443},{"containerPort":80,"protocol":"TCP","name":"http"}])"));

  json svc = json::parse(R"({"kind":"Service","spec":{"ports":[{"port":80,"targetPort":8080,"protocol":"TCP"},
     {"port":443,"targetPort":8443}],"selector":{"app":"web"}}})");
  json s = smp(svc, json::parse(R"({"spec":{"ports":[{"port":80,"targetPort":9090}]}})"), "Service");
  CHECK(s["spec"]["ports"] == json::parse(R"([{"port":80,"targetPort":9090,"protocol":"TCP"},{"port":443,"targetPort":8443}])"));
  // For a Pod "spec.ports" is not a known list: replaced.
  CHECK(list_strategy("Service", "spec.ports").merge_key == "port");
  CHECK(list_strategy("Pod", "spec.containers.ports").merge_key == "containerPort");
  CHECK(list_strategy("Pod", "spec.ports").type == ListStrategy::Type::kReplace);
  CHECK(list_strategy("CronJob", "spec.jobTemplate.spec.template.spec.containers").merge_key == "name");
  CHECK(list_strategy("Deployment", "spec.template.spec.volumes").retain_keys);
  CHECK(list_strategy("Pod", "spec.tolerations").type == ListStrategy::Type::kReplace);
  CHECK(list_strategy("Node", "status.conditions").merge_key == "type");
}

TEST_CASE("strategic merge: $patch replace / delete in maps and lists") {
  json r = smp(deployment(), json::parse(R"({"spec":{"selector":{"$patch":"replace","matchLabels":{"x":"y"}}}})"));
  CHECK(r["spec"]["selector"] == json::parse(R"({"matchLabels":{"x":"y"}})"));
  r = smp(deployment(), json::parse(R"({"metadata":{"annotations":{"$patch":"delete"}}})"));
  CHECK(r["metadata"]["annotations"] == json::object());
  r = smp(deployment(), json::parse(R"({"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"only","image":"i"}]}}}})"));
  CHECK(r["spec"]["template"]["spec"]["containers"] == json::parse(R"([{"name":"only","image":"i"}])"));
  auto bad = strategic_merge_patch(deployment(), json::parse(R"({"spec":{"$patch":"bogus"}})"), "Deployment");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == "BadRequest");
  auto nokey = strategic_merge_patch(deployment(), json::parse(R"({"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}})"), "Deployment");
  REQUIRE_FALSE(nokey);
  CHECK(nokey.error().message.find("does not contain declared merge key: name") != std::string::npos);
}

TEST_CASE("strategic merge: $retainKeys on the deployment strategy") {
  json r = smp(deployment(), json::parse(R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":null}}})"));
  CHECK(r["spec"]["strategy"] == json{{"type", "Recreate"}});
  auto bad = strategic_merge_patch(deployment(), json::parse(R"({"spec":{"strategy":{"$retainKeys":["type"],"other":1}}})"), "Deployment");
  CHECK_FALSE(bad);
}

TEST_CASE("strategic merge: finalizers as a primitive set, $deleteFromPrimitiveList") {
  json r = smp(deployment(), json::parse(R"({"metadata":{"finalizers":["y","x"]}})"));
  CHECK(r["metadata"]["finalizers"] == json::array({"y", "x"}));
  r = smp(deployment(), json::parse(R"({"metadata":{"finalizers":["z"]}})"));
  CHECK(r["metadata"]["finalizers"] == json::array({"x", "z"}));
  r = smp(r, json::parse(R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["x"]}})"));
  CHECK(r["metadata"]["finalizers"] == json::array({"z"}));
  r = smp(r, json::parse(R"({"metadata":{"$setElementOrder/finalizers":["a","z"],"finalizers":["a"]}})"));
  CHECK(r["metadata"]["finalizers"] == json::array({"a", "z"}));
}

TEST_CASE("strategic merge: conditions by type, ownerReferences by uid, unknown kinds") {
  json pod = json::parse(R"({"metadata":{"ownerReferences":[{"uid":"1","name":"a"}]},
    "status":{"conditions":[{"type":"Ready","status":"False"},{"type":"Initialized","status":"True"}]}})");
  json r = smp(pod, json::parse(R"({"metadata":{"ownerReferences":[{"uid":"2","name":"b"}]},
    "status":{"conditions":[{"type":"Ready","status":"True"}]}})"), "Pod");
  CHECK(r["metadata"]["ownerReferences"].size() == 2);
  CHECK(r["status"]["conditions"] == json::parse(R"([{"type":"Ready","status":"True"},{"type":"Initialized","status":"True"}])"));
  // Unknown kind: lists replace, maps merge.
  json w = smp(json::parse(R"({"spec":{"items":[1,2],"m":{"a":1}}})"),
               json::parse(R"({"spec":{"items":[3],"m":{"b":2}}})"), "Widget");
  CHECK(w == json::parse(R"({"spec":{"items":[3],"m":{"a":1,"b":2}}})"));
  CHECK_FALSE(strategic_merge_patch(pod, json::array(), "Pod"));
}

TEST_CASE("strategic merge: $retainKeys in volume items (emptyDir -> configMap)") {
  json pod = json::parse(R"({"spec":{"volumes":[{"name":"v","emptyDir":{}},{"name":"w","hostPath":{"path":"/x"}}]}})");
  json patch = json::parse(R"({"spec":{"$setElementOrder/volumes":[{"name":"v"},{"name":"w"}],
    "volumes":[{"$retainKeys":["configMap","name"],"configMap":{"name":"cfg"},"name":"v"}]}})");
  json r = smp(pod, patch, "Pod");
  CHECK(r["spec"]["volumes"] == json::parse(R"([{"name":"v","configMap":{"name":"cfg"}},{"name":"w","hostPath":{"path":"/x"}}])"));
}
