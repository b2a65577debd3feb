#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/jobs/time_zone.h"
#include "common/base/result.h"
#include "common/base/time.h"
#include "common/base/units.h"

namespace nw::jobs {

// When a scheduled job fires: a job's `schedule` and `timezone` keys, parsed.
//
// Syntax:
// - cron with seconds, 6 fields: "second minute hour day-of-month month
//   day-of-week" ("0 30 2 * * *"), or classic 5-field cron without the
//   seconds ("30 2 * * *" = second 0). A field is `*`, a value, a range
//   `a-b`, a step `*/n`, `a-b/n` or `a/n` (= a-max/n), or a comma list of
//   those. Months take JAN..DEC, weekdays SUN..SAT (case-insensitive);
//   weekday 0 and 7 are both Sunday.
// - "@hourly", "@daily" = "@midnight", "@weekly" (Sunday 00:00),
//   "@monthly", "@yearly" = "@annually": the usual cron shorthands.
// - "@every <duration>" ("@every 10s", "@every 1m30s"), at least 1s.
//
// Day-of-month and day-of-week: a field is "restricted" unless it matches
// every value of its range (`*`, `*/1`, `1-31`, `SUN-SAT`). When both are
// restricted a day matches if EITHER matches ("0 0 1,15 * MON": the 1st,
// the 15th and every Monday), as in Vixie cron; otherwise a day must match
// both (i.e. the restricted one). Unlike Vixie cron, "*/2" counts as
// restricted: the rule depends only on which days a field selects.
//
// Time zones and DST: cron fields are local times in the schedule's zone
// (UTC by default). A local time skipped by a spring-forward gap fires
// once, at the first instant after the gap (02:30 on the spring-forward day
// in Europe/Berlin fires at 03:00 CEST); a local time that occurs twice at
// fall back fires once, at its first occurrence. So each local slot fires
// at most once and several slots inside one gap fire together, once.
//
// "@every d" counts absolute (UTC) time, ignoring the zone: it fires at the
// instants that are whole multiples of d since the Unix epoch (plus the
// phase spread_by() adds), so every controller computes the same slots
// whenever it starts.
//
// Lifecycle: a value type, immutable after parse(); safe to share between
// threads. It holds its TimeZone by shared_ptr.
class Schedule {
 public:
  enum class Kind { cron, every };

  // Parses `expr` in the zone `time_zone` (an IANA name, see ZoneCache).
  // Errors: Code::invalid_argument with a message such as
  // `schedule "0 61 * * * *": field 2 (minute): 61 is out of range 0-59`;
  // the zone's errors from load_time_zone().
  static Result<Schedule> parse(std::string_view expr,
                                std::string_view time_zone = "UTC");
  // Same with a zone already loaded. REQUIRES: zone != nullptr.
  static Result<Schedule> parse(std::string_view expr,
                                std::shared_ptr<const TimeZone> zone);

  // The first fire time strictly after `t`; nullopt only when there is none
  // before the end of the WallTime range (year 2262).
  std::optional<WallTime> next_after(WallTime t) const;
  // The fire times in (from, to], earliest first, at most `max` of them
  // (the earliest `max` when there are more).
  std::vector<WallTime> slots_between(WallTime from, WallTime to,
                                      std::size_t max) const;
  // The canonical form: "@every 1m30s", or the 6-field cron form with
  // numbers, `*`, `*/n`, `a-b/n`, ranges and lists ("@daily" gives
  // "0 0 0 * * *", "0 0 9 * * MON-FRI" gives "0 0 9 * * 1-5"). Parsing it
  // again gives an equal schedule.
  std::string to_string() const;

  Kind kind() const { return kind_; }
  const TimeZone& time_zone() const { return *zone_; }
  // The interval of an "@every" schedule; zero for cron.
  Duration every() const { return every_; }
  // For "@every d": the same schedule shifted by a phase in [0, d) (whole
  // milliseconds) derived from `key` by a fixed hash, so the jobs that
  // share an interval start at different instants instead of all at once,
  // and every controller computes the same slots for the same key. The
  // scheduler passes the job name. Cron schedules are returned unchanged.
  Schedule spread_by(std::string_view key) const;
  // The phase spread_by() chose; zero otherwise.
  Duration phase() const { return phase_; }

 private:
  // Bit v set: value v selected.
  struct Fields {
    std::uint64_t second = 0;  // 0-59
    std::uint64_t minute = 0;  // 0-59
    std::uint32_t hour = 0;    // 0-23
    std::uint32_t dom = 0;     // 1-31
    std::uint32_t month = 0;   // 1-12
    std::uint32_t dow = 0;     // 0-6, Sunday = 0
    bool dom_restricted = false;
    bool dow_restricted = false;
  };

  Schedule() = default;
  // The first local time (local seconds) at or after `local` that matches
  // the fields; nullopt past the WallTime range.
  std::optional<std::int64_t> next_local_match(std::int64_t local) const;
  std::uint32_t day_mask(int year, int month) const;

  Kind kind_ = Kind::cron;
  Fields f_;
  Duration every_{0};
  Duration phase_{0};
  std::shared_ptr<const TimeZone> zone_;
};

}  // namespace nw::jobs
