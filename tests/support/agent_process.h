#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/base/net.h"
#include "common/base/result.h"
#include "common/base/units.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace nw::testsupport {

// How to start one nwagent.
struct AgentOptions {
  // Names the data dir `<tmp>/<name>` and the log `<tmp>/<name>.log`; give
  // each agent of a cluster its own.
  std::string name = "agent";
  // Appended after the harness's own flags.
  std::vector<std::string> extra_args;
  // When set, the agent runs with `--config FILE` instead of the default
  // flags below; the file must use port() for api.listen (the port cannot be
  // changed on a bind failure then).
  std::filesystem::path config;
  // When false (and no config), argv is just the binary and extra_args
  // (`--dev`, say); set `port` to the port the agent will listen on.
  bool default_flags = true;
  // 0: a free port picked by the harness.
  std::uint16_t port = 0;
  // The peer (Raft) port of the default flags (--peer 127.0.0.1:PORT);
  // 0: a free port picked by the harness.
  std::uint16_t peer_port = 0;
  // --log-level of the default flags.
  std::string log_level = "debug";
  EnvOverrides env;
  std::filesystem::path cwd;  // empty: the TempDir
  std::string binary;         // empty: agent_binary()
};

// One real nwagent child process, for integration tests.
//
// Default argv: `nwagent --data-dir <tmp>/<name> --api 127.0.0.1:<port>
// --peer 127.0.0.1:<peer_port> --log-level debug [extra_args]`, or `nwagent
// --config FILE [extra_args]`; stdout and stderr go (appended) to
// `<tmp>/<name>.log`.
//
// Lifecycle: the constructor picks the port and starts nothing, so a test
// can write a config file with port() first. start() launches and waits
// until GET /v1/health/ready answers 200; stop(), kill() and restart() may
// follow in any order; restart() reuses the data dir and the port, so a
// restart on the same state can be tested. The destructor SIGKILLs the
// agent's process group and reaps it on every path (a failed doctest
// REQUIRE throws, so RAII is enough); the data dir stays until the TempDir
// goes, so the TempDir must be declared before the AgentProcess.
//
// Threads: the test thread that made it. Movable, not copyable.
class AgentProcess {
 public:
  // Picks a free port unless opts.port is set. `dir` must outlive this.
  // Throws std::runtime_error when no free port can be found.
  AgentProcess(const TempDir& dir, AgentOptions opts = {});
  ~AgentProcess();
  AgentProcess(AgentProcess&& other) noexcept;
  AgentProcess& operator=(AgentProcess&& other) noexcept;
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  // launch() then wait_ready(timeout). When the agent exits before it is
  // ready and its port turns out to be taken (the free_port() race), tries
  // again on a new port, up to 3 times (not with a config file).
  // Errors: those of launch() and wait_ready().
  // REQUIRES: !running().
  Status start(Duration ready_timeout = std::chrono::seconds(20));
  // Starts the process without waiting for it. io_error when it cannot be
  // started (bad binary path, log file not writable).
  // REQUIRES: !running().
  Status launch();
  // Polls GET /v1/health/ready until it answers 200. unavailable when the
  // process exits first, timeout when `timeout` passes; either message ends
  // with the last 40 lines of the agent's log.
  Status wait_ready(Duration timeout = std::chrono::seconds(20));

  // "127.0.0.1:PORT"
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  HostPort host_port() const { return HostPort{"127.0.0.1", port_}; }
  std::uint16_t port() const { return port_; }
  // "127.0.0.1:PEER_PORT", what other agents --join.
  std::string peer_addr() const {
    return "127.0.0.1:" + std::to_string(peer_port_);
  }
  std::uint16_t peer_port() const { return peer_port_; }
  // The pid of the running (or exited, not yet restarted) process; -1 before
  // the first launch.
  pid_t pid() const { return pid_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  const std::filesystem::path& log_path() const { return log_path_; }
  const std::vector<std::string>& argv() const { return argv_; }

  // True while the process has not exited (reaps it when it has).
  bool running();
  // Sends `sig` to the agent (not its group). failed_precondition when it
  // is not running.
  Status signal(int sig);
  // Waits up to `timeout` for the agent to exit; its exit code (128+signal
  // when a signal ended it), or nullopt when it still runs. Returns the
  // remembered code at once after it exited.
  std::optional<int> wait_exit(Duration timeout);
  // SIGKILLs the agent's process group and reaps it. No-op when not running.
  void kill();
  // SIGTERM, then waits up to `grace`; SIGKILL after that. The exit code
  // (137 when it had to be killed); nullopt if it was never launched.
  std::optional<int> stop(Duration grace = std::chrono::seconds(10));
  // stop() if running, then start() on the same data dir and port.
  Status restart(Duration ready_timeout = std::chrono::seconds(20));

  // The whole log file (all runs).
  std::string log() const;
  // The log written since the latest launch.
  std::string current_log() const;
  // The last `lines` lines of the log, for failure messages.
  std::string log_tail(int lines = 40) const;
  // Waits until current_log() contains `text`.
  bool wait_for_log(std::string_view text,
                    Duration timeout = std::chrono::seconds(10)) const;

 private:
  // Whether the agent answering /v1/status on our port is our child.
  bool answered_by_us(Duration timeout) const;
  void build_argv();
  void reset();

  std::filesystem::path root_;  // the TempDir
  AgentOptions opts_;
  std::uint16_t port_ = 0;
  std::uint16_t peer_port_ = 0;
  std::filesystem::path data_dir_;  // <root>/<name>
  std::filesystem::path log_path_;  // <root>/<name>.log
  std::vector<std::string> argv_;   // of the latest launch
  pid_t pid_ = -1;
  std::optional<int> exit_code_;   // set once pid_ was reaped
  std::uintmax_t log_offset_ = 0;  // log size at the latest launch
};

}  // namespace nw::testsupport
