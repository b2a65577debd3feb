// Snapshots: restore at start, the snapshot policy and compaction, and
// InstallSnapshot to a lagging follower.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "agent/raft_host/raft_host.h"
#include "tests/support/wait.h"
#include "tests/unit/agent/raft_host/cluster.h"

namespace nw::raft_host::test {
namespace {

raft::Snapshot one_voter_snapshot(const std::vector<std::string>& cmds) {
  raft::Snapshot snap;
  snap.meta.index = raft::LogIndex(5);
  snap.meta.term = raft::Term(1);
  snap.meta.membership.voters = {raft::NodeId(1)};
  snap.data = encode_commands(cmds);
  return snap;
}

ClusterOptions single_memory_node() {
  ClusterOptions o;
  o.members = 1;
  o.voters = 1;
  o.wal = false;
  o.autostart = false;
  return o;
}

TEST_SUITE("raft_host.snapshot") {
  TEST_CASE("start.restores_the_storage_snapshot") {
    Cluster c(single_memory_node());
    const std::vector<std::string> before = {"x", "y", "z"};
    REQUIRE(c[0].memory->apply_snapshot(one_voter_snapshot(before)).ok());
    c.start(0);
    // restore() ran before the thread: the state is there at once.
    CHECK(c[0].restores_copy() ==
          std::vector<raft::LogIndex>{raft::LogIndex(5)});
    CHECK(c[0].applied_copy() == before);
    HostStatus s = c[0].host->status();
    CHECK(s.applied >= raft::LogIndex(5));
    CHECK(s.snapshot.index == raft::LogIndex(5));
    CHECK(s.applied_membership.voters ==
          std::set<raft::NodeId>{raft::NodeId(1)});

    // The single voter elects itself; new entries follow the snapshot.
    c.wait_leader();
    std::vector<std::string> want = before;
    std::vector<std::string> more = c.propose_all(0, "n", 3);
    want.insert(want.end(), more.begin(), more.end());
    c.wait_applied(want);
    for (raft::LogIndex i : c[0].apply_indexes_copy()) {
      CHECK(i > raft::LogIndex(5));
    }
  }

  TEST_CASE("start.fails_when_restore_fails") {
    Cluster c(single_memory_node());
    REQUIRE(c[0].memory->apply_snapshot(one_voter_snapshot({"x"})).ok());
    c[0].fail_restore = Error(Code::corruption, "bad state", {}, "test");
    Status s = c.try_start(0);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::corruption);
    CHECK(s.error().to_string().find("bad state") != std::string::npos);
    CHECK_FALSE(c[0].running());
  }

  TEST_CASE("policy.snapshots_and_compacts_past_the_threshold") {
    ClusterOptions o;
    o.snapshot_threshold = 10;
    o.snapshot_keep_entries = 4;
    Cluster c(o);
    const std::size_t lead = c.wait_leader();
    std::vector<std::string> want = c.propose_all(lead, "a", 30);
    c.wait_applied(want);
    // Every member applied 31 entries: each took snapshots of its own
    // (how many depends on how the entries were batched).
    for (std::size_t i = 0; i < c.size(); ++i) {
      REQUIRE(testsupport::wait_until(
          [&] { return c[i].host->status().snapshots_created >= 1; }, kDeadline,
          "snapshots taken on every member"));
      HostStatus s = c[i].host->status();
      CHECK(s.snapshot.index >= raft::LogIndex(10));
      CHECK(s.snapshot.index <= s.applied);
      CHECK(s.applied.value() - s.snapshot.index.value() < 10);
      // Compacted to keep_entries before the snapshot.
      CHECK(s.first_index == s.snapshot.index - 4 + 1);
      CHECK(s.snapshot.membership == s.applied_membership);
      CHECK(s.snapshot_failures == 0);
    }

    // A restarted member restores the snapshot from its WAL and re-applies
    // only what follows it.
    const std::size_t f = (lead + 1) % c.size();
    c.stop(f);
    c.start(f);
    const std::vector<raft::LogIndex> restores = c[f].restores_copy();
    REQUIRE(restores.size() == 1);
    CHECK(restores[0] >= raft::LogIndex(10));
    std::vector<std::string> more = c.propose_all(c.wait_leader(), "b", 5);
    want.insert(want.end(), more.begin(), more.end());
    c.wait_applied(want);
    const std::vector<raft::LogIndex> applied = c[f].apply_indexes_copy();
    CHECK(c[f].host->status().snapshots_installed == 0);
    for (raft::LogIndex i : applied) CHECK(i > restores[0]);
    // The restored part plus the re-applied part is the whole sequence.
    CHECK(applied.size() < want.size());
  }

  TEST_CASE("install.lagging_follower_gets_the_snapshot") {
    ClusterOptions o;
    o.wal = false;
    o.snapshot_threshold = 10;
    o.snapshot_keep_entries = 5;
    Cluster c(o);
    const std::size_t lead = c.wait_leader();
    std::vector<std::string> want = c.propose_all(lead, "a", 3);
    c.wait_applied(want);
    // Below the threshold: the follower has no snapshot of its own.
    const std::size_t f = (lead + 1) % c.size();
    const HostStatus before = c[f].host->status();
    REQUIRE(before.snapshot.index == raft::LogIndex(0));
    c.stop(f);
    // The transports would queue the appends for it meanwhile and deliver
    // them on its return; unmapping it drops them, as a longer outage
    // would.
    PeerMap without_f = c.all_peers();
    without_f.erase(c[f].id());
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (c[i].running()) c[i].host->set_peers(without_f);
    }

    std::vector<std::string> more = c.propose_all(lead, "b", 30);
    want.insert(want.end(), more.begin(), more.end());
    c.wait_applied(want);
    // The entries the follower lacks are gone from the leader's log.
    REQUIRE(testsupport::wait_until(
        [&] {
          return c[lead].host->status().first_index > before.last_index + 1;
        },
        kDeadline, "the leader compacted past the follower's log"));

    for (std::size_t i = 0; i < c.size(); ++i) {
      if (c[i].running()) c[i].host->set_peers(c.all_peers());
    }
    c.start(f);
    c.wait_applied(want);
    const std::vector<raft::LogIndex> restores = c[f].restores_copy();
    REQUIRE_FALSE(restores.empty());
    CHECK(restores.front() > before.last_index);
    // The status follows at the end of the host's round.
    REQUIRE(testsupport::wait_until(
        [&] { return c[f].host->status().applied >= restores.back(); },
        kDeadline, "the follower's status after the install"));
    HostStatus s = c[f].host->status();
    CHECK(s.snapshots_installed >= 1);
    CHECK(s.snapshot.index >= restores.back());
    CHECK(s.first_index > before.last_index + 1);
    CHECK(s.applied_membership == c[lead].host->status().applied_membership);

    // And it keeps up with new writes.
    more = c.propose_all(c.wait_leader(), "c", 5);
    want.insert(want.end(), more.begin(), more.end());
    c.wait_applied(want);
  }
}

}  // namespace
}  // namespace nw::raft_host::test
