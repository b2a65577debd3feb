// Real child processes: /bin/sh, sleep, head, yes, env, pwd.
#include "agent/jobs/process_runner.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/check.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace nw::jobs::test {
namespace {

using namespace std::chrono_literals;

// The test process reaps the orphans of the trees it kills, as the agent
// does (its PID 1 may not).
void subreaper() { NW_REQUIRE_OK(enable_child_subreaper()); }

RunSpec shell(std::string command) {
  RunSpec s;
  s.shell = std::move(command);
  return s;
}

RunResult run_ok(RunSpec spec, RunIdentity id = {}, OutputCallback cb = {}) {
  ProcessRunner runner(std::move(spec), std::move(id), std::move(cb));
  auto r = runner.run();
  NW_REQUIRE_OK(r);
  return std::move(r).value();
}

bool group_gone(pid_t pgid) { return ::kill(-pgid, 0) != 0 && errno == ESRCH; }

// The stream "0123456789" repeated to `n` bytes, from offset `from`.
std::string digits(std::size_t from, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += static_cast<char>('0' + (from + i) % 10);
  }
  return s;
}

}  // namespace

TEST_SUITE("jobs.captured_output") {
  TEST_CASE("append.short_stream_is_kept_whole") {
    CapturedOutput out(100);
    out.append("hello ");
    out.append("world");
    CHECK(out.head() == "hello world");
    CHECK(out.tail().empty());
    CHECK(out.text() == "hello world");
    CHECK_FALSE(out.truncated());
  }

  TEST_CASE("append.exactly_limit_bytes_drops_nothing") {
    CapturedOutput out(10);
    out.append(digits(0, 10));
    CHECK(out.head() + out.tail() == digits(0, 10));
    CHECK(out.elided_bytes() == 0);
  }

  TEST_CASE("append.long_stream_keeps_head_and_tail") {
    // Every chunk size, including ones larger than the ring, and odd limits.
    for (std::size_t limit : {1u, 7u, 10u, 64u}) {
      for (std::size_t chunk : {1u, 3u, 5u, 31u, 100u}) {
        CAPTURE(limit);
        CAPTURE(chunk);
        CapturedOutput out(limit);
        const std::size_t total = 1000;
        for (std::size_t at = 0; at < total; at += chunk) {
          out.append(digits(at, std::min(chunk, total - at)));
        }
        CHECK(out.total_bytes() == total);
        CHECK(out.kept_bytes() == limit);
        CHECK(out.elided_bytes() == total - limit);
        CHECK(out.head() == digits(0, limit / 2));
        CHECK(out.tail() ==
              digits(total - (limit - limit / 2), limit - limit / 2));
      }
    }
  }

  TEST_CASE("append.zero_limit_elides_everything") {
    CapturedOutput out(0);
    out.append("abc");
    CHECK(out.kept_bytes() == 0);
    CHECK(out.elided_bytes() == 3);
  }

  TEST_CASE("text.marks_the_elided_middle") {
    CapturedOutput out(4);
    out.append("ab\n--middle--\ncd");
    CHECK(out.text() == "ab\n[... 12 bytes elided ...]\ncd");
  }
}

