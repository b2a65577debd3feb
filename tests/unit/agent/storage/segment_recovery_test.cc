// Crash and corruption recovery, leveldb corruption_test style: real files
// are cut and their bytes flipped, then the log is reopened.
#include <doctest/doctest.h>

#include "agent/storage/segment_format.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/storage/segment_test_util.h"

namespace nw::storage::test {
namespace {

// A log of `n` data batches (3 records each) in segments of `segment_bytes`.
std::vector<SegmentInfo> make_log(const SegmentLogOptions& opts,
                                  std::uint64_t n) {
  auto log = open_ok(opts);
  REQUIRE(log->append({noop(1, 1)}).ok());
  append_batches(log.get(), 1, n - 1, 3, 20);
  REQUIRE(log->set_hard_state({Term(1), NodeId(1), LogIndex(n)}).ok());
  return log->segments();
}

// The byte positions of the batches in a segment file.
std::vector<std::uint64_t> batch_positions(const std::string& path) {
  const std::string file = testsupport::read_file(path);
  std::vector<std::uint64_t> out;
  std::uint64_t pos = kSegmentHeaderSize;
  while (pos < file.size()) {
    out.push_back(pos);
    auto info = records::read_batch_info(std::string_view(file).substr(pos));
    REQUIRE(info.ok());
    pos += info->size;
  }
  return out;
}

std::string name_of(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

Error open_error(const SegmentLogOptions& o) {
  auto r = SegmentLog::open(o);
  if (r.ok()) FAIL("open " << o.dir << " succeeded; expected an error");
  return r.error();
}

}  // namespace

TEST_SUITE("storage.segment_recovery") {
  TEST_CASE("recover.torn_tail_is_truncated_at_every_position") {
    testsupport::TempDir tmp;
    const auto opts = options((tmp / "orig").string(), FakeClock(), 700);
    const auto segs = make_log(opts, 20);
    REQUIRE(segs.size() >= 2);
    const std::string last = name_of(segs.back().path);
    const auto positions = batch_positions(segs.back().path);
    const std::uint64_t size = segs.back().bytes;
    const std::uint64_t last_batch = positions.back();
    const bool single = positions.size() == 1;
    auto copy = options((tmp / "copy").string(), FakeClock(), 700);
    // Cut everywhere inside the last batch (and, when it is alone in its
    // segment, inside the segment header too).
    const std::uint64_t from = single ? 1 : last_batch + 1;
    for (std::uint64_t cut = from; cut < size; ++cut) {
      CAPTURE(cut);
      copy_dir(opts.dir, copy.dir);
      std::filesystem::resize_file(copy.dir + "/" + last, cut);
      auto log = open_ok(copy);
      CHECK(log->last_index() == LogIndex(19));
      CHECK(log->next_offset() == 18 * 3);
      CHECK(log->hard_state().commit == LogIndex(20));
      // Appending continues with the same offsets.
      append_batches(log.get(), 2, 1, 3, 20);
      CHECK(log->batch_offsets(LogIndex(20)).value().first == 18 * 3);
      log.reset();
      log = open_ok(copy);
      CHECK(log->last_index() == LogIndex(20));
    }
  }

  TEST_CASE("recover.torn_tail_of_a_multi_batch_append") {
    testsupport::TempDir tmp;
    const auto opts = options((tmp / "orig").string());
    {
      auto log = open_ok(opts);
      append_batches(log.get(), 1, 5, 2);
      append_batches(log.get(), 1, 5, 2);  // one write of 5 batches
    }
    const std::string seg = opts.dir + "/00000000000000000001.log";
    const auto positions = batch_positions(seg);
    const std::uint64_t size = std::filesystem::file_size(seg);
    auto copy = options((tmp / "copy").string());
    for (std::uint64_t cut = positions[5]; cut < size; cut += 7) {
      CAPTURE(cut);
      copy_dir(opts.dir, copy.dir);
      std::filesystem::resize_file(copy.dir + "/" + name_of(seg), cut);
      auto log = open_ok(copy);
      // Whole batches before the cut survive.
      const auto whole = static_cast<std::uint64_t>(
          std::upper_bound(positions.begin(), positions.end(), cut) -
          positions.begin() - 1);
      CHECK(log->last_index() == LogIndex(whole));
      CHECK(std::filesystem::file_size(copy.dir + "/" + name_of(seg)) ==
            positions[whole]);
    }
  }

  TEST_CASE("recover.zero_filled_tail_is_truncated") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string());
    make_log(opts, 6);
    const std::string seg = opts.dir + "/00000000000000000001.log";
    const std::uint64_t size = std::filesystem::file_size(seg);
    std::filesystem::resize_file(seg, size + 4096);  // zeros
    auto log = open_ok(opts);
    CHECK(log->last_index() == LogIndex(6));
    CHECK(std::filesystem::file_size(seg) == size);
  }

