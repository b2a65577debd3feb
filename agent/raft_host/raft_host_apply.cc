// The state machine side of RaftHost: restore, apply, membership as of the
// applied index, and the snapshot policy.
#include <algorithm>
#include <string>
#include <utility>

#include "agent/raft_host/host_internal.h"
#include "agent/raft_host/raft_host.h"

namespace nw::raft_host {

using internal::logger;
using internal::unavailable;

namespace {

Error no_restore_hook(raft::LogIndex index) {
  return Error(Code::failed_precondition,
               "raft host: a snapshot at index " +
                   std::to_string(index.value()) +
                   " must be restored but the state machine has no restore "
                   "hook",
               "give StateMachine a restore function", "raft_host");
}

}  // namespace

Status RaftHost::restore_at_start() {
  raft::LogStorage& storage = *options_.raft.storage;
  const raft::SnapshotMeta meta = storage.snapshot_meta();
  applied_ = meta.index;
  applied_term_ = meta.term;
  snapshot_base_ = meta.index;
  if (meta.index == raft::LogIndex(0)) {
    applied_membership_ = options_.raft.initial_membership;
    return ok_status();
  }
  applied_membership_ = meta.membership;
  if (!sm_.restore) return no_restore_hook(meta.index);
  Result<raft::Snapshot> snap = storage.snapshot();
  if (!snap.ok()) {
    return snap.error().wrap("raft host: read the storage's snapshot");
  }
  Status s = sm_.restore(*snap);
  if (!s.ok()) {
    return s.error().wrap(
        "raft host: restore the state machine from the "
        "snapshot at index " +
        std::to_string(meta.index.value()));
  }
  logger().info("state machine restored from the storage's snapshot",
                {{"group", options_.group},
                 {"node", options_.raft.id.value()},
                 {"index", meta.index.value()}});
  return ok_status();
}

Status RaftHost::install_snapshot(raft::Snapshot snap) {
  const raft::SnapshotMeta meta = snap.meta;
  // Refuse before touching the storage: the log stays as it was.
  if (!sm_.restore) return no_restore_hook(meta.index);
  // The storage takes its own copy; the state machine reads ours.
  NW_RETURN_IF_ERROR(options_.raft.storage->apply_snapshot(snap));
  Status s = sm_.restore(snap);
  if (!s.ok()) {
    return s.error().wrap(
        "raft host: restore the state machine from an "
        "installed snapshot at index " +
        std::to_string(meta.index.value()));
  }
  applied_ = meta.index;
  applied_term_ = meta.term;
  applied_membership_ = meta.membership;
  snapshot_base_ = std::max(snapshot_base_, meta.index);
  if (metrics_.snapshots_installed != nullptr) {
    metrics_.snapshots_installed->inc();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_.snapshots_installed;
  }
  logger().info("snapshot installed from the leader",
                {{"group", options_.group},
                 {"node", options_.raft.id.value()},
                 {"index", meta.index.value()},
                 {"bytes", snap.data.size()}});
  return ok_status();
}

void RaftHost::apply_committed(const std::vector<raft::Entry>& entries) {
  for (const raft::Entry& e : entries) {
    applied_ = e.index;
    applied_term_ = e.term;
    if (e.type == raft::EntryType::conf_change) {
      apply_conf_entry(e);
    } else if (!e.data.empty() && sm_.apply) {
      sm_.apply(e);
    }
    resolve_proposal(e);
  }
  // A proposal below the applied index that we never saw applied (a
  // snapshot jumped over it) cannot be confirmed either way.
  std::uint64_t unknown = 0;
  while (!pending_proposals_.empty() &&
         pending_proposals_.begin()->first <= applied_) {
    complete(pending_proposals_.begin()->second.promise,
             unavailable("proposal outcome unknown after a snapshot, retry"));
    pending_proposals_.erase(pending_proposals_.begin());
    ++unknown;
  }
  if (unknown > 0) count_dropped(unknown);
  while (!reads_waiting_apply_.empty() &&
         reads_waiting_apply_.begin()->first <= applied_) {
    complete(reads_waiting_apply_.begin()->second, ok_status());
    reads_waiting_apply_.erase(reads_waiting_apply_.begin());
  }
}

void RaftHost::apply_conf_entry(const raft::Entry& e) {
  // The core skips a change that does not decode or fit on every node
  // alike (the leader validated it: only corruption gets here); so do we.
  Result<raft::ConfChange> cc = raft::decode_conf_change(e.data);
  if (!cc.ok()) {
    logger().warn("undecodable conf change entry skipped",
                  {{"group", options_.group},
                   {"index", e.index.value()},
                   {"error", cc.error().to_string()}});
    return;
  }
  Result<raft::Membership> next =
      raft::apply_conf_change(applied_membership_, *cc);
  if (!next.ok()) {
    logger().warn("conf change entry does not fit the membership; skipped",
                  {{"group", options_.group},
                   {"index", e.index.value()},
                   {"error", next.error().to_string()}});
    return;
  }
  applied_membership_ = std::move(next).value();
  if (sm_.on_conf_change) sm_.on_conf_change(*cc, applied_membership_);
}

void RaftHost::resolve_proposal(const raft::Entry& e) {
  auto it = pending_proposals_.find(e.index);
  if (it == pending_proposals_.end()) return;
  if (it->second.term == e.term) {
    if (metrics_.commit_latency != nullptr && it->second.queued) {
      metrics_.commit_latency->observe(
          std::chrono::duration<double>(Clock::now() - *it->second.queued)
              .count());
    }
    complete(it->second.promise, e.index);
  } else {
    count_dropped(1);
    complete(it->second.promise,
             unavailable("proposal lost in a leader change, retry"));
  }
  pending_proposals_.erase(it);
}

void RaftHost::maybe_snapshot() {
  if (options_.snapshot_threshold == 0 || !sm_.snapshot) return;
  raft::LogStorage& storage = *options_.raft.storage;
  const raft::LogIndex base =
      std::max(snapshot_base_, storage.snapshot_meta().index);
  if (applied_ <= base ||
      applied_.value() - base.value() < options_.snapshot_threshold) {
    return;
  }
  // Whatever happens, the next attempt waits for the next crossing.
  snapshot_base_ = applied_;
  auto failed = [&](const char* what, const Error& e) {
    logger().warn(what, {{"group", options_.group},
                         {"index", applied_.value()},
                         {"error", e.to_string()}});
    if (metrics_.snapshot_failures != nullptr)
      metrics_.snapshot_failures->inc();
    std::lock_guard<std::mutex> lock(mu_);
    ++status_.snapshot_failures;
  };
  raft::SnapshotMeta meta{applied_, applied_term_, applied_membership_};
  Status s = storage.create_snapshot(std::move(meta), sm_.snapshot());
  if (!s.ok()) {
    failed("snapshot failed; retried at the next threshold", s.error());
    return;
  }
  if (metrics_.snapshots_created != nullptr) metrics_.snapshots_created->inc();
  logger().debug("snapshot taken",
                 {{"group", options_.group}, {"index", applied_.value()}});
  if (options_.compact_on_snapshot &&
      applied_.value() > options_.snapshot_keep_entries) {
    const raft::LogIndex up_to(applied_.value() -
                               options_.snapshot_keep_entries);
    if (up_to > storage.first_index() - 1) {
      s = storage.compact(up_to);
      if (!s.ok())
        failed("log compaction failed; retried at the next snapshot",
               s.error());
    }
  }
  // The count moves together with the snapshot, first index and applied
  // position it describes: a reader that sees the count sees them too.
  std::lock_guard<std::mutex> lock(mu_);
  ++status_.snapshots_created;
  status_.applied = applied_;
  status_.applied_term = applied_term_;
  status_.applied_membership = applied_membership_;
  status_.snapshot = storage.snapshot_meta();
  status_.first_index = storage.first_index();
}

}  // namespace nw::raft_host
