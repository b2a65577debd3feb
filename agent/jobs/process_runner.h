#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/base/time.h"

namespace nw::jobs {

// What to run for one job run, and the limits to run it under.
struct RunSpec {
  // Exactly one of argv and shell is set. argv is executed directly; a bare
  // argv[0] (no '/') is looked up in the PATH of the child's environment.
  // shell is run by `/bin/sh -c`.
  std::vector<std::string> argv;
  std::string shell;
  // Added to the base environment (PATH, HOME and LANG of the agent);
  // overrides the base. NW_* identity variables (RunIdentity) win over it.
  std::map<std::string, std::string> env;
  // The child's working directory; empty keeps the agent's. A directory
  // that does not exist ends the run as failed_to_start.
  std::string workdir;
  // Wall-clock limit from the start; zero means none.
  std::chrono::milliseconds timeout{0};
  // Time between SIGTERM and SIGKILL to the process group.
  std::chrono::milliseconds kill_grace{std::chrono::seconds(10)};
  // Bytes of output kept in memory: the first half and the last half of the
  // combined stdout+stderr stream (CapturedOutput).
  std::size_t output_limit = 1 << 20;
};

// Who the run is; exported to the child as NW_JOB, NW_RUN_ID, NW_SLOT,
// NW_SHARD_INDEX and NW_SHARD_COUNT.
struct RunIdentity {
  std::string job;
  std::string run_id;
  std::string slot;  // the scheduled slot, e.g. an RFC 3339 time
  std::uint32_t shard_index = 0;
  std::uint32_t shard_count = 1;
};

// The head and the tail of an output stream of any length, in bounded
// memory: the first `limit/2` bytes are kept as they come, the last
// `limit - limit/2` bytes in a ring buffer, and what falls out of the ring
// is only counted (elided_bytes). While the stream is at most `limit` bytes
// long nothing is dropped.
//
// Lifecycle: a value; fed by append(), read by the accessors.
// Threads: not synchronized; ProcessRunner fills it on the run() thread and
// hands it over in RunResult.
class CapturedOutput {
 public:
  explicit CapturedOutput(std::size_t limit = 1 << 20);

  void append(std::string_view chunk);

  std::size_t limit() const { return head_cap_ + tail_cap_; }
  // The first bytes of the stream (at most limit/2).
  const std::string& head() const { return head_; }
  // The last bytes after the head (at most limit - limit/2), in order.
  std::string tail() const;
  // Bytes seen in total, kept, and dropped from the middle.
  std::uint64_t total_bytes() const { return total_; }
  std::uint64_t kept_bytes() const { return head_.size() + tail_size_; }
  std::uint64_t elided_bytes() const { return elided_; }
  bool truncated() const { return elided_ != 0; }
  // head + tail, with a "[... N bytes elided ...]" line between them when
  // the middle was dropped; for display and storage.
  std::string text() const;

 private:
  std::size_t head_cap_;
  std::size_t tail_cap_;
  std::string head_;
  std::vector<char> ring_;  // tail_cap_ bytes once the head is full
  std::size_t tail_start_ = 0;
  std::size_t tail_size_ = 0;
  std::uint64_t total_ = 0;
  std::uint64_t elided_ = 0;
};

// Why a run ended. The spelling of to_string is stable (API and storage).
enum class EndReason : std::uint8_t {
  exited,           // the main process ended by itself (any status)
  timed_out,        // RunSpec::timeout passed; the group was killed
  cancelled,        // cancel() was called; the group was killed
  failed_to_start,  // nothing ran: see RunResult::error
};
std::string_view to_string(EndReason reason);

struct RunResult {
  EndReason reason = EndReason::exited;
  // How the main process ended: exit_code if it exited, signal if a signal
  // killed it (also after timed_out/cancelled). Neither for failed_to_start.
  std::optional<int> exit_code;
  std::optional<int> signal;
  // Set for failed_to_start only: not_found (no such command or workdir),
  // permission_denied (not executable), or io_error, with the errno text.
  std::optional<Error> error;
  WallTime started_at;
  WallTime ended_at;
  // The main process's pid, which is also the process group id of the whole
  // tree; 0 if nothing started. The group is empty when run() returns
  // (unless leftovers_ below).
  pid_t pgid = 0;
  // True if members of the group were still there when run() gave up
  // waiting for them after SIGKILL (zombies nobody reaps: see
  // enable_child_subreaper()).
  bool leftovers = false;
  CapturedOutput output;

