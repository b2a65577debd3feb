#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/api/error_body.h"
#include "common/http/message.h"
#include "common/http/url.h"

namespace nw::http {

TEST_SUITE("http.message") {
  TEST_CASE("request.params_and_headers") {
    Request r;
    r.params = {{"a", "1"}, {"a", "2"}, {"empty", ""}};
    r.headers = {{"Content-Type", "application/json"}};
    CHECK(r.param("a") == "1");
    CHECK(r.param("b") == "");
    CHECK(r.has_param("empty"));
    CHECK_FALSE(r.has_param("b"));
    CHECK(r.header("content-type") == "application/json");
    CHECK(r.header("CONTENT-TYPE") == "application/json");
    CHECK(r.header("Accept") == "");
  }

  TEST_CASE("response.factories") {
    Response j = Response::json(R"({"a":1})", 201);
    CHECK(j.status == 201);
    CHECK(j.content_type == "application/json");

    Response t = Response::text("hello");
    CHECK(t.status == 200);
    CHECK(t.content_type == "text/plain; charset=utf-8");

    Response e =
        Response::error(Error(Code::conflict, "taken", "pick another"));
    CHECK(e.status == 409);
    CHECK(e.content_type == "application/json");
    Error back = api::error_from_body(e.status, e.body);
    CHECK(back.code == Code::conflict);
    CHECK(back.message == "taken");
    CHECK(back.hint == "pick another");
  }
}

TEST_SUITE("http.url") {
  TEST_CASE("percent_encode.escapes_reserved_bytes") {
    CHECK(percent_encode("orders-2024_v1.~x") == "orders-2024_v1.~x");
    CHECK(percent_encode("a/b c?d=e&f%") == "a%2Fb%20c%3Fd%3De%26f%25");
    CHECK(percent_encode("\xc3\xa9") == "%C3%A9");
    CHECK(percent_encode("") == "");
  }
}

}  // namespace nw::http
