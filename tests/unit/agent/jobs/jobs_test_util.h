#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "agent/jobs/schedule.h"
#include "agent/jobs/time_zone.h"

namespace nw::jobs::test {

// The instant of a UTC civil time.
inline WallTime utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return WallTime(
      std::chrono::seconds(seconds_from_civil(CivilTime{y, mo, d, h, mi, s})));
}

// "2026-03-29 03:00:00" for a civil time.
inline std::string civil_string(const CivilTime& c) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", c.year,
                c.month, c.day, c.hour, c.minute, c.second);
  return buf;
}

// "2026-03-29 01:00:00Z" for an instant; "none" for nullopt.
inline std::string utc_string(std::optional<WallTime> t) {
  if (!t) return "none";
  return civil_string(TimeZone::utc()->to_local(*t)) + "Z";
}

inline Schedule must_parse(std::string_view expr,
                           std::string_view zone = "UTC") {
  auto s = Schedule::parse(expr, zone);
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  return *s;
}

}  // namespace nw::jobs::test
