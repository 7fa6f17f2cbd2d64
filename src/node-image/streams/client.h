// Client side of remotecommand and port-forward over SPDY/3.1, for the kubelet's path to the
// runtime's streaming server (and for tests): the HTTP upgrade, an exec client (v4.channel.k8s.io)
// and a port-forward client (portforward.k8s.io) that carries many local connections.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "httpserver/http.h"
#include "streams/byte_stream.h"
#include "streams/remotecommand.h"
#include "streams/tcp.h"

namespace k3dpp::streams {

struct UpgradedConn {
  std::unique_ptr<TcpStream> tcp;
  std::string protocol;  // X-Stream-Protocol-Version the server chose
  std::string pending;   // bytes that came after the 101 headers
};

// Sends `method target` to host:port with Upgrade: SPDY/3.1 and one X-Stream-Protocol-Version per
// protocol. A non-101 answer is an error with the status line and body (kind "Rejected").
Result<UpgradedConn> spdy_upgrade(const std::string& host, uint16_t port, const std::string& method,
                                  const std::string& target, const std::vector<std::string>& protocols,
                                  const std::vector<std::pair<std::string, std::string>>& extra_headers = {});

// The exit code a final remotecommand Status means: 0 for Success, N for NonZeroExitCode with an
// ExitCode cause; any other Failure is an error carrying its message.
Result<int> exit_code_from_status(std::string_view status_json);

struct ExecClientIO {
  std::function<void(std::string_view)> on_stdout;
  std::function<void(std::string_view)> on_stderr;
};

class ExecClient {
 public:
  // Opens the streams the options call for on an upgraded SPDY connection (v4.channel.k8s.io).
  static Result<std::unique_ptr<ExecClient>> start(http::Conn& conn, const ExecOptions& options, ExecClientIO io,
                                                   std::string pending = {});
  ~ExecClient();
  bool write_stdin(std::string_view data);
  void close_stdin();
  void resize(TerminalSize size);
  // Waits for the remote command to end (Status on the error stream and the output streams
  // closed); returns its exit code. Then says GOAWAY.
  Result<int> wait();

  struct Impl;

 private:
  explicit ExecClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Proxies an exec: runs the command behind `upstream` (an upgraded SPDY connection to a kubelet or a
// runtime streaming server, v4.channel.k8s.io) for the client of `front`: stdin, resize, stdout,
// stderr, and the exit status (or the upstream's failure message) end `front` with finish().
// Returns once both sides are done.
Status bridge_exec(ExecSession& front, const ExecOptions& options, http::Conn& upstream, std::string pending = {});

class PortForwardClient {
 public:
  // Starts a port-forward session (portforward.k8s.io) on an upgraded SPDY connection.
  static Result<std::unique_ptr<PortForwardClient>> start(http::Conn& conn, std::string pending = {});
  ~PortForwardClient();
  // Forwards one local connection to `port`: opens the (error, data) stream pair, pumps both ways
  // until both sides closed. Returns the remote's error text as an error (kind "Remote"). Several
  // forward() calls may run at once on different threads.
  Status forward(uint16_t port, ByteStream& local);
  void close();

  struct Impl;

 private:
  explicit PortForwardClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace k3dpp::streams
