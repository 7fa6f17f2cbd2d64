#include <doctest/doctest.h>

#include "node-image/apimachinery/selectors.h"

using nlohmann::json;
using namespace k3dpp::apimachinery;

namespace {
LabelSelector ls(const char* s) {
  auto r = LabelSelector::parse(s);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return *r;
}
FieldSelector fs(const char* s) {
  auto r = FieldSelector::parse(s);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return *r;
}
const json kLabels = json::parse(R"({"app":"web","tier":"fe","env":"prod"})");
}  // namespace

TEST_CASE("label selector string forms") {
  CHECK(ls("app=web").matches(kLabels));
  CHECK(ls("app==web").matches(kLabels));
  CHECK_FALSE(ls("app=db").matches(kLabels));
  CHECK(ls("app!=db").matches(kLabels));
  CHECK(ls("missing!=x").matches(kLabels));
  CHECK(ls("tier in (fe, be)").matches(kLabels));
  CHECK_FALSE(ls("tier notin (fe)").matches(kLabels));
  CHECK(ls("missing notin (fe)").matches(kLabels));
  CHECK(ls("app").matches(kLabels));
  CHECK_FALSE(ls("!app").matches(kLabels));
  CHECK(ls("!nope").matches(kLabels));
  CHECK(ls(" app = web , env in (prod,dev) , !x ").matches(kLabels));
  CHECK_FALSE(ls("app=web,env=dev").matches(kLabels));
  CHECK(ls("x=").matches(json::object()) == false);
  CHECK(ls("x=").matches(json{{"x", ""}}));
  CHECK(ls("app.kubernetes.io/name=web").matches(json{{"app.kubernetes.io/name", "web"}}));
  CHECK(ls("").empty());
  CHECK(ls("").matches(kLabels));
  CHECK(ls("app=web").matches(json()) == false);
  CHECK(ls("!app").matches(json()));
}

TEST_CASE("label selector canonical string") {
  CHECK(ls("tier in (b,a),app=web,!z,y,k!=v,e==f,n notin (x)").to_string() ==
        "app=web,e==f,k!=v,n notin (x),tier in (a,b),y,!z");
  CHECK(ls("").to_string().empty());
}

TEST_CASE("label selector parse errors") {
  auto check_err = [](const char* s, const std::string& want) {
    auto r = LabelSelector::parse(s);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == "BadRequest");
    CHECK_MESSAGE(r.error().message.find(want) != std::string::npos, r.error().message);
  };
  check_err("app in ()", "values set can't be empty");
  check_err("app in x", "unable to parse requirement: found 'x', expected: '('");
  check_err("=x", "unable to parse requirement: found '=', expected: identifier");
  check_err("a=b c", "found 'c', expected: ',' or 'end of string'");
  check_err("-bad=x", "invalid label key \"-bad\"");
  check_err("a=-x", "invalid label value: \"-x\"");
  check_err("a=b,", "expected: identifier after ','");
  check_err("a in (x", "unable to parse requirement");
  check_err("a b", "found 'b'");
}

