#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "kubelet/logs.h"

using namespace k3dpp;
using namespace k3dpp::kubelet;
namespace fs = std::filesystem;

namespace {

struct LogDir {
  std::string root = "/tmp/k3dpp-logs-test-" + std::to_string(::getpid());
  std::string dir = root + "/dev_web_uid-1/app";
  LogDir() {
    fs::remove_all(root);
    fs::create_directories(dir);
    write("0.log",
          "2024-05-01T10:00:00.000000001Z stdout F old attempt\n");
    write("1.log",
          "2024-05-01T10:00:01.5Z stdout F line one\n"
          "2024-05-01T10:00:02.000000000Z stderr F oops\n"
          "2024-05-01T10:00:03.000000000Z stdout P part-a \n"
          "2024-05-01T10:00:03.100000000Z stdout F part-b\n"
          "garbage line\n"
          "2024-05-01T10:00:04.000000000Z stdout F last\n");
  }
  ~LogDir() { fs::remove_all(root); }
  void write(const std::string& name, const std::string& content) { std::ofstream(dir + "/" + name) << content; }
  LogOptions opts() const {
    LogOptions o;
    o.log_root = root;
    return o;
  }
};

}  // namespace

TEST_CASE("parse CRI log lines") {
  auto e = parse_cri_log_line("2024-05-01T10:00:03.123456789Z stderr P hello world");
  REQUIRE(e);
  CHECK(e->stream == "stderr");
  CHECK(e->partial);
  CHECK(e->message == "hello world");
  CHECK(e->time_ns == 1714557603123456789LL);
  auto empty = parse_cri_log_line("2024-05-01T10:00:03Z stdout F ");
  REQUIRE(empty);
  CHECK(empty->message.empty());
  CHECK_FALSE(parse_cri_log_line("2024-05-01T10:00:03Z stdin F x"));
  CHECK_FALSE(parse_cri_log_line("yesterday stdout F x"));
  CHECK_FALSE(parse_cri_log_line("2024-05-01T10:00:03Z stdout X x"));
  auto off = parse_rfc3339_nanos("2024-05-01T12:00:00+02:00");
  REQUIRE(off);
  CHECK(*off == 1714557600LL * 1000000000LL);
}

TEST_CASE("read_container_log: whole, tail, since, timestamps, previous, limit") {
  LogDir d;
  auto all = read_container_log("dev", "web", "app", d.opts());
  REQUIRE(all);
  CHECK(*all == "line one\noops\npart-a part-b\nlast\n");

  auto o = d.opts();
  o.tail_lines = 2;
  CHECK(*read_container_log("dev", "web", "app", o) == "part-a part-b\nlast\n");
  o.tail_lines = 0;
  CHECK(read_container_log("dev", "web", "app", o)->empty());

  o = d.opts();
  o.since_ns = *parse_rfc3339_nanos("2024-05-01T10:00:02Z");
  CHECK(*read_container_log("dev", "web", "app", o) == "oops\npart-a part-b\nlast\n");

  o = d.opts();
  o.timestamps = true;
  o.tail_lines = 1;
  CHECK(*read_container_log("dev", "web", "app", o) == "2024-05-01T10:00:04.000000000Z last\n");

  o = d.opts();
  o.previous = true;
  CHECK(*read_container_log("dev", "web", "app", o) == "old attempt\n");

  o = d.opts();
  o.limit_bytes = 6;
  CHECK(*read_container_log("dev", "web", "app", o) == "line o");

  auto missing = read_container_log("dev", "web", "nope", d.opts());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().is("NotFound"));
  CHECK(missing.error().message == "container \"nope\" in pod \"web\" has no logs");
  auto nopod = read_container_log("dev", "other", "app", d.opts());
  REQUIRE_FALSE(nopod);
  CHECK(nopod.error().is("NotFound"));
}

TEST_CASE("read_container_log: previous without an earlier attempt") {
  LogDir d;
  fs::remove(d.dir + "/0.log");
  auto o = d.opts();
  o.previous = true;
  auto r = read_container_log("dev", "web", "app", o);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "previous terminated container \"app\" in pod \"web\" not found");
}

TEST_CASE("read_container_log: follow sees appended lines, ends when told") {
  LogDir d;
  auto o = d.opts();
  o.follow = true;
  o.tail_lines = 1;
  std::atomic<bool> keep{true};
  o.keep_following = [&] { return keep.load(); };
  std::string got;
  std::mutex mu;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    std::ofstream f(d.dir + "/1.log", std::ios::app);
    f << "2024-05-01T10:00:05.000000000Z stdout F appended";
    f.flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    f << "\n";
    f.flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    keep = false;
  });
  auto st = read_container_log("dev", "web", "app", o, [&](std::string_view s) {
    std::lock_guard lk(mu);
    got.append(s);
    return true;
  });
  writer.join();
  REQUIRE(st);
  CHECK(got == "last\nappended\n");
}

TEST_CASE("log options from the logs subresource query") {
  std::string c;
  long long now = *parse_rfc3339_nanos("2024-05-01T10:00:00Z");
  auto o = log_options_from_query({{"container", "app"}, {"follow", "true"}, {"tailLines", "10"},
                                   {"timestamps", "true"}, {"sinceSeconds", "60"}, {"limitBytes", "100"}},
                                  c, now);
  REQUIRE(o);
  CHECK(c == "app");
  CHECK(o->follow);
  CHECK(o->timestamps);
  CHECK_FALSE(o->previous);
  CHECK(*o->tail_lines == 10);
  CHECK(*o->limit_bytes == 100);
  CHECK(*o->since_ns == *parse_rfc3339_nanos("2024-05-01T09:59:00Z"));
  auto t = log_options_from_query({{"sinceTime", "2024-05-01T09:00:00Z"}, {"previous", "true"}}, c, now);
  REQUIRE(t);
  CHECK(c.empty());
  CHECK(t->previous);
  CHECK(*t->since_ns == *parse_rfc3339_nanos("2024-05-01T09:00:00Z"));
  auto bad = log_options_from_query({{"tailLines", "x"}}, c, now);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "invalid value \"x\" for tailLines");
  CHECK(bad.error().is("BadRequest"));
  CHECK_FALSE(log_options_from_query({{"sinceSeconds", "0"}}, c, now));
  auto both = log_options_from_query({{"sinceSeconds", "5"}, {"sinceTime", "2024-05-01T09:00:00Z"}}, c, now);
  REQUIRE_FALSE(both);
  CHECK(both.error().message == "at most one of sinceTime or sinceSeconds may be specified");
}
