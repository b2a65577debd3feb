#include "agent/cluster/cluster.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "agent/cluster/control.h"
#include "agent/metrics/registry.h"
#include "agent/wal/wal_storage.h"
#include "common/base/log.h"

namespace nw::cluster {
namespace {

const log::Logger kLog("cluster");

constexpr std::uint64_t kControlGroup = 0;
constexpr std::uint64_t kControllerGroup = 1;
constexpr std::size_t kWorkers = 8;
constexpr std::size_t kMaxResults = 65536;
constexpr auto kLoopInterval = std::chrono::milliseconds(100);
// How far behind the leader's last index a learner may be to be promoted.
constexpr std::uint64_t kPromoteLag = 64;

Error unavailable(std::string message, std::string hint = "retry") {
  return Error(Code::unavailable, std::move(message), std::move(hint),
               "cluster");
}

}  // namespace

Cluster::Cluster(ClusterOptions options, metrics::Registry& registry)
    : options_(std::move(options)), registry_(registry) {}

Cluster::~Cluster() { stop(); }

Status Cluster::start() {
  NW_ASSIGN_OR_RETURN(Identity id, Identity::load_or_create(options_.data_dir));
  if (id.removed) {
    return Error(Code::failed_precondition,
                 "this agent was removed from cluster " + id.cluster_id,
                 "to add it again, start it with an empty --data-dir and "
                 "--join a member",
                 "cluster");
  }
  identity_raft_id_ = id.raft_id;
  api_addr_ = options_.api_addr ? options_.api_addr() : "";
  {
    std::lock_guard lock(mu_);
    identity_ = id;
    join_addrs_ = options_.join;
  }

  transport::TransportOptions topts;
  topts.node_id = link_id(options_.node_id, id.raft_id);
  topts.listen = options_.peer_listen;
  transport_ = std::make_unique<transport::Transport>(
      topts,
      [this](const std::string& from, std::uint64_t group,
             std::string_view payload) {
        if (group == kControllerGroup) {
          if (raft_host::RaftHost* h = host()) h->deliver(from, payload);
        } else if (group == kControlGroup) {
          on_control(from, payload);
        } else if (group_handler_) {
          group_handler_(from, group, payload);
        }
      },
      &registry_);
  NW_RETURN_IF_ERROR(transport_->start());
  HostPort advertised = options_.peer_listen;
  advertised.port = transport_->port();
  if (!options_.peer_advertise.host.empty()) {
    advertised = options_.peer_advertise;
  }
  peer_addr_ = advertised.to_string();

  for (std::size_t i = 0; i < kWorkers; ++i) {
    workers_.emplace_back([this] { worker(); });
  }

  if (!id.member() && options_.join.empty() && options_.bootstrap_expect == 1) {
    // A cluster of one: nothing to wait for.
    const std::string cid = make_cluster_id(random_id());
    std::lock_guard lock(mu_);
    identity_.cluster_id = cid;
    identity_.initial_voters = {identity_.raft_id};
    identity_.peers = {
        KnownPeer{options_.node_id, identity_.raft_id, peer_addr_}};
    NW_RETURN_IF_ERROR(identity_.save(options_.data_dir));
    kLog.info("formed a new cluster of one",
              {{"cluster", cid}, {"node", options_.node_id}});
  }
  bool member = false;
  {
    std::lock_guard lock(mu_);
    member = identity_.member();
  }
  if (member) {
    if (Status s = start_member(); !s.ok()) {
      stop();
      return s;
    }
  } else {
    kLog.info("looking for the cluster",
              {{"join",
                [&] {
                  std::string out;
                  for (const HostPort& hp : options_.join) {
                    if (!out.empty()) out += ",";
                    out += hp.to_string();
                  }
                  return out;
                }()},
               {"bootstrap_expect", options_.bootstrap_expect}});
  }
  clock_collector_ =
      registry_.add_collector([this](std::vector<metrics::Sample>& out) {
        collect_clock_metrics(out);
      });
  loop_ = std::thread([this] { loop(); });
  started_ = true;
  return ok_status();
}

Status Cluster::start_member() {
  Identity id;
  {
    std::lock_guard lock(mu_);
    id = identity_;
  }
  wal::WalOptions wopts;
  wopts.fsync = options_.wal_fsync;
  const std::string dir = options_.data_dir + "/controller";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error(Code::io_error, "create " + dir + ": " + ec.message(), {},
                 "cluster");
  }
  NW_ASSIGN_OR_RETURN(storage_, wal::WalStorage::open(dir, wopts));

