// Server-side apply and managedFields: FieldsV1 encoding, field sets, apply merge by list type,
// conflicts with Kubernetes' message, force, removal of fields no longer applied, Update
// bookkeeping, before-first-apply.
#include <doctest/doctest.h>

#include "node-image/apimachinery/managed_fields.h"

using namespace k3dpp::apimachinery;
using json = nlohmann::json;

namespace {

WriteContext ctx(const std::string& manager, const std::string& kind = "Deployment",
                 const std::string& api_version = "apps/v1") {
  return WriteContext{manager, api_version, "", "2026-12-07T22:00:00Z", builtin_list_types(kind)};
}

json deployment(int replicas, const std::string& image) {
  return json{{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata", {{"name", "web"}, {"namespace", "default"}, {"labels", {{"app", "web"}}}}},
              {"spec",
               {{"replicas", replicas},
                {"selector", {{"matchLabels", {{"app", "web"}}}}},
                {"template",
                 {{"metadata", {{"labels", {{"app", "web"}}}}},
                  {"spec", {{"containers", json::array({{{"name", "nginx"}, {"image", image}}})}}}}}}}};
}

const json* entry(const json& obj, const std::string& manager, const std::string& op) {
  for (const auto& e : obj["metadata"]["managedFields"])
    if (e["manager"] == manager && e["operation"] == op) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("FieldsV1 round trip and path strings") {
  json f = json::parse(R"({"f:metadata":{"f:labels":{".":{},"f:app":{}}},
    "f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{}}},
              "f:finalizers":{"v:\"x\"":{}}}})");
  FieldSet s = from_fields_v1(f);
  CHECK(to_fields_v1(s) == f);
  auto paths = s.paths();
  std::vector<std::string> texts;
  for (const auto& p : paths) texts.push_back(path_string(p));
  CHECK(texts == std::vector<std::string>{".metadata.labels", ".metadata.labels.app", ".spec.containers[name=\"nginx\"]",
                                          ".spec.containers[name=\"nginx\"].image",
                                          ".spec.containers[name=\"nginx\"].name", ".spec.finalizers[=\"x\"]"});
}

TEST_CASE("fields of an applied configuration follow list types") {
  FieldSet s = fields_of(deployment(2, "nginx:1.24"), builtin_list_types("Deployment"));
  json f = to_fields_v1(s);
  CHECK(f == json::parse(R"({"f:metadata":{"f:labels":{"f:app":{}}},
    "f:spec":{"f:replicas":{},"f:selector":{},
      "f:template":{"f:metadata":{"f:labels":{"f:app":{}}},
        "f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{}}}}}}})"));
}

TEST_CASE("two appliers: shared values, conflict, force") {
  auto a = server_side_apply(json(), deployment(2, "nginx:1.24"), ctx("alice"), false);
  REQUIRE(a.conflicts.empty());
  json live = a.object;
  CHECK(live["spec"]["replicas"] == 2);
  REQUIRE(entry(live, "alice", "Apply"));
  CHECK((*entry(live, "alice", "Apply"))["fieldsV1"]["f:spec"].contains("f:replicas"));

  // the same values from another manager: shared ownership, no conflict
  auto b = server_side_apply(live, deployment(2, "nginx:1.24"), ctx("bob"), false);
  REQUIRE(b.conflicts.empty());
  live = b.object;

  // bob changes replicas: alice owns it too → conflict
  auto c = server_side_apply(live, deployment(3, "nginx:1.24"), ctx("bob"), false);
  REQUIRE(c.conflicts.size() == 1);
  CHECK(c.conflict_message == "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas");
  CHECK(c.conflicts[0].path == ".spec.replicas");

  // two conflicting fields
  auto d = server_side_apply(live, deployment(3, "nginx:1.25"), ctx("bob"), false);
  REQUIRE(d.conflicts.size() == 2);
  CHECK(d.conflict_message ==
        "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .spec.replicas\n- "
        ".spec.template.spec.containers[name=\"nginx\"].image");

  // force: bob takes replicas, alice loses it
  auto e = server_side_apply(live, deployment(3, "nginx:1.24"), ctx("bob"), true);
  REQUIRE(e.conflicts.empty());
  live = e.object;
  CHECK(live["spec"]["replicas"] == 3);
  CHECK_FALSE((*entry(live, "alice", "Apply"))["fieldsV1"]["f:spec"].contains("f:replicas"));
  CHECK((*entry(live, "bob", "Apply"))["fieldsV1"]["f:spec"].contains("f:replicas"));
}

TEST_CASE("a field an applier stops applying is removed unless someone else owns it") {
  json cfg = deployment(2, "nginx:1.24");
  cfg["metadata"]["labels"]["tier"] = "front";
  {
    auto a = server_side_apply(json(), cfg, ctx("alice"), false);
    json live = a.object;
    CHECK(live["metadata"]["labels"]["tier"] == "front");
    // alice applies without the label: it goes
    auto b = server_side_apply(live, deployment(2, "nginx:1.24"), ctx("alice"), false);
    CHECK_FALSE(b.object["metadata"]["labels"].contains("tier"));
    // when bob also applied it, it stays (bob owns it)
    auto c = server_side_apply(live, cfg, ctx("bob"), false);
    REQUIRE(c.conflicts.empty());
    auto d = server_side_apply(c.object, deployment(2, "nginx:1.24"), ctx("alice"), false);
    CHECK(d.object["metadata"]["labels"]["tier"] == "front");
  }
}

TEST_CASE("list-map items merge by key: another manager's container stays") {
  auto a = server_side_apply(json(), deployment(1, "nginx:1.24"), ctx("alice"), false);
  json sidecar = deployment(1, "nginx:1.24");
  sidecar["spec"].erase("replicas");
  sidecar["spec"]["template"]["spec"]["containers"] = json::array({{{"name", "log"}, {"image", "busybox"}}});
  auto b = server_side_apply(a.object, sidecar, ctx("bob"), false);
  REQUIRE(b.conflicts.empty());
  const json& cs = b.object["spec"]["template"]["spec"]["containers"];
  REQUIRE(cs.size() == 2);
  CHECK(cs[0]["name"] == "nginx");
  CHECK(cs[1]["name"] == "log");
  // alice re-applies her manifest: bob's container is not hers to remove
  auto c = server_side_apply(b.object, deployment(1, "nginx:1.24"), ctx("alice"), false);
  CHECK(c.object["spec"]["template"]["spec"]["containers"].size() == 2);
  // bob drops his container: it goes
  json none = sidecar;
  none["spec"]["template"]["spec"].erase("containers");
  auto d = server_side_apply(c.object, none, ctx("bob"), false);
  CHECK(d.object["spec"]["template"]["spec"]["containers"].size() == 1);
}

TEST_CASE("updates take ownership of what they change; conflicts name them with their apiVersion") {
  auto a = server_side_apply(json(), deployment(2, "nginx:1.24"), ctx("alice"), false);
  json updated = a.object;
  updated["spec"]["replicas"] = 5;
  track_update(a.object, updated, ctx("kubectl-scale"));
  const json* scale = entry(updated, "kubectl-scale", "Update");
  REQUIRE(scale);
  CHECK((*scale)["fieldsV1"] == json::parse(R"({"f:spec":{"f:replicas":{}}})"));
  CHECK((*scale)["apiVersion"] == "apps/v1");
  CHECK_FALSE((*entry(updated, "alice", "Apply"))["fieldsV1"]["f:spec"].contains("f:replicas"));

  // alice applies replicas 2 again: the scaler owns it now
  auto b = server_side_apply(updated, deployment(2, "nginx:1.24"), ctx("alice"), false);
  REQUIRE(b.conflicts.size() == 1);
  CHECK(b.conflict_message ==
        "Apply failed with 1 conflict: conflict with \"kubectl-scale\" using apps/v1: .spec.replicas");
}

TEST_CASE("create records the creator; an object without managedFields gets before-first-apply") {
  json obj = deployment(1, "nginx:1.24");
  track_update(json(), obj, ctx("kubectl-create"));
  const json* c = entry(obj, "kubectl-create", "Update");
  REQUIRE(c);
  CHECK((*c)["fieldsV1"]["f:metadata"]["f:labels"].contains("."));
  CHECK((*c)["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"].contains("k:{\"name\":\"nginx\"}"));

  json legacy = deployment(1, "nginx:1.24");  // stored before managedFields were tracked
  auto a = server_side_apply(legacy, deployment(4, "nginx:1.24"), ctx("kubectl"), false);
  REQUIRE(a.conflicts.size() == 1);
  CHECK(a.conflicts[0].manager_text == "\"before-first-apply\" using apps/v1");
  auto f = server_side_apply(legacy, deployment(4, "nginx:1.24"), ctx("kubectl"), true);
  CHECK(f.object["spec"]["replicas"] == 4);
  CHECK(entry(f.object, "before-first-apply", "Update"));
}

TEST_CASE("set lists merge as sets") {
  json live = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "c"}, {"finalizers", {"a"}}}}};
  track_update(json(), live, ctx("creator", "ConfigMap", "v1"));
  json cfg = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "c"}, {"finalizers", {"b"}}}}};
  auto r = server_side_apply(live, cfg, ctx("x", "ConfigMap", "v1"), false);
  REQUIRE(r.conflicts.empty());
  CHECK(r.object["metadata"]["finalizers"] == json::array({"a", "b"}));
}

