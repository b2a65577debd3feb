// Crashes and damage, simulated on real files: torn tails (cut at every
// byte), flipped bytes in records, segment headers and snapshot files
// (leveldb's corruption_test), missing files and leftovers.
#include <doctest/doctest.h>

#include <functional>

#include "tests/unit/agent/wal/wal_test_util.h"

namespace nw::wal::test {
namespace {

constexpr WalOptions kDurable{1 << 20, true};

// A history with every record type: entries, a suffix replacement, hard
// state, a snapshot and a compaction.
void build_history(WalStorage& w) {
  for (std::uint64_t i = 1; i <= 10; ++i) {
    REQUIRE(w.append({entry(1, i, "entry-" + std::to_string(i))}).ok());
  }
  REQUIRE(w.set_hard_state({Term(1), NodeId(1), LogIndex(6)}).ok());
  REQUIRE(w.create_snapshot(meta(5, 1), "state@5").ok());
  REQUIRE(w.compact(LogIndex(3)).ok());
  REQUIRE(w.append({entry(2, 8, "x"), entry(2, 9, "y")}).ok());
}

void expect_corruption(const std::string& dir, const std::string& file,
                       std::uint64_t offset) {
  auto r = WalStorage::open(dir, kDurable);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::corruption);
  INFO(r.error().message);
  CHECK(r.error().message.find(file) != std::string::npos);
  CHECK(r.error().message.find("byte offset " + std::to_string(offset)) !=
        std::string::npos);
  CHECK_FALSE(r.error().hint.empty());
}

// Runs build_history, then `last_op`, which must write one record to the
// active segment. Cutting that record at every byte, or flipping any of its
// bytes, must reopen to exactly the state before it.
void check_torn_last_record(const std::function<void(WalStorage&)>& last_op) {
  testsupport::TempDir tmp;
  const std::string dir = (tmp / "wal").string();
  const std::string copy = (tmp / "copy").string();
  const std::string pre = (tmp / "pre").string();
  Observed before;
  std::string name;
  std::uint64_t size0 = 0;
  std::uint64_t size1 = 0;
  {
    auto w = open_ok(dir, kDurable);
    build_history(*w);
    before = observe(*w);
    name = w->segment_names().back();
    size0 = file_size(dir + "/" + name);
    copy_dir(dir, pre);
    last_op(*w);
    REQUIRE(w->segment_names().back() == name);
    size1 = file_size(dir + "/" + name);
    REQUIRE(size1 > size0);
    REQUIRE_FALSE(observe(*w) == before);
  }
  // The crash image: the directory before the op (nothing is deleted
  // before the record is durable), plus the files the op wrote before its
  // record (a new snapshot), plus the segment as the op left it.
  auto crash_image = [&]() {
    copy_dir(pre, copy);
    for (const std::string& f : list_dir(dir)) {
      std::filesystem::copy_file(
          dir + "/" + f, copy + "/" + f,
          std::filesystem::copy_options::overwrite_existing);
    }
  };
  for (std::uint64_t cut = size0; cut < size1; ++cut) {
    CAPTURE(cut);
    crash_image();
    truncate_file(copy + "/" + name, cut);
    auto w = open_ok(copy, kDurable);
    CHECK(observe(*w) == before);
    CHECK(file_size(copy + "/" + name) == size0);
  }
  for (std::uint64_t off = size0; off < size1; ++off) {
    CAPTURE(off);
    crash_image();
    flip_byte(copy + "/" + name, off);
    auto w = open_ok(copy, kDurable);
    CHECK(observe(*w) == before);
    CHECK(file_size(copy + "/" + name) == size0);
  }
  // After recovery the log takes new writes and keeps them.
  crash_image();
  truncate_file(copy + "/" + name, size0 + 5);
  {
    auto w = open_ok(copy, kDurable);
    REQUIRE(w->append({entry(3, w->last_index().value() + 1, "after")}).ok());
  }
  auto w = open_ok(copy, kDurable);
  CHECK(w->entries(w->last_index(), w->last_index() + 1, 100)->at(0).data ==
        "after");
}

}  // namespace

