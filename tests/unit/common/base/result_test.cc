#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "common/base/result.h"

namespace nw {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return Error(Code::invalid_argument, "not positive");
  return v;
}

Result<int> doubled(int v) {
  NW_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return x * 2;
}

Result<int> sum_of_two(int a, int b) {
  NW_ASSIGN_OR_RETURN(int x, parse_positive(a));
  NW_ASSIGN_OR_RETURN(int y, parse_positive(b));
  return x + y;
}

Status check_positive(int v) {
  NW_RETURN_IF_ERROR(parse_positive(v));
  return ok_status();
}

Status check_both(int a, int b) {
  NW_RETURN_IF_ERROR(check_positive(a));
  NW_RETURN_IF_ERROR(check_positive(b));
  return ok_status();
}

Result<std::unique_ptr<int>> make_owned(int v) {
  return std::make_unique<int>(v);
}

Result<int> deref_owned(int v) {
  NW_ASSIGN_OR_RETURN(std::unique_ptr<int> p, make_owned(v));
  return *p;
}

}  // namespace

TEST_SUITE("base.result") {
  TEST_CASE("result.value_and_error") {
    Result<std::string> ok = std::string("x");
    CHECK(ok.ok());
    CHECK(static_cast<bool>(ok));
    CHECK(*ok == "x");
    CHECK(ok->size() == 1);
    CHECK(ok.value_or("y") == "x");

    Result<std::string> bad = Error(Code::not_found, "gone", "look elsewhere");
    CHECK_FALSE(bad.ok());
    CHECK(bad.error().code == Code::not_found);
    CHECK(bad.error().message == "gone");
    CHECK(bad.value_or("y") == "y");
  }

  TEST_CASE("result.move_only_value") {
    Result<std::unique_ptr<int>> r = make_owned(4);
    REQUIRE(r.ok());
    std::unique_ptr<int> p = std::move(r).value();
    CHECK(*p == 4);
    CHECK(deref_owned(7).value() == 7);
  }

  TEST_CASE("status.ok_and_error") {
    Status s;
    CHECK(s.ok());
    CHECK(ok_status().ok());
    Status e = Error(Code::timeout, "slow");
    CHECK_FALSE(e.ok());
    CHECK(e.error().code == Code::timeout);
    Error moved = std::move(e).error();
    CHECK(moved.message == "slow");
  }

  TEST_CASE("assign_or_return.propagates_first_error") {
    CHECK(doubled(4).value() == 8);
    CHECK(doubled(-1).error().message == "not positive");
    CHECK(sum_of_two(1, 2).value() == 3);
    CHECK(sum_of_two(1, 0).error().code == Code::invalid_argument);
    CHECK(sum_of_two(0, 1).error().code == Code::invalid_argument);
  }

  TEST_CASE("return_if_error.propagates_status_and_result") {
    CHECK(check_positive(1).ok());
    CHECK(check_positive(0).error().message == "not positive");
    CHECK(check_both(1, 1).ok());
    CHECK_FALSE(check_both(1, -1).ok());
  }
}

}  // namespace nw
