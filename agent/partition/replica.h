#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/partition/producer_table.h"
#include "agent/raft/types.h"
#include "agent/raft_host/raft_host.h"
#include "agent/storage/segment_log.h"
#include "common/base/result.h"
#include "common/base/units.h"

namespace nw::metrics {
class Registry;
}
namespace nw::transport {
class Transport;
}

namespace nw::partition {

enum class Acks { all, leader, none };

struct ReplicaOptions {
  std::string topic;
  std::uint64_t topic_id = 0;
  int partition = 0;
  std::uint64_t group = 0;  // transport group id (group_id())
  std::string dir;          // the replica's directory
  std::uint64_t segment_bytes = 128ull << 20;
  // The active segment rolls once this old (ms; 0: never by age). The
  // partition manager passes the topic's effective value
  // (controller::effective_segment_ms).
  std::int64_t segment_ms = 7ll * 24 * 3600 * 1000;
  std::int64_t retention_ms = -1;
  std::int64_t retention_bytes = -1;
  raft::NodeId self;
  // The partition's replicas at creation (the group's bootstrap
  // membership, the same on every node that ever hosts the partition).
  raft::Membership initial;
  Duration tick_interval = std::chrono::milliseconds(50);
  int election_ticks = 8;
  int heartbeat_ticks = 1;
  // A snapshot of the partition state (offsets, producer table; never the
  // data) every this many entries bounds the replay at start.
  std::uint64_t snapshot_threshold = 2000;
  bool fsync = true;
};

// What a produce got.
struct ProduceAck {
  std::uint64_t base_offset = 0;
  std::uint32_t count = 0;
  bool duplicate = false;  // an idempotent retry of a batch already written
};

// What a fetch got.
struct FetchResult {
  std::string data;  // whole record batches
  std::uint64_t high_watermark = 0;
  std::uint64_t start_offset = 0;
  std::uint64_t next_offset = 0;  // where the next fetch starts
};

// A replica as `topic describe` shows it (this agent's view).
struct ReplicaStatus {
  bool online = false;
  std::string error;  // why offline
  bool leader = false;
  raft::NodeId leader_id;
  std::uint64_t term = 0;
  std::uint64_t high_watermark = 0;
  std::uint64_t start_offset = 0;
  std::uint64_t size_bytes = 0;
  std::uint64_t last_index = 0;
  raft::Membership membership;
  // Leader only: the leader, and the followers whose log is within the
  // in-sync lag and that answered within an election timeout.
  std::vector<raft::NodeId> in_sync;
  std::map<raft::NodeId, std::uint64_t> match;  // leader only
};

// One replica of one partition on this agent: its segment log (which is its
// Raft log), the RaftHost that runs its Raft group on the shared
// transport, and the partition's state machine (high watermark, producer
// table). The leader serves produce and fetch; the high watermark is the
// offset after the last applied (so committed) entry, and fetch never
// returns records at or beyond it.
//
// Idempotent produce: the leader accepts a batch with a producer id only
// once it has applied every entry of earlier terms (so its producer table
// covers everything committed before it led); batches proposed but not
// applied yet are tracked per producer, and a retry of one waits for the
// first attempt's outcome.
//
// Idempotent batches go through the producer table whatever the acks:
// with acks=none such a batch waits for the leader's own write (as
// acks=leader) so that the next batch's sequence check sees it; only a
// batch without a producer id is fire-and-forget.
//
// Retention runs on the host thread (on_tick): whole segments past the
// retention limits are dropped after a snapshot at their last entry. An
// active segment older than segment_ms counts as rolled (the next append
// would roll it), so a partition nobody writes to still ages out: its log
// may become empty, with its last index, term and next offset kept by the
// log's start point (SegmentLog::retention_point).
//
// In sync (status()): a follower is in sync while its match index is at
// most kInSyncLagEntries behind the leader's last index and the leader has
// heard from it within one election timeout (HostStatus::last_heard).
//
// Lifecycle: open(), start(), then any calls; stop() (idempotent); the
// destructor stops. destroy_data() after stop() deletes the directory.
// Threads: produce/fetch/status from API threads; deliver from the
// transport's thread; the host thread applies. Shared state under mu_.
class Replica {
 public:
  // Opens the log. Errors: those of SegmentLog::open (corruption names the
  // file and position: the partition is offline on this agent).
  static Result<std::unique_ptr<Replica>> open(ReplicaOptions options,
                                               transport::Transport& transport,
                                               raft_host::PeerMap peers,
                                               metrics::Registry* registry);
  ~Replica();

