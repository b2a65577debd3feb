#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "agent/raft/log_storage.h"
#include "agent/raft/memory_storage.h"

// Conformance checks for raft::LogStorage implementations: run the same
// operations on an implementation and on MemoryStorage (the reference) and
// compare everything a caller can observe. Header-only, for the tests of
// every durable LogStorage (agent/storage's SegmentLog, agent/wal's
// WalStorage).
namespace nw::raft::test {

// Everything a caller can observe of a LogStorage.
struct Observed {
  LogIndex first;
  LogIndex last;
  std::vector<Term> terms;  // first - 1 .. last
  std::vector<Entry> ents;
  HardState hs;
  SnapshotMeta snap;
  bool has_snapshot = false;
  std::string snap_data;

  bool operator==(const Observed&) const = default;
};

// An implementation may store an entry's data in a form of its own (the
// segment log stamps offsets into batches); `normalize` maps what it
// returns back to what was appended before the comparison.
using Normalize = std::function<void(Entry*)>;

inline Observed observe(const LogStorage& s, const Normalize& normalize = {}) {
  Observed o;
  o.first = s.first_index();
  o.last = s.last_index();
  for (LogIndex i = o.first - 1; i <= o.last; i = i + 1) {
    auto t = s.term(i);
    REQUIRE(t.ok());
    o.terms.push_back(*t);
  }
  if (o.first <= o.last) {
    auto e = s.entries(o.first, o.last + 1, UINT64_MAX);
    REQUIRE(e.ok());
    o.ents = std::move(e).value();
    if (normalize) {
      for (Entry& x : o.ents) normalize(&x);
    }
  }
  o.hs = s.hard_state();
  o.snap = s.snapshot_meta();
  auto snap = s.snapshot();
  o.has_snapshot = snap.ok();
  if (snap.ok()) {
    CHECK(snap->meta == o.snap);
    o.snap_data = snap->data;
  } else {
    CHECK(snap.error().code == Code::not_found);
  }
  return o;
}

inline std::string describe(const Observed& o) {
  std::string s = "first=" + std::to_string(o.first.value()) +
                  " last=" + std::to_string(o.last.value()) +
                  " hs.term=" + std::to_string(o.hs.term.value()) +
                  " hs.commit=" + std::to_string(o.hs.commit.value()) +
                  " snap=" + std::to_string(o.snap.index.value()) + "/" +
                  std::to_string(o.snap.term.value()) + " terms=[";
  for (Term t : o.terms) s += std::to_string(t.value()) + ",";
  return s + "]";
}

inline SnapshotMeta conformance_meta(std::uint64_t index, std::uint64_t term,
                                     std::set<NodeId> voters = {
                                         NodeId(1), NodeId(2), NodeId(3)}) {
  return SnapshotMeta{LogIndex(index), Term(term),
                      Membership{std::move(voters), {NodeId(4)}}};
}

// What run_random_ops needs of a twin (a storage under test beside a
// MemoryStorage): each call runs on both and checks they agree.
struct TwinOps {
  std::function<MemoryStorage&()> mem;
  std::function<void(const std::vector<Entry>&)> append;
  std::function<void(const HardState&)> set_hard_state;
  // `index` may be last_index() + 1 (exercising the precondition).
  std::function<void(const SnapshotMeta&)> create_snapshot;
  std::function<void(const SnapshotMeta&)> apply_snapshot;
  std::function<void(LogIndex)> compact;
  std::function<void()> reopen;
  std::function<void()> check;
  // The data of a normal entry at `index` (empty: the no-op); the caller
  // decides the format (a record batch for the segment log).
  std::function<std::string(std::mt19937_64&, std::uint64_t index)> data;
};

// The WAL conformance test's random walk, shared: appends (with suffix
// replacements and conf changes), hard states, snapshots taken and
// installed (also stale ones), compactions and reopens, checked after
// every step.
inline void run_random_ops(const TwinOps& t, std::uint32_t seed, int steps) {
  std::mt19937_64 rng(seed);
  auto pick = [&](std::uint64_t lo, std::uint64_t hi) {  // [lo, hi]
    return lo + rng() % (hi - lo + 1);
  };
  std::uint64_t term = 1;
  for (int step = 0; step < steps; ++step) {
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
        Entry e{Term(term), LogIndex(lo + k), EntryType::normal, {}};
        if (rng() % 8 == 0) {
          e.type = EntryType::conf_change;
          e.data = "cc" + std::to_string(rng());
        } else {
          e.data = t.data(rng, lo + k);
        }
        es.push_back(std::move(e));
      }
      t.append(es);
    } else if (op < 55) {
      t.set_hard_state(
          {Term(term), NodeId(pick(0, 3)), LogIndex(pick(0, last))});
    } else if (op < 65) {
      const std::uint64_t lo = std::max({snap, first - 1, std::uint64_t{1}});
      if (lo <= last + 1) {  // last + 1 exercises the precondition
        const std::uint64_t i = pick(lo, last + 1);
        auto tm = m.term(LogIndex(i));
        t.create_snapshot(conformance_meta(i, tm.ok() ? tm->value() : term));
      }
    } else if (op < 77) {
      t.compact(LogIndex(pick(first > 2 ? first - 2 : 0, snap + 2)));
    } else if (op < 82) {
      const std::uint64_t i = pick(std::max<std::uint64_t>(snap, 1), last + 10);
      t.apply_snapshot(conformance_meta(i, term));
    } else if (op < 85) {
      if (snap > 1) t.apply_snapshot(conformance_meta(snap - 1, term));
    } else if (op < 92) {
      t.reopen();
    }
    t.check();
  }
  t.reopen();
  t.check();
}

}  // namespace nw::raft::test
