// Integration tests of scheduled jobs and cluster locks (issue 5): real
// nwagent processes running real child processes, driven by the real
// nwctl (job, lock). Every wait is a condition with a deadline.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common/base/time.h"
#include "tests/integration/test_cluster.h"
#include "tests/support/binaries.h"

namespace nw::testsupport {
namespace {

namespace fs = std::filesystem;

// Short leases and grace periods so that lost runs and kills show quickly.
const std::vector<std::string> kFastJobs = {"--jobs-lease", "3s",
                                            "--jobs-kill-grace", "1s"};

ProcessResult nwctl(const AgentProcess& via, std::vector<std::string> args,
                    Duration timeout = 60s) {
  std::vector<std::string> full{"--addr", via.addr(), "--timeout", "20s"};
  full.insert(full.end(), args.begin(), args.end());
  return run_nwctl(full, {}, std::nullopt, timeout);
}

// Writes `toml` to a file in the cluster's dir and applies it.
void apply(TestCluster& c, const std::string& name, const std::string& toml) {
  const fs::path file = c.dir.path() / (name + ".toml");
  std::ofstream(file) << toml;
  ProcessResult r = nwctl(c.agents[0], {"job", "apply", "-f", file.string()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
}

json history(const AgentProcess& via, const std::string& job) {
  ProcessResult r =
      nwctl(via, {"-o", "json", "job", "history", job, "-n", "1000"});
  if (r.exit_code != 0) return json(json::value_t::discarded);
  json j = parse(r.out);
  return j.is_discarded() ? j : j["runs"];
}

json missed(const AgentProcess& via, const std::string& job) {
  ProcessResult r = nwctl(via, {"-o", "json", "job", "missed", job});
  if (r.exit_code != 0) return json(json::value_t::discarded);
  json j = parse(r.out);
  return j.is_discarded() ? j : j["missed"];
}

// Waits until `job` has at least `n` finished runs; returns the history.
json wait_finished(TestCluster& c, const std::string& job, std::size_t n,
                   Duration timeout = 30s) {
  json h;
  wait_until(
      [&] {
        for (AgentProcess& a : c.agents) {
          if (!a.running()) continue;
          h = history(a, job);
          if (h.is_discarded()) return false;
          std::size_t done = 0;
          for (const json& r : h) done += r["ended"].is_null() ? 0 : 1;
          return done >= n;
        }
        return false;
      },
      timeout, "finished runs of " + job);
  return h;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The agent's resident set in KiB (VmRSS of /proc/PID/status).
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::int64_t parse_rfc3339_ms(const std::string& text) {
  Result<WallTime> t = parse_rfc3339(text);
  REQUIRE_MESSAGE(t.ok(), text);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             t->time_since_epoch())
      .count();
}

bool pid_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

TEST_SUITE("integration.jobs") {
  TEST_CASE("job.forbid_survives_leader_kills") {
    TestCluster c(3, kFastJobs);
    const fs::path log = c.dir.path() / "forbid.log";
    // Each run records its start and end; a run takes 600 ms of a 1 s
    // period, so runs never need to overlap.
    apply(c, "forbid",
          "[job.tick]\n"
          "shell = \"echo start $NW_RUN_ID $(date +%s%N) >> " +
              log.string() +
              "; sleep 0.6; echo end $NW_RUN_ID $(date +%s%N) >> " +
              log.string() +
              "\"\n"
              "schedule = \"@every 1s\"\n"
              "concurrency = \"forbid\"\n"
              "missed = \"skip\"\n"
              "starting_deadline = \"1s\"\n");
    wait_finished(c, "tick", 3);

    // SIGKILL the leader three times, bringing it back each time.
    for (int round = 0; round < 3; ++round) {
      const std::string leader = c.agreed_leader();
      REQUIRE_FALSE(leader.empty());
      AgentProcess& victim = c.by_id(leader);
      victim.kill();
      std::string next;
      REQUIRE(wait_until(
          [&] {
            next = c.agreed_leader(2s);
            return !next.empty() && next != leader;
          },
          30s, "a new leader"));
      NW_REQUIRE_OK(victim.start());
      // Let the cluster run a few slots between the kills.
      const std::size_t before = history(c.by_id(next), "tick").size();
      REQUIRE(wait_until(
          [&] {
            json h = history(c.by_id(next), "tick");
            return !h.is_discarded() && h.size() >= before + 3;
          },
          30s, "runs after the failover"));
    }

    // Stop the schedule, then wait until no run is unfinished.
    ProcessResult p = nwctl(c.agents[0], {"job", "pause", "tick"});
    REQUIRE_MESSAGE(p.exit_code == 0, p.err);
    json runs;
    REQUIRE(wait_until(
        [&] {
          runs = history(c.agents[0], "tick");
          if (runs.is_discarded()) return false;
          for (const json& r : runs) {
            if (r["ended"].is_null()) return false;
          }
          return true;
        },
        30s, "every run finished"));
    const json miss = missed(c.agents[0], "tick");
    REQUIRE_FALSE(miss.is_discarded());

    // Every slot from the first run to the pause has exactly one outcome:
    // a run or a missed record with its reason.
    std::map<std::int64_t, int> outcomes;
    std::int64_t first = INT64_MAX;
    std::int64_t last = 0;
    for (const json& r : runs) {
      if (r["trigger"] != "schedule") continue;
      const std::int64_t s = r["slot_ms"].get<std::int64_t>();
      ++outcomes[s];
      first = std::min(first, s);
      last = std::max(last, s);
    }
    std::size_t paused = 0;
    for (const json& m : miss) {
      const std::int64_t s = m["slot_ms"].get<std::int64_t>();
      CHECK_FALSE(m["reason"].get<std::string>().empty());
      if (m["reason"] == "job paused") {
        ++paused;
        continue;
      }
      ++outcomes[s];
      last = std::max(last, s);
    }
    REQUIRE(first < last);
    MESSAGE("slots " << first << ".." << last << ": " << runs.size()
                     << " runs, " << miss.size() << " missed (" << paused
                     << " paused)");
    for (std::int64_t s = first; s <= last; s += 1000) {
      CHECK_MESSAGE(outcomes[s] == 1,
                    "slot " << s << " has " << outcomes[s] << " outcomes");
    }
    CHECK(outcomes.size() ==
          static_cast<std::size_t>((last - first) / 1000 + 1));

    // No two runs overlapped: ordered by start, each starts after the
    // previous one ended.
    std::map<std::string, std::pair<long long, long long>> spans;
    for (const std::string& line : lines_of(read_file(log))) {
      std::istringstream in(line);
      std::string what, id;
      long long ns = 0;
      in >> what >> id >> ns;
      if (what == "start") spans[id].first = ns;
      if (what == "end") spans[id].second = ns;
    }
    std::vector<std::pair<long long, long long>> ordered;
    for (const auto& [id, span] : spans) {
      CHECK_MESSAGE(span.second != 0, "run " << id << " never ended");
      ordered.push_back(span);
    }
    std::sort(ordered.begin(), ordered.end());
    REQUIRE(ordered.size() >= 6);
    for (std::size_t i = 1; i < ordered.size(); ++i) {
      CHECK(ordered[i].first >= ordered[i - 1].second);
    }
  }

  TEST_CASE("job.timeout_kills_a_tree_that_ignores_sigterm") {
    TestCluster c(3, kFastJobs);
    const fs::path pids = c.dir.path() / "pids";
    apply(c, "timeout",
          "[job.stubborn]\n"
          "shell = \"trap '' TERM; (trap '' TERM; sleep 300) & echo $$ $! > " +
              pids.string() +
              "; sleep 300\"\n"
              "schedule = \"0 0 0 1 1 *\"\n"
              "timeout = \"1s\"\n");
    ProcessResult r = nwctl(c.agents[1], {"job", "run", "stubborn", "--wait"});
    // timed_out: no exit code of its own; nwctl says so and exits 1.
    CHECK(r.exit_code != 0);
    json h = wait_finished(c, "stubborn", 1);
    REQUIRE(h.size() == 1);
    CHECK(h[0]["state"] == "timed_out");
    CHECK(h[0]["reason"].get<std::string>().find("timed out") !=
          std::string::npos);
    std::istringstream in(read_file(pids));
    pid_t shell = 0, child = 0;
    in >> shell >> child;
    REQUIRE(shell > 0);
    REQUIRE(child > 0);
    CHECK(wait_until([&] { return !pid_alive(shell) && !pid_alive(child); },
                     10s, "the whole tree is gone"));
  }

  TEST_CASE("job.retries_wait_longer_each_time") {
    TestCluster c(3, kFastJobs);
    apply(c, "retries",
          "[job.flaky]\n"
          "shell = \"exit 3\"\n"
          "schedule = \"0 0 0 1 1 *\"\n"
          "retries = { max = 2, backoff = \"1s\", max_backoff = \"10s\", "
          "jitter = 0.0 }\n");
    ProcessResult r = nwctl(c.agents[0], {"job", "run", "flaky"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    json h = wait_finished(c, "flaky", 3);
    REQUIRE(h.size() == 3);
    // Newest first: attempts 3, 2, 1, all failed with status 3.
    std::vector<json> runs(h.rbegin(), h.rend());
    for (std::size_t i = 0; i < runs.size(); ++i) {
      CHECK(runs[i]["attempt"] == i + 1);
      CHECK(runs[i]["state"] == "failed");
      CHECK(runs[i]["exit_code"] == 3);
    }
    CHECK(runs[1]["trigger"] == "retry");
    // created is when the leader committed the attempt; the waits are the
    // backoff (1 s, then 2 s) after the previous end.
    auto ms = [](const json& run, const char* key) {
      return parse_rfc3339_ms(run[key].get<std::string>());
    };
    const std::int64_t wait1 = ms(runs[1], "created") - ms(runs[0], "ended");
    const std::int64_t wait2 = ms(runs[2], "created") - ms(runs[1], "ended");
    CHECK(wait1 >= 1000);
    CHECK(wait2 >= 2000);
    CHECK(wait2 > wait1);
  }

  TEST_CASE("job.replace_stops_the_old_run") {
    TestCluster c(3, kFastJobs);
    apply(c, "replace",
          "[job.long]\n"
          "shell = \"sleep 300\"\n"
          "schedule = \"0 0 0 1 1 *\"\n"
          "concurrency = \"replace\"\n");
    ProcessResult first = nwctl(c.agents[0], {"job", "run", "long"});
    REQUIRE_MESSAGE(first.exit_code == 0, first.err);
    REQUIRE(wait_until(
        [&] {
          json h = history(c.agents[0], "long");
          return !h.is_discarded() && h.size() == 1 &&
                 h[0]["state"] == "running";
        },
        20s, "the first run runs"));
    ProcessResult second = nwctl(c.agents[0], {"job", "run", "long"});
    REQUIRE_MESSAGE(second.exit_code == 0, second.err);
    json h;
    REQUIRE(wait_until(
        [&] {
          h = history(c.agents[0], "long");
          return !h.is_discarded() && h.size() == 2 &&
                 h[1]["state"] == "cancelled" && h[0]["state"] == "running";
        },
        20s, "the old run cancelled, the new one running"));
    CHECK(h[1]["reason"].get<std::string>().find("replaced") !=
          std::string::npos);
    // forbid refuses a second run by hand while one is going.
    apply(c, "replace",
          "[job.long]\n"
          "shell = \"sleep 300\"\n"
          "schedule = \"0 0 0 1 1 *\"\n"
          "concurrency = \"forbid\"\n");
    ProcessResult refused = nwctl(c.agents[2], {"job", "run", "long"});
    CHECK(refused.exit_code != 0);
    CHECK(refused.err.find("in progress") != std::string::npos);
    const std::string id = std::to_string(h[0]["run_id"].get<std::uint64_t>());
    ProcessResult killed = nwctl(c.agents[2], {"job", "kill", id});
    CHECK_MESSAGE(killed.exit_code == 0, killed.err);
    CHECK(wait_until(
        [&] {
          json k = history(c.agents[0], "long");
          return !k.is_discarded() && k[0]["state"] == "cancelled";
        },
        20s, "the killed run ends cancelled"));
  }

  TEST_CASE("job.big_output_keeps_head_and_tail_in_flat_memory") {
    TestCluster c(3, kFastJobs);
    apply(c, "output",
          "[job.chatty]\n"
          "shell = \"echo FIRST-LINE; head -c 200000000 /dev/zero | tr "
          "'\\\\\\\\0' x; echo; echo LAST-LINE\"\n"
          "schedule = \"0 0 0 1 1 *\"\n"
          "output_limit = \"64KiB\"\n"
          "placement = { labels = { out = \"yes\" } }\n");
    ProcessResult label =
        nwctl(c.agents[1], {"cluster", "label", "n2", "out=yes"});
    REQUIRE_MESSAGE(label.exit_code == 0, label.err);
    AgentProcess& runner = c.by_id("n2");
    const long before = rss_kib(runner.pid());
    REQUIRE(before > 0);
    ProcessResult r =
        nwctl(c.agents[0], {"job", "run", "chatty", "--wait"}, 120s);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    json h = wait_finished(c, "chatty", 1);
    CHECK(h[0]["agent"] == "n2");
    const long after = rss_kib(runner.pid());
    // 200 MB went through the agent; it kept 64 KiB.
    CHECK_MESSAGE(after - before < 50 * 1024,
                  "rss " << before << " -> " << after << " KiB");
    const std::string id = std::to_string(h[0]["run_id"].get<std::uint64_t>());
    ProcessResult logs = nwctl(c.agents[2], {"job", "logs", id});
    REQUIRE_MESSAGE(logs.exit_code == 0, logs.err);
    CHECK(logs.out.rfind("FIRST-LINE\n", 0) == 0);
    CHECK(logs.out.find("LAST-LINE") != std::string::npos);
    CHECK(logs.out.size() <= 64 * 1024 + 1024);
    CHECK(logs.err.find("elided") != std::string::npos);
  }

  TEST_CASE("job.placement_shards_and_pause") {
    TestCluster c(3, kFastJobs);
    ProcessResult label =
        nwctl(c.agents[0], {"cluster", "label", "n3", "role=db"});
    REQUIRE_MESSAGE(label.exit_code == 0, label.err);
    apply(c, "placement",
          "[job.db-only]\n"
          "shell = \"echo on db\"\n"
          "schedule = \"@every 1s\"\n"
          "placement = { labels = { role = \"db\" } }\n"
          "\n"
          "[job.sharded]\n"
          "shell = \"echo shard $NW_SHARD_INDEX of $NW_SHARD_COUNT\"\n"
          "schedule = \"0 0 0 1 1 *\"\n"
          "placement = { count = 3 }\n");
    json h = wait_finished(c, "db-only", 3);
    for (const json& r : h) CHECK(r["agent"] == "n3");

    ProcessResult r = nwctl(c.agents[1], {"job", "run", "sharded", "--wait"});
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    json s = wait_finished(c, "sharded", 3);
    REQUIRE(s.size() == 3);
    std::set<std::string> agents;
    std::set<int> shards;
    for (const json& run : s) {
      agents.insert(run["agent"].get<std::string>());
      shards.insert(run["shard_index"].get<int>());
      CHECK(run["shard_count"] == 3);
      const std::string id = std::to_string(run["run_id"].get<std::uint64_t>());
      ProcessResult logs = nwctl(c.agents[0], {"job", "logs", id});
      CHECK(logs.out == "shard " +
                            std::to_string(run["shard_index"].get<int>()) +
                            " of 3\n");
    }
    CHECK(agents.size() == 3);
    CHECK(shards == std::set<int>{0, 1, 2});

    // Paused: no new runs, the slots are listed as missed.
    ProcessResult p = nwctl(c.agents[2], {"job", "pause", "db-only"});
    REQUIRE_MESSAGE(p.exit_code == 0, p.err);
    const std::size_t runs_at_pause = history(c.agents[0], "db-only").size();
    REQUIRE(wait_until(
        [&] {
          json m = missed(c.agents[0], "db-only");
          std::size_t paused = 0;
          for (const json& x : m) paused += x["reason"] == "job paused";
          return paused >= 3;
        },
        20s, "three paused slots"));
    // At most one run was already on its way when the pause committed.
    CHECK(history(c.agents[0], "db-only").size() <= runs_at_pause + 1);
  }

  TEST_CASE("job.run_wait_returns_the_exit_code") {
    TestCluster c(3, kFastJobs);
    apply(c, "wait",
          "[job.seven]\n"
          "shell = \"echo out; echo err >&2; exit 7\"\n"
          "schedule = \"0 0 0 1 1 *\"\n");
    ProcessResult r = nwctl(c.agents[2], {"job", "run", "seven", "--wait"});
    CHECK(r.exit_code == 7);
    CHECK(r.out.find("out\n") != std::string::npos);
    CHECK(r.out.find("err\n") != std::string::npos);
    // A bad file is refused with its line and nothing changes.
    const fs::path bad = c.dir.path() / "bad.toml";
    std::ofstream(bad)
        << "[job.x]\nshell = \"true\"\nschedule = \"@every 1s\"\n"
           "colour = \"blue\"\n";
    ProcessResult refused =
        nwctl(c.agents[0], {"job", "apply", "-f", bad.string()});
    CHECK(refused.exit_code != 0);
    CHECK(refused.err.find("bad.toml:4") != std::string::npos);
    CHECK(refused.err.find("colour") != std::string::npos);
  }

  TEST_CASE("job.lost_with_its_agent_and_retried_elsewhere") {
    TestCluster c(3, kFastJobs);
    for (const char* node : {"n2", "n3"}) {
      ProcessResult l =
          nwctl(c.agents[0], {"cluster", "label", node, "pin=yes"});
      REQUIRE_MESSAGE(l.exit_code == 0, l.err);
    }
    apply(c, "lost",
          "[job.survivor]\n"
          "shell = \"sleep 2\"\n"
          "schedule = \"0 0 0 1 1 *\"\n"
          "placement = { labels = { pin = \"yes\" } }\n"
          "retries = { max = 1, backoff = \"1s\", jitter = 0.0 }\n");
    ProcessResult r = nwctl(c.agents[0], {"job", "run", "survivor"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    json h;
    REQUIRE(wait_until(
        [&] {
          h = history(c.agents[0], "survivor");
          return !h.is_discarded() && h.size() == 1 &&
                 h[0]["state"] == "running";
        },
        20s, "the run runs"));
    const std::string first_agent = h[0]["agent"].get<std::string>();
    AgentProcess& doomed = c.by_id(first_agent);
    doomed.kill();
    // After the lease (3 s) the run is lost and attempt 2 runs on the
    // other labelled agent.
    REQUIRE(wait_until(
        [&] {
          h = history(c.agents[0], "survivor");
          return !h.is_discarded() && h.size() == 2 &&
                 h[0]["state"] == "succeeded";
        },
        40s, "the retry succeeded"));
    CHECK(h[1]["state"] == "lost");
    CHECK(h[1]["reason"].get<std::string>().find("lease") != std::string::npos);
    CHECK(h[0]["attempt"] == 2);
    CHECK(h[0]["agent"] != first_agent);
    // The dead runner comes back: the run it had started is settled
    // (lost), so its report is discarded and the history does not change.
    NW_REQUIRE_OK(doomed.start());
    CHECK(doomed.wait_for_log("report discarded", 20s));
    json after = history(c.agents[0], "survivor");
    REQUIRE(after.size() == 2);
    CHECK(after[1]["state"] == "lost");
  }

  TEST_CASE("job.a_full_pool_queues_runs_by_priority") {
    TestCluster c(3, {"--jobs-lease", "3s", "--jobs-kill-grace", "1s",
                      "--jobs-workers", "1"});
    ProcessResult l = nwctl(c.agents[0], {"cluster", "label", "n1", "one=yes"});
    REQUIRE_MESSAGE(l.exit_code == 0, l.err);
    const fs::path order = c.dir.path() / "order";
    auto job = [&](const std::string& name, int priority, double secs) {
      return "[job." + name + "]\nshell = \"echo " + name + " >> " +
             order.string() + "; sleep " + std::to_string(secs) +
             "\"\nschedule = \"0 0 0 1 1 *\"\npriority = " +
             std::to_string(priority) +
             "\nplacement = { labels = { one = \"yes\" } }\n\n";
    };
    apply(c, "pool",
          job("blocker", 0, 2.0) + job("low", 1, 0.1) + job("high", 9, 0.1));
    REQUIRE(nwctl(c.agents[0], {"job", "run", "blocker"}).exit_code == 0);
    REQUIRE(wait_until([&] { return fs::exists(order); }, 20s, "blocker runs"));
    REQUIRE(nwctl(c.agents[0], {"job", "run", "low"}).exit_code == 0);
    REQUIRE(nwctl(c.agents[0], {"job", "run", "high"}).exit_code == 0);
    // The one worker is busy: both wait, visibly.
    json low = history(c.agents[0], "low");
    REQUIRE(low.size() == 1);
    CHECK(low[0]["state"] == "dispatched");
    wait_finished(c, "low", 1);
    wait_finished(c, "high", 1);
    // The higher priority went first, though asked for later.
    CHECK(lines_of(read_file(order)) ==
          std::vector<std::string>{"blocker", "high", "low"});
  }

  TEST_CASE("lock.contenders_never_overlap_and_a_dead_holder_expires") {
    TestCluster c(3, kFastJobs);
    const fs::path log = c.dir.path() / "lock.log";
    const std::string body = "echo in $$ >> " + log.string() +
                             "; sleep 0.3; echo out $$ >> " + log.string();
    // Four contenders through different agents, each taking the lock
    // twice.
    std::vector<std::thread> ts;
    std::vector<int> codes(4, -1);
    for (int i = 0; i < 4; ++i) {
      ts.emplace_back([&, i] {
        int rc = 0;
        for (int k = 0; k < 2 && rc == 0; ++k) {
          ProcessResult r = nwctl(
              c.agents[static_cast<std::size_t>(i) % 3],
              {"lock", "backup", "--ttl", "5s", "--", "/bin/sh", "-c", body},
              60s);
          rc = r.exit_code;
        }
        codes[static_cast<std::size_t>(i)] = rc;
      });
    }
    for (std::thread& t : ts) t.join();
    for (int rc : codes) CHECK(rc == 0);
    std::vector<std::string> lines = lines_of(read_file(log));
    REQUIRE(lines.size() == 16);
    for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
      CHECK(lines[i].rfind("in ", 0) == 0);
      CHECK(lines[i + 1] == "out " + lines[i].substr(3));
    }

    // A holder whose agent dies: its lock is free again after the ttl.
    const std::string leader = c.agreed_leader();
    AgentProcess* via = c.followers_of(leader).front();
    const fs::path held = c.dir.path() / "held";
    std::thread holder([&] {
      nwctl(*via,
            {"lock", "nightly", "--ttl", "3s", "--", "/bin/sh", "-c",
             "touch " + held.string() + "; sleep 300"},
            60s);
    });
    REQUIRE(wait_until([&] { return fs::exists(held); }, 20s, "lock held"));
    const auto killed_at = std::chrono::steady_clock::now();
    via->kill();
    AgentProcess& other = c.by_id(leader);
    ProcessResult second = nwctl(
        other, {"lock", "nightly", "--ttl", "3s", "--", "/bin/true"}, 60s);
    const auto waited = std::chrono::steady_clock::now() - killed_at;
    CHECK_MESSAGE(second.exit_code == 0, second.err);
    // It had to wait for the lease: at least the ttl minus one renewal
    // period (3 s - 1 s).
    CHECK(waited >= 2s);
    holder.join();
  }
}

}  // namespace
}  // namespace nw::testsupport
