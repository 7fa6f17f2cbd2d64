// Body shape limits: JSON nesting depth (Go's 10,000) and YAML alias expansion.
#include <doctest/doctest.h>

#include <string>

#include "node-image/apimachinery/apimachinery.h"

using namespace k3dpp;
namespace am = k3dpp::apimachinery;
using json = nlohmann::json;

namespace {
std::string nested(size_t depth, const std::string& open = "{\"a\":", const std::string& close = "}") {
  std::string s;
  for (size_t i = 0; i < depth; ++i) s += open;
  s += "1";
  for (size_t i = 0; i < depth; ++i) s += close;
  return s;
}
}  // namespace

TEST_CASE("JSON text deeper than 10,000 levels is refused with Go's message") {
  CHECK_FALSE(am::json_text_depth_error(nested(10000)));
  auto e = am::json_text_depth_error(nested(10001));
  REQUIRE(e);
  CHECK(*e == "invalid character '{' exceeded max depth");
  CHECK(am::json_text_depth_error(nested(100000, "[", "]")) == "invalid character '[' exceeded max depth");
  // Brackets inside strings (escaped quotes included) do not count.
  std::string in_string = "{\"k\":\"" + std::string(20000, '[') + "\\\"" + std::string(20000, '{') + "\"}";
  CHECK_FALSE(am::json_text_depth_error(in_string));
}

TEST_CASE("a decoded tree deeper than the limit is detected without recursion") {
  json v = 1;
  for (int i = 0; i < 20000; ++i) v = json::array({std::move(v)});
  CHECK(am::json_depth_exceeds(v));
  CHECK_FALSE(am::json_depth_exceeds(v, 20000));
  CHECK_FALSE(am::json_depth_exceeds(json::parse(R"({"a":{"b":[1,2,{"c":3}]}})"), 4));
  CHECK(am::json_depth_exceeds(json::parse(R"({"a":{"b":[1,2,{"c":3}]}})"), 3));
}

TEST_CASE("a YAML alias bomb is refused, not expanded") {
  // 9 levels of 10 aliases each: 10^9 leaves if expanded.
  std::string y = "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    y += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) y += (j ? "," : "") + prev;
    y += "]\n";
  }
  auto r = am::yaml_to_json(y);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "yaml: document contains excessive aliasing");
  // Light aliasing (a manifest reusing a block) still works.
  auto ok = am::yaml_to_json("base: &b {app: web, tier: front}\none: *b\ntwo: *b\n");
  REQUIRE(ok);
  CHECK((*ok)["two"]["app"] == "web");
}

TEST_CASE("YAML plain scalars are typed without regex recursion, however long") {
  auto r = am::yaml_to_json("n: " + std::string(200000, '7') + "\n");
  REQUIRE(r);
  CHECK((*r)["n"].is_string());  // past a double's range: a string, as go-yaml resolves it
  auto big = am::yaml_to_json("n: 1" + std::string(30, '0') + "\n");
  REQUIRE(big);
  CHECK((*big)["n"].is_number_float());  // past int64 but a double: a float
  auto tiny = am::yaml_to_json("f: 1.5e-99999\n");
  REQUIRE(tiny);
  CHECK((*tiny)["f"] == 0.0);
  auto s = am::yaml_to_json("s: 12a" + std::string(200000, '3') + "\n");
  REQUIRE(s);
  CHECK((*s)["s"].is_string());
  auto typed = am::yaml_to_json("a: 12\nb: -0x1f\nc: 0x1f\nd: 0o17\ne: 1.5e3\nf: .5\ng: 1.\nh: 1e\ni: +7\n");
  REQUIRE(typed);
  CHECK((*typed)["a"] == 12);
  CHECK((*typed)["b"] == "-0x1f");
  CHECK((*typed)["c"] == 31);
  CHECK((*typed)["d"] == 15);
  CHECK((*typed)["e"] == 1500.0);
  CHECK((*typed)["f"] == 0.5);
  CHECK((*typed)["g"] == 1.0);
  CHECK((*typed)["h"] == "1e");
  CHECK((*typed)["i"] == 7);
}
