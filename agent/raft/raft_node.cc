#include "agent/raft/raft_node.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

namespace nw::raft {
namespace {

Error config_error(std::string msg) {
  return Error(Code::invalid_argument, "raft config: " + std::move(msg), {},
               "raft");
}

const Config& checked(const Config& config) {
  NW_ASSERT(validate(config).ok(), "RaftNode: invalid Config");
  return config;
}

}  // namespace

Status validate(const Config& config) {
  if (config.id == kNoNode) return config_error("id must not be 0");
  if (config.storage == nullptr) return config_error("storage is null");
  if (config.heartbeat_tick <= 0) {
    return config_error("heartbeat_tick must be positive");
  }
  if (config.election_tick <= config.heartbeat_tick) {
    return config_error("election_tick must be larger than heartbeat_tick");
  }
  if (config.max_inflight_msgs == 0) {
    return config_error("max_inflight_msgs must be positive");
  }
  if (config.max_entries_per_msg == 0) {
    return config_error("max_entries_per_msg must be positive");
  }
  if (config.max_snapshot_chunk_bytes == 0) {
    return config_error("max_snapshot_chunk_bytes must be positive");
  }
  return ok_status();
}

RaftNode::RaftNode(Config config)
    : id_(checked(config).id),
      config_(std::move(config)),
      rng_(config_.seed),
      log_(config_.storage) {
  LogStorage& storage = *config_.storage;
  const HardState hs = storage.hard_state();
  term_ = hs.term;
  vote_ = hs.vote;
  log_.commit_to(hs.commit);
  prev_hard_state_ = hs;

  // Membership: the snapshot's (or the bootstrap one), then every conf
  // change after it in the log.
  const SnapshotMeta snap = storage.snapshot_meta();
  base_membership_ =
      snap.index > LogIndex(0) ? snap.membership : config_.initial_membership;
  membership_ = base_membership_;
  const LogIndex from = std::max(storage.first_index(), snap.index + 1);
  if (from <= storage.last_index()) {
    auto ents = storage.entries(from, storage.last_index() + 1,
                                std::numeric_limits<std::uint64_t>::max());
    NW_ASSERT(ents.ok(), "RaftNode: log unreadable at start");
    track_conf_entries(*ents);
  }
  become_follower(term_, kNoNode);
}

void RaftNode::reset(Term term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
    incoming_snapshot_.reset();  // a new leader starts its own transfer
  }
  lead_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_election_timeout();
  votes_.clear();
  progress_.clear();
  transferee_ = kNoNode;
  reads_.clear();
  reads_before_commit_.clear();
  latest_snapshot_.reset();
  outgoing_snapshots_.clear();
}

void RaftNode::reset_election_timeout() {
  const auto et = static_cast<std::uint64_t>(config_.election_tick);
  randomized_election_timeout_ = static_cast<int>(et + rng_.uniform(et));
}

void RaftNode::become_follower(Term term, NodeId lead) {
  reset(term);
  lead_ = lead;
  role_ = Role::follower;
}

void RaftNode::become_pre_candidate() {
  NW_ASSERT(role_ != Role::leader, "leader cannot become pre-candidate");
  votes_.clear();
  lead_ = kNoNode;
  role_ = Role::pre_candidate;
}

void RaftNode::become_candidate() {
  NW_ASSERT(role_ != Role::leader, "leader cannot become candidate");
  reset(term_ + 1);
  vote_ = id_;
  role_ = Role::candidate;
}

void RaftNode::become_leader() {
  NW_ASSERT(role_ == Role::candidate, "only a candidate becomes leader");
  reset(term_);
  lead_ = id_;
  role_ = Role::leader;
  self_match_ = log_.stable_last();
  sync_progress();
  // An empty entry of the new term lets the leader commit (and so serve
  // ReadIndex) without waiting for a client proposal.
  append_local({Entry{term_, log_.last_index() + 1, EntryType::normal, {}}});
  broadcast_append();
}

void RaftNode::send(Message m) {
  m.from = id_;
  switch (m.type) {
    case MessageType::pre_vote:
    case MessageType::pre_vote_resp:
    case MessageType::vote:
    case MessageType::vote_resp:
      break;  // set by the caller
    default:
      m.term = term_;
  }
  msgs_.push_back(std::move(m));
}

