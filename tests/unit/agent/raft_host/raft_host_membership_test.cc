// Conf changes, leadership transfer and metrics.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "agent/raft_host/raft_host.h"
#include "tests/support/wait.h"
#include "tests/unit/agent/raft_host/cluster.h"

namespace nw::raft_host::test {
namespace {

raft::Membership voters(std::initializer_list<std::uint64_t> ids) {
  raft::Membership m;
  for (std::uint64_t id : ids) m.voters.insert(raft::NodeId(id));
  return m;
}

// Proposes `cc` on `on` until the core takes it (a promotion is refused
// until the learner caught up); returns the applied index.
raft::LogIndex change(Cluster& c, std::size_t on, raft::ConfChange cc) {
  raft::LogIndex index;
  const bool ok = testsupport::wait_until(
      [&] {
        auto f = c[on].host->propose_conf_change(cc);
        REQUIRE(ready_within(f, kDeadline));
        Result<raft::LogIndex> r = f.get();
        if (!r.ok()) {
          REQUIRE_MESSAGE(r.error().code == Code::failed_precondition,
                          r.error().to_string());
          return false;
        }
        index = *r;
        return true;
      },
      kDeadline, "the conf change applied");
  REQUIRE(ok);
  return index;
}

TEST_SUITE("raft_host.membership") {
  TEST_CASE("propose_conf_change.add_learner_then_promote") {
    ClusterOptions o;
    o.members = 4;
    o.voters = 3;
    o.wal = false;
    Cluster c(o);
    const std::size_t lead = c.wait_leader();
    std::vector<std::string> want = c.propose_all(lead, "a", 5);
    c.wait_applied(want);
    c.start(3);  // raft id 4: not a member yet, so it just listens

    const raft::LogIndex added =
        change(c, lead, {raft::ConfChangeType::add_learner, raft::NodeId(4)});
    raft::Membership with_learner = voters({1, 2, 3});
    with_learner.learners.insert(raft::NodeId(4));
    CHECK(c[lead].host->status().applied_membership == with_learner);

    const raft::LogIndex promoted =
        change(c, lead, {raft::ConfChangeType::promote, raft::NodeId(4)});
    CHECK(promoted > added);
    const raft::Membership four = voters({1, 2, 3, 4});

    // Every member, the new one too (it replays the log over the initial
    // membership), saw both changes in order.
    for (std::size_t i = 0; i < c.size(); ++i) {
      REQUIRE(testsupport::wait_until(
          [&] { return c[i].conf_copy().size() == 2; }, kDeadline,
          "both conf changes seen on node " + node_name(i)));
      auto seen = c[i].conf_copy();
      CHECK(seen[0].first == raft::ConfChange{raft::ConfChangeType::add_learner,
                                              raft::NodeId(4)});
      CHECK(seen[0].second == with_learner);
      CHECK(seen[1].first ==
            raft::ConfChange{raft::ConfChangeType::promote, raft::NodeId(4)});
      CHECK(seen[1].second == four);
      REQUIRE(testsupport::wait_until(
          [&] { return c[i].host->status().applied_membership == four; },
          kDeadline, "the applied membership published"));
      CHECK(c[i].host->status().membership == four);
    }

    // The four of them replicate.
    std::vector<std::string> more = c.propose_all(lead, "b", 5);
    want.insert(want.end(), more.begin(), more.end());
    c.wait_applied(want);

    // Another change while none is pending but one that does not fit.
    auto bad = c[lead].host->propose_conf_change(
        {raft::ConfChangeType::promote, raft::NodeId(2)});
    REQUIRE(ready_within(bad, kDeadline));
    Result<raft::LogIndex> r = bad.get();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::failed_precondition);
  }

  TEST_CASE("transfer_leadership.to_a_named_follower") {
    ClusterOptions o;
    o.wal = false;
    Cluster c(o);
    const std::size_t lead = c.wait_leader();
    c.wait_applied(c.propose_all(lead, "a", 3));
    const std::size_t to = (lead + 1) % c.size();

    // Refused on a follower, and for a non-member.
    auto on_follower = c[to].host->transfer_leadership(raft::NodeId(lead + 1));
    REQUIRE(ready_within(on_follower, kDeadline));
    Status s = on_follower.get();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::unavailable);
    auto stranger = c[lead].host->transfer_leadership(raft::NodeId(9));
    REQUIRE(ready_within(stranger, kDeadline));
    s = stranger.get();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::invalid_argument);

    auto f = c[lead].host->transfer_leadership(c[to].id());
    REQUIRE(ready_within(f, kDeadline));
    s = f.get();
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    CHECK(c[lead].host->status().leader == c[to].id());
    CHECK(c.wait_leader() == to);
    c.propose_all(to, "b", 3);
  }

  TEST_CASE("metrics.rendered_by_the_registry") {
    ClusterOptions o;
    o.wal = false;
    o.metrics = true;
    o.snapshot_threshold = 5;
    o.snapshot_keep_entries = 2;
    Cluster c(o);
    const std::size_t lead = c.wait_leader();
    c.wait_applied(c.propose_all(lead, "m", 10));
    const std::size_t f = (lead + 1) % c.size();
    const std::string follower_peer =
        "nw_raft_peer_lag_entries{group=\"7\",peer=\"" + node_name(f) + "\"}";
    // The gauges follow the loop; the lag is refreshed once a tick.
    REQUIRE(testsupport::wait_until(
        [&] {
          const std::string text = c[lead].registry->render();
          return text.find(follower_peer + " 0") != std::string::npos &&
                 text.find("nw_raft_applied_index{group=\"7\"} 11") !=
                     std::string::npos;
        },
        kDeadline, "the leader's lag and applied gauges"));
    const std::string text = c[lead].registry->render();
    const HostStatus s = c[lead].host->status();
    CHECK(text.find("nw_raft_is_leader{group=\"7\"} 1") != std::string::npos);
    CHECK(text.find("nw_raft_term{group=\"7\"} " +
                    std::to_string(s.term.value())) != std::string::npos);
    CHECK(text.find("nw_raft_commit_index{group=\"7\"}") != std::string::npos);
    CHECK(text.find("nw_raft_commit_latency_seconds_count{group=\"7\"} 10") !=
          std::string::npos);
    CHECK(text.find("nw_raft_leader_changes_total{group=\"7\"}") !=
          std::string::npos);
    CHECK(text.find("nw_raft_proposals_dropped_total{group=\"7\"} 0") !=
          std::string::npos);
    CHECK(text.find("nw_raft_snapshots_total{group=\"7\",kind=\"created\"} " +
                    std::to_string(s.snapshots_created)) != std::string::npos);
    CHECK(s.snapshots_created >= 1);

    const std::string ftext = c[f].registry->render();
    CHECK(ftext.find("nw_raft_is_leader{group=\"7\"} 0") != std::string::npos);
    CHECK(ftext.find("nw_raft_peer_lag_entries") == std::string::npos);
  }
}

}  // namespace
}  // namespace nw::raft_host::test
