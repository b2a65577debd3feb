#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/raft/log_storage.h"
#include "agent/raft/progress.h"
#include "agent/raft/raft_log.h"
#include "agent/raft/rand.h"
#include "agent/raft/types.h"
#include "common/base/result.h"

namespace nw::raft {

struct Config {
  NodeId id;
  // The group's membership at log index 0, used only while the storage has
  // no snapshot. It must be the same on every node that ever joins the
  // group (a joining node replays the conf changes of the log on top of
  // it), so it is the bootstrap membership, not "the members now".
  Membership initial_membership;
  // An election starts after a random [election_tick, 2*election_tick)
  // ticks without hearing from a leader.
  int election_tick = 10;
  // The leader sends heartbeats every heartbeat_tick ticks.
  int heartbeat_tick = 1;
  // Pipelining window: appends in flight per follower in replicate state.
  std::size_t max_inflight_msgs = 64;
  // Batching limits of one append message (at least one entry is sent).
  std::size_t max_entries_per_msg = 64;
  std::uint64_t max_bytes_per_msg = 1 << 20;
  // InstallSnapshot sends the snapshot data in chunks of at most this many
  // bytes, one chunk in flight per follower.
  std::uint64_t max_snapshot_chunk_bytes = 1 << 20;
  bool pre_vote = true;
  bool check_quorum = true;
  // Seeds the PRNG for election timeouts; use a different seed per node.
  std::uint64_t seed = 0;
  // Not owned; must outlive the node.
  LogStorage* storage = nullptr;
  // TEST ONLY: commits entries of older terms by counting replicas (the
  // Figure 8 bug), so the simulator can prove its checkers catch it.
  bool testing_break_commit_rule = false;
};

// Checks timings and limits. Errors: Code::invalid_argument naming the
// field.
Status validate(const Config& config);

// What the host must do next, in this order:
//   1. snapshot: install it in LogStorage (apply_snapshot) and restore the
//      state machine from its data;
//   2. entries: LogStorage::append (it replaces a conflicting suffix);
//   3. hard_state: LogStorage::set_hard_state;
//      steps 1-3 must be durable before step 4;
//   4. messages: send (any order, best effort; Raft retries);
//   5. committed_entries: apply to the state machine, in order;
//   6. read_states: serve each read once applied >= its index;
//   7. advance().
// Sending before persisting could make a node vote twice in a term or
// acknowledge entries it then loses in a crash.
struct Ready {
  std::optional<Snapshot> snapshot;
  std::vector<Entry> entries;
  std::optional<HardState> hard_state;
  std::vector<Message> messages;
  std::vector<Entry> committed_entries;
  std::vector<ReadState> read_states;
};

// A read-only picture of a node, for status pages and tests.
struct NodeStatus {
  NodeId id;
  Role role = Role::follower;
  Term term;
  NodeId vote;
  NodeId leader;
  LogIndex commit;
  LogIndex applied;
  LogIndex last_index;
  Membership membership;
  NodeId transferee;                    // leadership transfer target
  std::map<NodeId, Progress> progress;  // leader only
};

// One member of a Raft group as a pure, deterministic state machine
// (etcd's raft): the host feeds it ticks, messages and requests, and drains
// Ready batches of work. No I/O, clocks, threads or hidden randomness: the
// same Config, storage and calls give the same Readys.
//
// Lifecycle: construct from Config over a LogStorage (empty for a new
// node, or what a previous incarnation persisted); drive with tick(),
// step(), propose()...; whenever has_ready(), take ready(), carry it out
// (see Ready) and call advance() before any other call. Destroying it at
// any point (a crash) is safe: a new RaftNode over the same storage
// resumes from what was persisted.
// Threads: none of its own; the host serializes every call.
// Invariants: see README.md (election safety, log matching, commit only of
// current-term entries by counting, match indexes only grow).
class RaftNode {
 public:
  // REQUIRES (NW_ASSERT): validate(config) is OK.
  explicit RaftNode(Config config);
  RaftNode(const RaftNode&) = delete;
  RaftNode& operator=(const RaftNode&) = delete;

  // Advances logical time by one tick: elections, heartbeats,
  // check-quorum.
  void tick();

  // Handles a message from another member.
  // Errors: Code::invalid_argument when it is not addressed to this node.
  Status step(const Message& m);

  // Appends `data` to the log (leader only); it is committed when it shows
  // up in Ready::committed_entries.
  // Errors: Code::unavailable when not the leader (the message names the
  // known leader, if any) or while leadership is being transferred.
  Status propose(std::string data);

  // Proposes a single-server membership change (leader only). It takes
  // effect when appended; one at a time.
  // Errors: Code::unavailable when not the leader; Code::failed_precondition
  // while another change is uncommitted, before this leader committed an
  // entry of its term, when promoting a learner that has not caught up, or
  // when the change does not fit the membership.
  Status propose_conf_change(ConfChange cc);

  // Starts a linearizable read: a ReadState{ctx, index} appears in a later
  // Ready once this node knows `index` is at least the commit index at the
  // time of the call. On a follower the leader is asked. Reads may be
  // dropped (on leader change); the host retries after a timeout.
  // Errors: Code::unavailable when no leader is known.
  Status read_index(std::uint64_t ctx);

  // Hands leadership to `target` (leader only): catches it up, then tells
  // it to campaign at once. Proposals are refused until the transfer ends
  // (success, or an election timeout).
  // Errors: Code::unavailable when not the leader; Code::invalid_argument
  // when target is not a voter.
  Status transfer_leadership(NodeId target);

