#include <doctest/doctest.h>

#include <string>

#include "common/config/job_file.h"
#include "tests/support/temp_dir.h"

namespace nw::config {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::string_view kFull = R"(# line 1
[job.nightly-report]
kind = "shell"
command = ["/usr/local/bin/report", "--day", "yesterday"]
env = { REPORT_DIR = "/var/reports" }
workdir = "/var/reports"
schedule = "0 30 2 * * *"
timezone = "Europe/Berlin"
concurrency = "replace"
missed = "run-once"
starting_deadline = "10m"
timeout = "15m"
retries = { max = 3, backoff = "10s", max_backoff = "5m", jitter = 0.5 }
priority = 5
placement = { labels = { role = "db" }, count = 2 }
output_limit = "2MiB"
enabled = false
)";

// The message of a parse that must fail.
std::string parse_error(std::string_view text) {
  auto r = parse_job_toml(text, "jobs/report.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::invalid_argument);
  CHECK(r.error().hint.find("docs/jobs.md") != std::string::npos);
  return r.error().message;
}

// A one-job file: the header, then `body`, so the body starts on line 3.
std::string job(std::string_view body) {
  return "# jobs\n[job.r]\n" + std::string(body) +
         (body.find("command") == std::string_view::npos &&
                  body.find("shell") == std::string_view::npos
              ? "\ncommand = [\"/bin/true\"]"
              : "") +
         (body.find("schedule") == std::string_view::npos
              ? "\nschedule = \"@daily\""
              : "") +
         "\n";
}

}  // namespace

