#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/base/time.h"

// The consumer-group side of docs/api.md ("Consumer groups") that does no
// I/O: request bodies, decoders of the answers, the `nwctl group` tables
// and the checks of `group reset-offsets`. group.cc (the group commands)
// and group_consumer.cc (`consume --group`) use them.
//
// Decoders fail with invalid_argument naming the field and ignore unknown
// fields. Threads: none; pure functions.
namespace nw::ctl {

struct TopicPartition {
  std::string topic;
  std::uint32_t partition = 0;
  bool operator==(const TopicPartition&) const = default;
};

// POST /v1/groups/{group}/join.
struct JoinAnswer {
  std::string member_id;
  std::uint64_t generation = 0;
  std::vector<TopicPartition> assignment;
  std::uint64_t heartbeat_interval_ms = 3000;
};
Result<JoinAnswer> join_answer_from_json(std::string_view body);
std::string group_join_body(std::string_view member_id,
                            std::string_view client_id, std::string_view topic,
                            std::uint64_t session_timeout_ms,
                            std::string_view strategy = "range");

// POST /v1/groups/{group}/heartbeat. assignment is nullopt when the answer
// has none (then the previous one stands).
struct HeartbeatAnswer {
  std::uint64_t generation = 0;
  std::optional<std::vector<TopicPartition>> assignment;
  bool rebalance = false;
};
Result<HeartbeatAnswer> heartbeat_answer_from_json(std::string_view body);
std::string heartbeat_body(std::string_view member_id,
                           std::uint64_t generation);
std::string leave_body(std::string_view member_id);

// A committed offset: the offset of the next record to consume.
struct CommittedOffset {
  std::string topic;
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
};
// POST /v1/groups/{group}/offsets.
std::string commit_body(std::string_view member_id, std::uint64_t generation,
                        const std::vector<CommittedOffset>& offsets);
// GET /v1/groups/{group}/offsets.
Result<std::vector<CommittedOffset>> committed_offsets_from_json(
    std::string_view body);

// GET /v1/groups.
struct GroupSummary {
  std::string group;
  std::string state;  // stable | rebalancing | empty
  std::uint64_t members = 0;
  std::uint64_t generation = 0;
};
Result<std::vector<GroupSummary>> group_list_from_json(std::string_view body);

// GET /v1/groups/{group}.
struct GroupMember {
  std::string member_id;
  std::string client_id;
  std::vector<TopicPartition> assignment;
};
struct GroupOffset {
  std::string topic;
  std::uint32_t partition = 0;
  std::uint64_t committed = 0;
  std::uint64_t high_watermark = 0;
  std::uint64_t lag = 0;
};
struct GroupDetail {
  std::string group;
  std::string state;
  std::uint64_t generation = 0;
  std::string strategy;
  std::vector<GroupMember> members;
  std::vector<GroupOffset> offsets;
};
Result<GroupDetail> group_from_json(std::string_view body);

std::string render_group_list(const std::vector<GroupSummary>& groups);
// Fields, the members (each with its assignment), then one row per
// committed partition with its lag and the member that owns it.
std::string render_group(const GroupDetail& group);

// `group reset-offsets` as typed.
struct ResetFlags {
  std::string group;
  std::string topic;
  bool to_earliest = false;
  bool to_latest = false;
  std::string to_offset;
  std::string to_time;
  std::string shift_by;
  bool execute = false;
};
// The POST /v1/groups/{group}/reset-offsets body. Exactly one of the --to-*
// and --shift-by options; --to-time is sent as milliseconds since the
// epoch. invalid_argument (exit 2) otherwise.
Result<std::string> reset_body(const ResetFlags& flags, WallTime now);

struct ResetRow {
  std::string topic;
  std::uint32_t partition = 0;
  std::optional<std::uint64_t> current;  // nullopt: nothing committed yet
  std::uint64_t next = 0;                // "new" in the answer
};
struct ResetPlan {
  bool executed = false;
  std::vector<ResetRow> plan;
};
Result<ResetPlan> reset_plan_from_json(std::string_view body);
// TOPIC PARTITION CURRENT NEW CHANGE rows.
std::string render_reset_plan(const ResetPlan& plan);

// "/v1/groups/<group, percent-encoded>".
std::string group_path(std::string_view group);

}  // namespace nw::ctl