TEST_SUITE("wal.recovery") {
  TEST_CASE("recover.torn_append_is_truncated_at_every_offset") {
    check_torn_last_record([](WalStorage& w) {
      // A suffix replacement: torn, it must not lose entries 9 and 10.
      REQUIRE(w.append({entry(3, 9, "r1"), entry(3, 10, "r2"),
                        entry(3, 11, std::string(40, 'z'))})
                  .ok());
    });
  }

  TEST_CASE("recover.torn_hard_state_is_truncated_at_every_offset") {
    check_torn_last_record([](WalStorage& w) {
      REQUIRE(w.set_hard_state({Term(3), NodeId(2), LogIndex(9)}).ok());
    });
  }

  TEST_CASE("recover.torn_compact_is_truncated_at_every_offset") {
    check_torn_last_record(
        [](WalStorage& w) { REQUIRE(w.compact(LogIndex(5)).ok()); });
  }

  TEST_CASE("recover.torn_snapshot_record_keeps_the_previous_snapshot") {
    check_torn_last_record([](WalStorage& w) {
      REQUIRE(w.create_snapshot(meta(8, 2), "state@8").ok());
    });
    check_torn_last_record([](WalStorage& w) {
      REQUIRE(w.apply_snapshot({meta(20, 4), "installed"}).ok());
    });
  }

  TEST_CASE("recover.torn_segment_roll_is_removed") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "wal").string();
    const std::string copy = (tmp / "copy").string();
    Observed before;
    std::string name;
    {
      auto w = open_ok(dir, WalOptions{2000, true});
      std::uint64_t i = 1;
      while (true) {
        before = observe(*w);
        const std::size_t n = w->segment_names().size();
        REQUIRE(w->append({entry(1, i, std::string(100, 'r'))}).ok());
        ++i;
        if (w->segment_names().size() > n) break;
      }
      name = w->segment_names().back();
      REQUIRE(w->segment_names().size() == 2);
    }
    const std::uint64_t size = file_size(dir + "/" + name);
    for (std::uint64_t cut = 0; cut < size; ++cut) {
      CAPTURE(cut);
      copy_dir(dir, copy);
      truncate_file(copy + "/" + name, cut);
      auto w = open_ok(copy, WalOptions{2000, true});
      CHECK(observe(*w) == before);
      // Cut before its checkpoint ended, the new segment is gone.
      CHECK(w->segment_names().size() == (cut < 97 ? 1 : 2));
    }
  }

  TEST_CASE("recover.flipped_byte_in_a_non_tail_record_is_corruption") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "wal").string();
    const std::string copy = (tmp / "copy").string();
    std::string name;
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    {
      auto w = open_ok(dir, kDurable);
      REQUIRE(w->append({entry(1, 1, "one")}).ok());
      name = w->segment_names().back();
      start = file_size(dir + "/" + name);
      REQUIRE(w->append({entry(1, 2, "two"), entry(1, 3, "three")}).ok());
      end = file_size(dir + "/" + name);
      REQUIRE(w->set_hard_state({Term(1), NodeId(1), LogIndex(3)}).ok());
    }
    for (std::uint64_t off = start; off < end; ++off) {
      CAPTURE(off);
      copy_dir(dir, copy);
      flip_byte(copy + "/" + name, off);
      expect_corruption(copy, copy + "/" + name, start);
    }
    // The segment header and the checkpoint are not a tail either.
    copy_dir(dir, copy);
    flip_byte(copy + "/" + name, 3);
    expect_corruption(copy, copy + "/" + name, 0);
    copy_dir(dir, copy);
    flip_byte(copy + "/" + name, 40);
    expect_corruption(copy, copy + "/" + name, 20);
  }

  TEST_CASE("recover.damage_in_an_older_segment_is_corruption") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "wal").string();
    const std::string copy = (tmp / "copy").string();
    std::string first;
    {
      auto w = open_ok(dir, WalOptions{1000, true});
      for (std::uint64_t i = 1; i <= 30; ++i) {
        REQUIRE(w->append({entry(1, i, std::string(100, 'o'))}).ok());
      }
      REQUIRE(w->segment_names().size() >= 3);
      first = w->segment_names().front();
    }
    const std::uint64_t size = file_size(dir + "/" + first);
    // The last record of a segment that is not the last is no tail.
    copy_dir(dir, copy);
    flip_byte(copy + "/" + first, size - 1);
    auto r = WalStorage::open(copy, kDurable);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::corruption);
    CHECK(r.error().message.find(first) != std::string::npos);

    copy_dir(dir, copy);
    truncate_file(copy + "/" + first, size - 1);
    r = WalStorage::open(copy, kDurable);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::corruption);
    CHECK(r.error().message.find(first) != std::string::npos);
  }

  TEST_CASE("recover.missing_segment_is_corruption") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "wal").string();
    const std::string copy = (tmp / "copy").string();
    std::vector<std::string> names;
    {
      auto w = open_ok(dir, WalOptions{1000, true});
      for (std::uint64_t i = 1; i <= 30; ++i) {
        REQUIRE(w->append({entry(1, i, std::string(100, 'm'))}).ok());
      }
      names = w->segment_names();
      REQUIRE(names.size() >= 3);
    }
    for (std::size_t k : {std::size_t{0}, std::size_t{1}}) {
      CAPTURE(k);
      copy_dir(dir, copy);
      std::filesystem::remove(copy + "/" + names[k]);
      auto r = WalStorage::open(copy, kDurable);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::corruption);
      CHECK(r.error().message.find("missing") != std::string::npos);
    }
  }

  TEST_CASE("recover.compacted_segment_before_a_gap_is_removed") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "wal").string();
    const std::string saved = (tmp / "saved").string();
    Observed after;
    std::vector<std::string> names;
    {
      auto w = open_ok(dir, WalOptions{1000, true});
      for (std::uint64_t i = 1; i <= 30; ++i) {
        REQUIRE(w->append({entry(1, i, std::string(100, 'g'))}).ok());
      }
      names = w->segment_names();
      copy_dir(dir, saved);
      REQUIRE(w->create_snapshot(meta(28, 1), "s").ok());
      REQUIRE(w->compact(LogIndex(28)).ok());
      REQUIRE(w->segment_names().front() != names[0]);
      REQUIRE(w->segment_names().front() != names[1]);
      after = observe(*w);
    }
    // A crash let the first deletion be lost but not the second.
    std::filesystem::copy_file(saved + "/" + names[0], dir + "/" + names[0]);
    auto w = open_ok(dir, kDurable);
    CHECK(observe(*w) == after);
    CHECK_FALSE(std::filesystem::exists(dir + "/" + names[0]));
  }

  TEST_CASE("recover.flipped_byte_in_a_snapshot_is_corruption") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "wal").string();
    const std::string copy = (tmp / "copy").string();
    {
      auto w = open_ok(dir, kDurable);
      build_history(*w);
    }
    const std::string snap = "snapshot-1-5";
    const std::uint64_t size = file_size(dir + "/" + snap);
    for (std::uint64_t off = 0; off < size; ++off) {
      CAPTURE(off);
      copy_dir(dir, copy);
      flip_byte(copy + "/" + snap, off);
      auto r = WalStorage::open(copy, kDurable);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::corruption);
      CHECK(r.error().message.find(snap) != std::string::npos);
    }
    copy_dir(dir, copy);
    truncate_file(copy + "/" + snap, size - 1);
    CHECK(WalStorage::open(copy, kDurable).error().code == Code::corruption);
    copy_dir(dir, copy);
    std::filesystem::remove(copy + "/" + snap);
    auto r = WalStorage::open(copy, kDurable);
    CHECK(r.error().code == Code::corruption);
    CHECK(r.error().message.find("missing") != std::string::npos);
  }

  TEST_CASE("recover.crash_during_snapshot_write_uses_previous_snapshot") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "wal").string();
    const std::string copy = (tmp / "copy").string();
    Observed before;
    {
      auto w = open_ok(dir, kDurable);
      build_history(*w);
      before = observe(*w);
      copy_dir(dir, copy);
      REQUIRE(w->create_snapshot(meta(8, 2), "state@8").ok());
    }
    // Crash while the temporary file was being written.
    const std::string full = testsupport::read_file(dir + "/snapshot-2-8");
    for (std::size_t len : {std::size_t{0}, std::size_t{7}, full.size()}) {
      const std::string c2 = copy + "-" + std::to_string(len);
      copy_dir(copy, c2);
      std::ofstream(c2 + "/snapshot-2-8.tmp", std::ios::binary)
          << full.substr(0, len);
      auto w = open_ok(c2, kDurable);
      CHECK(observe(*w) == before);
      CHECK_FALSE(std::filesystem::exists(c2 + "/snapshot-2-8.tmp"));
    }
    // Crash after the rename, before the snapshot record was written.
    std::filesystem::copy_file(dir + "/snapshot-2-8", copy + "/snapshot-2-8");
    auto w = open_ok(copy, kDurable);
    CHECK(observe(*w) == before);
    CHECK_FALSE(std::filesystem::exists(copy + "/snapshot-2-8"));
    CHECK(std::filesystem::exists(copy + "/snapshot-1-5"));
  }

  TEST_CASE("recover.snapshot_without_log_is_corruption") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "wal").string();
    {
      auto w = open_ok(dir, kDurable);
      build_history(*w);
    }
    for (const std::string& f : list_dir(dir)) {
      if (f.rfind("wal-", 0) == 0) std::filesystem::remove(dir + "/" + f);
    }
    CHECK(WalStorage::open(dir, kDurable).error().code == Code::corruption);
  }
}

}  // namespace nw::wal::test
