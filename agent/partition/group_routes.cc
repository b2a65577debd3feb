// The consumer-group coordinator (agent/groups) wired into the agent: its
// offsets live in the controller state, its partition ranges come from the
// partition leaders, and it answers on the controller leader only.
#include <chrono>

#include "agent/cluster/cluster.h"
#include "agent/controller/cluster_state.h"
#include "agent/controller/command.h"
#include "agent/groups/coordinator.h"
#include "agent/groups/group_api.h"
#include "agent/partition/partition_manager.h"

namespace nw::partition {
namespace {

constexpr auto kCommitTimeout = std::chrono::seconds(10);

}  // namespace

void PartitionManager::init_coordinator() {
  groups::CoordinatorOptions o;
  o.now = [] { return mono_now(); };
  o.partition_count = [this](const std::string& topic) -> Result<int> {
    int count = -1;
    cluster_.read([&](const controller::ClusterState& state) {
      if (const controller::TopicRecord* t = state.topic(topic)) {
        count = static_cast<int>(t->partitions.size());
      }
    });
    if (count < 0) {
      return Error(Code::not_found, "topic \"" + topic + "\": not found",
                   "list topics with: nwctl topic list", "group");
    }
    return count;
  };
  o.commit = [this](const std::string& group,
                    const std::vector<groups::OffsetCommit>& offsets) {
    controller::CommitOffsets cmd;
    cmd.group = group;
    for (const groups::OffsetCommit& c : offsets) {
      cmd.offsets.push_back(controller::PartitionOffset{
          c.topic, static_cast<std::uint32_t>(c.partition), c.offset});
    }
    return cluster_.propose(cmd, kCommitTimeout);
  };
  o.committed = [this](const std::string& group) {
    groups::OffsetMap out;
    cluster_.read([&](const controller::ClusterState& state) {
      if (const controller::GroupOffsets* g = state.offsets(group)) {
        for (const auto& [tp, off] : *g) {
          out[{tp.first, static_cast<int>(tp.second)}] = off;
        }
      }
    });
    return out;
  };
  o.groups_with_offsets = [this] {
    std::vector<std::string> out;
    cluster_.read([&](const controller::ClusterState& state) {
      for (const auto& [g, offs] : state.group_offsets()) out.push_back(g);
    });
    return out;
  };
  o.offsets_range = [this](const std::string& topic, int partition) {
    return partition_range(topic, partition);
  };
  o.delete_offsets = [this](const std::string& group) {
    controller::DeleteGroup cmd;
    cmd.group = group;
    return cluster_.propose(cmd, kCommitTimeout);
  };
  o.offset_for_time = [this](const std::string& topic, int partition,
                             WallTime at) -> Result<std::uint64_t> {
    NW_ASSIGN_OR_RETURN(controller::TopicRecord t,
                        find_topic(topic, TopicRead::local_first));
    return partition_offset(
        t, partition,
        std::chrono::duration_cast<std::chrono::milliseconds>(
            at.time_since_epoch())
            .count());
  };
  coordinator_ = std::make_unique<groups::Coordinator>(std::move(o));
}

Result<std::pair<std::uint64_t, std::uint64_t>>
PartitionManager::partition_range(const std::string& topic, int partition) {
  NW_ASSIGN_OR_RETURN(controller::TopicRecord t,
                      find_topic(topic, TopicRead::local_first));
  NW_ASSIGN_OR_RETURN(std::uint64_t start, partition_offset(t, partition, -2));
  NW_ASSIGN_OR_RETURN(std::uint64_t end, partition_offset(t, partition, -1));
  return std::make_pair(start, end);
}

void PartitionManager::coordinator_tick() {
  const bool leader = cluster_.is_leader();
  if (leader) {
    coordinator_->expire();
  } else if (was_controller_leader_) {
    // Members rejoin at the new leader (they get not_found here).
    coordinator_->clear();
  }
  was_controller_leader_ = leader;
}

void PartitionManager::add_group_api(http::Server& server) {
  groups::add_group_routes(server, *coordinator_,
                           [this](const http::Request& r) {
                             return cluster_.forward_unless_leader(r);
                           });
}

}  // namespace nw::partition