  raft_host::HostOptions hopts;
  hopts.group = kControllerGroup;
  hopts.tick_interval = options_.tick_interval;
  hopts.raft.id = raft::NodeId(id.raft_id);
  hopts.raft.initial_membership = id.initial_membership();
  hopts.raft.election_tick = options_.election_ticks;
  hopts.raft.heartbeat_tick = options_.heartbeat_ticks;
  hopts.raft.seed = random_id();
  hopts.raft.storage = storage_.get();
  hopts.snapshot_threshold = options_.snapshot_threshold;
  hopts.snapshot_keep_entries =
      std::min<std::uint64_t>(500, options_.snapshot_threshold / 2);
  hopts.read_timeout_ticks = 4 * options_.election_ticks;

  raft_host::StateMachine sm;
  sm.apply = [this](const raft::Entry& e) {
    std::lock_guard lock(mu_);
    Result<controller::ApplyResult> r = state_.apply(e.index, e.data);
    Status outcome = r.ok() ? r->status : Status(r.error());
    if (!r.ok()) {
      kLog.error("controller entry not applied",
                 {{"index", e.index.value()}, {"error", r.error().message}});
    }
    results_[e.index.value()] = std::move(outcome);
    while (results_.size() > kMaxResults) results_.erase(results_.begin());
    cv_.notify_all();
  };
  sm.snapshot = [this] {
    std::lock_guard lock(mu_);
    return state_.snapshot();
  };
  sm.restore = [this](const raft::Snapshot& snap) -> Status {
    NW_ASSIGN_OR_RETURN(controller::ClusterState s,
                        controller::ClusterState::restore(snap.data));
    std::lock_guard lock(mu_);
    state_ = std::move(s);
    cv_.notify_all();
    return ok_status();
  };
  sm.on_conf_change = [this](const raft::ConfChange& cc,
                             const raft::Membership&) {
    if (cc.type == raft::ConfChangeType::remove && cc.node == self_raft()) {
      removed_ = true;
    }
    std::lock_guard lock(mu_);
    cv_.notify_all();
  };

  host_ = std::make_unique<raft_host::RaftHost>(
      hopts, *transport_, raft_host::PeerMap{}, std::move(sm), &registry_);
  sync_peers(host_.get());
  NW_RETURN_IF_ERROR(host_->start());
  host_ptr_ = host_.get();
  kLog.info("controller group started", {{"cluster", id.cluster_id},
                                         {"raft_id", id.raft_id},
                                         {"peer", peer_addr_}});
  std::lock_guard lock(mu_);
  cv_.notify_all();
  return ok_status();
}

void Cluster::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  // When this returns no scrape is reading the clock state any more.
  if (clock_collector_ != 0) registry_.remove_collector(clock_collector_);
  clock_collector_ = 0;
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  {
    std::lock_guard lock(tasks_mu_);
    tasks_stop_ = true;
  }
  tasks_cv_.notify_all();
  // Workers may wait on host futures; stopping the host resolves them.
  if (raft_host::RaftHost* h = host()) h->stop();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  if (host_) host_->stop();  // one a worker started meanwhile
  {
    std::lock_guard lock(mu_);
    for (auto& [req, p] : pending_) {
      p->promise.set_value(unavailable("agent stopping"));
    }
    pending_.clear();
  }
  if (transport_) transport_->stop();
  host_ptr_ = nullptr;
}

