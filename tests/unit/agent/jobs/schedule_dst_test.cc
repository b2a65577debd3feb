#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "jobs_test_util.h"

// The DST policy of schedule.h: a local time skipped by a spring-forward gap
// fires once, at the first instant after the gap; a local time that occurs
// twice fires once, at its first occurrence.
//
// 2026 changes: Europe/Berlin 03-29 01:00Z (02:00 CET -> 03:00 CEST) and
// 10-25 01:00Z (03:00 CEST -> 02:00 CET); America/New_York 03-08 07:00Z
// (02:00 EST -> 03:00 EDT) and 11-01 06:00Z (02:00 EDT -> 01:00 EST);
// Australia/Lord_Howe 04-04 15:00Z (02:00 +11 -> 01:30 +1030) and
// 10-03 15:30Z (02:00 +1030 -> 02:30 +11).

namespace nw::jobs {
namespace {

using test::must_parse;
using test::utc;
using test::utc_string;

std::vector<std::string> slots(std::string_view expr, std::string_view zone,
                               WallTime from, WallTime to) {
  std::vector<std::string> out;
  for (WallTime t : must_parse(expr, zone).slots_between(from, to, 100)) {
    out.push_back(utc_string(t));
  }
  return out;
}

std::string next(std::string_view expr, std::string_view zone, WallTime t) {
  return utc_string(must_parse(expr, zone).next_after(t));
}

using Strings = std::vector<std::string>;

// A random cron schedule (second 0) with the value sets it selects, for a
// brute-force comparison.
struct RandomCron {
  std::string expr;
  std::vector<bool> minute, hour, dom, month, dow;
};

std::string pick(std::mt19937& rng, int lo, int hi, int max_items,
                 std::vector<bool>* set) {
  set->assign(static_cast<size_t>(hi + 1), false);
  if (max_items == 0 || rng() % 3 == 0) {
    for (int v = lo; v <= hi; ++v) (*set)[static_cast<size_t>(v)] = true;
    return "*";
  }
  std::string out;
  int n = 1 + static_cast<int>(rng() % static_cast<unsigned>(max_items));
  for (int i = 0; i < n; ++i) {
    int v = lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1));
    (*set)[static_cast<size_t>(v)] = true;
    if (!out.empty()) out += ',';
    out += std::to_string(v);
  }
  return out;
}

RandomCron random_cron(std::mt19937& rng) {
  RandomCron c;
  std::string mi = pick(rng, 0, 59, 4, &c.minute);
  std::string h, dom, mo, dow;
  if (rng() % 2 == 0) {
    // Early-morning hours on any day: the hours DST changes move.
    h = pick(rng, 0, 3, 3, &c.hour);
    if (h == "*") h = "0-3";
    c.hour.resize(24, false);
    dom = pick(rng, 1, 28, 0, &c.dom);
    mo = pick(rng, 1, 12, 0, &c.month);
    dow = pick(rng, 0, 6, 0, &c.dow);
  } else {
    h = pick(rng, 0, 23, 4, &c.hour);
    dom = pick(rng, 1, 28, 6, &c.dom);
    mo = pick(rng, 1, 12, 6, &c.month);
    dow = pick(rng, 0, 6, 3, &c.dow);
  }
  c.dom.resize(32, dom == "*");  // "*" covers 29-31 too
  c.expr = "0 " + mi + " " + h + " " + dom + " " + mo + " " + dow;
  return c;
}

bool brute_matches(const RandomCron& c, const CivilTime& t) {
  auto all = [](const std::vector<bool>& v, size_t from) {
    for (size_t i = from; i < v.size(); ++i) {
      if (!v[i]) return false;
    }
    return true;
  };
  const int wd = weekday_from_days(days_from_civil(t.year, t.month, t.day));
  const bool dom_ok = c.dom[static_cast<size_t>(t.day)];
  const bool dow_ok = c.dow[static_cast<size_t>(wd)];
  const bool dom_all = all(c.dom, 1), dow_all = all(c.dow, 0);
  const bool day_ok =
      (!dom_all && !dow_all) ? (dom_ok || dow_ok) : (dom_ok && dow_ok);
  return t.second == 0 && c.minute[static_cast<size_t>(t.minute)] &&
         c.hour[static_cast<size_t>(t.hour)] &&
         c.month[static_cast<size_t>(t.month)] && day_ok;
}

