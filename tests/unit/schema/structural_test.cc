// Structural schemas of CRDs: structural check, pruning, defaulting, validation messages, CRD
// validation. Expected texts are Kubernetes 1.32's (apiextensions-apiserver + kube-openapi).
#include <doctest/doctest.h>

#include "node-image/schema/structural.h"

using k3dpp::schema::cause_text;
using k3dpp::schema::FieldCause;
using k3dpp::schema::StructuralSchema;
using json = nlohmann::json;

namespace {

std::vector<std::string> texts(const std::vector<FieldCause>& causes) {
  std::vector<std::string> out;
  for (const auto& c : causes) out.push_back(cause_text(c));
  return out;
}

json crontab_schema() {
  return json::parse(R"({
    "type": "object",
    "properties": {
      "spec": {
        "type": "object",
        "required": ["cronSpec"],
        "properties": {
          "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
          "image": {"type": "string", "minLength": 2, "maxLength": 10},
          "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
          "mode": {"type": "string", "enum": ["Fast", "Slow"], "default": "Slow"},
          "port": {"x-kubernetes-int-or-string": true},
          "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2, "x-kubernetes-list-type": "set"},
          "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "required": ["name"],
                              "properties": {"name": {"type": "string"}, "port": {"type": "integer", "default": 80}}}},
          "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
          "labels": {"type": "object", "additionalProperties": {"type": "string"}},
          "when": {"type": "string", "format": "date-time"},
          "note": {"type": "string", "nullable": true},
          "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                       "x-kubernetes-preserve-unknown-fields": true}
        }
      },
      "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}
    }
  })");
}

std::shared_ptr<const StructuralSchema> compiled() {
  auto s = StructuralSchema::compile(crontab_schema());
  REQUIRE(s.has_value());
  return *s;
}

}  // namespace

TEST_CASE("a structural schema has no structural errors") {
  CHECK(k3dpp::schema::structural_errors(crontab_schema(), "spec.versions[0].schema.openAPIV3Schema").empty());
}

TEST_CASE("non-structural schemas get Kubernetes' messages") {
  const std::string p = "spec.versions[0].schema.openAPIV3Schema";
  auto errs = texts(k3dpp::schema::structural_errors(
      json::parse(R"({"type":"object","properties":{"spec":{"properties":{"a":{"type":"string"}}}}})"), p));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0] == p + ".properties[spec].type: Required value: must not be empty for specified object fields");

  errs = texts(k3dpp::schema::structural_errors(json::parse(R"({"properties":{}})"), p));
  CHECK(errs == std::vector<std::string>{p + ".type: Required value: must not be empty at the root"});

  errs = texts(k3dpp::schema::structural_errors(
      json::parse(R"({"type":"object","properties":{"l":{"type":"array"}}})"), p));
  CHECK(errs == std::vector<std::string>{p + ".properties[l].items: Required value: must be specified"});

  errs = texts(k3dpp::schema::structural_errors(
      json::parse(R"({"type":"object","properties":{"a":{"type":"string","anyOf":[{"type":"string"}]}}})"), p));
  CHECK(errs == std::vector<std::string>{p + ".properties[a].anyOf[0].type: Forbidden: must be empty to be structural"});

  errs = texts(k3dpp::schema::structural_errors(
      json::parse(R"({"type":"object","properties":{"spec":{"type":"object","oneOf":[{"properties":{"x":{}}}]}}})"), p));
  CHECK(errs == std::vector<std::string>{p + ".properties[spec].properties[x]: Required value: because it is defined in " + p +
                                         ".properties[spec].oneOf[0].properties[x]"});

  errs = texts(k3dpp::schema::structural_errors(
      json::parse(R"({"type":"object","properties":{"metadata":{"type":"object","properties":{"labels":{"type":"object"}}}}})"), p));
  CHECK(errs == std::vector<std::string>{p + ".properties[metadata]: Forbidden: must not specify anything other than name and "
                                             "generateName, but metadata is implicitly specified"});

  // the int-or-string anyOf pattern is allowed
  CHECK(k3dpp::schema::structural_errors(
            json::parse(R"({"type":"object","properties":{"p":{"x-kubernetes-int-or-string":true,
              "anyOf":[{"type":"integer"},{"type":"string"}]}}})"),
            p)
            .empty());

  errs = texts(k3dpp::schema::structural_errors(
      json::parse(R"({"type":"object","properties":{"s":{"type":"string","pattern":"(unclosed"}}})"), p));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].rfind(p + ".properties[s].pattern: Invalid value: \"(unclosed\": must be a valid regular expression, but isn't: ", 0) == 0);

  errs = texts(k3dpp::schema::structural_errors(json::parse(R"({"type":"object","properties":{"e":{"type":"thing"}}})"), p));
  CHECK(errs == std::vector<std::string>{p + ".properties[e].type: Unsupported value: \"thing\": supported values: \"array\", "
                                             "\"boolean\", \"integer\", \"number\", \"object\", \"string\""});
}

