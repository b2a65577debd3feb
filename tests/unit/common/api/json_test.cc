#include "common/api/json.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nw::api {

TEST_SUITE("api.json") {
  TEST_CASE("parse_object.errors") {
    auto bad = parse_object("{nope", "thing");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Code::invalid_argument);
    CHECK(bad.error().message.starts_with("thing: not valid JSON: "));

    auto array = parse_object("[1]", "thing");
    REQUIRE_FALSE(array.ok());
    CHECK(array.error().message == "thing: expected a JSON object, got array");

    CHECK_FALSE(parse_object("", "thing").ok());
    CHECK(parse_object("{}", "thing").ok());
  }

  TEST_CASE("object_reader.reads_every_type") {
    auto j = parse_object(R"({"s":"x","b":true,"i":-3,"u":7,"d":1.5,
        "n":2,"l":["a","b"],"extra":{}})",
                          "t")
                 .value();
    std::string s;
    bool b = false;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0, n = 0;
    std::vector<std::string> l;
    ObjectReader r(j, "t");
    r.required("s", s);
    r.required("b", b);
    r.required("i", i);
    r.required("u", u);
    r.required("d", d);
    r.required("n", n);  // an integer is a fine double
    r.required("l", l);
    REQUIRE(r.status().ok());
    CHECK(s == "x");
    CHECK(b);
    CHECK(i == -3);
    CHECK(u == 7);
    CHECK(d == 1.5);
    CHECK(n == 2.0);
    CHECK(l == std::vector<std::string>{"a", "b"});
  }

  TEST_CASE("object_reader.missing_and_null_required") {
    auto j = parse_object(R"({"a":null})", "t").value();
    std::string a;
    ObjectReader r(j, "t");
    r.required("a", a);
    CHECK(r.status().error().message == "t: missing field \"a\"");
  }

  TEST_CASE("object_reader.optional_keeps_default") {
    auto j = parse_object(R"({"b":null})", "t").value();
    std::string a = "default";
    std::int64_t b = 5;
    ObjectReader r(j, "t");
    r.optional("a", a);
    r.optional("b", b);
    CHECK(r.status().ok());
    CHECK(a == "default");
    CHECK(b == 5);
  }

  TEST_CASE("object_reader.wrong_types") {
    auto j =
        parse_object(
            R"({"s":1,"i":1.5,"u":-1,"l":["a",2],"big":18446744073709551615})",
            "t")
            .value();
    auto first_error = [&](auto read) {
      ObjectReader r(j, "t");
      read(r);
      return r.status().ok() ? std::string() : r.status().error().message;
    };
    CHECK(first_error([](ObjectReader& r) {
            std::string s;
            r.optional("s", s);
          }) == "t: field \"s\": expected a string, got number");
    CHECK(first_error([](ObjectReader& r) {
            std::int64_t i;
            r.required("i", i);
          }) == "t: field \"i\": expected an integer, got number");
    CHECK(first_error([](ObjectReader& r) {
            std::uint64_t u;
            r.required("u", u);
          }) == "t: field \"u\": expected a non-negative integer, got number");
    CHECK(first_error([](ObjectReader& r) {
            std::vector<std::string> l;
            r.required("l", l);
          }) == "t: field \"l\": expected an array of strings, got array");
    CHECK(first_error([](ObjectReader& r) {
            std::int64_t big;
            r.required("big", big);
          }) ==
          "t: field \"big\": expected a 64-bit signed integer, got number");
  }

  TEST_CASE("object_reader.keeps_the_first_error") {
    auto j = parse_object(R"({"a":1})", "t").value();
    std::string a, b;
    ObjectReader r(j, "t");
    r.required("a", a);
    r.required("b", b);
    CHECK(r.status().error().message ==
          "t: field \"a\": expected a string, got number");
  }

  TEST_CASE("to_body.compact_and_never_throws") {
    CHECK(to_body(nlohmann::json{{"a", 1}}) == R"({"a":1})");
    CHECK_NOTHROW(to_body(nlohmann::json{{"a", "\xff"}}));
  }
}

}  // namespace nw::api
