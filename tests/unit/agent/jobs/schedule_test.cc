#include <doctest/doctest.h>

#include <chrono>
#include <utility>
#include <vector>

#include "jobs_test_util.h"

namespace nw::jobs {
namespace {

using test::must_parse;
using test::utc;
using test::utc_string;

std::string next_string(std::string_view expr, WallTime t,
                        std::string_view zone = "UTC") {
  return utc_string(must_parse(expr, zone).next_after(t));
}

std::vector<std::string> slot_strings(const Schedule& s, WallTime from,
                                      WallTime to, std::size_t max) {
  std::vector<std::string> out;
  for (WallTime t : s.slots_between(from, to, max)) {
    out.push_back(utc_string(t));
  }
  return out;
}

}  // namespace

TEST_SUITE("jobs.schedule") {
  TEST_CASE("parse.six_and_five_fields") {
    CHECK(must_parse("0 30 2 * * *").to_string() == "0 30 2 * * *");
    CHECK(must_parse("30 2 * * *").to_string() == "0 30 2 * * *");
    CHECK(must_parse("  0  30\t2 * * *  ").to_string() == "0 30 2 * * *");
    CHECK(must_parse("0 30 2 * * *").kind() == Schedule::Kind::cron);
    CHECK(must_parse("* * * * * *").to_string() == "* * * * * *");
    CHECK(must_parse("* * * * *").to_string() == "0 * * * * *");
    CHECK(must_parse("0 30 2 * * *").time_zone().name() == "UTC");
  }
  TEST_CASE("parse.lists_ranges_steps_and_names") {
    const std::pair<const char*, const char*> cases[] = {
        {"*/15 * * * * *", "*/15 * * * * *"},
        {"0 0-30/10 * * * *", "0 0-30/10 * * * *"},
        {"0 5/20 * * * *", "0 5-45/20 * * * *"},
        {"0 5,10,20-22 * * * *", "0 5,10,20-22 * * * *"},
        {"0 59,0,30 * * * *", "0 0,30,59 * * * *"},
        {"0 30,0 * * * *", "0 0,30 * * * *"},
        {"0 0 */6 * * *", "0 0 */6 * * *"},
        {"0 0 9 * * MON-FRI", "0 0 9 * * 1-5"},
        {"0 0 9 * * mon,Wed,FRI", "0 0 9 * * 1-5/2"},
        {"0 0 0 1 JAN,jul *", "0 0 0 1 1,7 *"},
        {"0 0 0 1 JAN-DEC *", "0 0 0 1 * *"},
        {"0 0 0 * * 7", "0 0 0 * * 0"},
        {"0 0 0 * * 0-7", "0 0 0 * * *"},
        {"0 0 0 * * SUN-SAT", "0 0 0 * * *"},
        {"0 0 0 * * FRI-SUN", "0 0 0 * * 0,5-6"},
        {"0 0 0 1-31 * *", "0 0 0 * * *"},
        {"*/1 * * * * *", "* * * * * *"},
        {"0 0 0 L-5 * *", nullptr},
    };
    for (const auto& [in, out] : cases) {
      CAPTURE(in);
      auto s = Schedule::parse(in);
      if (out == nullptr) {
        CHECK_FALSE(s.ok());
        continue;
      }
      REQUIRE_MESSAGE(s.ok(), s.error().to_string());
      CHECK(s->to_string() == out);
      // The canonical form parses back to the same schedule.
      CHECK(must_parse(s->to_string()).to_string() == out);
    }
  }
  TEST_CASE("parse.shorthands") {
    const std::pair<const char*, const char*> cases[] = {
        {"@hourly", "0 0 * * * *"},   {"@daily", "0 0 0 * * *"},
        {"@midnight", "0 0 0 * * *"}, {"@weekly", "0 0 0 * * 0"},
        {"@monthly", "0 0 0 1 * *"},  {"@yearly", "0 0 0 1 1 *"},
        {"@annually", "0 0 0 1 1 *"}, {"@DAILY", "0 0 0 * * *"},
    };
    for (const auto& [in, out] : cases) {
      CAPTURE(in);
      CHECK(must_parse(in).to_string() == out);
    }
  }
  TEST_CASE("parse.every") {
    Schedule s = must_parse("@every 10s");
    CHECK(s.kind() == Schedule::Kind::every);
    CHECK(s.every() == std::chrono::seconds(10));
    CHECK(s.to_string() == "@every 10s");
    CHECK(must_parse("@every 1m30s").every() == std::chrono::seconds(90));
    CHECK(must_parse("@every 1m30s").to_string() == "@every 1m30s");
    CHECK(must_parse("@every  90s ").to_string() == "@every 1m30s");
    CHECK(must_parse("@every 1500ms").to_string() == "@every 1s500ms");
    CHECK(must_parse("@every 1d").to_string() == "@every 1d");
    CHECK(must_parse("@every 1s").every() == std::chrono::seconds(1));
  }
  TEST_CASE("every.spread_by_shifts_by_a_stable_phase") {
    const Schedule plain = must_parse("@every 10s");
    const Schedule a = plain.spread_by("job-a");
    const Schedule b = plain.spread_by("job-b");
    CHECK(plain.phase() == Duration(0));
    CHECK(a.phase() >= Duration(0));
    CHECK(a.phase() < std::chrono::seconds(10));
    CHECK(a.phase() != b.phase());
    // Same key, same phase: another controller computes the same slots.
    CHECK(plain.spread_by("job-a").phase() == a.phase());
    // Slots stay 10 s apart, at the phase past each multiple of 10 s.
    const WallTime t0(std::chrono::seconds(1'700'000'000));
    const WallTime first = *a.next_after(t0);
    CHECK(first > t0);
    CHECK(first - t0 <= std::chrono::seconds(10));
    CHECK((first.time_since_epoch() - a.phase()) % std::chrono::seconds(10) ==
          Duration(0));
    CHECK(*a.next_after(first) - first == std::chrono::seconds(10));
    // Cron is left alone.
    CHECK(must_parse("0 * * * * *").spread_by("x").phase() == Duration(0));
  }

  TEST_CASE("parse.errors_say_what_and_where") {
    const std::pair<const char*, const char*> cases[] = {
        {"0 61 * * * *", "field 2 (minute): 61 is out of range 0-59"},
        {"61 * * * *", "field 1 (minute): 61 is out of range 0-59"},
        {"60 * * * * *", "field 1 (second): 60 is out of range 0-59"},
        {"", "empty schedule"},
        {"   ", "empty schedule"},
        {"* * * *", "expected 6 or 5 fields, got 4"},
        {"* * * * * * *", "expected 6 or 5 fields, got 7"},
        {"0 0 25 * * *", "field 3 (hour): 25 is out of range 0-23"},
        {"0 0 0 0 * *", "field 4 (day-of-month): 0 is out of range 1-31"},
        {"0 0 0 32 * *", "field 4 (day-of-month): 32 is out of range 1-31"},
        {"0 0 0 * 13 *", "field 5 (month): 13 is out of range 1-12"},
        {"0 0 0 * FOO *", "field 5 (month): \"FOO\" is not a month name"},
        {"0 0 0 * JANUARY *", "\"JANUARY\" is not a month name (JAN-DEC)"},
        {"0 0 0 * * 8", "field 6 (day-of-week): 8 is out of range 0-7"},
        {"0 0 0 * * FUNDAY", "\"FUNDAY\" is not a day-of-week name (SUN-SAT)"},
        {"0 x * * * *", "field 2 (minute): \"x\" is not a number"},
        {"0 -5 * * * *", "field 2 (minute): \"\" is not a number"},
        {"0 5- * * * *", "field 2 (minute): \"\" is not a number"},
        {"0 30-10 * * * *", "field 2 (minute): range \"30-10\" is backwards"},
        {"0 */0 * * * *", "field 2 (minute): step 0 is out of range 1-59"},
        {"0 0 */24 * * *", "field 3 (hour): step 24 is out of range 1-23"},
        {"0 */x * * * *", "field 2 (minute): \"x\" is not a number"},
        {"0 1,,2 * * * *", "field 2 (minute): empty item in list \"1,,2\""},
        {"0 1, * * * *", "field 2 (minute): empty item in list"},
        {"0 1/2/3 * * * *", "field 2 (minute): bad step in \"1/2/3\""},
        {"0 0 0 30 2 *", "day-of-month never occurs in the selected months"},
        {"0 0 0 31 4,6,9,11 *", "never occurs"},
        {"@every 250ms", "@every 250ms: the interval must be at least 1s"},
        {"@every 0s", "at least 1s"},
        {"@every", "@every needs a duration"},
        {"@every 10 s", "@every: expected a duration"},
        {"@every ten", "@every: expected a duration"},
        {"@fortnightly", "unknown shorthand \"@fortnightly\""},
        {"@daily 5", "unknown shorthand"},
    };
    for (const auto& [in, want] : cases) {
      CAPTURE(in);
      auto s = Schedule::parse(in);
      REQUIRE_FALSE(s.ok());
      CHECK(s.error().code == Code::invalid_argument);
      const std::string& msg = s.error().message;
      CAPTURE(msg);
      CHECK(msg.find("schedule \"" + std::string(in) + "\": ") == 0);
      CHECK(msg.find(want) != std::string::npos);
      CHECK_FALSE(s.error().hint.empty());
    }
    CHECK(Schedule::parse("0 61 * * * *").error().message ==
          "schedule \"0 61 * * * *\": field 2 (minute): 61 is out of range "
          "0-59");
    // Feb 29 exists; with a weekday too, either matches.
    CHECK(Schedule::parse("0 0 0 29 2 *").ok());
    CHECK(Schedule::parse("0 0 0 30 2 MON").ok());
  }
  TEST_CASE("parse.zone_errors_name_the_zone") {
    auto s = Schedule::parse("@daily", "Mars/Olympus_Mons");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("\"Mars/Olympus_Mons\"") != std::string::npos);
    auto t = Schedule::parse("@every 10s", "../../etc/passwd");
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().code == Code::invalid_argument);
    CHECK(t.error().message.find("\"../../etc/passwd\"") != std::string::npos);
    CHECK(must_parse("@daily", "Europe/Berlin").time_zone().name() ==
          "Europe/Berlin");
  }

  TEST_CASE("next_after.is_strictly_after") {
    CHECK(next_string("0 30 2 * * *", utc(2026, 12, 1)) ==
          "2026-12-01 02:30:00Z");
    CHECK(next_string("0 30 2 * * *", utc(2026, 12, 1, 2, 30)) ==
          "2026-12-02 02:30:00Z");
    CHECK(next_string("0 30 2 * * *", utc(2026, 12, 1, 2, 29, 59)) ==
          "2026-12-01 02:30:00Z");
    CHECK(next_string("* * * * * *", utc(2026, 12, 1, 12, 0, 0) +
                                         std::chrono::milliseconds(300)) ==
          "2026-12-01 12:00:01Z");
    CHECK(next_string("* * * * * *", utc(2026, 12, 1, 23, 59, 59)) ==
          "2026-12-02 00:00:00Z");
    CHECK(next_string("30 2 * * *", utc(2026, 12, 1, 3)) ==
          "2026-12-02 02:30:00Z");
    CHECK(next_string("0 0 0 1 1 *", utc(2026, 12, 31, 23, 59, 59)) ==
          "2027-01-01 00:00:00Z");
    CHECK(next_string("@hourly", utc(2026, 12, 31, 23, 0, 0)) ==
          "2027-01-01 00:00:00Z");
    CHECK(next_string("@weekly", utc(2026, 12, 1)) == "2026-12-06 00:00:00Z");
    CHECK(next_string("@monthly", utc(2026, 12, 1)) == "2027-01-01 00:00:00Z");
    CHECK(next_string("15 10 * * * *", utc(1969, 12, 31, 23, 59)) ==
          "1970-01-01 00:10:15Z");
  }
  TEST_CASE("next_after.month_ends") {
    Schedule s = must_parse("0 0 0 31 * *");
    CHECK(slot_strings(s, utc(2026, 1, 31), utc(2026, 12, 31), 100) ==
          std::vector<std::string>{
              "2026-03-31 00:00:00Z", "2026-05-31 00:00:00Z",
              "2026-07-31 00:00:00Z", "2026-08-31 00:00:00Z",
              "2026-10-31 00:00:00Z", "2026-12-31 00:00:00Z"});
    CHECK(next_string("0 0 12 30 * *", utc(2026, 1, 30, 13)) ==
          "2026-03-30 12:00:00Z");
  }
  TEST_CASE("next_after.leap_day") {
    Schedule s = must_parse("0 0 12 29 FEB *");
    CHECK(utc_string(s.next_after(utc(2026, 1, 1))) == "2028-02-29 12:00:00Z");
    CHECK(utc_string(s.next_after(utc(2028, 2, 29, 12))) ==
          "2032-02-29 12:00:00Z");
    // 2100 is not a leap year.
    CHECK(utc_string(s.next_after(utc(2096, 3, 1))) == "2104-02-29 12:00:00Z");
    CHECK(next_string("0 0 0 1 3 *", utc(2028, 2, 28)) ==
          "2028-03-01 00:00:00Z");
    CHECK(next_string("0 0 0 * 2 *", utc(2028, 2, 28, 1)) ==
          "2028-02-29 00:00:00Z");
    CHECK(next_string("0 0 0 * 2 *", utc(2027, 2, 28, 1)) ==
          "2028-02-01 00:00:00Z");
  }
  TEST_CASE("next_after.weekday_names") {
    // 2026-12-04 is a Friday, 2026-12-07 a Monday.
    CHECK(next_string("0 0 9 * * MON-FRI", utc(2026, 12, 4, 10)) ==
          "2026-12-07 09:00:00Z");
    CHECK(next_string("0 0 9 * * MON-FRI", utc(2026, 12, 4, 8)) ==
          "2026-12-04 09:00:00Z");
    CHECK(next_string("0 0 0 * * 7", utc(2026, 12, 1)) ==
          "2026-12-06 00:00:00Z");
    CHECK(next_string("0 0 0 * * SUN", utc(2026, 12, 1)) ==
          "2026-12-06 00:00:00Z");
    CHECK(next_string("0 0 0 * * 0", utc(2026, 12, 1)) ==
          "2026-12-06 00:00:00Z");
    CHECK(next_string("0 0 0 * * SAT", utc(2026, 12, 26)) ==
          "2027-01-02 00:00:00Z");
    CHECK(next_string("0 0 0 * * FRI-SUN", utc(2026, 12, 7)) ==
          "2026-12-11 00:00:00Z");
  }
  TEST_CASE("next_after.dom_dow_rule") {
    // Both restricted: the 13th OR any Friday.
    Schedule either = must_parse("0 0 0 13 * FRI");
    CHECK(
        slot_strings(either, utc(2026, 12, 1), utc(2026, 12, 31), 10) ==
        std::vector<std::string>{"2026-12-04 00:00:00Z", "2026-12-11 00:00:00Z",
                                 "2026-12-13 00:00:00Z", "2026-12-18 00:00:00Z",
                                 "2026-12-25 00:00:00Z"});
    // Only day-of-month restricted: the 13th.
    CHECK(next_string("0 0 0 13 * *", utc(2026, 12, 1)) ==
          "2026-12-13 00:00:00Z");
    // Day-of-month covering every day counts as unrestricted: Mondays.
    CHECK(next_string("0 0 0 1-31 * MON", utc(2026, 12, 1, 12)) ==
          "2026-12-07 00:00:00Z");
    // */2 is restricted (it does not select every day): odd days OR Mondays.
    Schedule odd = must_parse("0 0 0 */2 * MON");
    CHECK(slot_strings(odd, utc(2026, 12, 9), utc(2026, 12, 16), 10) ==
          std::vector<std::string>{
              "2026-12-11 00:00:00Z", "2026-12-13 00:00:00Z",
              "2026-12-14 00:00:00Z", "2026-12-15 00:00:00Z"});
    // 30 February never happens, but with a weekday either matches.
    CHECK(next_string("0 0 0 30 2 MON", utc(2026, 12, 1)) ==
          "2027-02-01 00:00:00Z");
  }
  TEST_CASE("next_after.every_is_aligned_to_the_epoch") {
    CHECK(next_string("@every 10s", utc(2026, 12, 1, 12, 0, 3) +
                                        std::chrono::milliseconds(500)) ==
          "2026-12-01 12:00:10Z");
    CHECK(next_string("@every 10s", utc(2026, 12, 1, 12, 0, 10)) ==
          "2026-12-01 12:00:20Z");
    Schedule seven = must_parse("@every 7s");
    CHECK(*seven.next_after(WallTime()) == WallTime(std::chrono::seconds(7)));
    CHECK(*seven.next_after(WallTime(std::chrono::seconds(100))) ==
          WallTime(std::chrono::seconds(105)));
    CHECK(*seven.next_after(WallTime(std::chrono::seconds(-1))) == WallTime());
    CHECK(next_string("@every 1m30s", utc(2026, 12, 1)) ==
          "2026-12-01 00:01:30Z");
    // The zone does not matter, not even across a DST change.
    Schedule hourly = must_parse("@every 1h", "Europe/Berlin");
    CHECK(slot_strings(hourly, utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 3),
                       10) == std::vector<std::string>{"2026-03-29 01:00:00Z",
                                                       "2026-03-29 02:00:00Z",
                                                       "2026-03-29 03:00:00Z"});
  }
  TEST_CASE("slots_between.caps_at_max") {
    Schedule every_second = must_parse("* * * * * *");
    auto slots =
        every_second.slots_between(utc(2026, 12, 1), utc(2026, 12, 2), 100);
    REQUIRE(slots.size() == 100);
    CHECK(slots.front() == utc(2026, 12, 1, 0, 0, 1));
    CHECK(slots.back() == utc(2026, 12, 1, 0, 1, 40));
    Schedule hourly = must_parse("@hourly");
    // (from, to]: from excluded, to included.
    CHECK(
        hourly.slots_between(utc(2026, 12, 1), utc(2026, 12, 2), 1000).size() ==
        24);
    CHECK(hourly.slots_between(utc(2026, 12, 1), utc(2026, 12, 2), 5).size() ==
          5);
    CHECK(hourly.slots_between(utc(2026, 12, 1), utc(2026, 12, 2), 0).empty());
    CHECK(hourly.slots_between(utc(2026, 12, 2), utc(2026, 12, 1), 10).empty());
    Schedule every = must_parse("@every 10s");
    CHECK(every.slots_between(utc(2026, 12, 1), utc(2026, 12, 1, 0, 1), 100)
              .size() == 6);
    CHECK(every.slots_between(utc(2026, 12, 1), utc(2026, 12, 8), 3).size() ==
          3);
  }
  TEST_CASE("next_after.end_of_time") {
    CHECK(next_string("@yearly", utc(2262, 1, 1, 1)) == "none");
    CHECK(next_string("@every 1d", utc(2262, 4, 11)) == "none");
    CHECK(next_string("@yearly", utc(2260, 6, 1)) == "2261-01-01 00:00:00Z");
  }
  TEST_CASE("next_after.timing") {
    struct Case {
      const char* expr;
      const char* zone;
    };
    const Case cases[] = {
        {"0 30 2 * * *", "Europe/Berlin"},
        {"*/15 * * * * *", "UTC"},
        {"0 0 9 * * MON-FRI", "America/New_York"},
        {"0 0 12 29 2 *", "Australia/Lord_Howe"},
        {"0 */5 8-18 * * 1-5", "Asia/Tokyo"},
        {"@every 10s", "UTC"},
        {"0 0 0 13 * FRI", "Europe/Berlin"},
    };
    std::vector<Schedule> schedules;
    for (const Case& c : cases) schedules.push_back(must_parse(c.expr, c.zone));
    constexpr int kCalls = 100'000;
    std::int64_t sink = 0;
    WallTime t = utc(2026, 1, 1);
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) {
      const Schedule& s = schedules[static_cast<size_t>(i) % schedules.size()];
      auto next = s.next_after(t + std::chrono::seconds(i * 7919LL));
      sink += next ? next->time_since_epoch().count() % 7 : 1;
    }
    auto elapsed = std::chrono::steady_clock::now() - start;
    double us =
        std::chrono::duration<double, std::micro>(elapsed).count() / kCalls;
    MESSAGE("next_after: " << kCalls << " calls, " << us << " us per call");
    CHECK(sink >= 0);
  }
}

}  // namespace nw::jobs
