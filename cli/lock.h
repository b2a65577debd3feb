#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/base/time.h"
#include "common/base/units.h"

// The parts of `nwctl lock NAME -- COMMAND` (docs/api.md, "Locks") that do
// no I/O: the argument checks, the request bodies and the lock answer, and
// LeaseKeeper, which decides when to renew the lease and when it must be
// taken as lost. lock.cc runs the command and does the requests.
//
// Argument errors are invalid_argument (exit 2) saying what to write
// instead. Threads: none; LeaseKeeper belongs to the one thread that keeps
// the lease.
namespace nw::ctl {

// nwctl lock's own exit codes besides the command's (documented in
// `nwctl lock --help` and man nwctl).
// The lease was lost while the command ran, and the command was stopped.
inline constexpr int kLockLostExit = 11;
// The command could not be started: not executable / not found (as the
// shell reports them).
inline constexpr int kCannotExecuteExit = 126;
inline constexpr int kCommandNotFoundExit = 127;

// `nwctl lock` as typed.
struct LockFlags {
  std::string name;
  std::string ttl = "30s";
  std::string wait;  // "" = wait for ever
  std::vector<std::string> command;
};

// The checked arguments.
struct LockArgs {
  std::string name;
  Duration ttl{30000};
  std::optional<Duration> wait;  // nullopt: wait for ever
  std::vector<std::string> command;
};
// Name as topic names (1-200 of A-Z a-z 0-9 . _ -), --ttl from 1s to 7d,
// --wait a duration >= 0, a command. invalid_argument otherwise.
Result<LockArgs> check_lock_args(const LockFlags& flags);

// "host-1/4242/3f9a2c1b": hostname, pid and a random suffix, so two
// nwctl processes (even with a reused pid) never share a holder id.
std::string lock_holder_id(std::string_view hostname, long pid,
                           std::uint64_t random);

std::string acquire_body(std::string_view holder, Duration ttl, Duration wait);
std::string renew_body(std::string_view holder, std::uint64_t token,
                       Duration ttl);
std::string release_body(std::string_view holder, std::uint64_t token);
// "/v1/locks/<name, percent-encoded>/<verb>".
std::string lock_path(std::string_view name, std::string_view verb);

// The answer of acquire and renew.
struct LockGrant {
  std::string name;
  std::string holder;
  std::uint64_t token = 0;
  std::uint64_t ttl_ms = 0;
};
Result<LockGrant> lock_grant_from_json(std::string_view body);

// How long each acquire request waits on the agent at most, so Ctrl-C and
// --wait are noticed between requests.
inline constexpr Duration kAcquireChunk{5000};
// The wait_ms of the next acquire request: kAcquireChunk, or what is left
// of --wait, and at most ttl/3. The lease is timed from the sending of the
// request that got it (LeaseKeeper), and the agent may grant it at any
// moment of the wait, so a wait longer than ttl/3 could leave the lease
// looking expired on arrival.
Duration acquire_wait(std::optional<Duration> left, Duration ttl);

// Keeps the lease's local view with a monotonic clock: the lease is taken
// to end `ttl` after the *sending* of the last request that set it (the
// agent's lease starts later, so this deadline is never later than the
// agent's, clock rates aside). A renewal is due every ttl/3; after a
// renewal that failed in transit (unavailable, timeout) the next try comes
// sooner. Once the deadline passes without a successful renewal the lease
// is lost, and so is it when the agent refuses a renewal.
//
// Lifecycle: made when the lock is acquired; fed each renewal's outcome;
// asked what to do with the current time. One thread.
class LeaseKeeper {
 public:
  enum class Action { wait, renew, lost };

  // `granted_at`: when the acquire request that got the lock was sent.
  LeaseKeeper(Duration ttl, MonoTime granted_at);

  // What to do at `now`: lost once now >= deadline() (or after refused()),
  // renew once now >= next_renewal(), else wait.
  Action check(MonoTime now) const;
  // A renewal sent at `sent_at` succeeded.
  void renewed(MonoTime sent_at);
  // A renewal failed without an answer (the lease may still be held).
  void failed(MonoTime now);
  // The agent refused a renewal (failed_precondition, not_found, or a
  // different token): the lease is gone.
  void refused() { refused_ = true; }

  MonoTime deadline() const { return deadline_; }
  MonoTime next_renewal() const { return next_; }
  // How long a renewal request sent at `now` may take: up to the deadline,
  // at most ttl/3, at least 100ms.
  Duration request_timeout(MonoTime now) const;
  // Until the next check is needed: the time to the next renewal or the
  // deadline, at most `cap`, never negative.
  Duration sleep_for(MonoTime now, Duration cap) const;

 private:
  Duration ttl_;
  MonoTime deadline_;
  MonoTime next_;
  bool refused_ = false;
};

// The exit code of a child from its wait status: the code, or 128 + N for
// signal N.
int exit_code_of_status(int wait_status);

}  // namespace nw::ctl
