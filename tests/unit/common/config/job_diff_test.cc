#include <doctest/doctest.h>

#include <string>

#include "common/config/job_diff.h"

namespace nw::config {
namespace {

using std::chrono::minutes;

JobSpec make(std::string name) {
  JobSpec j;
  j.name = std::move(name);
  j.command = {"/bin/true"};
  j.schedule = "@hourly";
  return j;
}

}  // namespace

TEST_SUITE("config.job_diff") {
  TEST_CASE("diff_jobs.sorts_jobs_into_added_changed_unchanged") {
    JobSpec a = make("a");
    JobSpec b = make("b");
    JobSpec c = make("c");
    JobSpec b2 = b;
    b2.timeout = minutes(20);
    JobDiff d = diff_jobs({c, b, a}, {b2, a, make("d")}, false);
    CHECK(d.added == std::vector<std::string>{"d"});
    REQUIRE(d.changed.size() == 1);
    CHECK(d.changed[0].name == "b");
    CHECK(d.changed[0].fields ==
          std::vector<FieldChange>{{"timeout", "0s", "20m"}});
    CHECK(d.unchanged == std::vector<std::string>{"a"});
    CHECK(d.removed.empty());
    CHECK(d.kept == std::vector<std::string>{"c"});
    CHECK_FALSE(d.empty());
  }

  TEST_CASE("diff_jobs.removes_only_with_prune") {
    JobDiff d = diff_jobs({make("a"), make("old")}, {make("a")}, true);
    CHECK(d.removed == std::vector<std::string>{"old"});
    CHECK(d.kept.empty());
    CHECK_FALSE(d.empty());
    d = diff_jobs({make("a"), make("old")}, {make("a")}, false);
    CHECK(d.removed.empty());
    CHECK(d.empty());
    CHECK(diff_jobs({}, {}, true).empty());
  }

  TEST_CASE("diff_jobs.lists_every_changed_key_in_docs_order") {
    JobSpec old_job = make("r");
    old_job.env = {{"A", "1"}, {"GONE", "x"}};
    old_job.timeout = minutes(15);
    JobSpec new_job = old_job;
    new_job.env = {{"A", "2"}, {"NEW", "y"}};
    new_job.timeout = minutes(20);
    new_job.command.clear();
    new_job.shell = "true";
    new_job.placement.labels = {{"role", "db"}};
    new_job.enabled = false;
    JobDiff d = diff_jobs({old_job}, {new_job}, false);
    REQUIRE(d.changed.size() == 1);
    CHECK(d.changed[0].fields ==
          std::vector<FieldChange>{
              {"command", "[\"/bin/true\"]", "[]"},
              {"shell", "\"\"", "\"true\""},
              {"env.A", "\"1\"", "\"2\""},
              {"env.GONE", "\"x\"", "(unset)"},
              {"env.NEW", "(unset)", "\"y\""},
              {"timeout", "15m", "20m"},
              {"placement.labels.role", "(unset)", "\"db\""},
              {"enabled", "true", "false"},
          });
  }

  TEST_CASE("render_diff.dry_run_text") {
    JobSpec r = make("nightly-report");
    r.timeout = minutes(15);
    JobSpec r2 = r;
    r2.timeout = minutes(20);
    r2.priority = 5;
    JobDiff d = diff_jobs({r, make("old-probe"), make("same"), make("keep")},
                          {r2, make("backup-db"), make("same")}, false);
    CHECK(render_diff(d) ==
          "+ job backup-db\n"
          "~ job nightly-report\n"
          "    timeout: 15m -> 20m\n"
          "    priority: 0 -> 5\n"
          "plan: 1 to add, 1 to change, 0 to remove, 1 unchanged; 2 not in "
          "the files, kept (--prune removes them): keep, old-probe\n");
    d = diff_jobs({make("old-probe"), make("same")}, {make("same")}, true);
    CHECK(render_diff(d) ==
          "- job old-probe\n"
          "plan: 0 to add, 0 to change, 1 to remove, 1 unchanged\n");
  }
}

}  // namespace nw::config
