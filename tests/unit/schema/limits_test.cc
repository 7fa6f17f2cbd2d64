// Hostile sizes: names, label values, keys far past their limits get Kubernetes' messages, in
// linear time (std::regex_match recursed per character and crashed the server on these), and
// status fields are typed like spec.
#include <doctest/doctest.h>

#include <algorithm>

#include "node-image/schema/schema.h"

using namespace k3dpp::schema;

namespace {
const ResourceType& type(const char* api_version, const char* kind) {
  const ResourceType* t = find_by_kind(api_version, kind);
  REQUIRE(t != nullptr);
  return *t;
}
bool has_message_ending(const std::vector<FieldCause>& cs, const std::string& field, const std::string& tail) {
  return std::any_of(cs.begin(), cs.end(), [&](const FieldCause& c) {
    return c.field == field && c.message.size() >= tail.size() &&
           c.message.compare(c.message.size() - tail.size(), tail.size(), tail) == 0;
  });
}
}  // namespace

TEST_CASE("a 200,000-character metadata.name is refused with the length message") {
  json cm = {{"metadata", {{"name", std::string(200000, 'a')}}}};
  auto c = validate_create(type("v1", "ConfigMap"), cm);
  REQUIRE(c.size() == 1);  // all lower-case letters: only the length rule fails, as in Kubernetes
  CHECK(has_message_ending(c, "metadata.name", ": must be no more than 253 characters"));
  // Invalid characters too: both messages, as Kubernetes' IsDNS1123Subdomain gives them.
  cm["metadata"]["name"] = std::string(200000, 'A');
  c = validate_create(type("v1", "ConfigMap"), cm);
  CHECK(c.size() == 2);
  // A namespace name is a label: 63.
  json ns = {{"metadata", {{"name", std::string(100000, 'x')}}}};
  CHECK(has_message_ending(validate_create(type("v1", "Namespace"), ns), "metadata.name",
                           ": must be no more than 63 characters"));
}

TEST_CASE("a 100,000-character label value and key are refused with the length messages") {
  json cm = {{"metadata", {{"name", "x"}, {"labels", {{"app", std::string(100000, 'v')}}}}}};
  auto c = validate_create(type("v1", "ConfigMap"), cm);
  REQUIRE(c.size() == 1);
  CHECK(has_message_ending(c, "metadata.labels", ": must be no more than 63 characters"));
  cm["metadata"]["labels"] = {{std::string(100000, 'k'), "v"}};
  c = validate_create(type("v1", "ConfigMap"), cm);
  CHECK(has_message_ending(c, "metadata.labels", ": name part must be no more than 63 characters"));
}

TEST_CASE("a 200,000-character ConfigMap data key is refused") {
  std::string key(200000, 'k');
  json cm = {{"metadata", {{"name", "x"}}}, {"data", {{key, "v"}}}};
  auto c = validate_create(type("v1", "ConfigMap"), cm);
  REQUIRE(c.size() == 1);
  CHECK(c[0].field == "data[" + key + "]");
  CHECK(has_message_ending(c, c[0].field, ": must be no more than 253 characters"));
}

TEST_CASE("annotations over 256 KiB in total are refused") {
  json cm = {{"metadata", {{"name", "x"}, {"annotations", {{"a", std::string(262144, 'v')}}}}}};
  auto c = validate_create(type("v1", "ConfigMap"), cm);
  REQUIRE(c.size() == 1);
  CHECK(c[0].reason == "FieldValueTooLong");
  CHECK(c[0].message == "Too long: may not be more than 262144 bytes");
  cm["metadata"]["annotations"] = {{"a", std::string(262000, 'v')}};
  CHECK(validate_create(type("v1", "ConfigMap"), cm).empty());
}

TEST_CASE("the hand-written name matchers agree with the patterns") {
  const auto& cm = type("v1", "ConfigMap");
  auto name_ok = [&](const std::string& n) { return validate_create(cm, {{"metadata", {{"name", n}}}}).empty(); };
  CHECK(name_ok("a"));
  CHECK(name_ok("a.b-c.d0"));
  CHECK(name_ok("0-a"));
  CHECK_FALSE(name_ok("a..b"));
  CHECK_FALSE(name_ok(".a"));
  CHECK_FALSE(name_ok("a."));
  CHECK_FALSE(name_ok("-a"));
  CHECK_FALSE(name_ok("a-"));
  CHECK_FALSE(name_ok("a.-b"));
  CHECK_FALSE(name_ok("aB"));
  CHECK_FALSE(name_ok("a_b"));
  auto label_ok = [&](const std::string& k, const std::string& v) {
    return validate_create(cm, {{"metadata", {{"name", "x"}, {"labels", {{k, v}}}}}}).empty();
  };
  CHECK(label_ok("app", ""));
  CHECK(label_ok("example.com/My_app.1", "A-b_c.D"));
  CHECK_FALSE(label_ok("app", "-a"));
  CHECK_FALSE(label_ok("app", "a b"));
  CHECK_FALSE(label_ok("/app", "a"));
  CHECK_FALSE(label_ok("a/b/c", "a"));
  CHECK_FALSE(label_ok("Example.com/app", "a"));
  auto key_ok = [&](const std::string& k) {
    return validate_create(cm, {{"metadata", {{"name", "x"}}}, {"data", {{k, "v"}}}}).empty();
  };
  CHECK(key_ok("key.name"));
  CHECK(key_ok("KEY_NAME-1"));
  CHECK_FALSE(key_ok("a/b"));
  CHECK_FALSE(key_ok(".."));
  CHECK_FALSE(key_ok("..a"));
}

TEST_CASE("status is typed like spec: a number for pod phase is a decode error") {
  const auto& pod = type("v1", "Pod");
  json p = {{"metadata", {{"name", "x"}}}, {"status", {{"phase", 5}}}};
  auto e = decode_type_error(pod, p);
  REQUIRE(e);
  CHECK(*e ==
        "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field "
        "PodStatus.status.phase of type v1.PodPhase");
  p["status"] = {{"conditions", {{{"type", "Ready"}, {"status", true}}}}};
  e = decode_type_error(pod, p);
  REQUIRE(e);
  CHECK(e->find("PodCondition.status.conditions.status of type v1.ConditionStatus") != std::string::npos);
  p["status"] = {{"containerStatuses", {{{"name", "a"}, {"restartCount", "1"}}}}};
  CHECK(decode_type_error(pod, p));
  // What the kubelet writes decodes.
  p["status"] = json::parse(R"({"phase":"Running","hostIP":"172.18.0.2","podIPs":[{"ip":"10.42.0.5"}],
    "startTime":"2026-12-07T10:00:00Z","qosClass":"BestEffort","conditions":[{"type":"Ready","status":"True",
    "lastProbeTime":null,"lastTransitionTime":"2026-12-07T10:00:01Z"}],"containerStatuses":[{"name":"a",
    "ready":true,"restartCount":0,"image":"nginx","imageID":"","containerID":"containerd://1","started":true,
    "state":{"running":{"startedAt":"2026-12-07T10:00:01Z"}},"lastState":{}}]})");
  CHECK_FALSE(decode_type_error(pod, p));
  json node = {{"metadata", {{"name", "n"}}}, {"status", {{"conditions", {{{"type", "Ready"}, {"status", 1}}}}}}};
  CHECK(decode_type_error(type("v1", "Node"), node));
  json deploy = {{"metadata", {{"name", "d"}}}, {"status", {{"replicas", "3"}}}};
  CHECK(decode_type_error(type("apps/v1", "Deployment"), deploy));
}
