#include "agent/groups/assignment.h"

#include <algorithm>
#include <set>

namespace nw::groups {
namespace {

// member id -> its topics as a set, in member id order.
std::map<std::string, std::set<std::string>> normalize(
    const std::vector<Subscription>& members) {
  std::map<std::string, std::set<std::string>> out;
  for (const Subscription& m : members) {
    std::set<std::string>& topics = out[m.member_id];
    topics.insert(m.topics.begin(), m.topics.end());
  }
  return out;
}

int count_of(const PartitionCounts& partitions, const std::string& topic) {
  auto it = partitions.find(topic);
  return it == partitions.end() ? 0 : std::max(it->second, 0);
}

Assignment empty_assignment(
    const std::map<std::string, std::set<std::string>>& members) {
  Assignment out;
  for (const auto& [id, topics] : members) out[id];
  return out;
}

}  // namespace

Assignment range(const std::vector<Subscription>& members,
                 const PartitionCounts& partitions) {
  const auto subs = normalize(members);
  Assignment out = empty_assignment(subs);
  // topic -> its subscribers, sorted by id (subs is a sorted map).
  std::map<std::string, std::vector<std::string>> by_topic;
  for (const auto& [id, topics] : subs) {
    for (const std::string& t : topics) by_topic[t].push_back(id);
  }
  for (const auto& [topic, ids] : by_topic) {
    const int n = count_of(partitions, topic);
    const int m = static_cast<int>(ids.size());
    const int each = n / m;
    const int extra = n % m;
    for (int i = 0; i < m; ++i) {
      const int start = i * each + std::min(i, extra);
      const int len = each + (i < extra ? 1 : 0);
      std::vector<TopicPartition>& mine = out[ids[i]];
      for (int p = start; p < start + len; ++p) mine.push_back({topic, p});
    }
  }
  // Topics were visited in order, so each list is already sorted.
  return out;
}

Assignment round_robin(const std::vector<Subscription>& members,
                       const PartitionCounts& partitions) {
  const auto subs = normalize(members);
  Assignment out = empty_assignment(subs);
  std::set<std::string> topics;
  for (const auto& [id, ts] : subs) topics.insert(ts.begin(), ts.end());
  std::vector<const std::string*> ring;
  for (const auto& [id, ts] : subs) ring.push_back(&id);
  std::size_t next = 0;
  for (const std::string& topic : topics) {
    const int n = count_of(partitions, topic);
    for (int p = 0; p < n; ++p) {
      // Someone reads `topic` (it came from a subscription), so this stops
      // within one turn of the ring.
      while (!subs.at(*ring[next]).contains(topic)) {
        next = (next + 1) % ring.size();
      }
      out[*ring[next]].push_back({topic, p});
      next = (next + 1) % ring.size();
    }
  }
  return out;
}

}  // namespace nw::groups