TEST_SUITE("jobs.process_runner") {
  TEST_CASE("run.exit_code_and_times_are_reported") {
    auto r = run_ok(shell("exit 3"));
    CHECK(r.reason == EndReason::exited);
    CHECK(to_string(r.reason) == "exited");
    CHECK(r.exit_code == 3);
    CHECK_FALSE(r.signal.has_value());
    CHECK_FALSE(r.succeeded());
    CHECK(r.pgid > 0);
    CHECK(r.ended_at >= r.started_at);
    CHECK(run_ok(shell("true")).succeeded());
  }

  TEST_CASE("run.argv_is_executed_without_a_shell") {
    RunSpec s;
    s.argv = {"printf", "%s|", "a b", "$HOME", "*"};
    auto r = run_ok(s);
    CHECK(r.succeeded());
    CHECK(r.output.text() == "a b|$HOME|*|");
  }

  TEST_CASE("run.signal_is_reported") {
    auto r = run_ok(shell("kill -USR1 $$"));
    CHECK(r.reason == EndReason::exited);
    CHECK(r.signal == SIGUSR1);
    CHECK_FALSE(r.exit_code.has_value());
  }

  TEST_CASE("run.stdout_and_stderr_share_one_ordered_stream") {
    auto r = run_ok(shell("echo a; echo b >&2; echo c; echo d >&2"));
    CHECK(r.output.text() == "a\nb\nc\nd\n");
  }

  TEST_CASE("run.env_has_base_spec_and_identity_variables") {
    ::setenv("NW_TEST_AGENT_SECRET", "leaked", 1);
    RunSpec s = shell("env");
    s.env = {{"FOO", "bar baz"}, {"NW_JOB", "spoofed"}, {"LANG", "C"}};
    RunIdentity id{"nightly", "run-42", "2026-12-01T00:00:00Z", 2, 4};
    auto r = run_ok(s, id);
    const std::string env = r.output.text();
    CHECK(env.find("FOO=bar baz\n") != std::string::npos);
    CHECK(env.find("NW_JOB=nightly\n") != std::string::npos);
    CHECK(env.find("NW_RUN_ID=run-42\n") != std::string::npos);
    CHECK(env.find("NW_SLOT=2026-12-01T00:00:00Z\n") != std::string::npos);
    CHECK(env.find("NW_SHARD_INDEX=2\n") != std::string::npos);
    CHECK(env.find("NW_SHARD_COUNT=4\n") != std::string::npos);
    CHECK(env.find("LANG=C\n") != std::string::npos);
    CHECK(env.find("PATH=") != std::string::npos);
    CHECK(env.find("NW_TEST_AGENT_SECRET") == std::string::npos);
    ::unsetenv("NW_TEST_AGENT_SECRET");
  }

  TEST_CASE("run.command_is_found_in_the_jobs_path") {
    testsupport::TempDir tmp;
    const auto tool = tmp.write_file("bin/nw-tool", "#!/bin/sh\necho tool\n");
    std::filesystem::permissions(tool, std::filesystem::perms::owner_all);
    RunSpec s;
    s.argv = {"nw-tool"};
    s.env = {{"PATH", (tmp / "bin").string() + ":/usr/bin:/bin"}};
    auto r = run_ok(s);
    CHECK(r.succeeded());
    CHECK(r.output.text() == "tool\n");
  }

  TEST_CASE("run.workdir_is_the_current_directory") {
    testsupport::TempDir tmp;
    RunSpec s;
    s.argv = {"pwd", "-P"};
    s.workdir = tmp.path().string();
    auto r = run_ok(s);
    CHECK(r.output.text() ==
          std::filesystem::canonical(tmp.path()).string() + "\n");
  }

  TEST_CASE("run.missing_workdir_fails_to_start") {
    RunSpec s = shell("true");
    s.workdir = "/nonexistent/nw-workdir";
    auto r = run_ok(s);
    CHECK(r.reason == EndReason::failed_to_start);
    CHECK(to_string(r.reason) == "failed_to_start");
    REQUIRE(r.error.has_value());
    CHECK(r.error->code == Code::not_found);
    INFO(r.error->to_string());
    CHECK(r.error->message.find("/nonexistent/nw-workdir") !=
          std::string::npos);
    CHECK(r.error->message.find("No such file or directory") !=
          std::string::npos);
    CHECK(r.pgid == 0);
  }

  TEST_CASE("run.missing_command_fails_to_start_with_a_clear_error") {
    RunSpec s;
    s.argv = {"nw-no-such-command", "x"};
    auto r = run_ok(s);
    CHECK(r.reason == EndReason::failed_to_start);
    REQUIRE(r.error.has_value());
    INFO(r.error->to_string());
    CHECK(r.error->code == Code::not_found);
    CHECK(r.error->message.find("'nw-no-such-command': command not found") !=
          std::string::npos);
    CHECK_FALSE(r.error->hint.empty());

    s.argv = {"/nonexistent/bin/tool"};
    r = run_ok(s);
    CHECK(r.reason == EndReason::failed_to_start);
    REQUIRE(r.error.has_value());
    CHECK(r.error->code == Code::not_found);
    CHECK(r.error->message.find("No such file or directory") !=
          std::string::npos);
  }

  TEST_CASE("run.file_that_is_not_executable_fails_to_start") {
    testsupport::TempDir tmp;
    const auto file = tmp.write_file("script", "#!/bin/sh\ntrue\n");
    RunSpec s;
    s.argv = {file.string()};
    auto r = run_ok(s);
    CHECK(r.reason == EndReason::failed_to_start);
    REQUIRE(r.error.has_value());
    INFO(r.error->to_string());
    CHECK(r.error->code == Code::permission_denied);
    CHECK(r.error->message.find("Permission denied") != std::string::npos);
  }

  TEST_CASE("run.shell_reports_a_missing_command_as_exit_127") {
    auto r = run_ok(shell("nw-no-such-command"));
    CHECK(r.reason == EndReason::exited);
    CHECK(r.exit_code == 127);
    CHECK(r.output.text().find("not found") != std::string::npos);
  }

  TEST_CASE("run.malformed_spec_is_invalid_argument") {
    std::vector<RunSpec> bad(5);
    bad[1].argv = {"true"};
    bad[1].shell = "true";
    bad[2].argv = {"true"};
    bad[2].env = {{"A=B", "c"}};
    bad[3].shell = "true";
    bad[3].timeout = -1ms;
    bad[4].argv = {""};
    for (auto& s : bad) {
      ProcessRunner runner(s, {});
      auto r = runner.run();
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::invalid_argument);
    }
  }

  TEST_CASE("run.second_call_is_failed_precondition") {
    ProcessRunner runner(shell("true"), {});
    NW_CHECK_OK(runner.run());
    auto again = runner.run();
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == Code::failed_precondition);
  }

  TEST_CASE("run.no_agent_descriptor_leaks_into_the_job") {
    const int fd = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC
    REQUIRE(fd >= 0);
    // The shell's own fds are 0-2; ls adds the one it lists /proc with.
    auto r = run_ok(shell("ls /proc/$$/fd"));
    ::close(fd);
    CHECK(r.output.text() == "0\n1\n2\n");
  }

  TEST_CASE("run.timeout_kills_a_tree_that_ignores_sigterm") {
    subreaper();
    RunSpec s = shell("trap '' TERM; sleep 1000 & sleep 1000");
    s.timeout = 300ms;
    s.kill_grace = 200ms;
    auto r = run_ok(s);
    CHECK(r.reason == EndReason::timed_out);
    CHECK(to_string(r.reason) == "timed_out");
    CHECK(r.signal == SIGKILL);
    CHECK_FALSE(r.leftovers);
    CHECK(group_gone(r.pgid));
    MESSAGE("timeout 300ms + grace 200ms: run took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   r.ended_at - r.started_at)
                   .count()
            << " ms");
  }

  TEST_CASE("run.timeout_lets_a_job_stop_gracefully_on_sigterm") {
    subreaper();
    RunSpec s =
        shell("trap 'echo bye; exit 0' TERM; echo hi; sleep 1000 & wait");
    s.timeout = 200ms;
    s.kill_grace = 10s;
    auto r = run_ok(s);
    CHECK(r.reason == EndReason::timed_out);
    CHECK(r.exit_code == 0);
    CHECK(r.output.text() == "hi\nbye\n");
    CHECK(group_gone(r.pgid));
  }

  TEST_CASE("run.background_children_do_not_outlive_the_run") {
    subreaper();
    RunSpec s = shell("sleep 1000 & echo started");
    s.kill_grace = 10s;
    auto r = run_ok(s);
    CHECK(r.reason == EndReason::exited);
    CHECK(r.exit_code == 0);
    CHECK(r.output.text() == "started\n");
    CHECK(group_gone(r.pgid));
  }

  TEST_CASE("cancel.kills_a_running_tree_from_another_thread") {
    subreaper();
    std::atomic<bool> ready{false};
    RunSpec s = shell("trap '' TERM; sleep 1000 & echo ready; sleep 1000");
    s.kill_grace = 100ms;
    ProcessRunner runner(s, {}, [&](std::string_view chunk) {
      if (chunk.find("ready") != std::string_view::npos) ready = true;
    });
    Result<RunResult> result = Error(Code::internal, "not run");
    std::thread t([&] { result = runner.run(); });
    CHECK(testsupport::wait_until([&] { return ready.load(); }, 10s,
                                  "the job to print ready"));
    runner.cancel();
    runner.cancel();  // idempotent
    t.join();
    NW_REQUIRE_OK(result);
    CHECK(result->reason == EndReason::cancelled);
    CHECK(to_string(result->reason) == "cancelled");
    CHECK(result->signal == SIGKILL);
    CHECK(group_gone(result->pgid));
  }

  TEST_CASE("run.throwing_callback_kills_the_tree") {
    subreaper();
    pid_t pgid = 0;
    ProcessRunner runner(shell("echo $$; sleep 1000 & sleep 1000"), {},
                         [&](std::string_view chunk) {
                           pgid = std::stoi(std::string(chunk));
                           throw std::runtime_error("consumer failed");
                         });
    CHECK_THROWS_AS((void)runner.run(), std::runtime_error);
    REQUIRE(pgid > 0);
    CHECK(group_gone(pgid));
  }

  TEST_CASE("cancel.before_run_starts_nothing") {
    ProcessRunner runner(shell("echo should-not-run"), {});
    runner.cancel();
    auto r = runner.run();
    NW_REQUIRE_OK(r);
    CHECK(r->reason == EndReason::cancelled);
    CHECK(r->pgid == 0);
    CHECK(r->output.total_bytes() == 0);
  }

  TEST_CASE("run.output_of_200mb_keeps_head_and_tail_in_flat_memory") {
    rusage before{};
    ::getrusage(RUSAGE_SELF, &before);
    RunSpec s = shell("yes abcdefghi | head -c 200000000");
    s.output_limit = 1 << 20;
    std::uint64_t chunks = 0;
    std::uint64_t seen = 0;
    auto r = run_ok(s, {}, [&](std::string_view c) {
      ++chunks;
      seen += c.size();
    });
    rusage after{};
    ::getrusage(RUSAGE_SELF, &after);
    MESSAGE("200 MB job, limit 1 MiB: peak RSS "
            << before.ru_maxrss << " KiB before, " << after.ru_maxrss
            << " KiB after (" << after.ru_maxrss - before.ru_maxrss << " KiB), "
            << chunks << " chunks");
    CHECK(r.succeeded());
    CHECK(seen == 200'000'000);
    CHECK(r.output.total_bytes() == 200'000'000);
    CHECK(r.output.kept_bytes() == s.output_limit);
    CHECK(r.output.elided_bytes() == 200'000'000 - s.output_limit);
    CHECK(r.output.head().starts_with("abcdefghi\nabcdefghi\n"));
    CHECK(r.output.tail().ends_with("abcdefghi\nabcdefghi\n"));
  }

  TEST_CASE("run.callback_sees_every_byte_in_order") {
    RunSpec s = shell("seq 1 100000");
    s.output_limit = 100;
    std::string streamed;
    auto r = run_ok(s, {}, [&](std::string_view c) { streamed += c; });
    std::string expected;
    for (int i = 1; i <= 100000; ++i) expected += std::to_string(i) + "\n";
    CHECK(streamed == expected);
    CHECK(r.output.head() == expected.substr(0, 50));
    CHECK(r.output.tail() == expected.substr(expected.size() - 50));
  }

  TEST_CASE("run.eight_threads_run_jobs_in_parallel") {
    subreaper();
    constexpr int kThreads = 8;
    constexpr int kRuns = 10;
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t, &good] {
        for (int i = 0; i < kRuns; ++i) {
          const std::string id = std::to_string(t) + "-" + std::to_string(i);
          RunSpec s = shell(
              "echo $NW_RUN_ID; sleep 0.0$NW_SHARD_INDEX; "
              "exit $NW_SHARD_INDEX");
          ProcessRunner runner(
              s, {"par", id, "", static_cast<std::uint32_t>(i), 10});
          auto r = runner.run();
          if (r.ok() && r->reason == EndReason::exited && r->exit_code == i &&
              r->output.text() == id + "\n" && group_gone(r->pgid)) {
            ++good;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(good == kThreads * kRuns);
  }
}

}  // namespace nw::jobs::test
