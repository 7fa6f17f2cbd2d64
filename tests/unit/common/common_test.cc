#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/files.h"
#include "common/result.h"
#include "common/strings.h"

using namespace k3dpp;

namespace {
Result<int> half(int x) {
  if (x % 2) return fail("odd: " + std::to_string(x), "Invalid");
  return x / 2;
}
Result<int> quarter(int x) {
  auto h = half(x);
  K3DPP_TRY(h);
  return half(*h);
}
}  // namespace

TEST_CASE("Result carries a value or an error, and K3DPP_TRY propagates") {
  CHECK(*quarter(8) == 2);
  auto r = quarter(6);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "odd: 3");
  CHECK(r.error().is("Invalid"));
  CHECK(r.error().wrap("quartering").message == "quartering: odd: 3");
}

TEST_CASE("strings") {
  CHECK(strings::split("a,b,,c", ',') == std::vector<std::string>{"a", "b", "", "c"});
  CHECK(strings::join({"a", "b"}, ", ") == "a, b");
  CHECK(strings::trim("  x y \n") == "x y");
  long long v = 0;
  CHECK(strings::parse_int("65535", v));
  CHECK(v == 65535);
  CHECK_FALSE(strings::parse_int("12a", v));
  CHECK_FALSE(strings::parse_int("", v));
  CHECK_FALSE(strings::parse_int("99999999999999999999999", v));
  auto s = strings::random_string(200, "ab");
  CHECK(s.size() == 200);
  CHECK(s.find_first_not_of("ab") == std::string::npos);
  CHECK(s.find('a') != std::string::npos);
  CHECK(strings::random_hex(16).size() == 32);
}

TEST_CASE("write_atomic writes with the requested mode and replaces the old file") {
  char dir[] = "/tmp/k3dpp-common-XXXXXX";
  REQUIRE(mkdtemp(dir));
  std::string path = std::string(dir) + "/cfg";
  REQUIRE(files::write_atomic(path, "one", 0600));
  REQUIRE(files::write_atomic(path, "two", 0600));
  CHECK(*files::read(path) == "two");
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(files::read(std::string(dir) + "/missing"));
  unlink(path.c_str());
  rmdir(dir);
}
