#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

// The parts of `nwctl topic ...` that do no I/O: the topic types of
// docs/api.md ("Topics") and their decoders, the checks and request bodies
// of create/alter/reassign, and the tables. topic.cc glues them to the
// HTTP client; produce, consume and bench use TopicInfo to learn the
// partition count.
//
// Argument errors are invalid_argument (exit 2) naming the flag and saying
// what to write instead. Decoders fail with invalid_argument naming the
// field; unknown fields are ignored. Threads: none; pure functions.
namespace nw::ctl {

// One row of GET /v1/topics/{name}'s partition_states.
struct PartitionState {
  std::uint32_t partition = 0;
  std::string leader;  // "" when no replica knows one
  std::vector<std::string> replicas;
  std::vector<std::string> in_sync;
  std::uint64_t high_watermark = 0;
  std::uint64_t start_offset = 0;
  std::uint64_t size_bytes = 0;
  std::string status;  // online | no_leader | offline | reassigning
  std::string error;   // why it is offline; "" otherwise
};

// A topic as GET /v1/topics (without partition states) and GET
// /v1/topics/{name} show it. -1 means "no limit" for the retentions.
struct TopicInfo {
  std::string name;
  std::uint64_t id = 0;
  std::uint32_t partitions = 0;
  std::uint32_t replicas = 0;
  std::int64_t retention_ms = -1;
  std::int64_t retention_bytes = -1;
  std::int64_t segment_bytes = 0;
  // The age at which segments roll; 0 when the agent does not say (older
  // agents). segment_ms_default: it is the default, min(7d, retention).
  std::int64_t segment_ms = 0;
  bool segment_ms_default = false;
  std::vector<PartitionState> partition_states;
};

Result<TopicInfo> topic_from_json(std::string_view body);
// GET /v1/topics.
Result<std::vector<TopicInfo>> topic_list_from_json(std::string_view body);

// "/v1/topics/<name, percent-encoded>".
std::string topic_path(std::string_view name);

// --retention-ms: a number of milliseconds ("604800000"), a duration
// ("7d", "12h", "90m"), or -1 / "unlimited" for no limit.
Result<std::int64_t> parse_retention_ms(std::string_view flag,
                                        std::string_view text);
// --segment-ms: milliseconds (at least 1) or a duration ("1h", "7d");
// with allow_default also "default" (0: back to min(7d, retention)).
Result<std::int64_t> parse_segment_ms(std::string_view flag,
                                      std::string_view text,
                                      bool allow_default);
// --retention-bytes / --segment-bytes: bytes ("1073741824"), a size
// ("1GiB", "500MB"), or, when allow_unlimited, -1 / "unlimited".
Result<std::int64_t> parse_byte_limit(std::string_view flag,
                                      std::string_view text,
                                      bool allow_unlimited);

// The flags of `topic create`, as typed ("" = not given).
struct TopicCreateFlags {
  std::string name;
  std::string partitions;
  std::string replicas;
  std::string retention_ms;
  std::string retention_bytes;
  std::string segment_bytes;
  std::string segment_ms;
};
// The POST /v1/topics body. --partitions (1..1024) and --replicas (1..7)
// are required; --segment-bytes is at least 1 MiB; --segment-ms at least
// 1 ms.
Result<std::string> topic_create_body(const TopicCreateFlags& flags);

struct TopicAlterFlags {
  std::string name;
  std::string partitions;
  std::string retention_ms;
  std::string retention_bytes;
  std::string segment_bytes;
  std::string segment_ms;
};
// The PATCH /v1/topics/{name} body; at least one change is required.
Result<std::string> topic_alter_body(const TopicAlterFlags& flags);

struct TopicReassignFlags {
  std::string name;
  std::string partition;
  std::vector<std::string> replicas;  // each may be a comma-separated list
};
// The POST /v1/topics/{name}/reassign body: the partition and 1..7
// distinct node ids, in order (the first is the preferred leader).
Result<std::string> topic_reassign_body(const TopicReassignFlags& flags);

// `topic list`: one row per topic.
std::string render_topic_list(const std::vector<TopicInfo>& topics);
// `topic describe`: the topic's settings, a blank line, a row per
// partition.
std::string render_topic(const TopicInfo& topic);
// The topic's segment age: "7d", "1h (default)", "-" when unknown.
std::string segment_age_text(const TopicInfo& topic);
// "-1" → "unlimited", else format_duration / format_size.
std::string retention_text(std::int64_t ms);
std::string bytes_text(std::int64_t bytes);

}  // namespace nw::ctl
