#include "agent/raft_host/raft_host.h"

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "tests/support/wait.h"
#include "tests/unit/agent/raft_host/cluster.h"

namespace nw::raft_host::test {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMembers = 3;

TEST_SUITE("raft_host.host") {
  TEST_CASE("start.elects_a_leader") {
    Cluster c;
    const std::size_t lead = c.wait_leader();
    HostStatus s = c[lead].host->status();
    CHECK(s.running);
    CHECK(s.leader == s.id);
    CHECK(s.term > raft::Term(0));
    raft::Membership want;
    want.voters = {raft::NodeId(1), raft::NodeId(2), raft::NodeId(3)};
    CHECK(s.membership == want);
    CHECK(s.applied_membership == want);
    CHECK(s.first_index == raft::LogIndex(1));
    CHECK(s.snapshot.index == raft::LogIndex(0));
    CHECK(s.leader_changes >= 1);
  }

  TEST_CASE("propose.all_members_apply_the_same_sequence") {
    Cluster c;
    const std::size_t lead = c.wait_leader();
    const std::vector<std::string> want = c.propose_all(lead, "cmd", 50);
    c.wait_applied(want);
    HostStatus s = c[lead].host->status();
    CHECK(s.applied >= raft::LogIndex(51));  // 50 + the term's no-op
    CHECK(s.commit >= s.applied);
    // The leader reports its followers' progress (as of its last tick).
    REQUIRE(testsupport::wait_until(
        [&] { return c[lead].host->status().progress.size() == 2; }, kDeadline,
        "the leader's progress of both followers"));
    CHECK(c[(lead + 1) % kMembers].host->status().progress.empty());
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
    CHECK(c[follower].host->status().proposals_dropped == 1);
  }

  TEST_CASE("propose.empty_data_is_invalid") {
    Cluster c;
    auto f = c[0].host->propose("");
    REQUIRE(ready_within(f, kDeadline));
    Result<raft::LogIndex> r = f.get();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::invalid_argument);
  }

  TEST_CASE("propose.lost_in_a_leader_change_is_unavailable") {
    Cluster c;
    const std::size_t old_lead = c.wait_leader();
    std::vector<std::string> want = c.propose_all(old_lead, "a", 3);
    c.wait_applied(want);
    // Cut the leader off (it sends nothing, still receives): its next entry
    // reaches no one and the others elect a leader whose no-op takes that
    // index. Healed, the old leader learns it from the new leader's appends.
    c[old_lead].host->set_peers({});
    auto doomed = c[old_lead].host->propose("doomed");
    REQUIRE(testsupport::wait_until(
        [&] {
          std::optional<std::size_t> l = c.leader();
          return l && *l != old_lead &&
                 c[*l].host->status().commit >
                     c[old_lead].host->status().commit;
        },
        kDeadline, "a new leader among the others, past the old commit"));
    c[old_lead].host->set_peers(c.all_peers());
    REQUIRE(ready_within(doomed, kDeadline));
    Result<raft::LogIndex> r = doomed.get();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::unavailable);
    CHECK(r.error().message.find("lost in a leader change") !=
          std::string::npos);
    CHECK(c[old_lead].host->status().proposals_dropped >= 1);

    // The group goes on without the lost entry.
    const std::size_t lead = c.wait_leader();
    std::vector<std::string> more = c.propose_all(lead, "b", 3);
    want.insert(want.end(), more.begin(), more.end());
    c.wait_applied(want);
    CHECK(c[old_lead].host->status().leader_changes >= 2);
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

    c.stop(old_lead);
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
    c.stop((lead + 1) % kMembers);
    c.stop((lead + 2) % kMembers);
    auto p = c[lead].host->propose("pending");
    auto cc = c[lead].host->propose_conf_change(
        raft::ConfChange{raft::ConfChangeType::add_learner, raft::NodeId(9)});
    auto t = c[lead].host->transfer_leadership(
        raft::NodeId((lead + 1) % kMembers + 1));
    auto r = c[lead].host->read_barrier();
    c[lead].host->stop();
    // stop() returned: everything it had is resolved.
    REQUIRE(ready_within(p, 0ms));
    REQUIRE(ready_within(cc, 0ms));
    REQUIRE(ready_within(t, 0ms));
    REQUIRE(ready_within(r, 0ms));
    Result<raft::LogIndex> pr = p.get();
    REQUIRE_FALSE(pr.ok());
    CHECK(pr.error().code == Code::unavailable);
    Result<raft::LogIndex> ccr = cc.get();
    REQUIRE_FALSE(ccr.ok());
    CHECK(ccr.error().code == Code::unavailable);
    Status ts = t.get();
    REQUIRE_FALSE(ts.ok());
    CHECK((ts.error().code == Code::unavailable ||
           ts.error().code == Code::timeout));
    Status rs = r.get();
    REQUIRE_FALSE(rs.ok());
    CHECK((rs.error().code == Code::unavailable ||
           rs.error().code == Code::timeout));
    // A stopped host refuses new work at once.
    auto late = c[lead].host->propose("late");
    REQUIRE(ready_within(late, 0ms));
    CHECK(late.get().error().code == Code::unavailable);
    auto late_t = c[lead].host->transfer_leadership(raft::NodeId(1));
    REQUIRE(ready_within(late_t, 0ms));
    CHECK(late_t.get().error().code == Code::unavailable);
    c[lead].host->stop();  // idempotent
  }
}

}  // namespace
}  // namespace nw::raft_host::test
