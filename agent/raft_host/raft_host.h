#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/metrics/registry.h"
#include "agent/raft/raft_node.h"
#include "agent/raft/types.h"
#include "agent/transport/transport.h"
#include "common/base/result.h"
#include "common/base/time.h"
#include "common/base/units.h"

namespace nw::raft_host {

// Raft member id -> the transport node id ("nw-1a2b3c4d") to send to.
using PeerMap = std::map<raft::NodeId, std::string>;
// Called on the host thread, in log order, for every committed normal entry
// with data (the leader's empty no-op of each term is not passed on).
using ApplyFn = std::function<void(const raft::Entry&)>;

// The replicated state machine's hooks. All are called on the host thread
// (restore also from start(), before the thread runs), never concurrently.
struct StateMachine {
  // Committed normal entries with data, in order.
  ApplyFn apply;
  // The state machine's bytes as of the last entry passed to apply (or
  // restored). Empty: this node never takes snapshots.
  std::function<std::string()> snapshot;
  // Replaces the whole state machine by snapshot data: an InstallSnapshot
  // from the leader, or the storage's snapshot at start(). An error stops
  // the group like a persist failure (start() returns it). Empty: a
  // snapshot to restore is such an error (failed_precondition).
  std::function<Status(const raft::Snapshot&)> restore;
  // After a conf_change entry is applied: its change and the membership as
  // of it. Optional. Not called for a change that does not fit (a no-op on
  // every node alike; only reachable by corruption).
  std::function<void(const raft::ConfChange&, const raft::Membership&)>
      on_conf_change;
  // Once per tick, after the round's Readys: housekeeping that must run on
  // the host thread because it writes the storage (a partition's
  // retention: create_snapshot + compact). Optional. An error it meets is
  // its own to log; it cannot stop the group.
  std::function<void()> on_tick;
};

struct HostOptions {
  // The transport frame's group id of this Raft group.
  std::uint64_t group = 0;
  // The core's configuration; raft.storage (not owned) must outlive the
  // host and is touched only by the host thread between start() and stop().
  raft::Config raft;
  // One RaftNode::tick() per interval.
  Duration tick_interval = std::chrono::milliseconds(50);
  // A read_barrier() without an answer after this many ticks fails with
  // Code::timeout (the core drops reads on leader changes).
  int read_timeout_ticks = 40;
  // Messages waiting in the inbox beyond this are dropped (Raft retries).
  std::size_t max_inbox = 16384;
  // After applying, when applied - storage.snapshot_meta().index >=
  // snapshot_threshold, take a snapshot: meta {applied, term of applied,
  // membership as of applied}, data = sm.snapshot();
  // storage.create_snapshot(meta, data); then storage.compact(applied -
  // snapshot_keep_entries) when that is above the current compaction point.
  // 0 disables. A failure is logged and counted and retried at the next
  // threshold crossing (the log is intact; the group goes on).
  std::uint64_t snapshot_threshold = 0;
  // false: snapshots only bound the replay at start and never compact the
  // log (a partition's log is its data; retention compacts it).
  bool compact_on_snapshot = true;
  // Entries kept before the snapshot so that a follower a little behind
  // gets entries rather than the whole snapshot.
  std::uint64_t snapshot_keep_entries = 500;
};

// A point-in-time copy of the host's state, for status pages and tests.
struct HostStatus {
  raft::NodeId id;
  raft::Role role = raft::Role::follower;
  raft::Term term;
  raft::NodeId leader;
  raft::LogIndex commit;
  raft::LogIndex applied;
  // The term of the entry at `applied`. A leader whose applied_term equals
  // its term has applied every entry of earlier terms.
  raft::Term applied_term;
  raft::LogIndex last_index;
  bool running = false;
  // Set when a persist failed and the group stopped itself.
  std::optional<Error> failure;
  std::uint64_t dropped_unknown_peer = 0;  // messages to an unmapped member
  std::uint64_t dropped_bad_message = 0;   // undecodable or refused by step
  std::uint64_t dropped_inbox_full = 0;
  raft::Membership membership;          // the core's latest (when appended)
  raft::Membership applied_membership;  // as of applied
  // Leader only (the core's NodeStatus.progress, as of the last tick), else
  // empty.
  std::map<raft::NodeId, raft::Progress> progress;
  // Leader only: when each follower of `progress` was last heard from,
  // sampled every tick from Progress::recent_active (which check-quorum
  // clears every election timeout); a follower first seen by this leader
  // counts as heard then. Empty on other nodes.
  std::map<raft::NodeId, MonoTime> last_heard;
  raft::SnapshotMeta snapshot;  // the storage's current snapshot meta
  raft::LogIndex first_index;   // the storage's first index
  // Times the known leader changed to a non-zero node other than the
  // previous one (the first leader seen counts).
  std::uint64_t leader_changes = 0;
  // Proposals (and conf changes) refused by the core or lost in a leader
  // change (also: outcome unknown after a snapshot).
  std::uint64_t proposals_dropped = 0;
  std::uint64_t snapshots_created = 0;
  std::uint64_t snapshots_installed = 0;
  std::uint64_t snapshot_failures = 0;  // create_snapshot/compact failed
};

// Who leads, as of the last loop iteration: the few fields of HostStatus
// that request paths ask about, without copying the maps.
struct Leadership {
  bool running = false;
  raft::Role role = raft::Role::follower;
  raft::Term term;
  raft::Term applied_term;
  raft::NodeId leader;

