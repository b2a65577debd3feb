#include "agent/raft_host/raft_host.h"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/transport/transport.h"
#include "agent/wal/wal_storage.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace nw::raft_host {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kGroup = 7;
constexpr std::size_t kMembers = 3;
constexpr Duration kDeadline = 30s;

std::string node_name(std::size_t i) { return "n" + std::to_string(i + 1); }

PeerMap all_peers() {
  PeerMap peers;
  for (std::size_t i = 0; i < kMembers; ++i) {
    peers[raft::NodeId(i + 1)] = node_name(i);
  }
  return peers;
}

template <class T>
bool ready_within(std::future<T>& f, Duration d) {
  return f.wait_for(d) == std::future_status::ready;
}

// One member: its WAL, its transport and its host, with the sequence its
// state machine applied. Stopping keeps the WAL directory for a restart.
struct Member {
  std::size_t index = 0;
  std::string wal_dir;
  std::uint64_t incarnation = 0;
  std::unique_ptr<wal::WalStorage> wal;
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<RaftHost> host;
  std::atomic<RaftHost*> target{nullptr};  // for the transport's handler

  mutable std::mutex mu;
  std::vector<std::string> applied;  // guarded by mu

  bool running() const { return host != nullptr; }

  std::vector<std::string> applied_copy() const {
    std::lock_guard<std::mutex> lock(mu);
    return applied;
  }

  void start() {
    ++incarnation;
    {
      std::lock_guard<std::mutex> lock(mu);
      applied.clear();  // the core re-delivers the log after a restart
    }
    auto w = wal::WalStorage::open(wal_dir);
    REQUIRE(w.ok());
    wal = std::move(w).value();

    transport::TransportOptions topts;
    topts.node_id = node_name(index);
    topts.listen = HostPort{"127.0.0.1", 0};
    topts.backoff_min = 20ms;
    topts.backoff_max = 200ms;
    transport = std::make_unique<transport::Transport>(
        topts, [this](const std::string& from, std::uint64_t group,
                      std::string_view payload) {
          RaftHost* h = target.load();
          if (h != nullptr && group == kGroup) h->deliver(from, payload);
        });
    REQUIRE(transport->start().ok());

    HostOptions hopts;
    hopts.group = kGroup;
    hopts.raft.id = raft::NodeId(index + 1);
    for (std::size_t i = 0; i < kMembers; ++i) {
      hopts.raft.initial_membership.voters.insert(raft::NodeId(i + 1));
    }
    hopts.raft.election_tick = 10;
    hopts.raft.heartbeat_tick = 1;
    hopts.raft.seed = (index + 1) * 1000 + incarnation;
    hopts.raft.storage = wal.get();
    hopts.tick_interval = 20ms;
    host = std::make_unique<RaftHost>(hopts, *transport, all_peers(),
                                      [this](const raft::Entry& e) {
                                        std::lock_guard<std::mutex> lock(mu);
                                        applied.push_back(e.data);
                                      });
    target.store(host.get());
    REQUIRE(host->start().ok());
  }

  void stop() {
    if (!host) return;
    host->stop();
    transport->stop();
    target.store(nullptr);
    host.reset();
    transport.reset();
    wal.reset();
  }

  ~Member() { stop(); }
};

class Cluster {
 public:
  Cluster() {
    for (std::size_t i = 0; i < kMembers; ++i) {
      members_[i].index = i;
      members_[i].wal_dir = (tmp_ / node_name(i)).string();
    }
    for (std::size_t i = 0; i < kMembers; ++i) start(i);
  }
  ~Cluster() {
    for (Member& m : members_) m.stop();
  }

  Member& operator[](std::size_t i) { return members_[i]; }

  // Starts member i and (re)announces every running member's address to
  // every other one (a restarted member listens on a new port).
  void start(std::size_t i) {
    members_[i].start();
    for (Member& a : members_) {
      if (!a.running()) continue;
      for (Member& b : members_) {
        if (&a == &b || !b.running()) continue;
        a.transport->set_peer(node_name(b.index),
                              HostPort{"127.0.0.1", b.transport->port()});
      }
    }
  }

  // The running member that leads in the highest term, if any.
  std::optional<std::size_t> leader() const {
    std::optional<std::size_t> best;
    raft::Term best_term;
    for (const Member& m : members_) {
      if (!m.running()) continue;
      HostStatus s = m.host->status();
      if (s.role == raft::Role::leader && (!best || s.term > best_term)) {
        best = m.index;
        best_term = s.term;
      }
    }
    return best;
  }

  // Waits for a leader that every other running member follows.
  std::size_t wait_leader() {
    std::size_t lead = 0;
    const bool ok = testsupport::wait_until(
        [&] {
          std::optional<std::size_t> l = leader();
          if (!l) return false;
          const raft::NodeId id = members_[*l].host->status().id;
          for (const Member& m : members_) {
            if (m.running() && m.host->status().leader != id) return false;
          }
          lead = *l;
          return true;
        },
        kDeadline, "a leader followed by every running member");
    REQUIRE(ok);
    return lead;
  }

  // Proposes `count` commands "<prefix>-<k>" on member `on`; all must be
  // applied there with increasing indexes.
  std::vector<std::string> propose_all(std::size_t on,
                                       const std::string& prefix, int count) {
    std::vector<std::string> cmds;
    std::vector<std::future<Result<raft::LogIndex>>> futures;
    for (int k = 0; k < count; ++k) {
      cmds.push_back(prefix + "-" + std::to_string(k));
      futures.push_back(members_[on].host->propose(cmds.back()));
    }
    raft::LogIndex prev;
    for (auto& f : futures) {
      REQUIRE(ready_within(f, kDeadline));
      Result<raft::LogIndex> r = f.get();
      REQUIRE_MESSAGE(r.ok(), r.error().to_string());
      CHECK(*r > prev);
      prev = *r;
    }
    return cmds;
  }

