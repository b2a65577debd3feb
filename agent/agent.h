#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/base/result.h"
#include "common/base/time.h"
#include "common/config/config.h"

namespace nw::agent {

struct AgentCli;

// One nwagent process: opens the data directory (taking its lock), the
// local state database and the metrics registry, starts the services
// (only the API so far) and then waits for signals on the main thread:
// SIGTERM/SIGINT shut down gracefully (a second one during shutdown exits
// at once), SIGHUP re-reads the config file and re-opens the log file.
//
// REQUIRES: block_signals() was called before any thread was started, so
// every thread inherits the blocked mask and only run() receives them.
class Agent {
 public:
  Agent(config::AgentConfig config, const AgentCli& cli);
  ~Agent();

  // Runs until shutdown; returns the process exit code (0 after a clean
  // shutdown, exit_code(error) when start-up fails).
  int run();

 private:
  struct Parts;

  Status start();
  void wait_for_signals();
  void reload();
  void shutdown();

  config::AgentConfig config_;  // guarded by config_mu_ after start()
  mutable std::mutex config_mu_;
  const AgentCli& cli_;
  WallTime started_at_;
  MonoTime started_mono_;
  std::string data_dir_display_;  // absolute; set once in start()
  std::atomic<bool> ready_{false};
  std::atomic<bool> shutting_down_{false};
  // Set when the cluster cannot go on (node id taken, removed); run()
  // returns its exit code.
  std::mutex fatal_mu_;
  std::optional<Error> fatal_;  // guarded by fatal_mu_
  std::unique_ptr<Parts> parts_;
};

// nwagent --recover: takes the data directory's lock, rewrites it so that
// this agent is the only voter of its cluster (cluster::Cluster::recover),
// prints what it did and returns the exit code.
int recover(const config::AgentConfig& config);

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every
// thread it starts later) and ignores SIGPIPE.
void block_signals();

}  // namespace nw::agent