#include <random>

TEST_CASE("random objects and configurations: apply and update bookkeeping never throw") {
  std::mt19937 rng(16);
  auto rnd = [&](auto& self, int depth) -> json {
    static const std::vector<json> scalars = {"a", "b", 1, 2, true, nullptr, json::array(), json::object()};
    static const std::vector<std::string> keys = {"spec", "metadata", "containers", "name", "ports", "finalizers",
                                                  "labels", "selector", "image", "x"};
    int pick = static_cast<int>(rng() % 10);
    if (depth <= 0 || pick < 4) return scalars[rng() % scalars.size()];
    if (pick < 6) {
      json a = json::array();
      for (unsigned i = 0; i < rng() % 4; ++i) a.push_back(self(self, depth - 1));
      return a;
    }
    json o = json::object();
    for (unsigned i = 0; i < rng() % 5; ++i) o[keys[rng() % keys.size()]] = self(self, depth - 1);
    return o;
  };
  for (int i = 0; i < 2000; ++i) {
    json live = rnd(rnd, 5), cfg = rnd(rnd, 5), now = rnd(rnd, 5);
    if (i % 3 == 0 && live.is_object()) live["metadata"] = {{"managedFields", rnd(rnd, 3)}};
    WriteContext c = ctx(i % 2 ? "a" : "b", i % 4 ? "Deployment" : "Pod");
    CHECK_NOTHROW((void)server_side_apply(live, cfg, c, i % 5 == 0));
    CHECK_NOTHROW(track_update(live, now, c));
    CHECK_NOTHROW((void)from_fields_v1(rnd(rnd, 4)));
  }
}
