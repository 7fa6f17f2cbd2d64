#include <doctest/doctest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "node-image/apimachinery/protobuf.h"

using nlohmann::json;
using namespace k3dpp::apimachinery;

namespace {

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(K3DPP_APIM_FIXTURES) + "/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing fixture " << name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Go's JSON renders a zero metav1.Time as null; the decoder leaves it out.
void drop_null_timestamps(json& v) {
  if (v.is_object()) {
    if (v.contains("creationTimestamp") && v["creationTimestamp"].is_null()) v.erase("creationTimestamp");
    for (auto& [k, x] : v.items()) drop_null_timestamps(x);
  } else if (v.is_array()) {
    for (auto& x : v) drop_null_timestamps(x);
  }
}

// --- a tiny protobuf writer for hand-built bodies ---
std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string tag(uint32_t field, uint32_t wire) { return varint((static_cast<uint64_t>(field) << 3) | wire); }
std::string bytes_field(uint32_t field, const std::string& data) {
  return tag(field, 2) + varint(data.size()) + data;
}
std::string varint_field(uint32_t field, uint64_t v) { return tag(field, 0) + varint(v); }
std::string map_entry(uint32_t field, const std::string& k, const std::string& v) {
  return bytes_field(field, bytes_field(1, k) + bytes_field(2, v));
}
std::string envelope(const std::string& api_version, const std::string& kind, const std::string& raw) {
  std::string type_meta = bytes_field(1, api_version) + bytes_field(2, kind);
  return std::string(kProtobufMagic) + bytes_field(1, type_meta) + bytes_field(2, raw) +
         bytes_field(3, "") + bytes_field(4, "");
}

json decode_ok(const std::string& body) {
  auto r = decode_protobuf_object(body);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return *r;
}

const char* const kFixtures[] = {
    "namespace", "configmap", "configmap-binary", "deployment", "deployment-port",
    "service-clusterip", "service-nodeport", "service-externalname", "secret-generic",
    "secret-docker-registry", "serviceaccount", "job", "cronjob"};

}  // namespace

TEST_CASE("real kubectl protobuf bodies decode to what kubectl would send as JSON") {
  for (const char* name : kFixtures) {
    CAPTURE(name);
    std::string body = read_fixture(std::string(name) + ".pb");
    CHECK(is_protobuf_envelope(body));
    json want = json::parse(read_fixture(std::string(name) + ".json"));
    drop_null_timestamps(want);
    CHECK(decode_ok(body) == want);
  }
}

TEST_CASE("envelope fields") {
  auto env = decode_protobuf_envelope(read_fixture("deployment.pb"));
  REQUIRE(env);
  CHECK(env->api_version == "apps/v1");
  CHECK(env->kind == "Deployment");
  CHECK(env->content_encoding.empty());
  CHECK_FALSE(env->raw.empty());
}

TEST_CASE("hand-built Namespace with labels and annotations") {
  std::string meta = bytes_field(1, "team-a") + bytes_field(2, "") + map_entry(11, "env", "dev") +
                     map_entry(11, "team", "a") + map_entry(12, "note", "hello world");
  std::string ns = bytes_field(1, meta) + bytes_field(2, "") + bytes_field(3, "");
  json got = decode_ok(envelope("v1", "Namespace", ns));
  CHECK(got == json::parse(R"({"apiVersion":"v1","kind":"Namespace",
    "metadata":{"name":"team-a","labels":{"env":"dev","team":"a"},"annotations":{"note":"hello world"}},
    "spec":{},"status":{}})"));
}

TEST_CASE("hand-built ConfigMap with data, binaryData and immutable") {
  std::string cm = bytes_field(1, bytes_field(1, "cfg") + bytes_field(3, "prod")) +
                   map_entry(2, "a.txt", "line1\nline2") + map_entry(3, "blob", std::string("\x00\xff", 2)) +
                   varint_field(4, 1);
  json got = decode_ok(envelope("v1", "ConfigMap", cm));
  CHECK(got == json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"prod"},
    "data":{"a.txt":"line1\nline2"},"binaryData":{"blob":"AP8="},"immutable":true})"));
}

