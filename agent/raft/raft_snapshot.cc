// InstallSnapshot in chunks.
//
// Leader: a follower that needs compacted entries gets the storage's latest
// snapshot, Config::max_snapshot_chunk_bytes at a time, with exactly one
// chunk in flight (ProgressState::snapshot). The follower acknowledges each
// chunk with a snapshot_resp naming the offset it expects next, and the
// leader sends the chunk that starts there. A chunk or an answer that is
// lost is sent again after election_tick ticks without progress; a
// rejection (the follower does not hold the bytes before the chunk: it
// restarted, or dropped its partial copy) restarts from the offset the
// follower asks for. Acknowledgements that do not move past the chunk in
// flight are stale and ignored.
//
// Follower: the chunks of one snapshot (same meta, size and leader term)
// are appended to a buffer in memory, in order; a duplicate or overlapping
// chunk only adds the bytes not held yet; a gap is rejected. A chunk of
// another snapshot, or a new term, drops the partial copy. The last chunk
// installs the whole snapshot (Ready::snapshot) and is answered with an
// append_resp, as an unchunked snapshot was, so the leader's progress moves
// on to replication.
#include <algorithm>
#include <string>
#include <utility>

#include "agent/raft/raft_node.h"

namespace nw::raft {

std::shared_ptr<const Snapshot> RaftNode::latest_snapshot() {
  const SnapshotMeta meta = config_.storage->snapshot_meta();
  if (latest_snapshot_ == nullptr || latest_snapshot_->meta != meta) {
    auto snap = config_.storage->snapshot();
    if (!snap.ok()) return nullptr;
    latest_snapshot_ =
        std::make_shared<const Snapshot>(std::move(snap).value());
  }
  return latest_snapshot_;
}

void RaftNode::send_snapshot(NodeId to, Progress& pr) {
  std::shared_ptr<const Snapshot> snap = latest_snapshot();
  if (snap == nullptr) return;  // nothing to send yet; retried by heartbeats
  pr.become_snapshot(snap->meta.index, snap->meta.term, snap->data.size());
  outgoing_snapshots_[to] = std::move(snap);
  send_snapshot_chunk(to, pr, 0);
}

void RaftNode::send_snapshot_chunk(NodeId to, Progress& pr,
                                   std::uint64_t offset) {
  const Snapshot& snap = *outgoing_snapshots_.at(to);
  const std::uint64_t size = snap.data.size();
  NW_ASSERT(offset <= size, "snapshot chunk beyond the snapshot");
  const std::uint64_t len =
      std::min(config_.max_snapshot_chunk_bytes, size - offset);
  Message m;
  m.type = MessageType::snapshot;
  m.to = to;
  m.snapshot = Snapshot{snap.meta, snap.data.substr(offset, len)};
  m.snapshot_offset = offset;
  m.snapshot_size = size;
  m.snapshot_done = offset + len == size;
  pr.snapshot_offset = offset;
  pr.snapshot_next = offset + len;
  pr.snapshot_ticks = 0;
  send(std::move(m));
}

void RaftNode::resume_snapshot(NodeId to, Progress& pr, std::uint64_t offset) {
  if (outgoing_snapshots_.count(to) == 0) {
    // Nothing to resume (cannot happen while in ProgressState::snapshot):
    // find out again what the follower needs.
    pr.become_probe();
    send_append(to, true);
    return;
  }
  send_snapshot_chunk(to, pr, offset <= pr.snapshot_size ? offset : 0);
}

void RaftNode::tick_snapshots() {
  for (auto& [id, pr] : progress_) {
    if (pr.state != ProgressState::snapshot) continue;
    if (++pr.snapshot_ticks < config_.election_tick) continue;
    // The chunk in flight or its answer was lost: send it again. A follower
    // that has it answers with where it is; one that lost its partial copy
    // asks for offset 0.
    resume_snapshot(id, pr, pr.snapshot_offset);
  }
}

void RaftNode::step_snapshot_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (pr.state != ProgressState::snapshot || m.index != pr.pending_snapshot ||
      m.log_term != pr.pending_snapshot_term) {
    return;  // about a transfer that is over
  }
  const std::uint64_t next = m.context;
  if (m.reject) {
    // The follower lacks the bytes before the chunk: start where it asks,
    // unless that chunk is the one in flight already.
    if (next != pr.snapshot_offset) resume_snapshot(m.from, pr, next);
    return;
  }
  // The follower holds [0, next). Anything short of the end of the chunk
  // in flight is a stale or duplicated acknowledgement.
  if (next >= pr.snapshot_next && next < pr.snapshot_size) {
    resume_snapshot(m.from, pr, next);
  }
}

void RaftNode::handle_snapshot(const Message& m) {
  // step() checked the shape: a chunk within its snapshot.
  const Snapshot& chunk = *m.snapshot;
  const SnapshotMeta& meta = chunk.meta;
  auto reply_index = [&](LogIndex index) {
    Message resp;
    resp.type = MessageType::append_resp;
    resp.to = m.from;
    resp.index = index;
    send(std::move(resp));
  };
  if (meta.index <= log_.committed() ||
      log_.match_term(meta.index, meta.term)) {
    // Installed already (its last answer was lost), stale, or we have its
    // entries: keep the log (and the entries after it); the rest of the
    // snapshot need not travel.
    if (meta.index > log_.committed()) log_.commit_to(meta.index);
    if (incoming_snapshot_ &&
        incoming_snapshot_->meta.index <= log_.committed()) {
      incoming_snapshot_.reset();
    }
    reply_index(log_.committed());
    return;
  }

  if (incoming_snapshot_ &&
      (incoming_snapshot_->term != term_ || incoming_snapshot_->meta != meta ||
       incoming_snapshot_->size != m.snapshot_size)) {
    // A leader only moves on to newer snapshots: a chunk of an older one in
    // this term is a late duplicate.
    if (incoming_snapshot_->term == term_ &&
        meta.index < incoming_snapshot_->meta.index) {
      return;
    }
    incoming_snapshot_.reset();
  }
  if (!incoming_snapshot_) {
    if (m.snapshot_offset != 0) {
      answer_chunk(m, 0, true);
      return;
    }
    incoming_snapshot_ = IncomingSnapshot{term_, meta, m.snapshot_size, {}};
  }
  IncomingSnapshot& in = *incoming_snapshot_;
  const std::uint64_t have = in.data.size();
  if (m.snapshot_offset > have) {
    answer_chunk(m, have, true);  // a gap: an earlier chunk is missing
    return;
  }
  const std::uint64_t end = m.snapshot_offset + chunk.data.size();
  if (end > have) {
    in.data.append(chunk.data,
                   static_cast<std::size_t>(have - m.snapshot_offset));
  }
  if (in.data.size() < in.size) {
    answer_chunk(m, in.data.size(), false);
    return;
  }
  Snapshot whole{in.meta, std::move(in.data)};
  incoming_snapshot_.reset();
  install_snapshot(std::move(whole));
  reply_index(log_.last_index());
}

void RaftNode::answer_chunk(const Message& m, std::uint64_t next, bool reject) {
  Message resp;
  resp.type = MessageType::snapshot_resp;
  resp.to = m.from;
  resp.index = m.snapshot->meta.index;
  resp.log_term = m.snapshot->meta.term;
  resp.context = next;
  resp.reject = reject;
  send(std::move(resp));
}

void RaftNode::install_snapshot(Snapshot snap) {
  base_membership_ = snap.meta.membership;
  conf_history_.clear();
  membership_ = base_membership_;
  log_.restore(std::move(snap));
}

}  // namespace nw::raft
