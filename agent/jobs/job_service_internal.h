// What the parts of JobService (job_service.cc, scheduler.cc, runner.cc,
// job_api.cc) share and nothing else includes.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent/jobs/job_service.h"
#include "agent/jobs/process_runner.h"
#include "agent/metrics/registry.h"
#include "common/base/log.h"

namespace nw::jobs {

inline const log::Logger& jobs_log() {
  static const log::Logger kLog("jobs");
  return kLog;
}

// The scheduler's view of one job (leader only).
struct JobService::Plan {
  std::string name;
  std::uint64_t version = 0;
  bool enabled = true;
  config::JobSpec spec;
  std::optional<Schedule> schedule;  // nullopt: it does not parse
  // The last slot handled (a run or a missed record committed or on its
  // way); the next slot is the first after it.
  std::int64_t cursor_ms = 0;
  std::int64_t next_ms = 0;  // 0: none
  bool busy = false;         // a chain of proposals for it is in flight
  // The chain failed: the next sync takes the cursor from the committed
  // last slot (chain_from when there is none).
  bool resync = false;
  std::int64_t chain_from = 0;
  bool schedule_error_logged = false;
};

// A job's commands of one round, proposed one after the other.
struct JobService::Chain {
  std::string job;
  std::vector<controller::Command> cmds;
  std::size_t next = 0;
};

// A run this agent knows: queued, running, or reporting its end.
struct JobService::Active {
  controller::RunRecord run;
  config::JobSpec spec;
  std::shared_ptr<LiveOutput> output;
  std::unique_ptr<ProcessRunner> runner;  // set while the process runs
  bool cancel_requested = false;
  std::string cancel_reason;  // for the report: "killed by nwctl job kill"
  bool started = false;
  bool finishing = false;  // the process ended; the report is on its way
  MonoTime started_mono;
  std::int64_t started_ms = 0;
  bool reported_running = false;
  MonoTime next_renewal;
  bool renewing = false;  // a renewal is in flight
};

struct JobService::Metrics {
  explicit Metrics(metrics::Registry& r);
  metrics::Counter& slots_dispatched;
  metrics::Counter& slots_missed;
  metrics::Counter& runs_lost;
  metrics::Counter& retries;
  metrics::Gauge& queued;
  metrics::Gauge& running;
  metrics::Histogram& lateness;
  metrics::CounterFamily& finished;
};

// "2026-12-01T02:30:00.000Z"
std::string format_ms(std::int64_t ms);

}  // namespace nw::jobs