HardState RaftNode::hard_state() const {
  return HardState{term_, vote_, log_.committed()};
}

std::string RaftNode::leader_hint() const {
  if (lead_ == kNoNode) return "no leader known";
  return "leader is node " + std::to_string(lead_.value());
}

namespace {

// What every correct sender guarantees about a message's entries: an append
// carries consecutive entries right after `index`, with terms that never
// go down and are not newer than the sender's term; a snapshot chunk lies
// within its snapshot and is marked done exactly when it is the last.
Status check_message_shape(const Message& m) {
  auto bad = [&](const std::string& why) {
    return Error(Code::invalid_argument,
                 "step: malformed " + std::string(to_string(m.type)) +
                     " from node " + std::to_string(m.from.value()) + ": " +
                     why,
                 {}, "raft");
  };
  if (m.type == MessageType::snapshot) {
    if (!m.snapshot.has_value()) return bad("no snapshot chunk");
    const std::uint64_t len = m.snapshot->data.size();
    if (len > m.snapshot_size || m.snapshot_offset > m.snapshot_size - len) {
      return bad("chunk [" + std::to_string(m.snapshot_offset) + ", +" +
                 std::to_string(len) + ") runs past the snapshot size " +
                 std::to_string(m.snapshot_size));
    }
    if (m.snapshot_done != (m.snapshot_offset + len == m.snapshot_size)) {
      return bad("the done flag must be set exactly on the last chunk");
    }
  }
  if (m.entries.empty()) return ok_status();
  if (m.type != MessageType::append) {
    return bad("only append messages carry entries");
  }
  Term prev = m.log_term;
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    if (e.index != m.index + (i + 1)) {
      return bad("entry " + std::to_string(i) + " has index " +
                 std::to_string(e.index.value()) + ", expected " +
                 std::to_string((m.index + (i + 1)).value()));
    }
    if (e.term < prev || e.term > m.term) {
      return bad("entry " + std::to_string(e.index.value()) + " has term " +
                 std::to_string(e.term.value()) +
                 " outside the append's terms");
    }
    prev = e.term;
  }
  return ok_status();
}

}  // namespace

Status RaftNode::step(const Message& m) {
  NW_ASSERT(!ready_out_, "step: a Ready is outstanding");
  if (m.to != id_) {
    return Error(Code::invalid_argument,
                 "step: message for node " + std::to_string(m.to.value()) +
                     " delivered to node " + std::to_string(id_.value()),
                 {}, "raft");
  }
  // Messages come from other processes: refuse a structurally impossible
  // one here rather than trip an invariant check deeper in the core.
  NW_RETURN_IF_ERROR(check_message_shape(m));
  const bool vote_request =
      m.type == MessageType::vote || m.type == MessageType::pre_vote;
  if (m.term > term_) {
    if (vote_request) {
      // Check-quorum lease: while we hear from a leader, ignore candidates
      // (unless the leader itself asked for the election).
      const bool in_lease = config_.check_quorum && lead_ != kNoNode &&
                            election_elapsed_ < config_.election_tick;
      if (in_lease && !m.transfer) return ok_status();
    }
    if (m.type == MessageType::pre_vote) {
      // A pre-vote never changes our term.
    } else if (m.type == MessageType::pre_vote_resp && !m.reject) {
      // A granted pre-vote carries the term we would campaign at.
    } else if (m.type == MessageType::append ||
               m.type == MessageType::heartbeat ||
               m.type == MessageType::snapshot) {
      become_follower(m.term, m.from);
    } else {
      become_follower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::append || m.type == MessageType::heartbeat)) {
      // Tell a stale leader about the newer term so it steps down.
      Message resp;
      resp.type = MessageType::append_resp;
      resp.to = m.from;
      send(std::move(resp));
    } else if (m.type == MessageType::pre_vote) {
      Message resp;
      resp.type = MessageType::pre_vote_resp;
      resp.to = m.from;
      resp.term = term_;
      resp.reject = true;
      send(std::move(resp));
    }
    return ok_status();
  }

  if (vote_request) return step_vote_request(m);

  if (m.type == MessageType::read_index_resp) {
    read_states_.push_back(ReadState{m.context, m.index});
    return ok_status();
  }

  switch (role_) {
    case Role::leader:
      switch (m.type) {
        case MessageType::append_resp:
          step_append_response(m);
          break;
        case MessageType::heartbeat_resp:
          step_heartbeat_response(m);
          break;
        case MessageType::snapshot_resp:
          step_snapshot_response(m);
          break;
        case MessageType::read_index:
          handle_read(m.context, m.from);
          break;
        default:
          break;
      }
      break;
    case Role::pre_candidate:
    case Role::candidate:
      switch (m.type) {
        case MessageType::append:
        case MessageType::heartbeat:
        case MessageType::snapshot:
          become_follower(term_, m.from);
          return step(m);
        case MessageType::pre_vote_resp:
        case MessageType::vote_resp:
          step_vote_response(m);
          break;
        default:
          break;
      }
      break;
    case Role::follower:
      switch (m.type) {
        case MessageType::append:
          election_elapsed_ = 0;
          lead_ = m.from;
          handle_append(m);
          break;
        case MessageType::heartbeat:
          election_elapsed_ = 0;
          lead_ = m.from;
          handle_heartbeat(m);
          break;
        case MessageType::snapshot:
          election_elapsed_ = 0;
          lead_ = m.from;
          handle_snapshot(m);
          break;
        case MessageType::timeout_now:
          step_timeout_now(m);
          break;
        default:
          break;
      }
      break;
  }
  return ok_status();
}

