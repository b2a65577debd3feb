#include "common/config/job_spec.h"

#include <cmath>

#include "common/base/strings.h"
#include "common/config/key_table.h"

namespace nw::config {
namespace {

using std::chrono::days;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kDomain = "config";

// A broken rule: the key relative to the job and what is wrong with it.
struct Broken {
  std::string key;
  std::string detail;
};

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool env_name_ok(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && (i == 0 || c < '0' || c > '9')) return false;
  }
  return true;
}

// A string a process can be given: no NUL, not absurdly long.
std::optional<std::string> bad_string(std::string_view s) {
  if (s.find('\0') != std::string_view::npos) {
    return "must not contain a NUL character";
  }
  if (s.size() > kMaxJobStringBytes) {
    return "longer than " + std::to_string(kMaxJobStringBytes) + " bytes";
  }
  return std::nullopt;
}

// IANA zone names: "UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires",
// "Etc/GMT+5". Only the spelling is checked: whether the zone exists is up
// to the tz database of the agent that evaluates the schedule.
bool timezone_ok(std::string_view tz) {
  if (tz.empty() || tz.size() > 64 || tz.front() == '/' || tz.back() == '/') {
    return false;
  }
  if (tz.find("..") != std::string_view::npos ||
      tz.find("//") != std::string_view::npos) {
    return false;
  }
  for (char c : tz) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-' ||
              c == '+' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string range(std::string_view what, Duration lo, Duration hi,
                  Duration got) {
  return "expected " + std::string(what) + " from " + format_duration(lo) +
         " to " + format_duration(hi) + ", got " + format_duration(got);
}

std::string int_range(std::int64_t lo, std::int64_t hi, std::int64_t got) {
  return "expected an integer from " + std::to_string(lo) + " to " +
         std::to_string(hi) + ", got " + std::to_string(got);
}

std::optional<Broken> check_strings_map(
    std::string_view key, const std::map<std::string, std::string>& m,
    size_t max_entries) {
  if (m.size() > max_entries) {
    return Broken{std::string(key),
                  "expected at most " + std::to_string(max_entries) +
                      " entries, got " + std::to_string(m.size())};
  }
  for (const auto& [k, v] : m) {
    std::string path = std::string(key) + "." + k;
    if (auto bad = bad_string(k)) return Broken{path, "name " + *bad};
    if (auto bad = bad_string(v)) return Broken{path, *bad};
  }
  return std::nullopt;
}

std::optional<Broken> check_command(const JobSpec& job) {
  bool has_command = !job.command.empty();
  bool has_shell = !job.shell.empty();
  if (has_command == has_shell) {
    return Broken{"", has_command
                          ? "set either command or shell, not both"
                          : "missing command (an argv array) or shell (a "
                            "script run by /bin/sh -c)"};
  }
  if (has_command) {
    if (job.command.size() > kMaxCommandItems) {
      return Broken{"command",
                    "expected at most " + std::to_string(kMaxCommandItems) +
                        " items, got " + std::to_string(job.command.size())};
    }
    if (job.command.front().empty()) {
      return Broken{"command", "the program (first item) is empty"};
    }
    for (size_t i = 0; i < job.command.size(); ++i) {
      if (auto bad = bad_string(job.command[i])) {
        return Broken{"command", "item " + std::to_string(i) + " " + *bad};
      }
    }
  } else if (auto bad = bad_string(job.shell)) {
    return Broken{"shell", *bad};
  }
  return std::nullopt;
}

std::optional<Broken> check_env(const JobSpec& job) {
  if (auto b = check_strings_map("env", job.env, kMaxEnvVars)) return b;
  for (const auto& [k, v] : job.env) {
    if (!env_name_ok(k)) {
      return Broken{"env." + k,
                    "expected a variable name of A-Z a-z 0-9 _, not starting "
                    "with a digit, got " +
                        detail::quoted(k)};
    }
    if (starts_with(k, "NW_")) {
      return Broken{"env." + k,
                    "names starting with NW_ are reserved for the variables "
                    "the agent sets (NW_JOB, NW_RUN_ID, NW_SHARD_INDEX, ...)"};
    }
  }
  return std::nullopt;
}

std::optional<Broken> check_retries(const RetryPolicy& r) {
  if (r.max < 0 || r.max > 100) {
    return Broken{"retries.max", int_range(0, 100, r.max)};
  }
  if (r.backoff < milliseconds(100) || r.backoff > days(1)) {
    return Broken{"retries.backoff",
                  range("a duration", milliseconds(100), days(1), r.backoff)};
  }
  if (r.max_backoff < r.backoff || r.max_backoff > days(7)) {
    return Broken{"retries.max_backoff",
                  range("a duration", r.backoff, days(7), r.max_backoff) +
                      " (it must be at least retries.backoff)"};
  }
  if (!(r.jitter >= 0.0 && r.jitter <= 1.0)) {
    return Broken{"retries.jitter", "expected a number from 0 to 1, got " +
                                        format_double(r.jitter)};
  }
  return std::nullopt;
}

std::optional<Broken> check_placement(const Placement& p) {
  if (p.count < 1 || p.count > 1000) {
    return Broken{"placement.count", int_range(1, 1000, p.count)};
  }
  if (p.all && p.count != 1) {
    return Broken{"placement.count",
                  "placement \"all\" runs once on every agent; count must be "
                  "1, got " +
                      std::to_string(p.count)};
  }
  if (auto b = check_strings_map("placement.labels", p.labels, kMaxLabels)) {
    return b;
  }
  for (const auto& [k, v] : p.labels) {
    if (k.empty()) return Broken{"placement.labels", "a label name is empty"};
  }
  return std::nullopt;
}

std::optional<Broken> first_broken(const JobSpec& job) {
  if (Status s = check_job_name(job.name); !s.ok()) {
    return Broken{"", s.error().message};
  }
  if (auto b = check_command(job)) return b;
  if (auto b = check_env(job)) return b;
  if (job.workdir.empty() || job.workdir.front() != '/') {
    return Broken{"workdir", "expected an absolute path, got " +
                                 detail::quoted(job.workdir)};
  }
  if (auto bad = bad_string(job.workdir)) return Broken{"workdir", *bad};
  if (trim(job.schedule).empty()) {
    return Broken{"schedule",
                  "missing or empty: give a cron expression (\"0 30 2 * * *\" "
                  "or \"30 2 * * *\"), \"@every 10s\", \"@hourly\" or "
                  "\"@daily\""};
  }
  if (job.schedule.size() > 256) {
    return Broken{"schedule", "longer than 256 characters"};
  }
  if (auto bad = bad_string(job.schedule)) return Broken{"schedule", *bad};
  if (!timezone_ok(job.timezone)) {
    return Broken{"timezone",
                  "expected an IANA time zone name such as \"UTC\" or "
                  "\"Europe/Berlin\", got " +
                      detail::quoted(job.timezone)};
  }
  if (job.starting_deadline < seconds(1) || job.starting_deadline > days(7)) {
    return Broken{"starting_deadline", range("a duration", seconds(1), days(7),
                                             job.starting_deadline)};
  }
  if (job.timeout != Duration(0) &&
      (job.timeout < seconds(1) || job.timeout > days(30))) {
    return Broken{"timeout", range("0 (no limit) or a duration", seconds(1),
                                   days(30), job.timeout)};
  }
  if (auto b = check_retries(job.retries)) return b;
  if (job.priority < 0 || job.priority > 9) {
    return Broken{"priority", int_range(0, 9, job.priority)};
  }
  if (auto b = check_placement(job.placement)) return b;
  if (job.output_limit < kMinOutputLimit ||
      job.output_limit > kMaxOutputLimit) {
    return Broken{"output_limit", "expected a size from " +
                                      format_size(kMinOutputLimit) + " to " +
                                      format_size(kMaxOutputLimit) + ", got " +
                                      format_size(job.output_limit)};
  }
  return std::nullopt;
}

std::string list_text(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += detail::quoted(items[i]);
  }
  return out + "]";
}

}  // namespace

