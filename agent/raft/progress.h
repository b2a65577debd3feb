#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>

#include "agent/raft/types.h"

namespace nw::raft {

// How the leader currently replicates to one follower (etcd's Progress).
enum class ProgressState : std::uint8_t {
  probe,      // one append at a time until we find where logs match
  replicate,  // pipelined appends, at most max_inflight_msgs in flight
  snapshot,   // a snapshot is being sent, one chunk at a time; appends wait
};

// The leader's view of one member's log.
//
// Lifecycle: created when a node becomes leader or a member is added, for
// every member but the leader itself (whose match the leader tracks from
// its own durable log). Threads: none.
// Invariants: match only grows (stale responses never lower it);
// match < next.
struct Progress {
  LogIndex match;
  LogIndex next;
  ProgressState state = ProgressState::probe;
  // probe: an append is out; wait for its answer or the next heartbeat.
  bool probe_sent = false;
  // replicate: last index of each append in flight, oldest first.
  std::deque<LogIndex> inflight;
  // snapshot: the index and term of the snapshot being sent, its size, and
  // the one chunk in flight, [snapshot_offset, snapshot_next); ticks since
  // that chunk was sent.
  LogIndex pending_snapshot;
  Term pending_snapshot_term;
  std::uint64_t snapshot_size = 0;
  std::uint64_t snapshot_offset = 0;
  std::uint64_t snapshot_next = 0;
  int snapshot_ticks = 0;
  // Heard from it since the last check-quorum round.
  bool recent_active = false;

  bool is_paused(std::size_t max_inflight) const {
    switch (state) {
      case ProgressState::probe:
        return probe_sent;
      case ProgressState::replicate:
        return inflight.size() >= max_inflight;
      case ProgressState::snapshot:
        return true;
    }
    return true;
  }

  // An append up to n was acknowledged. Returns whether match grew.
  bool maybe_update(LogIndex n) {
    bool updated = false;
    if (match < n) {
      match = n;
      updated = true;
      probe_sent = false;
    }
    next = std::max(next, n + 1);
    return updated;
  }

  // The follower rejected an append whose prev index was `rejected`; `hint`
  // is where to try next. Returns false for a stale rejection.
  bool maybe_decrease_to(LogIndex rejected, LogIndex hint) {
    if (state == ProgressState::replicate) {
      if (rejected <= match) return false;
      next = match + 1;
      return true;
    }
    if (next - 1 != rejected) return false;
    next = std::max(std::min(rejected, hint + 1), match + 1);
    probe_sent = false;
    return true;
  }

  void become_probe() {
    if (state == ProgressState::snapshot) {
      next = std::max(match + 1, pending_snapshot + 1);
    } else {
      next = match + 1;
    }
    state = ProgressState::probe;
    probe_sent = false;
    inflight.clear();
    pending_snapshot = LogIndex(0);
    pending_snapshot_term = Term(0);
    snapshot_size = snapshot_offset = snapshot_next = 0;
  }

  void become_replicate() {
    state = ProgressState::replicate;
    next = match + 1;
    probe_sent = false;
    inflight.clear();
  }

  // Starts sending the snapshot (index, term) of `size` bytes from offset 0.
  void become_snapshot(LogIndex index, Term term, std::uint64_t size) {
    state = ProgressState::snapshot;
    pending_snapshot = index;
    pending_snapshot_term = term;
    snapshot_size = size;
    snapshot_offset = snapshot_next = 0;
    snapshot_ticks = 0;
    probe_sent = false;
    inflight.clear();
  }

  // Appends up to `index` are answered: they leave the window.
  void free_up_to(LogIndex index) {
    while (!inflight.empty() && inflight.front() <= index) {
      inflight.pop_front();
    }
  }
};

}  // namespace nw::raft
