// The SPDY/3 header compression dictionary.
//
// Source: "SPDY Protocol - Draft 3", section 2.6.10.1 "Compression"
// (http://dev.chromium.org/spdy/spdy-protocol/spdy-protocol-draft3, also archived in the Chromium
// website sources as docs/website/site/spdy/spdy-protocol/spdy-protocol-draft3/index.md). The spec
// prints it as 1423 bytes: a list of header words, each preceded by its length as a 32-bit
// big-endian integer, followed by one run of plain text (status codes, reason phrases, dates and
// common values). It is rebuilt here from that structure rather than typed as a byte table.
// Verified by tests: the length, the zlib dictionary id (Adler-32) that kubectl's header blocks
// carry, and inflating header blocks captured from the real kubectl 1.32
// (tests/unit/streams/fixtures/).
#include <string>
#include <string_view>

#include "streams/spdy.h"

namespace k3dpp::streams::spdy {

namespace {

constexpr std::string_view kWords[] = {
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type", "date",
    "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match",
    "if-range", "if-unmodified-since", "last-modified", "location", "max-forwards", "pragma",
    "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after", "server", "te",
    "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public",
    "set-cookie", "keep-alive", "origin",
};

constexpr std::string_view kTail =
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information"
    "204 No Content"
    "301 Moved Permanently"
    "400 Bad Request"
    "401 Unauthorized"
    "403 Forbidden"
    "404 Not Found"
    "500 Internal Server Error"
    "501 Not Implemented"
    "503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,"
    "text/plain,text/javascript,public"
    "private"
    "max-age="
    "gzip,deflate,sdch"
    "charset=utf-8"
    "charset=iso-8859-1,utf-,*,enq=0.";

std::string build() {
  std::string d;
  for (std::string_view w : kWords) {
    auto n = static_cast<uint32_t>(w.size());
    d.push_back(static_cast<char>(n >> 24));
    d.push_back(static_cast<char>((n >> 16) & 0xFF));
    d.push_back(static_cast<char>((n >> 8) & 0xFF));
    d.push_back(static_cast<char>(n & 0xFF));
    d.append(w);
  }
  d.append(kTail);
  return d;
}

}  // namespace

std::string_view dictionary() {
  static const std::string kDict = build();
  return kDict;
}

}  // namespace k3dpp::streams::spdy