  bool has_ready() const;
  // REQUIRES (NW_ASSERT): no Ready taken and not yet advanced.
  Ready ready();
  // REQUIRES (NW_ASSERT): a Ready was taken and carried out.
  void advance();

  NodeId id() const { return id_; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return lead_; }
  LogIndex commit_index() const { return log_.committed(); }
  LogIndex last_index() const { return log_.last_index(); }
  const Membership& membership() const { return membership_; }
  NodeStatus status() const;
  // The term of entry i in this node's log (including unpersisted
  // entries); nullopt when compacted or absent. For checkers and tools.
  std::optional<Term> log_term(LogIndex i) const { return log_.term(i); }
  // Entries [lo, hi) of this node's log (including unpersisted ones).
  // Errors: Code::not_found when lo is compacted.
  Result<std::vector<Entry>> log_entries(LogIndex lo, LogIndex hi) const {
    return log_.entries(lo, hi, std::numeric_limits<std::uint64_t>::max());
  }

 private:
  struct PendingRead {
    std::uint64_t ctx = 0;
    NodeId from;  // the node whose host asked
    LogIndex index;
    std::uint64_t round = 0;  // heartbeat round that confirms it
    std::set<NodeId> acks;
  };

  // raft_node.cc: roles and bookkeeping.
  void become_follower(Term term, NodeId lead);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);
  void reset_election_timeout();
  void send(Message m);
  bool promotable() const { return membership_.is_voter(id_); }
  std::size_t quorum() const { return membership_.voters.size() / 2 + 1; }
  HardState hard_state() const;
  std::string leader_hint() const;

  // raft_election.cc
  void tick_election();
  void tick_heartbeat();
  void campaign(bool pre, bool transfer);
  Status step_vote_request(const Message& m);
  void step_vote_response(const Message& m);
  bool quorum_active();

  // A snapshot being received in chunks (follower), buffered in memory.
  struct IncomingSnapshot {
    Term term;  // the leader's term it came in
    SnapshotMeta meta;
    std::uint64_t size = 0;  // total, as the first chunk claimed
    std::string data;        // the bytes [0, data.size()) received so far
  };

  // raft_replication.cc
  void append_local(std::vector<Entry> ents);
  bool send_append(NodeId to, bool send_if_empty);
  void broadcast_append();
  void broadcast_heartbeat(std::uint64_t round);
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void step_append_response(const Message& m);
  void step_heartbeat_response(const Message& m);
  bool maybe_commit();
  void on_committed();
  void update_self_match();

  // raft_snapshot.cc: chunked InstallSnapshot.
  void send_snapshot(NodeId to, Progress& pr);
  void send_snapshot_chunk(NodeId to, Progress& pr, std::uint64_t offset);
  void resume_snapshot(NodeId to, Progress& pr, std::uint64_t offset);
  void tick_snapshots();
  std::shared_ptr<const Snapshot> latest_snapshot();
  void handle_snapshot(const Message& m);
  void answer_chunk(const Message& m, std::uint64_t next, bool reject);
  void install_snapshot(Snapshot snap);
  void step_snapshot_response(const Message& m);

  // raft_membership.cc: membership follows the log; transfer.
  void track_conf_entries(const std::vector<Entry>& ents);
  void truncate_conf_history(LogIndex from);
  void sync_progress();
  void prune_conf_history();
  void step_timeout_now(const Message& m);
  void abort_transfer();

  // raft_read_index.cc
  void handle_read(std::uint64_t ctx, NodeId from);
  void release_reads();
  void answer_read(const PendingRead& r);
  bool committed_in_term() const;

  const NodeId id_;
  const Config config_;
  Rng rng_;
  RaftLog log_;

  // Persistent (HardState) and volatile Raft state.
  Term term_;
  NodeId vote_;
  NodeId lead_;
  Role role_ = Role::follower;

  // Membership: base_membership_ at the snapshot, then one entry per
  // conf-change entry still in the log (so a truncation can undo it).
  Membership base_membership_;
  std::vector<std::pair<LogIndex, Membership>> conf_history_;
  Membership membership_;  // the latest: effective when appended

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;

  // Candidate state.
  std::map<NodeId, bool> votes_;

  // Leader state.
  std::map<NodeId, Progress> progress_;
  LogIndex self_match_;  // our own durable last index, for commit
  NodeId transferee_;
  int transfer_elapsed_ = 0;
  std::deque<PendingRead> reads_;  // waiting for a round
  std::vector<std::pair<std::uint64_t, NodeId>> reads_before_commit_;
  std::uint64_t read_round_ = 0;
  // The storage's snapshot as last read (shared by the transfers that
  // start from it), and the snapshot each follower in ProgressState::
  // snapshot is being sent (it stays the same for the whole transfer even
  // if the host takes a newer one meanwhile).
  std::shared_ptr<const Snapshot> latest_snapshot_;
  std::map<NodeId, std::shared_ptr<const Snapshot>> outgoing_snapshots_;

  // Follower state: the partial snapshot being received (dropped on a new
  // term, a chunk of another snapshot, or a restart).
  std::optional<IncomingSnapshot> incoming_snapshot_;

  // Output for the next Ready.
  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;
  HardState prev_hard_state_;

  // What the outstanding Ready handed out (between ready() and advance()).
  bool ready_out_ = false;
  std::optional<std::pair<LogIndex, Term>> ready_stable_;
  bool ready_snapshot_ = false;
  LogIndex ready_applied_;
};

}  // namespace nw::raft
