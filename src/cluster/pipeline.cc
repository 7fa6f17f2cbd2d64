#include "cluster/pipeline.h"

#include <atomic>

#include "common/log.h"

namespace k3dpp::cluster {
namespace {
std::atomic<bool> g_cancel{false};
static_assert(std::atomic<bool>::is_always_lock_free);
}  // namespace

void request_cancel() { g_cancel.store(true); }
bool cancelled() { return g_cancel.load(); }
void reset_cancel() { g_cancel.store(false); }
Status check_cancelled() {
  if (cancelled()) return fail("interrupted", "Cancelled");
  return {};
}

void Rollback::undo() {
  auto log = log::get("cluster");
  for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
    Status st;
    switch (it->kind) {
      case Kind::kContainer:
        log->info("Deleting node '{}'", it->name);
        st = rt_.remove_container(it->name, true);
        break;
      case Kind::kVolume:
        log->debug("Deleting volume '{}'", it->name);
        st = rt_.remove_volume(it->name, true);
        break;
      case Kind::kNetwork:
        log->info("Deleting cluster network '{}'", it->name);
        st = rt_.remove_network(it->name);
        break;
      case Kind::kAction:
        log->debug("Undoing: {}", it->name);
        if (it->fn) it->fn();
        break;
    }
    if (!st) log->warn("rollback: {}", st.error().message);
  }
  items_.clear();
}

Status run_steps(const std::vector<Step>& steps) {
  auto log = log::get("cluster");
  for (const auto& s : steps) {
    if (!s.title.empty()) log->info("{}", s.title);
    K3DPP_TRY(check_cancelled());
    log->debug("step {}", s.name);
    auto st = s.run();
    if (!st) return st;
  }
  return {};
}

}  // namespace k3dpp::cluster
