// One named spdlog logger per module. info = progress a user wants, debug = each engine/API call,
// trace = bodies. Never log secrets (tokens, keys, client certificates).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace k3dpp::log {

// Returns (creating on first use) the logger for a module, e.g. get("runtime.docker").
// Loggers write to stderr; stdout is for data.
std::shared_ptr<spdlog::logger> get(const std::string& module);

// Sets the level of every logger, present and future ("trace", "debug", "info", "warn", "error").
void set_level(const std::string& level);

// Short pattern for CLI progress ("INFO[0001] message", like k3d) instead of full timestamps.
void use_cli_pattern();

}  // namespace k3dpp::log
