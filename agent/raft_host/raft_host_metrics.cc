// RaftHost's metrics (see the class comment for the list).
#include <string>

#include "agent/raft_host/raft_host.h"

namespace nw::raft_host {

void RaftHost::init_metrics(metrics::Registry* registry) {
  if (registry == nullptr) return;
  const std::string g = std::to_string(options_.group);
  metrics_.term =
      &registry
           ->gauge("nw_raft_term", "The node's current Raft term", {"group"})
           .with({g});
  metrics_.commit =
      &registry
           ->gauge("nw_raft_commit_index",
                   "The highest log index known committed", {"group"})
           .with({g});
  metrics_.applied =
      &registry
           ->gauge("nw_raft_applied_index",
                   "The highest log index applied to the state machine",
                   {"group"})
           .with({g});
  metrics_.is_leader =
      &registry
           ->gauge("nw_raft_is_leader", "1 while this node leads the group",
                   {"group"})
           .with({g});
  metrics_.peer_lag = &registry->gauge(
      "nw_raft_peer_lag_entries",
      "Entries a peer is behind the leader's last index (set by the leader)",
      {"group", "peer"});
  metrics_.leader_changes =
      &registry
           ->counter("nw_raft_leader_changes_total",
                     "Times the known leader changed to another node",
                     {"group"})
           .with({g});
  metrics_.proposals_dropped =
      &registry
           ->counter("nw_raft_proposals_dropped_total",
                     "Proposals refused by the core or lost in a leader change",
                     {"group"})
           .with({g});
  auto& snapshots = registry->counter(
      "nw_raft_snapshots_total",
      "Snapshots taken locally (created) or received from the leader "
      "(installed)",
      {"group", "kind"});
  metrics_.snapshots_created = &snapshots.with({g, "created"});
  metrics_.snapshots_installed = &snapshots.with({g, "installed"});
  metrics_.snapshot_failures =
      &registry
           ->counter("nw_raft_snapshot_failures_total",
                     "Snapshots or compactions that failed (retried later)",
                     {"group"})
           .with({g});
  metrics_.commit_latency =
      &registry
           ->histogram("nw_raft_commit_latency_seconds",
                       "Time from a leader's proposal to its entry being "
                       "applied on that leader",
                       {"group"})
           .with({g});
}

void RaftHost::update_metrics() {
  if (metrics_.term == nullptr) return;
  const bool is_leader = node_->role() == raft::Role::leader;
  metrics_.term->set(static_cast<double>(node_->term().value()));
  metrics_.commit->set(static_cast<double>(node_->commit_index().value()));
  metrics_.applied->set(static_cast<double>(applied_.value()));
  metrics_.is_leader->set(is_leader ? 1 : 0);
  if (!is_leader && !lag_gauges_.empty()) {
    // Only the leader knows; stale numbers would mislead.
    for (auto& [id, peer] : lag_gauges_) peer.second->set(0);
    lag_gauges_.clear();
  }
}

void RaftHost::update_peer_lag(const raft::NodeStatus& ns) {
  if (metrics_.peer_lag == nullptr) return;
  std::shared_ptr<const PeerMap> peers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    peers = peers_;
  }
  const std::string g = std::to_string(options_.group);
  for (auto it = lag_gauges_.begin(); it != lag_gauges_.end();) {
    if (ns.progress.count(it->first) == 0) {  // no longer a member
      it->second.second->set(0);
      it = lag_gauges_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [id, pr] : ns.progress) {
    if (id == ns.id) continue;
    auto p = peers->find(id);
    std::string name =
        p != peers->end() ? p->second : std::to_string(id.value());
    auto& [label, gauge] = lag_gauges_[id];
    if (gauge == nullptr || label != name) {
      if (gauge != nullptr) gauge->set(0);  // the peer moved to a new name
      gauge = &metrics_.peer_lag->with({g, name});
      label = std::move(name);
    }
    const std::uint64_t last = ns.last_index.value();
    const std::uint64_t match = pr.match.value();
    gauge->set(last > match ? static_cast<double>(last - match) : 0.0);
  }
}

}  // namespace nw::raft_host
