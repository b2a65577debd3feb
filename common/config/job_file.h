#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/config/job_spec.h"

// Job files: TOML text, a file or a folder of files -> validated JobSpecs,
// each with the place it was defined, for `nwctl job apply -f FILE|DIR`.
//
// A job file holds any number of `[job.NAME]` tables and nothing else
// (docs/jobs.md). Every problem is reported as
// "<file>:<line>: job.<name>.<key>: <detail>" with the earliest line first,
// so an editor can jump to it; unknown keys are errors with a did-you-mean.
// Stateless: every function may be called from any thread.
namespace nw::config {

// Where something was defined: "jobs/report.toml:7".
struct SourceLocation {
  std::string file;        // as given by the caller
  std::uint32_t line = 0;  // 1-based; 0 when unknown

  std::string to_string() const;
  bool operator==(const SourceLocation&) const = default;
};

// One job read from a file, with the line of its `[job.NAME]` table.
struct LoadedJob {
  JobSpec spec;
  SourceLocation where;
};

// Parses TOML text; `source_name` ("jobs/report.toml") appears in errors.
// Jobs come back in file order. Errors (invalid_argument, with a hint
// pointing at docs/jobs.md):
//   "jobs/a.toml:7: job.report.timeout: expected a duration such as 500ms,
//    10s, 1m30s or 2h, got \"15x\""
//   "jobs/a.toml:4: job.report.timeot: unknown key; did you mean timeout?"
//   "jobs/a.toml:3:10: TOML syntax error: <toml++ text>"
//   "jobs/a.toml:2: job.report: missing command (an argv array) or ..."
Result<std::vector<LoadedJob>> parse_job_toml(std::string_view text,
                                              std::string_view source_name);

// Reads and parses one file (any name). not_found if it does not exist,
// io_error if it cannot be read, and parse_job_toml's errors.
Result<std::vector<LoadedJob>> load_job_file(const std::string& path);

// Reads every `*.toml` file directly in `dir` (not in subfolders; names
// starting with '.' are skipped), in name order. A job defined in two files
// is invalid_argument "jobs/b.toml:1: job.x: defined twice, first at
// jobs/a.toml:3". not_found if `dir` does not exist or holds no *.toml file
// (an empty folder applied with --prune would delete every job).
Result<std::vector<LoadedJob>> load_job_dir(const std::string& dir);

// load_job_dir for a folder, load_job_file for anything else.
Result<std::vector<LoadedJob>> load_jobs(const std::string& path);

// The specs alone, in the same order.
std::vector<JobSpec> specs_of(const std::vector<LoadedJob>& jobs);

}  // namespace nw::config