Status RaftNode::propose(std::string data) {
  NW_ASSERT(!ready_out_, "propose: a Ready is outstanding");
  if (role_ != Role::leader) {
    return Error(Code::unavailable, "propose: not the leader; " + leader_hint(),
                 "send the proposal to the leader", "raft");
  }
  if (transferee_ != kNoNode) {
    return Error(Code::unavailable,
                 "propose: leadership is being transferred to node " +
                     std::to_string(transferee_.value()),
                 "retry on the new leader", "raft");
  }
  append_local({Entry{term_, log_.last_index() + 1, EntryType::normal,
                      std::move(data)}});
  broadcast_append();
  return ok_status();
}

bool RaftNode::has_ready() const {
  return !msgs_.empty() || !log_.unstable_entries().empty() ||
         log_.unstable_snapshot().has_value() ||
         hard_state() != prev_hard_state_ || log_.has_next_committed() ||
         !read_states_.empty();
}

Ready RaftNode::ready() {
  NW_ASSERT(!ready_out_, "ready: the previous Ready was not advanced");
  Ready rd;
  rd.snapshot = log_.unstable_snapshot();
  rd.entries = log_.unstable_entries();
  if (hard_state() != prev_hard_state_) rd.hard_state = hard_state();
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.committed_entries = log_.next_committed();
  rd.read_states = std::move(read_states_);
  read_states_.clear();

  ready_out_ = true;
  ready_snapshot_ = rd.snapshot.has_value();
  ready_stable_.reset();
  if (!rd.entries.empty()) {
    ready_stable_.emplace(rd.entries.back().index, rd.entries.back().term);
  }
  ready_applied_ = rd.committed_entries.empty()
                       ? LogIndex(0)
                       : rd.committed_entries.back().index;
  if (rd.hard_state) prev_hard_state_ = *rd.hard_state;
  return rd;
}

void RaftNode::advance() {
  NW_ASSERT(ready_out_, "advance: no Ready outstanding");
  ready_out_ = false;
  if (ready_snapshot_) {
    const LogIndex snap = log_.unstable_snapshot()->meta.index;
    log_.stable_snapshot();
    log_.applied_to(snap);
  }
  if (ready_stable_)
    log_.stable_to(ready_stable_->first, ready_stable_->second);
  log_.applied_to(ready_applied_);
  if (role_ == Role::leader) update_self_match();
  prune_conf_history();
}

NodeStatus RaftNode::status() const {
  NodeStatus s;
  s.id = id_;
  s.role = role_;
  s.term = term_;
  s.vote = vote_;
  s.leader = lead_;
  s.commit = log_.committed();
  s.applied = log_.applied();
  s.last_index = log_.last_index();
  s.membership = membership_;
  s.transferee = transferee_;
  if (role_ == Role::leader) s.progress = progress_;
  return s;
}

}  // namespace nw::raft
