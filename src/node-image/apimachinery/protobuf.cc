#include "node-image/apimachinery/protobuf.h"

namespace k3dpp::apimachinery {
// First slice: interface only; implementation follows.
bool is_protobuf_envelope(std::string_view body) { return body.substr(0, 4) == kProtobufMagic; }
Result<ProtobufEnvelope> decode_protobuf_envelope(std::string_view) { return fail("not implemented", "UnsupportedMediaType"); }
Result<nlohmann::json> decode_protobuf_object(std::string_view) { return fail("not implemented", "UnsupportedMediaType"); }
Result<nlohmann::json> decode_protobuf_raw(std::string_view, const std::string&, const std::string&) {
  return fail("not implemented", "UnsupportedMediaType");
}
std::vector<std::string> protobuf_supported_kinds() { return {}; }
}  // namespace k3dpp::apimachinery
