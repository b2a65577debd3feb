// A measurement, not a test: the launch overhead of one run through
// ProcessRunner against a bare fork/exec/waitpid of the same command.
// Skipped by default; run it with
//   jobs_runner_test -ts=jobs.bench --no-skip -s
// (NW_BENCH_N sets the number of launches per variant, 2000 by default).
#include <doctest/doctest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "agent/jobs/process_runner.h"

extern char** environ;

namespace nw::jobs::test {
namespace {

struct Stats {
  double median_us;
  double p99_us;
};

Stats measure(int n, const std::function<void()>& launch) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    launch();
    us.push_back(std::chrono::duration<double, std::micro>(
                     std::chrono::steady_clock::now() - t0)
                     .count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

void bare_fork_exec() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    char* argv[] = {const_cast<char*>("true"), nullptr};
    ::execv("/bin/true", argv);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
}

void bare_posix_spawn() {
  char* argv[] = {const_cast<char*>("true"), nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) ==
          0);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

void runner(RunSpec spec) {
  ProcessRunner r(std::move(spec), {"bench", "run", "", 0, 1});
  auto result = r.run();
  REQUIRE(result.ok());
  REQUIRE(result->succeeded());
}

}  // namespace

TEST_SUITE("jobs.bench" * doctest::skip()) {
  TEST_CASE("launch.runner_against_bare_fork_exec") {
    const char* env_n = std::getenv("NW_BENCH_N");
    const int n = env_n ? std::atoi(env_n) : 2000;
    RunSpec argv_spec;
    argv_spec.argv = {"/bin/true"};
    RunSpec shell_spec;
    shell_spec.shell = "/bin/true";
    // Warm up the page cache and the allocator.
    measure(50, bare_fork_exec);
    measure(50, [&] { runner(argv_spec); });

    const Stats bare = measure(n, bare_fork_exec);
    const Stats spawn = measure(n, bare_posix_spawn);
    const Stats direct = measure(n, [&] { runner(argv_spec); });
    const Stats sh = measure(n, [&] { runner(shell_spec); });
    auto line = [&](const std::string& name, Stats s) {
      MESSAGE(name << ": median " << s.median_us << " us, p99 " << s.p99_us
                   << " us; x" << s.median_us / bare.median_us
                   << " of bare fork/exec (median), x" << s.p99_us / bare.p99_us
                   << " (p99)");
    };
    MESSAGE(n << " launches of /bin/true per variant");
    line("bare fork/execv/waitpid      ", bare);
    line("bare posix_spawn/waitpid     ", spawn);
    line("runner argv {/bin/true}      ", direct);
    line("runner shell 'sh -c /bin/true'", sh);

    // An agent is not a 5 MB test: with 256 MiB resident, fork() copies
    // its page tables at every launch, the vfork-style posix_spawn does not.
    std::vector<char> ballast(256u << 20, 1);
    for (std::size_t i = 0; i < ballast.size(); i += 4096) ballast[i] = 2;
    const Stats big_bare = measure(n / 4, bare_fork_exec);
    const Stats big_direct = measure(n / 4, [&] { runner(argv_spec); });
    MESSAGE("with 256 MiB resident, " << n / 4 << " launches each:");
    MESSAGE("bare fork/execv/waitpid      : median "
            << big_bare.median_us << " us, p99 " << big_bare.p99_us << " us");
    MESSAGE("runner argv {/bin/true}      : median "
            << big_direct.median_us << " us, p99 " << big_direct.p99_us
            << " us; x" << big_direct.median_us / big_bare.median_us
            << " of bare fork/exec (median)");
  }
}

}  // namespace nw::jobs::test