  bool is_leader() const { return running && role == raft::Role::leader; }
  // Leader, and has applied every entry of earlier terms.
  bool leads_current() const { return is_leader() && applied_term == term; }
};

// Runs one RaftNode on its own thread: ticks it, feeds it the messages the
// transport delivers, and carries out its Readys (agent/raft/README.md, "The
// Ready contract"): persist snapshot (and restore the state machine from
// it), entries and hard state through the LogStorage (durable when each
// call returns), then send the messages, then apply committed entries
// through the StateMachine, serve reads, advance(). A failed persist or
// restore stops the group (logged; status().failure says why): the loop
// never continues past it, since the node's state would no longer match
// the disk.
//
// The host tracks the membership as of its applied index (the core's is
// the latest, effective when appended) and, past
// HostOptions::snapshot_threshold, snapshots the state machine into the
// storage and compacts the log.
//
// Proposals, conf changes, leadership transfers and read barriers are
// queued to the host thread and answered through futures: a proposal when
// its entry is applied (or lost to a leader change), a transfer when this
// node sees the target lead, a read barrier when the applied index reaches
// the read index. Followers do not forward proposals: they answer unavailable
// naming the leader, which the caller (the controller) forwards.
//
// Lifecycle: construct (nothing runs), set_peers() any time, start() (makes
// the RaftNode over raft.storage and the thread), stop() (joins; every
// pending future resolves with Code::unavailable). start() and stop() are
// idempotent; a stopped host is not restarted: make a new one over the
// same storage. The transport must outlive the host's running period; the
// transport's handler calls deliver(), which is safe at any time, also
// before start() and after stop() (messages are then dropped).
// Threads: one host thread owns the RaftNode, the storage, the apply
// state machine hooks and all pending futures; propose(),
// propose_conf_change(), transfer_leadership(), read_barrier(), deliver(),
// set_peers() and status() are callable from any thread and only touch the
// queues and the status copy under mu_. start()/stop() from the owner.
// Metrics (when a registry is given; label group = options.group):
// nw_raft_term, nw_raft_commit_index, nw_raft_applied_index,
// nw_raft_is_leader, nw_raft_peer_lag_entries{peer} (leader only, per
// tick), nw_raft_leader_changes_total, nw_raft_proposals_dropped_total,
// nw_raft_snapshots_total{kind=created|installed},
// nw_raft_snapshot_failures_total, nw_raft_commit_latency_seconds.
class RaftHost {
 public:
  // `registry` (optional) outlives the host.
  RaftHost(HostOptions options, transport::Transport& transport, PeerMap peers,
           StateMachine sm, metrics::Registry* registry = nullptr);
  ~RaftHost();
  RaftHost(const RaftHost&) = delete;
  RaftHost& operator=(const RaftHost&) = delete;

