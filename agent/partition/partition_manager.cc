#include "agent/partition/partition_manager.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/cluster/cluster.h"
#include "agent/cluster/identity.h"
#include "agent/controller/cluster_state.h"
#include "agent/controller/command.h"
#include "agent/groups/coordinator.h"
#include "common/api/json.h"
#include "common/base/log.h"
#include "common/base/strings.h"
#include "common/http/client.h"
#include "common/http/endpoint.h"
#include "common/http/url.h"

namespace nw::partition {
namespace {

const log::Logger kLog("partition");

constexpr auto kLoopInterval = std::chrono::milliseconds(500);
// Checks in a row (one per loop) that find the preferred replica caught up
// before leadership is handed back to it.
constexpr int kPreferredChecks = 4;
constexpr auto kConfChangeTimeout = std::chrono::seconds(5);
constexpr auto kBarrierTimeout = std::chrono::seconds(2);

raft::Membership membership_of(const controller::ClusterState& state,
                               const std::vector<std::string>& nodes) {
  raft::Membership m;
  for (const std::string& n : nodes) {
    if (const controller::NodeRecord* rec = state.node(n)) {
      m.voters.insert(rec->raft_id);
    }
  }
  return m;
}

raft_host::PeerMap peers_of(const controller::ClusterState& state) {
  raft_host::PeerMap peers;
  for (const auto& [id, rec] : state.nodes()) {
    peers[rec.raft_id] = cluster::link_id(id, rec.raft_id.value());
  }
  return peers;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

PartitionManager::PartitionManager(ManagerOptions options,
                                   cluster::Cluster& cluster,
                                   metrics::Registry& registry)
    : options_(std::move(options)), cluster_(cluster), registry_(registry) {
  init_coordinator();
}

PartitionManager::~PartitionManager() { stop(); }

Status PartitionManager::start() {
  {
    std::lock_guard lock(loop_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { loop(); });
  return ok_status();
}

void PartitionManager::stop() {
  {
    std::lock_guard lock(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::map<std::uint64_t, Hosted> hosted;
  {
    std::unique_lock lock(mu_);
    hosted.swap(hosted_);
  }
  for (auto& [g, h] : hosted) {
    if (h.replica) h.replica->stop();
  }
}

void PartitionManager::on_message(const std::string& from, std::uint64_t group,
                                  std::string_view payload) {
  std::shared_lock lock(mu_);
  auto it = hosted_.find(group);
  if (it != hosted_.end() && it->second.replica) {
    it->second.replica->deliver(from, payload);
  }
}

void PartitionManager::loop() {
  std::uint64_t version = 0;
  while (true) {
    {
      std::unique_lock lock(loop_mu_);
      if (stopping_) return;
    }
    reconcile();
    leader_duties();
    coordinator_tick();
    // Wakes on a controller change or after the interval.
    version = cluster_.wait_for_change(version, kLoopInterval);
  }
}

std::string PartitionManager::replica_dir(const std::string& topic,
                                          std::uint64_t topic_id,
                                          int partition) const {
  return options_.data_dir + "/partitions/" + topic + "." +
         std::to_string(topic_id) + "/" + std::to_string(partition);
}

void PartitionManager::reconcile() {
  struct Want {
    std::string topic;
    std::uint64_t topic_id = 0;
    int partition = 0;
    raft::Membership initial;
    std::uint64_t segment_bytes = 0;
    std::int64_t segment_ms = 0;
    std::int64_t retention_ms = -1;
    std::int64_t retention_bytes = -1;
  };
  std::map<std::uint64_t, Want> wanted;
  raft_host::PeerMap peers;
  bool member = false;
  auto read_wanted = [&] {
    wanted.clear();
    cluster_.read([&](const controller::ClusterState& state) {
      member = state.node(options_.node_id) != nullptr;
      peers = peers_of(state);
      for (const auto& [name, t] : state.topics()) {
        for (std::size_t p = 0; p < t.partitions.size(); ++p) {
          const controller::PartitionRecord& pr = t.partitions[p];
          if (!contains(pr.replicas, options_.node_id) &&
              !contains(pr.target_replicas, options_.node_id)) {
            continue;
          }
          Want w;
          w.topic = name;
          w.topic_id = t.id;
          w.partition = static_cast<int>(p);
          w.initial = membership_of(state, pr.initial_replicas);
          w.segment_bytes = t.segment_bytes;
          w.segment_ms = controller::effective_segment_ms(t);
          w.retention_ms = t.retention_ms;
          w.retention_bytes = t.retention_bytes;
          wanted.emplace(group_id(t.id, w.partition), std::move(w));
        }
      }
    });
  };
  read_wanted();
  if (!member) return;  // not part of a cluster yet: nothing is ours
  // Files are deleted only on a state known to be current: right after a
  // restart the controller is still replaying its log, and a topic not
  // applied yet must not look deleted. The barrier (a ReadIndex round) is
  // taken only when something would be deleted: a hosted replica no longer
  // wanted, or the one scan for orphaned directories after start.
  bool current = false;
  bool deletions = !orphans_checked_;
  {
    std::shared_lock lock(mu_);
    for (const auto& [group, h] : hosted_) {
      if (wanted.count(group) == 0) deletions = true;
    }
  }
  if (deletions && cluster_.read_barrier(kBarrierTimeout).ok()) {
    current = true;
    read_wanted();
  }

  // Stop what is no longer ours (outside the lock: stop() joins).
  std::vector<Hosted> gone;
  if (current) {
    std::unique_lock lock(mu_);
    for (auto it = hosted_.begin(); it != hosted_.end();) {
      if (wanted.count(it->first) == 0) {
        gone.push_back(std::move(it->second));
        it = hosted_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Hosted& h : gone) {
    const std::string dir = replica_dir(h.topic, h.topic_id, h.partition);
    if (h.replica) {
      h.replica->stop();
      Status s = h.replica->destroy_data();
      if (!s.ok()) {
        kLog.warn("could not delete a replica's files",
                  {{"dir", dir}, {"error", s.error().to_string()}});
      }
    } else {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
    // The topic's folder goes with its last replica here (remove() leaves
    // a folder that still holds other partitions).
    std::error_code ec;
    std::filesystem::remove(std::filesystem::path(dir).parent_path(), ec);
    kLog.info("replica removed",
              {{"topic", h.topic}, {"partition", h.partition}});
  }

  for (auto& [group, w] : wanted) {
    {
      std::shared_lock lock(mu_);
      auto it = hosted_.find(group);
      if (it != hosted_.end()) {
        if (it->second.replica) {
          it->second.replica->set_peers(peers);
          it->second.replica->set_retention(w.retention_ms, w.retention_bytes);
          it->second.replica->set_segment_limits(w.segment_bytes, w.segment_ms);
        }
        continue;
      }
    }
    ReplicaOptions ro;
    ro.topic = w.topic;
    ro.topic_id = w.topic_id;
    ro.partition = w.partition;
    ro.group = group;
    ro.dir = replica_dir(w.topic, w.topic_id, w.partition);
    ro.segment_bytes = w.segment_bytes;
    ro.segment_ms = w.segment_ms;
    ro.retention_ms = w.retention_ms;
    ro.retention_bytes = w.retention_bytes;
    ro.self = cluster_.raft_id();
    ro.initial = w.initial;
    ro.tick_interval = options_.tick_interval;
    ro.election_ticks = options_.election_ticks;
    ro.heartbeat_ticks = options_.heartbeat_ticks;
    ro.fsync = options_.fsync;
    Hosted h;
    h.topic = w.topic;
    h.topic_id = w.topic_id;
    h.partition = w.partition;
    Result<std::unique_ptr<Replica>> r =
        Replica::open(ro, cluster_.transport(), peers, &registry_);
    if (r.ok()) {
      Status s = (*r)->start();
      if (s.ok()) {
        h.replica = std::move(r).value();
      } else {
        h.error = s.error().message;
      }
    } else {
      h.error = r.error().message;
    }
    if (h.replica) {
      kLog.info("replica started",
                {{"topic", w.topic}, {"partition", w.partition}});
    } else {
      kLog.error("replica offline", {{"topic", w.topic},
                                     {"partition", w.partition},
                                     {"dir", ro.dir},
                                     {"error", h.error}});
    }
    std::unique_lock lock(mu_);
    hosted_.emplace(group, std::move(h));
  }
  if (!current || orphans_checked_) return;
  std::map<std::uint64_t, std::string> dirs;
  for (const auto& [group, w] : wanted) {
    dirs[group] = replica_dir(w.topic, w.topic_id, w.partition);
  }
  cleanup_orphans(dirs);
  orphans_checked_ = true;
}

// Deletes replica directories of partitions this agent no longer hosts
// (a topic deleted while the agent was down).
void PartitionManager::cleanup_orphans(
    const std::map<std::uint64_t, std::string>& wanted) {
  namespace fs = std::filesystem;
  std::set<std::string> keep;
  for (const auto& [g, d] : wanted) keep.insert(fs::path(d).parent_path());
  const fs::path root = options_.data_dir + "/partitions";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return;
  for (const fs::directory_entry& topic_dir :
       fs::directory_iterator(root, ec)) {
    if (keep.count(topic_dir.path().string()) == 0) {
      fs::remove_all(topic_dir.path(), ec);
      kLog.info("deleted the files of a topic this agent no longer hosts",
                {{"dir", topic_dir.path().string()}});
      continue;
    }
    for (const fs::directory_entry& part :
         fs::directory_iterator(topic_dir.path(), ec)) {
      bool wanted_here = false;
      for (const auto& [g, d] : wanted) {
        if (d == part.path().string()) wanted_here = true;
      }
      if (!wanted_here) fs::remove_all(part.path(), ec);
    }
  }
}

void PartitionManager::leader_duties() {
  struct Plan {
    std::uint64_t group;
    std::vector<std::string> replicas;
    std::vector<std::string> target;
  };
  std::vector<Plan> plans;
  {
    std::shared_lock lock(mu_);
    cluster_.read([&](const controller::ClusterState& state) {
      for (const auto& [group, h] : hosted_) {
        if (!h.replica) continue;
        const controller::TopicRecord* t = state.topic(h.topic);
        if (t == nullptr ||
            static_cast<std::size_t>(h.partition) >= t->partitions.size()) {
          continue;
        }
        const controller::PartitionRecord& pr = t->partitions[h.partition];
        plans.push_back(Plan{group, pr.replicas, pr.target_replicas});
      }
    });
  }
  for (const Plan& p : plans) {
    std::unique_lock lock(mu_);
    auto it = hosted_.find(p.group);
    if (it == hosted_.end() || !it->second.replica) continue;
    Hosted& h = it->second;
    if (!h.replica->ready_to_lead()) {
      h.preferred_ready = 0;
      continue;
    }
    lock.unlock();
    if (!p.target.empty()) {
      drive_reassignment(h, p.target);
    } else if (!p.replicas.empty() && p.replicas.front() != options_.node_id) {
      hand_back_leadership(h, p.replicas.front());
    }
  }
}

void PartitionManager::hand_back_leadership(Hosted& h,
                                            const std::string& preferred) {
  raft::NodeId target;
  cluster_.read([&](const controller::ClusterState& state) {
    if (const controller::NodeRecord* n = state.node(preferred)) {
      target = n->raft_id;
    }
  });
  if (target == raft::kNoNode) return;
  const ReplicaStatus st = h.replica->status();
  auto m = st.match.find(target);
  const bool caught_up = st.membership.is_voter(target) &&
                         m != st.match.end() && m->second >= st.last_index;
  h.preferred_ready = caught_up ? h.preferred_ready + 1 : 0;
  if (h.preferred_ready < kPreferredChecks) return;
  h.preferred_ready = 0;
  kLog.info(
      "handing leadership back to the preferred replica",
      {{"topic", h.topic}, {"partition", h.partition}, {"to", preferred}});
  // The answer comes when the target leads; the loop does not wait for it.
  (void)h.replica->host().transfer_leadership(target);
}

void PartitionManager::drive_reassignment(
    Hosted& h, const std::vector<std::string>& target) {
  std::map<std::string, raft::NodeId> ids;
  cluster_.read([&](const controller::ClusterState& state) {
    for (const auto& [id, rec] : state.nodes()) ids[id] = rec.raft_id;
  });
  const ReplicaStatus st = h.replica->status();
  const raft::Membership& m = st.membership;
  auto change = [&](raft::ConfChangeType type, raft::NodeId node) {
    auto f =
        h.replica->host().propose_conf_change(raft::ConfChange{type, node});
    if (f.wait_for(kConfChangeTimeout) != std::future_status::ready) return;
    Result<raft::LogIndex> r = f.get();
    if (!r.ok()) {
      kLog.debug("reassignment step not taken yet",
                 {{"topic", h.topic},
                  {"partition", h.partition},
                  {"error", r.error().to_string()}});
    }
  };
  std::set<raft::NodeId> want;
  for (const std::string& n : target) {
    auto it = ids.find(n);
    if (it == ids.end()) return;  // a target node is gone; wait for a fix
    want.insert(it->second);
  }
  // 1. Every target joins as a learner.
  for (raft::NodeId n : want) {
    if (!m.contains(n)) {
      change(raft::ConfChangeType::add_learner, n);
      return;
    }
  }
  // 2. Caught-up learners become voters (the core refuses one behind).
  for (raft::NodeId n : want) {
    if (m.is_learner(n)) {
      change(raft::ConfChangeType::promote, n);
      return;
    }
  }
  // 3. Members that are not targets leave; this leader hands over first.
  std::vector<raft::NodeId> leaving;
  for (raft::NodeId n : m.voters) {
    if (want.count(n) == 0) leaving.push_back(n);
  }
  for (raft::NodeId n : m.learners) {
    if (want.count(n) == 0) leaving.push_back(n);
  }
  for (raft::NodeId n : leaving) {
    if (n == cluster_.raft_id()) {
      raft::NodeId best;
      std::uint64_t best_match = 0;
      for (raft::NodeId w : want) {
        auto mi = st.match.find(w);
        if (mi != st.match.end() && mi->second >= best_match) {
          best = w;
          best_match = mi->second;
        }
      }
      if (best != raft::kNoNode) {
        (void)h.replica->host().transfer_leadership(best);
      }
      return;
    }
    change(raft::ConfChangeType::remove, n);
    return;
  }
  // 4. The group is the target: record it.
  controller::SetPartitionReplicas cmd;
  cmd.topic = h.topic;
  cmd.partition = h.partition;
  cmd.replicas = target;
  Status s = cluster_.propose(cmd, std::chrono::seconds(5));
  if (s.ok()) {
    kLog.info("reassignment done", {{"topic", h.topic},
                                    {"partition", h.partition},
                                    {"replicas", join(target, ",")}});
  }
}

std::shared_ptr<Replica> PartitionManager::local(
    const controller::TopicRecord& t, int partition) const {
  std::shared_lock lock(mu_);
  auto it = hosted_.find(group_id(t.id, partition));
  return it == hosted_.end() ? nullptr : it->second.replica;
}

std::string PartitionManager::leader_api(const controller::TopicRecord& t,
                                         int partition) {
  if (std::shared_ptr<Replica> rep = local(t, partition)) {
    const raft_host::Leadership l = rep->host().leadership();
    if (l.leader != raft::kNoNode) {
      return api_of_node(node_of_raft(l.leader));
    }
  }
  const std::uint64_t group = group_id(t.id, partition);
  {
    std::shared_lock lock(mu_);
    auto it = leader_cache_.find(group);
    if (it != leader_cache_.end()) return api_of_node(it->second);
  }
  // Ask the agents that hold replicas whom they follow.
  if (static_cast<std::size_t>(partition) >= t.partitions.size()) return {};
  for (const std::string& node : t.partitions[partition].replicas) {
    if (node == options_.node_id) continue;
    Result<std::vector<PartitionView>> views =
        remote_views(node, t.name, std::chrono::seconds(2));
    if (!views.ok()) continue;
    for (const PartitionView& v : *views) {
      if (v.partition != partition || v.leader.empty()) continue;
      std::unique_lock lock(mu_);
      leader_cache_[group] = v.leader;
      lock.unlock();
      return api_of_node(v.leader);
    }
  }
  return {};
}

void PartitionManager::forget_leader(const controller::TopicRecord& t,
                                     int partition) {
  std::unique_lock lock(mu_);
  leader_cache_.erase(group_id(t.id, partition));
}

std::string PartitionManager::api_of_node(const std::string& node_id) const {
  std::string api;
  cluster_.read([&](const controller::ClusterState& state) {
    if (const controller::NodeRecord* n = state.node(node_id)) {
      api = n->api_addr;
    }
  });
  return api;
}

std::string PartitionManager::node_of_raft(raft::NodeId id) const {
  std::string node;
  cluster_.read([&](const controller::ClusterState& state) {
    if (const controller::NodeRecord* n = state.by_raft_id(id)) node = n->id;
  });
  return node;
}

}  // namespace nw::partition
