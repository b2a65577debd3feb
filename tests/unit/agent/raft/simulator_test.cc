// The deterministic simulator over the CI seed set, and the mutation test
// that proves its checkers catch a broken commit rule.
#include "tests/unit/agent/raft/simulator.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

namespace nw::raft::sim {
namespace {

constexpr std::uint64_t kCiSeeds = 1000;

void run_seeds(int voters) {
  // Runs with small snapshot chunks that installed a snapshot sent in
  // several chunks: the set must exercise chunked InstallSnapshot.
  std::uint64_t chunked_installs = 0;
  for (std::uint64_t seed = 1; seed <= kCiSeeds; ++seed) {
    const SimOptions o = options_for_seed(seed, voters);
    const SimResult r = run_simulation(o);
    INFO("seed ", seed, ", ", voters, " nodes: ", r.summary());
    INFO("replay: ", replay_command(seed, voters, false));
    REQUIRE(r.ok);
    CHECK(r.acked_writes > 0);
    CHECK(r.reads_served > 0);
    if (o.max_snapshot_chunk_bytes < 128 && r.snapshots_installed > 0 &&
        r.snapshot_chunks_sent > 2 * r.snapshots_installed) {
      ++chunked_installs;
    }
  }
  MESSAGE(chunked_installs, " runs installed snapshots sent in chunks");
  CHECK(chunked_installs > 0);
}

}  // namespace

TEST_SUITE("raft.simulator") {
  TEST_CASE("seeds.three_nodes") { run_seeds(3); }

  TEST_CASE("seeds.five_nodes") { run_seeds(5); }

  TEST_CASE("seeds.same_seed_same_run") {
    const SimResult a = run_simulation(options_for_seed(7, 3));
    const SimResult b = run_simulation(options_for_seed(7, 3));
    CHECK(a.summary() == b.summary());
  }

  TEST_CASE("mutation.broken_commit_rule_is_caught") {
    // Commit of old-term entries by counting (Figure 8) must make some seed
    // of the CI set fail a checker.
    std::uint64_t caught = 0;
    std::string first;
    for (int voters : {3, 5}) {
      for (std::uint64_t seed = 1; seed <= kCiSeeds; ++seed) {
        SimOptions o = options_for_seed(seed, voters);
        o.break_commit_rule = true;
        const SimResult r = run_simulation(o);
        if (!r.ok) {
          if (caught++ == 0) first = r.failure;
        }
      }
    }
    MESSAGE("mutation caught by ", caught, " runs; first: ", first);
    CHECK(caught > 0);
  }
}

}  // namespace nw::raft::sim
