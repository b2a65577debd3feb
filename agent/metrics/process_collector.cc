#include "agent/metrics/process_collector.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/base/log.h"
#include "common/base/strings.h"

namespace nw::metrics {
namespace {

constexpr std::string_view kDomain = "metrics";

Error corrupt(std::string_view what) {
  return Error(Code::corruption,
               "process metrics: cannot parse " + std::string(what), {},
               kDomain);
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(
        Code::io_error,
        "process metrics: cannot read " + path + ": " + std::strerror(errno),
        {}, kDomain);
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

Result<double> count_fds(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return Error(
        Code::io_error,
        "process metrics: cannot list " + dir + ": " + std::strerror(errno), {},
        kDomain);
  }
  double n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      ++n;
    }
  }
  ::closedir(d);
  // In /proc/self/fd the count includes the descriptor opendir() holds, as
  // in the Go client.
  return n;
}

}  // namespace

Result<ProcStat> parse_proc_pid_stat(std::string_view text) {
  std::size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) return corrupt("/proc/self/stat");
  // Fields after the command name, starting with field 3 (state).
  std::vector<std::string> f =
      split(trim(text.substr(paren + 1)), ' ', /*skip_empty=*/true);
  // Field n of proc(5) is f[n - 3]; rss (field 24) is the last one needed.
  if (f.size() < 22) return corrupt("/proc/self/stat: too few fields");
  ProcStat s;
  bool ok = parse_number(f[14 - 3], s.utime_ticks) &&
            parse_number(f[15 - 3], s.stime_ticks) &&
            parse_number(f[20 - 3], s.num_threads) &&
            parse_number(f[22 - 3], s.starttime_ticks) &&
            parse_number(f[23 - 3], s.vsize_bytes) &&
            parse_number(f[24 - 3], s.rss_pages);
  if (!ok) return corrupt("/proc/self/stat: a field is not a number");
  return s;
}

Result<std::uint64_t> parse_boot_time(std::string_view proc_stat_text) {
  for (const std::string& line : split(proc_stat_text, '\n')) {
    if (!starts_with(line, "btime ")) continue;
    std::uint64_t v = 0;
    if (!parse_number(trim(std::string_view(line).substr(6)), v)) break;
    return v;
  }
  return corrupt("/proc/stat: no btime line");
}

ProcessCollector::ProcessCollector(std::string proc_root)
    : proc_root_(std::move(proc_root)),
      ticks_per_second_(static_cast<double>(::sysconf(_SC_CLK_TCK))),
      page_size_(static_cast<double>(::sysconf(_SC_PAGESIZE))) {}

ProcessCollector::ProcessCollector(Registry& registry, std::string proc_root)
    : ProcessCollector(std::move(proc_root)) {
  registry_ = &registry;
  id_ = registry.add_collector(
      [this](std::vector<Sample>& out) { collect(out); });
}

ProcessCollector::~ProcessCollector() {
  if (registry_ != nullptr) registry_->remove_collector(id_);
}

Result<ProcessStats> ProcessCollector::read() const {
  NW_ASSIGN_OR_RETURN(std::string stat_text,
                      read_file(proc_root_ + "/self/stat"));
  NW_ASSIGN_OR_RETURN(ProcStat stat, parse_proc_pid_stat(stat_text));
  NW_ASSIGN_OR_RETURN(std::string system_stat, read_file(proc_root_ + "/stat"));
  NW_ASSIGN_OR_RETURN(std::uint64_t boot_time, parse_boot_time(system_stat));
  NW_ASSIGN_OR_RETURN(double open_fds, count_fds(proc_root_ + "/self/fd"));

  ProcessStats out;
  out.cpu_seconds = static_cast<double>(stat.utime_ticks + stat.stime_ticks) /
                    ticks_per_second_;
  out.resident_bytes = static_cast<double>(stat.rss_pages) * page_size_;
  out.virtual_bytes = static_cast<double>(stat.vsize_bytes);
  out.open_fds = open_fds;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    out.max_fds = static_cast<double>(lim.rlim_cur);
  }
  out.start_time_seconds =
      static_cast<double>(boot_time) +
      static_cast<double>(stat.starttime_ticks) / ticks_per_second_;
  out.threads = static_cast<double>(stat.num_threads);
  return out;
}

void ProcessCollector::collect(std::vector<Sample>& out) const {
  Result<ProcessStats> r = read();
  if (!r.ok()) {
    log::Logger("metrics").debug("process metrics left out",
                                 {{"error", r.error().to_string()}});
    return;
  }
  const ProcessStats& s = *r;
  auto add = [&](const char* name, const char* help, MetricType type,
                 double v) {
    out.push_back(Sample{name, help, type, {}, v});
  };
  add("process_cpu_seconds_total",
      "Total user and system CPU time spent in seconds.", MetricType::counter,
      s.cpu_seconds);
  add("process_resident_memory_bytes", "Resident memory size in bytes.",
      MetricType::gauge, s.resident_bytes);
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.",
      MetricType::gauge, s.virtual_bytes);
  add("process_open_fds", "Number of open file descriptors.", MetricType::gauge,
      s.open_fds);
  add("process_max_fds", "Maximum number of open file descriptors.",
      MetricType::gauge, s.max_fds);
  add("process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.",
      MetricType::gauge, s.start_time_seconds);
  add("process_threads", "Number of OS threads in the process.",
      MetricType::gauge, s.threads);
}

}  // namespace nw::metrics
