// Termination messages: the file at terminationMessagePath, FallbackToLogsOnError, limits, and
// the epoch as startedAt for a container that never started.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "kubelet/pod_status.h"
#include "kubelet/termination.h"

using namespace k3dpp::kubelet;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path dir;
  TempDir() {
    char tmpl[] = "/tmp/k3dpp-termination-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void write(const std::string& rel, const std::string& content) const {
    fs::create_directories((dir / rel).parent_path());
    std::ofstream(dir / rel, std::ios::binary) << content;
  }
};

rt::ContainerStatus exited(int code, const std::string& policy = "File") {
  rt::ContainerStatus s;
  s.set_id("c1");
  s.set_state(rt::CONTAINER_EXITED);
  s.set_exit_code(code);
  (*s.mutable_annotations())["io.kubernetes.container.terminationMessagePath"] = "/dev/termination-log";
  (*s.mutable_annotations())["io.kubernetes.container.terminationMessagePolicy"] = policy;
  auto* m = s.add_mounts();
  m->set_container_path("/dev/termination-log");
  m->set_host_path("/pods/u1/containers/app/termination-0");
  s.set_log_path("/logs/app/0.log");
  return s;
}

std::string cri_line(const std::string& msg, bool partial = false) {
  return "2024-05-01T10:00:00.000000001Z stdout " + std::string(partial ? "P " : "F ") + msg + "\n";
}

}  // namespace

TEST_CASE("termination file path per container attempt") {
  CHECK(termination_file_path("/var/lib/kubelet/pods", "u1", "app", 2) ==
        "/var/lib/kubelet/pods/u1/containers/app/termination-2");
}

TEST_CASE("the message the container wrote becomes the status message") {
  TempDir t;
  t.write("pods/u1/containers/app/termination-0", "bye-message\n");
  auto s = exited(4);
  add_termination_message(s, t.dir.string());
  CHECK(s.message() == "bye-message\n");
}

TEST_CASE("the runtime's own message comes first, joined with ': '") {
  TempDir t;
  t.write("pods/u1/containers/app/termination-0", "written");
  auto s = exited(128);
  s.set_message("exec failed");
  add_termination_message(s, t.dir.string());
  CHECK(s.message() == "exec failed: written");
}

TEST_CASE("at most 4096 bytes of the file are read") {
  TempDir t;
  t.write("pods/u1/containers/app/termination-0", std::string(5000, 'x'));
  auto s = exited(1);
  add_termination_message(s, t.dir.string());
  CHECK(s.message().size() == kMaxTerminationMessageBytes);
}

TEST_CASE("policy File: an empty file leaves the message empty even when the container failed") {
  TempDir t;
  t.write("pods/u1/containers/app/termination-0", "");
  t.write("logs/app/0.log", cri_line("boom"));
  auto s = exited(1);
  add_termination_message(s, t.dir.string());
  CHECK(s.message().empty());
}

TEST_CASE("FallbackToLogsOnError: a failed container's log tail, joined partial lines") {
  TempDir t;
  t.write("pods/u1/containers/app/termination-0", "");
  t.write("logs/app/0.log", cri_line("first") + cri_line("sec", true) + cri_line("ond") + "garbage line\n" +
                                cri_line("third"));
  auto s = exited(2, "FallbackToLogsOnError");
  add_termination_message(s, t.dir.string());
  CHECK(s.message() == "first\nsecond\nthird\n");

  auto ok = exited(0, "FallbackToLogsOnError");  // success: never the logs
  add_termination_message(ok, t.dir.string());
  CHECK(ok.message().empty());
}

TEST_CASE("FallbackToLogsOnError: last 80 lines, at most 2048 bytes") {
  TempDir t;
  std::string log;
  for (int i = 0; i < 100; ++i) log += cri_line("line " + std::to_string(i));
  t.write("logs/app/0.log", log);
  std::string tail = tail_of_cri_log((t.dir / "logs/app/0.log").string(), kMaxTerminationLogLines, 100000);
  CHECK(tail.rfind("line 20\n", 0) == 0);
  CHECK(tail.size() == 80 * 8);  // "line NN\n"
  std::string cut = tail_of_cri_log((t.dir / "logs/app/0.log").string(), 80, 16);
  CHECK(cut == "line 98\nline 99\n");
  CHECK(tail_of_cri_log((t.dir / "missing.log").string(), 80, 2048).empty());
}

TEST_CASE("running containers are left alone") {
  TempDir t;
  t.write("pods/u1/containers/app/termination-0", "not yet");
  auto s = exited(0);
  s.set_state(rt::CONTAINER_RUNNING);
  add_termination_message(s, t.dir.string());
  CHECK(s.message().empty());
}

TEST_CASE("terminated state: message shown, startedAt the epoch when the container never started") {
  rt::ContainerStatus s = exited(128);
  s.mutable_metadata()->set_name("app");
  s.set_reason("StartError");
  s.set_message("exec: \"nosuchcmd\": executable file not found in $PATH");
  s.set_finished_at(1714557600LL * 1000000000LL);
  ContainerInfo ci;
  ci.current = s;
  json st = container_status({{"name", "app"}, {"image", "busybox"}}, ci, false, "default", "web");
  const json& term = st["state"]["terminated"];
  CHECK(term["startedAt"] == "1970-01-01T00:00:00Z");
  CHECK(term["reason"] == "StartError");
  CHECK(term["exitCode"] == 128);
  CHECK(term["message"] == "exec: \"nosuchcmd\": executable file not found in $PATH");
}