  // Validates the configuration, restores the state machine from the
  // storage's snapshot (if it has one), creates the RaftNode over the
  // storage and starts the host thread. Errors: Code::invalid_argument (bad
  // raft config or no storage); Code::failed_precondition after stop() or
  // when there is a snapshot but no restore hook; those of
  // storage.snapshot() and of restore(). OK when running.
  Status start();
  // Stops the thread and resolves every pending future with
  // Code::unavailable. Idempotent.
  void stop();

  // Replaces the peer directory (membership change, a peer that moved).
  void set_peers(PeerMap peers);

  // Queues one incoming transport payload (an encoded raft::Message); never
  // blocks for long. Called from the transport's I/O thread.
  void deliver(const std::string& from_node, std::string_view payload);

  // Proposes `data` (leader only). Resolves with the entry's index once it
  // is applied on this node. Errors: Code::unavailable when not the leader
  // ("not the leader; leader is node N"), when the entry was lost in a
  // leader change ("proposal lost in a leader change, retry"), or when the
  // host is not running or stops; Code::invalid_argument for empty data
  // (reserved for the leader's no-op).
  std::future<Result<raft::LogIndex>> propose(std::string data);
  // As propose(), but resolves as soon as the entry is durable in this
  // (leader) node's own log, before it is committed: for producers that
  // ask for acks=leader. The entry may still be lost if this node loses
  // its leadership before a majority has it.
  std::future<Result<raft::LogIndex>> propose_persisted(std::string data);

  // Proposes a membership change (leader only); resolves with its index
  // once applied on this node (on_conf_change has run by then). Errors as
  // propose(), plus the core's Code::failed_precondition (another change
  // pending, no commit in this term yet, learner not caught up, does not
  // fit the membership).
  std::future<Result<raft::LogIndex>> propose_conf_change(raft::ConfChange cc);

  // Leader only: hands leadership to `target`. Resolves OK once this node
  // sees `target` as leader. Errors: Code::timeout when that did not happen
  // within 2 * raft.election_tick ticks (+ a few); Code::unavailable when
  // not the leader, when the host is not running or stops;
  // Code::invalid_argument from the core (target is not a voter).
  std::future<Status> transfer_leadership(raft::NodeId target);

  // A linearizable read point (ReadIndex): resolves OK once this node has
  // applied everything committed when it was called. Works on followers
  // (the core asks the leader). Errors: Code::unavailable when no leader is
  // known or the host is not running or stops; Code::timeout when no answer
  // came within read_timeout_ticks (the read was dropped; retry).
  std::future<Status> read_barrier();

  // A copy of the host's state as of the last loop iteration.
  HostStatus status() const;
  // Its leadership fields only (cheap: for every request).
  Leadership leadership() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Proposal {
    std::string data;                    // for propose()
    std::optional<raft::ConfChange> cc;  // for propose_conf_change()
    Clock::time_point queued;            // for the commit latency
    std::promise<Result<raft::LogIndex>> promise;
    bool on_persist = false;  // propose_persisted()
  };
  struct PendingProposal {
    raft::Term term;
    // Set for propose() (the commit latency metric); not for conf changes.
    std::optional<Clock::time_point> queued;
    std::promise<Result<raft::LogIndex>> promise;
    bool on_persist = false;
  };
  struct Transfer {
    raft::NodeId target;
    std::promise<Status> promise;
  };
  struct PendingTransfer {
    raft::NodeId target;
    std::uint64_t deadline_tick = 0;
    std::promise<Status> promise;
  };
  // Metric children, resolved once in the constructor (null without a
  // registry).
  struct Metrics {
    metrics::Gauge* term = nullptr;
    metrics::Gauge* commit = nullptr;
    metrics::Gauge* applied = nullptr;
    metrics::Gauge* is_leader = nullptr;
    metrics::GaugeFamily* peer_lag = nullptr;
    metrics::Counter* leader_changes = nullptr;
    metrics::Counter* proposals_dropped = nullptr;
    metrics::Counter* snapshots_created = nullptr;
    metrics::Counter* snapshots_installed = nullptr;
    metrics::Counter* snapshot_failures = nullptr;
    metrics::Histogram* commit_latency = nullptr;
  };
  struct PendingRead {
    std::uint64_t deadline_tick = 0;
    std::promise<Status> promise;
  };

