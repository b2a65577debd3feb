// SegmentLog against the reference: the same operations on MemoryStorage
// and SegmentLog must give the same observable results (normal entries'
// data compared without the fields append() stamps), also after the
// SegmentLog is closed and reopened. The random walk is the WAL's, shared
// in tests/unit/agent/raft/storage_conformance.h.
#include <doctest/doctest.h>

#include <random>

#include "agent/raft/memory_storage.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/raft/storage_conformance.h"
#include "tests/unit/agent/storage/segment_test_util.h"

namespace nw::storage::test {
namespace {

using raft::MemoryStorage;
using raft::Snapshot;
using raft::SnapshotMeta;
using raft::test::conformance_meta;
using raft::test::Observed;

void normalize(Entry* e) {
  if (e->type == EntryType::normal && !e->data.empty()) {
    auto info = records::read_batch_info(e->data);
    REQUIRE(info.ok());
    CHECK(info->raft_index == e->index.value());
    CHECK(info->raft_term == e->term.value());
    e->data = unstamped(std::move(e->data));
  }
}

// Runs each operation on both storages and checks that they agree.
class Twin {
 public:
  explicit Twin(SegmentLogOptions opts)
      : opts_(std::move(opts)), log_(open_ok(opts_)) {}

  SegmentLog& log() { return *log_; }
  MemoryStorage& mem() { return mem_; }

  void same_status(const Status& a, const Status& b) {
    REQUIRE(a.ok() == b.ok());
    if (!a.ok()) CHECK(a.error().code == b.error().code);
  }
  void append(const std::vector<Entry>& e) {
    same_status(mem_.append(e), log_->append(e));
  }
  void set_hard_state(const HardState& hs) {
    same_status(mem_.set_hard_state(hs), log_->set_hard_state(hs));
  }
  // Snapshot data follows the segment log's convention: the next offset.
  void create_snapshot(const SnapshotMeta& m, const std::string& rest = "s") {
    auto next = log_->offset_after(m.index);
    const std::string data = encode_snapshot_data(next.ok() ? *next : 0, rest);
    same_status(mem_.create_snapshot(m, data), log_->create_snapshot(m, data));
  }
  void apply_snapshot(const SnapshotMeta& m, const std::string& rest = "i") {
    const Snapshot s{m, encode_snapshot_data(m.index.value() * 10, rest)};
    same_status(mem_.apply_snapshot(s), log_->apply_snapshot(s));
  }
  void compact(LogIndex i) { same_status(mem_.compact(i), log_->compact(i)); }
  void reopen() {
    log_.reset();
    log_ = open_ok(opts_);
  }
  void check() {
    const Observed a = raft::test::observe(mem_);
    const Observed b = raft::test::observe(*log_, normalize);
    INFO("memory: " << raft::test::describe(a));
    INFO("segment log: " << raft::test::describe(b));
    REQUIRE(a == b);
    // Offsets are assigned in log order without gaps.
    const LogIndex first = log_->first_index();
    const LogIndex last = log_->last_index();
    std::uint64_t next = log_->start_offset();
    CHECK(log_->offset_after(first - 1).value() == next);
    for (LogIndex i = first; i <= last; i = i + 1) {
      auto bo = log_->batch_offsets(i);
      REQUIRE(bo.ok());
      CHECK(bo->first == next);
      next += bo->second;
      CHECK(log_->offset_after(i).value() == next);
    }
    CHECK(log_->next_offset() == next);
  }
  raft::test::TwinOps ops() {
    raft::test::TwinOps t;
    t.mem = [this]() -> MemoryStorage& { return mem_; };
    t.append = [this](const std::vector<Entry>& e) { append(e); };
    t.set_hard_state = [this](const HardState& hs) { set_hard_state(hs); };
    t.create_snapshot = [this](const SnapshotMeta& m) {
      create_snapshot(m, "snap" + std::to_string(m.index.value()));
    };
    t.apply_snapshot = [this](const SnapshotMeta& m) {
      apply_snapshot(m, "inst" + std::to_string(m.index.value()));
    };
    t.compact = [this](LogIndex i) { compact(i); };
    t.reopen = [this] { reopen(); };
    t.check = [this] { check(); };
    t.data = [](std::mt19937_64& rng, std::uint64_t index) -> std::string {
      if (rng() % 6 == 0) return {};  // a no-op
      std::vector<records::Record> rs(1 + rng() % 4);
      for (auto& r : rs) {
        if (rng() % 5) r.key = "k" + std::to_string(rng() % 100);
        r.value = std::string(rng() % 120, 'v') + std::to_string(index);
        r.timestamp_ms = 1'700'000'000'000 + static_cast<std::int64_t>(index);
      }
      return records::build_batch(rs);
    };
    return t;
  }

