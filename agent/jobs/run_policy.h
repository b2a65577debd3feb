#pragma once

#include <cstdint>
#include <string>

#include "agent/controller/command.h"
#include "agent/controller/job_record.h"
#include "agent/jobs/process_runner.h"
#include "common/base/time.h"
#include "common/config/job_spec.h"

// The pure rules of running jobs, shared by the scheduler and the runner
// and unit-tested on their own: what a process's end means for its run,
// what a job spec means for its process, and when a failed run is retried.
namespace nw::jobs {

// Milliseconds since the Unix epoch, and of a duration (truncated).
inline std::int64_t ms_of(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             t.time_since_epoch())
      .count();
}
inline std::int64_t to_ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Whether a run that ended in state `s` may be retried (failed, timed
// out, lost).
bool retryable(controller::RunRecord::State s);

// The delay before attempt `attempt + 1` of a run that failed: backoff *
// 2^(attempt-1), capped at max_backoff, scaled by a jitter factor in
// [1 - jitter, 1 + jitter] that is a fixed function of the failed run's id,
// so every leader computes the same due time.
std::int64_t retry_delay_ms(const config::RetryPolicy& p, std::uint32_t attempt,
                            std::uint64_t run_id);

// The final report of `run` from how its process ended: succeeded on exit
// 0, failed on another status or a killing signal (exit code 128 + N) or
// when it could not start (127 not found, 126 not executable, else 1, as
// a shell), timed_out, cancelled (`cancel_reason`, or "cancelled").
// `timeout` is the job's, for the reason text.
controller::UpdateRun final_update(const controller::RunRecord& run,
                                   const RunResult& res,
                                   const std::string& cancel_reason,
                                   Duration timeout);

// What ProcessRunner runs for a job.
RunSpec run_spec(const config::JobSpec& spec, Duration kill_grace);

}  // namespace nw::jobs
