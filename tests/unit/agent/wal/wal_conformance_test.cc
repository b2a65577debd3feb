// WalStorage against the reference: the same operations on MemoryStorage
// and WalStorage must give the same observable results, also after the
// WalStorage is closed and reopened.
#include <doctest/doctest.h>

#include <random>

#include "agent/raft/memory_storage.h"
#include "tests/unit/agent/wal/wal_test_util.h"

namespace nw::wal::test {
namespace {

using raft::MemoryStorage;
using raft::Snapshot;

// Runs each operation on both storages and checks that they agree.
class Twin {
 public:
  Twin(std::string dir, WalOptions opts)
      : dir_(std::move(dir)), opts_(opts), wal_(open_ok(dir_, opts_)) {}

  WalStorage& wal() { return *wal_; }
  MemoryStorage& mem() { return mem_; }

  void same_status(const Status& a, const Status& b) {
    REQUIRE(a.ok() == b.ok());
    if (!a.ok()) CHECK(a.error().code == b.error().code);
  }
  void append(const std::vector<Entry>& e) {
    same_status(mem_.append(e), wal_->append(e));
  }
  void set_hard_state(const HardState& hs) {
    same_status(mem_.set_hard_state(hs), wal_->set_hard_state(hs));
  }
  void create_snapshot(const SnapshotMeta& m, const std::string& data) {
    same_status(mem_.create_snapshot(m, data), wal_->create_snapshot(m, data));
  }
  void apply_snapshot(const Snapshot& s) {
    same_status(mem_.apply_snapshot(s), wal_->apply_snapshot(s));
  }
  void compact(LogIndex i) { same_status(mem_.compact(i), wal_->compact(i)); }
  void reopen() {
    wal_.reset();
    wal_ = open_ok(dir_, opts_);
  }
  void check() {
    const Observed a = observe(mem_);
    const Observed b = observe(*wal_);
    INFO("memory: " << describe(a));
    INFO("wal:    " << describe(b));
    REQUIRE(a == b);
  }