TEST_CASE("pruning drops unknown fields and reports their paths") {
  auto s = compiled();
  json obj = json::parse(R"({"apiVersion":"stable.example.com/v1","kind":"CronTab",
    "metadata":{"name":"x","bogus":1},
    "spec":{"cronSpec":"* * * * */5","unknown":true,"extra":{"anything":{"goes":1}},
            "ports":[{"name":"http","zzz":1}],"labels":{"a":"b"},
            "template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"x":1}}},
    "top":1})");
  auto pruned = s->prune(obj);
  CHECK(pruned == std::vector<std::string>{"metadata.bogus", "spec.ports[0].zzz", "spec.unknown", "top"});
  CHECK_FALSE(obj.contains("top"));
  CHECK_FALSE(obj["spec"].contains("unknown"));
  CHECK(obj["spec"]["extra"]["anything"]["goes"] == 1);
  CHECK(obj["spec"]["template"]["spec"]["x"] == 1);
  CHECK(obj["spec"]["template"]["metadata"]["name"] == "p");
  CHECK(obj["apiVersion"] == "stable.example.com/v1");
}

TEST_CASE("defaults fill missing and non-nullable null fields, inside items too") {
  auto s = compiled();
  json obj = json::parse(R"({"spec":{"cronSpec":"* * * * *","mode":null,"ports":[{"name":"a"},{"name":"b","port":81}]}})");
  s->apply_defaults(obj);
  CHECK(obj["spec"]["replicas"] == 1);
  CHECK(obj["spec"]["mode"] == "Slow");
  CHECK(obj["spec"]["ports"][0]["port"] == 80);
  CHECK(obj["spec"]["ports"][1]["port"] == 81);
  CHECK_FALSE(obj.contains("status"));  // no default on status itself
}

TEST_CASE("validation messages are Kubernetes'") {
  auto s = compiled();
  json obj = json::parse(R"({"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"x"},
    "spec":{"cronSpec":"nope","image":"a","replicas":"three","mode":"Medium","port":1.5,
            "tags":["a","b","a"],"ports":[{"name":"h"},{"name":"h"}],"labels":{"k":1},
            "when":"yesterday","note":null}})");
  auto got = texts(s->validate(obj));
  std::vector<std::string> want = {
      R"(spec.cronSpec: Invalid value: "nope": spec.cronSpec in body should match '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$')",
      R"(spec.image: Invalid value: "a": spec.image in body should be at least 2 chars long)",
      R"(spec.labels.k: Invalid value: "integer": spec.labels.k in body must be of type string: "integer")",
      R"(spec.mode: Unsupported value: "Medium": supported values: "Fast", "Slow")",
      R"(spec.port: Invalid value: "number": spec.port in body must be of type integer,string: "number")",
      R"(spec.ports[1]: Duplicate value: map[string]interface {}{"name":"h"})",
      R"(spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string")",
      R"(spec.tags[2]: Duplicate value: "a")",
      R"(spec.tags: Too many: 3: must have at most 2 items)",
      R"(spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday")",
  };
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  CHECK(got == want);

  obj = json::parse(R"({"spec":{"replicas":0,"image":"abcdefghijkl"}})");
  got = texts(s->validate(obj));
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{
                   "spec.cronSpec: Required value",
                   "spec.image: Too long: may not be longer than 10",
                   "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
               });

  obj = json::parse(R"({"spec":{"cronSpec":"*/5 * * * *","port":"http","replicas":10,"when":"2026-12-07T22:00:00Z",
                               "ports":[{"name":"a"},{"name":"b"}],"tags":["x","y"]}})");
  CHECK(s->validate(obj).empty());
  obj["spec"]["port"] = 8080;
  CHECK(s->validate(obj).empty());
  obj["spec"]["replicas"] = 11;
  CHECK(texts(s->validate(obj)) ==
        std::vector<std::string>{"spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"});
}

