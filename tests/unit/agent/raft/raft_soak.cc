// raft_soak: runs the Raft simulator over any seed range, for long soaks
// and for replaying a failing seed with a trace.
//
//   raft_soak --seeds 1..10000 [--nodes 3|5|both] [--break-commit-rule]
//             [--trace]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/unit/agent/raft/simulator.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: raft_soak --seeds A..B [--nodes 3|5|both] "
               "[--break-commit-rule] [--trace]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  bool have_seeds = false;
  std::vector<int> sizes = {3, 5};
  bool mutation = false;
  bool trace = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--seeds" && i + 1 < argc) {
      const std::string range = argv[++i];
      const auto dots = range.find("..");
      if (dots == std::string::npos) return usage();
      from = std::strtoull(range.substr(0, dots).c_str(), nullptr, 10);
      to = std::strtoull(range.substr(dots + 2).c_str(), nullptr, 10);
      have_seeds = from <= to;
    } else if (arg == "--nodes" && i + 1 < argc) {
      const std::string n = argv[++i];
      if (n == "3") {
        sizes = {3};
      } else if (n == "5") {
        sizes = {5};
      } else if (n != "both") {
        return usage();
      }
    } else if (arg == "--break-commit-rule") {
      mutation = true;
    } else if (arg == "--trace") {
      trace = true;
    } else {
      return usage();
    }
  }
  if (!have_seeds) return usage();

  const auto start = std::chrono::steady_clock::now();
  std::uint64_t runs = 0;
  std::uint64_t failures = 0;
  for (std::uint64_t seed = from; seed <= to; ++seed) {
    for (int voters : sizes) {
      auto options = nw::raft::sim::options_for_seed(seed, voters);
      options.break_commit_rule = mutation;
      options.trace = trace;
      const auto result = nw::raft::sim::run_simulation(options);
      ++runs;
      if (!result.ok || trace) {
        std::printf("seed %llu, %d nodes: %s\n",
                    static_cast<unsigned long long>(seed), voters,
                    result.summary().c_str());
      }
      if (!result.ok) {
        ++failures;
        std::printf(
            "  replay: %s\n",
            nw::raft::sim::replay_command(seed, voters, mutation).c_str());
      }
    }
    if (seed == to) break;  // to may be UINT64_MAX
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("%llu runs, %llu failed, %.1f s\n",
              static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(failures), secs);
  return failures == 0 ? 0 : 1;
}