  // Waits until every running member applied exactly `want`.
  void wait_applied(const std::vector<std::string>& want) {
    const bool ok = testsupport::wait_until(
        [&] {
          for (const Member& m : members_) {
            if (m.running() && m.applied_copy() != want) return false;
          }
          return true;
        },
        kDeadline, "every running member applied the same sequence");
    if (!ok) {
      for (const Member& m : members_) {
        if (m.running()) {
          MESSAGE(node_name(m.index) << " applied " << m.applied_copy().size());
        }
      }
    }
    REQUIRE(ok);
  }

 private:
  testsupport::TempDir tmp_{"nw-raft-host-"};
  std::array<Member, kMembers> members_;
};

TEST_SUITE("raft_host.host") {
  TEST_CASE("start.elects_a_leader") {
    Cluster c;
    const std::size_t lead = c.wait_leader();
    HostStatus s = c[lead].host->status();
    CHECK(s.running);
    CHECK(s.leader == s.id);
    CHECK(s.term > raft::Term(0));
  }

  TEST_CASE("propose.all_members_apply_the_same_sequence") {
    Cluster c;
    const std::size_t lead = c.wait_leader();
    const std::vector<std::string> want = c.propose_all(lead, "cmd", 50);
    c.wait_applied(want);
    HostStatus s = c[lead].host->status();
    CHECK(s.applied >= raft::LogIndex(51));  // 50 + the term's no-op
    CHECK(s.commit >= s.applied);
  }

  TEST_CASE("propose.on_follower_is_unavailable_and_names_the_leader") {
    Cluster c;
    const std::size_t lead = c.wait_leader();
    const std::size_t follower = (lead + 1) % kMembers;
    auto f = c[follower].host->propose("x");
    REQUIRE(ready_within(f, kDeadline));
    Result<raft::LogIndex> r = f.get();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::unavailable);
    CHECK(r.error().message.find("not the leader; leader is node " +
                                 std::to_string(lead + 1)) !=
          std::string::npos);
  }

  TEST_CASE("propose.empty_data_is_invalid") {
    Cluster c;
    auto f = c[0].host->propose("");
    REQUIRE(ready_within(f, kDeadline));
    Result<raft::LogIndex> r = f.get();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::invalid_argument);
  }

  TEST_CASE("read_barrier.resolves_on_leader_and_follower") {
    Cluster c;
    const std::size_t lead = c.wait_leader();
    const std::vector<std::string> want = c.propose_all(lead, "r", 5);
    auto on_leader = c[lead].host->read_barrier();
    REQUIRE(ready_within(on_leader, kDeadline));
    Status s = on_leader.get();
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    // A follower's barrier waits for its own apply: once it resolves, the
    // writes acknowledged before it are visible there.
    const std::size_t follower = (lead + 1) % kMembers;
    auto on_follower = c[follower].host->read_barrier();
    REQUIRE(ready_within(on_follower, kDeadline));
    s = on_follower.get();
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    CHECK(c[follower].applied_copy() == want);
  }

  TEST_CASE("failover.new_leader_then_restarted_member_catches_up") {
    Cluster c;
    const std::size_t old_lead = c.wait_leader();
    std::vector<std::string> want = c.propose_all(old_lead, "a", 10);
    c.wait_applied(want);

    c[old_lead].stop();
    const std::size_t new_lead = c.wait_leader();
    CHECK(new_lead != old_lead);
    std::vector<std::string> more = c.propose_all(new_lead, "b", 10);
    want.insert(want.end(), more.begin(), more.end());
    c.wait_applied(want);

    // Restart from its WAL directory, on a new port.
    c.start(old_lead);
    c.wait_applied(want);
    HostStatus s = c[old_lead].host->status();
    CHECK(s.role == raft::Role::follower);

    // And the group still takes writes with all three.
    const std::size_t lead = c.wait_leader();
    more = c.propose_all(lead, "c", 5);
    want.insert(want.end(), more.begin(), more.end());
    c.wait_applied(want);
  }

  TEST_CASE("stop.resolves_pending_futures_unavailable") {
    Cluster c;
    const std::size_t lead = c.wait_leader();
    c.propose_all(lead, "s", 3);
    // Without its followers the leader cannot commit: these stay pending
    // (or, should check-quorum depose it first, are refused at once).
    c[(lead + 1) % kMembers].stop();
    c[(lead + 2) % kMembers].stop();
    auto p = c[lead].host->propose("pending");
    auto r = c[lead].host->read_barrier();
    c[lead].host->stop();
    // stop() returned: everything it had is resolved.
    REQUIRE(ready_within(p, 0ms));
    REQUIRE(ready_within(r, 0ms));
    Result<raft::LogIndex> pr = p.get();
    REQUIRE_FALSE(pr.ok());
    CHECK(pr.error().code == Code::unavailable);
    Status rs = r.get();
    REQUIRE_FALSE(rs.ok());
    CHECK((rs.error().code == Code::unavailable ||
           rs.error().code == Code::timeout));
    // A stopped host refuses new work at once.
    auto late = c[lead].host->propose("late");
    REQUIRE(ready_within(late, 0ms));
    CHECK(late.get().error().code == Code::unavailable);
    c[lead].host->stop();  // idempotent
  }
}

}  // namespace
}  // namespace nw::raft_host
