#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/result.h"
#include "common/base/units.h"

// A job definition as users write it in TOML (`[job.NAME]`, docs/jobs.md)
// and as the API and the controller carry it: JobSpec, its defaults and the
// rules a valid one follows. Shared by nwctl (which validates before sending)
// and the agent (which validates again on receipt, never trusting the
// client). Stateless: every function here may be called from any thread.
namespace nw::config {

// What a job runs. Only `shell` exists so far; sync, migrate, backup and
// http follow (DESIGN.md, Jobs), each with its own keys.
enum class JobKind { shell };

// What happens when a slot comes while the previous run is still going.
enum class ConcurrencyPolicy {
  allow,    // start another run next to it
  forbid,   // skip the new slot (recorded as skipped)
  replace,  // stop the running one, then start the new one
};

// What happens to slots missed by more than starting_deadline.
enum class MissedPolicy {
  skip,      // none of them runs
  run_once,  // one run for the most recent of them
  run_all,   // one run per missed slot, oldest first
};

// Retries of a failed run (non-zero exit, killed by the timeout, or lost
// with its agent). Attempt n+1 waits min(backoff * 2^(n-1), max_backoff),
// scaled by a random factor in [1 - jitter, 1 + jitter].
struct RetryPolicy {
  int max = 0;                                     // 0..100
  Duration backoff = std::chrono::seconds(10);     // 100ms..1d
  Duration max_backoff = std::chrono::minutes(5);  // backoff..7d
  double jitter = 0.2;                             // 0..1

  bool operator==(const RetryPolicy&) const = default;
};

// Where a job runs: on `count` distinct agents carrying every label in
// `labels` (count > 1 shards the job: each run gets NW_SHARD_INDEX and
// NW_SHARD_COUNT), or, with `all`, on every agent (labels still filter).
struct Placement {
  bool all = false;
  std::map<std::string, std::string> labels;  // at most 64
  int count = 1;                              // 1..1000; 1 when all

  bool operator==(const Placement&) const = default;
};

// One job. The defaults below are the documented defaults of docs/jobs.md:
// a key left out of the TOML file or the JSON body has exactly this value.
struct JobSpec {
  std::string name;  // 1-200 of [A-Za-z0-9._-]; not ".", "..", "apply",
                     // "missed" (routes under /v1/jobs/)
  JobKind kind = JobKind::shell;
  // Exactly one of command (argv, run without a shell) and shell (run by
  // /bin/sh -c) is set.
  std::vector<std::string> command;  // at most 1000 items, [0] not empty
  std::string shell;
  std::map<std::string, std::string> env;  // at most 1000; no NW_ prefix
  std::string workdir = "/";               // absolute
  // Cron with seconds, 5-field cron, "@every 10s", "@hourly", ...; only
  // checked to be non-empty here, the schedule engine parses it.
  std::string schedule;
  std::string timezone = "UTC";  // IANA name, e.g. "Europe/Berlin"
  ConcurrencyPolicy concurrency = ConcurrencyPolicy::forbid;
  MissedPolicy missed = MissedPolicy::skip;
  // How late a slot may still start; later than this it is missed.
  Duration starting_deadline = std::chrono::minutes(5);  // 1s..7d
  Duration timeout{0};  // 0: no limit; else 1s..30d
  RetryPolicy retries;
  int priority = 0;  // 0..9, higher first when agents are saturated
  Placement placement;
  // Output kept per run: head and tail, half the limit each.
  std::uint64_t output_limit = 1ULL << 20;  // 1KiB..64MiB
  bool enabled = true;

  bool operator==(const JobSpec&) const = default;
};

// Limits of the rules above, for messages, docs and tests.
inline constexpr size_t kMaxJobNameLength = 200;
inline constexpr size_t kMaxCommandItems = 1000;
inline constexpr size_t kMaxEnvVars = 1000;
inline constexpr size_t kMaxLabels = 64;
// Longest single string (an argument, the shell script, a value).
inline constexpr size_t kMaxJobStringBytes = 64 * 1024;
inline constexpr std::uint64_t kMinOutputLimit = 1ULL << 10;
inline constexpr std::uint64_t kMaxOutputLimit = 64ULL << 20;

// Spellings as in TOML and JSON: "shell"; "allow", "forbid", "replace";
// "skip", "run-once", "run-all".
std::string_view to_string(JobKind kind);
std::string_view to_string(ConcurrencyPolicy policy);
std::string_view to_string(MissedPolicy policy);
// Inverses; nullopt for anything else (callers say what is allowed).
std::optional<JobKind> job_kind_from_string(std::string_view text);
std::optional<ConcurrencyPolicy> concurrency_from_string(std::string_view text);
std::optional<MissedPolicy> missed_from_string(std::string_view text);

// The name as it appears in key paths of messages: as is when it is a TOML
// bare key, else in double quotes as TOML needs it (`job."a.b".timeout`);
// names over 200 characters are cut short with "...".
std::string job_key_name(std::string_view name);

// Checks a job name. invalid_argument with the detail only:
// "expected a job name of 1-200 characters of A-Z a-z 0-9 . _ - (not \".\",
// \"..\", \"apply\" or \"missed\"), got \"a b\"".
Status check_job_name(std::string_view name);

// Checks every rule on a whole job, in the order of docs/jobs.md, and
// returns the first broken one as invalid_argument
// "job.<name>.<key>: <detail>", e.g.
// "job.report.priority: expected an integer from 0 to 9, got 12".
// When `bad_key` is given it receives <key> relative to the job ("timeout",
// "retries.max_backoff", "env.PATH"), or "" for the job as a whole (name,
// command and shell both or neither set), so a caller with source locations
// can name the line.
Status validate(const JobSpec& job, std::string* bad_key = nullptr);

// The job as (key, value) pairs in docs order, every key present, maps
// flattened ("env.REPORT_DIR"), values spelled as in TOML: strings quoted,
// durations "15m", sizes "1MiB", lists ["a", "b"]. Used by the diff and by
// `nwctl job get`'s table output.
std::vector<std::pair<std::string, std::string>> job_fields(const JobSpec& job);

}  // namespace nw::config
