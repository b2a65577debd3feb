#include "common/http/router.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace nw::http {
namespace {

Handler answer(std::string text) {
  return [text](const Request&) { return Response::text(text); };
}

std::string call(const Router::Match& m) {
  REQUIRE(m.handler != nullptr);
  return (*m.handler)(Request{}).body;
}

}  // namespace

TEST_SUITE("http.router") {
  TEST_CASE("match.full_path_with_captures") {
    Router r;
    r.add("GET", "/v1/topics/([^/]+)", "/v1/topics/{name}", answer("one"));
    auto m = r.match("GET", "/v1/topics/orders");
    REQUIRE(m.label != nullptr);
    CHECK(*m.label == "/v1/topics/{name}");
    CHECK(m.captures ==
          std::vector<std::string>{"/v1/topics/orders", "orders"});
    CHECK(call(m) == "one");
    CHECK(r.match("GET", "/v1/topics/orders/x").label == nullptr);
    CHECK(r.match("GET", "/x/v1/topics/orders").label == nullptr);
  }

  TEST_CASE("match.first_added_wins") {
    Router r;
    r.add("GET", "/v1/topics/_list", "list", answer("list"));
    r.add("GET", "/v1/topics/([^/]+)", "one", answer("one"));
    CHECK(call(r.match("GET", "/v1/topics/_list")) == "list");
    CHECK(call(r.match("GET", "/v1/topics/x")) == "one");
  }

  TEST_CASE("match.head_is_get") {
    Router r;
    r.add("GET", "/metrics", "/metrics", answer("m"));
    CHECK(r.match("HEAD", "/metrics").label != nullptr);
  }

  TEST_CASE("match.other_method_lists_allowed") {
    Router r;
    r.add("GET", "/v1/x", "x", answer("get"));
    r.add("PUT", "/v1/x", "x", answer("put"));
    auto m = r.match("DELETE", "/v1/x");
    CHECK(m.label == nullptr);
    CHECK(m.allowed == std::vector<std::string>{"GET", "PUT"});
    auto none = r.match("GET", "/v1/y");
    CHECK(none.label == nullptr);
    CHECK(none.allowed.empty());
    // A later match clears what earlier routes of other methods said.
    CHECK(r.match("PUT", "/v1/x").allowed.empty());
  }
}

}  // namespace nw::http
