// The controller's C++ API on a real single-agent cluster (transport on
// 127.0.0.1, WAL in a TempDir): propose, outcomes, linearizable and stale
// reads, watching, and recovery from snapshot + log after a restart.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>

#include "agent/cluster/cluster.h"
#include "agent/metrics/registry.h"
#include "tests/support/check.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace nw::cluster {
namespace {

using namespace std::chrono_literals;

ClusterOptions options(const testsupport::TempDir& dir) {
  ClusterOptions o;
  o.node_id = "n1";
  o.data_dir = dir.path().string();
  o.peer_listen = HostPort{"127.0.0.1", 0};
  o.api_addr = [] { return std::string("127.0.0.1:1"); };
  o.tick_interval = 10ms;
  o.snapshot_threshold = 16;
  o.wal_fsync = false;
  return o;
}

std::string label(const Cluster& c, const std::string& key) {
  std::string v;
  c.read([&](const controller::ClusterState& s) {
    if (const controller::NodeRecord* n = s.node("n1")) {
      auto it = n->labels.find(key);
      if (it != n->labels.end()) v = it->second;
    }
  });
  return v;
}

void start_ready(Cluster& c) {
  NW_REQUIRE_OK(c.start());
  REQUIRE(testsupport::wait_until(
      [&] {
        bool registered = false;
        c.read([&](const controller::ClusterState& s) {
          registered = s.node("n1") != nullptr;
        });
        return c.ready() && registered;
      },
      10s, "the agent leads its cluster of one and registered itself"));
}

TEST_SUITE("cluster.service") {
  TEST_CASE("propose.read.watch_and_recover") {
    testsupport::TempDir dir("cluster-service");
    metrics::Registry registry;
    {
      Cluster c(options(dir), registry);
      start_ready(c);
      CHECK(c.role() == "leader");
      CHECK(c.leader_id() == "n1");
      CHECK_FALSE(c.cluster_id().empty());

      // A watcher sees the next change.
      std::uint64_t version = 0;
      c.read([&](const controller::ClusterState& s) { version = s.version(); });
      NW_REQUIRE_OK(
          c.propose(controller::SetLabels{"n1", {{"rack", "r1"}}, {}}, 5s));
      CHECK(c.wait_for_change(version, 5s) > version);
      NW_REQUIRE_OK(c.read_barrier(5s));
      CHECK(label(c, "rack") == "r1");

      // A rejected command is the command's outcome, not a failure of Raft.
      Status missing =
          c.propose(controller::SetLabels{"nobody", {{"a", "b"}}, {}}, 5s);
      REQUIRE_FALSE(missing.ok());
      CHECK(missing.error().code == Code::not_found);

      // Past the snapshot threshold.
      for (int i = 0; i < 40; ++i) {
        NW_REQUIRE_OK(c.propose(
            controller::SetLabels{"n1", {{"i", std::to_string(i)}}, {}}, 5s));
      }
      // Nothing changes: the watch times out and returns the same version.
      std::uint64_t now = 0;
      c.read([&](const controller::ClusterState& s) { now = s.version(); });
      CHECK(c.wait_for_change(now, 50ms) == now);
      c.stop();
    }
    // A restart recovers the state from snapshot + log.
    metrics::Registry registry2;
    Cluster again(options(dir), registry2);
    start_ready(again);
    CHECK(label(again, "rack") == "r1");
    CHECK(label(again, "i") == "39");
    const std::string text = registry.render();
    CHECK(text.find("nw_raft_snapshots_total{group=\"1\",kind=\"created\"}") !=
          std::string::npos);
  }

  TEST_CASE("view.clock_offset_is_zero_for_the_leader_itself") {
    testsupport::TempDir dir("cluster-service");
    metrics::Registry registry;
    Cluster c(options(dir), registry);
    start_ready(c);
    ClusterView v = c.view(false);
    REQUIRE(v.members.size() == 1);
    CHECK(v.members[0].clock_offset_ms == std::optional<std::int64_t>(0));
    CHECK(v.members[0].clock_rtt_ms == std::optional<std::int64_t>(0));
    CHECK(registry.render().find(
              "nw_cluster_clock_offset_seconds{node=\"n1\"} 0\n") !=
          std::string::npos);
    // The collector goes with the service: a scrape after stop() must not
    // touch it.
    c.stop();
    CHECK(registry.render().find("nw_cluster_clock_offset_seconds") ==
          std::string::npos);
  }

  TEST_CASE("api.before_start_and_not_a_member") {
    testsupport::TempDir dir("cluster-service");
    metrics::Registry registry;
    ClusterOptions o = options(dir);
    o.bootstrap_expect = 3;  // waits for two more agents that never come
    Cluster c(o, registry);
    NW_REQUIRE_OK(c.start());
    CHECK(c.role() == "joining");
    CHECK_FALSE(c.ready());
    Status s = c.propose(controller::SetLabels{"n1", {{"a", "b"}}, {}}, 1s);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::unavailable);
    ClusterView v = c.view(true);
    CHECK(v.cluster_id.empty());
    CHECK(v.members.empty());
    // Not a leader: no clock offsets exported.
    CHECK(registry.render().find("nw_cluster_clock_offset_seconds") ==
          std::string::npos);
  }
}

}  // namespace
}  // namespace nw::cluster