TEST_CASE("metav1.LabelSelector JSON") {
  auto s = LabelSelector::from_json(json::parse(R"({"matchLabels":{"app":"web"},
     "matchExpressions":[{"key":"tier","operator":"In","values":["fe","be"]},
                         {"key":"gone","operator":"DoesNotExist"},{"key":"env","operator":"Exists"}]})"));
  REQUIRE(s);
  CHECK(s->matches(kLabels));
  CHECK(s->to_string() == "app=web,env,!gone,tier in (be,fe)");
  CHECK_FALSE(s->matches(json{{"app", "web"}}));
  auto empty = LabelSelector::from_json(json::object());
  REQUIRE(empty);
  CHECK(empty->empty());
  CHECK(empty->matches(kLabels));
  auto none = LabelSelector::from_json(json());
  REQUIRE(none);
  CHECK_FALSE(none->empty());
  CHECK_FALSE(none->matches(kLabels));
  auto bad = LabelSelector::from_json(json::parse(R"({"matchExpressions":[{"key":"a","operator":"Gt","values":["1"]}]})"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == "Invalid");
  CHECK_FALSE(LabelSelector::from_json(json::parse(R"({"matchExpressions":[{"key":"a","operator":"In"}]})")));
}

TEST_CASE("label key/value validation") {
  CHECK(validate_label_key("app").empty());
  CHECK(validate_label_key("kubernetes.io/hostname").empty());
  CHECK_FALSE(validate_label_key("Bad_Prefix/x").empty());
  CHECK_FALSE(validate_label_key(std::string(64, 'a')).empty());
  CHECK(validate_label_value("").empty());
  CHECK_FALSE(validate_label_value("a b").empty());
}

TEST_CASE("field selectors") {
  json pod = json::parse(R"({"metadata":{"name":"web-1","namespace":"default"},
    "spec":{"nodeName":"","schedulerName":"default-scheduler"},"status":{"phase":"Running"}})");
  CHECK(fs("metadata.name=web-1").matches(pod));
  CHECK(fs("metadata.name==web-1,metadata.namespace=default").matches(pod));
  CHECK_FALSE(fs("metadata.name!=web-1").matches(pod));
  CHECK(fs("status.phase!=Failed,status.phase!=Succeeded").matches(pod));
  CHECK(fs("spec.nodeName=").matches(pod));
  CHECK(fs("spec.missing=").matches(pod));
  CHECK_FALSE(fs("spec.missing=x").matches(pod));
  CHECK(fs("").matches(pod));
  CHECK(fs("").empty());
  json ev = json::parse(R"({"involvedObject":{"kind":"Pod","name":"web-1","uid":"u"},"type":"Normal","reason":"Pulled"})");
  CHECK(fs("involvedObject.kind=Pod,involvedObject.name=web-1,type=Normal").matches(ev));
  json node = json::parse(R"({"spec":{"unschedulable":true}})");
  CHECK(fs("spec.unschedulable=true").matches(node));
  auto sel = fs("b=1,a==x\\,y");
  REQUIRE(sel.requirements().size() == 2);
  CHECK(sel.requirements()[0].field == "a");
  CHECK(sel.requirements()[0].value == "x,y");
  CHECK(sel.requirements()[0].op == SelectorOp::kDoubleEquals);
  CHECK(sel.to_string() == "a==x\\,y,b=1");
  auto bad = FieldSelector::parse("metadata.name");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == "BadRequest");
  CHECK(bad.error().message == "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
  CHECK(field_value(pod, "metadata") == std::nullopt);
  CHECK(field_value(pod, "status.phase") == "Running");
}

TEST_CASE("field selectors per kind: supported labels, aliases, defaults") {
  auto pods = fs("spec.nodeName=node-1,status.phase!=Succeeded");
  CHECK(check_field_selector("Pod", pods));
  auto bad = check_field_selector("Pod", fs("spec.containers=x"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == "BadRequest");
  CHECK(bad.error().message == "field label not supported: spec.containers");
  CHECK(check_field_selector("Deployment", fs("metadata.name=web")));
  CHECK_FALSE(check_field_selector("Deployment", fs("spec.replicas=1")));
  CHECK(check_field_selector("Secret", fs("type=Opaque")));

  json ev = json::parse(R"({"source":{"component":"kubelet"},"type":"Warning"})");
  CHECK(fs("source=kubelet").matches(ev, "Event"));
  CHECK_FALSE(fs("source=kubelet").matches(ev));  // without the kind: plain path
  json pod = json::parse(R"({"spec":{}})");
  CHECK(fs("spec.hostNetwork=false").matches(pod, "Pod"));
  CHECK_FALSE(fs("spec.hostNetwork=true").matches(pod, "Pod"));
  CHECK(fs("status.replicas=0").matches(json::object(), "ReplicaSet"));
  CHECK(fs("status.replicas=2").matches(json::parse(R"({"status":{"replicas":2}})"), "ReplicaSet"));
}
