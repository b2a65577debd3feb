#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/raft/types.h"

namespace nw::controller {

// The replicas of one partition of a topic: a value type, part of
// TopicRecord. Each replica is an agent's node id (NodeRecord::id).
struct PartitionRecord {
  // The agents holding the partition; never empty, no id twice. The first
  // is the preferred leader.
  std::vector<std::string> replicas;
  // Where a reassignment is moving the partition; empty unless one is in
  // progress. The partition layer moves from `replicas` towards it step by
  // step (set_partition_replicas) and ends with replicas = target, target
  // empty.
  std::vector<std::string> target_replicas;
  // The replicas at creation, never changed: the partition's Raft group
  // bootstraps with them as voters on every agent that ever hosts it (a
  // Raft group's initial membership must be the same everywhere).
  std::vector<std::string> initial_replicas;

  bool operator==(const PartitionRecord&) const = default;
};

// One topic as the controller knows it: a value type, part of
// ClusterState and of its snapshot. Every field is replicated and set only
// by commands (create_topic, alter_topic, set_partition_replicas).
struct TopicRecord {
  std::string name;  // valid_name(); the key of ClusterState::topics()
  // Assigned by the state machine from its next_topic_id counter (1, 2,
  // ...), never reused: a topic deleted and created again gets a new id.
  std::uint64_t id = 0;
  // Partition i is partitions[i]; 1..kMaxPartitions of them. Partitions
  // are only ever added, never removed.
  std::vector<PartitionRecord> partitions;
  std::int64_t retention_ms = -1;     // -1: no time limit; else > 0
  std::int64_t retention_bytes = -1;  // per partition; -1: no limit; else > 0
  std::uint64_t segment_bytes = 0;    // > 0
  // The age (ms) at which a partition's active segment rolls; 0: the
  // default, effective_segment_ms(). Topics created before the field
  // existed have 0.
  std::int64_t segment_ms = 0;   // >= 0
  raft::LogIndex created_index;  // the index of its create_topic entry

  bool operator==(const TopicRecord&) const = default;
};

// Every topic, sorted by name.
using TopicMap = std::map<std::string, TopicRecord>;

// The committed offsets of one consumer group: (topic, partition) ->
// the offset of the next record to consume.
using GroupOffsets =
    std::map<std::pair<std::string, std::uint32_t>, std::uint64_t>;
// Every group with at least one committed offset, sorted by name.
using GroupOffsetMap = std::map<std::string, GroupOffsets>;

inline constexpr std::size_t kMaxNameLength = 200;
// The default segment age limit, as Kafka's segment.ms.
inline constexpr std::int64_t kDefaultSegmentMs = 7LL * 24 * 3600 * 1000;

// The segment age limit the topic's partitions use: segment_ms when set,
// else min(kDefaultSegmentMs, retention_ms) (retention_ms when it is a
// limit), so that time retention, which deletes whole segments, can act
// within about twice retention_ms even when the default applies.
std::int64_t effective_segment_ms(const TopicRecord& t);

inline constexpr std::size_t kMaxPartitions = 1024;

// Whether `name` is a valid topic or group name: 1 to kMaxNameLength
// characters of [A-Za-z0-9._-] (docs/api.md, "Topics").
bool valid_name(std::string_view name);

}  // namespace nw::controller
