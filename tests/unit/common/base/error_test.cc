#include <doctest/doctest.h>

#include "common/base/error.h"

namespace nw {
namespace {

constexpr Code kAllCodes[] = {
    Code::ok,
    Code::invalid_argument,
    Code::not_found,
    Code::conflict,
    Code::failed_precondition,
    Code::unavailable,
    Code::unauthenticated,
    Code::permission_denied,
    Code::timeout,
    Code::unhealthy,
    Code::cancelled,
    Code::io_error,
    Code::corruption,
    Code::internal,
};

}  // namespace

TEST_SUITE("base.error") {
  TEST_CASE("to_string.round_trips_every_code") {
    for (Code c : kAllCodes) {
      CAPTURE(static_cast<int>(c));
      auto back = code_from_string(to_string(c));
      REQUIRE(back.has_value());
      CHECK(*back == c);
    }
    CHECK(to_string(Code::not_found) == "not_found");
    CHECK(to_string(Code::invalid_argument) == "invalid_argument");
    CHECK_FALSE(code_from_string("NOT_FOUND").has_value());
    CHECK_FALSE(code_from_string("").has_value());
  }

  TEST_CASE("exit_code.matches_design") {
    CHECK(exit_code(Code::ok) == 0);
    CHECK(exit_code(Code::invalid_argument) == 2);
    CHECK(exit_code(Code::not_found) == 3);
    CHECK(exit_code(Code::conflict) == 4);
    CHECK(exit_code(Code::failed_precondition) == 4);
    CHECK(exit_code(Code::unavailable) == 5);
    CHECK(exit_code(Code::unauthenticated) == 6);
    CHECK(exit_code(Code::permission_denied) == 6);
    CHECK(exit_code(Code::timeout) == 7);
    CHECK(exit_code(Code::unhealthy) == 10);
    CHECK(exit_code(Code::cancelled) == 1);
    CHECK(exit_code(Code::io_error) == 1);
    CHECK(exit_code(Code::corruption) == 1);
    CHECK(exit_code(Code::internal) == 1);
  }

  TEST_CASE("http_status.per_code") {
    CHECK(http_status(Code::ok) == 200);
    CHECK(http_status(Code::invalid_argument) == 400);
    CHECK(http_status(Code::unauthenticated) == 401);
    CHECK(http_status(Code::permission_denied) == 403);
    CHECK(http_status(Code::not_found) == 404);
    CHECK(http_status(Code::conflict) == 409);
    CHECK(http_status(Code::failed_precondition) == 412);
    CHECK(http_status(Code::unavailable) == 503);
    CHECK(http_status(Code::timeout) == 504);
    CHECK(http_status(Code::internal) == 500);
  }

  TEST_CASE("code_from_http_status.inverts_http_status") {
    // Every code with a status of its own maps back to itself.
    for (Code c :
         {Code::ok, Code::invalid_argument, Code::not_found, Code::conflict,
          Code::failed_precondition, Code::unavailable, Code::unauthenticated,
          Code::permission_denied, Code::timeout}) {
      CAPTURE(to_string(c));
      CHECK(code_from_http_status(http_status(c)) == c);
    }
    CHECK(code_from_http_status(204) == Code::ok);
    CHECK(code_from_http_status(422) == Code::invalid_argument);
    CHECK(code_from_http_status(408) == Code::timeout);
    CHECK(code_from_http_status(502) == Code::unavailable);
    CHECK(code_from_http_status(418) == Code::internal);
    CHECK(code_from_http_status(500) == Code::internal);
  }

  TEST_CASE("error.to_string_and_wrap") {
    Error e(Code::not_found, "topic orders: not found", "list topics");
    CHECK(e.to_string() == "topic orders: not found (list topics)");
    CHECK(Error(Code::internal, "boom").to_string() == "boom");
    Error w = e.wrap("produce");
    CHECK(w.message == "produce: topic orders: not found");
    CHECK(w.hint == "list topics");
    CHECK(w.code == Code::not_found);
    CHECK(e.message == "topic orders: not found");
    CHECK(Error().code == Code::internal);
  }
}

}  // namespace nw
