// The clock skew estimator (agent/cluster/clock_skew.h): the NTP-style
// sample, the minimum-rtt choice over a window, ageing, and the warning's
// crossings. All times are made up; no clock is read.
#include "agent/cluster/clock_skew.h"

#include <doctest/doctest.h>

namespace nw::cluster {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const WallTime kWall = WallTime(seconds(1764600000));
const MonoTime kMono = MonoTime(seconds(1000));

ClockSample sample(std::int64_t offset_ms, std::int64_t rtt_ms,
                   MonoTime at = kMono) {
  return ClockSample{milliseconds(offset_ms), milliseconds(rtt_ms), at};
}

TEST_SUITE("cluster.clock_skew") {
  TEST_CASE("clock_sample.symmetric_delays_give_the_true_offset") {
    // The member is 5 s ahead; 10 ms each way: it stamps t0 + 10 ms + 5 s.
    const ClockSample s = clock_sample(
        kWall, kWall + milliseconds(10) + seconds(5), milliseconds(20), kMono);
    CHECK(s.offset == milliseconds(5000));
    CHECK(s.rtt == milliseconds(20));
    CHECK(s.at == kMono);
  }

  TEST_CASE("clock_sample.member_behind_is_negative") {
    const ClockSample s =
        clock_sample(kWall, kWall + milliseconds(1) - milliseconds(120),
                     milliseconds(2), kMono);
    CHECK(s.offset == milliseconds(-120));
  }

  TEST_CASE("clock_sample.asymmetric_delay_errs_by_at_most_half_the_rtt") {
    // All 40 ms of delay on the way there, none back: the estimate is off
    // by rtt / 2 = 20 ms, never more.
    const ClockSample s =
        clock_sample(kWall, kWall + milliseconds(40), milliseconds(40), kMono);
    CHECK(s.offset == milliseconds(20));
  }

  TEST_CASE("clock_sample.negative_rtt_counts_as_zero") {
    const ClockSample s =
        clock_sample(kWall, kWall + milliseconds(7), milliseconds(-3), kMono);
    CHECK(s.rtt == Micros(0));
    CHECK(s.offset == milliseconds(7));
  }

  TEST_CASE("estimate.empty_is_unknown") {
    SkewEstimator e;
    CHECK_FALSE(e.estimate(kMono).has_value());
  }

  TEST_CASE("estimate.picks_the_smallest_rtt") {
    SkewEstimator e;
    e.add(sample(300, 200));  // delayed one way: a poor sample
    e.add(sample(3, 2));
    e.add(sample(-50, 90));
    auto got = e.estimate(kMono);
    REQUIRE(got.has_value());
    CHECK(got->offset == milliseconds(3));
    CHECK(got->rtt == milliseconds(2));
  }

  TEST_CASE("estimate.ties_go_to_the_newest") {
    SkewEstimator e;
    e.add(sample(10, 5));
    e.add(sample(12, 5));
    CHECK(e.estimate(kMono)->offset == milliseconds(12));
  }

  TEST_CASE("add.keeps_only_the_window") {
    SkewEstimator e(3);
    e.add(sample(1000, 1));  // the best, but it will leave the window
    e.add(sample(20, 9));
    e.add(sample(30, 8));
    CHECK(e.estimate(kMono)->offset == milliseconds(1000));
    e.add(sample(40, 7));
    CHECK(e.size() == 3);
    // A stepped clock shows once its old samples have left the window.
    CHECK(e.estimate(kMono)->offset == milliseconds(40));
  }

  TEST_CASE("estimate.ignores_samples_older_than_max_age") {
    SkewEstimator e(8, seconds(30));
    e.add(sample(100, 1, kMono));
    e.add(sample(200, 50, kMono + seconds(20)));
    CHECK(e.estimate(kMono + seconds(25))->offset == milliseconds(100));
    // The low-rtt sample has aged out; the newer one is used.
    CHECK(e.estimate(kMono + seconds(31))->offset == milliseconds(200));
    // A member that stopped answering long ago is unknown, not stale.
    CHECK_FALSE(e.estimate(kMono + seconds(60)).has_value());
  }

  TEST_CASE("alarm.fires_once_per_crossing") {
    SkewAlarm a(seconds(1), milliseconds(100));
    CHECK(a.observe(milliseconds(500)) == SkewAlarm::Change::none);
    CHECK(a.observe(milliseconds(1000)) == SkewAlarm::Change::none);
    CHECK(a.observe(milliseconds(1001)) == SkewAlarm::Change::exceeded);
    CHECK(a.over());
    CHECK(a.observe(milliseconds(5000)) == SkewAlarm::Change::none);
    // Hovering just under the threshold does not flap.
    CHECK(a.observe(milliseconds(950)) == SkewAlarm::Change::none);
    CHECK(a.observe(milliseconds(1200)) == SkewAlarm::Change::none);
    CHECK(a.observe(milliseconds(899)) == SkewAlarm::Change::recovered);
    CHECK_FALSE(a.over());
    CHECK(a.observe(milliseconds(0)) == SkewAlarm::Change::none);
  }

  TEST_CASE("alarm.behind_counts_like_ahead") {
    SkewAlarm a;
    CHECK(a.observe(milliseconds(-1500)) == SkewAlarm::Change::exceeded);
    CHECK(a.observe(milliseconds(-200)) == SkewAlarm::Change::recovered);
  }

  TEST_CASE("round_millis.rounds_half_away_from_zero") {
    CHECK(round_millis(Micros(0)) == 0);
    CHECK(round_millis(Micros(1499)) == 1);
    CHECK(round_millis(Micros(1500)) == 2);
    CHECK(round_millis(Micros(-1499)) == -1);
    CHECK(round_millis(Micros(-1500)) == -2);
    CHECK(round_millis(Micros(5000123)) == 5000);
  }
}

}  // namespace
}  // namespace nw::cluster
