// Elections: timeouts, pre-vote, votes, check-quorum.
#include "agent/raft/raft_node.h"

namespace nw::raft {

void RaftNode::tick() {
  NW_ASSERT(!ready_out_, "tick: a Ready is outstanding");
  if (role_ == Role::leader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void RaftNode::tick_election() {
  ++election_elapsed_;
  if (promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    campaign(config_.pre_vote, false);
  }
}

void RaftNode::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    if (config_.check_quorum && !quorum_active()) {
      become_follower(term_, kNoNode);
      return;
    }
    // A transfer that has not finished within an election timeout failed.
    if (transferee_ != kNoNode) abort_transfer();
  }
  tick_snapshots();
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat(reads_.empty() ? 0 : read_round_);
  }
}

bool RaftNode::quorum_active() {
  std::size_t active = 0;
  for (NodeId v : membership_.voters) {
    if (v == id_) {
      ++active;
      continue;
    }
    auto it = progress_.find(v);
    if (it != progress_.end() && it->second.recent_active) ++active;
  }
  for (auto& [id, pr] : progress_) pr.recent_active = false;
  return active >= quorum();
}

void RaftNode::campaign(bool pre, bool transfer) {
  MessageType type;
  Term vote_term;
  if (pre) {
    become_pre_candidate();
    type = MessageType::pre_vote;
    vote_term = term_ + 1;
  } else {
    become_candidate();
    type = MessageType::vote;
    vote_term = term_;
  }
  votes_[id_] = true;
  if (quorum() == 1) {
    if (pre) {
      campaign(false, transfer);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId v : membership_.voters) {
    if (v == id_) continue;
    Message m;
    m.type = type;
    m.to = v;
    m.term = vote_term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.transfer = transfer;
    send(std::move(m));
  }
}

Status RaftNode::step_vote_request(const Message& m) {
  const bool pre = m.type == MessageType::pre_vote;
  const bool can_vote = vote_ == m.from ||
                        (vote_ == kNoNode && lead_ == kNoNode) ||
                        (pre && m.term > term_);
  Message resp;
  resp.type = pre ? MessageType::pre_vote_resp : MessageType::vote_resp;
  resp.to = m.from;
  if (can_vote && log_.is_up_to_date(m.index, m.log_term)) {
    resp.term = m.term;
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
  }
  send(std::move(resp));
  return ok_status();
}

void RaftNode::step_vote_response(const Message& m) {
  const bool mine =
      (role_ == Role::pre_candidate && m.type == MessageType::pre_vote_resp) ||
      (role_ == Role::candidate && m.type == MessageType::vote_resp);
  if (!mine || !membership_.is_voter(m.from)) return;
  votes_[m.from] = !m.reject;
  std::size_t granted = 0;
  std::size_t rejected = 0;
  for (const auto& [id, yes] : votes_) (yes ? granted : rejected) += 1;
  if (granted >= quorum()) {
    if (role_ == Role::pre_candidate) {
      campaign(false, false);
    } else {
      become_leader();
    }
  } else if (membership_.voters.size() - rejected < quorum()) {
    become_follower(term_, kNoNode);
  }
}

}  // namespace nw::raft
