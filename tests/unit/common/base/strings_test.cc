#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/base/strings.h"

namespace nw {

using Parts = std::vector<std::string>;

TEST_SUITE("base.strings") {
  TEST_CASE("split.keeps_or_skips_empty") {
    CHECK(split("a,b,c", ',') == Parts{"a", "b", "c"});
    CHECK(split("a,,b", ',') == Parts{"a", "", "b"});
    CHECK(split("a,,b", ',', true) == Parts{"a", "b"});
    CHECK(split(",a,", ',') == Parts{"", "a", ""});
    CHECK(split("", ',') == Parts{""});
    CHECK(split("", ',', true).empty());
    CHECK(split("abc", ',') == Parts{"abc"});
  }

  TEST_CASE("trim.whitespace_both_ends") {
    CHECK(trim("  a b \t\r\n") == "a b");
    CHECK(trim("") == "");
    CHECK(trim(" \t ") == "");
    CHECK(trim("x") == "x");
  }

  TEST_CASE("join.inverse_of_split") {
    CHECK(join({}, ",") == "");
    CHECK(join({"a"}, ", ") == "a");
    CHECK(join({"a", "b", "c"}, ", ") == "a, b, c");
    for (std::string_view s : {"a,b", ",a,", "", "x,,y"}) {
      CHECK(join(split(s, ','), ",") == s);
    }
  }

  TEST_CASE("starts_with.prefixes") {
    CHECK(starts_with("nightwatch", "night"));
    CHECK(starts_with("x", ""));
    CHECK_FALSE(starts_with("ni", "night"));
  }

  TEST_CASE("append_escaped.json_rules") {
    std::string out;
    append_escaped(out, "a\"b\\c\n\t\r\x1f\xc3\xa9");
    CHECK(out == "a\\\"b\\\\c\\n\\t\\r\\u001f\xc3\xa9");
  }

  TEST_CASE("format_double.shortest_and_special") {
    CHECK(format_double(0.1) == "0.1");
    CHECK(format_double(2) == "2");
    CHECK(format_double(-1.5) == "-1.5");
    CHECK(format_double(1.0 / 0.0) == "+Inf");
    CHECK(format_double(-1.0 / 0.0) == "-Inf");
    CHECK(format_double(0.0 / 0.0) == "NaN");
  }
}

}  // namespace nw
