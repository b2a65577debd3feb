#include <doctest/doctest.h>

#include <string>

#include "common/base/units.h"

namespace nw {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST_SUITE("base.units") {
  TEST_CASE("parse_duration.valid") {
    CHECK(parse_duration("0").value() == Duration(0));
    CHECK(parse_duration("0s").value() == Duration(0));
    CHECK(parse_duration("250ms").value() == milliseconds(250));
    CHECK(parse_duration("10s").value() == seconds(10));
    CHECK(parse_duration("1m30s").value() == seconds(90));
    CHECK(parse_duration("2h").value() == hours(2));
    CHECK(parse_duration("1d").value() == hours(24));
    CHECK(parse_duration("1h1m1s1ms").value() ==
          hours(1) + minutes(1) + seconds(1) + milliseconds(1));
  }

  TEST_CASE("parse_duration.errors") {
    for (std::string_view bad :
         {"", "10", "s", "1.5s", "-1s", "10 s", " 10s", "10sec", "1y", "10s5",
          "99999999999999999999s", "9999999999999999d"}) {
      CAPTURE(bad);
      auto r = parse_duration(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::invalid_argument);
      CHECK(r.error().message ==
            "expected a duration such as 500ms, 10s, 1m30s or 2h, got \"" +
                std::string(bad) + "\"");
    }
  }

  TEST_CASE("format_duration.round_trips") {
    CHECK(format_duration(Duration(0)) == "0s");
    CHECK(format_duration(seconds(90)) == "1m30s");
    CHECK(format_duration(milliseconds(250)) == "250ms");
    CHECK(format_duration(hours(48)) == "2d");
    CHECK(format_duration(milliseconds(1500)) == "1s500ms");
    for (Duration d :
         {Duration(0), Duration(1), Duration(999), Duration(1000),
          Duration(61001), Duration(86400001), Duration(3 * 86400000LL + 7)}) {
      CAPTURE(d.count());
      CHECK(parse_duration(format_duration(d)).value() == d);
    }
  }

  TEST_CASE("parse_size.valid") {
    CHECK(parse_size("0").value() == 0);
    CHECK(parse_size("512").value() == 512);
    CHECK(parse_size("512B").value() == 512);
    CHECK(parse_size("64KiB").value() == 64 * 1024);
    CHECK(parse_size("16MiB").value() == 16ULL << 20);
    CHECK(parse_size("1GiB").value() == 1ULL << 30);
    CHECK(parse_size("2TiB").value() == 2ULL << 40);
    CHECK(parse_size("1KB").value() == 1000);
    CHECK(parse_size("1kB").value() == 1000);
    CHECK(parse_size("3MB").value() == 3000000);
    CHECK(parse_size("1GB").value() == 1000000000ULL);
  }

  TEST_CASE("parse_size.errors") {
    for (std::string_view bad :
         {"", "MiB", "-1", "1.5MiB", "16 MiB", "16mib", "16M",
          "99999999999999999999", "99999999999TiB"}) {
      CAPTURE(bad);
      auto r = parse_size(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().message ==
            "expected a size such as 4096, 64KiB, 16MiB or 1GiB, got \"" +
                std::string(bad) + "\"");
    }
  }

  TEST_CASE("format_size.round_trips") {
    CHECK(format_size(0) == "0");
    CHECK(format_size(1000) == "1000");
    CHECK(format_size(1024) == "1KiB");
    CHECK(format_size(1536) == "1536");
    CHECK(format_size(16ULL << 20) == "16MiB");
    CHECK(format_size(3ULL << 30) == "3GiB");
    CHECK(format_size(1ULL << 40) == "1TiB");
    for (std::uint64_t n : {0ULL, 1ULL, 1023ULL, 1024ULL, 1025ULL, 5ULL << 20,
                            (1ULL << 30) + 1, 7ULL << 40}) {
      CAPTURE(n);
      CHECK(parse_size(format_size(n)).value() == n);
    }
  }
}

}  // namespace nw
