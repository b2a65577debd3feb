#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/jobs/civil_time.h"
#include "common/base/result.h"
#include "common/base/time.h"

namespace nw::jobs {

// How a local time maps to instants; see TimeZone::lookup_local.
struct LocalLookup {
  enum class Kind {
    unique,    // exactly one instant: `first`
    skipped,   // in a spring-forward gap: `first` is the end of the gap
    repeated,  // in a fall-back overlap: `first` < `second`
  };
  Kind kind = Kind::unique;
  std::int64_t first = 0;   // Unix seconds
  std::int64_t second = 0;  // Unix seconds; only for repeated
};

// A time zone: the UTC offsets of an IANA zone over time, read from a TZif
// file (RFC 8536, versions 1 to 3), or UTC.
//
// Data: the transitions of the file's 64-bit (v2+) data block (the 32-bit
// block for a v1 file), then the POSIX TZ string of the footer for instants
// after the last transition. At load the footer's rule is expanded into
// explicit transitions up to the year 2100 so that a lookup is one binary
// search; later instants evaluate the rule directly. Leap-second ("right/")
// files are rejected: Nightwatch counts POSIX seconds.
//
// DST policy (used by the scheduler through from_local):
// - a local time that does not exist (the spring-forward gap, e.g. 02:30 on
//   the last Sunday of March in Europe/Berlin) maps to the first instant
//   after the gap (03:00 local, i.e. 01:00 UTC);
// - a local time that occurs twice (fall back, e.g. 02:30 on the last Sunday
//   of October in Europe/Berlin) maps to its first occurrence (02:30 CEST).
//
// Lifecycle: immutable once built; shared by std::shared_ptr and safe to use
// from any thread.
class TimeZone {
 public:
  // The built-in UTC zone; needs no zone files.
  static std::shared_ptr<const TimeZone> utc();
  // Parses TZif bytes. `name` is used in errors and by name().
  // Errors: Code::corruption saying what is malformed.
  static Result<std::shared_ptr<const TimeZone>> from_tzif(
      std::string name, std::string_view bytes);
  // A zone given only by a POSIX TZ string such as
  // "CET-1CEST,M3.5.0,M10.5.0/3". Errors: Code::invalid_argument.
  static Result<std::shared_ptr<const TimeZone>> from_posix(
      std::string name, std::string_view tz);

  const std::string& name() const { return name_; }
  // The UTC offset (seconds east of UTC) in effect at `unix_seconds`.
  int offset_at(std::int64_t unix_seconds) const;
  // The local civil time at `t` (fractions of a second are dropped).
  CivilTime to_local(WallTime t) const;
  // The instant of a local time, with the DST policy above.
  WallTime from_local(const CivilTime& c) const;
  // Same as from_local on local seconds (see seconds_from_civil), in
  // Unix seconds.
  std::int64_t from_local_seconds(std::int64_t local_seconds) const;
  // Every instant a local time denotes (see LocalLookup).
  LocalLookup lookup_local(std::int64_t local_seconds) const;

  // The rule of a POSIX TZ string; public for the parser in time_zone.cc.
  struct PosixRule {
    struct Date {
      char kind = 'M';  // 'J' (1-365, no Feb 29), 'N' (0-365), 'M'
      int month = 0;    // M: 1-12
      int week = 0;     // M: 1-5 (5 = last)
      int day = 0;      // M: weekday 0-6; J/N: the day number
    };
    int std_offset = 0;  // seconds east of UTC
    int dst_offset = 0;
    bool has_dst = false;
    Date start, end;
    int start_time = 7200;  // local seconds after midnight (standard time)
    int end_time = 7200;    // local seconds after midnight (DST)
  };

 private:
  TimeZone() = default;
  int rule_offset_at(std::int64_t unix_seconds) const;
  void extend_with_rule();

  std::string name_;
  std::vector<std::int64_t> transitions_;  // ascending Unix seconds
  std::vector<int> offsets_;               // offset from transitions_[i] on
  int initial_offset_ = 0;                 // before the first transition
  std::optional<PosixRule> rule_;          // after the last file transition
  std::int64_t rule_from_ = 0;  // rule_ applies at and after this instant
};

// The zone files under a directory (normally /usr/share/zoneinfo), with a
// cache of the zones already loaded.
//
// Lifecycle: created once (see load_time_zone for the process-wide one);
// zones stay cached for the cache's lifetime. Thread-safe: load() may be
// called from any thread.
class ZoneCache {
 public:
  static constexpr const char* kDefaultRoot = "/usr/share/zoneinfo";

  explicit ZoneCache(std::string root = kDefaultRoot);

  // The zone named `name` ("Europe/Berlin"); "UTC" and "Etc/UTC" are
  // built in and need no files.
  // Errors, each naming the zone: Code::invalid_argument for a malformed
  // name ("../x", "/etc/passwd") or an unknown zone;
  // Code::failed_precondition when the zone directory is missing (hint:
  // install tzdata); Code::corruption for a bad file; Code::io_error.
  Result<std::shared_ptr<const TimeZone>> load(std::string_view name);

  const std::string& root() const { return root_; }

 private:
  const std::string root_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const TimeZone>>
      zones_;  // GUARDED_BY(mu_)
};

// load() of the process-wide cache over $TZDIR, or /usr/share/zoneinfo.
// Zone data is immutable system data, so one cache per process (like libc's)
// is shared rather than passed around.
Result<std::shared_ptr<const TimeZone>> load_time_zone(std::string_view name);

}  // namespace nw::jobs
