#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "agent/raft/log_storage.h"
#include "agent/raft/types.h"

namespace nw::raft {

// A node's view of its log: what LogStorage holds durably, overlaid by the
// "unstable" tail (entries and possibly a snapshot) that the core has
// accepted but the host has not yet persisted (etcd's raftLog + unstable).
//
// Lifecycle: owned by a RaftNode, built on its LogStorage.
// Threads: none; the RaftNode's host serializes calls.
// Invariants: applied <= committed <= last_index(); unstable_[k].index ==
// unstable_offset_ + k; storage entries at or after unstable_offset_ are
// stale (about to be replaced) and never read; with an unstable snapshot,
// no storage entry is read at all.
class RaftLog {
 public:
  explicit RaftLog(LogStorage* storage);

  LogIndex first_index() const;
  LogIndex last_index() const;
  Term last_term() const;
  // The term of entry i; nullopt when compacted or beyond the end.
  std::optional<Term> term(LogIndex i) const;
  bool match_term(LogIndex i, Term t) const;
  // Raft's up-to-date check: last term first, then last index.
  bool is_up_to_date(LogIndex last, Term t) const;

  // The first entry of `ents` whose index is beyond the log or whose term
  // differs from ours; 0 when every entry matches.
  LogIndex find_conflict(const std::vector<Entry>& ents) const;
  // The largest index <= i whose term is <= t (fast backtracking: entries
  // after it cannot match a log whose entry at i has term t).
  LogIndex find_conflict_by_term(LogIndex i, Term t) const;

  // Appends, replacing everything from ents.front().index on.
  // REQUIRES (NW_ASSERT): ents.front().index > committed() and no gap.
  void append(std::vector<Entry> ents);

  // Entries [lo, hi) up to max_bytes (at least one).
  // Errors: Code::not_found when lo is compacted; storage errors.
  Result<std::vector<Entry>> entries(LogIndex lo, LogIndex hi,
                                     std::uint64_t max_bytes) const;

  LogIndex committed() const { return committed_; }
  LogIndex applied() const { return applied_; }
  // REQUIRES (NW_ASSERT): i <= last_index(). Never moves backward.
  void commit_to(LogIndex i);
  // REQUIRES (NW_ASSERT): i <= committed().
  void applied_to(LogIndex i);

  // Committed entries not yet handed to the host (none while an unstable
  // snapshot waits to be installed).
  bool has_next_committed() const;
  std::vector<Entry> next_committed() const;

  const std::vector<Entry>& unstable_entries() const { return unstable_; }
  const std::optional<Snapshot>& unstable_snapshot() const {
    return unstable_snapshot_;
  }
  // The highest index that is durable and still part of this log.
  LogIndex stable_last() const;
  // The host persisted the unstable entries up to (i, t); ignored when the
  // tail has changed since (the entry at i is no longer of term t).
  void stable_to(LogIndex i, Term t);
  // The host installed the unstable snapshot.
  void stable_snapshot();
  // Replaces the log by a snapshot from the leader (kept unstable until the
  // host installs it). Commits up to it.
  void restore(Snapshot snap);

 private:
  LogStorage* storage_;
  std::optional<Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_;
  LogIndex unstable_offset_;
  LogIndex committed_;
  LogIndex applied_;
};

}  // namespace nw::raft
