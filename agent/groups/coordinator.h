#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/groups/assignment.h"
#include "common/base/result.h"
#include "common/base/time.h"
#include "common/base/units.h"

namespace nw::groups {

// The limits of docs/api.md, "Consumer groups".
inline constexpr std::size_t kMaxNameLength = 200;
inline constexpr Duration kMinSessionTimeout = std::chrono::seconds(1);
inline constexpr Duration kMaxSessionTimeout = std::chrono::minutes(5);
inline constexpr Duration kDefaultSessionTimeout = std::chrono::seconds(10);

// invalid_argument unless name is 1 to 200 characters of [A-Za-z0-9._-];
// `what` is "group" or "topic" (for the message).
Status validate_name(std::string_view what, std::string_view name);

enum class Strategy { range, roundrobin };
std::string_view to_string(Strategy s);
// "range" or "roundrobin"; nullopt for anything else.
std::optional<Strategy> strategy_from_string(std::string_view s);

// stable: members, and the generation has not moved for a session timeout;
// rebalancing: members, and the generation moved within the longest
// session timeout of its members; empty: committed offsets, no members.
enum class GroupState { stable, rebalancing, empty };
std::string_view to_string(GroupState s);

// One offset to commit: the offset of the next record to consume.
struct OffsetCommit {
  std::string topic;
  int partition = 0;
  std::uint64_t offset = 0;

