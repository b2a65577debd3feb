#pragma once

#include <string>
#include <vector>

#include "agent/controller/cluster_state.h"
#include "agent/controller/topic_record.h"
#include "common/base/result.h"

// Replica placement for new partitions: which agents hold each partition
// of a topic being created (create_topic) or grown (alter_topic). The
// controller leader calls it on the state it read and proposes the result;
// the state machine only validates it, so placement may change between
// releases without breaking determinism.
//
// Pure functions of their arguments, no state; safe from any thread.
namespace nw::controller {

// The label whose value names a node's rack (docs/api.md, "Topics").
inline constexpr char kRackLabel[] = "rack";

// Replica lists for partitions first_partition .. first_partition + count
// - 1, `replicas` node ids each, the first the preferred leader.
//
// Every node of `nodes` that has not left the cluster is a candidate
// (unreachable ones too: that is usually transient). Each partition's
// replicas are on distinct nodes, spread over as many racks (kRackLabel;
// a node without one is a rack of its own) as the candidates allow. Load
// counts every replica of `existing_topics` (replicas and reassignment
// targets both, since a target will hold the data) plus the ones placed
// so far: each partition's preferred leader is the candidate leading the
// fewest partitions (then holding the fewest replicas), and each further
// replica the one in the fewest of this partition's racks, then holding
// the fewest replicas, then leading the most (it will not lead the next
// partitions, so it takes follower load now). Remaining ties go to the
// smaller node id, so the result is a pure function of the arguments.
// Preferred leaders per node thus differ by at most one whenever they did
// before; replica counts end within one for topics of one replication
// factor on a balanced cluster, and close to that otherwise.
// `first_partition` only bounds the total: balance comes from the counts.
//
// Errors: invalid_argument (count < 0, first_partition < 0, replicas <
// 1, first_partition + count > kMaxPartitions); failed_precondition when
// `replicas` exceeds the candidates ("topic needs 3 replicas but the cluster
// has 2 agents", hint "add agents or lower --replicas"). count 0 returns no
// lists.
Result<std::vector<std::vector<std::string>>> place_partitions(
    const ClusterState::NodeMap& nodes, const TopicMap& existing_topics,
    int first_partition, int count, int replicas);

}  // namespace nw::controller
