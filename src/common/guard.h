// log::guarded: runs a loop body or a handler; an exception escaping it is logged and swallowed.
#pragma once

#include <exception>
#include <memory>
#include <string_view>

#include "common/log.h"

namespace k3dpp::log {

// Runs f; an exception escaping it is logged as a warning ("what: why") and swallowed. For the
// bodies of background loops and handlers, which must survive a malformed object (a wrongly typed
// field throws from nlohmann's get/value) instead of ending the thread and the process.
// Returns false when f threw.
template <typename F>
bool guarded(const std::shared_ptr<spdlog::logger>& logger, std::string_view what, F&& f) noexcept {
  try {
    f();
    return true;
  } catch (const std::exception& e) {
    try {
      logger->warn("{}: {}", what, e.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      logger->warn("{}: unknown exception", what);
    } catch (...) {
    }
  }
  return false;
}

}  // namespace k3dpp::log
