#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/cluster/clock_skew.h"
#include "agent/cluster/control.h"
#include "agent/cluster/identity.h"
#include "agent/controller/cluster_state.h"
#include "agent/controller/command.h"
#include "agent/raft_host/raft_host.h"
#include "agent/service/service.h"
#include "agent/transport/transport.h"
#include "common/base/net.h"
#include "common/base/result.h"
#include "common/base/time.h"
#include "common/base/units.h"

namespace nw::http {
class Server;
struct Request;
struct Response;
}  // namespace nw::http
namespace nw::metrics {
class Registry;
struct Sample;
}  // namespace nw::metrics
namespace nw::wal {
class WalStorage;
}

namespace nw::cluster {

struct ClusterOptions {
  std::string node_id;
  std::string data_dir;  // cluster.json and controller/ live here
  HostPort peer_listen{"127.0.0.1", 7071};
  // What other agents dial; host "" means peer_listen (with its real port).
  HostPort peer_advertise{"", 0};
  // The API address other agents and nwctl reach this agent at; read at
  // start() (the API is bound first, so a port 0 is resolved by then).
  std::function<std::string()> api_addr;
  int bootstrap_expect = 1;
  std::vector<HostPort> join;
  Duration tick_interval = std::chrono::milliseconds(50);
  int election_ticks = 8;
  int heartbeat_ticks = 1;
  std::uint64_t snapshot_threshold = 10000;
  bool wal_fsync = true;
  // Called once (from an internal thread) when the agent cannot go on: a
  // --join was refused for good (its node id is taken by another agent).
  // The agent shuts down with exit_code(error.code). (A removed agent
  // keeps running with role "removed" and refuses its next start.)
  std::function<void(const Error&)> on_fatal;
};

// One member as `nwctl cluster status` shows it.
struct MemberView {
  std::string id;
  std::uint64_t raft_id = 0;
  std::string api_addr;
  std::string peer_addr;
  std::string role;   // "voter" | "learner"
  std::string state;  // "healthy" | "unreachable"
  bool leader = false;
  std::uint64_t match_index = 0;
  std::uint64_t lag = 0;
  // How far the member's wall clock is ahead of the leader's (negative:
  // behind), and the round trip of the measurement it comes from (the
  // offset is off by at most half of it). Measured by the leader only:
  // 0 for the leader itself, nullopt when not measured yet, gone stale, or
  // when the answering agent is not the leader.
  std::optional<std::int64_t> clock_offset_ms;
  std::optional<std::int64_t> clock_rtt_ms;
  std::map<std::string, std::string> labels;
};

struct ClusterView {
  std::string cluster_id;
  std::string node_id;  // who answered
  bool stale = false;
  std::string leader;  // "" when none is known
  std::uint64_t term = 0;
  std::uint64_t commit_index = 0;
  std::uint64_t applied_index = 0;
  std::vector<MemberView> members;  // sorted by id
};

// The agent's place in the cluster, and the controller's C++ API for the
// rest of the agent.
//
// It owns the peer Transport, the controller's WAL (<data_dir>/controller),
// the RaftHost of the controller group (group 1) and the replicated
// ClusterState. Before the agent is a member it runs discovery over the
// transport's control group (group 0): it dials the --join addresses,
// exchanges node info with the agents there, and either forms a new cluster
// with the first `bootstrap_expect` agents that find each other, or asks
// an existing cluster's leader to add it as a learner (README.md, "Forming
// a cluster"). Once a member, a loop keeps the peer directory in step with
// the cluster state, registers this agent's addresses, and on the leader
// promotes caught-up learners and keeps each node's recorded role equal to
// its Raft role.
//
// Controller API: propose() works on any member (a follower forwards the
// command to the leader over the peer link), read_barrier() gives a
// linearizable read point (ReadIndex, also on followers), read() is a
// local (possibly stale) read, wait_for_change() watches.
//
// Lifecycle: construct, add_routes() to the API server, start() after the
// API is bound, stop() before the API stops. Not restartable.
// Threads: a loop thread (discovery, reconciliation), a small pool of
// workers for control requests from peers, the transport's I/O thread and
// the host thread. Public methods are safe from any thread; handlers run on
// the API's pool.
class Cluster final : public service::Service {
 public:
  Cluster(ClusterOptions options, metrics::Registry& registry);
  ~Cluster() override;
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  std::string_view name() const override { return "cluster"; }
  // Loads cluster.json (creating the raft id), starts the transport and,
  // when the agent is a member, the controller group; otherwise starts
  // discovery. Errors: io_error (peer port taken), corruption,
  // failed_precondition (this agent was removed from its cluster).
  Status start() override;
  void stop() override;
  bool running() const override;