std::string_view to_string(JobKind kind) {
  switch (kind) {
    case JobKind::shell:
      return "shell";
  }
  return "?";
}

std::string_view to_string(ConcurrencyPolicy policy) {
  switch (policy) {
    case ConcurrencyPolicy::allow:
      return "allow";
    case ConcurrencyPolicy::forbid:
      return "forbid";
    case ConcurrencyPolicy::replace:
      return "replace";
  }
  return "?";
}

std::string_view to_string(MissedPolicy policy) {
  switch (policy) {
    case MissedPolicy::skip:
      return "skip";
    case MissedPolicy::run_once:
      return "run-once";
    case MissedPolicy::run_all:
      return "run-all";
  }
  return "?";
}

std::optional<JobKind> job_kind_from_string(std::string_view text) {
  if (text == "shell") return JobKind::shell;
  return std::nullopt;
}

std::optional<ConcurrencyPolicy> concurrency_from_string(
    std::string_view text) {
  for (auto p : {ConcurrencyPolicy::allow, ConcurrencyPolicy::forbid,
                 ConcurrencyPolicy::replace}) {
    if (text == to_string(p)) return p;
  }
  return std::nullopt;
}

std::optional<MissedPolicy> missed_from_string(std::string_view text) {
  for (auto p :
       {MissedPolicy::skip, MissedPolicy::run_once, MissedPolicy::run_all}) {
    if (text == to_string(p)) return p;
  }
  return std::nullopt;
}

