#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "agent/raft/types.h"

// The scheduled jobs, their runs and the cluster locks as the controller
// keeps them: value types, part of ClusterState and of its snapshot (format
// version 3). Every field is replicated and set only from commands (put_job
// .. release_lock): every time here is a time the proposing leader (or the
// reporting agent, through the leader) wrote into a command, never the
// applying node's clock.
namespace nw::controller {

// One scheduled job.
struct JobRecord {
  std::string name;  // config::check_job_name(); the key of jobs()
  // The spec as config::encode_job writes it (canonical JSON): the job
  // rules live in common/config, and put_job only accepts a spec that
  // decodes, validates, names this job and is already canonical.
  std::string spec_json;
  // 1 when added; +1 by every put_job that changed the spec or enabled.
  std::uint64_t version = 0;
  // Whether the leader schedules it: set from the spec's `enabled` by
  // put_job, and by set_job_enabled (pause/resume) until the next put_job.
  bool enabled = true;
  // The latest slot (ms since the Unix epoch) that got a run or was
  // recorded missed; 0 for none. Never goes back: a new leader continues
  // scheduling after it.
  std::int64_t last_slot_ms = 0;
  // now_ms of the put_job that last changed the spec (added it, or
  // bumped its version). The scheduler owes no slot before it, so a job
  // never scheduled yet, or whose schedule just changed, starts here on
  // every leader alike.
  std::int64_t changed_ms = 0;
  raft::LogIndex created_index;  // the index of the put_job that added it

  bool operator==(const JobRecord&) const = default;
};

// One run of a job for one slot, shard and attempt.
struct RunRecord {
  // dispatched -> running -> succeeded | failed | timed_out | cancelled;
  // dispatched | running -> lost (lease expired). The last five are
  // finished: a finished run never changes again.
  enum class State : std::uint8_t {
    dispatched,
    running,
    succeeded,
    failed,
    timed_out,
    cancelled,
    lost,
  };

  // The log index of its create_run entry: unique, increasing. Also its
  // fencing token.
  std::uint64_t run_id = 0;
  std::string job;
  std::int64_t slot_ms = 0;       // the scheduled time
  std::uint32_t attempt = 1;      // 1, then 2.. for retries of the same slot
  std::string agent;              // the node id it was dispatched to
  std::uint32_t shard_index = 0;  // < shard_count
  std::uint32_t shard_count = 1;  // >= 1
  // Equals run_id; every update_run must carry it, so a report from a
  // runner of another run (a stale one) is refused.
  std::uint64_t fencing_token = 0;
  State state = State::dispatched;
  std::int32_t exit_code = 0;   // set when it finishes
  std::string reason;           // why it finished (free text), may be empty
  std::int64_t created_ms = 0;  // create_run's now_ms
  std::int64_t started_ms = 0;  // 0 until running
  std::int64_t ended_ms = 0;    // 0 until finished
  // The agent must renew before this (ms); after it the leader may mark
  // the run lost.
  std::int64_t lease_until_ms = 0;
  // Started by hand (`nwctl job run`), not by the schedule: slot_ms is the
  // time it was asked for, and it does not move the job's last_slot_ms.
  bool manual = false;

  bool finished() const {
    return state != State::dispatched && state != State::running;
  }
  bool operator==(const RunRecord&) const = default;
};

// One slot that got no run, and why ("job paused", "leader down past
// starting_deadline", ...).
struct MissedSlot {
  std::int64_t slot_ms = 0;
  std::string reason;
  bool operator==(const MissedSlot&) const = default;
};

// The last kMaxMissedPerJob missed slots of a job, oldest first.
using MissedSlots = std::deque<MissedSlot>;

// One cluster lock (`nwctl lock NAME --ttl 30s -- CMD`): held by `holder`
// until deadline_ms by the commands' clock; an expired lock stays here
// until it is acquired again or released.
struct LockRecord {
  std::string name;    // valid_name(); the key of locks()
  std::string holder;  // not empty
  // The log index of the acquire_lock that granted it (a renewal keeps
  // it): increasing per lock, so a resource can refuse a stale holder.
  std::uint64_t token = 0;
  std::int64_t deadline_ms = 0;  // held while the command's now_ms < this

  bool operator==(const LockRecord&) const = default;
};

using JobMap = std::map<std::string, JobRecord>;
using RunMap = std::map<std::uint64_t, RunRecord>;  // by run_id
using LockMap = std::map<std::string, LockRecord>;

inline constexpr std::size_t kMaxMissedPerJob = 1000;
// Finished runs kept per job (the oldest go first; unfinished runs are
// never dropped). Older history lives in the agents' SQLite.
inline constexpr std::size_t kMaxFinishedRunsPerJob = 50;
// Longest lock ttl, and longest run lease from now (7 days).
inline constexpr std::int64_t kMaxLeaseMs = 7LL * 24 * 3600 * 1000;
// Longest free-text field (missed reason, run reason, holder).
inline constexpr std::size_t kMaxReasonBytes = 4096;

// "dispatched", "running", "succeeded", "failed", "timed_out",
// "cancelled", "lost".
std::string_view to_string(RunRecord::State s);
// The inverse; nullopt for anything else.
std::optional<RunRecord::State> run_state_from_string(std::string_view text);

}  // namespace nw::controller
