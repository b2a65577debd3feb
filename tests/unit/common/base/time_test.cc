#include "common/base/time.h"

#include <doctest/doctest.h>

namespace nw {

TEST_SUITE("base.time") {
  TEST_CASE("parse_rfc3339.round_trips_format") {
    const WallTime t = WallTime(std::chrono::milliseconds(1795860000123LL));
    Result<WallTime> back = parse_rfc3339(format_rfc3339_millis(t));
    REQUIRE(back.ok());
    CHECK(*back == t);
  }

  TEST_CASE("parse_rfc3339.offsets_and_fractions") {
    Result<WallTime> z = parse_rfc3339("2026-11-22T10:00:00Z");
    Result<WallTime> plus = parse_rfc3339("2026-11-22T11:30:00+01:30");
    Result<WallTime> minus = parse_rfc3339("2026-11-22t05:00:00.5-05:00");
    REQUIRE(z.ok());
    REQUIRE(plus.ok());
    REQUIRE(minus.ok());
    CHECK(*plus == *z);
    CHECK(*minus == *z + std::chrono::milliseconds(500));
    CHECK(format_rfc3339_millis(*z) == "2026-11-22T10:00:00.000Z");
  }

  TEST_CASE("parse_rfc3339.rejects_malformed_text") {
    for (const char* bad :
         {"", "2026-11-22", "2026-11-22T10:00:00", "2026-13-01T00:00:00Z",
          "2026-11-22T10:00:00Zx", "2026-11-22T10:00:00.Z",
          "2026-11-22T25:00:00Z", "yesterday"}) {
      CAPTURE(bad);
      Result<WallTime> r = parse_rfc3339(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::invalid_argument);
    }
  }
}

}  // namespace nw
