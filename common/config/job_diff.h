#pragma once

#include <string>
#include <vector>

#include "common/config/job_spec.h"

// What `nwctl job apply` would do: the difference between the jobs the
// cluster has and the jobs in the files, per job and per key, and its text
// for `--dry-run`. Stateless: may be called from any thread.
namespace nw::config {

// One key whose value differs, spelled as in job_fields(): "timeout",
// "15m", "20m". A key present on one side only (an env variable, a label)
// has "(unset)" on the other.
struct FieldChange {
  std::string key;
  std::string old_value;
  std::string new_value;

  bool operator==(const FieldChange&) const = default;
};

// A job in both lists whose spec differs.
struct JobChange {
  std::string name;
  std::vector<FieldChange> fields;  // in job_fields() order

  bool operator==(const JobChange&) const = default;
};

// Every list is sorted by name.
struct JobDiff {
  std::vector<std::string> added;      // only in wanted
  std::vector<JobChange> changed;      // in both, different
  std::vector<std::string> removed;    // only in current, with prune
  std::vector<std::string> kept;       // only in current, without prune
  std::vector<std::string> unchanged;  // in both, equal

  // True when applying would change nothing.
  bool empty() const {
    return added.empty() && changed.empty() && removed.empty();
  }
};

// Compares by job name. REQUIRES: names are unique within each list (as
// load_job_dir() and the controller guarantee).
JobDiff diff_jobs(const std::vector<JobSpec>& current,
                  const std::vector<JobSpec>& wanted, bool prune);

// The --dry-run text, one line per job and per changed key, then a summary:
//   + job backup-db
//   ~ job nightly-report
//       timeout: 15m -> 20m
//   - job old-probe
//   plan: 1 to add, 1 to change, 1 to remove, 4 unchanged
// Jobs kept only because --prune was not given are named in the summary
// ("2 not in the files, kept (--prune removes them)").
std::string render_diff(const JobDiff& diff);

}  // namespace nw::config
