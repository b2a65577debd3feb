// The pure rules of job runs (agent/jobs/run_policy.h): retry delays and
// what a process's end means for its run.
#include <doctest/doctest.h>
#include <signal.h>

#include "agent/jobs/run_policy.h"

namespace nw::jobs {
namespace {

using controller::RunRecord;
using State = RunRecord::State;
using namespace std::chrono_literals;

RunRecord run_of(std::uint64_t id) {
  RunRecord r;
  r.run_id = id;
  r.fencing_token = id;
  r.job = "report";
  return r;
}

RunResult ended(EndReason why, std::optional<int> code,
                std::optional<int> sig = std::nullopt) {
  RunResult res;
  res.reason = why;
  res.exit_code = code;
  res.signal = sig;
  res.pgid = why == EndReason::failed_to_start ? 0 : 4242;
  res.started_at = WallTime(std::chrono::milliseconds(1000));
  res.ended_at = WallTime(std::chrono::milliseconds(3500));
  return res;
}

TEST_SUITE("jobs.run_policy") {
  TEST_CASE("retry_delay.doubles_up_to_the_cap") {
    config::RetryPolicy p;
    p.backoff = 10s;
    p.max_backoff = 35s;
    p.jitter = 0.0;
    CHECK(retry_delay_ms(p, 1, 7) == 10'000);
    CHECK(retry_delay_ms(p, 2, 7) == 20'000);
    CHECK(retry_delay_ms(p, 3, 7) == 35'000);
    CHECK(retry_delay_ms(p, 30, 7) == 35'000);
  }

  TEST_CASE("retry_delay.jitter_is_bounded_and_a_function_of_the_run") {
    config::RetryPolicy p;
    p.backoff = 10s;
    p.max_backoff = 1h;
    p.jitter = 0.2;
    std::int64_t lo = INT64_MAX;
    std::int64_t hi = 0;
    for (std::uint64_t id = 1; id < 2000; ++id) {
      const std::int64_t d = retry_delay_ms(p, 1, id);
      CHECK(d >= 8'000);
      CHECK(d <= 12'000);
      // Every leader computes the same due time for the same run.
      CHECK(d == retry_delay_ms(p, 1, id));
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    // It does spread.
    CHECK(hi - lo > 2'000);
  }

  TEST_CASE("retryable.failed_timed_out_and_lost_only") {
    CHECK(retryable(State::failed));
    CHECK(retryable(State::timed_out));
    CHECK(retryable(State::lost));
    CHECK_FALSE(retryable(State::succeeded));
    CHECK_FALSE(retryable(State::cancelled));
    CHECK_FALSE(retryable(State::running));
  }

  TEST_CASE("final_update.maps_each_end") {
    const RunRecord run = run_of(9);
    controller::UpdateRun ok =
        final_update(run, ended(EndReason::exited, 0), "", 0s);
    CHECK(ok.state == State::succeeded);
    CHECK(ok.exit_code == 0);
    CHECK(ok.run_id == 9);
    CHECK(ok.fencing_token == 9);
    CHECK(ok.started_ms == 1000);
    CHECK(ok.ended_ms == 3500);
    CHECK(ok.reason == "exited with status 0");

    controller::UpdateRun three =
        final_update(run, ended(EndReason::exited, 3), "", 0s);
    CHECK(three.state == State::failed);
    CHECK(three.exit_code == 3);

    controller::UpdateRun killed = final_update(
        run, ended(EndReason::exited, std::nullopt, SIGKILL), "", 0s);
    CHECK(killed.state == State::failed);
    CHECK(killed.exit_code == 128 + SIGKILL);
    CHECK(killed.reason == "killed by SIGKILL");

    controller::UpdateRun late = final_update(
        run, ended(EndReason::timed_out, std::nullopt, SIGTERM), "", 15min);
    CHECK(late.state == State::timed_out);
    CHECK(late.reason.find("timed out after 15m") == 0);

    controller::UpdateRun stopped =
        final_update(run, ended(EndReason::cancelled, std::nullopt, SIGTERM),
                     "replaced by a newer run (concurrency = replace)", 0s);
    CHECK(stopped.state == State::cancelled);
    CHECK(stopped.reason.find("replaced") == 0);

    RunResult missing = ended(EndReason::failed_to_start, std::nullopt);
    missing.error = Error(Code::not_found, "no such file: /nope", {}, "jobs");
    controller::UpdateRun nope = final_update(run, missing, "", 0s);
    CHECK(nope.state == State::failed);
    CHECK(nope.exit_code == 127);
    CHECK(nope.started_ms == 0);
    CHECK(nope.reason == "could not start: no such file: /nope");
  }

  TEST_CASE("run_spec.takes_the_job_keys") {
    config::JobSpec spec;
    spec.shell = "echo hi";
    spec.env = {{"A", "1"}};
    spec.workdir = "/tmp";
    spec.timeout = 90s;
    spec.output_limit = 4096;
    RunSpec rs = run_spec(spec, 3s);
    CHECK(rs.shell == "echo hi");
    CHECK(rs.argv.empty());
    CHECK(rs.env.at("A") == "1");
    CHECK(rs.workdir == "/tmp");
    CHECK(rs.timeout == 90s);
    CHECK(rs.kill_grace == 3s);
    CHECK(rs.output_limit == 4096);
    spec.shell.clear();
    spec.command = {"/bin/true", "x"};
    CHECK(run_spec(spec, 3s).argv == spec.command);
  }
}

}  // namespace
}  // namespace nw::jobs
