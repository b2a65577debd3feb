#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "agent/controller/command.h"
#include "agent/controller/node_record.h"
#include "agent/raft/types.h"
#include "common/base/result.h"

namespace nw::controller {

// What applying one committed entry did.
struct ApplyResult {
  // The command's own outcome: ok, or why it was rejected (invalid_argument
  // for undecodable bytes or bad fields, not_found, conflict,
  // failed_precondition). A rejected command changed nothing but the
  // applied index; the host hands this to whoever proposed it.
  Status status;
  // Whether the cluster metadata changed (and version() was incremented).
  bool changed = false;
};

// The controller's replicated state machine: the cluster metadata (today
// the nodes; later topics, jobs, services, config, users).
//
// Lifecycle: starts empty (applied index 0, version 0) or from restore();
// the host applies every committed normal entry of the controller group in
// index order, and replaces the whole object from a snapshot when Raft
// installs one.
// Threads: none of its own; not synchronized. The host serializes apply()
// with reads (one apply thread, readers under the host's lock).
// Invariants: apply() is a pure function of (state, index, bytes): no
// clocks, no randomness, no iteration over unordered containers, so every
// replica that applies the same entries holds the same state, byte for
// byte in snapshot(). by_raft_ holds exactly one entry per node, and raft
// ids are unique. version() counts state changes and never goes back.
class ClusterState {
 public:
  using NodeMap = std::map<std::string, NodeRecord, std::less<>>;

  ClusterState() = default;

  // Applies the committed entry at `index` whose data is `command_bytes`
  // (empty data, the leader's no-op, applies as nothing). Always advances
  // applied_index() to `index`, even when the command is rejected: a
  // committed entry must apply the same way everywhere, so a bad command
  // is a result (ApplyResult::status), not a failure.
  // Errors: Code::failed_precondition when index <= applied_index() (an
  // entry applied twice; nothing changes).
  Result<ApplyResult> apply(raft::LogIndex index,
                            std::string_view command_bytes);

  // The index of the last entry applied; 0 for none.
  raft::LogIndex applied_index() const { return applied_index_; }
  // Incremented by every apply that changed the metadata; for watches.
  std::uint64_t version() const { return version_; }

  // Every node, sorted by id.
  const NodeMap& nodes() const { return nodes_; }
  // The node with agent id `id`; nullptr when there is none.
  const NodeRecord* node(std::string_view id) const;
  // The node with Raft member id `raft_id`; nullptr when there is none.
  const NodeRecord* by_raft_id(raft::NodeId raft_id) const;

  // Quorum-loss recovery only (nwagent --recover): drops every node but
  // `id` and bumps the version. Not a replicated change: the recovered
  // agent's new snapshot carries the result to the agents that join it.
  void retain_only(std::string_view id);

  // The whole state, applied index and version included, as bytes
  // (docs/formats/controller-commands.md, "Snapshot").
  std::string snapshot() const;
  // The state `bytes` encodes; restore(s.snapshot()) equals s exactly.
  // Errors: Code::corruption for an unknown version, truncated or
  // trailing bytes, or a state that breaks an invariant (ids not strictly
  // ascending, a raft id of 0 or used twice).
  static Result<ClusterState> restore(std::string_view bytes);

 private:
  Status apply_command(const Command& c);
  Status apply_one(const RegisterNode& c);
  Status apply_one(const UpdateNode& c);
  Status apply_one(const SetRole& c);
  Status apply_one(const SetState& c);
  Status apply_one(const Heartbeat& c);
  Status apply_one(const RemoveNode& c);
  Status apply_one(const SetLabels& c);
  // The node `id` for a change, or not_found.
  Result<NodeRecord*> find(std::string_view id);

  raft::LogIndex applied_index_;
  std::uint64_t version_ = 0;
  NodeMap nodes_;
  std::map<raft::NodeId, std::string> by_raft_;  // raft id -> node id
  // Set by apply_one when it changed something; read by apply().
  bool changed_ = false;
};

}  // namespace nw::controller
