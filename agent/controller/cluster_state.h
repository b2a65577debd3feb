#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "agent/controller/command.h"
#include "agent/controller/job_record.h"
#include "agent/controller/node_record.h"
#include "agent/controller/topic_record.h"
#include "agent/raft/byte_io.h"
#include "agent/raft/types.h"
#include "common/base/result.h"

namespace nw::controller {

// What applying one committed entry did.
struct ApplyResult {
  // The command's own outcome: ok, or why it was rejected (invalid_argument
  // for undecodable bytes or bad fields, not_found, conflict,
  // failed_precondition). A rejected command changed nothing but the
  // applied index; the host hands this to whoever proposed it.
  Status status;
  // Whether the cluster metadata changed (and version() was incremented).
  bool changed = false;
};

// The controller's replicated state machine: the cluster metadata (today
// the nodes, the topics and their partitions' replicas, the consumer
// groups' committed offsets, the scheduled jobs with their runs and missed
// slots, and the cluster locks; later services, config, users).
//
// Lifecycle: starts empty (applied index 0, version 0) or from restore();
// the host applies every committed normal entry of the controller group in
// index order, and replaces the whole object from a snapshot when Raft
// installs one.
// Threads: none of its own; not synchronized. The host serializes apply()
// with reads (one apply thread, readers under the host's lock).
// Invariants: apply() is a pure function of (state, index, bytes): no
// clocks, no randomness, no iteration over unordered containers, so every
// replica that applies the same entries holds the same state, byte for
// byte in snapshot(). by_raft_ holds exactly one entry per node, and raft
// ids are unique. topic_ids_ holds exactly one entry per topic; topic ids
// are unique and below next_topic_id(). Every committed offset names an
// existing topic and partition, and no group has an empty offset map.
// Every run names a job that exists unless the run is unfinished (a
// deleted job's unfinished runs stay until they finish); run ids and
// fencing tokens are equal, unique and <= applied_index(); no two runs
// share (job, slot, shard, attempt); a job keeps at most
// kMaxFinishedRunsPerJob finished runs and kMaxMissedPerJob missed slots.
// run_keys_ and job_runs_ index exactly the runs in runs_.
// version() counts state changes and never goes back.
class ClusterState {
 public:
  using NodeMap = std::map<std::string, NodeRecord, std::less<>>;

  ClusterState() = default;

  // Applies the committed entry at `index` whose data is `command_bytes`
  // (empty data, the leader's no-op, applies as nothing). Always advances
  // applied_index() to `index`, even when the command is rejected: a
  // committed entry must apply the same way everywhere, so a bad command
  // is a result (ApplyResult::status), not a failure.
  // Errors: Code::failed_precondition when index <= applied_index() (an
  // entry applied twice; nothing changes).
  Result<ApplyResult> apply(raft::LogIndex index,
                            std::string_view command_bytes);

  // The index of the last entry applied; 0 for none.
  raft::LogIndex applied_index() const { return applied_index_; }
  // Incremented by every apply that changed the metadata; for watches.
  std::uint64_t version() const { return version_; }

  // Every node, sorted by id.
  const NodeMap& nodes() const { return nodes_; }
  // The node with agent id `id`; nullptr when there is none.
  const NodeRecord* node(std::string_view id) const;
  // The node with Raft member id `raft_id`; nullptr when there is none.
  const NodeRecord* by_raft_id(raft::NodeId raft_id) const;

  // Every topic, sorted by name.
  const TopicMap& topics() const { return topics_; }
  // The topic named `name`; nullptr when there is none.
  const TopicRecord* topic(std::string_view name) const;
  // The topic with id `id`; nullptr when there is none.
  const TopicRecord* topic_by_id(std::uint64_t id) const;
  // The id the next created topic gets (1 in an empty state).
  std::uint64_t next_topic_id() const { return next_topic_id_; }

  // Every group with committed offsets, sorted by name.
  const GroupOffsetMap& group_offsets() const { return groups_; }
  // The committed offsets of `group`; nullptr when it has none.
  const GroupOffsets* offsets(std::string_view group) const;

  // Every job, sorted by name.
  const JobMap& jobs() const { return jobs_; }
  // The job named `name`; nullptr when there is none.
  const JobRecord* job(std::string_view name) const;
  // Every run kept, by run id.
  const RunMap& runs() const { return runs_; }
  // The run `run_id`; nullptr when there is none (or it was dropped).
  const RunRecord* run(std::uint64_t run_id) const;
  // The runs of job `name` (also those of a deleted job still unfinished),
  // sorted by run id. Pointers valid until the next apply.
  std::vector<const RunRecord*> runs_of(std::string_view name) const;
  // Every run not finished (dispatched or running), sorted by run id.
  // Indexed: costs the number of unfinished runs, not of all runs.
  std::vector<const RunRecord*> unfinished_runs() const;
  // The ids of the unfinished runs dispatched to `agent` (ascending, so
  // new runs are past the largest id a reader saw); nullptr for none.
  const std::set<std::uint64_t>* unfinished_on(std::string_view agent) const;
  // How many runs of `job` are unfinished; O(log n).
  std::size_t unfinished_of_job(std::string_view job) const;
  // Unfinished runs per agent (agents with none are absent).
  std::map<std::string, std::size_t, std::less<>> unfinished_per_agent() const;
  // Goes up whenever a job is added, deleted, changed, paused or resumed
  // (not when only its last_slot_ms moves). Not replicated: a local
  // counter for the scheduler to notice job changes cheaply.
  std::uint64_t jobs_version() const { return jobs_version_; }
  // The runs that finished lately, for the scheduler's retries: each
  // finish gets the next finished_seq(); finished_after(seq, &ids) appends
  // the ids of the runs that finished after `seq` and returns true, or
  // returns false when it no longer knows them all (more than
  // kFinishedLogSize since, or a snapshot was restored): then the caller
  // rescans runs(). Not replicated, like jobs_version().
  std::uint64_t finished_seq() const { return finished_seq_; }
  bool finished_after(std::uint64_t seq, std::vector<std::uint64_t>* ids) const;
  static constexpr std::size_t kFinishedLogSize = 10000;
  // The missed slots of job `name`, oldest first; nullptr for no such job.
  const MissedSlots* missed(std::string_view name) const;
  // Every lock, expired ones included, sorted by name.
  const LockMap& locks() const { return locks_; }
  // The lock `name`; nullptr when there is none.
  const LockRecord* lock(std::string_view name) const;

