#include "agent/cluster/clock_skew.h"

#include <cstdint>
#include <cstdlib>

namespace nw::cluster {

ClockSample clock_sample(WallTime sent_wall, WallTime member_wall, Micros rtt,
                         MonoTime at) {
  if (rtt < Micros(0)) rtt = Micros(0);
  const WallTime midpoint =
      sent_wall + std::chrono::duration_cast<WallTime::duration>(rtt / 2);
  ClockSample s;
  s.offset = std::chrono::duration_cast<Micros>(member_wall - midpoint);
  s.rtt = rtt;
  s.at = at;
  return s;
}

SkewEstimator::SkewEstimator(std::size_t window, MonoTime::duration max_age)
    : window_(window == 0 ? 1 : window), max_age_(max_age) {}

void SkewEstimator::add(const ClockSample& s) {
  samples_.push_back(s);
  while (samples_.size() > window_) samples_.pop_front();
}

std::optional<ClockSample> SkewEstimator::estimate(MonoTime now) const {
  std::optional<ClockSample> best;
  for (const ClockSample& s : samples_) {
    if (now - s.at > max_age_) continue;
    // Ties go to the newer sample (later in the deque).
    if (!best || s.rtt <= best->rtt) best = s;
  }
  return best;
}

SkewAlarm::SkewAlarm(Micros threshold, Micros hysteresis)
    : threshold_(threshold), hysteresis_(hysteresis) {}

SkewAlarm::Change SkewAlarm::observe(Micros offset) {
  const Micros magnitude = offset < Micros(0) ? -offset : offset;
  if (!over_ && magnitude > threshold_) {
    over_ = true;
    return Change::exceeded;
  }
  if (over_ && magnitude < threshold_ - hysteresis_) {
    over_ = false;
    return Change::recovered;
  }
  return Change::none;
}

std::int64_t round_millis(Micros d) {
  const std::int64_t us = d.count();
  return us >= 0 ? (us + 500) / 1000 : -((-us + 500) / 1000);
}

}  // namespace nw::cluster