TEST_CASE("a hostile pattern is bounded, not a crash or a hang") {
  json schema = json::parse(R"({"type":"object","properties":{"s":{"type":"string","pattern":"^(a+)+$"}}})");
  auto s = StructuralSchema::compile(schema);
  REQUIRE(s.has_value());
  json obj = {{"s", std::string(100000, 'a') + "b"}};
  auto errs = (*s)->validate(obj);
  CHECK(errs.size() == 1);
}

TEST_CASE("CRD validation") {
  json crd = json::parse(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"crontabs.stable.example.com"},
    "spec":{"group":"stable.example.com","scope":"Namespaced",
      "names":{"plural":"crontabs","kind":"CronTab","shortNames":["ct"]},
      "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object"}}}]}})");
  k3dpp::schema::default_crd(crd);
  CHECK(crd["spec"]["names"]["singular"] == "crontab");
  CHECK(crd["spec"]["names"]["listKind"] == "CronTabList");
  CHECK(crd["spec"]["conversion"]["strategy"] == "None");
  CHECK(k3dpp::schema::validate_crd(crd).empty());

  json bad = crd;
  bad["metadata"]["name"] = "crontab.stable.example.com";
  CHECK(texts(k3dpp::schema::validate_crd(bad)) ==
        std::vector<std::string>{R"(metadata.name: Invalid value: "crontab.stable.example.com": must be spec.names.plural+"."+spec.group)"});

  bad = crd;
  bad["spec"]["group"] = "apps";
  bad["metadata"]["name"] = "crontabs.apps";
  CHECK(texts(k3dpp::schema::validate_crd(bad)) ==
        std::vector<std::string>{R"(spec.group: Invalid value: "apps": should be a domain with at least one dot)"});

  bad = crd;
  bad["spec"]["versions"][0]["storage"] = false;
  auto t = texts(k3dpp::schema::validate_crd(bad));
  REQUIRE(t.size() == 1);
  CHECK(t[0].find("must have exactly one version marked as storage version") != std::string::npos);

  bad = crd;
  bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = json::parse(R"({"type":"object","properties":{"spec":{}}})");
  CHECK(texts(k3dpp::schema::validate_crd(bad)) ==
        std::vector<std::string>{"spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must "
                                 "not be empty for specified object fields"});

  bad = crd;
  bad["spec"]["group"] = "stable.k8s.io";
  bad["metadata"]["name"] = "crontabs.stable.k8s.io";
  CHECK(texts(k3dpp::schema::validate_crd(bad)) ==
        std::vector<std::string>{"metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must "
                                 "have approval annotation \"api-approved.kubernetes.io\", see "
                                 "https://github.com/kubernetes/enhancements/pull/1111"});

  json upd = crd;
  upd["spec"]["names"]["plural"] = "crontabz";
  upd["metadata"]["name"] = "crontabz.stable.example.com";
  auto ut = texts(k3dpp::schema::validate_crd(upd, crd));
  CHECK(std::find(ut.begin(), ut.end(), R"(spec.names.plural: Invalid value: "crontabz": field is immutable)") != ut.end());
}