  // Quorum-loss recovery only (nwagent --recover): drops every node but
  // `id` and bumps the version. Not a replicated change: the recovered
  // agent's new snapshot carries the result to the agents that join it.
  void retain_only(std::string_view id);

  // The whole state, applied index and version included, as bytes
  // (docs/formats/controller-commands.md, "Snapshot").
  std::string snapshot() const;
  // The state `bytes` encodes; restore(s.snapshot()) equals s exactly.
  // Errors: Code::corruption for an unknown version, truncated or
  // trailing bytes, or a state that breaks an invariant (ids not strictly
  // ascending, a raft id of 0 or used twice, a topic or offset breaking
  // the invariants above). Reads every snapshot version this build
  // supports (1: nodes only; 2: nodes, topics, offsets; 3: those, jobs,
  // runs, missed slots and locks).
  static Result<ClusterState> restore(std::string_view bytes);

 private:
  Status apply_command(const Command& c);
  Status apply_one(const RegisterNode& c);
  Status apply_one(const UpdateNode& c);
  Status apply_one(const SetRole& c);
  Status apply_one(const SetState& c);
  Status apply_one(const Heartbeat& c);
  Status apply_one(const RemoveNode& c);
  Status apply_one(const SetLabels& c);
  Status apply_one(const CreateTopic& c);
  Status apply_one(const DeleteTopic& c);
  Status apply_one(const AlterTopic& c);
  Status apply_one(const SetPartitionReplicas& c);
  Status apply_one(const CommitOffsets& c);
  Status apply_one(const DeleteGroup& c);
  Status apply_one(const PutJob& c);
  Status apply_one(const DeleteJob& c);
  Status apply_one(const SetJobEnabled& c);
  Status apply_one(const CreateRun& c);
  Status apply_one(const UpdateRun& c);
  Status apply_one(const ReportRuns& c);
  Status apply_one(const RecordMissed& c);
  Status apply_one(const AcquireLock& c);
  Status apply_one(const RenewLock& c);
  Status apply_one(const ReleaseLock& c);
  // Adds `run` to runs_ and its indexes.
  void insert_run(RunRecord run);
  // Removes run `run_id` from runs_ and its indexes.
  void erase_run(std::uint64_t run_id);
  // Drops the oldest finished runs of `job` beyond kMaxFinishedRunsPerJob.
  void prune_runs(const std::string& job);
  // OK when `replicas` is non-empty (unless `may_be_empty`), names no node
  // twice, and names only nodes that are in one of the `known` lists
  // (the partition's current replicas and target) or registered and not
  // left. `what` starts the messages ("create topic t: partition 0").
  Status check_replicas(
      const std::vector<std::string>& replicas, bool may_be_empty,
      const std::vector<const std::vector<std::string>*>& known,
      const std::string& what) const;
  // check_replicas of each list of new partitions, numbered from `first`.
  Status check_new_partitions(
      const std::vector<std::vector<std::string>>& lists, std::size_t first,
      const std::string& what) const;
  // Restores the sections snapshot version 2 adds.
  Status restore_topics(raft::ByteReader* r);
  // Appends / restores the sections snapshot version 3 adds.
  void snapshot_jobs(std::string* out) const;
  Status restore_jobs(raft::ByteReader* r);
  // The node `id` for a change, or not_found.
  Result<NodeRecord*> find(std::string_view id);

  raft::LogIndex applied_index_;
  std::uint64_t version_ = 0;
  NodeMap nodes_;
  std::map<raft::NodeId, std::string> by_raft_;  // raft id -> node id
  TopicMap topics_;
  std::map<std::uint64_t, std::string> topic_ids_;  // topic id -> name
  std::uint64_t next_topic_id_ = 1;
  GroupOffsetMap groups_;
  JobMap jobs_;
  std::map<std::string, MissedSlots> missed_;  // one entry per job
  RunMap runs_;
  // (job, slot_ms, shard_index, attempt) -> run id, for every run in runs_.
  std::map<std::tuple<std::string, std::int64_t, std::uint32_t, std::uint32_t>,
           std::uint64_t>
      run_keys_;
  // job -> its run ids, for every run in runs_ (no empty sets).
  std::map<std::string, std::set<std::uint64_t>> job_runs_;
  std::set<std::uint64_t> unfinished_;  // ids of the unfinished runs_
  // The same ids by agent and counted by job (no empty entries).
  std::map<std::string, std::set<std::uint64_t>, std::less<>>
      unfinished_by_agent_;
  std::map<std::string, std::size_t, std::less<>> unfinished_by_job_;
  void index_unfinished(const RunRecord& r);
  void unindex_unfinished(const RunRecord& r);
  std::uint64_t jobs_version_ = 0;
  std::uint64_t finished_seq_ = 0;
  // (finished_seq, run id), the last kFinishedLogSize finishes.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> finished_log_;
  LockMap locks_;
  // Set by apply_one when it changed something; read by apply().
  bool changed_ = false;
};

// The next value of a process-wide counter behind jobs_version().
std::uint64_t next_jobs_version();

}  // namespace nw::controller
