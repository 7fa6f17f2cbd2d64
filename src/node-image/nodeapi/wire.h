// The HTTP/1.1 client side both proxy hops need: write a request head, read a response head, read
// or relay a response body (Content-Length, chunked, or until close), and pipe two upgraded
// connections together. Works over any http::Conn (plain TCP to containerd, TLS to a node).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "httpserver/http.h"

namespace k3dpp::nodeapi {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ResponseHead {
  int status = 0;
  std::string reason;
  HeaderList headers;  // as received (names keep their case)
  // First value of a header, compared case-insensitively.
  std::string header(std::string_view name) const;
};

// The request headers a proxy hop passes on: the upgrade handshake (Upgrade, Connection,
// Sec-WebSocket-Key/-Version/-Protocol/-Extensions, X-Stream-Protocol-Version, all values) and
// Accept / User-Agent. Everything else (Host, Authorization, Content-Length, ...) stays behind.
HeaderList forwarded_request_headers(const http::Headers& headers);

// "GET /exec/... HTTP/1.1\r\nHost: host\r\n<headers>\r\n" (+ Content-Length: 0 for non-GET).
std::string render_request_head(const std::string& method, const std::string& target, const std::string& host,
                                const HeaderList& headers);

// Parses a complete response head (status line + headers, without the final blank line).
Result<ResponseHead> parse_response_head(std::string_view head);

// Reads from conn until the end of the response head; bytes read past it land in `leftover`.
Result<ResponseHead> read_response_head(http::Conn& conn, std::string& leftover);

// Reads the body that follows `head` (leftover = bytes already read), calling sink for every piece
// of decoded body as it arrives (sink returns false to stop). Content-Length, chunked, or until EOF.
Status read_body(http::Conn& conn, const ResponseHead& head, std::string leftover,
                 const std::function<bool(std::string_view)>& sink);

// The response headers worth relaying to the client of a non-101 answer (Content-Type and
// Kubernetes/Go extras), without hop-by-hop and framing headers.
HeaderList relayed_response_headers(const ResponseHead& head);

// Copies bytes both ways between two upgraded connections until either side ends, then closes
// both. `a_first` is written to a before anything else (bytes that came after the 101 head).
void pipe_both(http::Conn& a, http::Conn& b, std::string a_first = {});

// Relays an upstream answer to the front client: a 101 becomes Responder::upgrade with the
// upstream's headers and a pipe; anything else is sent as is (streamed when chunked or without
// Content-Length: follow logs).
void relay_response(http::Conn& upstream, const ResponseHead& head, std::string leftover, http::Responder& front);

// A Kubernetes Status response.
http::Response status_error(int code, std::string_view reason, std::string_view message);

}  // namespace k3dpp::nodeapi
