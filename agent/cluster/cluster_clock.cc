// Clock skew: the leader pings the other members over the control group and
// keeps an offset estimate per member (clock_skew.h). Nothing depends on
// the followers' clocks; this only makes their skew visible (cluster
// status, nw_cluster_clock_offset_seconds, a warning past 1 s).
#include <set>

#include "agent/cluster/cluster.h"
#include "agent/cluster/control.h"
#include "agent/metrics/registry.h"
#include "common/base/log.h"

namespace nw::cluster {
namespace {

const log::Logger kLog("cluster");
constexpr std::uint64_t kControlGroup = 0;
constexpr auto kPingInterval = std::chrono::seconds(1);
// A member that stopped answering (down, or an agent from before ping/pong,
// which drops the unknown message with a warning) is asked less often.
constexpr int kUnansweredBeforeBackoff = 5;
constexpr auto kBackoffInterval = std::chrono::seconds(30);
// A pong later than this is not used (and its ping is forgotten).
constexpr auto kPingTtl = std::chrono::seconds(5);
constexpr std::string_view kOffsetMetric = "nw_cluster_clock_offset_seconds";
constexpr std::string_view kOffsetHelp =
    "How far the member's wall clock is ahead of the controller leader's "
    "(negative: behind), measured by the leader";

std::int64_t to_micros(WallTime t) {
  return std::chrono::duration_cast<Micros>(t.time_since_epoch()).count();
}

WallTime from_micros(std::int64_t us) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(Micros(us)));
}

}  // namespace

void Cluster::measure_clocks(bool leader) {
  if (!leader) {
    if (clock_leader_) {
      std::lock_guard lock(clock_mu_);
      clocks_.clear();
      pings_.clear();
    }
    clock_leader_ = false;
    return;
  }
  clock_leader_ = true;
  raft_host::RaftHost* h = host();
  if (h == nullptr) return;
  const raft_host::HostStatus st = h->status();
  struct Target {
    std::uint64_t raft_id;
    std::string node_id;
  };
  std::vector<Target> targets;
  {
    std::lock_guard lock(mu_);
    std::set<raft::NodeId> members = st.membership.voters;
    members.insert(st.membership.learners.begin(),
                   st.membership.learners.end());
    for (raft::NodeId rid : members) {
      if (rid == self_raft()) continue;
      std::string node = node_of(rid);
      if (!node.empty()) targets.push_back({rid.value(), std::move(node)});
    }
  }
  std::vector<std::pair<std::string, std::string>> out;  // link, message
  {
    std::lock_guard lock(clock_mu_);
    const MonoTime now = mono_now();
    std::erase_if(clocks_, [&](const auto& kv) {
      for (const Target& t : targets) {
        if (t.raft_id == kv.first) return false;
      }
      return true;
    });
    std::erase_if(pings_, [&](const auto& kv) {
      return now - kv.second.mono > kPingTtl;
    });
    for (const Target& t : targets) {
      ClockPeer& p = clocks_[t.raft_id];
      p.node_id = t.node_id;
      p.link = link_id(t.node_id, t.raft_id);
      if (now < p.next_ping) continue;
      p.next_ping = now + (p.unanswered >= kUnansweredBeforeBackoff
                               ? MonoTime::duration(kBackoffInterval)
                               : MonoTime::duration(kPingInterval));
      ++p.unanswered;
      ControlMessage m;
      m.type = ControlType::ping;
      m.req = next_ping_req_++;
      m.self = KnownPeer{options_.node_id, identity_raft_id_, peer_addr_};
      const WallTime wall = wall_now();
      m.wall_us = to_micros(wall);
      pings_[m.req] = PingSent{t.raft_id, p.link, wall, mono_now()};
      out.emplace_back(p.link, encode_control(m));
    }
  }
  for (auto& [link, payload] : out) {
    transport_->send(link, kControlGroup, std::move(payload));
  }
}

void Cluster::handle_ping(const std::string& from, const ControlMessage& m) {
  ControlMessage pong;
  pong.type = ControlType::pong;
  pong.req = m.req;
  pong.self = KnownPeer{options_.node_id, identity_raft_id_, peer_addr_};
  pong.wall_us = to_micros(wall_now());
  transport_->send(from, kControlGroup, encode_control(pong));
}

void Cluster::handle_pong(const std::string& from, const ControlMessage& m) {
  const MonoTime now = mono_now();
  if (m.wall_us == 0) return;
  SkewAlarm::Change change = SkewAlarm::Change::none;
  std::string node;
  ClockSample est;
  {
    std::lock_guard lock(clock_mu_);
    auto it = pings_.find(m.req);
    if (it == pings_.end()) return;  // late, or not ours
    const PingSent sent = it->second;
    if (sent.link != from) return;  // someone else's answer
    pings_.erase(it);
    auto p = clocks_.find(sent.raft_id);
    if (p == clocks_.end()) return;  // left meanwhile
    const Micros rtt = std::chrono::duration_cast<Micros>(now - sent.mono);
    p->second.estimator.add(
        clock_sample(sent.wall, from_micros(m.wall_us), rtt, now));
    p->second.unanswered = 0;
    std::optional<ClockSample> e = p->second.estimator.estimate(now);
    if (!e) return;
    est = *e;
    change = p->second.alarm.observe(est.offset);
    node = p->second.node_id;
  }
  if (change == SkewAlarm::Change::exceeded) {
    kLog.warn(
        "a member's clock is more than 1s off the leader's; job schedules "
        "use the leader's clock, but that member's log and record "
        "timestamps are off: check its time synchronisation (NTP)",
        {{"node", node},
         {"offset_ms", round_millis(est.offset)},
         {"rtt_ms", round_millis(est.rtt)}});
  } else if (change == SkewAlarm::Change::recovered) {
    kLog.info("a member's clock is back within 1s of the leader's",
              {{"node", node}, {"offset_ms", round_millis(est.offset)}});
  }
}

std::optional<ClockSample> Cluster::clock_estimate(
    std::uint64_t raft_id) const {
  std::lock_guard lock(clock_mu_);
  auto it = clocks_.find(raft_id);
  if (it == clocks_.end()) return std::nullopt;
  return it->second.estimator.estimate(mono_now());
}

void Cluster::collect_clock_metrics(std::vector<metrics::Sample>& out) const {
  if (!started_ || !is_leader()) return;
  auto sample = [](const std::string& node, double seconds) {
    metrics::Sample s;
    s.name = std::string(kOffsetMetric);
    s.help = std::string(kOffsetHelp);
    s.type = metrics::MetricType::gauge;
    s.labels = {{"node", node}};
    s.value = seconds;
    return s;
  };
  out.push_back(sample(options_.node_id, 0));
  std::lock_guard lock(clock_mu_);
  const MonoTime now = mono_now();
  for (const auto& [rid, p] : clocks_) {
    std::optional<ClockSample> e = p.estimator.estimate(now);
    if (!e) continue;
    out.push_back(
        sample(p.node_id, static_cast<double>(e->offset.count()) / 1e6));
  }
}

}  // namespace nw::cluster
