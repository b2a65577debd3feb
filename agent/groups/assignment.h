#pragma once

#include <compare>
#include <map>
#include <string>
#include <vector>

// Partition assignment for consumer groups: pure functions, no state, no
// threads; safe to call from anywhere.
namespace nw::groups {

// One partition of one topic.
struct TopicPartition {
  std::string topic;
  int partition = 0;

  auto operator<=>(const TopicPartition&) const = default;
};

// A member as the assignors see it: its id and the topics it reads.
struct Subscription {
  std::string member_id;
  std::vector<std::string> topics;
};

// member id -> its partitions, sorted by (topic, partition). Every member
// given has an entry, possibly empty.
using Assignment = std::map<std::string, std::vector<TopicPartition>>;

// topic -> partition count. A topic that is missing (or has 0 partitions)
// is assigned to nobody.
using PartitionCounts = std::map<std::string, int>;

// Kafka's RangeAssignor: for each topic on its own, the members subscribed
// to it (sorted by id) get contiguous ranges of its partitions; with P
// partitions and M members each gets P / M, and the first P % M members
// one more. Deterministic: the order of `members` and of their topics does
// not matter (both are sorted first; a topic listed twice counts once).
Assignment range(const std::vector<Subscription>& members,
                 const PartitionCounts& partitions);

// Kafka's RoundRobinAssignor: every subscribed topic-partition, sorted by
// (topic, partition), is dealt in turn to the members (sorted by id, in a
// circle), skipping members not subscribed to its topic. Spreads better
// than range when members subscribe to many topics with few partitions.
// Deterministic in the same way as range().
Assignment round_robin(const std::vector<Subscription>& members,
                       const PartitionCounts& partitions);

}  // namespace nw::groups