  // Registers /v1/cluster/... on the API server (before it starts).
  void add_routes(http::Server& server);

  // ---- The controller API ----
  // Commits `command` and returns its outcome (the command's own status:
  // not_found, conflict, ...). Any member; followers forward to the leader.
  // Errors: unavailable (not a member, no leader within the timeout),
  // timeout.
  Status propose(const controller::Command& command, Duration timeout);
  // Returns once this agent has applied everything committed before the
  // call (ReadIndex). Errors: unavailable, timeout.
  Status read_barrier(Duration timeout);
  // Runs `f` on the local state under the state lock (a stale read unless
  // read_barrier() came first). `f` must be quick.
  void read(
      const std::function<void(const controller::ClusterState&)>& f) const;
  // Waits until the state's version is above `after` or the timeout
  // passes; returns the version then.
  std::uint64_t wait_for_change(std::uint64_t after, Duration timeout) const;

  // Handles the transport's messages of every group other than the control
  // and controller groups (partition groups), on the transport's I/O
  // thread. REQUIRES: before start().
  using GroupHandler = std::function<void(
      const std::string& from, std::uint64_t group, std::string_view payload)>;
  void set_group_handler(GroupHandler handler);
  // The peer transport, for other Raft groups. REQUIRES: start() succeeded.
  transport::Transport& transport() { return *transport_; }
  // This agent's member id, the same in every Raft group it joins.
  raft::NodeId raft_id() const { return self_raft(); }
  // For a handler that only the controller leader can answer: nullopt on
  // the leader (answer locally), else the leader's answer to the forwarded
  // request (or why it could not be forwarded).
  std::optional<http::Response> forward_unless_leader(
      const http::Request& r) const;
  // Whether this agent leads the controller group now.
  bool is_leader() const;

  // ---- Facts for /v1/status and readiness ----
  std::string role() const;
  std::string cluster_id() const;
  std::string leader_id() const;
  std::uint64_t term() const;
  std::string peer_addr() const;
  // The API address this agent registered (other agents and nwctl reach
  // it there). REQUIRES: start() succeeded.
  const std::string& api_addr() const { return api_addr_; }
  // A member that knows a leader (or was removed: then never).
  bool ready() const;
  // Why not ready(), for /v1/health/ready.
  std::string not_ready_reason() const;

  // ---- Operations behind the HTTP API ----
  // The members and the replication state as this agent sees them. A
  // non-stale view on the leader includes match indexes and lag.
  ClusterView view(bool stale) const;
  // Joins the cluster reachable at `addrs` (peer addresses); waits until
  // this agent is a member. Errors: conflict (a member of another cluster
  // already; node id taken), invalid_argument, timeout.
  Result<ClusterView> join(std::vector<HostPort> addrs, Duration timeout);
  // Leader only. Errors: not_found, failed_precondition (quorum; last
  // voter), unavailable (not the leader), timeout.
  Status remove(const std::string& node_id, bool force, Duration timeout);
  // Leader only; "" picks the most caught-up other voter. Returns the new
  // leader's node id.
  Result<std::string> transfer_leader(const std::string& node_id,
                                      Duration timeout);

  // Rewrites the data directory of a stopped agent so that it is the only
  // voter of its cluster (quorum-loss recovery, docs/runbooks/quorum-loss.md):
  // the controller state keeps its data, all other nodes are dropped, and
  // the log is replaced by a snapshot whose membership is this agent alone.
  // Returns a summary for the operator. Errors: failed_precondition (not a
  // member), corruption, io_error.
  static Result<std::string> recover(const std::string& data_dir,
                                     const std::string& node_id);

 private:
  // What a peer told us in its last info message.
  struct Info {
    ControlMessage msg;
    MonoTime at;
  };
  struct Pending {
    std::promise<Status> promise;
  };

  // cluster.cc
  Status start_member();
  void loop();
  void sync_peers(raft_host::RaftHost* h);
  void self_register();
  void reconcile_leader();
  void on_removed();
  raft_host::RaftHost* host() const { return host_ptr_.load(); }
  raft::NodeId self_raft() const { return raft::NodeId(identity_raft_id_); }
  std::string node_of(raft::NodeId id) const;
  std::string api_of(const std::string& node_id) const;
  Status take_result(raft::LogIndex index);
  void fatal(const Error& e);
  void post(std::function<void()> task);
  void worker();

  // cluster_discovery.cc
  void on_control(const std::string& from, std::string_view payload);
  void discovery_step();
  // Another agent using this agent's node id, as the error that stops
  // this one; nullopt when there is none.
  std::optional<Error> find_twin() const;
  void send_info(const std::string& to);
  void adopt(std::string cluster_id, std::vector<std::uint64_t> voters,
             std::vector<KnownPeer> peers);
  void handle_join_request(const std::string& from, std::uint64_t req,
                           KnownPeer node, std::string api_addr);
  Status forward_propose(const std::string& leader, const std::string& data,
                         MonoTime deadline);
  void handle_propose(const std::string& from, std::uint64_t req,
                      std::string data);