  std::future<Result<raft::LogIndex>> queue_proposal(std::string data,
                                                     bool on_persist);
  void run();
  // One round: inbox, tick, queued requests, then the Readys.
  void handle_inbox(std::vector<std::string>& inbox);
  void handle_proposals(std::vector<Proposal>& proposals);
  void handle_transfers(std::vector<Transfer>& transfers);
  void handle_reads(std::vector<std::promise<Status>>& reads);
  // Drains the node's Readys. Errors: those of the storage and of restore
  // (the group then stops).
  Status drain_ready();
  // Resolves propose_persisted() proposals among `entries`, just persisted.
  void resolve_persisted(const std::vector<raft::Entry>& entries);
  void send_messages(std::vector<raft::Message>& messages);
  void serve_reads(const std::vector<raft::ReadState>& read_states);
  void expire_reads();
  void check_transfers();
  void publish_status(bool tick);
  void fail_all_pending(const Error& e);
  void count_dropped(std::uint64_t n);
  // Futures answered during a round are completed after the round's
  // publish_status(), so that status() already shows what they report (the
  // applied index, the membership, the new leader).
  void complete(std::promise<Result<raft::LogIndex>>& p,
                Result<raft::LogIndex> r);
  void complete(std::promise<Status>& p, Status s);
  void flush_completions();

  // raft_host_apply.cc: the state machine side.
  // The storage's snapshot into the state machine, at start().
  Status restore_at_start();
  // An InstallSnapshot (Ready::snapshot) into the storage and the state
  // machine.
  Status install_snapshot(raft::Snapshot snap);
  void apply_committed(const std::vector<raft::Entry>& entries);
  void apply_conf_entry(const raft::Entry& e);
  void resolve_proposal(const raft::Entry& e);
  // Takes a snapshot and compacts when the policy says so.
  void maybe_snapshot();

  // raft_host_metrics.cc
  void init_metrics(metrics::Registry* registry);
  void update_metrics();
  void update_peer_lag(const raft::NodeStatus& ns);

  const HostOptions options_;
  transport::Transport& transport_;
  const StateMachine sm_;
  Metrics metrics_;

  // Host-thread state (only the host thread touches these while it runs;
  // stop() touches them after joining it).
  std::unique_ptr<raft::RaftNode> node_;
  raft::LogIndex applied_;
  raft::Term applied_term_;
  raft::Membership applied_membership_;
  // Snapshots are due when applied_ is snapshot_threshold past this: the
  // storage's snapshot index, or the applied index of the last failed
  // attempt (so a failure is retried at the next crossing only).
  raft::LogIndex snapshot_base_;
  raft::NodeId last_leader_;  // the last non-zero leader seen
  // nw_raft_peer_lag_entries children set while leading: label, child.
  std::map<raft::NodeId, std::pair<std::string, metrics::Gauge*>> lag_gauges_;
  std::uint64_t ticks_ = 0;
  std::uint64_t next_read_ctx_ = 1;
  std::map<raft::LogIndex, PendingProposal> pending_proposals_;
  std::vector<PendingTransfer> pending_transfers_;
  std::map<std::uint64_t, PendingRead> reads_in_flight_;  // by context
  std::multimap<raft::LogIndex, std::promise<Status>> reads_waiting_apply_;
  std::vector<
      std::pair<std::promise<Result<raft::LogIndex>>, Result<raft::LogIndex>>>
      done_proposals_;
  std::vector<std::pair<std::promise<Status>, Status>> done_statuses_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // signals work queued or stop, under mu_
  bool started_ = false;             // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  std::vector<std::string> inbox_;   // guarded by mu_
  std::vector<Proposal> proposals_;  // guarded by mu_
  std::vector<Transfer> transfers_;  // guarded by mu_
  std::vector<std::promise<Status>> read_requests_;  // guarded by mu_
  std::shared_ptr<const PeerMap> peers_;  // guarded by mu_ (the pointer)
  HostStatus status_;                     // guarded by mu_
  std::thread thread_;                    // owner thread only (start/stop)
};

}  // namespace nw::raft_host
