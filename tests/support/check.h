#pragma once

// doctest assertions for nw::Status and nw::Result<T> that print the error
// (message and hint) when they fail. Header-only: include it from tests,
// which link doctest; the harness library itself does not.

#include <doctest/doctest.h>

#include <string>

namespace nw::testsupport {

// "ok", or the error's one-line description.
template <class S>
std::string status_text(const S& s) {
  return s.ok() ? std::string("ok") : s.error().to_string();
}

}  // namespace nw::testsupport

#define NW_REQUIRE_OK(expr)                          \
  do {                                               \
    const auto& nw_check_ = (expr);                  \
    INFO(::nw::testsupport::status_text(nw_check_)); \
    REQUIRE(nw_check_.ok());                         \
  } while (0)

#define NW_CHECK_OK(expr)                            \
  do {                                               \
    const auto& nw_check_ = (expr);                  \
    INFO(::nw::testsupport::status_text(nw_check_)); \
    CHECK(nw_check_.ok());                           \
  } while (0)