  TEST_CASE("recover.bad_crc_in_the_last_batch_is_a_torn_tail") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string());
    make_log(opts, 6);
    const std::string seg = opts.dir + "/00000000000000000001.log";
    const auto positions = batch_positions(seg);
    flip_byte(seg, std::filesystem::file_size(seg) - 3);
    auto log = open_ok(opts);
    CHECK(log->last_index() == LogIndex(5));
    CHECK(std::filesystem::file_size(seg) == positions.back());
  }

  TEST_CASE("recover.byte_flip_in_a_non_tail_batch_is_corruption") {
    testsupport::TempDir tmp;
    const auto opts = options((tmp / "orig").string(), FakeClock(), 700);
    const auto segs = make_log(opts, 20);
    REQUIRE(segs.size() >= 3);
    auto copy = options((tmp / "copy").string(), FakeClock(), 700);
    // A batch in the middle of the last segment, and the last batch of an
    // earlier segment (its tail is not a torn tail: a segment after it
    // exists).
    struct Target {
      std::string path;
      std::uint64_t pos;
      std::uint64_t next;  // where the next batch starts
    };
    std::vector<Target> targets;
    {
      const auto p = batch_positions(segs.back().path);
      REQUIRE(p.size() >= 2);
      targets.push_back({segs.back().path, p[p.size() - 2], p.back()});
      const auto q = batch_positions(segs[1].path);
      targets.push_back({segs[1].path, q.back(), segs[1].bytes});
    }
    for (const Target& t : targets) {
      const std::string name = name_of(t.path);
      // The segment after the target's, where a raised term shows up when
      // the target is the last batch of its segment.
      const std::string next_name = t.next == std::filesystem::file_size(t.path)
                                        ? name_of(segs[2].path)
                                        : name;
      for (std::uint64_t pos = t.pos; pos < t.next; ++pos) {
        CAPTURE(name);
        CAPTURE(pos);
        copy_dir(opts.dir, copy.dir);
        flip_byte(copy.dir + "/" + name, pos);
        const Error e = open_error(copy);
        CHECK(e.code == Code::corruption);
        CHECK_FALSE(e.hint.empty());
        const bool names_file =
            e.message.rfind("segment " + name + ": ", 0) == 0;
        // The damaged batch is named, except when its term went up: that
        // is only visible at the batch after it (terms never decrease).
        const std::string at = " at byte " + std::to_string(t.pos);
        const bool names_batch =
            e.message.size() >= at.size() &&
            e.message.compare(e.message.size() - at.size(), at.size(), at) == 0;
        const bool term_byte = pos >= t.pos + records::kRaftTermPos &&
                               pos < t.pos + records::kMagicPos;
        if (names_file && names_batch) continue;
        CHECK(term_byte);
        CHECK(e.message.rfind("segment " + next_name + ": term ", 0) == 0);
        CHECK(e.message.find(
                  " at byte " +
                  std::to_string(t.next == std::filesystem::file_size(t.path)
                                     ? kSegmentHeaderSize
                                     : t.next)) != std::string::npos);
      }
    }
  }

  TEST_CASE("recover.crc_mismatch_message_names_file_and_byte") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string(), FakeClock(), 700);
    const auto segs = make_log(opts, 20);
    const auto p = batch_positions(segs.front().path);
    flip_byte(segs.front().path, p[2] + records::kHeaderSize + 2);
    const Error e = open_error(opts);
    CHECK(e.code == Code::corruption);
    CHECK(e.message ==
          "segment 00000000000000000001.log: crc mismatch at "
          "byte " +
              std::to_string(p[2]));
  }

  TEST_CASE("recover.damaged_segment_header_is_corruption") {
    testsupport::TempDir tmp;
    const auto opts = options((tmp / "orig").string(), FakeClock(), 700);
    const auto segs = make_log(opts, 20);
    auto copy = options((tmp / "copy").string(), FakeClock(), 700);
    for (const auto& s : {segs.front(), segs.back()}) {
      for (std::uint64_t pos = 0; pos < kSegmentHeaderSize; ++pos) {
        CAPTURE(pos);
        copy_dir(opts.dir, copy.dir);
        flip_byte(copy.dir + "/" + name_of(s.path), pos);
        const Error e = open_error(copy);
        CHECK(e.code == Code::corruption);
        CHECK(e.message.find(name_of(s.path)) != std::string::npos);
      }
    }
  }

  TEST_CASE("recover.missing_segment_is_corruption") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string(), FakeClock(), 700);
    const auto segs = make_log(opts, 20);
    REQUIRE(segs.size() >= 3);
    std::filesystem::remove(segs[1].path);
    const Error e = open_error(opts);
    CHECK(e.code == Code::corruption);
    CHECK(e.message.find(name_of(segs[2].path)) != std::string::npos);
    // The first segment missing: entries 1.. are gone.
    testsupport::TempDir tmp2;
    const auto opts2 = options(tmp2.path().string(), FakeClock(), 700);
    const auto segs2 = make_log(opts2, 20);
    std::filesystem::remove(segs2[0].path);
    CHECK(open_error(opts2).message.find("are missing") != std::string::npos);
  }

  TEST_CASE("recover.damaged_metadata_files_are_corruption") {
    testsupport::TempDir tmp;
    const auto opts = options((tmp / "orig").string());
    {
      auto log = open_ok(opts);
      append_batches(log.get(), 1, 5);
      REQUIRE(log->set_hard_state({Term(1), NodeId(1), LogIndex(2)}).ok());
      REQUIRE(log->set_hard_state({Term(1), NodeId(1), LogIndex(3)}).ok());
      REQUIRE(
          log->create_snapshot(meta(3, 1), encode_snapshot_data(9, "")).ok());
      REQUIRE(log->compact(LogIndex(2)).ok());
    }
    auto copy = options((tmp / "copy").string());
    // Both hardstate slots damaged.
    copy_dir(opts.dir, copy.dir);
    flip_byte(copy.dir + "/hardstate", 10);
    flip_byte(copy.dir + "/hardstate", 512 + 10);
    CHECK(open_error(copy).message.find("hardstate") != std::string::npos);
    // One slot damaged: the other holds the previous hard state.
    copy_dir(opts.dir, copy.dir);
    flip_byte(copy.dir + "/hardstate", 20);  // slot 0: sequence 2
    CHECK(open_ok(copy)->hard_state().commit == LogIndex(2));
    for (const char* f : {"snapshot", "start"}) {
      CAPTURE(f);
      copy_dir(opts.dir, copy.dir);
      flip_byte(copy.dir + "/" + f, 9);
      const Error e = open_error(copy);
      CHECK(e.code == Code::corruption);
      CHECK(e.message.find(f) != std::string::npos);
    }
    // The start file says the log is compacted, but no snapshot covers it.
    copy_dir(opts.dir, copy.dir);
    std::filesystem::remove(copy.dir + "/snapshot");
    CHECK(open_error(copy).code == Code::corruption);
  }

  TEST_CASE("recover.index_files_are_rebuilt") {
    testsupport::TempDir tmp;
    auto opts = options(tmp.path().string(), FakeClock(), 700);
    const auto segs = make_log(opts, 20);
    const std::string stem = segs[1].path.substr(0, segs[1].path.size() - 4);
    const std::string idx = testsupport::read_file(stem + ".index");
    const std::string tidx = testsupport::read_file(stem + ".timeindex");
    REQUIRE_FALSE(idx.empty());
    std::filesystem::remove(stem + ".index");
    {
      std::ofstream f(stem + ".timeindex", std::ios::binary | std::ios::app);
      f << "junk";
    }
    // An orphan index file is removed.
    const std::string orphan = opts.dir + "/00000000000000009999.index";
    { std::ofstream f(orphan); }
    open_ok(opts);
    CHECK(testsupport::read_file(stem + ".index") == idx);
    CHECK(testsupport::read_file(stem + ".timeindex") == tidx);
    CHECK_FALSE(std::filesystem::exists(orphan));
    // A different interval rewrites them.
    opts.index_interval_bytes = 64;
    open_ok(opts);
    CHECK(testsupport::read_file(stem + ".index").size() > idx.size());
  }

  TEST_CASE("recover.interrupted_apply_snapshot_is_finished") {
    testsupport::TempDir tmp;
    const auto opts = options((tmp / "log").string(), FakeClock(), 700);
    make_log(opts, 20);
    // Another log that installed a snapshot: its snapshot file lands in
    // the first log's directory, as if apply_snapshot crashed right after
    // writing it.
    const auto other = options((tmp / "other").string());
    {
      auto log = open_ok(other);
      REQUIRE(log->apply_snapshot(
                     make_snapshot(meta(50, 4), encode_snapshot_data(777, "x")))
                  .ok());
    }
    std::filesystem::copy_file(
        other.dir + "/snapshot", opts.dir + "/snapshot",
        std::filesystem::copy_options::overwrite_existing);
    auto log = open_ok(opts);
    CHECK(log->first_index() == LogIndex(51));
    CHECK(log->last_index() == LogIndex(50));
    CHECK(log->next_offset() == 777);
    CHECK(log->segments().empty());
    CHECK(list_dir(opts.dir) ==
          std::vector<std::string>{"hardstate", "snapshot", "start"});
  }

  TEST_CASE("recover.snapshot_matching_the_log_keeps_it") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string(), FakeClock(), 700);
    make_log(opts, 20);
    {
      auto log = open_ok(opts);
      REQUIRE(
          log->create_snapshot(meta(15, 1),
                               encode_snapshot_data(
                                   log->offset_after(LogIndex(15)).value(), ""))
              .ok());
    }
    auto log = open_ok(opts);
    CHECK(log->first_index() == LogIndex(1));
    CHECK(log->last_index() == LogIndex(20));
  }

  TEST_CASE("recover.interrupted_compaction_deletes_leftover_segments") {
    testsupport::TempDir tmp;
    const auto opts = options((tmp / "log").string(), FakeClock(), 700);
    const auto segs = make_log(opts, 20);
    REQUIRE(segs.size() >= 3);
    const std::string saved = (tmp / "saved").string();
    copy_dir(opts.dir, saved);
    const LogIndex b = segs[1].last_index;
    {
      auto log = open_ok(opts);
      REQUIRE(log->create_snapshot(
                     meta(b, 1),
                     encode_snapshot_data(log->offset_after(b).value(), ""))
                  .ok());
      REQUIRE(log->compact(b).ok());
      CHECK(log->segments().size() == segs.size() - 2);
    }
    // The deletions "did not happen": the files are back.
    for (int k = 0; k < 2; ++k) {
      for (const char* suffix : {".log", ".index", ".timeindex"}) {
        const std::string stem =
            name_of(segs[static_cast<std::size_t>(k)].path);
        const std::string f = stem.substr(0, stem.size() - 4) + suffix;
        std::filesystem::copy_file(saved + "/" + f, opts.dir + "/" + f);
      }
    }
    auto log = open_ok(opts);
    CHECK(log->first_index() == b + 1);
    CHECK(log->segments().size() == segs.size() - 2);
    CHECK_FALSE(std::filesystem::exists(segs[0].path));
    CHECK_FALSE(std::filesystem::exists(segs[1].path));
    CHECK(log->term(b).value() == Term(1));
  }

  TEST_CASE("recover.leftover_tmp_files_are_deleted") {
    testsupport::TempDir tmp;
    const auto opts = options(tmp.path().string());
    make_log(opts, 3);
    {
      std::ofstream f(opts.dir + "/snapshot.tmp");
      f << "half";
    }
    open_ok(opts);
    CHECK_FALSE(std::filesystem::exists(opts.dir + "/snapshot.tmp"));
  }
}

}  // namespace nw::storage::test
