// Rolling segments by size and age, retention, and the sparse index files.
#include <doctest/doctest.h>

#include "agent/storage/segment_format.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/storage/segment_test_util.h"

namespace nw::storage::test {

TEST_SUITE("storage.segment_log") {
  TEST_CASE("append.rolls_segment_at_size_limit") {
    testsupport::TempDir tmp;
    const std::string dir = tmp.path().string();
    auto log = open_ok(options(dir, FakeClock(), 1000));
    append_batches(log.get(), 1, 40, 2, 50);
    const auto segs = log->segments();
    REQUIRE(segs.size() > 3);
    std::uint64_t total = 0;
    for (std::size_t k = 0; k < segs.size(); ++k) {
      CAPTURE(k);
      total += segs[k].bytes;
      CHECK(segs[k].active == (k + 1 == segs.size()));
      CHECK(std::filesystem::file_size(segs[k].path) == segs[k].bytes);
      if (k + 1 < segs.size()) {
        // Rolled once it held at least segment_bytes, not before.
        CHECK(segs[k].bytes >= 1000);
        CHECK(segs[k].bytes < 1000 + 200);  // one batch is < 200 bytes
        CHECK(segs[k + 1].first_index == segs[k].last_index + 1);
        CHECK(segs[k + 1].base_offset == segs[k].next_offset);
      }
    }
    CHECK(total == log->size_bytes());
    CHECK(segs.front().path == dir + "/00000000000000000001.log");
    // Every segment has its index files.
    for (const auto& s : segs) {
      const std::string stem = s.path.substr(0, s.path.size() - 4);
      CHECK(std::filesystem::exists(stem + ".index"));
      CHECK(std::filesystem::exists(stem + ".timeindex"));
    }
  }

  TEST_CASE("append.rolls_segment_at_age_limit") {
    testsupport::TempDir tmp;
    FakeClock clock;
    auto opts = options(tmp.path().string(), clock);
    opts.segment_ms = 60'000;
    auto log = open_ok(opts);
    append_batches(log.get(), 1, 3);
    clock.advance(59'999);
    append_batches(log.get(), 1, 1);
    CHECK(log->segments().size() == 1);
    CHECK(log->segments()[0].created_ms == *clock.now - 59'999);
    clock.advance(1);
    append_batches(log.get(), 1, 1);
    REQUIRE(log->segments().size() == 2);
    CHECK(log->segments()[1].first_index == LogIndex(5));
    CHECK(log->segments()[1].created_ms == *clock.now);
    // The age survives a reopen (it is in the segment header).
    log.reset();
    log = open_ok(opts);
    clock.advance(30'000);
    append_batches(log.get(), 1, 1);
    CHECK(log->segments().size() == 2);
    clock.advance(30'000);
    append_batches(log.get(), 1, 1);
    CHECK(log->segments().size() == 3);
  }

  TEST_CASE("retention_point.by_age") {
    testsupport::TempDir tmp;
    FakeClock clock;
    auto log = open_ok(options(tmp.path().string(), clock, 600));
    const std::int64_t t0 = *clock.now;
    // Records stamped with the (fake) time they are produced.
    for (int k = 0; k < 30; ++k) {
      append_batches(log.get(), 1, 1, 2, 40, *clock.now);
      clock.advance(1000);
    }
    const auto segs = log->segments();
    REQUIRE(segs.size() >= 4);
    const LogIndex last = log->last_index();
    // Nothing is older than an hour.
    CHECK(log->retention_point(3'600'000, -1, last) == LogIndex(0));
    // Segments whose newest record is older than 10 s go, never the
    // active one.
    *clock.now = t0 + 29'000 + 10'000;
    const LogIndex b = log->retention_point(10'000, -1, last);
    REQUIRE(b > LogIndex(0));
    for (const auto& s : segs) {
      if (s.last_index <= b) {
        CHECK(*clock.now - s.max_timestamp_ms > 10'000);
      }
    }
    auto after =
        std::find_if(segs.begin(), segs.end(),
                     [&](const SegmentInfo& s) { return s.last_index > b; });
    REQUIRE(after != segs.end());
    CHECK(*clock.now - after->max_timestamp_ms <= 10'000);
    // Everything is old: all but the active segment.
    *clock.now = t0 + 10'000'000;
    CHECK(log->retention_point(10'000, -1, last) ==
          segs[segs.size() - 2].last_index);
    // Never a segment holding an entry after max_index.
    CHECK(log->retention_point(10'000, -1, segs[1].last_index - 1) ==
          segs[0].last_index);
    CHECK(log->retention_point(-1, -1, last) == LogIndex(0));
  }

  TEST_CASE("retention_point.by_size_then_compact_deletes_whole_segments") {
    testsupport::TempDir tmp;
    const std::string dir = tmp.path().string();
    auto log = open_ok(options(dir, FakeClock(), 600));
    append_batches(log.get(), 1, 40, 2, 40);
    const auto segs = log->segments();
    REQUIRE(segs.size() >= 5);
    const std::uint64_t total = log->size_bytes();
    // Keep at most half: the oldest segments go while above it.
    const auto limit = static_cast<std::int64_t>(total / 2);
    const LogIndex b = log->retention_point(-1, limit, log->last_index());
    REQUIRE(b > LogIndex(0));
    std::uint64_t kept = 0, dropped = 0;
    std::size_t n_dropped = 0;
    for (const auto& s : segs) {
      if (s.last_index <= b) {
        dropped += s.bytes;
        ++n_dropped;
      } else {
        kept += s.bytes;
      }
    }
    CHECK(kept <= static_cast<std::uint64_t>(limit));
    CHECK(kept + segs[n_dropped - 1].bytes > static_cast<std::uint64_t>(limit));
    // The caller snapshots and compacts at b.
    const std::uint64_t next = log->offset_after(b).value();
    REQUIRE(
        log->create_snapshot(meta(b, 1), encode_snapshot_data(next, "state"))
            .ok());
    REQUIRE(log->compact(b).ok());
    CHECK(log->first_index() == b + 1);
    CHECK(log->start_offset() == next);
    CHECK(log->segments().size() == segs.size() - n_dropped);
    CHECK(log->size_bytes() == kept);
    for (std::size_t k = 0; k < n_dropped; ++k) {
      CHECK_FALSE(std::filesystem::exists(segs[k].path));
    }
    auto r = log->read(0, log->last_index(), 1 << 20);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::failed_precondition);
    CHECK(bases(log->read(next, log->last_index(), 1).value()) ==
          std::vector<std::uint64_t>{next});
  }

  TEST_CASE(
      "retention_point.quiet_partition_ages_out_with_its_active_segment") {
    testsupport::TempDir tmp;
    const std::string dir = tmp.path().string();
    FakeClock clock;
    auto opts = options(dir, clock);
    opts.segment_ms = 60'000;
    auto log = open_ok(opts);
    const std::int64_t t0 = *clock.now;
    append_batches(log.get(), 2, 3, 2, 40, t0);
    REQUIRE(log->segments().size() == 1);
    const LogIndex last = log->last_index();
    const std::uint64_t next = log->next_offset();
    // Old by retention, but the active segment is younger than
    // segment_ms: it stays (it is still being filled).
    *clock.now = t0 + 59'999;
    CHECK(log->retention_point(10'000, -1, last) == LogIndex(0));
    // Past segment_ms without a write: it counts as rolled and goes.
    *clock.now = t0 + 60'000;
    CHECK(log->retention_point(10'000, -1, last) == last);
    // ... but never with an entry after max_index, nor when the data is
    // young, nor with the age roll off.
    CHECK(log->retention_point(10'000, -1, last - 1) == LogIndex(0));
    CHECK(log->retention_point(3'600'000, -1, last) == LogIndex(0));
    log->set_roll_limits(1 << 20, 0);
    CHECK(log->retention_point(10'000, -1, last) == LogIndex(0));
    log->set_roll_limits(1 << 20, 60'000);
    // The caller snapshots and compacts: the log is empty, its last
    // index, term and next offset kept.
    REQUIRE(
        log->create_snapshot(meta(last, 2), encode_snapshot_data(next, "state"))
            .ok());
    REQUIRE(log->compact(last).ok());
    CHECK(log->segments().empty());
    CHECK(log->size_bytes() == 0);
    CHECK(log->first_index() == last + 1);
    CHECK(log->last_index() == last);
    CHECK(log->term(last).value() == Term(2));
    CHECK(log->start_offset() == next);
    CHECK(log->next_offset() == next);
    CHECK(log->retention_point(10'000, -1, last) == LogIndex(0));
    // Reopened, it is the same; the next append starts a new segment
    // and continues the offsets.
    log.reset();
    log = open_ok(opts);
    CHECK(log->first_index() == last + 1);
    CHECK(log->last_index() == last);
    CHECK(log->term(last).value() == Term(2));
    CHECK(log->start_offset() == next);
    append_batches(log.get(), 3, 1, 2, 40, *clock.now);
    REQUIRE(log->segments().size() == 1);
    CHECK(log->segments()[0].first_index == last + 1);
    CHECK(log->segments()[0].base_offset == next);
    CHECK(log->segments()[0].created_ms == *clock.now);
    CHECK(bases(log->read(next, log->last_index(), 1 << 20).value()) ==
          std::vector<std::uint64_t>{next});
  }

  TEST_CASE("set_roll_limits.applies_from_the_next_append") {
    testsupport::TempDir tmp;
    FakeClock clock;
    auto log = open_ok(options(tmp.path().string(), clock));
    append_batches(log.get(), 1, 3);
    clock.advance(10'000);
    append_batches(log.get(), 1, 1);
    CHECK(log->segments().size() == 1);
    log->set_roll_limits(1 << 20, 5'000);
    append_batches(log.get(), 1, 1);
    CHECK(log->segments().size() == 2);
    log->set_roll_limits(1, 0);  // every append rolls by size
    append_batches(log.get(), 1, 2);
    CHECK(log->segments().size() == 4);
  }

  TEST_CASE("index_files.hold_the_documented_sparse_points") {
    testsupport::TempDir tmp;
    auto opts = options(tmp.path().string(), FakeClock(), 4000);
    opts.index_interval_bytes = 300;
    auto log = open_ok(opts);
    for (std::uint64_t i = 1; i <= 60; ++i) {
      if (i % 7 == 0) {
        REQUIRE(log->append({noop(1, i)}).ok());
      } else {
        // Timestamps go up and down; the time index keeps a running max.
        const std::int64_t ts =
            10'000 + static_cast<std::int64_t>((i * 37) % 23) * 100;
        REQUIRE(log->append({data_entry(1, i, batch(2, "x", ts, 30))}).ok());
      }
    }
    const auto segs = log->segments();
    REQUIRE(segs.size() >= 2);
    for (const auto& s : segs) {
      CAPTURE(s.path);
      const std::string stem = s.path.substr(0, s.path.size() - 4);
      const std::string seg = testsupport::read_file(s.path);
      const std::string idx = testsupport::read_file(stem + ".index");
      const std::string tidx = testsupport::read_file(stem + ".timeindex");
      REQUIRE(idx.size() % 16 == 0);
      REQUIRE(idx.size() == tidx.size());
      REQUIRE(idx.size() >= 16);
      std::uint64_t prev_pos = 0;
      std::int64_t prev_ts = -1;
      for (std::size_t k = 0; k < idx.size(); k += 16) {
        const std::uint64_t offset = u64_at(idx, k);
        const std::uint64_t pos = u64_at(idx, k + 8);
        const auto ts = static_cast<std::int64_t>(u64_at(tidx, k));
        CHECK(u64_at(tidx, k + 8) == offset);
        // The entry points at a data batch with that base offset.
        auto info = records::read_batch_info(std::string_view(seg).substr(pos));
        REQUIRE(info.ok());
        CHECK_FALSE(info->control());
        CHECK(info->base_offset == offset);
        if (k == 0) {
          CHECK(pos >= 36);
        } else {
          CHECK(pos >= prev_pos + 300);
        }
        CHECK(ts >= prev_ts);
        CHECK(ts >= info->max_timestamp_ms);
        prev_pos = pos;
        prev_ts = ts;
      }
    }
  }
}

}  // namespace nw::storage::test
