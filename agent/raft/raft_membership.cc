// Membership changes (effective when appended) and leadership transfer.
#include <string>

#include "agent/raft/raft_node.h"

namespace nw::raft {

void RaftNode::track_conf_entries(const std::vector<Entry>& ents) {
  bool changed = false;
  for (const Entry& e : ents) {
    if (e.type != EntryType::conf_change) continue;
    // A change that does not decode or fit is a no-op on every node alike
    // (the leader validated it, so this is only reachable by corruption).
    auto cc = decode_conf_change(e.data);
    if (!cc.ok()) continue;
    auto next = apply_conf_change(membership_, *cc);
    if (!next.ok()) continue;
    membership_ = std::move(next).value();
    conf_history_.emplace_back(e.index, membership_);
    changed = true;
  }
  if (changed && role_ == Role::leader) sync_progress();
}

void RaftNode::truncate_conf_history(LogIndex from) {
  bool changed = false;
  while (!conf_history_.empty() && conf_history_.back().first >= from) {
    conf_history_.pop_back();
    changed = true;
  }
  if (!changed) return;
  membership_ =
      conf_history_.empty() ? base_membership_ : conf_history_.back().second;
}

void RaftNode::prune_conf_history() {
  // Committed changes can never be truncated: fold them into the base.
  std::size_t n = 0;
  while (n < conf_history_.size() &&
         conf_history_[n].first <= log_.committed()) {
    base_membership_ = conf_history_[n].second;
    ++n;
  }
  conf_history_.erase(conf_history_.begin(),
                      conf_history_.begin() + static_cast<std::ptrdiff_t>(n));
}

void RaftNode::sync_progress() {
  auto add = [&](NodeId id) {
    if (id == id_ || progress_.count(id) > 0) return;
    Progress pr;
    pr.next = log_.last_index() + 1;
    progress_.emplace(id, pr);
  };
  for (NodeId v : membership_.voters) add(v);
  for (NodeId l : membership_.learners) add(l);
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (!membership_.contains(it->first)) {
      outgoing_snapshots_.erase(it->first);
      it = progress_.erase(it);
    } else {
      ++it;
    }
  }
  if (transferee_ != kNoNode && !membership_.is_voter(transferee_)) {
    abort_transfer();
  }
}

Status RaftNode::propose_conf_change(ConfChange cc) {
  NW_ASSERT(!ready_out_, "propose_conf_change: a Ready is outstanding");
  if (role_ != Role::leader) {
    return Error(Code::unavailable,
                 "conf change: not the leader; " + leader_hint(),
                 "send the change to the leader", "raft");
  }
  if (transferee_ != kNoNode) {
    return Error(Code::unavailable,
                 "conf change: leadership is being transferred", "retry",
                 "raft");
  }
  // A new leader must commit an entry of its term before changing the
  // membership (the single-server change bug in the dissertation's errata).
  if (!committed_in_term()) {
    return Error(Code::failed_precondition,
                 "conf change: the leader has not committed in its term yet",
                 "retry shortly", "raft");
  }
  if (!conf_history_.empty() && conf_history_.back().first > log_.committed()) {
    return Error(Code::failed_precondition,
                 "conf change: another membership change is not committed "
                 "yet",
                 "retry once it is", "raft");
  }
  NW_RETURN_IF_ERROR(apply_conf_change(membership_, cc));
  if (cc.type == ConfChangeType::promote) {
    auto it = progress_.find(cc.node);
    const LogIndex match =
        it == progress_.end() ? LogIndex(0) : it->second.match;
    if (match < log_.committed()) {
      return Error(Code::failed_precondition,
                   "conf change: learner " + std::to_string(cc.node.value()) +
                       " has not caught up (match " +
                       std::to_string(match.value()) + ", commit " +
                       std::to_string(log_.committed().value()) + ")",
                   "retry once it has caught up", "raft");
    }
  }
  append_local({Entry{term_, log_.last_index() + 1, EntryType::conf_change,
                      encode_conf_change(cc)}});
  broadcast_append();
  return ok_status();
}

Status RaftNode::transfer_leadership(NodeId target) {
  NW_ASSERT(!ready_out_, "transfer_leadership: a Ready is outstanding");
  if (role_ != Role::leader) {
    return Error(Code::unavailable,
                 "transfer leadership: not the leader; " + leader_hint(),
                 "ask the leader", "raft");
  }
  if (target == id_) return ok_status();
  if (!membership_.is_voter(target)) {
    return Error(Code::invalid_argument,
                 "transfer leadership: node " + std::to_string(target.value()) +
                     " is not a voter",
                 "pick a voting member", "raft");
  }
  if (transferee_ == target) return ok_status();
  transferee_ = target;
  // The transfer gets one election timeout to finish.
  election_elapsed_ = 0;
  const Progress& pr = progress_.at(target);
  if (pr.match == log_.last_index()) {
    Message tn;
    tn.type = MessageType::timeout_now;
    tn.to = target;
    send(std::move(tn));
  } else {
    send_append(target, true);
  }
  return ok_status();
}

void RaftNode::step_timeout_now(const Message& /*m*/) {
  // The leader asked us to take over: campaign at once, skipping pre-vote;
  // voters let the transfer flag through their check-quorum lease.
  if (promotable()) campaign(false, true);
}

void RaftNode::abort_transfer() { transferee_ = kNoNode; }

}  // namespace nw::raft