TEST_CASE("hand-built Deployment: pointer zeros, times, IntOrString, negatives, unknown fields") {
  // Container {1 name, 2 image, 6 ports {3 containerPort, 4 protocol}}
  std::string container = bytes_field(1, "app") + bytes_field(2, "nginx:1.25") +
                          bytes_field(6, varint_field(3, 80) + bytes_field(4, "TCP")) +
                          tag(99, 5) + std::string("abcd") +  // unknown fixed32
                          tag(98, 1) + std::string("abcdefgh");  // unknown fixed64
  // PodSpec {2 containers, 3 restartPolicy, 4 terminationGracePeriodSeconds}
  std::string pod_spec = bytes_field(2, container) + bytes_field(3, "Always") + varint_field(4, 0);
  std::string tmpl = bytes_field(1, bytes_field(11, bytes_field(1, "app") + bytes_field(2, "web"))) +
                     bytes_field(2, pod_spec);
  // DeploymentStrategy {1 type, 2 rollingUpdate {1 maxUnavailable, 2 maxSurge}}
  std::string int_or_string_str = varint_field(1, 1) + bytes_field(3, "25%");
  std::string int_or_string_int = varint_field(1, 0) + varint_field(2, 1);
  std::string strategy = bytes_field(1, "RollingUpdate") +
                         bytes_field(2, bytes_field(1, int_or_string_str) + bytes_field(2, int_or_string_int));
  // DeploymentSpec {1 replicas (pointer, explicit 0), 3 template, 4 strategy, 5 minReadySeconds -1}
  std::string spec = varint_field(1, 0) + bytes_field(3, tmpl) + bytes_field(4, strategy) +
                     varint_field(5, static_cast<uint64_t>(-1LL)) + bytes_field(77, "ignored");
  // ObjectMeta {1 name, 7 generation 0 (omitted), 8 creationTimestamp, 14 finalizers}
  std::string meta = bytes_field(1, "web") + varint_field(7, 0) +
                     bytes_field(8, varint_field(1, 1700000000) + varint_field(2, 0)) +
                     bytes_field(14, "a") + bytes_field(14, "b");
  json got = decode_ok(envelope("apps/v1", "Deployment", bytes_field(1, meta) + bytes_field(2, spec)));
  CHECK(got == json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","creationTimestamp":"2023-11-14T22:13:20Z","finalizers":["a","b"]},
    "spec":{"replicas":0,"minReadySeconds":-1,
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":1}},
      "template":{"metadata":{"labels":{"app":"web"}},"spec":{"restartPolicy":"Always",
        "terminationGracePeriodSeconds":0,
        "containers":[{"name":"app","image":"nginx:1.25","ports":[{"containerPort":80,"protocol":"TCP"}]}]}}}})"));
}

TEST_CASE("Pod with volumes, env sources and probes flattens inline structs") {
  // Volume {1 name, 2 VolumeSource{2 emptyDir{}}} ; EnvVar {1 name, 3 valueFrom{2 configMapKeyRef{1 LocalObjectReference{1 name}, 2 key}}}
  std::string volume = bytes_field(1, "scratch") + bytes_field(2, bytes_field(2, ""));
  std::string env = bytes_field(1, "X") +
                    bytes_field(3, bytes_field(3, bytes_field(1, bytes_field(1, "cfg")) + bytes_field(2, "k")));
  // Probe {1 ProbeHandler{3 tcpSocket{1 port IntOrString}}, 2 initialDelaySeconds}
  std::string probe = bytes_field(1, bytes_field(3, bytes_field(1, varint_field(1, 0) + varint_field(2, 8080)))) +
                      varint_field(2, 5);
  std::string container = bytes_field(1, "c") + bytes_field(7, env) + bytes_field(10, probe);
  std::string spec = bytes_field(1, volume) + bytes_field(2, container);
  json got = decode_ok(envelope("v1", "Pod", bytes_field(1, bytes_field(1, "p")) + bytes_field(2, spec)));
  CHECK(got["spec"] == json::parse(R"({"volumes":[{"name":"scratch","emptyDir":{}}],
    "containers":[{"name":"c","env":[{"name":"X","valueFrom":{"configMapKeyRef":{"name":"cfg","key":"k"}}}],
      "livenessProbe":{"tcpSocket":{"port":8080},"initialDelaySeconds":5}}]})"));
}

