#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "agent/storage/segment_format.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/storage/segment_test_util.h"

namespace nw::storage::test {

TEST_SUITE("storage.segment_log") {
  TEST_CASE("open.new_directory_is_an_empty_log") {
    testsupport::TempDir tmp;
    auto log = open_ok(options((tmp / "a/b/p0").string()));
    CHECK(log->first_index() == LogIndex(1));
    CHECK(log->last_index() == LogIndex(0));
    CHECK(log->term(LogIndex(0)).value() == Term(0));
    CHECK(log->term(LogIndex(1)).error().code == Code::not_found);
    CHECK(log->start_offset() == 0);
    CHECK(log->next_offset() == 0);
    CHECK(log->offset_after(LogIndex(0)).value() == 0);
    CHECK(log->segments().empty());
    CHECK(log->size_bytes() == 0);
    CHECK(log->snapshot().error().code == Code::not_found);
    CHECK(log->hard_state() == HardState{});
    auto body = log->read(0, LogIndex(10), 1 << 20);
    REQUIRE(body.ok());
    CHECK(body->empty());
  }

  TEST_CASE("append.stamps_offsets_index_and_term") {
    testsupport::TempDir tmp;
    auto log = open_ok(options(tmp.path().string()));
    const std::string b1 = batch(3, "a"), b2 = batch(5, "b");
    const std::vector<Entry> in = {noop(1, 1), data_entry(1, 2, b1), conf(1, 3),
                                   data_entry(1, 4, b2)};
    REQUIRE(log->append(in).ok());
    CHECK(log->last_index() == LogIndex(4));
    CHECK(log->next_offset() == 8);
    auto out = log->entries(LogIndex(1), LogIndex(5), UINT64_MAX);
    REQUIRE(out.ok());
    REQUIRE(out->size() == 4);
    CHECK((*out)[0] == in[0]);
    CHECK((*out)[2] == in[2]);
    for (int k : {1, 3}) {
      const Entry& e = (*out)[static_cast<std::size_t>(k)];
      CHECK(e.index == in[static_cast<std::size_t>(k)].index);
      CHECK(e.term == Term(1));
      CHECK(e.type == EntryType::normal);
      CHECK(unstamped(e.data) == in[static_cast<std::size_t>(k)].data);
      CHECK(info_of(e.data).raft_index == e.index.value());
      CHECK(info_of(e.data).raft_term == 1);
    }
    CHECK(info_of((*out)[1].data).base_offset == 0);
    CHECK(info_of((*out)[3].data).base_offset == 3);
    CHECK(log->batch_offsets(LogIndex(1)).value() ==
          std::make_pair(std::uint64_t{0}, std::uint32_t{0}));
    CHECK(log->batch_offsets(LogIndex(2)).value() ==
          std::make_pair(std::uint64_t{0}, std::uint32_t{3}));
    CHECK(log->batch_offsets(LogIndex(3)).value() ==
          std::make_pair(std::uint64_t{3}, std::uint32_t{0}));
    CHECK(log->batch_offsets(LogIndex(4)).value() ==
          std::make_pair(std::uint64_t{3}, std::uint32_t{5}));
    CHECK(log->batch_offsets(LogIndex(5)).error().code == Code::not_found);
    CHECK(log->offset_after(LogIndex(2)).value() == 3);
    CHECK(log->offset_after(LogIndex(4)).value() == 8);
    CHECK(log->offset_after(LogIndex(5)).error().code == Code::not_found);
    // The decoded records carry their offsets.
    auto recs = records::decode_records((*out)[3].data);
    REQUIRE(recs.ok());
    CHECK(recs->front().offset == 3);
    CHECK(recs->back().offset == 7);
  }

  TEST_CASE("append.refuses_invalid_batches_and_writes_nothing") {
    testsupport::TempDir tmp;
    auto log = open_ok(options(tmp.path().string()));
    append_batches(log.get(), 1, 2);
    const std::uint64_t size = log->size_bytes();
    std::string bad_crc = batch(2);
    bad_crc.back() ^= 1;
    const std::string two = batch(1) + batch(1);
    const std::string control =
        records::build_control_batch(records::ControlKind::raft_noop, "");
    for (const std::string& data :
         {bad_crc, two, control, std::string("garbage"),
          batch(2).substr(0, 40)}) {
      // The invalid entry is second: the first must not be written either.
      Status s =
          log->append({data_entry(1, 3, batch(1)), data_entry(1, 4, data)});
      REQUIRE_FALSE(s.ok());
      CHECK(s.error().code == Code::invalid_argument);
      CHECK(log->last_index() == LogIndex(2));
      CHECK(log->size_bytes() == size);
    }
    // A conflicting suffix is not deleted by a refused append either.
    Status s = log->append({data_entry(2, 2, "nope")});
    CHECK(s.error().code == Code::invalid_argument);
    CHECK(log->term(LogIndex(2)).value() == Term(1));
  }

  TEST_CASE("append.conflicting_suffix_rolls_next_offset_back") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string());
    auto log = open_ok(opts);
    append_batches(log.get(), 1, 5, 3);  // offsets 0..14
    CHECK(log->next_offset() == 15);
    REQUIRE(log->append({data_entry(2, 3, batch(5, "new"))}).ok());
    CHECK(log->last_index() == LogIndex(3));
    CHECK(log->next_offset() == 11);
    CHECK(log->batch_offsets(LogIndex(3)).value() ==
          std::make_pair(std::uint64_t{6}, std::uint32_t{5}));
    append_batches(log.get(), 2, 1, 2);
    CHECK(log->batch_offsets(LogIndex(4)).value() ==
          std::make_pair(std::uint64_t{11}, std::uint32_t{2}));
    log.reset();
    log = open_ok(opts);
    CHECK(log->last_index() == LogIndex(4));
    CHECK(log->next_offset() == 13);
    CHECK(log->term(LogIndex(3)).value() == Term(2));
    CHECK(bases(log->read(0, LogIndex(4), 1 << 20).value()) ==
          std::vector<std::uint64_t>{0, 3, 6, 11});
  }

  TEST_CASE("append.conflicting_suffix_across_segments") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string(), FakeClock(), 600);
    auto log = open_ok(opts);
    append_batches(log.get(), 1, 30, 2, 40);
    const auto before = log->segments();
    REQUIRE(before.size() >= 4);
    // Replace from the first entry of the third segment.
    const std::uint64_t from = before[2].first_index.value();
    REQUIRE(log->append({data_entry(3, from, batch(1))}).ok());
    CHECK(log->last_index() == LogIndex(from));
    CHECK(log->segments().size() == 3);
    CHECK(log->next_offset() == 2 * (from - 1) + 1);
    // And from the middle of a segment.
    const std::uint64_t mid = before[1].first_index.value() + 1;
    REQUIRE(log->append({data_entry(4, mid, batch(1))}).ok());
    CHECK(log->segments().size() == 2);
    CHECK(log->next_offset() == 2 * (mid - 1) + 1);
    log.reset();
    log = open_ok(opts);
    CHECK(log->last_index() == LogIndex(mid));
    CHECK(log->term(LogIndex(mid)).value() == Term(4));
    CHECK(log->next_offset() == 2 * (mid - 1) + 1);
  }

  TEST_CASE("read.respects_max_index_and_max_bytes") {
    testsupport::TempDir tmp;
    auto log = open_ok(options(tmp.path().string(), FakeClock(), 700));
    // 1: noop, 2..11: batches of 4 records, 12: conf, 13..14: batches.
    REQUIRE(log->append({noop(1, 1)}).ok());
    append_batches(log.get(), 1, 10, 4, 30);
    REQUIRE(log->append({conf(1, 12)}).ok());
    append_batches(log.get(), 1, 2, 4, 30);
    REQUIRE(log->segments().size() > 2);
    const std::uint64_t one = log->read(0, LogIndex(2), 1 << 20)->size();

    CHECK(bases(log->read(0, LogIndex(14), 1 << 20).value()) ==
          std::vector<std::uint64_t>{0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40,
                                     44});
    // max_index (the commit index) bounds what is returned.
    CHECK(bases(log->read(0, LogIndex(3), 1 << 20).value()) ==
          std::vector<std::uint64_t>{0, 4});
    CHECK(log->read(0, LogIndex(1), 1 << 20)->empty());
    CHECK(log->read(0, LogIndex(0), 1 << 20)->empty());
    // Whole batches: an offset inside a batch returns it from its start.
    CHECK(bases(log->read(6, LogIndex(4), 1 << 20).value()) ==
          std::vector<std::uint64_t>{4, 8});
    // max_bytes: at least one batch, never a partial one.
    CHECK(bases(log->read(0, LogIndex(14), 1).value()) ==
          std::vector<std::uint64_t>{0});
    CHECK(bases(log->read(0, LogIndex(14), 3 * one).value()) ==
          std::vector<std::uint64_t>{0, 4, 8});
    CHECK(bases(log->read(0, LogIndex(14), 3 * one - 1).value()) ==
          std::vector<std::uint64_t>{0, 4});
    // Across the control batch and segment boundaries.
    CHECK(bases(log->read(37, LogIndex(14), 1 << 20).value()) ==
          std::vector<std::uint64_t>{36, 40, 44});
    // Nothing at or after the next offset.
    CHECK(log->read(48, LogIndex(14), 1 << 20)->empty());
    CHECK(log->read(1000, LogIndex(14), 1 << 20)->empty());
    // The body is the stored batches: stamped, valid, records in order.
    const std::string body = log->read(8, LogIndex(2 + 2), 1 << 20).value();
    auto recs = records::decode_records(body);
    REQUIRE(recs.ok());
    CHECK(recs->front().offset == 8);
  }

  TEST_CASE("offset_for_time.finds_the_first_batch_at_or_after") {
    testsupport::TempDir tmp;
    auto log = open_ok(options(tmp.path().string(), FakeClock(), 500));
    // Entry i (1..20) has records with timestamps 1000*i .. 1000*i + 2.
    for (std::uint64_t i = 1; i <= 20; ++i) {
      REQUIRE(
          log
              ->append({data_entry(
                  1, i, batch(3, "t", static_cast<std::int64_t>(i) * 1000))})
              .ok());
    }
    REQUIRE(log->segments().size() > 2);
    CHECK(log->offset_for_time(0, LogIndex(20)).value() == 0);
    CHECK(log->offset_for_time(1002, LogIndex(20)).value() == 0);
    CHECK(log->offset_for_time(1003, LogIndex(20)).value() == 3);
    CHECK(log->offset_for_time(15000, LogIndex(20)).value() == 42);
    // Beyond every timestamp, or beyond max_index: offset_after(max).
    CHECK(log->offset_for_time(99999, LogIndex(20)).value() == 60);
    CHECK(log->offset_for_time(15000, LogIndex(10)).value() == 30);
    CHECK(log->offset_for_time(15000, LogIndex(99)).value() == 42);
    // A batch with an old timestamp after newer ones does not move it.
    REQUIRE(log->append({data_entry(1, 21, batch(3, "old", 500))}).ok());
    CHECK(log->offset_for_time(400, LogIndex(21)).value() == 0);
    CHECK(log->offset_for_time(20003, LogIndex(21)).value() == 63);
  }

  TEST_CASE("compact.inside_a_segment_hides_entries") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string());
    auto log = open_ok(opts);
    append_batches(log.get(), 1, 10, 2);
    REQUIRE(
        log->create_snapshot(meta(6, 1), encode_snapshot_data(12, "s")).ok());
    CHECK(log->compact(LogIndex(7)).error().code == Code::failed_precondition);
    REQUIRE(log->compact(LogIndex(4)).ok());
    CHECK(log->segments().size() == 1);  // the file stays
    CHECK(log->first_index() == LogIndex(5));
    CHECK(log->start_offset() == 8);
    CHECK(log->term(LogIndex(4)).value() == Term(1));
    CHECK(log->term(LogIndex(3)).error().code == Code::not_found);
    CHECK(log->entries(LogIndex(4), LogIndex(6), UINT64_MAX).error().code ==
          Code::not_found);
    CHECK(log->batch_offsets(LogIndex(4)).error().code == Code::not_found);
    CHECK(log->offset_after(LogIndex(4)).value() == 8);
    CHECK(bases(log->read(8, LogIndex(10), 1 << 20).value()).front() == 8);
    CHECK(log->read(7, LogIndex(10), 1 << 20).error().code ==
          Code::failed_precondition);
    CHECK(log->offset_for_time(0, LogIndex(10)).value() == 8);
    REQUIRE(log->compact(LogIndex(2)).ok());  // before: a no-op
    log.reset();
    log = open_ok(opts);
    CHECK(log->first_index() == LogIndex(5));
    CHECK(log->start_offset() == 8);
    CHECK(log->term(LogIndex(4)).value() == Term(1));
    // Compacting everything deletes the file; appends continue.
    REQUIRE(
        log->create_snapshot(meta(10, 1), encode_snapshot_data(20, "s")).ok());
    REQUIRE(log->compact(LogIndex(10)).ok());
    CHECK(log->segments().empty());
    CHECK(log->next_offset() == 20);
    append_batches(log.get(), 2, 1);
    CHECK(log->batch_offsets(LogIndex(11)).value().first == 20);
    log.reset();
    log = open_ok(opts);
    CHECK(log->first_index() == LogIndex(11));
    CHECK(log->term(LogIndex(10)).value() == Term(1));
    CHECK(log->next_offset() == 23);
  }

  TEST_CASE("apply_snapshot.then_append_continues_offsets") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string(), FakeClock(), 600);
    auto log = open_ok(opts);
    append_batches(log.get(), 1, 20, 2, 40);
    REQUIRE(log->segments().size() > 1);
    const raft::Snapshot snap = make_snapshot(
        meta(50, 3), encode_snapshot_data(1000, "partition state"));
    REQUIRE(log->apply_snapshot(snap).ok());
    CHECK(log->first_index() == LogIndex(51));
    CHECK(log->last_index() == LogIndex(50));
    CHECK(log->term(LogIndex(50)).value() == Term(3));
    CHECK(log->start_offset() == 1000);
    CHECK(log->next_offset() == 1000);
    CHECK(log->segments().empty());
    CHECK(log->read(1000, LogIndex(50), 1 << 20)->empty());
    append_batches(log.get(), 3, 2, 5);
    CHECK(log->batch_offsets(LogIndex(51)).value().first == 1000);
    CHECK(log->batch_offsets(LogIndex(52)).value().first == 1005);
    log.reset();
    log = open_ok(opts);
    CHECK(log->first_index() == LogIndex(51));
    CHECK(log->next_offset() == 1010);
    CHECK(log->snapshot().value().data == snap.data);
    CHECK(log->segments().front().path.ends_with("00000000000000000051.log"));
    // Older snapshots and bad data are refused.
    CHECK(log->apply_snapshot(
                 make_snapshot(meta(49, 3), encode_snapshot_data(1, "")))
              .error()
              .code == Code::failed_precondition);
    CHECK(
        log->apply_snapshot(make_snapshot(meta(60, 3), "short")).error().code ==
        Code::invalid_argument);
  }

  TEST_CASE("create_snapshot.checks_the_next_offset") {
    testsupport::TempDir tmp;
    auto log = open_ok(options(tmp.path().string()));
    append_batches(log.get(), 1, 3, 4);
    CHECK(log->create_snapshot(meta(2, 1), encode_snapshot_data(7, ""))
              .error()
              .code == Code::invalid_argument);
    CHECK(log->create_snapshot(meta(2, 1), "x").error().code ==
          Code::invalid_argument);
    CHECK(log->create_snapshot(meta(4, 1), encode_snapshot_data(12, ""))
              .error()
              .code == Code::failed_precondition);
    REQUIRE(
        log->create_snapshot(meta(2, 1), encode_snapshot_data(8, "ok")).ok());
    CHECK(log->snapshot_meta().index == LogIndex(2));
    // The log is kept.
    CHECK(log->first_index() == LogIndex(1));
  }

  TEST_CASE("set_hard_state.survives_reopen") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string());
    auto log = open_ok(opts);
    for (std::uint64_t t = 1; t <= 5; ++t) {
      REQUIRE(
          log->set_hard_state({Term(t), NodeId(t % 3), LogIndex(t * 2)}).ok());
      log.reset();
      log = open_ok(opts);
      CHECK(log->hard_state() ==
            HardState{Term(t), NodeId(t % 3), LogIndex(t * 2)});
    }
    CHECK(std::filesystem::file_size(tmp / "hardstate") == kHardStateFileSize);
  }

  TEST_CASE("open.reopen_keeps_everything") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string(), FakeClock(), 800);
    auto log = open_ok(opts);
    REQUIRE(log->append({noop(1, 1)}).ok());
    append_batches(log.get(), 1, 20, 3, 30);
    REQUIRE(log->append({conf(2, 22), noop(2, 23)}).ok());
    append_batches(log.get(), 2, 5, 1, 30);
    REQUIRE(log->set_hard_state({Term(2), NodeId(1), LogIndex(25)}).ok());
    const std::uint64_t at10 = log->offset_after(LogIndex(10)).value();
    REQUIRE(
        log->create_snapshot(meta(10, 1), encode_snapshot_data(at10, "snap"))
            .ok());
    const auto segs = log->segments();
    const auto ents = log->entries(LogIndex(1), LogIndex(29), UINT64_MAX);
    const auto body = log->read(0, LogIndex(28), 1 << 20);
    REQUIRE(ents.ok());
    REQUIRE(body.ok());
    log.reset();
    log = open_ok(opts);
    CHECK(log->last_index() == LogIndex(28));
    CHECK(log->hard_state() == HardState{Term(2), NodeId(1), LogIndex(25)});
    CHECK(log->snapshot_meta().index == LogIndex(10));
    CHECK(log->snapshot().value().data == encode_snapshot_data(at10, "snap"));
    CHECK(log->entries(LogIndex(1), LogIndex(29), UINT64_MAX).value() == *ents);
    CHECK(log->read(0, LogIndex(28), 1 << 20).value() == *body);
    const auto again = log->segments();
    REQUIRE(again.size() == segs.size());
    for (std::size_t k = 0; k < segs.size(); ++k) {
      CHECK(again[k].path == segs[k].path);
      CHECK(again[k].first_index == segs[k].first_index);
      CHECK(again[k].last_index == segs[k].last_index);
      CHECK(again[k].bytes == segs[k].bytes);
      CHECK(again[k].base_offset == segs[k].base_offset);
      CHECK(again[k].next_offset == segs[k].next_offset);
      CHECK(again[k].max_timestamp_ms == segs[k].max_timestamp_ms);
      CHECK(again[k].created_ms == segs[k].created_ms);
    }
  }

  TEST_CASE("entries.honors_max_bytes_and_returns_at_least_one") {
    testsupport::TempDir tmp;
    auto log = open_ok(options(tmp.path().string(), FakeClock(), 600));
    append_batches(log.get(), 1, 12, 2, 50);
    const std::uint64_t one =
        log->entries(LogIndex(1), LogIndex(2), 0).value()[0].data.size() + 24;
    CHECK(log->entries(LogIndex(1), LogIndex(13), 0)->size() == 1);
    CHECK(log->entries(LogIndex(1), LogIndex(13), one * 5)->size() == 5);
    CHECK(log->entries(LogIndex(1), LogIndex(13), one * 5 - 1)->size() == 4);
    CHECK(log->entries(LogIndex(3), LogIndex(13), UINT64_MAX)->size() == 10);
    CHECK(log->entries(LogIndex(3), LogIndex(5), UINT64_MAX)->size() == 2);
  }

  TEST_CASE("destroy.removes_the_directory") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "topic-0").string();
    auto log = open_ok(options(dir));
    append_batches(log.get(), 1, 3);
    REQUIRE(log->set_hard_state({Term(1), NodeId(1), LogIndex(1)}).ok());
    REQUIRE(log->destroy().ok());
    CHECK_FALSE(std::filesystem::exists(dir));
    CHECK(log->append({noop(1, 4)}).error().code == Code::failed_precondition);
  }

  TEST_CASE("read.concurrent_readers_while_appending") {
    testsupport::TempDir tmp;
    auto log = open_ok(options(tmp.path().string(), FakeClock(), 2000));
    std::atomic<bool> done{false};
    std::atomic<int> bad{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t) {
      readers.emplace_back([&] {
        while (!done.load()) {
          const LogIndex hi = log->last_index();
          auto body = log->read(0, hi, 1 << 20);
          if (!body.ok() || !records::split_batches(*body).ok()) ++bad;
          (void)log->offset_for_time(0, hi);
          (void)log->segments();
        }
      });
    }
    for (int k = 0; k < 100; ++k) append_batches(log.get(), 1, 1, 2, 40);
    done = true;
    for (auto& t : readers) t.join();
    CHECK(bad.load() == 0);
    CHECK(log->last_index() == LogIndex(100));
  }
}

}  // namespace nw::storage::test
