// Log replication: appends, heartbeats, commit (snapshots: raft_snapshot.cc).
#include <algorithm>
#include <functional>
#include <vector>

#include "agent/raft/raft_node.h"

namespace nw::raft {

void RaftNode::append_local(std::vector<Entry> ents) {
  LogIndex next = log_.last_index() + 1;
  for (Entry& e : ents) {
    e.term = term_;
    e.index = next;
    next = next + 1;
  }
  const std::vector<Entry> copy = ents;
  log_.append(std::move(ents));
  track_conf_entries(copy);
  // Our own entries count toward commit only once durable (advance()).
}

bool RaftNode::send_append(NodeId to, bool send_if_empty) {
  auto it = progress_.find(to);
  if (it == progress_.end()) return false;
  Progress& pr = it->second;
  if (pr.is_paused(config_.max_inflight_msgs)) return false;

  const LogIndex prev = pr.next - 1;
  const auto prev_term = log_.term(prev);
  if (!prev_term.has_value() || pr.next < log_.first_index()) {
    send_snapshot(to, pr);
    return false;
  }
  std::vector<Entry> ents;
  const LogIndex last = log_.last_index();
  if (pr.next <= last) {
    const LogIndex hi =
        std::min(last + 1, pr.next + config_.max_entries_per_msg);
    auto got = log_.entries(pr.next, hi, config_.max_bytes_per_msg);
    if (!got.ok()) return false;  // storage trouble: retry on a later call
    ents = std::move(got).value();
  }
  if (ents.empty() && !send_if_empty) return false;

  Message m;
  m.type = MessageType::append;
  m.to = to;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  if (!ents.empty()) {
    const LogIndex last_sent = ents.back().index;
    if (pr.state == ProgressState::replicate) {
      pr.next = last_sent + 1;
      pr.inflight.push_back(last_sent);
    }
  }
  if (pr.state == ProgressState::probe) pr.probe_sent = true;
  m.entries = std::move(ents);
  send(std::move(m));
  return true;
}

void RaftNode::broadcast_append() {
  for (const auto& [id, pr] : progress_) {
    if (id != id_) send_append(id, true);
  }
}

void RaftNode::broadcast_heartbeat(std::uint64_t round) {
  for (const auto& [id, pr] : progress_) {
    if (id == id_) continue;
    Message m;
    m.type = MessageType::heartbeat;
    m.to = id;
    // Never tell a follower to commit beyond what it is known to hold.
    m.commit = std::min(pr.match, log_.committed());
    m.context = round;
    send(std::move(m));
  }
}

void RaftNode::handle_append(const Message& m) {
  Message resp;
  resp.type = MessageType::append_resp;
  resp.to = m.from;
  if (m.index < log_.committed()) {
    resp.index = log_.committed();
    send(std::move(resp));
    return;
  }
  if (log_.match_term(m.index, m.log_term)) {
    const LogIndex last_new = m.index + m.entries.size();
    const LogIndex conflict = log_.find_conflict(m.entries);
    if (conflict != LogIndex(0)) {
      // Only from the first entry we do not have: a stale or duplicated
      // append must never cut off entries that already follow it.
      NW_ASSERT(conflict > log_.committed(),
                "append conflicts with a committed entry");
      const auto skip =
          static_cast<std::ptrdiff_t>(conflict.value() - m.index.value() - 1);
      std::vector<Entry> ents(m.entries.begin() + skip, m.entries.end());
      truncate_conf_history(conflict);
      const std::vector<Entry> copy = ents;
      log_.append(std::move(ents));
      track_conf_entries(copy);
    }
    log_.commit_to(std::min(m.commit, last_new));
    resp.index = last_new;
  } else {
    // Fast backtracking: the largest index at or before the probe whose
    // term is not newer than the leader's term there.
    const LogIndex hint = log_.find_conflict_by_term(
        std::min(m.index, log_.last_index()), m.log_term);
    resp.reject = true;
    resp.index = m.index;
    resp.reject_hint = hint;
    resp.log_term = log_.term(hint).value_or(Term(0));
  }
  send(std::move(resp));
}

void RaftNode::handle_heartbeat(const Message& m) {
  log_.commit_to(std::min(m.commit, log_.last_index()));
  Message resp;
  resp.type = MessageType::heartbeat_resp;
  resp.to = m.from;
  resp.context = m.context;
  send(std::move(resp));
}

void RaftNode::step_append_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;

  if (m.reject) {
    LogIndex next_probe = m.reject_hint;
    if (m.log_term > Term(0)) {
      next_probe = log_.find_conflict_by_term(m.reject_hint, m.log_term);
    }
    if (pr.maybe_decrease_to(m.index, next_probe)) {
      if (pr.state == ProgressState::replicate) pr.become_probe();
      send_append(m.from, true);
    }
    return;
  }

  if (pr.maybe_update(m.index)) {
    switch (pr.state) {
      case ProgressState::probe:
        pr.become_replicate();
        break;
      case ProgressState::snapshot:
        if (pr.match >= pr.pending_snapshot) {
          pr.become_probe();
          pr.become_replicate();
          outgoing_snapshots_.erase(m.from);
        }
        break;
      case ProgressState::replicate:
        pr.free_up_to(m.index);
        break;
    }
    if (maybe_commit()) {
      on_committed();
      if (role_ != Role::leader) return;
    }
    while (send_append(m.from, false)) {
    }
    if (m.from == transferee_ && pr.match == log_.last_index()) {
      Message tn;
      tn.type = MessageType::timeout_now;
      tn.to = m.from;
      send(std::move(tn));
    }
  }
}

void RaftNode::step_heartbeat_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.probe_sent = false;
  // An append may have been lost: free a slot so replication resumes.
  if (pr.state == ProgressState::replicate &&
      pr.inflight.size() >= config_.max_inflight_msgs) {
    pr.inflight.pop_front();
  }
  if (pr.match < log_.last_index()) send_append(m.from, true);

  if (m.context == 0 || !membership_.is_voter(m.from)) return;
  for (PendingRead& r : reads_) {
    if (r.round <= m.context) r.acks.insert(m.from);
  }
  release_reads();
}

bool RaftNode::maybe_commit() {
  std::vector<LogIndex> matches;
  for (NodeId v : membership_.voters) {
    if (v == id_) {
      matches.push_back(self_match_);
      continue;
    }
    auto it = progress_.find(v);
    matches.push_back(it == progress_.end() ? LogIndex(0) : it->second.match);
  }
  if (matches.empty()) return false;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const LogIndex candidate = matches[quorum() - 1];
  if (candidate <= log_.committed()) return false;
  // Figure 8: only an entry of our own term is committed by counting;
  // older ones are committed with it.
  if (log_.term(candidate) != term_ && !config_.testing_break_commit_rule) {
    return false;
  }
  log_.commit_to(candidate);
  return true;
}

void RaftNode::on_committed() {
  if (committed_in_term() && !reads_before_commit_.empty()) {
    auto waiting = std::move(reads_before_commit_);
    reads_before_commit_.clear();
    for (const auto& [ctx, from] : waiting) handle_read(ctx, from);
  }
  broadcast_append();
  // A leader that removed itself leads until the removal commits.
  if (!membership_.is_voter(id_) &&
      (conf_history_.empty() ||
       conf_history_.back().first <= log_.committed())) {
    become_follower(term_, kNoNode);
  }
}

void RaftNode::update_self_match() {
  self_match_ = std::max(self_match_, log_.stable_last());
  if (maybe_commit()) on_committed();
}

}  // namespace nw::raft
