// The controller's C++ API on a real single-agent cluster (transport on
// 127.0.0.1, WAL in a TempDir): propose, outcomes, linearizable and stale
// reads, watching, and recovery from snapshot + log after a restart.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/cluster/cluster.h"
#include "agent/metrics/registry.h"
#include "tests/support/check.h"
#include "tests/support/local_http.h"
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

  TEST_CASE("discovery.two_agents_with_one_node_id_are_both_refused") {
    // n1, n1 and n2 with bootstrap_expect 3, each joining the other two.
    testsupport::TempDir dir("cluster-twins");
    const std::vector<std::string> ids{"n1", "n1", "n2"};
    std::vector<std::uint16_t> ports;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      Result<std::uint16_t> port = testsupport::free_port();
      NW_REQUIRE_OK(port);
      ports.push_back(*port);
    }
    std::mutex mu;
    std::vector<std::optional<Error>> fatal(ids.size());  // guarded by mu
    std::vector<std::unique_ptr<metrics::Registry>> registries;
    std::vector<std::unique_ptr<Cluster>> agents;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      ClusterOptions o = options(dir);
      o.node_id = ids[i];
      o.data_dir = (dir.path() / ("a" + std::to_string(i))).string();
      std::filesystem::create_directories(o.data_dir);
      o.peer_listen = HostPort{"127.0.0.1", ports[i]};
      o.bootstrap_expect = 3;
      for (std::size_t j = 0; j < ids.size(); ++j) {
        if (j != i) o.join.push_back(HostPort{"127.0.0.1", ports[j]});
      }
      o.on_fatal = [&mu, &fatal, i](const Error& e) {
        std::lock_guard lock(mu);
        fatal[i] = e;
      };
      registries.push_back(std::make_unique<metrics::Registry>());
      agents.push_back(std::make_unique<Cluster>(o, *registries.back()));
    }
    for (auto& a : agents) NW_REQUIRE_OK(a->start());

    REQUIRE(testsupport::wait_until(
        [&] {
          std::lock_guard lock(mu);
          return fatal[0].has_value() && fatal[1].has_value();
        },
        10s, "both agents named n1 give up"));
    std::unique_lock lock(mu);
    for (std::size_t i : {0u, 1u}) {
      CAPTURE(i);
      CHECK(fatal[i]->code == Code::conflict);
      const std::string other = "127.0.0.1:" + std::to_string(ports[1 - i]);
      CHECK(fatal[i]->message == "node id n1 is taken: the agent at " + other +
                                     " uses it too (this agent is at "
                                     "127.0.0.1:" +
                                     std::to_string(ports[i]) + ")");
      CHECK(fatal[i]->hint.find("--node-id") != std::string::npos);
      CHECK(agents[i]->cluster_id().empty());
    }
    // n2 never formed a cluster with them.
    CHECK_FALSE(fatal[2].has_value());
    CHECK(agents[2]->role() == "joining");
    CHECK(agents[2]->cluster_id().empty());
    lock.unlock();
    for (auto& a : agents) a->stop();
  }
}

}  // namespace
}  // namespace nw::cluster
