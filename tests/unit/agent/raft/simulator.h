#pragma once

#include <cstdint>
#include <string>

namespace nw::raft::sim {

// One simulated run: a Raft group on a simulated clock and network, driven
// entirely by `seed` (same options => same run, bit for bit).
struct SimOptions {
  std::uint64_t seed = 1;
  int voters = 3;       // initial voters (ids 1..voters)
  int spare_nodes = 2;  // ids that may join later as learners
  int chaos_ticks = 800;
  // Liveness bound: after the faults heal, a write and a read must finish,
  // and every member must catch up, within this many ticks.
  int heal_ticks = 400;
  int election_tick = 10;
  std::size_t max_entries_per_msg = 8;
  std::size_t max_inflight_msgs = 8;

  // Per-message network faults.
  double drop = 0.05;
  double duplicate = 0.02;
  double long_delay = 0.05;  // delayed up to 6 ticks (reordering)
  // Per-tick faults.
  double crash = 0.004;
  double partition = 0.01;
  // Per-tick client and operator actions.
  double write = 0.5;
  double read = 0.2;
  double conf_change = 0.01;
  double transfer = 0.005;
  // Snapshot every N applied entries (0: never), keeping up to `keep`.
  int snapshot_every = 40;
  int snapshot_keep = 10;
  // InstallSnapshot chunk size (Config::max_snapshot_chunk_bytes), and
  // filler bytes added to every state machine snapshot (checked when it is
  // installed) so that small chunks split it into many.
  std::uint64_t max_snapshot_chunk_bytes = 1 << 20;
  int snapshot_padding = 0;

  bool break_commit_rule = false;  // the mutation (Config test hook)
  bool trace = false;              // print every event to stderr
};

// Options with a fault mix chosen from the seed (so a seed range covers
// calm and stormy runs, big and small batches, snapshots or not).
SimOptions options_for_seed(std::uint64_t seed, int voters);

struct SimResult {
  bool ok = true;
  std::string failure;  // what broke, at which tick
  // Counters, for the summary and to assert the run did something.
  std::uint64_t ticks = 0;
  std::uint64_t events = 0;
  std::uint64_t leaders = 0;
  std::uint64_t acked_writes = 0;
  std::uint64_t reads_served = 0;
  std::uint64_t crashes = 0;
  std::uint64_t conf_changes = 0;
  std::uint64_t transfers = 0;
  std::uint64_t snapshot_chunks_sent = 0;
  std::uint64_t snapshots_installed = 0;
  std::uint64_t commit_index = 0;

  std::string summary() const;
};

SimResult run_simulation(const SimOptions& options);

// The command line that replays (with a trace) the run of
// options_for_seed(seed, voters).
std::string replay_command(std::uint64_t seed, int voters,
                           bool break_commit_rule);

}  // namespace nw::raft::sim
