#pragma once

#include <compare>
#include <cstdint>

namespace nw::jobs {

// Proleptic Gregorian calendar arithmetic without zones (Howard Hinnant's
// algorithms); pure functions, safe from any thread.

// A local (civil) date and time, to the second, without a zone.
// month 1-12, day 1-31, hour 0-23, minute 0-59, second 0-59.
struct CivilTime {
  int year = 1970;
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;

  auto operator<=>(const CivilTime&) const = default;
};

// Days since 1970-01-01 of a proleptic Gregorian date (may be negative).
std::int64_t days_from_civil(int year, int month, int day);
// Seconds since 1970-01-01T00:00:00 of a civil time read as if it were UTC
// ("local seconds"); the inverse of civil_from_seconds.
std::int64_t seconds_from_civil(const CivilTime& c);
CivilTime civil_from_seconds(std::int64_t seconds);
// 0 = Sunday ... 6 = Saturday.
int weekday_from_days(std::int64_t days);
int days_in_month(int year, int month);
bool is_leap_year(int year);
// floor(a / b) for b > 0.
std::int64_t floor_div(std::int64_t a, std::int64_t b);

}  // namespace nw::jobs