  bool operator==(const OffsetCommit&) const = default;
};

// (topic, partition) -> committed offset.
using OffsetMap = std::map<std::pair<std::string, int>, std::uint64_t>;

// What the coordinator needs from the rest of the agent. Everything but
// offset_for_time and new_member_id is required. None of these may call
// back into the Coordinator. The read functions may be called with the
// coordinator's lock held, so they must be quick (local controller state);
// commit and delete_offsets (a Raft round trip) never are.
struct CoordinatorOptions {
  // A monotonic clock (sessions, "rebalancing").
  std::function<MonoTime()> now;
  // The partition count of a topic; not_found for an unknown topic.
  std::function<Result<int>(const std::string& topic)> partition_count;
  // Durably records offsets of a group (the controller's CommitOffsets),
  // all or nothing.
  std::function<Status(const std::string& group,
                       const std::vector<OffsetCommit>& offsets)>
      commit;
  // The group's committed offsets (empty for an unknown group).
  std::function<OffsetMap(const std::string& group)> committed;
  // Every group with at least one committed offset.
  std::function<std::vector<std::string>()> groups_with_offsets;
  // (start offset, high watermark) of a partition.
  std::function<Result<std::pair<std::uint64_t, std::uint64_t>>(
      const std::string& topic, int partition)>
      offsets_range;
  // Durably drops every committed offset of a group (the controller's
  // DeleteGroup); not_found when it has none.
  std::function<Status(const std::string& group)> delete_offsets;
  // Optional: the first offset whose record timestamp is at or after `at`
  // (the high watermark when none is). Without it, resets "to": "time"
  // answer failed_precondition.
  std::function<Result<std::uint64_t>(const std::string& topic, int partition,
                                      WallTime at)>
      offset_for_time;
  // Optional: a new member id; default "m-" + 16 random hex digits.
  std::function<std::string()> new_member_id;
};

struct JoinRequest {
  // "" for a new member; an id this coordinator does not know (say, from
  // before a leader change) joins as a new member with a fresh id.
  std::string member_id;
  std::string client_id;
  std::vector<std::string> topics;  // at least one; duplicates ignored
  Strategy strategy = Strategy::range;
  Duration session_timeout = kDefaultSessionTimeout;
};

struct JoinResult {
  std::string member_id;
  std::uint64_t generation = 0;
  std::vector<TopicPartition> assignment;
  Duration heartbeat_interval{0};       // a third of the session timeout
  Strategy strategy = Strategy::range;  // the group's (its first member's)
};

struct HeartbeatResult {
  std::uint64_t generation = 0;
  std::vector<TopicPartition> assignment;
  bool rebalance = false;  // the generation is not the one the member sent
};

struct GroupSummary {
  std::string group;
  GroupState state = GroupState::empty;
  std::size_t members = 0;
  std::uint64_t generation = 0;  // 0 without members
};

struct MemberInfo {
  std::string member_id;
  std::string client_id;
  std::vector<std::string> topics;
  Duration session_timeout{0};
  std::vector<TopicPartition> assignment;
};

// A committed offset and how far its partition's consumers are behind.
struct OffsetLag {
  std::string topic;
  int partition = 0;
  std::uint64_t committed = 0;
  // Unset when the partition's range is unknown (deleted, no leader).
  std::optional<std::uint64_t> high_watermark;
  std::optional<std::uint64_t> lag;  // high watermark - committed, >= 0
  std::string member_id;             // the member assigned the partition, or ""
};

struct GroupDescription {
  std::string group;
  GroupState state = GroupState::empty;
  std::uint64_t generation = 0;
  std::optional<Strategy> strategy;  // unset without members
  std::vector<MemberInfo> members;   // sorted by member id
  std::vector<OffsetLag> offsets;    // sorted by (topic, partition)
};

enum class ResetTo { earliest, latest, offset, time, shift };
std::string_view to_string(ResetTo t);
std::optional<ResetTo> reset_to_from_string(std::string_view s);

struct ResetRequest {
  // "" resets every topic the group has committed offsets for.
  std::string topic;
  ResetTo to = ResetTo::earliest;
  // offset: the offset (>= 0); time: ms since the Unix epoch; shift: added
  // to the committed offset (may be negative); unused otherwise.
  std::int64_t value = 0;
  bool execute = false;
};

struct ResetRow {
  std::string topic;
  int partition = 0;
  std::optional<std::uint64_t> current;  // unset: nothing committed yet
  std::uint64_t next = 0;  // clamped into [start offset, high watermark]
};

struct ResetResult {
  bool executed = false;
  std::vector<ResetRow> plan;  // sorted by (topic, partition)
};

// The consumer-group coordinator (docs/api.md, "Consumer groups"): group
// membership, generations and assignments, and the checks in front of the
// durable offset commits. It runs on the controller leader; membership
// lives only here, in memory, while committed offsets live in the
// replicated controller state behind the injected functions.
//
// Generations: every change of a group's members (join, leave, a member
// whose session timed out, a member that changed its topics) or of the
// partition count of a subscribed topic (noticed on join, heartbeat and
// expire()) starts a new generation with a new assignment, computed by the
// strategy of the group's first member. Members learn of it from their next
// heartbeat. A group that loses its last member is forgotten, so its next
// member starts again at generation 1; member ids are random, so a stale
// member can never pass for a new one.
//
// Offset commits carry the member id and generation and are refused with
// conflict when either is stale; a commit also counts as a heartbeat. The
// check and the durable write are done under a commit lock that orders
// every commit, reset and delete, so a commit that passed the check of an
// older generation cannot land after a commit of a newer one.
//
// Lifecycle: constructed when the agent starts; clear() when this agent
// stops leading the controller (members then get not_found and rejoin the
// new leader's coordinator). The caller runs expire() periodically (every
// second or so); the coordinator has no threads of its own.
//
// Threads: every method is thread-safe. Membership is guarded by mu_;
// commit_mu_ (taken before mu_, never after) serializes the durable writes
// so that heartbeats never wait for a Raft round trip.
class Coordinator {
 public:
  // REQUIRES: the required functions of options are set.
  explicit Coordinator(CoordinatorOptions options);
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Adds a member to the group (creating the group), or updates a known
  // member's subscription. A new member, or changed topics, start a new
  // generation. Errors: invalid_argument (bad names, no topics, session
  // timeout out of [1 s, 5 min]), not_found (a topic does not exist).
  Result<JoinResult> join(const std::string& group, const JoinRequest& request);

