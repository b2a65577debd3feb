#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/base/units.h"

// Child processes for tests: run a command to completion with its output
// captured (run, run_nwctl), or start one that outlives the call (spawn,
// used by AgentProcess). Plain fork/exec; no threads.
namespace nw::testsupport {

// Changes to the parent's environment for a child: a value sets the
// variable, std::nullopt removes it.
using EnvOverrides = std::map<std::string, std::optional<std::string>>;

// How a command run by run() ended.
struct ProcessResult {
  // The exit status, or 128+signal when a signal ended it (137 after the
  // timeout kill); 127 when it could not be started.
  int exit_code = -1;
  std::string out;          // everything it wrote to stdout
  std::string err;          // everything it wrote to stderr
  bool timed_out = false;   // killed (SIGKILL) because the timeout passed
  std::string spawn_error;  // non-empty when fork/exec failed
  std::string command;      // the argv, joined, for messages

  // A multi-line account for test messages: the command, how it ended
  // (clearly saying when it was killed for the timeout), and its output
  // (each stream cut to its last 4000 bytes).
  std::string describe() const;
};

// Runs argv[0] (looked up in PATH when it has no slash) with the given
// arguments, in `cwd` (empty: the current directory), with the parent's
// environment plus `env`, and `stdin_text` on stdin (nullopt: /dev/null).
// stdout and stderr are read concurrently, so any amount of output is fine.
// After `timeout` the child's whole process group is SIGKILLed and the
// result says timed_out. Never throws; a failure to start is reported in
// the result (spawn_error, exit code 127).
ProcessResult run(const std::vector<std::string>& argv,
                  const EnvOverrides& env = {},
                  const std::optional<std::string>& stdin_text = std::nullopt,
                  Duration timeout = std::chrono::seconds(30),
                  const std::filesystem::path& cwd = {});

// run() of the nwctl binary (nwctl_binary()) with `args`. The client
// variables NW_ADDR, NW_OUTPUT, NW_TOKEN, NW_TIMEOUT and NW_CACERT of the test
// runner are removed unless `env` sets them, so a developer's shell cannot
// change what a test sees.
ProcessResult run_nwctl(
    std::vector<std::string> args, EnvOverrides env = {},
    const std::optional<std::string>& stdin_text = std::nullopt,
    Duration timeout = std::chrono::seconds(30));

// Paths of the binaries under test. Normally set by including
// tests/support/binaries.h from a test built with NW_AGENT_BIN and
// NW_CTL_BIN defined; empty until then. set_binaries returns true.
bool set_binaries(std::string agent, std::string nwctl);
const std::string& agent_binary();
const std::string& nwctl_binary();

// What spawn() starts. A child fd of -1 means /dev/null. The fds are dup2'd
// in the child; the caller keeps (and closes) its own copies.
struct SpawnSpec {
  std::vector<std::string> argv;
  EnvOverrides env;
  std::filesystem::path cwd;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// Starts a child and returns its pid once exec succeeded. The child leads a
// new process group (kill(-pid, ...) reaches its own children too), gets
// PR_SET_PDEATHSIG(SIGKILL) so it dies with the test runner, default signal
// dispositions and mask, and no inherited fds besides 0-2.
// io_error when fork fails or exec fails (the message has strerror).
// REQUIRES: !argv.empty(). The caller must reap the pid (waitpid).
Result<pid_t> spawn(const SpawnSpec& spec);

// The exit status of a waitpid() status word: exit code or 128+signal.
int decode_wait_status(int status);

}  // namespace nw::testsupport