 private:
  SegmentLogOptions opts_;
  MemoryStorage mem_;
  std::unique_ptr<SegmentLog> log_;
};

Entry e(std::uint64_t term, std::uint64_t index, const std::string& tag) {
  return data_entry(term, index, batch(2, tag));
}

}  // namespace

TEST_SUITE("storage.segment_log") {
  TEST_CASE("conformance.scripted_sequence_matches_memory_storage") {
    testsupport::TempDir tmp;
    Twin t(options(tmp.path().string(), FakeClock(), 400));
    t.append({e(1, 1, "a"), e(1, 2, "b"), e(1, 3, "c")});
    t.check();
    t.set_hard_state({Term(1), NodeId(2), LogIndex(2)});
    // Suffix replacement from the middle, then from last + 1.
    t.append({e(2, 2, "B"), noop(2, 3), conf(2, 4)});
    t.append({data_entry(2, 5, batch(3, "big", 0, 300))});
    t.check();
    t.reopen();
    t.check();
    t.create_snapshot(conformance_meta(3, 2), "state@3");
    t.compact(LogIndex(2));
    t.check();
    t.reopen();
    t.check();
    // Preconditions: compact beyond the snapshot, snapshot beyond the log.
    t.compact(LogIndex(4));
    t.create_snapshot(conformance_meta(9, 2), "x");
    t.create_snapshot(conformance_meta(1, 1), "old");
    t.compact(LogIndex(1));  // no-op
    t.check();
    t.compact(LogIndex(3));
    t.append({e(3, 4, "d3")});  // replace right after the compaction point
    t.check();
    t.apply_snapshot(conformance_meta(10, 4, {NodeId(7)}), "installed");
    t.check();
    t.reopen();
    t.check();
    t.apply_snapshot(conformance_meta(8, 4), "older");
    t.append({e(4, 11, "e")});
    t.set_hard_state({Term(4), NodeId(0), LogIndex(11)});
    t.create_snapshot(conformance_meta(11, 4), "state@11");
    t.compact(LogIndex(11));
    t.check();
    t.reopen();
    t.check();
    // Entries honor max_bytes like MemoryStorage (and always return one).
    t.append(
        {data_entry(4, 12, batch(2, "x", 0, 50)), noop(4, 13), e(4, 14, "c")});
    for (std::uint64_t max : {0, 1, 150, 170, 200, 1000}) {
      auto a = t.mem().entries(LogIndex(12), LogIndex(15), max);
      auto b = t.log().entries(LogIndex(12), LogIndex(15), max);
      REQUIRE(a.ok());
      REQUIRE(b.ok());
      REQUIRE(a->size() == b->size());
      for (Entry& x : *b) normalize(&x);
      CHECK(*a == *b);
    }
    CHECK(t.log().entries(LogIndex(11), LogIndex(12), 100).error().code ==
          Code::not_found);
  }

  TEST_CASE("conformance.random_matches_memory_storage_for_fixed_seeds") {
    for (std::uint32_t seed = 1; seed <= 24; ++seed) {
      CAPTURE(seed);
      testsupport::TempDir tmp;
      // Small segments so that rolls and deletions happen often.
      Twin t(options(tmp.path().string(), FakeClock(), 300 + 97 * seed));
      raft::test::run_random_ops(t.ops(), seed, 250);
      // The files on disk are the live segments and the metadata files.
      std::vector<std::string> want;
      for (const SegmentInfo& s : t.log().segments()) {
        const std::string name =
            std::filesystem::path(s.path).filename().string();
        const std::string stem = name.substr(0, name.size() - 4);
        want.push_back(name);
        want.push_back(stem + ".index");
        want.push_back(stem + ".timeindex");
      }
      for (const char* f : {"hardstate", "snapshot", "start"}) {
        if (std::filesystem::exists(tmp / f)) want.push_back(f);
      }
      std::sort(want.begin(), want.end());
      CHECK(list_dir(tmp.path().string()) == want);
    }
  }
}

}  // namespace nw::storage::test
