// The toml++ adapter for job files (the agent's own file is read by
// toml_parse.cc). toml++ throws toml::parse_error; it is caught here and
// turned into an Error, so no exception leaves this module.

#include "common/config/job_file.h"

#include <toml++/toml.h>

#include <algorithm>
#include <climits>
#include <map>
#include <optional>
#include "common/config/toml_util.h"

#include "common/base/strings.h"
#include "common/config/key_table.h"

namespace nw::config {
namespace {

constexpr std::string_view kDomain = "config";
constexpr std::string_view kHint =
    "see docs/jobs.md for every key and examples/jobs/ for whole files";

// One problem in a file; the one on the earliest line is reported, since
// toml++ tables iterate in key order, not in file order.
struct Problem {
  std::uint32_t line = 0;
  std::string message;  // "job.x.key: detail"
};

const std::vector<std::string>& job_keys() {
  static const auto* keys = new std::vector<std::string>{
      "kind",     "command",           "shell",        "env",
      "workdir",  "schedule",          "timezone",     "concurrency",
      "missed",   "starting_deadline", "timeout",      "retries",
      "priority", "placement",         "output_limit", "enabled"};
  return *keys;
}
const std::vector<std::string>& retry_keys() {
  static const auto* keys =
      new std::vector<std::string>{"max", "backoff", "max_backoff", "jitter"};
  return *keys;
}
const std::vector<std::string>& placement_keys() {
  static const auto* keys = new std::vector<std::string>{"labels", "count"};
  return *keys;
}

std::uint32_t line_of(const toml::key& key, const toml::node& node) {
  if (node.source().begin.line != 0) return node.source().begin.line;
  return key.source().begin.line;
}

// Reads one job table into a JobSpec, recording problems and the line of
// every key (relative to the job: "timeout", "env.PATH") for validate().
class JobReader {
 public:
  JobReader(std::string name, std::uint32_t table_line,
            std::vector<Problem>& problems)
      : prefix_("job." + job_key_name(name)),
        table_line_(table_line),
        problems_(problems) {
    spec_.name = std::move(name);
  }

  // Returns the spec if the table was read and validated without problems.
  std::optional<JobSpec> read(const toml::table& table) {
    for (const auto& [k, node] : table) {
      std::string key(k.str());
      std::uint32_t line = line_of(k, node);
      lines_[key] = line;
      read_key(key, line, node);
    }
    if (problems_.size() != problems_before_) return std::nullopt;
    std::string bad_key;
    Status s = validate(spec_, &bad_key);
    if (!s.ok()) {
      problems_.push_back({line_for(bad_key), s.error().message});
      return std::nullopt;
    }
    return spec_;
  }

 private:
  void problem(std::uint32_t line, std::string_view key,
               std::string_view detail) {
    problems_.push_back(
        {line, prefix_ + "." + std::string(key) + ": " + std::string(detail)});
  }
  void expected(std::uint32_t line, std::string_view key, std::string_view what,
                const toml::node& node) {
    problem(line, key,
            "expected " + std::string(what) + ", got " + describe_toml(node));
  }

  // The line of `key`, or of the nearest enclosing key that the file
  // names, or of the job's table.
  std::uint32_t line_for(std::string key) const {
    while (!key.empty()) {
      auto it = lines_.find(key);
      if (it != lines_.end()) return it->second;
      size_t dot = key.rfind('.');
      key = dot == std::string::npos ? "" : key.substr(0, dot);
    }
    return table_line_;
  }

  void unknown(std::uint32_t line, const std::string& key,
               std::string_view table, const std::vector<std::string>& known) {
    std::string leaf = key.substr(key.rfind('.') + 1);
    std::string message = "unknown key";
    std::string near = detail::closest(leaf, known);
    // A key of a sub-table put at the job's level: `max = 3`.
    if (near.empty() && table.empty()) {
      for (const auto& k : retry_keys()) {
        if (k == leaf) near = "retries." + k;
      }
      for (const auto& k : placement_keys()) {
        if (k == leaf) near = "placement." + k;
      }
    }
    if (!near.empty()) {
      message += "; did you mean " + near + "?";
    } else {
      message += " (known keys" +
                 (table.empty() ? std::string() : " of " + std::string(table)) +
                 ": " + join(known, ", ") + ")";
    }
    problem(line, key, message);
  }

  std::optional<std::string> string_of(std::uint32_t line, std::string_view key,
                                       const toml::node& node) {
    if (!node.is_string()) {
      expected(line, key, "a string", node);
      return std::nullopt;
    }
    return std::string(node.as_string()->get());
  }

  void duration(std::uint32_t line, std::string_view key,
                const toml::node& node, Duration& out) {
    if (!node.is_string()) {
      return expected(line, key, "a duration string such as \"15m\"", node);
    }
    Result<Duration> d = parse_duration(node.as_string()->get());
    if (!d.ok()) return problem(line, key, d.error().message);
    out = *d;
  }