std::string job_key_name(std::string_view name) {
  // Only for messages: an over-long (invalid) name is cut short.
  std::string shown(name.substr(0, kMaxJobNameLength));
  if (name.size() > kMaxJobNameLength) shown += "...";
  bool bare = !name.empty() && name.size() <= kMaxJobNameLength;
  for (char c : name) bare = bare && name_char(c) && c != '.';
  return bare ? shown : detail::quoted(shown);
}

Status check_job_name(std::string_view name) {
  bool good = !name.empty() && name.size() <= kMaxJobNameLength &&
              name != "." && name != ".." && name != "apply" &&
              name != "missed";
  for (char c : name) good = good && name_char(c);
  if (good) return ok_status();
  std::string shown(name.substr(0, 210));
  // "apply" and "missed" are routes under /v1/jobs/.
  return Error(Code::invalid_argument,
               "expected a job name of 1-200 characters of A-Z a-z 0-9 . _ - "
               "(not \".\", \"..\", \"apply\" or \"missed\"), got " +
                   detail::quoted(shown),
               {}, kDomain);
}

Status validate(const JobSpec& job, std::string* bad_key) {
  std::optional<Broken> b = first_broken(job);
  if (bad_key != nullptr) *bad_key = b ? b->key : "";
  if (!b) return ok_status();
  std::string path = "job." + job_key_name(job.name);
  if (!b->key.empty()) path += "." + b->key;
  return Error(Code::invalid_argument, path + ": " + b->detail,
               "see docs/jobs.md for every key and its allowed values",
               kDomain);
}

std::vector<std::pair<std::string, std::string>> job_fields(
    const JobSpec& job) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&out](std::string key, std::string value) {
    out.emplace_back(std::move(key), std::move(value));
  };
  add("kind", detail::quoted(to_string(job.kind)));
  add("command", list_text(job.command));
  add("shell", detail::quoted(job.shell));
  for (const auto& [k, v] : job.env) add("env." + k, detail::quoted(v));
  add("workdir", detail::quoted(job.workdir));
  add("schedule", detail::quoted(job.schedule));
  add("timezone", detail::quoted(job.timezone));
  add("concurrency", detail::quoted(to_string(job.concurrency)));
  add("missed", detail::quoted(to_string(job.missed)));
  add("starting_deadline", format_duration(job.starting_deadline));
  add("timeout", format_duration(job.timeout));
  add("retries.max", std::to_string(job.retries.max));
  add("retries.backoff", format_duration(job.retries.backoff));
  add("retries.max_backoff", format_duration(job.retries.max_backoff));
  add("retries.jitter", format_double(job.retries.jitter));
  add("priority", std::to_string(job.priority));
  add("placement.all", job.placement.all ? "true" : "false");
  for (const auto& [k, v] : job.placement.labels) {
    add("placement.labels." + k, detail::quoted(v));
  }
  add("placement.count", std::to_string(job.placement.count));
  add("output_limit", format_size(job.output_limit));
  add("enabled", job.enabled ? "true" : "false");
  return out;
}

}  // namespace nw::config
