#include "common/api/error_body.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace nw::api {

TEST_SUITE("api.error_body") {
  TEST_CASE("error_to_json.shape") {
    auto j = nlohmann::json::parse(error_to_json(
        Error(Code::not_found, "topic \"x\": not found", "list topics")));
    CHECK(j == nlohmann::json::parse(R"({"error": {"code": "not_found",
        "message": "topic \"x\": not found", "hint": "list topics"}})"));
  }

  TEST_CASE("error_to_json.omits_empty_hint") {
    auto j = nlohmann::json::parse(
        error_to_json(Error(Code::conflict, "exists already")));
    CHECK_FALSE(j["error"].contains("hint"));
    CHECK(j["error"]["code"] == "conflict");
  }

  TEST_CASE("error_to_json.invalid_utf8_does_not_throw") {
    std::string body = error_to_json(Error(Code::io_error, "bad \xff byte"));
    auto j = nlohmann::json::parse(body);
    CHECK(j["error"]["message"].get<std::string>().starts_with("bad "));
  }

  TEST_CASE("error_from_body.round_trip_every_code") {
    for (Code c :
         {Code::invalid_argument, Code::not_found, Code::conflict,
          Code::failed_precondition, Code::unavailable, Code::unauthenticated,
          Code::permission_denied, Code::timeout, Code::unhealthy,
          Code::cancelled, Code::io_error, Code::corruption, Code::internal}) {
      CAPTURE(to_string(c));
      Error in(c, "what failed: detail", "do this next");
      Error out = error_from_body(http_status(c), error_to_json(in));
      CHECK(out.code == c);
      CHECK(out.message == in.message);
      CHECK(out.hint == in.hint);
    }
  }

  TEST_CASE("error_from_body.body_code_wins_over_status") {
    // 503 is both unavailable and unhealthy; the body says which.
    Error e =
        error_from_body(503, R"({"error":{"code":"unhealthy","message":"m"}})");
    CHECK(e.code == Code::unhealthy);
    CHECK(e.hint.empty());
  }

  TEST_CASE("error_from_body.unknown_code_falls_back_to_status") {
    Error e = error_from_body(
        409,
        R"({"error":{"code":"from_the_future","message":"m","hint":"h"}})");
    CHECK(e.code == Code::conflict);
    CHECK(e.message == "m");
    CHECK(e.hint == "h");
  }

  TEST_CASE("error_from_body.non_json_body") {
    Error e = error_from_body(502, "<html>Bad Gateway</html>\n");
    CHECK(e.code == Code::unavailable);
    CHECK(e.message == "HTTP 502: <html>Bad Gateway</html>");
  }

  TEST_CASE("error_from_body.json_that_is_not_an_error_body") {
    CHECK(error_from_body(404, R"({"status":"ok"})").message ==
          R"(HTTP 404: {"status":"ok"})");
    CHECK(error_from_body(404, R"({"error":"plain string"})").code ==
          Code::not_found);
    CHECK(error_from_body(400, R"({"error":{"code":1,"message":"m"}})")
              .message.starts_with("HTTP 400: "));
    CHECK(error_from_body(400, "[1,2]").code == Code::invalid_argument);
  }

  TEST_CASE("error_from_body.empty_body") {
    Error e = error_from_body(401, "");
    CHECK(e.code == Code::unauthenticated);
    CHECK(e.message == "HTTP 401");
  }

  TEST_CASE("error_from_body.long_body_is_cut_at_200_bytes") {
    Error e = error_from_body(500, std::string(1000, 'x'));
    CHECK(e.code == Code::internal);
    CHECK(e.message == "HTTP 500: " + std::string(200, 'x'));
  }

  TEST_CASE("error_from_body.cut_does_not_split_a_utf8_character") {
    // 199 ASCII bytes, then a 2-byte character straddling byte 200.
    std::string body = std::string(199, 'a') + "\xc3\xa9" + "tail";
    Error e = error_from_body(500, body);
    CHECK(e.message == "HTTP 500: " + std::string(199, 'a'));
  }

  TEST_CASE("error_from_body.never_ok") {
    CHECK(error_from_body(200, "oops").code == Code::internal);
    CHECK(error_from_body(302, "").code == Code::internal);
    CHECK(
        error_from_body(200, R"({"error":{"code":"ok","message":"m"}})").code ==
        Code::internal);
  }
}

}  // namespace nw::api