  Status start();
  void stop();
  // Deletes the replica's files. REQUIRES: stopped.
  Status destroy_data();

  void deliver(const std::string& from, std::string_view payload);
  void set_peers(raft_host::PeerMap peers);
  void set_retention(std::int64_t retention_ms, std::int64_t retention_bytes);
  // The roll limits of new appends (topic alter); see ReplicaOptions.
  void set_segment_limits(std::uint64_t segment_bytes, std::int64_t segment_ms);

  // Appends one record batch (validated here). Leader only.
  // Errors: invalid_argument (not one valid data batch), unavailable (not
  // the leader, or not ready to lead yet: the message names the leader
  // when known), failed_precondition (sequence out of order), timeout.
  Result<ProduceAck> produce(std::string batch, Acks acks, Duration timeout);
  // Committed batches from `offset`, up to max_bytes and (0: no limit)
  // max_records, at least one batch when there is one. Leader only.
  // Errors: unavailable (not the leader), failed_precondition (offset out
  // of range).
  Result<FetchResult> fetch(std::uint64_t offset, std::uint64_t max_bytes,
                            Duration wait, std::uint64_t max_records = 0);
  // The first offset at or after a time (ms); the high watermark if none.
  Result<std::uint64_t> offset_for_time(std::int64_t ts_ms);
  std::uint64_t high_watermark() const;
  std::uint64_t start_offset() const;

  ReplicaStatus status() const;
  raft_host::RaftHost& host() { return *host_; }
  const ReplicaOptions& options() const { return options_; }
  // Leader and has applied every earlier term's entries.
  bool ready_to_lead() const;

 private:
  struct InFlight {
    std::int32_t first_seq = 0;
    std::int32_t last_seq = 0;
    std::uint64_t term = 0;
    std::shared_future<Result<ProduceAck>> result;
  };

  Replica(ReplicaOptions options, std::unique_ptr<storage::SegmentLog> log);
  void apply(const raft::Entry& e);
  std::string snapshot_data();
  Status restore(const raft::Snapshot& snap);
  void on_tick();
  void apply_retention();
  Result<ProduceAck> wait_ack(std::future<Result<raft::LogIndex>> f,
                              Duration timeout);
  Error not_leader() const;

  const ReplicaOptions options_;
  std::unique_ptr<storage::SegmentLog> log_;
  std::unique_ptr<raft_host::RaftHost> host_;

  mutable std::mutex mu_;
  std::condition_variable cv_;           // the high watermark moved; stop
  std::uint64_t hw_ = 0;                 // guarded by mu_
  raft::LogIndex applied_;               // guarded by mu_
  ProducerTable producers_;              // guarded by mu_
  raft::Membership applied_membership_;  // guarded by mu_
  std::map<std::int64_t, std::deque<InFlight>> in_flight_;  // guarded by mu_
  std::int64_t retention_ms_;                               // guarded by mu_
  std::int64_t retention_bytes_;                            // guarded by mu_
  bool stopped_ = false;                                    // guarded by mu_
  std::int64_t next_retention_check_ms_ = 0;                // host thread only
};

// The transport group id of partition `p` of the topic with id `topic_id`.
std::uint64_t group_id(std::uint64_t topic_id, int partition);

}  // namespace nw::partition
