// Ordered named steps with rollback: each step's title is logged (INFO) as it starts; on failure
// everything recorded in the Rollback is removed in reverse order (unless rollback is off).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/runtime.h"

namespace k3dpp::cluster {

class Rollback {
 public:
  explicit Rollback(runtime::Runtime& rt) : rt_(rt) {}
  void container(const std::string& name) { items_.push_back({Kind::kContainer, name, {}}); }
  void volume(const std::string& name) { items_.push_back({Kind::kVolume, name, {}}); }
  void network(const std::string& name) { items_.push_back({Kind::kNetwork, name, {}}); }
  // Extra undo action (e.g. kubeconfig entries), run in order with the others.
  void action(std::string what, std::function<void()> fn) { items_.push_back({Kind::kAction, std::move(what), std::move(fn)}); }
  // Removes everything recorded, newest first; logs failures and goes on.
  void undo();
  void clear() { items_.clear(); }
  size_t size() const { return items_.size(); }

 private:
  enum class Kind { kContainer, kVolume, kNetwork, kAction };
  struct Item {
    Kind kind;
    std::string name;
    std::function<void()> fn;
  };
  runtime::Runtime& rt_;
  std::vector<Item> items_;
};

struct Step {
  std::string title;  // logged at info when non-empty ("Prep: Network")
  std::function<Status()> run;
  std::string name;   // short id for debug logs and errors ("network")
};

// Runs the steps in order; the first failure (or a cancel request) stops the run and is returned.
Status run_steps(const std::vector<Step>& steps);

// Cancellation (Ctrl-C): request_cancel() is async-signal-safe; waits and run_steps check
// cancelled() and fail with kind "Cancelled", so the caller rolls back.
void request_cancel();
bool cancelled();
void reset_cancel();
Status check_cancelled();

}  // namespace k3dpp::cluster
