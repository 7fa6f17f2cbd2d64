// Server side of Kubernetes remotecommand (exec/attach) on an upgraded connection:
// v5.channel.k8s.io over websocket (channel byte per binary message) or v4.channel.k8s.io over
// SPDY/3.1 (one stream per `streamtype`: error, stdin, stdout, stderr, resize).
// The caller (API server proxy, kubelet) reads stdin, writes stdout/stderr, gets resize events and
// ends with finish(exit_code), which sends the final Status and closes the protocol properly.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "httpserver/http.h"
#include "streams/upgrade.h"

namespace k3dpp::streams {

struct ExecOptions {
  bool stdin = false;
  bool stdout = true;
  bool stderr = true;
  bool tty = false;
  std::vector<std::string> command;
  std::string container;
};

// From the query of …/exec or …/attach (command=…&container=…&stdin=true&stdout=true&stderr=true&tty=true).
// Flags default to false when absent, as kubectl sends only the true ones.
ExecOptions exec_options_from_request(const http::Request& request);

struct TerminalSize {
  uint16_t width = 0;
  uint16_t height = 0;
  bool operator==(const TerminalSize&) const = default;
};
// Parses {"Width":W,"Height":H}.
Result<TerminalSize> parse_terminal_size(std::string_view json);

// The final Status JSON the client receives on the error channel/stream.
std::string exit_status_json(int exit_code);
std::string failure_status_json(std::string_view message);

class ExecSession {
 public:
  // Starts the protocol on an upgraded connection. With SPDY it waits up to stream_timeout for the
  // streams the options call for (error always; stdin, stdout, stderr unless tty, resize if tty).
  // `pending`: bytes already read after the upgrade.
  static Result<std::unique_ptr<ExecSession>> start(http::Conn& conn, Transport transport, const ExecOptions& options,
                                                    std::chrono::milliseconds stream_timeout = std::chrono::seconds(30));
  ~ExecSession();

  // stdin: blocks; 0 on EOF (client closed stdin, left, or the session has no stdin).
  long read_stdin(char* buf, size_t n);
  // Everything available (blocking for at least one byte); empty at EOF.
  std::string read_stdin_some();
  bool write_stdout(std::string_view data);
  bool write_stderr(std::string_view data);
  // Resize events (tty). Events that came before the handler was set are delivered at once.
  void on_resize(std::function<void(TerminalSize)> handler);
  // True once the client closed the connection or sent close/GOAWAY.
  bool client_gone() const;

  // Sends the final Status (Success for 0, else Failure/NonZeroExitCode with cause ExitCode) and
  // closes: websocket close 1000 (waits for the client's close), or FIN on the SPDY streams (waits
  // for the client's GOAWAY/EOF). Waits at most `linger` for the client.
  Status finish(int exit_code, std::chrono::milliseconds linger = std::chrono::seconds(5));
  // Like finish, with a Failure Status carrying `message` (e.g. the container does not exist).
  Status finish_error(std::string_view message, std::chrono::milliseconds linger = std::chrono::seconds(5));

  struct Impl;

 private:
  explicit ExecSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace k3dpp::streams
