#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/controller/job_record.h"
#include "agent/controller/node_record.h"
#include "agent/controller/topic_record.h"
#include "agent/raft/types.h"
#include "common/base/result.h"

// The commands of the controller's state machine and their binary encoding
// (docs/formats/controller-commands.md). A command is the data of a normal
// Raft entry of the controller group; ClusterState::apply decodes it.
//
// To add a command type (jobs, services, ...): a new struct here, a new
// CommandType value (never reuse or renumber one), a new alternative at the
// END of Command, its encode/decode case in command_codec.cc and its apply
// case in cluster_state.cc. Existing encodings never change; a changed
// layout of an existing type needs a new format version.
//
// Value types; the codec functions are pure and safe from any thread.
namespace nw::controller {

// The tag byte of each command type (byte 1 of the encoding).
enum class CommandType : std::uint8_t {
  register_node = 1,
  update_node = 2,
  set_role = 3,
  set_state = 4,
  heartbeat = 5,
  remove_node = 6,
  set_labels = 7,
  create_topic = 8,
  delete_topic = 9,
  alter_topic = 10,
  set_partition_replicas = 11,
  commit_offsets = 12,
  delete_group = 13,
  put_job = 14,
  delete_job = 15,
  set_job_enabled = 16,
  create_run = 17,
  update_run = 18,
  record_missed = 19,
  acquire_lock = 20,
  renew_lock = 21,
  release_lock = 22,
  report_runs = 23,
};

std::string_view to_string(CommandType t);

// Adds a node, or, for an id already registered with the same raft id,
// replaces its addresses, labels and role (so a retried join is harmless).
// state and last_heartbeat_ms of `node` are ignored and not encoded.
struct RegisterNode {
  NodeRecord node;
  bool operator==(const RegisterNode&) const = default;
};

// Replaces the fields that are set, keeps the others.
struct UpdateNode {
  std::string id;
  std::optional<std::string> api_addr;
  std::optional<std::string> peer_addr;
  std::optional<std::map<std::string, std::string>> labels;
  bool operator==(const UpdateNode&) const = default;
};

struct SetRole {
  std::string id;
  NodeRecord::Role role = NodeRecord::Role::voter;
  bool operator==(const SetRole&) const = default;
};

struct SetState {
  std::string id;
  NodeRecord::State state = NodeRecord::State::healthy;
  bool operator==(const SetState&) const = default;
};

// `time_ms` is the proposing leader's wall clock.
struct Heartbeat {
  std::string id;
  std::int64_t time_ms = 0;
  bool operator==(const Heartbeat&) const = default;
};

struct RemoveNode {
  std::string id;
  bool operator==(const RemoveNode&) const = default;
};

// Sets and removes some labels of a node, keeping the others; merged in
// the state machine, so concurrent label writes never lose each other.
// A key in both is set (remove applies first).
struct SetLabels {
  std::string id;
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;  // strictly ascending
  bool operator==(const SetLabels&) const = default;
};

// Creates a topic with id next_topic_id. The proposer computes the
// placement (placement.h) from the state it read; apply only validates it,
// so it stays deterministic.
// Rejections: invalid_argument (name not valid_name(), 0 or more than
// kMaxPartitions partitions, an empty replica list or a node twice in one,
// a retention neither -1 nor positive, segment_bytes 0, segment_ms
// negative), conflict (the
// name exists), not_found (a replica is not a registered node),
// failed_precondition (a replica has left the cluster).
struct CreateTopic {
  std::string name;
  // One replica list per partition; the first replica of each is its
  // preferred leader.
  std::vector<std::vector<std::string>> partitions;
  std::int64_t retention_ms = -1;
  std::int64_t retention_bytes = -1;
  std::uint64_t segment_bytes = 0;
  // 0: the default (TopicRecord::segment_ms). Encoded only in format
  // version 2; a version-1 create_topic decodes with 0.
  std::int64_t segment_ms = 0;
  bool operator==(const CreateTopic&) const = default;
};

// Deletes a topic and every group's committed offsets of it (a group left
// without offsets disappears). Rejections: not_found.
struct DeleteTopic {
  std::string name;
  bool operator==(const DeleteTopic&) const = default;
};

// Changes the retention and segment limits that are set, and appends
// partitions (one replica list each; may be empty). Rejections: not_found
// (the topic, or a replica node), and those of CreateTopic for the new
// values, including more than kMaxPartitions partitions in all.
struct AlterTopic {
  std::string name;
  std::optional<std::int64_t> retention_ms;
  std::optional<std::int64_t> retention_bytes;
  std::vector<std::vector<std::string>> new_partitions;
  // Initialised so that older aggregate initialisations (name, retention
  // ms, retention bytes, new partitions) stay complete.
  std::optional<std::uint64_t> segment_bytes = std::nullopt;
  std::optional<std::int64_t> segment_ms = std::nullopt;  // 0: the default
  bool operator==(const AlterTopic&) const = default;
};

// Sets the replicas and the reassignment target of one partition; the
// partition layer uses it to move a partition step by step and finally
// sets replicas = target, target empty. A node already among the
// partition's replicas or target is accepted even when it has since been
// removed (so a partition can move off a dead agent); a new node must be
// registered and not have left.
// Rejections: not_found (topic, partition, or a new node), invalid_argument
// (replicas empty, a node twice in a list), failed_precondition (a new
// node has left).
struct SetPartitionReplicas {
  std::string topic;
  std::uint32_t partition = 0;
  std::vector<std::string> replicas;
  std::vector<std::string> target_replicas;  // empty: no reassignment
  bool operator==(const SetPartitionReplicas&) const = default;
};

// One committed offset: the offset of the next record to consume.
struct PartitionOffset {
  std::string topic;
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
  bool operator==(const PartitionOffset&) const = default;
};

// Records a group's offsets, all or nothing (an offset may move backwards:
// resets). Rejections: invalid_argument (group name not valid_name(), no
// offsets, a (topic, partition) twice), not_found (an unknown topic or
// partition).
struct CommitOffsets {
  std::string group;
  std::vector<PartitionOffset> offsets;
  bool operator==(const CommitOffsets&) const = default;
};

// Drops every committed offset of a group. Rejections: not_found (the
// group has none).
struct DeleteGroup {
  std::string group;
  bool operator==(const DeleteGroup&) const = default;
};

// Adds the job `name` or replaces its spec, keeping its run history,
// missed slots and last slot; the version goes up by one when the spec or
// enabled changed (a put of the same spec changes nothing). enabled is set
// from the spec's `enabled`.
// Rejections: invalid_argument (name not a job name; spec_json not a valid
// job, not naming `name`, or not in canonical form: config::encode_job of
// its decoding).
struct PutJob {
  std::string name;
  std::string spec_json;
  // The proposer's (the leader's) clock: the job's changed_ms when the
  // spec changes.
  std::int64_t now_ms = 0;
  bool operator==(const PutJob&) const = default;
};

// Deletes a job with its missed slots and finished runs; its unfinished
// runs stay until they finish (so their agents can still report), then go.
// Rejections: not_found.
struct DeleteJob {
  std::string name;
  bool operator==(const DeleteJob&) const = default;
};

// Pauses (false) or resumes (true) a job. Rejections: not_found.
struct SetJobEnabled {
  std::string name;
  bool enabled = true;
  bool operator==(const SetJobEnabled&) const = default;
};

// Records one run before the leader dispatches it: run_id and
// fencing_token are the entry's log index; state dispatched; created_ms =
// now_ms. Advances the job's last_slot_ms to slot_ms, unless `manual` (a
// run asked for by hand: slot_ms is the time it was asked for; it may run
// a paused job and does not touch last_slot_ms).
// Rejections: not_found (job; agent not a registered node),
// failed_precondition (job paused, unless manual; agent has left; for attempt >
// 1, the previous attempt of the same slot and shard is not a finished failed,
// timed_out or lost run), conflict (a run of the same job, slot, shard and
// attempt exists; attempt 1 of a scheduled slot before last_slot_ms),
// invalid_argument (attempt 0, shard_index >= shard_count, lease_until_ms
// not in (now_ms, now_ms + kMaxLeaseMs]).
struct CreateRun {
  std::string job;
  std::int64_t slot_ms = 0;
  std::uint32_t attempt = 1;
  std::string agent;
  std::uint32_t shard_index = 0;
  std::uint32_t shard_count = 1;
  std::int64_t lease_until_ms = 0;
  std::int64_t now_ms = 0;
  bool manual = false;
  bool operator==(const CreateRun&) const = default;
};

// A runner's (or, for lost, the leader's) report on a run. Legal moves:
// dispatched -> dispatched (a run waiting for a worker renews: sets
// lease_until_ms only); dispatched -> running (sets started_ms,
// lease_until_ms); running ->
// running (renews: sets lease_until_ms only); dispatched | running ->
// succeeded | failed | timed_out | cancelled (sets exit_code, reason,
// ended_ms, and started_ms when still dispatched: a short run is reported
// once, at its end, and a run cancelled before it started has 0);
// dispatched | running -> lost (sets reason, ended_ms; only when ended_ms
// >= the run's lease_until_ms, so a renewal committed first wins). Fields
// a move does not set are ignored. When a run finishes, its job keeps
// only its newest kMaxFinishedRunsPerJob finished runs (by run id); a
// finished run of a deleted job is dropped.
// Rejections: not_found (run), failed_precondition ("stale fencing token"
// when the token is not the run's; the run finished; the lease has not
// expired for lost), invalid_argument (any other move; a reason over
// kMaxReasonBytes).
struct UpdateRun {
  std::uint64_t run_id = 0;
  std::uint64_t fencing_token = 0;
  RunRecord::State state = RunRecord::State::running;
  std::int32_t exit_code = 0;
  std::string reason;
  std::int64_t started_ms = 0;
  std::int64_t ended_ms = 0;
  std::int64_t lease_until_ms = 0;
  bool operator==(const UpdateRun&) const = default;
};

// Records a slot that gets no run (the job keeps its last
// kMaxMissedPerJob) and advances last_slot_ms to it.
// Rejections: not_found (job), invalid_argument (reason empty or over
// kMaxReasonBytes), conflict (slot_ms before last_slot_ms).
struct RecordMissed {
  std::string job;
  std::int64_t slot_ms = 0;
  std::string reason;
  bool operator==(const RecordMissed&) const = default;
};

// Takes the lock `name` for `holder` until now_ms + ttl_ms when it is
// free or expired (its deadline <= now_ms), with token = the entry's log
// index; the same holder acquiring a held lock renews it (token kept).
// Rejections: invalid_argument (name not valid_name(), holder empty or
// over kMaxReasonBytes, ttl_ms not in 1..kMaxLeaseMs, now_ms + ttl_ms
// overflows), conflict (held by another holder until after now_ms).
struct AcquireLock {
  std::string name;
  std::string holder;
  std::int64_t ttl_ms = 0;
  std::int64_t now_ms = 0;
  bool operator==(const AcquireLock&) const = default;
};

// Extends a held lock to now_ms + ttl_ms. Rejections: not_found,
// failed_precondition (holder or token not the lock's: "stale fencing
// token"; expired at now_ms), invalid_argument (ttl as in AcquireLock).
struct RenewLock {
  std::string name;
  std::string holder;
  std::uint64_t token = 0;
  std::int64_t now_ms = 0;
  std::int64_t ttl_ms = 0;
  bool operator==(const RenewLock&) const = default;
};

// Frees a lock (expired or not) if holder and token are still the lock's.
// Rejections: not_found, failed_precondition ("stale fencing token").
struct ReleaseLock {
  std::string name;
  std::string holder;
  std::uint64_t token = 0;
  bool operator==(const ReleaseLock&) const = default;
};

// Several runners' end-of-run reports in one entry (a runner groups the
// reports that are ready together, so a busy agent costs one entry per
// batch instead of one per run). Each update is applied as an UpdateRun
// on its own, in order; one that UpdateRun would reject changes nothing
// and is skipped, and the command itself is never rejected: a refused end
// report means the run is no longer the reporter's (lost, or finished),
// and the reporter drops it either way. At most kMaxReportRuns updates.
struct ReportRuns {
  std::vector<UpdateRun> updates;
  bool operator==(const ReportRuns&) const = default;
};
inline constexpr std::size_t kMaxReportRuns = 4096;

// Alternatives are in CommandType order; new ones go at the end.
using Command =
    std::variant<RegisterNode, UpdateNode, SetRole, SetState, Heartbeat,
                 RemoveNode, SetLabels, CreateTopic, DeleteTopic, AlterTopic,
                 SetPartitionReplicas, CommitOffsets, DeleteGroup, PutJob,
                 DeleteJob, SetJobEnabled, CreateRun, UpdateRun, RecordMissed,
                 AcquireLock, RenewLock, ReleaseLock, ReportRuns>;

CommandType command_type(const Command& c);

// The format version encode_command writes (byte 0 of the encoding) for
// every command but a create_topic with segment_ms set, which takes
// kCreateTopicSegmentMsVersion: version 2 differs from 1 only in that
// create_topic appends its segment_ms. So a command encodes in the lowest
// version that holds it, and what an older build wrote still decodes.
inline constexpr std::uint8_t kCommandFormatVersion = 1;
inline constexpr std::uint8_t kCreateTopicSegmentMsVersion = 2;

// `c` as bytes, format version kCommandFormatVersion (or 2, above).
std::string encode_command(const Command& c);

// The command encoded in `bytes`, which may be hostile: nothing asserts,
// and no allocation is sized by a length the bytes claim but do not hold.
// Errors: Code::invalid_argument ("controller command: <reason>") for an
// unknown version or type, a truncated field, an out-of-range enum, a
// non-canonical encoding (labels or remove keys not strictly ascending,
// reserved bits, a bool other than 0 or 1, version 2 for anything but a
// create_topic with segment_ms set) or trailing bytes. Every accepted
// input is exactly encode_command of the result. Semantic checks (names,
// duplicates, ranges) are ClusterState::apply's, not the decoder's.
Result<Command> decode_command(std::string_view bytes);

}  // namespace nw::controller
