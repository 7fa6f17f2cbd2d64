// Result<T>: a value or an Error, with the surface of std::expected (not usable with clang 14).
// Errors are values at module boundaries; each layer adds context once with Error::wrap.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace k3dpp {

struct Error {
  std::string message;
  // Optional machine-readable kind, e.g. "NotFound", "Conflict", "Invalid", "Unavailable".
  std::string kind;

  Error() = default;
  explicit Error(std::string msg, std::string k = {}) : message(std::move(msg)), kind(std::move(k)) {}

  // "context: message"
  [[nodiscard]] Error wrap(const std::string& context) const {
    return Error(context + ": " + message, kind);
  }
  [[nodiscard]] bool is(const std::string& k) const { return kind == k; }
};

template <typename E>
struct Unexpected {
  E error;
};

inline Unexpected<Error> unexpected(Error e) { return Unexpected<Error>{std::move(e)}; }
inline Unexpected<Error> fail(std::string msg, std::string kind = {}) {
  return Unexpected<Error>{Error(std::move(msg), std::move(kind))};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::in_place_index<0>, std::move(v)) {}  // NOLINT(google-explicit-constructor)
  Result(Unexpected<Error> e) : v_(std::in_place_index<1>, std::move(e.error)) {}  // NOLINT
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}                    // NOLINT

  [[nodiscard]] bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  [[nodiscard]] const Error& error() const { return std::get<1>(v_); }
  template <typename U>
  T value_or(U&& dflt) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(dflt));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected<Error> e) : err_(std::move(e.error)) {}  // NOLINT(google-explicit-constructor)
  Result(Error e) : err_(std::move(e)) {}                    // NOLINT
  [[nodiscard]] bool has_value() const { return !err_.has_value(); }
  explicit operator bool() const { return has_value(); }
  [[nodiscard]] const Error& error() const { return *err_; }
  void value() const {}

 private:
  std::optional<Error> err_;
};

using Status = Result<void>;

}  // namespace k3dpp

// Propagate an error: K3DPP_TRY(expr) returns its error from the enclosing function.
#define K3DPP_TRY(expr)                                        \
  do {                                                         \
    auto&& k3dpp_try_r_ = (expr);                              \
    if (!k3dpp_try_r_) return ::k3dpp::unexpected(k3dpp_try_r_.error()); \
  } while (0)
