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

#include "agent/raft/raft_node.h"
#include "agent/raft/types.h"
#include "agent/transport/transport.h"
#include "common/base/result.h"
#include "common/base/units.h"

namespace nw::raft_host {

// Raft member id -> the transport node id ("nw-1a2b3c4d") to send to.
using PeerMap = std::map<raft::NodeId, std::string>;
// Called on the host thread, in log order, for every committed normal entry
// with data (the leader's empty no-op of each term is not passed on).
using ApplyFn = std::function<void(const raft::Entry&)>;

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
};

// A point-in-time copy of the host's state, for status pages and tests.
struct HostStatus {
  raft::NodeId id;
  raft::Role role = raft::Role::follower;
  raft::Term term;
  raft::NodeId leader;
  raft::LogIndex commit;
  raft::LogIndex applied;
  raft::LogIndex last_index;
  bool running = false;
  // Set when a persist failed and the group stopped itself.
  std::optional<Error> failure;
  std::uint64_t dropped_unknown_peer = 0;  // messages to an unmapped member
  std::uint64_t dropped_bad_message = 0;   // undecodable or refused by step
  std::uint64_t dropped_inbox_full = 0;
};

// Runs one RaftNode on its own thread: ticks it, feeds it the messages the
// transport delivers, and carries out its Readys (agent/raft/README.md, "The
// Ready contract"): persist snapshot, entries and hard state through the
// LogStorage (durable when each call returns), then send the messages, then
// apply committed entries through ApplyFn, serve reads, advance(). A failed
// persist stops the group (logged; status().failure says why): the loop
// never continues past it, since the node's state would no longer match
// the disk.
//
// Proposals and read barriers are queued to the host thread and answered
// through futures: a proposal when its entry is applied (or lost to a
// leader change), a read barrier when the applied index reaches the read
// index. Followers do not forward proposals: they answer unavailable naming
// the leader, which the caller (the controller) forwards.
//
// Lifecycle: construct (nothing runs), set_peers() any time, start() (makes
// the RaftNode over raft.storage and the thread), stop() (joins; every
// pending future resolves with Code::unavailable). start() and stop() are
// idempotent; a stopped host is not restarted: make a new one over the
// same storage. The transport must outlive the host's running period; the
// transport's handler calls deliver(), which is safe at any time, also
// before start() and after stop() (messages are then dropped).
// Threads: one host thread owns the RaftNode, the storage, the apply
// callback and all pending futures; propose(), read_barrier(), deliver(),
// set_peers() and status() are callable from any thread and only touch the
// queues and the status copy under mu_. start()/stop() from the owner.
class RaftHost {
 public:
  RaftHost(HostOptions options, transport::Transport& transport, PeerMap peers,
           ApplyFn apply);
  ~RaftHost();
  RaftHost(const RaftHost&) = delete;
  RaftHost& operator=(const RaftHost&) = delete;

  // Validates the configuration, creates the RaftNode over the storage and
  // starts the host thread. Errors: Code::invalid_argument (bad raft config
  // or no storage); Code::failed_precondition after stop(). OK when running.
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

  // A linearizable read point (ReadIndex): resolves OK once this node has
  // applied everything committed when it was called. Works on followers
  // (the core asks the leader). Errors: Code::unavailable when no leader is
  // known or the host is not running or stops; Code::timeout when no answer
  // came within read_timeout_ticks (the read was dropped; retry).
  std::future<Status> read_barrier();

  // A copy of the host's state as of the last loop iteration.
  HostStatus status() const;

 private:
  struct Proposal {
    std::string data;
    std::promise<Result<raft::LogIndex>> promise;
  };
  struct PendingProposal {
    raft::Term term;
    std::promise<Result<raft::LogIndex>> promise;
  };
  struct PendingRead {
    std::uint64_t deadline_tick = 0;
    std::promise<Status> promise;
  };

  void run();
  // One round: inbox, tick, queued requests, then the Readys.
  void handle_inbox(std::vector<std::string>& inbox);
  void handle_proposals(std::vector<Proposal>& proposals);
  void handle_reads(std::vector<std::promise<Status>>& reads);
  // Drains the node's Readys. Errors: those of the storage (the group then
  // stops).
  Status drain_ready();
  void send_messages(std::vector<raft::Message>& messages);
  void apply_committed(const std::vector<raft::Entry>& entries);
  void serve_reads(const std::vector<raft::ReadState>& read_states);
  void expire_reads();
  void publish_status();
  void fail_all_pending(const Error& e);

  const HostOptions options_;
  transport::Transport& transport_;
  const ApplyFn apply_;

  // Host-thread state (only the host thread touches these while it runs;
  // stop() touches them after joining it).
  std::unique_ptr<raft::RaftNode> node_;
  raft::LogIndex applied_;
  std::uint64_t ticks_ = 0;
  std::uint64_t next_read_ctx_ = 1;
  std::map<raft::LogIndex, PendingProposal> pending_proposals_;
  std::map<std::uint64_t, PendingRead> reads_in_flight_;  // by context
  std::multimap<raft::LogIndex, std::promise<Status>> reads_waiting_apply_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // signals work queued or stop, under mu_
  bool started_ = false;             // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  std::vector<std::string> inbox_;   // guarded by mu_
  std::vector<Proposal> proposals_;  // guarded by mu_
  std::vector<std::promise<Status>> read_requests_;  // guarded by mu_
  std::shared_ptr<const PeerMap> peers_;  // guarded by mu_ (the pointer)
  HostStatus status_;                     // guarded by mu_
  std::thread thread_;                    // owner thread only (start/stop)
};

}  // namespace nw::raft_host
