#include "agent/jobs/run_policy.h"

#include <string.h>

#include <algorithm>
#include <cmath>

namespace nw::jobs {
namespace {

using State = controller::RunRecord::State;

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? "SIG" + std::string(abbrev)
                           : "signal " + std::to_string(sig);
}

}  // namespace

bool retryable(State s) {
  return s == State::failed || s == State::timed_out || s == State::lost;
}

std::int64_t retry_delay_ms(const config::RetryPolicy& p, std::uint32_t attempt,
                            std::uint64_t run_id) {
  double d = static_cast<double>(to_ms(p.backoff)) *
             std::pow(2.0, static_cast<double>(attempt - 1));
  d = std::min(d, static_cast<double>(to_ms(p.max_backoff)));
  std::uint64_t h = run_id * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 31;
  const double unit = static_cast<double>(h % 10001) / 10000.0;  // [0, 1]
  d *= 1.0 + p.jitter * (2.0 * unit - 1.0);
  return std::max<std::int64_t>(0, static_cast<std::int64_t>(d));
}

controller::UpdateRun final_update(const controller::RunRecord& run,
                                   const RunResult& res,
                                   const std::string& cancel_reason,
                                   Duration timeout) {
  controller::UpdateRun u;
  u.run_id = run.run_id;
  u.fencing_token = run.fencing_token;
  u.started_ms = res.pgid != 0 ? ms_of(res.started_at) : 0;
  u.ended_ms = ms_of(res.ended_at);
  if (res.exit_code) {
    u.exit_code = *res.exit_code;
  } else if (res.signal) {
    u.exit_code = 128 + *res.signal;
  }
  auto how = [&] {
    if (res.exit_code)
      return "exited with status " + std::to_string(*res.exit_code);
    if (res.signal) return "killed by " + signal_name(*res.signal);
    return std::string("ended");
  };
  switch (res.reason) {
    case EndReason::exited:
      u.state = res.succeeded() ? State::succeeded : State::failed;
      u.reason = how();
      break;
    case EndReason::timed_out:
      u.state = State::timed_out;
      u.reason = "timed out after " + format_duration(timeout) +
                 "; the process tree was killed (" + how() + ")";
      break;
    case EndReason::cancelled:
      u.state = State::cancelled;
      u.reason = cancel_reason.empty() ? "cancelled" : cancel_reason;
      if (res.pgid != 0) u.reason += " (" + how() + ")";
      break;
    case EndReason::failed_to_start:
      u.state = State::failed;
      // As a shell would: 127 not found, 126 not executable.
      u.exit_code = 1;
      if (res.error && res.error->code == Code::not_found) u.exit_code = 127;
      if (res.error && res.error->code == Code::permission_denied) {
        u.exit_code = 126;
      }
      u.reason = "could not start: " +
                 (res.error ? res.error->message : std::string("unknown"));
      break;
  }
  if (u.reason.size() > controller::kMaxReasonBytes) {
    u.reason.resize(controller::kMaxReasonBytes);
  }
  return u;
}

RunSpec run_spec(const config::JobSpec& spec, Duration kill_grace) {
  RunSpec rs;
  if (!spec.shell.empty()) {
    rs.shell = spec.shell;
  } else {
    rs.argv = spec.command;
  }
  rs.env = spec.env;
  rs.workdir = spec.workdir;
  rs.timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(spec.timeout);
  rs.kill_grace =
      std::chrono::duration_cast<std::chrono::milliseconds>(kill_grace);
  rs.output_limit = static_cast<std::size_t>(spec.output_limit);
  return rs;
}

}  // namespace nw::jobs
