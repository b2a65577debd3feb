#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/metrics/registry.h"
#include "common/base/result.h"

namespace nw::metrics {

// The fields of /proc/<pid>/stat the process metrics need, in their raw
// units (clock ticks, pages, bytes).
struct ProcStat {
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::int64_t num_threads = 0;
  std::uint64_t starttime_ticks = 0;  // since boot
  std::uint64_t vsize_bytes = 0;
  std::int64_t rss_pages = 0;
};

// Parses /proc/<pid>/stat. The command name is in parentheses and may hold
// spaces and ')' itself, so fields are counted from the last ')'.
// corruption if the text does not have the expected fields.
Result<ProcStat> parse_proc_pid_stat(std::string_view text);
// The `btime` line of /proc/stat (boot time, Unix seconds).
// corruption if there is none.
Result<std::uint64_t> parse_boot_time(std::string_view proc_stat_text);

// The process metrics every Prometheus client library exports.
struct ProcessStats {
  double cpu_seconds = 0;         // process_cpu_seconds_total
  double resident_bytes = 0;      // process_resident_memory_bytes
  double virtual_bytes = 0;       // process_virtual_memory_bytes
  double open_fds = 0;            // process_open_fds
  double max_fds = 0;             // process_max_fds
  double start_time_seconds = 0;  // process_start_time_seconds
  double threads = 0;             // process_threads
};

// Reads this process's CPU time, memory, file descriptors, threads and
// start time from /proc at every scrape, under the standard names
// (process_cpu_seconds_total, process_resident_memory_bytes, ...).
//
// Lifecycle: constructed with a Registry, it adds its collector there and
// removes it when destroyed, so it must be destroyed before the Registry
// (declare it after). Not copyable or movable (the collector points at it).
// Threads: read() and collect() only read files and are safe from any
// thread. A /proc that cannot be read makes a scrape leave the process
// metrics out (logged at debug), not fail.
class ProcessCollector {
 public:
  // Reads without registering anywhere (tests). proc_root is "/proc"
  // except in tests; max_fds comes from getrlimit, not from proc_root.
  explicit ProcessCollector(std::string proc_root = "/proc");
  // Registers with `registry` until destroyed.
  explicit ProcessCollector(Registry& registry,
                            std::string proc_root = "/proc");
  ~ProcessCollector();
  ProcessCollector(const ProcessCollector&) = delete;
  ProcessCollector& operator=(const ProcessCollector&) = delete;

  // io_error if a /proc file cannot be read, corruption if it cannot be
  // parsed.
  Result<ProcessStats> read() const;
  // Appends the samples of read(); nothing if it fails.
  void collect(std::vector<Sample>& out) const;

 private:
  const std::string proc_root_;
  const double ticks_per_second_;
  const double page_size_;
  Registry* registry_ = nullptr;  // set when registered
  CollectorId id_ = 0;
};

}  // namespace nw::metrics
