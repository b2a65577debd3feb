// Membership operations behind the API, and quorum-loss recovery.
#include <algorithm>
#include <filesystem>

#include "agent/cluster/cluster.h"
#include "agent/cluster/control.h"
#include "agent/wal/wal_storage.h"
#include "common/base/log.h"

namespace nw::cluster {
namespace {

const log::Logger kLog("cluster");

Error not_leader() {
  return Error(Code::unavailable, "this agent is not the leader",
               "retry; any agent forwards to the leader", "cluster");
}

// Waits for a membership change, retrying while another one is in flight.
Status change_membership(raft_host::RaftHost& h, raft::ConfChange cc,
                         MonoTime deadline) {
  while (true) {
    auto f = h.propose_conf_change(cc);
    if (f.wait_until(deadline) != std::future_status::ready) {
      return Error(Code::timeout, "membership change not committed in time",
                   "check `nwctl cluster status`", "cluster");
    }
    Result<raft::LogIndex> r = f.get();
    if (r.ok()) return ok_status();
    if (r.error().code != Code::failed_precondition || mono_now() >= deadline) {
      return r.error();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

Status Cluster::remove(const std::string& node_id, bool force,
                       Duration timeout) {
  const MonoTime deadline = mono_now() + timeout;
  raft_host::RaftHost* h = host();
  if (h == nullptr) return not_leader();
  const raft_host::HostStatus st = h->status();
  if (st.leader != self_raft()) return not_leader();
  const ClusterView v = view(false);
  auto it = std::find_if(v.members.begin(), v.members.end(),
                         [&](const MemberView& m) { return m.id == node_id; });
  if (it == v.members.end()) {
    return Error(Code::not_found, "no member with node id " + node_id,
                 "list the members with `nwctl cluster status`", "cluster");
  }
  const raft::NodeId target(it->raft_id);
  if (st.membership.is_voter(target)) {
    std::size_t voters_after = 0, healthy_after = 0;
    for (const MemberView& m : v.members) {
      if (m.role != "voter" || m.id == node_id) continue;
      ++voters_after;
      if (m.state == "healthy") ++healthy_after;
    }
    if (voters_after == 0) {
      return Error(Code::failed_precondition,
                   "cannot remove " + node_id + ": it is the last voter", {},
                   "cluster");
    }
    const std::size_t quorum = voters_after / 2 + 1;
    if (healthy_after < quorum && !force) {
      return Error(Code::failed_precondition,
                   "removing " + node_id + " would leave " +
                       std::to_string(healthy_after) + " healthy of " +
                       std::to_string(voters_after) +
                       " voters, fewer than the " + std::to_string(quorum) +
                       " needed to commit",
                   "bring the unreachable members back first, or add --force "
                   "to remove it anyway",
                   "cluster");
    }
  }
  // Membership first, then the record: once it is out of the group the
  // node can no longer register itself again (a forwarded registration
  // from a non-member is refused). A removal cut short between the two
  // leaves a record without membership, which a second remove finishes.
  if (st.membership.contains(target)) {
    NW_RETURN_IF_ERROR(change_membership(
        *h, raft::ConfChange{raft::ConfChangeType::remove, target}, deadline));
  }
  bool recorded = false;
  read([&](const controller::ClusterState& s) {
    recorded = s.node(node_id) != nullptr;
  });
  if (recorded) {
    NW_RETURN_IF_ERROR(
        propose(controller::RemoveNode{node_id},
                std::chrono::duration_cast<Duration>(deadline - mono_now())));
  }
  // Tell it (best effort): the leader no longer replicates to it, so it
  // may never see the entry that removed it.
  ControlMessage note;
  note.type = ControlType::removed;
  note.self = KnownPeer{node_id, target.value(), it->peer_addr};
  note.cluster_id = cluster_id();
  transport_->send(link_id(node_id, target.value()), 0, encode_control(note));
  kLog.info("member removed", {{"node", node_id}, {"force", force}});
  return ok_status();
}

Result<std::string> Cluster::transfer_leader(const std::string& node_id,
                                             Duration timeout) {
  raft_host::RaftHost* h = host();
  if (h == nullptr) return not_leader();
  const raft_host::HostStatus st = h->status();
  if (st.leader != self_raft()) return not_leader();
  const ClusterView v = view(false);
  const MemberView* target = nullptr;
  for (const MemberView& m : v.members) {
    if (node_id.empty()) {
      if (m.role != "voter" || m.raft_id == self_raft().value() ||
          m.state != "healthy") {
        continue;
      }
      if (target == nullptr || m.match_index > target->match_index) {
        target = &m;
      }
    } else if (m.id == node_id) {
      target = &m;
    }
  }
  if (target == nullptr) {
    if (node_id.empty()) {
      return Error(Code::failed_precondition,
                   "no other healthy voter to hand leadership to", {},
                   "cluster");
    }
    return Error(Code::not_found, "no member with node id " + node_id,
                 "list the members with `nwctl cluster status`", "cluster");
  }
  if (target->role != "voter") {
    return Error(Code::invalid_argument,
                 node_id + " is a learner and cannot lead",
                 "wait until it is promoted to voter", "cluster");
  }
  if (target->raft_id == self_raft().value()) return target->id;
  auto f = h->transfer_leadership(raft::NodeId(target->raft_id));
  if (f.wait_for(timeout) != std::future_status::ready) {
    return Error(Code::timeout, "leadership transfer not done in time", {},
                 "cluster");
  }
  NW_RETURN_IF_ERROR(f.get());
  kLog.info("leadership transferred", {{"to", target->id}});
  return target->id;
}

Result<std::string> Cluster::recover(const std::string& data_dir,
                                     const std::string& node_id) {
  NW_ASSIGN_OR_RETURN(Identity id, Identity::load_or_create(data_dir));
  if (!id.member()) {
    return Error(Code::failed_precondition,
                 "recover: this agent is not a member of any cluster",
                 "run --recover on a surviving member's data directory",
                 "cluster");
  }
  const std::string dir = data_dir + "/controller";
  NW_ASSIGN_OR_RETURN(std::unique_ptr<wal::WalStorage> wal,
                      wal::WalStorage::open(dir));
  // The state as of everything this agent holds: snapshot, then every
  // entry of its log (entries it never learned were committed included,
  // as etcd's --force-new-cluster does; they may have been committed).
  controller::ClusterState state;
  raft::Membership membership = id.initial_membership();
  if (wal->snapshot_meta().index.value() > 0) {
    NW_ASSIGN_OR_RETURN(raft::Snapshot snap, wal->snapshot());
    NW_ASSIGN_OR_RETURN(state, controller::ClusterState::restore(snap.data));
    membership = snap.meta.membership;
  }
  const raft::LogIndex last = wal->last_index();
  raft::LogIndex next = wal->first_index();
  while (next <= last) {
    NW_ASSIGN_OR_RETURN(std::vector<raft::Entry> ents,
                        wal->entries(next, last + 1, 4u << 20));
    for (const raft::Entry& e : ents) {
      if (e.type == raft::EntryType::normal) {
        if (e.index > state.applied_index()) {
          NW_ASSIGN_OR_RETURN(controller::ApplyResult r,
                              state.apply(e.index, e.data));
          (void)r;
        }
      } else if (Result<raft::ConfChange> cc = raft::decode_conf_change(e.data);
                 cc.ok()) {
        if (Result<raft::Membership> m =
                raft::apply_conf_change(membership, *cc);
            m.ok()) {
          membership = *m;
        }
      }
      next = e.index + 1;
    }
  }
  std::size_t others = 0;
  for (const auto& [nid, n] : state.nodes()) others += nid != node_id;
  state.retain_only(node_id);
  NW_ASSIGN_OR_RETURN(raft::Term last_term, wal->term(last));
  raft::Snapshot snap;
  snap.meta.index = last;
  snap.meta.term = last_term;
  snap.meta.membership.voters = {raft::NodeId(id.raft_id)};
  snap.data = state.snapshot();
  const raft::HardState old = wal->hard_state();
  NW_RETURN_IF_ERROR(wal->apply_snapshot(snap));
  NW_RETURN_IF_ERROR(wal->set_hard_state(raft::HardState{
      std::max(old.term, last_term), raft::NodeId(id.raft_id), last}));
  Identity next_id = id;
  next_id.initial_voters = {id.raft_id};
  std::vector<KnownPeer> self;
  for (const KnownPeer& p : id.peers) {
    if (p.raft_id == id.raft_id) self.push_back(p);
  }
  next_id.peers = self;
  NW_RETURN_IF_ERROR(next_id.save(data_dir));
  const std::string summary =
      "recovered cluster " + id.cluster_id + ": node " + node_id +
      " is now its only voter (log up to index " +
      std::to_string(last.value()) + " kept; " + std::to_string(others) +
      " other node(s) dropped; it had " +
      std::to_string(membership.voters.size()) + " voter(s) and " +
      std::to_string(membership.learners.size()) +
      " learner(s)). Start the agent normally, then join "
      "the other agents with empty data directories.";
  return summary;
}

}  // namespace nw::cluster
