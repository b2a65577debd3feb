// Discovery, joining and proposal forwarding over the transport's control
// group (control.h).
#include <algorithm>
#include <filesystem>
#include <map>

#include "agent/cluster/cluster.h"
#include "agent/cluster/control.h"
#include "agent/wal/wal_storage.h"
#include "common/base/log.h"

namespace nw::cluster {
namespace {

const log::Logger kLog("cluster");
constexpr std::uint64_t kControlGroup = 0;
constexpr auto kInfoTtl = std::chrono::seconds(5);
constexpr auto kJoinRetry = std::chrono::seconds(1);
constexpr auto kForwardWait = std::chrono::seconds(3);

Error unavailable(std::string message, std::string hint = "retry") {
  return Error(Code::unavailable, std::move(message), std::move(hint),
               "cluster");
}

Status status_of(const ControlMessage& m) {
  if (m.code == "ok") return ok_status();
  Code c = code_from_string(m.code).value_or(Code::internal);
  if (c == Code::ok) c = Code::internal;
  return Error(c, m.message, m.hint, "cluster");
}

void set_status(ControlMessage& m, const Status& s) {
  if (s.ok()) {
    m.code = "ok";
    return;
  }
  m.code = std::string(to_string(s.error().code));
  m.message = s.error().message;
  m.hint = s.error().hint;
}

}  // namespace

void Cluster::on_control(const std::string& from, std::string_view payload) {
  Result<ControlMessage> m = decode_control(payload);
  if (!m.ok()) {
    kLog.warn("bad control message dropped",
              {{"peer", from}, {"error", m.error().message}});
    return;
  }
  switch (m->type) {
    case ControlType::info: {
      // A member answers an agent that is still looking, so it learns
      // which cluster it reached (and can ask to join).
      const bool answer = m->cluster_id.empty() && host() != nullptr;
      {
        std::lock_guard lock(mu_);
        infos_[from] =
            std::make_unique<Info>(Info{std::move(m).value(), mono_now()});
      }
      if (answer) send_info(from);
      return;
    }
    case ControlType::propose_resp: {
      std::lock_guard lock(mu_);
      auto it = pending_.find(m->req);
      if (it == pending_.end()) return;
      it->second->promise.set_value(status_of(*m));
      pending_.erase(it);
      return;
    }
    case ControlType::join: {
      post([this, from, msg = std::move(m).value()] {
        handle_join_request(from, msg.req, msg.self, msg.api_addr);
      });
      return;
    }
    case ControlType::join_resp: {
      post([this, msg = std::move(m).value()] {
        if (host() != nullptr) return;  // a member already
        Status s = status_of(msg);
        if (s.ok()) {
          kLog.info("join accepted",
                    {{"cluster", msg.cluster_id}, {"leader", msg.leader}});
          adopt(msg.cluster_id, msg.initial_voters, msg.peers);
          return;
        }
        if (s.error().code == Code::unavailable && !msg.leader.empty() &&
            !msg.leader_peer_addr.empty()) {
          Result<HostPort> hp = parse_host_port(msg.leader_peer_addr);
          if (hp.ok()) transport_->set_peer(msg.leader, *hp);
          std::lock_guard lock(mu_);
          join_target_ = msg.leader;
          next_join_at_ = MonoTime();
          return;
        }
        kLog.warn("join refused", {{"error", s.error().message}});
        if (s.error().code == Code::conflict ||
            s.error().code == Code::failed_precondition) {
          {
            std::lock_guard lock(mu_);
            join_error_ = s.error();
          }
          cv_.notify_all();
          if (!options_.join.empty()) fatal(s.error());
        }
      });
      return;
    }
    case ControlType::removed: {
      std::lock_guard lock(mu_);
      if (!identity_.cluster_id.empty() &&
          m->cluster_id == identity_.cluster_id &&
          m->self.raft_id == identity_raft_id_) {
        removed_ = true;
        cv_.notify_all();
      }
      return;
    }
    case ControlType::propose: {
      post([this, from, msg = std::move(m).value()] {
        handle_propose(from, msg.req, msg.data);
      });
      return;
    }
    case ControlType::ping:
      handle_ping(from, m.value());
      return;
    case ControlType::pong:
      handle_pong(from, m.value());
      return;
  }
}

void Cluster::send_info(const std::string& to) {
  ControlMessage m;
  m.type = ControlType::info;
  m.self = KnownPeer{options_.node_id, identity_raft_id_, peer_addr_};
  m.api_addr = api_addr_;
  m.expect = options_.bootstrap_expect;
  {
    std::lock_guard lock(mu_);
    m.cluster_id = identity_.cluster_id;
    m.initial_voters = identity_.initial_voters;
    m.peers.push_back(m.self);
    // A member names every founder it knows: an agent that adopts the
    // cluster from this message takes its peers from it, and one missing
    // from them is a voter it can never answer (it then never learns the
    // leader's name nor catches up).
    for (const KnownPeer& p : identity_.peers) {
      if (p.raft_id != m.self.raft_id) m.peers.push_back(p);
    }
    for (const auto& [node, info] : infos_) {
      const KnownPeer& p = info->msg.self;
      const bool listed = std::any_of(
          m.peers.begin(), m.peers.end(),
          [&](const KnownPeer& q) { return q.raft_id == p.raft_id; });
      if (info->msg.cluster_id.empty() && !listed) m.peers.push_back(p);
    }
  }
  transport_->send(to, kControlGroup, encode_control(m));
}

// Another agent with our node id, seen in its own info message (not in
// gossip about it, so it was alive after this agent started): neither of
// the two may form or join a cluster. Which of them the operator meant is
// unknowable, and a cluster with one name for two members forwards
// requests for that name to either (Consul refuses duplicate node ids
// too). The twin of a member is refused by the leader when it asks to
// join; this catches it sooner, and catches two agents still looking.
std::optional<Error> Cluster::find_twin() const {
  std::lock_guard lock(mu_);
  const MonoTime now = mono_now();
  for (const auto& [node, info] : infos_) {
    const KnownPeer& p = info->msg.self;
    if (now - info->at > kInfoTtl || p.node_id != options_.node_id ||
        p.raft_id == identity_raft_id_) {
      continue;
    }
    // The member case reads as the leader's refusal of a join does.
    const std::string message =
        info->msg.cluster_id.empty()
            ? "node id " + options_.node_id + " is taken: the agent at " +
                  p.peer_addr + " uses it too (this agent is at " + peer_addr_ +
                  ")"
            : "node id " + options_.node_id +
                  " is taken by another agent of cluster " +
                  info->msg.cluster_id + " (at " + p.peer_addr + ")";
    return Error(Code::conflict, message,
                 "give every agent its own --node-id, then start this one "
                 "again",
                 "cluster");
  }
  return std::nullopt;
}

void Cluster::discovery_step() {
  std::vector<HostPort> seeds;
  {
    std::lock_guard lock(mu_);
    if (!seeds_added_) {
      seeds = join_addrs_;
      seeds_added_ = true;
    }
  }
  for (const HostPort& hp : seeds) transport_->add_seed(hp);
  for (const transport::PeerInfo& p : transport_->peers()) {
    if (p.connected) send_info(p.node_id);
  }

  if (std::optional<Error> twin = find_twin()) {
    {
      std::lock_guard lock(mu_);
      if (join_error_) return;  // told already
      join_error_ = *twin;
    }
    cv_.notify_all();
    // Discovery the command line asked for ends the agent; a join asked
    // for through the API answers its caller instead.
    if (!options_.join.empty() || options_.bootstrap_expect > 1) {
      fatal(*twin);
    } else {
      kLog.error("join refused", {{"error", twin->message}});
    }
    return;
  }

  std::optional<ControlMessage> adopt_from;
  std::optional<std::pair<std::string, ControlMessage>> join_req;
  std::optional<std::vector<KnownPeer>> form;
  std::vector<KnownPeer> gossip;
  {
    std::lock_guard lock(mu_);
    if (join_error_) return;
    const MonoTime now = mono_now();
    for (auto it = infos_.begin(); it != infos_.end();) {
      if (now - it->second->at > kInfoTtl) {
        it = infos_.erase(it);
      } else {
        ++it;
      }
    }
    std::string formed_node;
    for (const auto& [node, info] : infos_) {
      const ControlMessage& m = info->msg;
      for (const KnownPeer& p : m.peers) gossip.push_back(p);
      if (m.cluster_id.empty()) continue;
      if (std::find(m.initial_voters.begin(), m.initial_voters.end(),
                    identity_raft_id_) != m.initial_voters.end()) {
        adopt_from = m;
        break;
      }
      formed_node = node;
    }
    if (!adopt_from && !formed_node.empty() && now >= next_join_at_) {
      next_join_at_ = now + kJoinRetry;
      const std::string target =
          join_target_.empty() ? formed_node : join_target_;
      ControlMessage j;
      j.type = ControlType::join;
      j.req = next_req_++;
      j.self = KnownPeer{options_.node_id, identity_raft_id_, peer_addr_};
      j.api_addr = api_addr_;
      join_req.emplace(target, j);
    }
    if (!adopt_from && formed_node.empty() && options_.bootstrap_expect > 1) {
      std::vector<KnownPeer> candidates{
          KnownPeer{options_.node_id, identity_raft_id_, peer_addr_}};
      for (const auto& [node, info] : infos_) {
        const ControlMessage& m = info->msg;
        if (!m.cluster_id.empty()) continue;
        if (m.expect != options_.bootstrap_expect) {
          kLog.warn("peer expects another cluster size; ignored",
                    {{"peer", node},
                     {"its_bootstrap_expect", m.expect},
                     {"ours", options_.bootstrap_expect}});
          continue;
        }
        candidates.push_back(m.self);
      }
      // Two candidates with one node id (two agents started with the same
      // --node-id): neither counts. They refuse to go on themselves
      // (find_twin); until they are gone, forming with either would give
      // the cluster one name for two members.
      std::map<std::string, int> uses;
      for (const KnownPeer& c : candidates) ++uses[c.node_id];
      std::erase_if(candidates, [&](const KnownPeer& c) {
        if (uses[c.node_id] < 2) return false;
        if (twins_warned_.insert(link_id(c.node_id, c.raft_id)).second) {
          kLog.warn(
              "two agents use one node id; neither counts towards "
              "bootstrap_expect",
              {{"node", c.node_id}, {"peer", c.peer_addr}});
        }
        return true;
      });
      if (candidates.size() >=
          static_cast<std::size_t>(options_.bootstrap_expect)) {
        std::sort(candidates.begin(), candidates.end(),
                  [](const KnownPeer& a, const KnownPeer& b) {
                    return a.node_id < b.node_id;
                  });
        candidates.resize(static_cast<std::size_t>(options_.bootstrap_expect));
        for (const KnownPeer& c : candidates) {
          if (c.node_id == options_.node_id) form = candidates;
        }
      }
    }
  }
  // Dial the candidates others told us about.
  for (const KnownPeer& p : gossip) {
    if (p.raft_id == identity_raft_id_ || p.peer_addr.empty()) continue;
    const std::string link = link_id(p.node_id, p.raft_id);
    bool known = false;
    for (const transport::PeerInfo& tp : transport_->peers()) {
      if (tp.node_id == link) known = true;
    }
    if (known) continue;
    Result<HostPort> hp = parse_host_port(p.peer_addr);
    if (hp.ok()) transport_->set_peer(link, *hp);
  }
  if (adopt_from) {
    kLog.info("joining the cluster our bootstrap peers formed",
              {{"cluster", adopt_from->cluster_id}});
    adopt(adopt_from->cluster_id, adopt_from->initial_voters,
          adopt_from->peers);
    return;
  }
  if (join_req) {
    kLog.debug("asking to join", {{"to", join_req->first}});
    transport_->send(join_req->first, kControlGroup,
                     encode_control(join_req->second));
    return;
  }
  if (form) {
    std::vector<std::uint64_t> voters;
    std::uint64_t seed = 1469598103934665603ULL;
    std::string names;
    for (const KnownPeer& p : *form) {
      voters.push_back(p.raft_id);
      seed = (seed ^ p.raft_id) * 1099511628211ULL;
      names += (names.empty() ? "" : ",") + p.node_id;
    }
    std::sort(voters.begin(), voters.end());
    kLog.info("forming a new cluster", {{"members", names}});
    adopt(make_cluster_id(seed), voters, *form);
  }
}

void Cluster::adopt(std::string cluster_id, std::vector<std::uint64_t> voters,
                    std::vector<KnownPeer> peers) {
  {
    std::lock_guard lock(mu_);
    if (identity_.member() || stopping_) return;
    identity_.cluster_id = std::move(cluster_id);
    identity_.initial_voters = std::move(voters);
    identity_.peers = std::move(peers);
    if (Status s = identity_.save(options_.data_dir); !s.ok()) {
      identity_.cluster_id.clear();
      kLog.error("could not save cluster.json", {{"error", s.error().message}});
      return;
    }
  }
  if (Status s = start_member(); !s.ok()) {
    fatal(s.error().wrap("start the controller group"));
    return;
  }
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

void Cluster::handle_join_request(const std::string& from, std::uint64_t req,
                                  KnownPeer node, std::string api_addr) {
  ControlMessage reply;
  reply.type = ControlType::join_resp;
  reply.req = req;
  raft_host::RaftHost* h = host();
  const raft_host::HostStatus st =
      h != nullptr ? h->status() : raft_host::HostStatus{};
  if (h == nullptr || st.leader != self_raft()) {
    Status s = unavailable("not the leader");
    set_status(reply, s);
    std::lock_guard lock(mu_);
    if (h != nullptr && st.leader != raft::kNoNode) {
      // The leader's transport id, for the joiner to dial.
      reply.leader = link_id(node_of(st.leader), st.leader.value());
      if (const controller::NodeRecord* n = state_.by_raft_id(st.leader)) {
        reply.leader_peer_addr = n->peer_addr;
      }
    }
    transport_->send(from, kControlGroup, encode_control(reply));
    return;
  }
  Status s = ok_status();
  controller::NodeRecord rec;
  {
    std::lock_guard lock(mu_);
    const controller::NodeRecord* same_id = state_.node(node.node_id);
    const controller::NodeRecord* same_raft =
        state_.by_raft_id(raft::NodeId(node.raft_id));
    // Another agent with this node id: a member's record, or a founding
    // member that has not committed its record yet (known only from
    // cluster.json); its name is taken all the same.
    std::optional<std::string> taken_at;
    if (same_id != nullptr && same_id->raft_id.value() != node.raft_id) {
      taken_at = same_id->peer_addr;
    }
    for (const KnownPeer& p : identity_.peers) {
      if (same_id == nullptr && p.node_id == node.node_id &&
          p.raft_id != node.raft_id &&
          st.membership.contains(raft::NodeId(p.raft_id))) {
        taken_at = p.peer_addr;
      }
    }
    if (node.node_id.empty() || node.raft_id == 0) {
      s = Error(Code::invalid_argument, "join: empty node id or raft id");
    } else if (taken_at) {
      s = Error(Code::conflict,
                "node id " + node.node_id +
                    " is taken by another agent of cluster " +
                    identity_.cluster_id + " (at " + *taken_at + ")",
                "start this agent with another --node-id, or remove the old "
                "member first: nwctl cluster remove " +
                    node.node_id,
                "cluster");
    } else if (same_raft != nullptr && same_raft->id != node.node_id) {
      s = Error(Code::conflict, "raft id taken by " + same_raft->id, {},
                "cluster");
    } else if (same_id != nullptr) {
      rec = *same_id;
    }
  }
  const bool member = st.membership.contains(raft::NodeId(node.raft_id));
  if (s.ok()) {
    rec.id = node.node_id;
    rec.raft_id = raft::NodeId(node.raft_id);
    rec.api_addr = api_addr;
    rec.peer_addr = node.peer_addr;
    if (!member) rec.role = controller::NodeRecord::Role::learner;
    s = propose(controller::RegisterNode{rec}, std::chrono::seconds(10));
  }
  if (s.ok() && !member) {
    const MonoTime deadline = mono_now() + std::chrono::seconds(10);
    while (true) {
      auto f = h->propose_conf_change(raft::ConfChange{
          raft::ConfChangeType::add_learner, raft::NodeId(node.raft_id)});
      if (f.wait_until(deadline) != std::future_status::ready) {
        s = Error(Code::timeout, "join: membership change not committed");
        break;
      }
      Result<raft::LogIndex> r = f.get();
      if (r.ok()) break;
      // Another change in flight (a promotion, say): wait for it.
      if (mono_now() >= deadline ||
          (r.error().code != Code::failed_precondition &&
           r.error().code != Code::unavailable)) {
        s = r.error();
        break;
      }
      if (h->status().membership.contains(raft::NodeId(node.raft_id))) break;
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
  }
  set_status(reply, s);
  if (s.ok()) {
    kLog.info("node joined as a learner",
              {{"node", node.node_id}, {"peer", node.peer_addr}});
    std::lock_guard lock(mu_);
    reply.cluster_id = identity_.cluster_id;
    reply.initial_voters = identity_.initial_voters;
    reply.leader = options_.node_id;
    reply.peers = identity_.peers;
    for (const auto& [id, n] : state_.nodes()) {
      bool seen = false;
      for (const KnownPeer& p : reply.peers) seen |= p.node_id == n.id;
      if (!seen) {
        reply.peers.push_back(KnownPeer{n.id, n.raft_id.value(), n.peer_addr});
      }
    }
  }
  transport_->send(from, kControlGroup, encode_control(reply));
}

Status Cluster::forward_propose(const std::string& leader,
                                const std::string& data, MonoTime deadline) {
  ControlMessage m;
  m.type = ControlType::propose;
  m.self = KnownPeer{options_.node_id, identity_raft_id_, peer_addr_};
  m.data = data;
  std::future<Status> f;
  {
    std::lock_guard lock(mu_);
    m.req = next_req_++;
    auto p = std::make_unique<Pending>();
    f = p->promise.get_future();
    pending_[m.req] = std::move(p);
  }
  if (!transport_->send(leader, kControlGroup, encode_control(m))) {
    std::lock_guard lock(mu_);
    pending_.erase(m.req);
    return unavailable("no connection to the leader " + leader);
  }
  // Wait in slices: when the leader changes (it died, say) give up at once
  // so the caller retries with the new one instead of waiting it out.
  const MonoTime until = std::min(deadline, mono_now() + kForwardWait);
  raft_host::RaftHost* h = host();
  const raft::NodeId leader_raft =
      h != nullptr ? h->status().leader : raft::kNoNode;
  while (mono_now() < until) {
    const MonoTime slice =
        std::min(until, mono_now() + std::chrono::milliseconds(25));
    if (f.wait_until(slice) == std::future_status::ready) return f.get();
    if (h != nullptr && h->status().leader != leader_raft) break;
  }
  std::lock_guard lock(mu_);
  pending_.erase(m.req);
  return unavailable("no answer from the leader " + leader);
}

void Cluster::handle_propose(const std::string& from, std::uint64_t req,
                             std::string data) {
  ControlMessage reply;
  reply.type = ControlType::propose_resp;
  reply.req = req;
  raft_host::RaftHost* h = host();
  Status s = ok_status();
  Result<controller::Command> cmd = controller::decode_command(data);
  const raft_host::HostStatus st =
      h != nullptr ? h->status() : raft_host::HostStatus{};
  if (h == nullptr || st.leader != self_raft()) {
    s = unavailable("not the leader");
  } else if (!cmd.ok()) {
    s = cmd.error();
  } else if (const auto* reg = std::get_if<controller::RegisterNode>(&*cmd);
             reg != nullptr && !st.membership.contains(reg->node.raft_id)) {
    // Only the join path registers new members; this keeps a removed agent
    // that has not noticed yet from registering itself again.
    s = Error(Code::failed_precondition,
              "node " + reg->node.id + " is not a member of the cluster",
              "join it with `nwctl cluster join`", "cluster");
  } else {
    auto f = h->propose(std::move(data));
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      s = unavailable("proposal not applied in time");
    } else {
      Result<raft::LogIndex> r = f.get();
      s = r.ok() ? take_result(*r) : Status(r.error());
    }
  }
  set_status(reply, s);
  transport_->send(from, kControlGroup, encode_control(reply));
}

Result<ClusterView> Cluster::join(std::vector<HostPort> addrs,
                                  Duration timeout) {
  if (addrs.empty()) {
    return Error(Code::invalid_argument, "join: no address given",
                 "name the peer address of a member: nwctl cluster join "
                 "HOST:PORT",
                 "cluster");
  }
  if (raft_host::RaftHost* h = host()) {
    // A fresh cluster of one (nothing but this agent) may be given up for
    // another; anything else is a member of its own cluster.
    const raft_host::HostStatus st = h->status();
    bool alone =
        st.membership.voters.size() == 1 && st.membership.learners.empty();
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, n] : state_.nodes()) {
        if (n.id != options_.node_id) alone = false;
      }
      if (!alone) {
        return Error(Code::conflict,
                     "this agent is a member of cluster " +
                         identity_.cluster_id + " already",
                     "to move it, remove it there (nwctl cluster remove), "
                     "wipe its --data-dir and join again",
                     "cluster");
      }
    }
    kLog.info("giving up this agent's cluster of one to join another");
    host_ptr_ = nullptr;
    h->stop();
    retired_.push_back(std::move(host_));
    retired_storage_.push_back(std::move(storage_));
    std::error_code ec;
    std::filesystem::remove_all(options_.data_dir + "/controller", ec);
    std::lock_guard lock(mu_);
    identity_.cluster_id.clear();
    identity_.initial_voters.clear();
    identity_.peers.clear();
    NW_RETURN_IF_ERROR(identity_.save(options_.data_dir));
    state_ = controller::ClusterState();
    results_.clear();
  }
  {
    std::lock_guard lock(mu_);
    join_addrs_ = std::move(addrs);
    seeds_added_ = false;
    join_error_.reset();
    join_target_.clear();
    next_join_at_ = MonoTime();
  }
  std::unique_lock lock(mu_);
  const bool done = cv_.wait_for(lock, timeout, [&] {
    return stopping_ || host() != nullptr || join_error_.has_value();
  });
  if (join_error_) return *join_error_;
  if (stopping_) return unavailable("agent stopping");
  if (!done) {
    return Error(Code::timeout,
                 "join: no member answered within " + format_duration(timeout),
                 "check the peer addresses (--peer of the members, not their "
                 "API) and that they are running; the agent keeps trying",
                 "cluster");
  }
  lock.unlock();
  // Answer with the leader, as `nwctl cluster join` promises: the new
  // learner hears of it with its first append, moments after it was added.
  const MonoTime until =
      mono_now() + std::min(timeout, Duration(std::chrono::seconds(5)));
  while (leader_id().empty() && mono_now() < until) {
    std::unique_lock wait(mu_);
    if (cv_.wait_for(wait, std::chrono::milliseconds(50),
                     [&] { return stopping_; })) {
      break;
    }
  }
  return view(true);
}

}  // namespace nw::cluster
