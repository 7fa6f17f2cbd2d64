#include "node-image/apimachinery/selectors.h"

namespace k3dpp::apimachinery {
// First slice: interface only; implementation follows.
LabelSelector LabelSelector::nothing() {
  LabelSelector s;
  s.nothing_ = true;
  return s;
}
Result<LabelSelector> LabelSelector::parse(std::string_view) { return fail("not implemented", "InternalError"); }
Result<LabelSelector> LabelSelector::from_json(const nlohmann::json&) { return fail("not implemented", "InternalError"); }
bool LabelSelector::matches(const nlohmann::json&) const { return !nothing_ && requirements_.empty(); }
std::string LabelSelector::to_string() const { return ""; }
Result<FieldSelector> FieldSelector::parse(std::string_view) { return fail("not implemented", "InternalError"); }
bool FieldSelector::matches(const nlohmann::json&) const { return requirements_.empty(); }
std::string FieldSelector::to_string() const { return ""; }
}  // namespace k3dpp::apimachinery
