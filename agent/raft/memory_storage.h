#pragma once

#include <vector>

#include "agent/raft/log_storage.h"

namespace nw::raft {

// LogStorage in memory, for tests and the simulator. "Durable" means:
// whatever a call stored survives the RaftNode that read it, so a
// simulated crash drops the RaftNode and keeps the MemoryStorage.
//
// Lifecycle: created empty (a new group); outlives every RaftNode built on
// it. Threads: none; the host serializes calls.
// Invariant: ents_ is non-empty; ents_[0] is a placeholder holding the
// index and term of the compaction point (first_index() - 1).
class MemoryStorage final : public LogStorage {
 public:
  MemoryStorage();

  HardState hard_state() const override { return hard_state_; }
  SnapshotMeta snapshot_meta() const override { return snapshot_.meta; }
  Result<Snapshot> snapshot() const override;
  LogIndex first_index() const override { return ents_[0].index + 1; }
  LogIndex last_index() const override { return ents_.back().index; }
  Result<Term> term(LogIndex i) const override;
  Result<std::vector<Entry>> entries(LogIndex lo, LogIndex hi,
                                     std::uint64_t max_bytes) const override;

  Status append(const std::vector<Entry>& entries) override;
  Status set_hard_state(const HardState& hs) override;
  Status apply_snapshot(Snapshot snap) override;
  Status create_snapshot(SnapshotMeta meta, std::string data) override;
  Status compact(LogIndex up_to) override;

 private:
  HardState hard_state_;
  Snapshot snapshot_;
  std::vector<Entry> ents_;
};

}  // namespace nw::raft
