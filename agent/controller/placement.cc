#include "agent/controller/placement.h"

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace nw::controller {
namespace {

Error placement_error(Code code, std::string message, std::string hint = {}) {
  return Error(code, "place partitions: " + std::move(message), std::move(hint),
               "controller");
}

// One candidate node and its load.
struct Candidate {
  const std::string* id = nullptr;
  // Its rack key: "r:" + the rack label, or "n:" + its id when it has none
  // (a rack of its own), so the two never collide.
  std::string rack;
  int replicas = 0;  // partitions it holds (or will, as a target)
  int leaders = 0;   // partitions it is the preferred leader of
};

std::vector<Candidate> candidates_of(const ClusterState::NodeMap& nodes) {
  std::vector<Candidate> out;
  for (const auto& [id, n] : nodes) {
    if (n.state == NodeRecord::State::left) continue;
    Candidate c;
    c.id = &n.id;
    auto rack = n.labels.find(kRackLabel);
    c.rack = rack != n.labels.end() && !rack->second.empty()
                 ? "r:" + rack->second
                 : "n:" + n.id;
    out.push_back(std::move(c));
  }
  return out;  // sorted by id, as NodeMap is
}

void count_existing(const TopicMap& topics, std::vector<Candidate>* cands) {
  std::map<std::string_view, Candidate*> by_id;
  for (Candidate& c : *cands) by_id.emplace(*c.id, &c);
  for (const auto& [name, t] : topics) {
    for (const PartitionRecord& p : t.partitions) {
      std::set<std::string_view> holders(p.replicas.begin(), p.replicas.end());
      holders.insert(p.target_replicas.begin(), p.target_replicas.end());
      for (std::string_view id : holders) {
        if (auto it = by_id.find(id); it != by_id.end()) {
          ++it->second->replicas;
        }
      }
      if (p.replicas.empty()) continue;
      if (auto it = by_id.find(p.replicas.front()); it != by_id.end()) {
        ++it->second->leaders;
      }
    }
  }
}

}  // namespace

Result<std::vector<std::vector<std::string>>> place_partitions(
    const ClusterState::NodeMap& nodes, const TopicMap& existing_topics,
    int first_partition, int count, int replicas) {
  if (count < 0 || first_partition < 0 || replicas < 1) {
    return placement_error(Code::invalid_argument,
                           "bad arguments: first partition " +
                               std::to_string(first_partition) + ", count " +
                               std::to_string(count) + ", replicas " +
                               std::to_string(replicas));
  }
  if (static_cast<std::size_t>(first_partition) +
          static_cast<std::size_t>(count) >
      kMaxPartitions) {
    return placement_error(
        Code::invalid_argument,
        std::to_string(first_partition) + " + " + std::to_string(count) +
            " partitions is more than the " + std::to_string(kMaxPartitions) +
            " a topic may have");
  }
  std::vector<Candidate> cands = candidates_of(nodes);
  if (static_cast<std::size_t>(replicas) > cands.size()) {
    const std::string agents = std::to_string(cands.size()) +
                               (cands.size() == 1 ? " agent" : " agents");
    return Error(Code::failed_precondition,
                 "topic needs " + std::to_string(replicas) +
                     " replicas but the cluster has " + agents,
                 "add agents or lower --replicas", "controller");
  }
  count_existing(existing_topics, &cands);

  std::vector<std::vector<std::string>> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int p = 0; p < count; ++p) {
    std::vector<bool> taken(cands.size(), false);
    std::map<std::string_view, int> racks_used;  // rack key -> replicas
    std::vector<std::string> list;
    for (int slot = 0; slot < replicas; ++slot) {
      std::size_t best = cands.size();
      // Lexicographic keys; candidates are in id order, so the first with
      // the smallest key also has the smallest id.
      std::tuple<int, int, int> best_key;
      for (std::size_t i = 0; i < cands.size(); ++i) {
        if (taken[i]) continue;
        const Candidate& c = cands[i];
        std::tuple<int, int, int> key;
        if (slot == 0) {
          key = {c.leaders, c.replicas, 0};
        } else {
          // Among followers equally loaded, the one leading the most: a
          // node that has not led yet soon takes a leader's replica, so
          // the others take the follower load now.
          auto used = racks_used.find(c.rack);
          key = {used == racks_used.end() ? 0 : used->second, c.replicas,
                 -c.leaders};
        }
        if (best == cands.size() || key < best_key) {
          best = i;
          best_key = key;
        }
      }
      Candidate& chosen = cands[best];
      taken[best] = true;
      ++racks_used[chosen.rack];
      ++chosen.replicas;
      if (slot == 0) ++chosen.leaders;
      list.push_back(*chosen.id);
    }
    out.push_back(std::move(list));
  }
  return out;
}

}  // namespace nw::controller