bool Cluster::running() const {
  raft_host::RaftHost* h = host();
  if (h == nullptr) return true;  // discovering
  return h->status().running || removed_;
}

// ---- Workers ----

void Cluster::post(std::function<void()> task) {
  {
    std::lock_guard lock(tasks_mu_);
    if (tasks_stop_) return;
    tasks_.push_back(std::move(task));
  }
  tasks_cv_.notify_one();
}

void Cluster::worker() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(tasks_mu_);
      tasks_cv_.wait(lock, [&] { return tasks_stop_ || !tasks_.empty(); });
      if (tasks_stop_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void Cluster::fatal(const Error& e) {
  if (fatal_sent_.exchange(true)) return;
  kLog.error("cannot continue as a cluster member",
             {{"error", e.message}, {"hint", e.hint}});
  if (options_.on_fatal) options_.on_fatal(e);
}

// ---- The loop ----

void Cluster::loop() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kLoopInterval, [&] { return stopping_; });
      if (stopping_) return;
    }
    raft_host::RaftHost* h = host();
    if (h == nullptr) {
      discovery_step();
      continue;
    }
    if (removed_) {
      on_removed();
      continue;
    }
    const raft_host::HostStatus st = h->status();
    if (!st.running) continue;
    sync_peers(h);
    measure_clocks(st.leader == self_raft());
    if (st.leader == raft::kNoNode) continue;
    self_register();
    if (st.leader == self_raft()) reconcile_leader();
  }
}

void Cluster::on_removed() {
  bool first = false;
  std::string cid;
  {
    std::lock_guard lock(mu_);
    if (!identity_.removed) {
      identity_.removed = true;
      first = true;
      cid = identity_.cluster_id;
      if (Status s = identity_.save(options_.data_dir); !s.ok()) {
        kLog.error("could not record the removal",
                   {{"error", s.error().message}});
      } else {
        removed_recorded_ = true;
      }
    }
  }
  if (!first) return;
  kLog.warn(
      "this agent was removed from the cluster; its controller group "
      "stops",
      {{"cluster", cid}});
  if (raft_host::RaftHost* h = host()) h->stop();
}

std::string Cluster::node_of(raft::NodeId id) const {
  // REQUIRES: mu_ held.
  if (const controller::NodeRecord* n = state_.by_raft_id(id)) return n->id;
  for (const KnownPeer& p : identity_.peers) {
    if (p.raft_id == id.value()) return p.node_id;
  }
  return {};
}

std::string Cluster::api_of(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  const controller::NodeRecord* n = state_.node(node_id);
  return n == nullptr ? std::string() : n->api_addr;
}

// Keeps the transport's peers and the host's PeerMap equal to what the
// cluster state and the identity file know.
void Cluster::sync_peers(raft_host::RaftHost* h) {
  raft_host::PeerMap map;
  std::vector<std::pair<std::string, std::string>> dial;
  {
    std::lock_guard lock(mu_);
    auto add = [&](const std::string& node, std::uint64_t raft_id,
                   const std::string& addr) {
      if (node.empty() || raft_id == identity_raft_id_ || raft_id == 0) return;
      const std::string link = link_id(node, raft_id);
      map[raft::NodeId(raft_id)] = link;
      if (addr.empty()) return;
      auto it = peer_addrs_set_.find(link);
      if (it != peer_addrs_set_.end() && it->second == addr) return;
      peer_addrs_set_[link] = addr;
      dial.emplace_back(link, addr);
    };
    for (const KnownPeer& p : identity_.peers) {
      add(p.node_id, p.raft_id, p.peer_addr);
    }
    for (const auto& [id, n] : state_.nodes()) {
      add(n.id, n.raft_id.value(), n.peer_addr);
    }
  }
  for (const auto& [node, addr] : dial) {
    Result<HostPort> hp = parse_host_port(addr);
    if (hp.ok()) transport_->set_peer(node, *hp);
  }
  if (h != nullptr) h->set_peers(std::move(map));
}