 private:
  std::string dir_;
  WalOptions opts_;
  MemoryStorage mem_;
  std::unique_ptr<WalStorage> wal_;
};

}  // namespace

TEST_SUITE("wal.wal_storage") {
  TEST_CASE("open.new_directory_is_an_empty_group") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "a/b/wal").string();
    auto w = open_ok(dir);
    MemoryStorage m;
    CHECK(observe(*w) == observe(m));
    CHECK(list_dir(dir) == std::vector<std::string>{w->segment_names()});
    CHECK(w->snapshot().error().code == Code::not_found);
    CHECK(w->term(LogIndex(1)).error().code == Code::not_found);
  }

  TEST_CASE("append.scripted_sequence_matches_memory_storage") {
    testsupport::TempDir tmp;
    Twin t((tmp / "wal").string(), no_sync());
    t.append({entry(1, 1, "a"), entry(1, 2, "b"), entry(1, 3, "c")});
    t.check();
    t.set_hard_state({Term(1), NodeId(2), LogIndex(2)});
    // Suffix replacement from the middle, then from last + 1.
    t.append({entry(2, 2, "B"), entry(2, 3, "C"), entry(2, 4, "D")});
    t.append({entry(2, 5, std::string(300, 'x'))});
    t.check();
    t.reopen();
    t.check();
    t.create_snapshot(meta(3, 2), "state@3");
    t.compact(LogIndex(2));
    t.check();
    t.reopen();
    t.check();
    // Preconditions: compact beyond the snapshot, snapshot beyond the log.
    t.compact(LogIndex(4));
    t.create_snapshot(meta(9, 2), "x");
    t.create_snapshot(meta(1, 1), "old");
    t.compact(LogIndex(1));  // no-op
    t.check();
    t.compact(LogIndex(3));
    t.append({entry(3, 4, "d3")});  // replace right after the compaction point
    t.check();
    t.apply_snapshot(Snapshot{meta(10, 4, {NodeId(7)}), "installed"});
    t.check();
    t.reopen();
    t.check();
    t.apply_snapshot(Snapshot{meta(8, 4), "older"});
    t.append({entry(4, 11, "e")});
    t.set_hard_state({Term(4), NodeId(0), LogIndex(11)});
    t.create_snapshot(meta(11, 4), "state@11");
    t.compact(LogIndex(11));
    t.check();
    t.reopen();
    t.check();
    // Entries honor max_bytes like MemoryStorage (and always return one).
    t.append({entry(4, 12, std::string(50, 'a')), entry(4, 13, "b"),
              entry(4, 14, "c")});
    for (std::uint64_t max : {0, 1, 74, 75, 100, 1000}) {
      auto a = t.mem().entries(LogIndex(12), LogIndex(15), max);
      auto b = t.wal().entries(LogIndex(12), LogIndex(15), max);
      REQUIRE(a.ok());
      REQUIRE(b.ok());
      CHECK(*a == *b);
    }
    CHECK(t.wal().entries(LogIndex(11), LogIndex(12), 100).error().code ==
          Code::not_found);
  }

  TEST_CASE("random.matches_memory_storage_for_fixed_seeds") {
    for (std::uint32_t seed = 1; seed <= 24; ++seed) {
      CAPTURE(seed);
      testsupport::TempDir tmp;
      // Small segments so that rolls and deletions happen often.
      Twin t((tmp / "wal").string(), no_sync(600 + 97 * seed));
      std::mt19937_64 rng(seed);
      auto pick = [&](std::uint64_t lo, std::uint64_t hi) {  // [lo, hi]
        return lo + rng() % (hi - lo + 1);
      };
      std::uint64_t term = 1;
      for (int step = 0; step < 250; ++step) {
        CAPTURE(step);
        MemoryStorage& m = t.mem();
        const std::uint64_t first = m.first_index().value();
        const std::uint64_t last = m.last_index().value();
        const std::uint64_t snap = m.snapshot_meta().index.value();
        const std::uint64_t op = rng() % 100;
        if (op < 45) {
          const std::uint64_t lo = pick(first, last + 1);
          if (rng() % 4 == 0) ++term;
          std::vector<Entry> es;
          for (std::uint64_t k = 0, n = pick(1, 5); k < n; ++k) {
            Entry e = entry(term, lo + k, std::string(pick(0, 120), 'a'));
            e.data += std::to_string(rng());
            if (rng() % 8 == 0) e.type = EntryType::conf_change;
            es.push_back(std::move(e));
          }
          t.append(es);
        } else if (op < 55) {
          t.set_hard_state(
              {Term(term), NodeId(pick(0, 3)), LogIndex(pick(0, last))});
        } else if (op < 65) {
          const std::uint64_t lo =
              std::max({snap, first - 1, std::uint64_t{1}});
          if (lo <= last + 1) {  // last + 1 exercises the precondition
            const std::uint64_t i = pick(lo, last + 1);
            auto tm = m.term(LogIndex(i));
            t.create_snapshot(meta(i, tm.ok() ? tm->value() : term),
                              "snap" + std::to_string(rng()));
          }
        } else if (op < 77) {
          t.compact(LogIndex(pick(first > 2 ? first - 2 : 0, snap + 2)));
        } else if (op < 82) {
          const std::uint64_t i =
              pick(std::max<std::uint64_t>(snap, 1), last + 10);
          t.apply_snapshot(Snapshot{meta(i, term), "inst" + std::to_string(i)});
        } else if (op < 85) {
          if (snap > 1) {
            t.apply_snapshot(Snapshot{meta(snap - 1, term), "stale"});
          }
        } else if (op < 92) {
          t.reopen();
        }
        t.check();
      }
      t.reopen();
      t.check();
      // Compacted segments are gone: the files on disk are the live ones.
      std::vector<std::string> files;
      for (const std::string& f : list_dir(t.wal().dir())) {
        if (f.rfind("wal-", 0) == 0) files.push_back(f);
      }
      CHECK(files == t.wal().segment_names());
    }
  }

  TEST_CASE("roll.deletes_segments_covered_by_compaction") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "wal").string();
    Twin t(dir, no_sync(1024));
    for (std::uint64_t i = 1; i <= 100; ++i) {
      t.append({entry(1, i, std::string(100, 'p'))});
    }
    const std::size_t rolled = t.wal().segment_names().size();
    CHECK(rolled >= 10);
    t.reopen();
    t.check();
    CHECK(t.wal().segment_names().size() == rolled);

    t.create_snapshot(meta(60, 1), "state@60");
    CHECK(t.wal().segment_names().size() == rolled);  // nothing compacted yet
    t.compact(LogIndex(60));
    const std::size_t after = t.wal().segment_names().size();
    CHECK(after < rolled);
    CHECK(after > 1);  // entries 61..100 are still there
    t.check();
    // Every segment left is needed: the first holds an entry after 60.
    CHECK(list_dir(dir).size() == after + 1);  // + the snapshot file
    t.reopen();
    t.check();

    t.create_snapshot(meta(100, 1), "state@100");
    t.compact(LogIndex(100));
    t.append({entry(2, 101, "next")});
    t.check();
    CHECK(t.wal().segment_names().size() <= 2);
    t.reopen();
    t.check();
    CHECK(list_dir(dir) ==
          std::vector<std::string>{"snapshot-1-100",
                                   t.wal().segment_names().front()});
  }

  TEST_CASE("snapshot.only_the_newest_file_is_kept") {
    testsupport::TempDir tmp;
    const std::string dir = (tmp / "wal").string();
    Twin t(dir, no_sync());
    t.append({entry(1, 1), entry(1, 2), entry(2, 3)});
    t.create_snapshot(meta(1, 1), "one");
    t.create_snapshot(meta(3, 2), "three");
    t.check();
    auto files = list_dir(dir);
    CHECK(std::count(files.begin(), files.end(), "snapshot-2-3") == 1);
    CHECK(std::count(files.begin(), files.end(), "snapshot-1-1") == 0);
    t.apply_snapshot(Snapshot{meta(7, 3), "seven"});
    files = list_dir(dir);
    CHECK(std::count(files.begin(), files.end(), "snapshot-3-7") == 1);
    CHECK(std::count(files.begin(), files.end(), "snapshot-2-3") == 0);
    t.reopen();
    t.check();
  }
}

}  // namespace nw::wal::test
