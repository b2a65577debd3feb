#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "common/base/time.h"

// Clock skew between the controller leader and the other members, measured
// NTP-style from ping/pong round trips on the control group
// (docs/formats/cluster-control.md, "Clock"). Everything here is pure: the
// caller passes the times in, so the tests need no clock.
namespace nw::cluster {

using Micros = std::chrono::microseconds;

// One round trip: how far the member's wall clock is ahead of ours
// (negative: behind) and the round-trip time it came from. The offset is
// off by at most rtt / 2 (when all of the delay was on one leg).
struct ClockSample {
  Micros offset{0};
  Micros rtt{0};
  MonoTime at;  // when the answer arrived (our monotonic clock)
};

// The sample of one exchange. `sent_wall` is our wall time when the ping
// left, `member_wall` the member's wall time in its answer, `rtt` the
// round trip on our monotonic clock. The midpoint of the exchange is
// sent_wall + rtt / 2 rather than (t0 + t2) / 2 so that a step of our own
// wall clock during the exchange does not count as the member's skew.
// A negative rtt (impossible on a monotonic clock) is taken as 0.
ClockSample clock_sample(WallTime sent_wall, WallTime member_wall, Micros rtt,
                         MonoTime at);

// A robust offset estimate for one member: of the last `window` samples no
// older than `max_age`, the one with the smallest round trip (the tightest
// error bound; a sample delayed by a busy link or a GC-like stall of either
// side is ignored until it is the only one). A stepped member clock shows
// within `window` samples.
//
// Lifecycle: one per member, owned by the leader's Cluster; not
// thread-safe (its owner's mutex guards it).
class SkewEstimator {
 public:
  static constexpr std::size_t kDefaultWindow = 8;
  static constexpr std::chrono::seconds kDefaultMaxAge{30};

  explicit SkewEstimator(std::size_t window = kDefaultWindow,
                         MonoTime::duration max_age = kDefaultMaxAge);

  // Adds a sample, dropping the oldest beyond the window.
  void add(const ClockSample& s);
  // The minimum-rtt sample among those no older than max_age at `now`;
  // nullopt when there is none (never measured, or the member stopped
  // answering long ago).
  std::optional<ClockSample> estimate(MonoTime now) const;
  std::size_t size() const { return samples_.size(); }

 private:
  std::size_t window_;
  MonoTime::duration max_age_;
  std::deque<ClockSample> samples_;  // oldest first
};

// Decides when a member's skew is worth a warning: once when |offset|
// rises above `threshold`, once when it falls back below threshold minus
// `hysteresis` (so an offset hovering at the threshold does not log every
// second). Not thread-safe, like SkewEstimator.
class SkewAlarm {
 public:
  enum class Change { none, exceeded, recovered };
  explicit SkewAlarm(Micros threshold = std::chrono::seconds(1),
                     Micros hysteresis = std::chrono::milliseconds(100));
  // Feeds the current estimate; returns whether this one crossed.
  Change observe(Micros offset);
  bool over() const { return over_; }

 private:
  Micros threshold_;
  Micros hysteresis_;
  bool over_ = false;
};

// Milliseconds, rounded to the nearest (half away from zero).
std::int64_t round_millis(Micros d);

}  // namespace nw::cluster