// The policy, written out: the first occurrence of a local time, or for a
// skipped one the first instant whose local time is later.
std::int64_t brute_instant(const TimeZone& z, std::int64_t local) {
  std::int64_t best = INT64_MAX;
  for (int o = -14 * 3600; o <= 14 * 3600; o += 900) {
    std::int64_t u = local - o;
    if (z.offset_at(u) == o) best = std::min(best, u);
  }
  if (best != INT64_MAX) return best;
  std::int64_t u = local - 14 * 3600;
  while (u + z.offset_at(u) <= local) ++u;
  return u;
}

std::optional<std::int64_t> brute_next(const RandomCron& c, const TimeZone& z,
                                       std::int64_t t) {
  std::int64_t local = (t + z.offset_at(t)) / 60 * 60 - 4 * 3600;
  for (std::int64_t end = local + 12LL * 366 * 86400; local < end;
       local += 60) {
    if (!brute_matches(c, civil_from_seconds(local))) continue;
    std::int64_t at = brute_instant(z, local);
    if (at > t) return at;
  }
  return std::nullopt;
}

}  // namespace

TEST_SUITE("jobs.schedule") {
  TEST_CASE("next_after.berlin_spring_forward_runs_skipped_time_once") {
    // 02:30 does not exist on 03-29: it runs at 03:00 CEST (01:00Z).
    CHECK(slots("0 30 2 * * *", "Europe/Berlin", utc(2026, 3, 27),
                utc(2026, 3, 31)) ==
          Strings{"2026-03-27 01:30:00Z", "2026-03-28 01:30:00Z",
                  "2026-03-29 01:00:00Z", "2026-03-30 00:30:00Z"});
    CHECK(next("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12)) ==
          "2026-03-29 01:00:00Z");
    CHECK(next("0 0 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12)) ==
          "2026-03-29 01:00:00Z");
    // 02:00, 02:30 and 03:00 all fall on 01:00Z: one run.
    CHECK(slots("0 0,30 * * * *", "Europe/Berlin", utc(2026, 3, 28, 22, 30),
                utc(2026, 3, 29, 2)) ==
          Strings{"2026-03-28 23:00:00Z", "2026-03-28 23:30:00Z",
                  "2026-03-29 00:00:00Z", "2026-03-29 00:30:00Z",
                  "2026-03-29 01:00:00Z", "2026-03-29 01:30:00Z",
                  "2026-03-29 02:00:00Z"});
    // Every second of the 2 o'clock hour: once at the end of the gap, then
    // the next day.
    CHECK(slots("* * 2 * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 59, 58),
                utc(2026, 3, 30, 0, 0, 1)) == Strings{"2026-03-29 01:00:00Z",
                                                      "2026-03-30 00:00:00Z",
                                                      "2026-03-30 00:00:01Z"});
  }
  TEST_CASE("next_after.berlin_fall_back_runs_repeated_time_once") {
    // 02:30 happens at 00:30Z (CEST) and 01:30Z (CET): only the first.
    CHECK(slots("0 30 2 * * *", "Europe/Berlin", utc(2026, 10, 24),
                utc(2026, 10, 27)) == Strings{"2026-10-24 00:30:00Z",
                                              "2026-10-25 00:30:00Z",
                                              "2026-10-26 01:30:00Z"});
    // Asked during the second 02:xx hour, it does not run again.
    CHECK(next("0 30 2 * * *", "Europe/Berlin", utc(2026, 10, 25, 1, 0)) ==
          "2026-10-26 01:30:00Z");
    CHECK(next("0 30 2 * * *", "Europe/Berlin", utc(2026, 10, 25, 1, 10)) ==
          "2026-10-26 01:30:00Z");
    // Hourly: 02:00 CEST once, then 03:00 CET; 02:00 CET is not repeated.
    CHECK(slots("@hourly", "Europe/Berlin", utc(2026, 10, 24, 23, 30),
                utc(2026, 10, 25, 3)) == Strings{"2026-10-25 00:00:00Z",
                                                 "2026-10-25 02:00:00Z",
                                                 "2026-10-25 03:00:00Z"});
    // Times outside the repeated hour are unaffected.
    CHECK(slots("0 0 4 * * *", "Europe/Berlin", utc(2026, 10, 24),
                utc(2026, 10, 27)) == Strings{"2026-10-24 02:00:00Z",
                                              "2026-10-25 03:00:00Z",
                                              "2026-10-26 03:00:00Z"});
  }
  TEST_CASE("next_after.new_york_spring_forward") {
    CHECK(slots("0 30 2 * * *", "America/New_York", utc(2026, 3, 7),
                utc(2026, 3, 10)) == Strings{"2026-03-07 07:30:00Z",
                                             "2026-03-08 07:00:00Z",
                                             "2026-03-09 06:30:00Z"});
    CHECK(slots("@daily", "America/New_York", utc(2026, 3, 7),
                utc(2026, 3, 10)) == Strings{"2026-03-07 05:00:00Z",
                                             "2026-03-08 05:00:00Z",
                                             "2026-03-09 04:00:00Z"});
  }
  TEST_CASE("next_after.new_york_fall_back") {
    // 01:30 happens at 05:30Z (EDT) and 06:30Z (EST): only the first.
    CHECK(slots("0 30 1 * * *", "America/New_York", utc(2026, 10, 31),
                utc(2026, 11, 3)) == Strings{"2026-10-31 05:30:00Z",
                                             "2026-11-01 05:30:00Z",
                                             "2026-11-02 06:30:00Z"});
    CHECK(next("0 30 1 * * *", "America/New_York", utc(2026, 11, 1, 6)) ==
          "2026-11-02 06:30:00Z");
    CHECK(slots("0 */20 1 * * *", "America/New_York", utc(2026, 11, 1, 4, 59),
                utc(2026, 11, 1, 8)) == Strings{"2026-11-01 05:00:00Z",
                                                "2026-11-01 05:20:00Z",
                                                "2026-11-01 05:40:00Z"});
    // @every ignores the zone: a slot every hour of absolute time.
    CHECK(slots("@every 1h", "America/New_York", utc(2026, 11, 1, 4, 30),
                utc(2026, 11, 1, 7, 30)) == Strings{"2026-11-01 05:00:00Z",
                                                    "2026-11-01 06:00:00Z",
                                                    "2026-11-01 07:00:00Z"});
  }
  TEST_CASE("next_after.lord_howe_half_hour_dst") {
    // 02:15 is in the 30-minute gap of 10-04: runs at 02:30 +11 (15:30Z).
    CHECK(slots("0 15 2 * * *", "Australia/Lord_Howe", utc(2026, 10, 2),
                utc(2026, 10, 5)) == Strings{"2026-10-02 15:45:00Z",
                                             "2026-10-03 15:30:00Z",
                                             "2026-10-04 15:15:00Z"});
    // 01:45 happens twice on 04-05 (14:45Z, 15:15Z): only the first.
    CHECK(slots("0 45 1 * * *", "Australia/Lord_Howe", utc(2026, 4, 3),
                utc(2026, 4, 6)) == Strings{"2026-04-03 14:45:00Z",
                                            "2026-04-04 14:45:00Z",
                                            "2026-04-05 15:15:00Z"});
  }
  TEST_CASE("next_after.far_future_uses_the_footer_rule") {
    // 2150: after the expanded transitions (2100); last Sunday of March is
    // 03-29 that year too.
    CHECK(next("0 30 2 * * *", "Europe/Berlin", utc(2150, 3, 28, 12)) ==
          "2150-03-29 01:00:00Z");
    CHECK(next("0 30 2 * * *", "Europe/Berlin", utc(2150, 7, 1, 12)) ==
          "2150-07-02 00:30:00Z");
  }
  TEST_CASE("next_after.matches_brute_force") {
    // Random schedules and start times around DST changes, against a
    // minute-by-minute scan of local time.
    std::mt19937 rng(20261201);
    for (const char* name :
         {"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"}) {
      auto zone = load_time_zone(name);
      REQUIRE(zone.ok());
      const TimeZone& z = **zone;
      for (int i = 0; i < 60; ++i) {
        RandomCron c = random_cron(rng);
        Schedule s = must_parse(c.expr, name);
        // Start up to two days before one of the 2026 DST changes of
        // these zones (and run across it).
        static constexpr int kChanges[][2] = {{3, 29}, {10, 25}, {3, 8},
                                              {11, 1}, {4, 5},   {10, 4}};
        const auto& day = kChanges[rng() % 6];
        std::int64_t t =
            seconds_from_civil(CivilTime{2026, day[0], day[1], 0, 0, 0}) -
            static_cast<std::int64_t>(rng() % (2u * 86400));
        for (int k = 0; k < 5; ++k) {
          auto want = brute_next(c, z, t);
          auto got = s.next_after(WallTime(std::chrono::seconds(t)));
          const std::string zone_name = name;
          CAPTURE(zone_name);
          CAPTURE(c.expr);
          CAPTURE(t);
          REQUIRE(want.has_value());
          REQUIRE(got.has_value());
          REQUIRE(utc_string(*got) ==
                  utc_string(WallTime(std::chrono::seconds(*want))));
          t = *want;
        }
      }
    }
  }
}

}  // namespace nw::jobs