TEST_CASE("errors: magic, truncation, unsupported kinds") {
  auto no_magic = decode_protobuf_object("{\"kind\":\"Namespace\"}");
  REQUIRE_FALSE(no_magic);
  CHECK(no_magic.error().kind == "BadRequest");
  CHECK(no_magic.error().message.find("k8s\\0 magic") != std::string::npos);

  std::string body = read_fixture("namespace.pb");
  auto truncated = decode_protobuf_object(body.substr(0, body.size() - 3));
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().kind == "BadRequest");
  CHECK(truncated.error().message.find("protobuf: ") == 0);

  auto unknown = decode_protobuf_object(envelope("rbac.authorization.k8s.io/v1", "Role", ""));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().kind == "UnsupportedMediaType");
  CHECK(unknown.error().message.find("rbac.authorization.k8s.io/v1, Kind=Role") != std::string::npos);

  std::string gz = std::string(kProtobufMagic) + bytes_field(1, bytes_field(1, "v1") + bytes_field(2, "Namespace")) +
                   bytes_field(3, "gzip");
  auto enc = decode_protobuf_object(gz);
  REQUIRE_FALSE(enc);
  CHECK(enc.error().message.find("content encoding") != std::string::npos);

  // A length that claims more than the body has.
  auto huge = decode_protobuf_object(std::string(kProtobufMagic) + tag(2, 2) + varint(1ULL << 62));
  REQUIRE_FALSE(huge);
  CHECK(huge.error().kind == "BadRequest");
  // Wire type 3 (group) is rejected, field 0 too.
  CHECK_FALSE(decode_protobuf_object(envelope("v1", "Namespace", tag(9, 3))));
  CHECK_FALSE(decode_protobuf_object(envelope("v1", "Namespace", std::string("\x00\x00", 2))));
  // Wrong wire type for a known string field.
  CHECK_FALSE(decode_protobuf_object(envelope("v1", "Namespace", bytes_field(1, varint_field(1, 5)))));
  CHECK(protobuf_supported_kinds().size() >= 10);
}

TEST_CASE("fuzz: truncations, bit flips and junk never crash") {
  std::mt19937 rng(12345);
  size_t decoded = 0, failed = 0;
  auto run = [&](const std::string& b) {
    auto r = decode_protobuf_object(b);
    if (r) {
      ++decoded;
      CHECK(r->is_object());
    } else {
      ++failed;
      bool known_kind = r.error().kind == "BadRequest" || r.error().kind == "UnsupportedMediaType";
      CHECK_MESSAGE(known_kind, r.error().kind << ": " << r.error().message);
    }
  };
  for (const char* name : kFixtures) {
    std::string body = read_fixture(std::string(name) + ".pb");
    for (size_t n = 0; n < body.size(); ++n) run(body.substr(0, n));
    for (int i = 0; i < 400; ++i) {
      std::string b = body;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        size_t pos = 4 + rng() % (b.size() - 4);  // keep the magic so the decoder goes deep
        b[pos] = static_cast<char>(b[pos] ^ (1u << (rng() % 8)));
      }
      run(b);
    }
    for (int i = 0; i < 100; ++i) {
      std::string b = body;
      size_t pos = 4 + rng() % (b.size() - 4);
      std::string junk;
      for (int j = 0, n = 1 + static_cast<int>(rng() % 16); j < n; ++j) junk += static_cast<char>(rng());
      b.insert(pos, junk);
      run(b);
    }
  }
  for (int i = 0; i < 500; ++i) {
    std::string b(kProtobufMagic);
    for (int j = 0, n = static_cast<int>(rng() % 64); j < n; ++j) b += static_cast<char>(rng());
    run(b);
  }
  CHECK(decoded > 0);
  CHECK(failed > 0);
}
