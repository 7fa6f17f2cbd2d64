// Small helpers over Kubernetes JSON objects shared by the controllers, the scheduler and hollow
// nodes: times, owner references, pod readiness, names.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace k3dpp::controllers {

using json = nlohmann::json;
using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

// The alphabet Kubernetes uses for generated name suffixes (no vowels, no confusable digits).
inline constexpr std::string_view kNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

std::string rfc3339(TimePoint t);
std::string now_rfc3339();
// nullopt on garbage. Accepts "2024-01-02T03:04:05Z" with optional fractional seconds.
std::optional<TimePoint> parse_rfc3339(std::string_view s);

// 5 random characters from kNameAlphabet.
std::string random_suffix(size_t n = 5);

// Reads metadata fields ("" when absent).
std::string meta_str(const json& obj, const char* field);
const json& labels_of(const json& obj);
const json& annotations_of(const json& obj);
bool is_deleting(const json& obj);

// The ownerReference with controller: true, or nullptr.
const json* controller_ref(const json& obj);
// An ownerReference to `owner` (controller and blockOwnerDeletion true).
json make_controller_ref(const json& owner);

// Pod helpers.
bool pod_is_active(const json& pod);  // not terminating, not Succeeded/Failed
bool pod_is_ready(const json& pod);   // condition Ready=True
// Ready for at least min_ready_seconds by now.
bool pod_is_available(const json& pod, long long min_ready_seconds, TimePoint now);
// When Ready turned True (nullopt if not ready).
std::optional<TimePoint> pod_ready_since(const json& pod);

// fnv-1a 32-bit.
uint32_t fnv32a(std::string_view data, uint32_t seed = 2166136261u);
// Kubernetes' "safe encoding": each character of s mapped into kNameAlphabet.
std::string safe_encode(std::string_view s);

// intstr: an int or "N%". Percent values scale `total`, rounding up or down.
long long scaled_value(const json& intstr, long long total, bool round_up, long long dflt);

}  // namespace k3dpp::controllers