  void integer(std::uint32_t line, std::string_view key, const toml::node& node,
               int lo, int hi, int& out) {
    if (!node.is_integer()) {
      return expected(line, key, "an integer", node);
    }
    std::int64_t v = node.as_integer()->get();
    if (v < lo || v > hi) {
      return problem(line, key,
                     "expected an integer from " + std::to_string(lo) + " to " +
                         std::to_string(hi) + ", got " + std::to_string(v));
    }
    out = static_cast<int>(v);
  }

  // A table of string values (env, placement.labels).
  void string_map(std::uint32_t line, const std::string& key,
                  const toml::node& node,
                  std::map<std::string, std::string>& out) {
    if (!node.is_table()) return expected(line, key, "a table", node);
    out.clear();
    for (const auto& [k, v] : *node.as_table()) {
      std::string path = key + "." + std::string(k.str());
      std::uint32_t item_line = line_of(k, v);
      lines_[path] = item_line;
      if (auto s = string_of(item_line, path, v)) {
        out[std::string(k.str())] = *s;
      }
    }
  }

  template <class Enum>
  void enumeration(std::uint32_t line, std::string_view key,
                   const toml::node& node,
                   std::optional<Enum> (*from)(std::string_view),
                   std::string_view allowed, Enum& out) {
    auto text = string_of(line, key, node);
    if (!text) return;
    std::optional<Enum> v = from(*text);
    if (!v) {
      return problem(line, key,
                     "expected one of " + std::string(allowed) + ", got " +
                         detail::quoted(*text));
    }
    out = *v;
  }

  void read_retries(std::uint32_t line, const toml::node& node) {
    if (!node.is_table()) {
      return expected(line, "retries",
                      "a table such as { max = 3, backoff = \"10s\" }", node);
    }
    RetryPolicy& r = spec_.retries;
    for (const auto& [k, v] : *node.as_table()) {
      std::string key = "retries." + std::string(k.str());
      std::uint32_t l = line_of(k, v);
      lines_[key] = l;
      if (key == "retries.max") {
        integer(l, key, v, 0, 100, r.max);
      } else if (key == "retries.backoff") {
        duration(l, key, v, r.backoff);
      } else if (key == "retries.max_backoff") {
        duration(l, key, v, r.max_backoff);
      } else if (key == "retries.jitter") {
        if (v.is_floating_point()) {
          r.jitter = v.as_floating_point()->get();
        } else if (v.is_integer()) {
          r.jitter = static_cast<double>(v.as_integer()->get());
        } else {
          expected(l, key, "a number from 0 to 1", v);
        }
      } else {
        unknown(l, key, "retries", retry_keys());
      }
    }
  }

  void read_placement(std::uint32_t line, const toml::node& node) {
    Placement& p = spec_.placement;
    if (node.is_string()) {
      if (node.as_string()->get() != "all") {
        problem(line, "placement",
                "expected \"all\" or a table such as { labels = { role = "
                "\"db\" }, count = 1 }, got " +
                    describe_toml(node));
      }
      p.all = true;
      return;
    }
    if (!node.is_table()) {
      return expected(line, "placement",
                      "\"all\" or a table such as { labels = { role = "
                      "\"db\" }, count = 1 }",
                      node);
    }
    for (const auto& [k, v] : *node.as_table()) {
      std::string key = "placement." + std::string(k.str());
      std::uint32_t l = line_of(k, v);
      lines_[key] = l;
      if (key == "placement.labels") {
        string_map(l, key, v, p.labels);
      } else if (key == "placement.count") {
        integer(l, key, v, 1, 1000, p.count);
      } else {
        unknown(l, key, "placement", placement_keys());
      }
    }
  }

