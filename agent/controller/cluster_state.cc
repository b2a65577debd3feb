#include "agent/controller/cluster_state.h"

#include <string>
#include <utility>
#include <variant>

namespace nw::controller {
namespace {

Error rejected(Code code, std::string message, std::string hint = {}) {
  return Error(code, std::move(message), std::move(hint), "controller");
}

}  // namespace

Result<ApplyResult> ClusterState::apply(raft::LogIndex index,
                                        std::string_view command_bytes) {
  if (index <= applied_index_) {
    return rejected(Code::failed_precondition,
                    "apply entry " + std::to_string(index.value()) +
                        ": already applied up to " +
                        std::to_string(applied_index_.value()));
  }
  applied_index_ = index;
  ApplyResult result;
  if (command_bytes.empty()) return result;
  auto command = decode_command(command_bytes);
  if (!command.ok()) {
    result.status = std::move(command).error();
    return result;
  }
  changed_ = false;
  result.status = apply_command(*command);
  result.changed = changed_;
  if (changed_) ++version_;
  return result;
}

const NodeRecord* ClusterState::node(std::string_view id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

const NodeRecord* ClusterState::by_raft_id(raft::NodeId raft_id) const {
  auto it = by_raft_.find(raft_id);
  return it == by_raft_.end() ? nullptr : node(it->second);
}

Status ClusterState::apply_command(const Command& c) {
  return std::visit([this](const auto& body) { return apply_one(body); }, c);
}

Result<NodeRecord*> ClusterState::find(std::string_view id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) {
    return rejected(Code::not_found, "node " + std::string(id) + ": unknown",
                    "list the nodes with `nwctl cluster status`");
  }
  return &it->second;
}

Status ClusterState::apply_one(const RegisterNode& c) {
  const NodeRecord& n = c.node;
  if (n.id.empty()) {
    return rejected(Code::invalid_argument, "register node: empty node id");
  }
  if (n.raft_id == raft::kNoNode) {
    return rejected(Code::invalid_argument,
                    "register node " + n.id + ": raft id 0");
  }
  auto owner = by_raft_.find(n.raft_id);
  if (owner != by_raft_.end() && owner->second != n.id) {
    return rejected(Code::conflict,
                    "register node " + n.id + ": raft id " +
                        std::to_string(n.raft_id.value()) +
                        " belongs to node " + owner->second,
                    "each agent needs its own data directory");
  }
  auto it = nodes_.find(n.id);
  if (it == nodes_.end()) {
    NodeRecord added = n;
    added.state = NodeRecord::State::healthy;
    added.last_heartbeat_ms = 0;
    by_raft_.emplace(n.raft_id, n.id);
    nodes_.emplace(n.id, std::move(added));
    changed_ = true;
    return ok_status();
  }
  NodeRecord& existing = it->second;
  if (existing.raft_id != n.raft_id) {
    return rejected(Code::conflict,
                    "register node " + n.id + ": registered with raft id " +
                        std::to_string(existing.raft_id.value()) + ", not " +
                        std::to_string(n.raft_id.value()),
                    "two agents share a node id; give each its own");
  }
  NodeRecord updated = existing;
  updated.api_addr = n.api_addr;
  updated.peer_addr = n.peer_addr;
  updated.labels = n.labels;
  updated.role = n.role;
  // A node that left and registers again rejoins.
  if (updated.state == NodeRecord::State::left) {
    updated.state = NodeRecord::State::healthy;
  }
  if (!(updated == existing)) {
    existing = std::move(updated);
    changed_ = true;
  }
  return ok_status();
}

Status ClusterState::apply_one(const UpdateNode& c) {
  NW_ASSIGN_OR_RETURN(NodeRecord * n, find(c.id));
  NodeRecord updated = *n;
  if (c.api_addr) updated.api_addr = *c.api_addr;
  if (c.peer_addr) updated.peer_addr = *c.peer_addr;
  if (c.labels) updated.labels = *c.labels;
  if (!(updated == *n)) {
    *n = std::move(updated);
    changed_ = true;
  }
  return ok_status();
}

Status ClusterState::apply_one(const SetRole& c) {
  NW_ASSIGN_OR_RETURN(NodeRecord * n, find(c.id));
  if (n->role != c.role) {
    n->role = c.role;
    changed_ = true;
  }
  return ok_status();
}

Status ClusterState::apply_one(const SetState& c) {
  NW_ASSIGN_OR_RETURN(NodeRecord * n, find(c.id));
  if (n->state != c.state) {
    n->state = c.state;
    changed_ = true;
  }
  return ok_status();
}

Status ClusterState::apply_one(const Heartbeat& c) {
  NW_ASSIGN_OR_RETURN(NodeRecord * n, find(c.id));
  if (n->state == NodeRecord::State::left) {
    return rejected(Code::failed_precondition,
                    "heartbeat of node " + c.id + ": it has left the cluster",
                    "register it again to rejoin");
  }
  // The leader's clock, as proposed; after a leader change it may go back,
  // and that is recorded as is (every replica records the same value).
  if (n->last_heartbeat_ms != c.time_ms) {
    n->last_heartbeat_ms = c.time_ms;
    changed_ = true;
  }
  return ok_status();
}

Status ClusterState::apply_one(const RemoveNode& c) {
  NW_ASSIGN_OR_RETURN(NodeRecord * n, find(c.id));
  by_raft_.erase(n->raft_id);
  nodes_.erase(c.id);
  changed_ = true;
  return ok_status();
}

Status ClusterState::apply_one(const SetLabels& c) {
  NW_ASSIGN_OR_RETURN(NodeRecord * n, find(c.id));
  std::map<std::string, std::string> labels = n->labels;
  for (const std::string& k : c.remove) labels.erase(k);
  for (const auto& [k, v] : c.set) labels[k] = v;
  if (labels != n->labels) {
    n->labels = std::move(labels);
    changed_ = true;
  }
  return ok_status();
}

void ClusterState::retain_only(std::string_view id) {
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (it->first == id) {
      ++it;
      continue;
    }
    by_raft_.erase(it->second.raft_id);
    it = nodes_.erase(it);
  }
  ++version_;
}

}  // namespace nw::controller