TEST_SUITE("config.job_file") {
  TEST_CASE("parse.reads_every_key") {
    auto r = parse_job_toml(kFull, "jobs/report.toml");
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    REQUIRE(r->size() == 1);
    const JobSpec& j = r->front().spec;
    CHECK(r->front().where == SourceLocation{"jobs/report.toml", 2});
    CHECK(r->front().where.to_string() == "jobs/report.toml:2");
    CHECK(j.name == "nightly-report");
    CHECK(j.kind == JobKind::shell);
    CHECK(j.command == std::vector<std::string>{"/usr/local/bin/report",
                                                "--day", "yesterday"});
    CHECK(j.shell.empty());
    CHECK(j.env ==
          std::map<std::string, std::string>{{"REPORT_DIR", "/var/reports"}});
    CHECK(j.workdir == "/var/reports");
    CHECK(j.schedule == "0 30 2 * * *");
    CHECK(j.timezone == "Europe/Berlin");
    CHECK(j.concurrency == ConcurrencyPolicy::replace);
    CHECK(j.missed == MissedPolicy::run_once);
    CHECK(j.starting_deadline == minutes(10));
    CHECK(j.timeout == minutes(15));
    CHECK(j.retries.max == 3);
    CHECK(j.retries.backoff == seconds(10));
    CHECK(j.retries.max_backoff == minutes(5));
    CHECK(j.retries.jitter == doctest::Approx(0.5));
    CHECK(j.priority == 5);
    CHECK_FALSE(j.placement.all);
    CHECK(j.placement.labels ==
          std::map<std::string, std::string>{{"role", "db"}});
    CHECK(j.placement.count == 2);
    CHECK(j.output_limit == 2ULL << 20);
    CHECK_FALSE(j.enabled);
  }

  TEST_CASE("parse.left_out_keys_take_the_defaults") {
    auto r = parse_job_toml(
        "[job.x]\nshell = \"echo hi\"\nschedule = "
        "\"@every 10s\"\n",
        "x.toml");
    REQUIRE(r.ok());
    JobSpec want;
    want.name = "x";
    want.shell = "echo hi";
    want.schedule = "@every 10s";
    CHECK(r->front().spec == want);
  }

  TEST_CASE("parse.other_spellings") {
    auto r = parse_job_toml(job("placement = \"all\"\noutput_limit = 4096\n"
                                "retries.jitter = 1\ntimeout = \"0\""),
                            "x.toml");
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    const JobSpec& j = r->front().spec;
    CHECK(j.placement.all);
    CHECK(j.output_limit == 4096);
    CHECK(j.retries.jitter == 1.0);
    CHECK(j.timeout == Duration(0));
    // Sub-tables as [job.NAME.retries] work as well as inline tables.
    r = parse_job_toml(
        "[job.y]\nshell = \"x\"\nschedule = \"@daily\"\n"
        "[job.y.retries]\nmax = 2\n[job.y.placement.labels]\nrole = \"db\"\n",
        "y.toml");
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    CHECK(r->front().spec.retries.max == 2);
    CHECK(r->front().spec.placement.labels.at("role") == "db");
  }

  TEST_CASE("parse.error_names_file_line_and_key") {
    CHECK(parse_error(job("timeout = \"15x\"")) ==
          "jobs/report.toml:3: job.r.timeout: expected a duration such as "
          "500ms, 10s, 1m30s or 2h, got \"15x\"");
    CHECK(parse_error(job("\n\nstarting_deadline = \"soon\""))
              .find("jobs/report.toml:5: job.r.starting_deadline: expected a "
                    "duration") == 0);
  }

  TEST_CASE("parse.type_errors") {
    struct Case {
      std::string body;
      std::string message;
    };
    for (const Case& c : std::vector<Case>{
             {"timeout = 15",
              "job.r.timeout: expected a duration string such as \"15m\", "
              "got integer 15"},
             {"priority = \"5\"",
              "job.r.priority: expected an integer, got string \"5\""},
             {"priority = 10",
              "job.r.priority: expected an integer from 0 to 9, got 10"},
             {"priority = 99999999999",
              "job.r.priority: expected an integer from 0 to 9, got "
              "99999999999"},
             {"enabled = \"yes\"",
              "job.r.enabled: expected true or false, got string \"yes\""},
             {"command = []",
              "job.r.command: expected a non-empty array of strings, got "
              "array"},
             {"command = \"/bin/true\"",
              "job.r.command: expected a non-empty array of strings, got "
              "string \"/bin/true\""},
             {"command = [\"a\", 1]",
              "job.r.command: expected a non-empty array of strings, got "
              "array"},
             {"shell = \"\"", "job.r.shell: the script is empty"},
             {"env = { PORT = 8080 }",
              "job.r.env.PORT: expected a string, got integer 8080"},
             {"env = \"A=1\"",
              "job.r.env: expected a table, got string "
              "\"A=1\""},
             {"concurrency = \"never\"",
              "job.r.concurrency: expected one of \"allow\", \"forbid\", "
              "\"replace\", got \"never\""},
             {"missed = \"run_once\"",
              "job.r.missed: expected one of \"skip\", \"run-once\", "
              "\"run-all\", got \"run_once\""},
             {"kind = \"cron\"",
              "job.r.kind: expected one of \"shell\" (sync, migrate, backup "
              "and http are planned), got \"cron\""},
             {"retries = 3",
              "job.r.retries: expected a table such as { max = 3, backoff = "
              "\"10s\" }, got integer 3"},
             {"retries = { max = 101 }",
              "job.r.retries.max: expected an integer from 0 to 100, got "
              "101"},
             {"retries = { jitter = \"0.1\" }",
              "job.r.retries.jitter: expected a number from 0 to 1, got "
              "string \"0.1\""},
             {"placement = \"any\"",
              "job.r.placement: expected \"all\" or a table such as { labels "
              "= { role = \"db\" }, count = 1 }, got string \"any\""},
             {"placement = { count = 0 }",
              "job.r.placement.count: expected an integer from 1 to 1000, "
              "got 0"},
             {"placement = { labels = { role = 1 } }",
              "job.r.placement.labels.role: expected a string, got integer "
              "1"},
             {"output_limit = \"1XB\"",
              "job.r.output_limit: expected a size such as 4096, 64KiB, "
              "16MiB or 1GiB, got \"1XB\""},
             {"output_limit = -1",
              "job.r.output_limit: expected a size such as \"1MiB\", got "
              "integer -1"},
             {"output_limit = \"65MiB\"",
              "job.r.output_limit: expected a size from 1KiB to 64MiB, got "
              "65MiB"},
             {"schedule = \"\"",
              "job.r.schedule: missing or empty: give a "
              "cron expression (\"0 30 2 * * *\" or \"30 "
              "2 * * *\"), \"@every 10s\", \"@hourly\" or "
              "\"@daily\""},
             {"schedule = 1979-05-27",
              "job.r.schedule: expected a string, got date"},
             {"workdir = \"tmp\"",
              "job.r.workdir: expected an absolute path, got \"tmp\""},
         }) {
      CHECK(parse_error(job(c.body)) == "jobs/report.toml:3: " + c.message);
    }
  }

  TEST_CASE("parse.unknown_key_suggests_a_near_one") {
    CHECK(parse_error(job("timeot = \"15m\"")) ==
          "jobs/report.toml:3: job.r.timeot: unknown key; did you mean "
          "timeout?");
    CHECK(parse_error(job("retries = { maxx = 3 }")) ==
          "jobs/report.toml:3: job.r.retries.maxx: unknown key; did you mean "
          "max?");
    CHECK(parse_error(job("max_backoff = \"1m\"")) ==
          "jobs/report.toml:3: job.r.max_backoff: unknown key; did you mean "
          "retries.max_backoff?");
    CHECK(parse_error(job("placement = { cuont = 3 }")) ==
          "jobs/report.toml:3: job.r.placement.cuont: unknown key; did you "
          "mean count?");
    std::string far = parse_error(job("owner = \"ops\""));
    CHECK(far.find("jobs/report.toml:3: job.r.owner: unknown key (known "
                   "keys: kind, command, shell,") == 0);
    CHECK(parse_error("[jobs.x]\nshell = \"x\"\n") ==
          "jobs/report.toml:1: jobs: unknown table; did you mean job?");
    CHECK(parse_error("title = \"my jobs\"\n") ==
          "jobs/report.toml:1: title: unknown key; a job file holds only "
          "[job.NAME] tables");
    CHECK(parse_error("job = 3\n") ==
          "jobs/report.toml:1: job: expected [job.NAME] tables, got "
          "integer 3");
  }

  TEST_CASE("parse.whole_job_rules_name_the_job_line_or_the_key") {
    CHECK(parse_error("\n[job.r]\nschedule = \"@daily\"\n") ==
          "jobs/report.toml:2: job.r: missing command (an argv array) or "
          "shell (a script run by /bin/sh -c)");
    CHECK(parse_error("\n[job.r]\nschedule = \"@daily\"\nshell = \"x\"\n"
                      "command = [\"y\"]\n") ==
          "jobs/report.toml:2: job.r: set either command or shell, not both");
    CHECK(parse_error("[job.r]\nshell = \"x\"\n") ==
          "jobs/report.toml:1: job.r.schedule: missing or empty: give a "
          "cron expression (\"0 30 2 * * *\" or \"30 2 * * *\"), \"@every "
          "10s\", \"@hourly\" or \"@daily\"");
    // max_backoff left at its 5m default, below backoff: the retries line.
    CHECK(parse_error(job("\nretries = { backoff = \"10m\" }")) ==
          "jobs/report.toml:4: job.r.retries.max_backoff: expected a "
          "duration from 10m to 7d, got 5m (it must be at least "
          "retries.backoff)");
    CHECK(parse_error(job("env = { NW_RUN_ID = \"1\" }"))
              .find("jobs/report.toml:3: job.r.env.NW_RUN_ID: names starting "
                    "with NW_ are reserved") == 0);
  }

  TEST_CASE("parse.job_names") {
    CHECK(parse_error("[job.\"a b\"]\nshell = \"x\"\n") ==
          "jobs/report.toml:1: job.\"a b\": expected a job name of 1-200 "
          "characters of A-Z a-z 0-9 . _ - (not \".\", \"..\", \"apply\" or "
          "\"missed\"), got "
          "\"a b\"");
    CHECK(parse_error("[job.x]\nshell = \"x\"\n[job.\"a.b\"]\ntimeout = "
                      "\"1y\"\n")
              .find("jobs/report.toml:1: job.x.schedule") == 0);
    CHECK(parse_error("[job.\"a.b\"]\nshell = \"x\"\nschedule = \"@daily\"\n"
                      "timeout = \"1y\"\n")
              .find("jobs/report.toml:4: job.\"a.b\".timeout: expected a "
                    "duration") == 0);
    CHECK(parse_error("[job]\nx = 1\n") ==
          "jobs/report.toml:2: job.x: expected a table ([job.x]), got "
          "integer 1");
  }

  TEST_CASE("parse.reports_the_earliest_line") {
    std::string text = job("zzz = 1\ntimeout = \"x\"\naaa = 2");
    CHECK(parse_error(text).find("jobs/report.toml:3: job.r.zzz:") == 0);
  }

  TEST_CASE("parse.syntax_error_has_line_and_column") {
    std::string m = parse_error("[job.r]\nshell = \"x\nschedule = 1\n");
    CHECK(m.find("jobs/report.toml:2:") == 0);
    CHECK(m.find("TOML syntax error") != std::string::npos);
    // The same job twice in one file is a TOML error.
    m = parse_error(job("") + "[job.r]\n");
    CHECK(m.find("TOML syntax error") != std::string::npos);
  }

  TEST_CASE("parse.jobs_come_in_file_order") {
    auto r = parse_job_toml(
        "[job.zeta]\nshell = \"z\"\nschedule = \"@daily\"\n"
        "[job.alpha]\nshell = \"a\"\nschedule = \"@daily\"\n",
        "x.toml");
    REQUIRE(r.ok());
    REQUIRE(r->size() == 2);
    CHECK((*r)[0].spec.name == "zeta");
    CHECK((*r)[1].spec.name == "alpha");
    CHECK((*r)[1].where.line == 4);
    CHECK(specs_of(*r)[1] == (*r)[1].spec);
    auto empty = parse_job_toml("# nothing yet\n", "x.toml");
    REQUIRE(empty.ok());
    CHECK(empty->empty());
  }

  TEST_CASE("load_job_file.missing_file_is_not_found") {
    auto r = load_job_file("/nonexistent/jobs.toml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::not_found);
    CHECK(r.error().message ==
          "read job file /nonexistent/jobs.toml: no such file");
  }

  TEST_CASE("load_job_file.names_the_path_in_errors") {
    testsupport::TempDir dir;
    auto path = dir.write_file("report.toml", job("timeout = \"15x\""));
    auto r = load_job_file(path.string());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(path.string() + ":3: job.r.timeout:") == 0);
  }

  TEST_CASE("load_job_dir.reads_toml_files_in_name_order") {
    testsupport::TempDir dir;
    dir.write_file("b.toml", "[job.b]\nshell = \"b\"\nschedule = \"@daily\"\n");
    dir.write_file("a.toml", "[job.a]\nshell = \"a\"\nschedule = \"@daily\"\n");
    dir.write_file("notes.txt", "not toml");
    dir.write_file(".hidden.toml", "broken [");
    dir.write_file("sub/c.toml", "[job.c]\nshell = \"c\"\n");
    auto r = load_jobs(dir.path().string());
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    REQUIRE(r->size() == 2);
    CHECK((*r)[0].spec.name == "a");
    CHECK((*r)[0].where.file == (dir / "a.toml").string());
    CHECK((*r)[1].spec.name == "b");
    // load_jobs on a file reads just that file.
    auto one = load_jobs((dir / "b.toml").string());
    REQUIRE(one.ok());
    CHECK(one->size() == 1);
  }

  TEST_CASE("load_job_dir.duplicate_job_names_both_places") {
    testsupport::TempDir dir;
    dir.write_file("a.toml",
                   "# a\n[job.x]\nshell = \"a\"\nschedule = \"@daily\"\n");
    dir.write_file("b.toml",
                   "[job.y]\nshell = \"y\"\nschedule = \"@daily\"\n"
                   "[job.x]\nshell = \"b\"\nschedule = \"@daily\"\n");
    auto r = load_job_dir(dir.path().string());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::invalid_argument);
    CHECK(r.error().message == (dir / "b.toml").string() +
                                   ":4: job.x: defined twice, first at " +
                                   (dir / "a.toml").string() + ":2");
  }

  TEST_CASE("load_job_dir.empty_or_missing_folder_is_not_found") {
    testsupport::TempDir dir;
    dir.write_file("README", "x");
    auto r = load_job_dir(dir.path().string());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::not_found);
    CHECK(r.error().message.find("no *.toml files") != std::string::npos);
    auto missing = load_job_dir((dir / "nope").string());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == Code::not_found);
  }

  TEST_CASE("load_job_dir.a_bad_file_fails_the_folder") {
    testsupport::TempDir dir;
    dir.write_file("a.toml", "[job.a]\nshell = \"a\"\nschedule = \"@daily\"\n");
    dir.write_file("b.toml", "[job.b]\nshell = \"b\"\npriority = 10\n");
    auto r = load_job_dir(dir.path().string());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find((dir / "b.toml").string() +
                                 ":3: job.b.priority") == 0);
  }
}

}  // namespace nw::config
