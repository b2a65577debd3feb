#pragma once

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "common/base/assert.h"
#include "common/base/error.h"

namespace nw {

// A value or the Error that prevented it (leveldb's Status, with a value).
// Accessing value() of an error, or error() of a value, is a bug (NW_ASSERT).
template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, Error>,
                "Result<Error> is ambiguous");

 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Error error)
      : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    NW_ASSERT(ok(), "value() of an error Result");
    return std::get<0>(v_);
  }
  const T& value() const& {
    NW_ASSERT(ok(), "value() of an error Result");
    return std::get<0>(v_);
  }
  T&& value() && {
    NW_ASSERT(ok(), "value() of an error Result");
    return std::get<0>(std::move(v_));
  }
  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : fallback; }

  const Error& error() const& {
    NW_ASSERT(!ok(), "error() of an ok Result");
    return std::get<1>(v_);
  }
  Error&& error() && {
    NW_ASSERT(!ok(), "error() of an ok Result");
    return std::get<1>(std::move(v_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

// Success, or the Error that prevented it.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& {
    NW_ASSERT(!ok(), "error() of an ok Status");
    return *error_;
  }
  Error&& error() && {
    NW_ASSERT(!ok(), "error() of an ok Status");
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

inline Status ok_status() { return Status(); }

}  // namespace nw

#define NW_CONCAT_INNER_(a, b) a##b
#define NW_CONCAT_(a, b) NW_CONCAT_INNER_(a, b)

// Returns the error of a Status or Result expression from the enclosing
// function (which must return Status or Result<U>).
#define NW_RETURN_IF_ERROR(expr)                                \
  do {                                                          \
    auto&& nw_status_ = (expr);                                 \
    if (!nw_status_.ok()) return std::move(nw_status_).error(); \
  } while (0)

// `NW_ASSIGN_OR_RETURN(auto x, f());` declares x from f()'s value, or returns
// f()'s error from the enclosing function.
#define NW_ASSIGN_OR_RETURN(lhs, expr) \
  NW_ASSIGN_OR_RETURN_IMPL_(NW_CONCAT_(nw_result_, __LINE__), lhs, expr)
#define NW_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).error();   \
  lhs = std::move(tmp).value()
