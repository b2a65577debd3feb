#pragma once

#include <cstdint>
#include <vector>

#include "agent/raft/types.h"
#include "common/base/result.h"

namespace nw::raft {

// The stable storage behind one Raft group: the log, the hard state and the
// latest snapshot. The core (RaftNode) only reads it; the host writes it
// while draining a Ready, and compacts it when it has taken a snapshot.
//
// The log is contiguous: entries first_index()..last_index(). Everything
// before first_index() is covered by the snapshot (snapshot_meta().index >=
// first_index() - 1); entries after the snapshot may be kept so that a
// lagging follower can still be sent entries instead of a snapshot. The
// term of first_index() - 1 (the compaction point) stays answerable.
//
// Durability: every write (append, set_hard_state, apply_snapshot,
// create_snapshot, compact) must be durable when it returns OK: after a
// crash, the storage opens with exactly what was returned OK before it (a
// torn write must leave the previous state). This is what makes the Ready
// contract safe: the host sends a Ready's messages only after these calls
// returned.
//
// Implementations: MemoryStorage (tests and the simulator); the
// controller's WAL + snapshot file; the partition segment log.
//
// Threads: the host serializes all calls, also with those of its RaftNode.
class LogStorage {
 public:
  virtual ~LogStorage() = default;

  // The last hard state set; all zero for a new group.
  virtual HardState hard_state() const = 0;
  // The newest snapshot's position and membership; index 0 (and an empty
  // membership) when there is none.
  virtual SnapshotMeta snapshot_meta() const = 0;
  // The newest snapshot with its data, for InstallSnapshot.
  // Errors: Code::not_found when there is none; Code::io_error.
  virtual Result<Snapshot> snapshot() const = 0;

  // The first entry still stored (1 for a log never compacted).
  virtual LogIndex first_index() const = 0;
  // The last entry's index; first_index() - 1 when the log is empty.
  virtual LogIndex last_index() const = 0;
  // The term of entry `i`, for first_index() - 1 <= i <= last_index().
  // Errors: Code::not_found when i is compacted or beyond last_index();
  // Code::io_error.
  virtual Result<Term> term(LogIndex i) const = 0;
  // Entries [lo, hi), stopping once their entry_size() sum exceeds
  // max_bytes, but always at least one.
  // REQUIRES: first_index() <= lo < hi <= last_index() + 1.
  // Errors: Code::not_found when lo is compacted; Code::io_error.
  virtual Result<std::vector<Entry>> entries(LogIndex lo, LogIndex hi,
                                             std::uint64_t max_bytes) const = 0;

  // Appends consecutive entries, first deleting every entry at or after
  // entries.front().index (the conflicting suffix the core replaces).
  // Durable when it returns.
  // REQUIRES: first_index() <= entries.front().index <= last_index() + 1.
  virtual Status append(const std::vector<Entry>& entries) = 0;
  // Durable when it returns.
  virtual Status set_hard_state(const HardState& hs) = 0;
  // Replaces the whole log by `snap` (InstallSnapshot from the leader):
  // afterwards first_index() == snap.meta.index + 1 == last_index() + 1.
  // Durable when it returns.
  virtual Status apply_snapshot(Snapshot snap) = 0;

  // The host took a snapshot of its state machine at `meta.index` (which it
  // has applied). Keeps the log; compact() drops the prefix afterwards.
  // Durable when it returns.
  // Errors: Code::failed_precondition when meta.index is older than the
  // current snapshot or beyond last_index().
  virtual Status create_snapshot(SnapshotMeta meta, std::string data) = 0;
  // Drops entries before `up_to` (up_to becomes first_index() - 1).
  // Errors: Code::failed_precondition when up_to is beyond the snapshot
  // (entries not covered by a snapshot must stay) or beyond last_index().
  // Compacting to or before first_index() - 1 is a no-op.
  virtual Status compact(LogIndex up_to) = 0;
};

}  // namespace nw::raft