  // Exited with status 0.
  bool succeeded() const {
    return reason == EndReason::exited && exit_code == 0;
  }
};

// Called on the run() thread with each chunk of output as it is read (at
// most 64 KiB), before it goes into CapturedOutput; for `job logs
// --follow`. It must not block for long: the child blocks when the pipe
// fills. If it throws, the tree is killed (SIGKILL) and its leader reaped
// before the exception leaves run().
using OutputCallback = std::function<void(std::string_view chunk)>;

// Runs one job process to its end, and its whole process tree with it.
//
// The child is started with posix_spawn in a new session (so its own
// process group, pgid = pid) with stdin from /dev/null and stdout and stderr
// on ONE pipe, so the captured output keeps the order in which the tree
// wrote (each write(2) of up to PIPE_BUF bytes stays whole; a process that
// buffers stdout but not stderr still reorders its own lines, as on a
// terminal). No other descriptor of the agent leaks into the child.
//
// Ending: on timeout or cancel(), SIGTERM goes to the process group, then
// SIGKILL after kill_grace. When the main process exits by itself while
// other members of its group still run (`daemon &`), those get the same
// SIGTERM/SIGKILL treatment: a run owns its tree. run() returns once the
// group is empty (or, if its members are zombies that this process cannot
// reap, a few seconds after SIGKILL, with leftovers set). A process that
// leaves the group (setsid, setpgid) escapes; containing those needs
// cgroups.
//
// Lifecycle: construct with the spec, call run() once (it blocks until the
// end), read the RunResult. cancel() may come at any time: before run() it
// makes run() return cancelled without starting anything; after the end it
// does nothing. Destroy only after run() returned (or if it is never
// called).
// Threads: run() on one thread; cancel() from any thread.
class ProcessRunner {
 public:
  ProcessRunner(RunSpec spec, RunIdentity identity,
                OutputCallback on_output = {});
  ~ProcessRunner();
  ProcessRunner(const ProcessRunner&) = delete;
  ProcessRunner& operator=(const ProcessRunner&) = delete;

  // Starts the process, captures its output, enforces the timeout and
  // waits for the whole group. A command that cannot be started is a
  // RunResult with reason failed_to_start, not an error.
  // Errors: invalid_argument if the spec is malformed (neither or both of
  // argv and shell, an env name that is empty or holds '=', a NUL byte, a
  // negative duration); failed_precondition if run() was called before;
  // io_error if the agent cannot make a pipe.
  Result<RunResult> run();

  // Asks run() to end the run (SIGTERM, then SIGKILL after kill_grace).
  // Returns at once. Safe from any thread, any number of times.
  void cancel();

 private:
  struct Loop;  // the state of one run() (process_runner.cc)

  const RunSpec spec_;
  const RunIdentity identity_;
  const OutputCallback on_output_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> ran_{false};
  // An eventfd that cancel() signals to wake run()'s poll; -1 if eventfd
  // failed (run() then polls the flag every 50 ms). Set once in the
  // constructor, closed in the destructor.
  int wake_fd_ = -1;
};

// Makes this process the reaper of orphaned descendants
// (PR_SET_CHILD_SUBREAPER), so that the grandchildren of a job, once their
// parent died, are reaped by ProcessRunner and not left as zombies for a
// PID 1 that may never reap them (containers). The agent calls it once at
// start-up. Errors: io_error with the errno text.
Status enable_child_subreaper();

}  // namespace nw::jobs