TEST_CASE("CEL rules are reported as not evaluated") {
  json schema = json::parse(R"({"type":"object","properties":{"spec":{"type":"object",
    "x-kubernetes-validations":[{"rule":"self.a > 0"}],"properties":{"a":{"type":"integer"}}}}})");
  auto w = k3dpp::schema::cel_rule_warnings(schema, "spec.versions[0].schema.openAPIV3Schema");
  REQUIRE(w.size() == 1);
  CHECK(w[0].find("spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0]") == 0);
  CHECK(w[0].find("self.a > 0") != std::string::npos);
}

#include "node-image/schema/custom_types.h"

TEST_CASE("a registered CRD is served in discovery and OpenAPI until unregistered") {
  json crd = json::parse(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"crontabs.stable.example.com"},
    "spec":{"group":"stable.example.com","scope":"Namespaced",
      "names":{"plural":"crontabs","singular":"crontab","kind":"CronTab","listKind":"CronTabList","shortNames":["ct"],
               "categories":["all"]},
      "versions":[
        {"name":"v1beta1","served":true,"storage":false,"schema":{"openAPIV3Schema":{"type":"object"}}},
        {"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object",
          "properties":{"spec":{"type":"object","properties":{"replicas":{"type":"integer"}}}}}},
         "subresources":{"status":{},"scale":{"specReplicasPath":".spec.replicas","statusReplicasPath":".status.replicas"}},
         "additionalPrinterColumns":[{"name":"Replicas","type":"integer","jsonPath":".spec.replicas"}]},
        {"name":"v0","served":false,"storage":false,"schema":{"openAPIV3Schema":{"type":"object"}}}]}})");
  REQUIRE(k3dpp::schema::register_custom_resource(crd).empty());
  const auto* t = k3dpp::schema::find_by_plural("stable.example.com", "v1", "crontabs");
  REQUIRE(t);
  REQUIRE(t->custom);
  CHECK(t->kind == "CronTab");
  CHECK(t->find_subresource("status"));
  CHECK(t->find_subresource("scale"));
  CHECK(t->custom->columns.size() == 1);
  CHECK(k3dpp::schema::find_by_plural("stable.example.com", "v0", "crontabs") == nullptr);
  CHECK(k3dpp::schema::find_by_kind("stable.example.com/v1beta1", "CronTab"));

  auto group = k3dpp::schema::discovery_legacy_group("stable.example.com");
  REQUIRE(group);
  CHECK((*group)["preferredVersion"]["version"] == "v1");
  CHECK((*group)["versions"].size() == 2);
  auto list = k3dpp::schema::discovery_resource_list("stable.example.com", "v1");
  REQUIRE(list);
  CHECK((*list)["resources"][0]["name"] == "crontabs");
  CHECK((*list)["resources"][0]["shortNames"] == json::array({"ct"}));
  CHECK((*list)["resources"].size() == 3);  // crontabs, crontabs/status, crontabs/scale
  auto agg = k3dpp::schema::discovery_aggregated_groups();
  bool found = false;
  for (const auto& g : agg["items"])
    if (g["metadata"]["name"] == "stable.example.com") {
      found = true;
      CHECK(g["versions"][0]["version"] == "v1");
      CHECK(g["versions"][1]["version"] == "v1beta1");
    }
  CHECK(found);
  auto doc = k3dpp::schema::openapi_v3_group_version("apis/stable.example.com/v1");
  REQUIRE(doc);
  const json& s = (*doc)["components"]["schemas"]["com.example.stable.v1.CronTab"];
  CHECK(s["properties"]["spec"]["properties"]["replicas"]["type"] == "integer");
  CHECK(s["x-kubernetes-group-version-kind"][0]["kind"] == "CronTab");
  CHECK(k3dpp::schema::openapi_v3_root()["paths"].contains("apis/stable.example.com/v1"));

  k3dpp::schema::unregister_custom_resource("crontabs.stable.example.com");
  CHECK(k3dpp::schema::find_by_plural("stable.example.com", "v1", "crontabs") == nullptr);
  CHECK_FALSE(k3dpp::schema::discovery_legacy_group("stable.example.com"));
  CHECK_FALSE(k3dpp::schema::openapi_v3_root()["paths"].contains("apis/stable.example.com/v1"));
}