// Registers (or updates) this agent's record once a leader is known.
void Cluster::self_register() {
  if (register_future_) {
    if (register_future_->wait_for(std::chrono::seconds(0)) !=
        std::future_status::ready) {
      return;
    }
    Status s = register_future_->get();
    register_future_.reset();
    if (!s.ok()) {
      kLog.debug("self registration failed; retrying",
                 {{"error", s.error().message}});
    }
  }
  if (mono_now() < next_register_at_) return;
  controller::NodeRecord rec;
  {
    std::lock_guard lock(mu_);
    const controller::NodeRecord* n = state_.node(options_.node_id);
    if (n != nullptr && n->raft_id == self_raft() && n->api_addr == api_addr_ &&
        n->peer_addr == peer_addr_) {
      return;
    }
    if (n != nullptr) rec = *n;
  }
  const raft_host::HostStatus st = host()->status();
  // Not (or no longer) a member: a removed agent must not put itself back.
  if (!st.applied_membership.contains(self_raft())) return;
  rec.id = options_.node_id;
  rec.raft_id = self_raft();
  rec.api_addr = api_addr_;
  rec.peer_addr = peer_addr_;
  rec.role = st.membership.is_voter(self_raft())
                 ? controller::NodeRecord::Role::voter
                 : controller::NodeRecord::Role::learner;
  next_register_at_ = mono_now() + std::chrono::seconds(1);
  register_future_ = std::async(std::launch::async, [this, rec]() -> Status {
    return propose(controller::RegisterNode{rec}, std::chrono::seconds(5));
  });
}

// Leader only: promote caught-up learners, keep recorded roles equal to
// Raft roles.
void Cluster::reconcile_leader() {
  raft_host::RaftHost* h = host();
  if (conf_future_) {
    if (conf_future_->wait_for(std::chrono::seconds(0)) !=
        std::future_status::ready) {
      return;
    }
    Result<raft::LogIndex> r = conf_future_->get();
    conf_future_.reset();
    if (!r.ok()) {
      kLog.debug("membership change not done; will retry",
                 {{"error", r.error().message}});
    }
  }
  const raft_host::HostStatus st = h->status();
  // Promote the most caught-up learner first.
  for (raft::NodeId l : st.membership.learners) {
    auto it = st.progress.find(l);
    if (it == st.progress.end()) continue;
    if (it->second.match.value() + kPromoteLag < st.last_index.value()) {
      continue;
    }
    kLog.info("promoting a caught-up learner to voter",
              {{"raft_id", l.value()}});
    conf_future_ = h->propose_conf_change(
        raft::ConfChange{raft::ConfChangeType::promote, l});
    return;
  }
  // Nodes recorded but not members (a join or a removal cut short by a
  // leader change) are left alone: the joiner retries its join, and
  // `nwctl cluster remove` finishes a removal. Re-adding them here would
  // undo removals.
  std::vector<controller::Command> fixes;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, n] : state_.nodes()) {
      if (!st.membership.contains(n.raft_id)) continue;
      const auto want = st.membership.is_voter(n.raft_id)
                            ? controller::NodeRecord::Role::voter
                            : controller::NodeRecord::Role::learner;
      if (n.role != want) fixes.push_back(controller::SetRole{n.id, want});
    }
  }
  if (!fixes.empty() && !register_future_) {
    register_future_ =
        std::async(std::launch::async, [this, fixes]() -> Status {
          for (const controller::Command& c : fixes) {
            NW_RETURN_IF_ERROR(propose(c, std::chrono::seconds(5)));
          }
          return ok_status();
        });
  }
}

// ---- The controller API ----

Status Cluster::take_result(raft::LogIndex index) {
  std::lock_guard lock(mu_);
  auto it = results_.find(index.value());
  if (it == results_.end()) return ok_status();
  Status s = std::move(it->second);
  results_.erase(it);
  return s;
}