  // cluster_api.cc
  http::Response forward_to_leader(const http::Request& r) const;

  // cluster_clock.cc
  // Leader: pings each other member about once a second. Not the leader:
  // forgets the measurements (once). Loop thread.
  void measure_clocks(bool leader);
  void handle_ping(const std::string& from, const ControlMessage& m);
  void handle_pong(const std::string& from, const ControlMessage& m);
  // The current estimate for the member, if any (takes clock_mu_).
  std::optional<ClockSample> clock_estimate(std::uint64_t raft_id) const;
  void collect_clock_metrics(std::vector<metrics::Sample>& out) const;

  const ClusterOptions options_;
  metrics::Registry& registry_;
  GroupHandler group_handler_;  // set before start(), then read-only
  std::unique_ptr<transport::Transport> transport_;
  std::unique_ptr<wal::WalStorage> storage_;
  std::unique_ptr<raft_host::RaftHost> host_;
  std::atomic<raft_host::RaftHost*> host_ptr_{nullptr};
  std::uint64_t identity_raft_id_ = 0;  // set in start(), then immutable
  std::string api_addr_;                // set in start(), then immutable
  std::string peer_addr_;               // set in start(), then immutable

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;       // state version, membership, stop
  bool stopping_ = false;                    // guarded by mu_
  Identity identity_;                        // guarded by mu_
  controller::ClusterState state_;           // guarded by mu_
  std::map<std::uint64_t, Status> results_;  // by log index; guarded by mu_
  std::map<std::string, std::unique_ptr<Info>> infos_;  // guarded by mu_
  std::vector<HostPort> join_addrs_;                    // guarded by mu_
  bool seeds_added_ = false;                            // guarded by mu_
  std::string join_target_;          // node to send joins to; guarded by mu_
  MonoTime next_join_at_;            // guarded by mu_
  std::optional<Error> join_error_;  // guarded by mu_
  // Link ids of agents seen sharing a node id with another candidate,
  // warned about once each; guarded by mu_.
  std::set<std::string> twins_warned_;
  std::map<std::string, std::string> peer_addrs_set_;          // guarded by mu_
  std::map<std::uint64_t, std::unique_ptr<Pending>> pending_;  // by req
  std::uint64_t next_req_ = 1;                                 // guarded by mu_
  std::atomic<bool> removed_{false};
  // Set once start() has the transport up; the API is served before that.
  std::atomic<bool> started_{false};
  // The removal is in cluster.json (so a restart refuses to run).
  std::atomic<bool> removed_recorded_{false};
  std::atomic<bool> fatal_sent_{false};

  // Leader-side reconciliation in flight (loop thread only).
  std::optional<std::future<Result<raft::LogIndex>>> conf_future_;
  std::optional<std::future<Status>> register_future_;
  MonoTime next_register_at_;

  // Clock skew measurement (cluster_clock.cc). Its own mutex, so the
  // transport thread answering a pong and the metrics collector never wait
  // for mu_; lock order: mu_ before clock_mu_.
  struct ClockPeer {
    std::string node_id;
    std::string link;
    SkewEstimator estimator;
    SkewAlarm alarm;
    int unanswered = 0;  // pings since the last pong
    MonoTime next_ping;
  };
  struct PingSent {
    std::uint64_t raft_id = 0;
    std::string link;
    WallTime wall;
    MonoTime mono;
  };
  mutable std::mutex clock_mu_;
  std::map<std::uint64_t, ClockPeer> clocks_;  // by raft id; clock_mu_
  std::map<std::uint64_t, PingSent> pings_;    // by req; clock_mu_
  std::uint64_t next_ping_req_ = 1;            // guarded by clock_mu_
  bool clock_leader_ = false;                  // loop thread only
  std::uint64_t clock_collector_ = 0;          // metrics collector id

  std::mutex tasks_mu_;
  std::condition_variable tasks_cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by tasks_mu_
  bool tasks_stop_ = false;                  // guarded by tasks_mu_
  std::vector<std::thread> workers_;
  std::thread loop_;
  // Hosts and storages given up by join() (a cluster of one abandoned):
  // kept until destruction because other threads may still hold the raw
  // host pointer they read before the switch.
  std::vector<std::unique_ptr<raft_host::RaftHost>> retired_;
  std::vector<std::unique_ptr<wal::WalStorage>> retired_storage_;
};

}  // namespace nw::cluster