#include <filesystem>
#include <fstream>
#include <sstream>

#include "node-image/apimachinery/yaml.h"

TEST_CASE("cert-manager's CRD bundle is valid and structural") {
  namespace fs = std::filesystem;
  fs::path dir = K3DPP_CERT_MANAGER_CRDS;
  int n = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().filename().string().find("cert-manager.io_") == std::string::npos) continue;
    std::ifstream in(f.path());
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.rfind("---\n", 0) == 0) text = text.substr(4);
    auto crd = k3dpp::apimachinery::yaml_to_json(text);
    REQUIRE_MESSAGE(crd.has_value(), f.path().string());
    json obj = *crd;
    k3dpp::schema::default_crd(obj);
    auto errs = texts(k3dpp::schema::validate_crd(obj));
    CHECK_MESSAGE(errs.empty(), f.path().filename().string() << ": " << (errs.empty() ? "" : errs[0]));
    for (const auto& v : obj["spec"]["versions"]) {
      auto s = StructuralSchema::compile(v["schema"]["openAPIV3Schema"]);
      CHECK(s.has_value());
    }
    ++n;
  }
  CHECK(n == 6);
}

#include <random>

namespace {
// A random JSON value of bounded depth, biased towards schema keywords and odd types.
json random_value(std::mt19937& rng, int depth) {
  static const std::vector<std::string> keys = {
      "type", "properties", "items", "additionalProperties", "required", "enum", "default", "minimum",
      "maximum", "pattern", "format", "nullable", "anyOf", "allOf", "oneOf", "not", "minLength", "maxLength",
      "minItems", "maxItems", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
      "x-kubernetes-embedded-resource", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "metadata",
      "spec", "a", "uniqueItems", "multipleOf", "exclusiveMinimum", "x-kubernetes-validations"};
  static const std::vector<json> scalars = {"object", "array", "string", "integer", "number", "boolean", "map",
                                            "set", "(", "^a+$", "date-time", 0, -1, 1.5, 1e300, true, false,
                                            nullptr, "x", json::array(), json::object()};
  int pick = static_cast<int>(rng() % 10);
  if (depth <= 0 || pick < 4) return scalars[rng() % scalars.size()];
  if (pick < 6) {
    json a = json::array();
    for (unsigned i = 0; i < rng() % 4; ++i) a.push_back(random_value(rng, depth - 1));
    return a;
  }
  json o = json::object();
  for (unsigned i = 0; i < rng() % 6; ++i) o[keys[rng() % keys.size()]] = random_value(rng, depth - 1);
  return o;
}
}  // namespace

TEST_CASE("random schemas and objects: no exception, no crash") {
  std::mt19937 rng(16);
  for (int i = 0; i < 3000; ++i) {
    json schema = random_value(rng, 5);
    json obj = random_value(rng, 5);
    CHECK_NOTHROW((void)k3dpp::schema::structural_errors(schema, "s"));
    CHECK_NOTHROW((void)k3dpp::schema::cel_rule_warnings(schema, "s"));
    auto s = StructuralSchema::compile(schema);
    if (!s) continue;
    CHECK_NOTHROW((void)(*s)->prune(obj));
    CHECK_NOTHROW((*s)->apply_defaults(obj));
    CHECK_NOTHROW((void)(*s)->validate(obj));
    json crd = {{"metadata", random_value(rng, 2)}, {"spec", random_value(rng, 4)}};
    CHECK_NOTHROW(k3dpp::schema::default_crd(crd));
    CHECK_NOTHROW((void)k3dpp::schema::validate_crd(crd, random_value(rng, 2)));
  }
}
