#include "runtime/podman/archive_names.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "runtime/podman/translate.h"

namespace k3dpp::runtime::podman {
namespace {

using json = nlohmann::json;
constexpr size_t kBlock = 512;

size_t padded(size_t n) { return (n + kBlock - 1) / kBlock * kBlock; }

// A NUL/space terminated octal field.
bool parse_octal(const char* p, size_t n, size_t& out) {
  out = 0;
  size_t i = 0;
  while (i < n && p[i] == ' ') ++i;
  bool any = false;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) {
    out = out * 8 + static_cast<size_t>(p[i] - '0');
    any = true;
  }
  return any;
}

std::string field(const std::string& h, size_t off, size_t len) {
  std::string s = h.substr(off, len);
  auto nul = s.find('\0');
  return nul == std::string::npos ? s : s.substr(0, nul);
}

}  // namespace

std::string strip_localhost_names(const std::string& text, bool is_manifest) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return text;
  if (is_manifest) {
    if (!j.is_array()) return text;
    for (auto& m : j) {
      if (!m.is_object() || !m.contains("RepoTags") || !m["RepoTags"].is_array()) continue;
      for (auto& t : m["RepoTags"])
        if (t.is_string()) t = display_image_name(t.get<std::string>());
    }
    return j.dump();
  }
  if (!j.is_object()) return text;
  json out = json::object();
  for (auto& [k, v] : j.items()) out[display_image_name(k)] = v;
  return out.dump();
}

bool ArchiveNameRewriter::feed(const char* data, size_t size) {
  while (size > 0) {
    if (pass_ > 0) {
      size_t n = std::min(pass_, size);
      if (!emit(data, n)) return false;
      pass_ -= n;
      data += n;
      size -= n;
      continue;
    }
    if (capture_) {
      size_t n = std::min(capture_total_ - captured_.size(), size);
      captured_.append(data, n);
      data += n;
      size -= n;
      if (captured_.size() < capture_total_) continue;
      capture_ = false;
      std::string body = strip_localhost_names(captured_.substr(0, capture_size_), is_manifest_);
      std::string h = captured_header_;
      // New size (11 octal digits + NUL) and checksum (6 octal digits, NUL, space).
      char size_field[12];
      std::snprintf(size_field, sizeof size_field, "%011zo", body.size());
      std::memcpy(&h[124], size_field, 12);
      std::memset(&h[148], ' ', 8);
      unsigned sum = 0;
      for (unsigned char c : h) sum += c;
      char sum_field[8];
      std::snprintf(sum_field, sizeof sum_field, "%06o", sum);
      std::memcpy(&h[148], sum_field, 7);
      h[155] = ' ';
      body.resize(padded(body.size()), '\0');
      if (!emit(h.data(), h.size()) || !emit(body.data(), body.size())) return false;
      captured_.clear();
      continue;
    }
    size_t n = std::min(kBlock - header_.size(), size);
    header_.append(data, n);
    data += n;
    size -= n;
    if (header_.size() == kBlock && !header_done()) return false;
  }
  return true;
}

bool ArchiveNameRewriter::header_done() {
  std::string h = std::move(header_);
  header_.clear();
  bool zero = std::all_of(h.begin(), h.end(), [](char c) { return c == '\0'; });
  size_t size = 0;
  if (zero || !parse_octal(&h[124], 12, size)) return emit(h.data(), h.size());  // end blocks / unknown
  std::string name = field(h, 0, 100);
  std::string prefix = field(h, 345, 155);
  if (!prefix.empty() && std::memcmp(&h[257], "ustar", 5) == 0) name = prefix + "/" + name;
  if (name.rfind("./", 0) == 0) name = name.substr(2);
  char type = h[156];
  bool regular = type == '0' || type == '\0';
  if (regular && (name == "manifest.json" || name == "repositories") && size > 0 && size < (16u << 20)) {
    capture_ = true;
    is_manifest_ = name == "manifest.json";
    capture_size_ = size;
    capture_total_ = padded(size);
    captured_header_ = std::move(h);
    captured_.clear();
    return true;
  }
  pass_ = padded(size);
  return emit(h.data(), h.size());
}

Status ArchiveNameRewriter::finish() const {
  if (pass_ > 0 || capture_ || !header_.empty()) return fail("the image archive ended inside an entry", "Internal");
  return {};
}

}  // namespace k3dpp::runtime::podman