  void read_key(const std::string& key, std::uint32_t line,
                const toml::node& node) {
    JobSpec& j = spec_;
    if (key == "kind") {
      enumeration(line, key, node, &job_kind_from_string,
                  "\"shell\" (sync, migrate, backup and http are planned)",
                  j.kind);
    } else if (key == "command") {
      const toml::array* a = node.as_array();
      bool ok = a != nullptr && !a->empty();
      for (size_t i = 0; ok && i < a->size(); ++i) ok = (*a)[i].is_string();
      if (!ok) {
        return expected(line, key, "a non-empty array of strings", node);
      }
      j.command.clear();
      for (const toml::node& item : *a) {
        j.command.emplace_back(item.as_string()->get());
      }
    } else if (key == "shell") {
      if (auto s = string_of(line, key, node)) {
        if (s->empty()) return problem(line, key, "the script is empty");
        j.shell = *s;
      }
    } else if (key == "env") {
      string_map(line, key, node, j.env);
    } else if (key == "workdir") {
      if (auto s = string_of(line, key, node)) j.workdir = *s;
    } else if (key == "schedule") {
      if (auto s = string_of(line, key, node)) j.schedule = *s;
    } else if (key == "timezone") {
      if (auto s = string_of(line, key, node)) j.timezone = *s;
    } else if (key == "concurrency") {
      enumeration(line, key, node, &concurrency_from_string,
                  "\"allow\", \"forbid\", \"replace\"", j.concurrency);
    } else if (key == "missed") {
      enumeration(line, key, node, &missed_from_string,
                  "\"skip\", \"run-once\", \"run-all\"", j.missed);
    } else if (key == "starting_deadline") {
      duration(line, key, node, j.starting_deadline);
    } else if (key == "timeout") {
      duration(line, key, node, j.timeout);
    } else if (key == "retries") {
      read_retries(line, node);
    } else if (key == "priority") {
      integer(line, key, node, 0, 9, j.priority);
    } else if (key == "placement") {
      read_placement(line, node);
    } else if (key == "output_limit") {
      if (node.is_integer()) {
        std::int64_t v = node.as_integer()->get();
        if (v < 0) return expected(line, key, "a size such as \"1MiB\"", node);
        j.output_limit = static_cast<std::uint64_t>(v);
      } else if (node.is_string()) {
        Result<std::uint64_t> size = parse_size(node.as_string()->get());
        if (!size.ok()) return problem(line, key, size.error().message);
        j.output_limit = *size;
      } else {
        expected(line, key, "a size such as \"1MiB\"", node);
      }
    } else if (key == "enabled") {
      if (!node.is_boolean()) return expected(line, key, "true or false", node);
      j.enabled = node.as_boolean()->get();
    } else {
      unknown(line, key, "", job_keys());
    }
  }

  JobSpec spec_;
  std::string prefix_;  // "job.<name>"
  std::uint32_t table_line_;
  std::vector<Problem>& problems_;
  size_t problems_before_ = problems_.size();
  std::map<std::string, std::uint32_t> lines_;
};

Result<toml::table> parse_document(std::string_view text,
                                   std::string_view source_name) {
  try {
    return toml::parse(text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return Error(Code::invalid_argument,
                 std::string(source_name) + ":" + std::to_string(at.line) +
                     ":" + std::to_string(at.column) +
                     ": TOML syntax error: " + std::string(e.description()),
                 std::string(kHint), kDomain);
  } catch (const std::exception& e) {
    return Error(Code::invalid_argument,
                 std::string(source_name) + ": TOML error: " + e.what(),
                 std::string(kHint), kDomain);
  }
}

}  // namespace

Result<std::vector<LoadedJob>> parse_job_toml(std::string_view text,
                                              std::string_view source_name) {
  NW_ASSIGN_OR_RETURN(toml::table doc, parse_document(text, source_name));
  std::vector<Problem> problems;
  std::vector<LoadedJob> jobs;
  for (const auto& [key, node] : doc) {
    std::string name(key.str());
    std::uint32_t line = line_of(key, node);
    if (name != "job") {
      std::string near = detail::closest(name, {"job"});
      problems.push_back(
          {line, name + ": unknown " +
                     std::string(node.is_table() ? "table" : "key") +
                     (near.empty() ? "; a job file holds only [job.NAME] "
                                     "tables"
                                   : "; did you mean job?")});
      continue;
    }
    if (!node.is_table()) {
      problems.push_back({line, "job: expected [job.NAME] tables, got " +
                                    describe_toml(node)});
      continue;
    }
    for (const auto& [job_key, job_node] : *node.as_table()) {
      std::string job_name(job_key.str());
      std::uint32_t job_line = job_key.source().begin.line;
      if (job_line == 0) job_line = line_of(job_key, job_node);
      std::string path = "job." + job_key_name(job_name);
      if (Status s = check_job_name(job_name); !s.ok()) {
        problems.push_back({job_line, path + ": " + s.error().message});
        continue;
      }
      if (!job_node.is_table()) {
        problems.push_back({job_line, path + ": expected a table ([" + path +
                                          "]), got " +
                                          describe_toml(job_node)});
        continue;
      }
      JobReader reader(job_name, job_line, problems);
      if (auto spec = reader.read(*job_node.as_table())) {
        jobs.push_back({std::move(*spec),
                        SourceLocation{std::string(source_name), job_line}});
      }
    }
  }
  if (!problems.empty()) {
    const Problem& first = *std::min_element(
        problems.begin(), problems.end(),
        [](const Problem& a, const Problem& b) { return a.line < b.line; });
    return Error(Code::invalid_argument,
                 std::string(source_name) + ":" + std::to_string(first.line) +
                     ": " + first.message,
                 std::string(kHint), kDomain);
  }
  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const LoadedJob& a, const LoadedJob& b) {
                     return a.where.line < b.where.line;
                   });
  return jobs;
}

}  // namespace nw::config
