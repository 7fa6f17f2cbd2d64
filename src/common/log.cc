#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace k3dpp::log {
namespace {
std::mutex g_mu;
spdlog::level::level_enum g_level = spdlog::level::info;
std::string g_pattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v";
}  // namespace

std::shared_ptr<spdlog::logger> get(const std::string& module) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (auto l = spdlog::get(module)) return l;
  auto l = spdlog::stderr_color_mt(module);
  l->set_level(g_level);
  l->set_pattern(g_pattern, spdlog::pattern_time_type::utc);
  return l;
}

void set_level(const std::string& level) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_level = spdlog::level::from_str(level);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(g_level); });
}

void use_cli_pattern() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_pattern = "%^%l%$ %v";
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_pattern(g_pattern); });
}

}  // namespace k3dpp::log
