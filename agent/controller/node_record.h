#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "agent/raft/types.h"

namespace nw::controller {

// One agent as the controller knows it: a value type, part of ClusterState
// and of the register_node command. Every field is replicated, so every
// field must be set from a command, never from the local node (no clocks).
struct NodeRecord {
  enum class Role : std::uint8_t { voter, learner };
  enum class State : std::uint8_t { healthy, unreachable, left };

  std::string id;         // the agent's node id, "nw-1a2b3c4d"; never empty
  raft::NodeId raft_id;   // its member id in the controller group; never 0
  std::string api_addr;   // HOST:PORT of its API
  std::string peer_addr;  // HOST:PORT of its peer (Raft) port
  std::map<std::string, std::string> labels;
  Role role = Role::voter;
  State state = State::healthy;
  // The leader's wall clock when it proposed the last heartbeat for this
  // node (ms since the Unix epoch); 0 for none. Set only from a heartbeat
  // command, never from the applying node's clock.
  std::int64_t last_heartbeat_ms = 0;

  bool operator==(const NodeRecord&) const = default;
};

std::string_view to_string(NodeRecord::Role r);   // "voter", "learner"
std::string_view to_string(NodeRecord::State s);  // "healthy", ...

}  // namespace nw::controller