  // Keeps a member's session alive and tells it its generation and
  // assignment. Errors: not_found (unknown group or member, or its session
  // had expired: rejoin).
  Result<HeartbeatResult> heartbeat(const std::string& group,
                                    const std::string& member_id,
                                    std::uint64_t generation);

  // Removes a member at once (new generation for the others).
  // Errors: not_found (unknown group or member).
  Status leave(const std::string& group, const std::string& member_id);

  // Commits offsets. With a member id, the member must be in the group at
  // that generation; with member_id "", the group must have no members.
  // Errors: invalid_argument (no offsets, bad names, a partition listed
  // twice or out of range), not_found (unknown topic), conflict (unknown
  // member or stale generation: rejoin), failed_precondition (members and
  // no member id), and what options.commit returns.
  Status commit_offsets(const std::string& group, const std::string& member_id,
                        std::uint64_t generation,
                        const std::vector<OffsetCommit>& offsets);

  // The group's committed offsets, sorted by (topic, partition); empty for
  // a group that has none. Errors: invalid_argument (bad name).
  Result<std::vector<OffsetCommit>> fetch_offsets(
      const std::string& group) const;

  // Every group with members or committed offsets, sorted by name.
  std::vector<GroupSummary> list() const;

  // A group's members, assignments and offsets with lag.
  // Errors: invalid_argument (bad name), not_found (no members and no
  // committed offsets).
  Result<GroupDescription> describe(const std::string& group) const;

  // Computes where a reset would move the offsets of a topic's partitions
  // (every partition of the topic, or of every topic with committed
  // offsets when request.topic is ""), and commits it when
  // request.execute. Errors: invalid_argument (bad name or value),
  // not_found (unknown topic; no topic named and nothing committed),
  // failed_precondition (execute while the group has members; shift of a
  // partition with nothing committed; time without offset_for_time), and
  // the errors of the injected functions.
  Result<ResetResult> reset_offsets(const std::string& group,
                                    const ResetRequest& request);

  // Deletes the group's committed offsets. Errors: invalid_argument (bad
  // name), failed_precondition (the group has members), not_found (no
  // committed offsets), and what options.delete_offsets returns.
  Status delete_group(const std::string& group);

  // Drops every member whose session timed out and rechecks partition
  // counts, starting new generations where anything changed. Returns the
  // number of members dropped.
  std::size_t expire();

  // Forgets every member and group (this agent stopped leading). Committed
  // offsets are untouched.
  void clear();

 private:
  struct Member {
    std::string client_id;
    std::vector<std::string> topics;  // sorted, unique
    Duration session_timeout{0};
    MonoTime last_seen;
    std::vector<TopicPartition> assignment;
  };
  struct Group {
    Strategy strategy = Strategy::range;
    std::uint64_t generation = 0;
    MonoTime generation_started;
    std::map<std::string, Member> members;  // by member id
    // The counts the current assignment was computed from.
    PartitionCounts counts;
  };

  // The partition counts of every topic the group's members read; a topic
  // that vanished counts 0, one whose count cannot be read keeps its old
  // count. Calls options_.partition_count.
  PartitionCounts current_counts(const Group& g) const;
  // Starts a new generation: recomputes every member's assignment.
  void rebalance(Group& g, MonoTime now, PartitionCounts counts);
  // Drops g's timed-out members and rebalances if needed. Returns how many
  // were dropped; erases the group (invalidating g) when it is left empty.
  std::size_t expire_group(const std::string& name, MonoTime now);
  // Rebalances g when a subscribed topic's partition count changed.
  void check_counts(Group& g, MonoTime now);
  GroupState state_of(const Group& g, MonoTime now) const;
  std::string make_member_id();

  const CoordinatorOptions options_;
  // Serializes commit, reset and delete; taken before mu_.
  std::mutex commit_mu_;
  mutable std::mutex mu_;
  std::map<std::string, Group> groups_;  // guarded by mu_; only non-empty
  std::mt19937_64 rng_;                  // guarded by mu_
};

}  // namespace nw::groups