Status Cluster::propose(const controller::Command& command, Duration timeout) {
  const std::string data = controller::encode_command(command);
  const MonoTime deadline = mono_now() + timeout;
  Error last = unavailable("no leader is known",
                           "retry; check `nwctl cluster status --stale`");
  while (mono_now() < deadline) {
    raft_host::RaftHost* h = host();
    if (h == nullptr || removed_) {
      return unavailable("this agent is not a cluster member",
                         "join it with `nwctl cluster join`");
    }
    const raft_host::HostStatus st = h->status();
    if (!st.running) return unavailable("the controller group is stopped");
    if (st.leader == self_raft()) {
      auto f = h->propose(data);
      if (f.wait_until(deadline) != std::future_status::ready) break;
      Result<raft::LogIndex> r = f.get();
      if (r.ok()) return take_result(*r);
      if (r.error().code != Code::unavailable) return r.error();
      last = r.error();
    } else if (st.leader != raft::kNoNode) {
      std::string leader;
      {
        std::lock_guard lock(mu_);
        leader = node_of(st.leader);
      }
      if (!leader.empty()) leader = link_id(leader, st.leader.value());
      if (!leader.empty()) {
        Status s = forward_propose(leader, data, deadline);
        if (s.ok() || s.error().code != Code::unavailable) return s;
        last = s.error();
      }
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(20),
                 [&] { return stopping_; });
    if (stopping_) return unavailable("agent stopping");
  }
  if (last.code == Code::unavailable && mono_now() >= deadline) {
    return Error(Code::timeout,
                 "controller write not committed within " +
                     format_duration(timeout) + ": " + last.message,
                 "retry; check `nwctl cluster status`", "cluster");
  }
  return last;
}

Status Cluster::read_barrier(Duration timeout) {
  const MonoTime deadline = mono_now() + timeout;
  Error last = unavailable("no leader is known");
  while (mono_now() < deadline) {
    raft_host::RaftHost* h = host();
    if (h == nullptr || removed_) {
      return unavailable("this agent is not a cluster member",
                         "join it with `nwctl cluster join`");
    }
    auto f = h->read_barrier();
    if (f.wait_until(deadline) != std::future_status::ready) break;
    Status s = f.get();
    if (s.ok()) return s;
    if (s.error().code != Code::unavailable && s.error().code != Code::timeout)
      return s;
    last = s.error();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(20),
                 [&] { return stopping_; });
    if (stopping_) return unavailable("agent stopping");
  }
  return Error(Code::timeout,
               "no linearizable read point within " + format_duration(timeout) +
                   ": " + last.message,
               "retry, or read this agent's possibly stale state with --stale",
               "cluster");
}

void Cluster::read(
    const std::function<void(const controller::ClusterState&)>& f) const {
  std::lock_guard lock(mu_);
  f(state_);
}

std::uint64_t Cluster::wait_for_change(std::uint64_t after,
                                       Duration timeout) const {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout,
               [&] { return stopping_ || state_.version() > after; });
  return state_.version();
}

// ---- Facts ----

std::string Cluster::role() const {
  if (removed_recorded_) return "removed";
  raft_host::RaftHost* h = host();
  if (h == nullptr) return "joining";
  const raft_host::HostStatus st = h->status();
  if (!st.running) return "stopped";
  if (st.membership.is_learner(self_raft())) return "learner";
  if (!st.membership.contains(self_raft())) return "joining";
  switch (st.role) {
    case raft::Role::leader:
      return "leader";
    case raft::Role::follower:
      return "follower";
    case raft::Role::pre_candidate:
    case raft::Role::candidate:
      return "candidate";
  }
  return "follower";
}

std::string Cluster::cluster_id() const {
  std::lock_guard lock(mu_);
  return identity_.cluster_id;
}

std::string Cluster::leader_id() const {
  raft_host::RaftHost* h = host();
  if (h == nullptr) return {};
  const raft::NodeId leader = h->status().leader;
  if (leader == raft::kNoNode) return {};
  std::lock_guard lock(mu_);
  return node_of(leader);
}

bool Cluster::is_leader() const {
  raft_host::RaftHost* h = host();
  return h != nullptr && h->leadership().is_leader();
}

