#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/context.h"
#include "common/base/result.h"
#include "common/base/time.h"
#include "common/config/job_diff.h"
#include "common/config/job_spec.h"

namespace nw::http {
struct Response;
}

// The jobs side of docs/api.md ("Jobs") that does no I/O: request bodies
// and paths, decoders of the answers, the `nwctl job` tables, the apply
// plan, the offset bookkeeping of the output stream and the exit code of a
// waited-for run. job.cc (the commands) glues these to the HTTP client, so
// the tests check everything here without an agent.
//
// Decoders fail with invalid_argument naming the field and ignore unknown
// fields (a job spec inside an answer is kept as JSON text when this nwctl
// cannot decode it). Threads: none; pure functions.
namespace nw::ctl {

// A run, as every /v1/jobs and /v1/runs route shows it.
struct JobRun {
  std::uint64_t run_id = 0;
  std::string job;
  std::string slot;  // RFC 3339
  std::uint64_t attempt = 1;
  std::string trigger;  // schedule | manual | retry
  std::string agent;
  std::uint64_t shard_index = 0;
  std::uint64_t shard_count = 1;
  // dispatched | running | succeeded | failed | timed_out | cancelled | lost
  std::string state;
  std::optional<std::int64_t> exit_code;  // null until it ended with one
  std::string reason;
  std::string created;
  std::string started;  // "" while null
  std::string ended;    // "" while null
  std::optional<std::uint64_t> duration_ms;
};

// True once the run reached a final state (anything but dispatched and
// running).
bool run_ended(const JobRun& run);
// The same for a state alone (NW-Run-State); false for "".
bool run_state_ended(std::string_view state);

// GET /v1/runs/{id}, POST /v1/runs/{id}/kill.
Result<JobRun> run_from_json(std::string_view body);
// {"runs": [...]}: POST /v1/jobs/{name}/run, GET .../history.
Result<std::vector<JobRun>> runs_from_json(std::string_view body,
                                           std::string_view what);

// One job of GET /v1/jobs.
struct JobSummary {
  std::string name;
  std::string kind;
  bool enabled = true;
  std::string state;  // paused | running | idle
  std::string schedule;
  std::string timezone;
  std::uint64_t version = 0;
  std::string next_run;  // "" when null (paused)
  std::uint64_t running = 0;
  std::optional<JobRun> last_run;
};
Result<std::vector<JobSummary>> job_list_from_json(std::string_view body);

// GET /v1/jobs/{name}. `fields` is the spec as (key, value) pairs: those of
// config::job_fields() when the spec decodes, else the JSON members as they
// came (a newer agent's spec with fields this nwctl does not know).
struct JobDetail {
  std::string name;
  bool enabled = true;
  std::string state;
  std::uint64_t version = 0;
  std::string next_run;
  std::uint64_t missed = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<JobRun> runs;  // newest first
};
Result<JobDetail> job_detail_from_json(std::string_view body);

// One entry of GET /v1/jobs/missed.
struct MissedSlot {
  std::string job;
  std::string slot;
  std::string reason;
};
Result<std::vector<MissedSlot>> missed_from_json(std::string_view body);

// Tables. `now` turns times into "in 3h12m" / "5m ago".
// NAME STATE SCHEDULE NEXT RUN LAST RESULT RUNNING; LAST RESULT is
// "succeeded, exit 0, 2h ago".
std::string render_job_list(const std::vector<JobSummary>& jobs, WallTime now);
// "key: value" lines (name, state, version, next_run, missed_slots, then
// the spec's keys), a blank line, then the recent runs as in
// render_runs().
std::string render_job_detail(const JobDetail& job, WallTime now);
// RUN SLOT TRIGGER ATTEMPT AGENT STATE EXIT DURATION.
std::string render_runs(const std::vector<JobRun>& runs);
// JOB SLOT REASON.
std::string render_missed(const std::vector<MissedSlot>& missed);
// "run 1234 of job report: running on n2 (shard 1/3)" for kill and run.
std::string describe_run(const JobRun& run);

// "in 3h12m", "5m ago", "now"; the time as given when it does not parse;
// "-" for "".
std::string relative_time(std::string_view rfc3339, WallTime now);

// POST /v1/jobs/apply body: {"jobs": [job_to_json...], "prune", "dry_run"}.
std::string apply_body(const std::vector<config::JobSpec>& jobs, bool prune,
                       bool dry_run);
// The apply answer as a plan (each list sorted by name, as JobDiff
// promises) and whether it was applied.
struct ApplyAnswer {
  bool applied = false;
  config::JobDiff diff;
};
Result<ApplyAnswer> apply_answer_from_json(std::string_view body);
// "applied: 1 added, 2 changed, 1 removed" or "applied: nothing changed".
std::string applied_summary(const config::JobDiff& diff);

// Arguments. invalid_argument (exit 2) saying what to write instead.
Status check_job_arg(std::string_view name);
Result<std::uint64_t> parse_run_id(std::string_view text);

// Paths, with names percent-encoded.
std::string job_path(std::string_view name);
std::string run_path(std::uint64_t run_id);
// "/v1/runs/ID/logs?offset=N" plus "&wait_ms=W" when wait_ms > 0.
std::string logs_path(std::uint64_t run_id, std::uint64_t offset,
                      std::uint64_t wait_ms);

// Where one answer of GET /v1/runs/{id}/logs sits in the run's output,
// from its NW-* headers.
struct LogChunk {
  std::uint64_t offset = 0;            // NW-Offset: stream offset of the body
  std::uint64_t next_offset = 0;       // NW-Next-Offset: what to ask for next
  std::optional<std::uint64_t> total;  // NW-Total-Bytes
  std::string state;                   // NW-Run-State
  bool complete = false;               // NW-Complete: true
};
// Missing NW-Offset means the offset asked for; missing NW-Next-Offset means
// offset + body size. invalid_argument when a header is not a number or
// NW-Next-Offset is before the end of the body.
Result<LogChunk> log_chunk_from_response(const http::Response& resp,
                                         std::uint64_t requested);

// The reading position in a run's output across answers: where to ask
// next, and how many bytes the agent elided (the middle of an output
// longer than the job's output_limit) before an answer.
class LogCursor {
 public:
  explicit LogCursor(std::uint64_t start = 0) : offset_(start) {}
  std::uint64_t offset() const { return offset_; }
  // Moves past `chunk` (never backwards) and returns the bytes skipped
  // between the offset asked for and the chunk's first byte.
  std::uint64_t advance(const LogChunk& chunk);

 private:
  std::uint64_t offset_;
};
// "[... 1048576 bytes elided ...]".
std::string elided_note(std::uint64_t bytes);

// How `nwctl job run --wait` ends for one run that has ended: its exit
// code (0..255) when it has one, else 1 with `note` saying the state and
// the reason ("run 1234 ended lost without an exit code: agent n2 stopped
// renewing"). `note` is also set for a non-zero exit code.
struct RunOutcome {
  int exit_code = 0;
  std::string note;  // "" when it succeeded
};
RunOutcome run_outcome(const JobRun& run);
// The first non-zero of the outcomes in order, else 0.
int first_failure(const std::vector<RunOutcome>& outcomes);

// The commands that follow a run's output (job_run.cc), registered by
// add_job_commands() (job.cc). Not pure: they talk to the agent.
struct JobRunFlags {
  std::string job;
  bool wait = false;
  std::string timeout;  // "" = no limit
};
struct JobLogsFlags {
  std::string run_id;
  bool follow = false;
};
int run_job_run(Context& ctx, const Globals& globals, const JobRunFlags& flags);
int run_job_logs(Context& ctx, const Globals& globals,
                 const JobLogsFlags& flags);

}  // namespace nw::ctl
