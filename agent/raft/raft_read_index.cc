// ReadIndex: linearizable reads confirmed by a heartbeat round.
#include "agent/raft/raft_node.h"

namespace nw::raft {

Status RaftNode::read_index(std::uint64_t ctx) {
  NW_ASSERT(!ready_out_, "read_index: a Ready is outstanding");
  if (role_ == Role::leader) {
    handle_read(ctx, id_);
    return ok_status();
  }
  if (lead_ == kNoNode) {
    return Error(Code::unavailable, "read index: no leader known",
                 "retry after an election", "raft");
  }
  Message m;
  m.type = MessageType::read_index;
  m.to = lead_;
  m.context = ctx;
  send(std::move(m));
  return ok_status();
}

bool RaftNode::committed_in_term() const {
  return log_.term(log_.committed()) == term_;
}

void RaftNode::handle_read(std::uint64_t ctx, NodeId from) {
  // Until it commits an entry of its term, a new leader does not know the
  // commit index of the group.
  if (!committed_in_term()) {
    reads_before_commit_.emplace_back(ctx, from);
    return;
  }
  PendingRead r;
  r.ctx = ctx;
  r.from = from;
  r.index = log_.committed();
  if (membership_.is_voter(id_)) r.acks.insert(id_);
  if (r.acks.size() >= quorum()) {
    answer_read(r);
    return;
  }
  r.round = ++read_round_;
  reads_.push_back(std::move(r));
  broadcast_heartbeat(read_round_);
}

void RaftNode::release_reads() {
  // A quorum for a read confirms every older one too (their acks are a
  // superset), so release in order up to the newest confirmed.
  std::size_t confirmed = 0;
  for (std::size_t i = 0; i < reads_.size(); ++i) {
    if (reads_[i].acks.size() >= quorum()) confirmed = i + 1;
  }
  for (std::size_t i = 0; i < confirmed; ++i) {
    answer_read(reads_.front());
    reads_.pop_front();
  }
}

void RaftNode::answer_read(const PendingRead& r) {
  if (r.from == id_) {
    read_states_.push_back(ReadState{r.ctx, r.index});
    return;
  }
  Message m;
  m.type = MessageType::read_index_resp;
  m.to = r.from;
  m.index = r.index;
  m.context = r.ctx;
  send(std::move(m));
}

}  // namespace nw::raft
