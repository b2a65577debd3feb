#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/raft/types.h"
#include "common/base/result.h"

namespace nw::cluster {

// A member as the identity file remembers it: enough to reach it before
// the controller state is replayed.
struct KnownPeer {
  std::string node_id;
  std::uint64_t raft_id = 0;
  std::string peer_addr;  // "host:port"

  bool operator==(const KnownPeer&) const = default;
};

// This agent's place in its cluster, kept in <data_dir>/cluster.json so
// that a restart needs nothing but the same command line. Written with
// write_file_atomically (never torn).
//
// Format (JSON, version 1):
//   {"format": 1, "raft_id": 1234, "cluster_id": "c-...",
//    "initial_voters": [..], "peers": [{"node_id", "raft_id",
//    "peer_addr"}], "removed": false}
// raft_id is generated on the first start and never changes: it is this
// agent's member id in the controller's Raft group (a fresh data directory
// gets a fresh one, so a re-provisioned node never reuses an old member id).
// cluster_id is empty until the agent formed or joined a cluster;
// initial_voters is that cluster's bootstrap membership (the same on every
// member: Raft replays the log's membership changes on top of it).
struct Identity {
  static constexpr int kFormat = 1;

  std::uint64_t raft_id = 0;
  std::string cluster_id;
  std::vector<std::uint64_t> initial_voters;
  std::vector<KnownPeer> peers;
  bool removed = false;

  bool member() const { return !cluster_id.empty(); }
  raft::Membership initial_membership() const;

  std::string encode() const;
  // Errors: Code::corruption for bad JSON, a missing field, or raft_id 0.
  static Result<Identity> decode(std::string_view text);

  // Reads <data_dir>/cluster.json, or creates it with a new random raft
  // id. Errors: corruption (names the file); io_error.
  static Result<Identity> load_or_create(const std::string& data_dir);
  // Errors: io_error.
  Status save(const std::string& data_dir) const;
};

// The id an agent has on the peer transport: "<node id>@<raft id, 16 hex
// digits>". Unique per data directory, so two agents that were given the
// same node id still reach each other (and the cluster can refuse the
// second one by name) instead of fighting over one transport identity.
std::string link_id(std::string_view node_id, std::uint64_t raft_id);

// A random non-zero 64-bit id from std::random_device.
std::uint64_t random_id();

}  // namespace nw::cluster
