#include "httpserver/http.h"

#include <nlohmann/json.hpp>

namespace k3dpp::http {

std::optional<std::string> Request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Request::param(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Request::params(const std::string& name) const {
  std::vector<std::string> out;
  auto [lo, hi] = query.equal_range(name);
  for (auto it = lo; it != hi; ++it) out.push_back(it->second);
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string url_decode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    if (c == '+' && plus_as_space) c = ' ';
    out.push_back(c);
  }
  return out;
}

std::multimap<std::string, std::string> parse_query(std::string_view raw) {
  std::multimap<std::string, std::string> out;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t amp = raw.find('&', start);
    if (amp == std::string_view::npos) amp = raw.size();
    std::string_view part = raw.substr(start, amp - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) {
        out.emplace(url_decode(part, true), "");
      } else {
        out.emplace(url_decode(part.substr(0, eq), true), url_decode(part.substr(eq + 1), true));
      }
    }
    start = amp + 1;
  }
  return out;
}

Response status_response(int code, std::string_view reason, std::string_view message) {
  nlohmann::ordered_json j = {{"kind", "Status"},          {"apiVersion", "v1"},
                      {"metadata", nlohmann::ordered_json::object()},
                      {"status", "Failure"},       {"message", std::string(message)},
                      {"reason", std::string(reason)}, {"code", code}};
  Response r;
  r.status = code;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return r;
}

}  // namespace k3dpp::http