void Cluster::set_group_handler(GroupHandler handler) {
  group_handler_ = std::move(handler);
}

std::uint64_t Cluster::term() const {
  raft_host::RaftHost* h = host();
  return h == nullptr ? 0 : h->status().term.value();
}

std::string Cluster::peer_addr() const { return peer_addr_; }

bool Cluster::ready() const { return not_ready_reason().empty(); }

std::string Cluster::not_ready_reason() const {
  if (removed_) return "removed from the cluster";
  raft_host::RaftHost* h = host();
  if (h == nullptr) {
    std::lock_guard lock(mu_);
    if (join_error_) return "join refused: " + join_error_->message;
    return "not a cluster member yet (discovering peers)";
  }
  const raft_host::HostStatus st = h->status();
  if (!st.running) {
    return st.failure ? "controller group stopped: " + st.failure->message
                      : "controller group stopped";
  }
  if (st.leader == raft::kNoNode) return "no controller leader known";
  return {};
}

ClusterView Cluster::view(bool stale) const {
  ClusterView v;
  v.node_id = options_.node_id;
  v.stale = stale;
  raft_host::RaftHost* h = host();
  raft_host::HostStatus st;
  if (h != nullptr) st = h->status();
  std::map<std::string, bool> connected;
  if (started_) {
    for (const transport::PeerInfo& p : transport_->peers()) {
      connected[p.node_id] = p.connected;
    }
  }
  const bool leader = h != nullptr && st.leader == self_raft();
  std::lock_guard lock(mu_);
  v.cluster_id = identity_.cluster_id;
  v.term = st.term.value();
  v.commit_index = st.commit.value();
  v.applied_index = st.applied.value();
  if (st.leader != raft::kNoNode) v.leader = node_of(st.leader);
  std::set<raft::NodeId> members = st.membership.voters;
  members.insert(st.membership.learners.begin(), st.membership.learners.end());
  for (const auto& [id, n] : state_.nodes()) members.insert(n.raft_id);
  for (raft::NodeId rid : members) {
    MemberView m;
    m.raft_id = rid.value();
    if (const controller::NodeRecord* n = state_.by_raft_id(rid)) {
      m.id = n->id;
      m.api_addr = n->api_addr;
      m.peer_addr = n->peer_addr;
      m.labels = n->labels;
    } else {
      for (const KnownPeer& p : identity_.peers) {
        if (p.raft_id == rid.value()) {
          m.id = p.node_id;
          m.peer_addr = p.peer_addr;
        }
      }
    }
    if (m.id.empty()) m.id = "raft-" + std::to_string(rid.value());
    m.role = st.membership.is_voter(rid) ? "voter" : "learner";
    m.leader = rid == st.leader;
    if (rid == self_raft()) {
      m.state = "healthy";
      m.match_index = st.last_index.value();
    } else {
      auto c = connected.find(link_id(m.id, m.raft_id));
      m.state = c != connected.end() && c->second ? "healthy" : "unreachable";
      if (leader) {
        auto p = st.progress.find(rid);
        if (p != st.progress.end()) m.match_index = p->second.match.value();
      }
    }
    if (leader && st.last_index.value() >= m.match_index) {
      m.lag = st.last_index.value() - m.match_index;
    }
    // Only the leader measures clocks (cluster_clock.cc); its own is the
    // reference.
    if (leader && rid == self_raft()) {
      m.clock_offset_ms = 0;
      m.clock_rtt_ms = 0;
    } else if (leader) {
      if (std::optional<ClockSample> c = clock_estimate(rid.value())) {
        m.clock_offset_ms = round_millis(c->offset);
        m.clock_rtt_ms = round_millis(c->rtt);
      }
    }
    v.members.push_back(std::move(m));
  }
  std::sort(
      v.members.begin(), v.members.end(),
      [](const MemberView& a, const MemberView& b) { return a.id < b.id; });
  return v;
}

}  // namespace nw::cluster
