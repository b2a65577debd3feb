#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "common/config/job_spec.h"

namespace nw::config {
namespace {

using std::chrono::days;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

JobSpec minimal() {
  JobSpec j;
  j.name = "report";
  j.command = {"/bin/true"};
  j.schedule = "@hourly";
  return j;
}

// The message of a validation that must fail, and the key it names.
std::string invalid(const JobSpec& j, std::string* key = nullptr) {
  std::string bad_key;
  Status s = validate(j, &bad_key);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Code::invalid_argument);
  CHECK(s.error().hint.find("docs/jobs.md") != std::string::npos);
  if (key != nullptr) *key = bad_key;
  return s.error().message;
}

}  // namespace

TEST_SUITE("config.job_spec") {
  TEST_CASE("defaults.are_the_documented_ones") {
    JobSpec j;
    CHECK(j.kind == JobKind::shell);
    CHECK(j.workdir == "/");
    CHECK(j.timezone == "UTC");
    CHECK(j.concurrency == ConcurrencyPolicy::forbid);
    CHECK(j.missed == MissedPolicy::skip);
    CHECK(j.starting_deadline == minutes(5));
    CHECK(j.timeout == Duration(0));
    CHECK(j.retries.max == 0);
    CHECK(j.retries.backoff == seconds(10));
    CHECK(j.retries.max_backoff == minutes(5));
    CHECK(j.retries.jitter == doctest::Approx(0.2));
    CHECK(j.priority == 0);
    CHECK_FALSE(j.placement.all);
    CHECK(j.placement.labels.empty());
    CHECK(j.placement.count == 1);
    CHECK(j.output_limit == 1024 * 1024);
    CHECK(j.enabled);
  }

  TEST_CASE("validate.accepts_a_minimal_job") {
    CHECK(validate(minimal()).ok());
    JobSpec j = minimal();
    j.command.clear();
    j.shell = "echo hi";
    CHECK(validate(j).ok());
  }

  TEST_CASE("validate.name") {
    JobSpec j = minimal();
    for (std::string good : std::vector<std::string>{
             "a", "A.b_c-9", std::string(200, 'x'), "...", "a..b"}) {
      j.name = good;
      CHECK_MESSAGE(validate(j).ok(), good);
    }
    for (std::string bad : std::vector<std::string>{
             "", ".", "..", "a b", "a/b", "caf\xc3\xa9", std::string(201, 'x'),
             std::string("a\0b", 3)}) {
      j.name = bad;
      std::string key = "?";
      CHECK_MESSAGE(invalid(j, &key).find("expected a job name of 1-200") !=
                        std::string::npos,
                    bad);
      CHECK(key == "");
    }
    j.name = "a b";
    CHECK(
        invalid(j) ==
        "job.\"a b\": expected a job name of 1-200 characters of A-Z a-z "
        "0-9 . _ - (not \".\", \"..\", \"apply\" or \"missed\"), got \"a b\"");
  }

  TEST_CASE("validate.command_or_shell_exactly_one") {
    JobSpec j = minimal();
    j.shell = "echo";
    std::string key = "?";
    CHECK(invalid(j, &key) ==
          "job.report: set either command or shell, not both");
    CHECK(key == "");
    j.command.clear();
    j.shell.clear();
    CHECK(invalid(j).find("job.report: missing command") == 0);
    j.command = {""};
    CHECK(invalid(j, &key) ==
          "job.report.command: the program (first item) is empty");
    CHECK(key == "command");
    j.command = {"/bin/echo", std::string("a\0b", 3)};
    CHECK(invalid(j) ==
          "job.report.command: item 1 must not contain a NUL character");
    j.command = std::vector<std::string>(kMaxCommandItems + 1, "x");
    CHECK(invalid(j).find("expected at most 1000 items") != std::string::npos);
    j.command.clear();
    j.shell = std::string(kMaxJobStringBytes + 1, 'x');
    CHECK(invalid(j, &key).find("longer than 65536 bytes") !=
          std::string::npos);
    CHECK(key == "shell");
  }

  TEST_CASE("validate.env") {
    JobSpec j = minimal();
    j.env = {{"REPORT_DIR", "/x"}, {"_a1", ""}};
    CHECK(validate(j).ok());
    std::string key;
    j.env = {{"1A", "x"}};
    CHECK(invalid(j, &key).find("expected a variable name") !=
          std::string::npos);
    CHECK(key == "env.1A");
    j.env = {{"A-B", "x"}};
    CHECK_FALSE(validate(j).ok());
    j.env = {{"NW_JOB", "x"}};
    CHECK(invalid(j, &key).find("reserved") != std::string::npos);
    CHECK(key == "env.NW_JOB");
    j.env = {{"A", std::string("x\0", 2)}};
    CHECK(invalid(j) == "job.report.env.A: must not contain a NUL character");
  }

  TEST_CASE("validate.workdir_schedule_timezone") {
    JobSpec j = minimal();
    std::string key;
    j.workdir = "var/reports";
    CHECK(invalid(j, &key) ==
          "job.report.workdir: expected an absolute path, got "
          "\"var/reports\"");
    CHECK(key == "workdir");
    j.workdir = "";
    CHECK_FALSE(validate(j).ok());
    j = minimal();
    for (std::string bad : {"", "   "}) {
      j.schedule = bad;
      CHECK(invalid(j, &key).find("job.report.schedule: missing or empty") ==
            0);
      CHECK(key == "schedule");
    }
    j.schedule = std::string(257, '*');
    CHECK_FALSE(validate(j).ok());
    j = minimal();
    for (std::string good : {"UTC", "Europe/Berlin", "Etc/GMT+5",
                             "America/Argentina/Buenos_Aires"}) {
      j.timezone = good;
      CHECK_MESSAGE(validate(j).ok(), good);
    }
    for (std::string bad :
         {"", "/etc/passwd", "Europe/", "../x", "Europe//Berlin", "UTC 1"}) {
      j.timezone = bad;
      CHECK_MESSAGE(invalid(j, &key).find("expected an IANA time zone") !=
                        std::string::npos,
                    bad);
      CHECK(key == "timezone");
    }
  }

  TEST_CASE("validate.durations") {
    JobSpec j = minimal();
    std::string key;
    j.starting_deadline = Duration(0);
    CHECK(invalid(j, &key) ==
          "job.report.starting_deadline: expected a duration from 1s to 7d, "
          "got 0s");
    CHECK(key == "starting_deadline");
    j.starting_deadline = days(8);
    CHECK_FALSE(validate(j).ok());
    j.starting_deadline = seconds(1);
    CHECK(validate(j).ok());
    j.timeout = Duration(0);
    CHECK(validate(j).ok());
    j.timeout = milliseconds(500);
    CHECK(invalid(j, &key) ==
          "job.report.timeout: expected 0 (no limit) or a duration from 1s "
          "to 30d, got 500ms");
    j.timeout = days(31);
    CHECK_FALSE(validate(j).ok());
    j.timeout = days(30);
    CHECK(validate(j).ok());
  }

  TEST_CASE("validate.retries") {
    JobSpec j = minimal();
    std::string key;
    j.retries.max = 100;
    CHECK(validate(j).ok());
    j.retries.max = 101;
    CHECK(invalid(j, &key) ==
          "job.report.retries.max: expected an integer from 0 to 100, got "
          "101");
    CHECK(key == "retries.max");
    j.retries.max = -1;
    CHECK_FALSE(validate(j).ok());
    j = minimal();
    j.retries.backoff = milliseconds(50);
    CHECK(invalid(j, &key).find("job.report.retries.backoff:") == 0);
    j = minimal();
    j.retries.backoff = minutes(10);  // above the default max_backoff
    CHECK(invalid(j, &key) ==
          "job.report.retries.max_backoff: expected a duration from 10m to "
          "7d, got 5m (it must be at least retries.backoff)");
    CHECK(key == "retries.max_backoff");
    j = minimal();
    for (double bad : {-0.1, 1.5, std::nan("")}) {
      j.retries.jitter = bad;
      CHECK(invalid(j, &key).find("job.report.retries.jitter: expected a "
                                  "number from 0 to 1") == 0);
    }
    j.retries.jitter = 1;
    CHECK(validate(j).ok());
  }

  TEST_CASE("validate.priority_placement_output_limit") {
    JobSpec j = minimal();
    std::string key;
    for (int p : {0, 9}) {
      j.priority = p;
      CHECK(validate(j).ok());
    }
    j.priority = 10;
    CHECK(invalid(j, &key) ==
          "job.report.priority: expected an integer from 0 to 9, got 10");
    j.priority = -1;
    CHECK_FALSE(validate(j).ok());
    j = minimal();
    j.placement.count = 0;
    CHECK(invalid(j, &key) ==
          "job.report.placement.count: expected an integer from 1 to 1000, "
          "got 0");
    CHECK(key == "placement.count");
    j.placement.count = 1001;
    CHECK_FALSE(validate(j).ok());
    j.placement.count = 3;
    j.placement.labels = {{"role", "db"}};
    CHECK(validate(j).ok());
    j.placement.all = true;
    CHECK(invalid(j).find("placement \"all\" runs once on every agent") !=
          std::string::npos);
    j.placement.count = 1;
    CHECK(validate(j).ok());
    j.placement.labels = {{"", "x"}};
    CHECK_FALSE(validate(j).ok());
    j = minimal();
    j.output_limit = 1023;
    CHECK(invalid(j, &key) ==
          "job.report.output_limit: expected a size from 1KiB to 64MiB, got "
          "1023");
    j.output_limit = (64ULL << 20) + 1;
    CHECK_FALSE(validate(j).ok());
    j.output_limit = 64ULL << 20;
    CHECK(validate(j).ok());
  }

  TEST_CASE("validate.reports_the_first_rule_in_docs_order") {
    JobSpec j = minimal();
    j.priority = 99;
    j.timeout = milliseconds(1);
    std::string key;
    CHECK_FALSE(validate(j, &key).ok());
    CHECK(key == "timeout");
  }

  TEST_CASE("to_string.round_trips_every_enum") {
    CHECK(job_kind_from_string("shell") == JobKind::shell);
    CHECK_FALSE(job_kind_from_string("sync").has_value());
    for (auto p : {ConcurrencyPolicy::allow, ConcurrencyPolicy::forbid,
                   ConcurrencyPolicy::replace}) {
      CHECK(concurrency_from_string(to_string(p)) == p);
    }
    for (auto p :
         {MissedPolicy::skip, MissedPolicy::run_once, MissedPolicy::run_all}) {
      CHECK(missed_from_string(to_string(p)) == p);
    }
    CHECK(to_string(MissedPolicy::run_once) == "run-once");
    CHECK_FALSE(missed_from_string("run_once").has_value());
    CHECK_FALSE(concurrency_from_string("Forbid").has_value());
  }

  TEST_CASE("job_key_name.quotes_names_with_dots") {
    CHECK(job_key_name("nightly-report") == "nightly-report");
    CHECK(job_key_name("a.b") == "\"a.b\"");
  }

  TEST_CASE("job_fields.lists_every_key_flattened") {
    JobSpec j = minimal();
    j.env = {{"A", "1"}};
    j.placement.labels = {{"role", "db"}};
    j.timeout = minutes(15);
    auto f = job_fields(j);
    std::map<std::string, std::string> m(f.begin(), f.end());
    CHECK(m.at("command") == "[\"/bin/true\"]");
    CHECK(m.at("shell") == "\"\"");
    CHECK(m.at("env.A") == "\"1\"");
    CHECK(m.at("timeout") == "15m");
    CHECK(m.at("missed") == "\"skip\"");
    CHECK(m.at("retries.jitter") == "0.2");
    CHECK(m.at("placement.labels.role") == "\"db\"");
    CHECK(m.at("output_limit") == "1MiB");
    CHECK(m.at("enabled") == "true");
    CHECK(f.front().first == "kind");
    CHECK(f.back().first == "enabled");
  }
}

}  // namespace nw::config
