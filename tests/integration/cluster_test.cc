// Integration tests of the cluster (issue 3): real nwagent processes on
// 127.0.0.1 forming a cluster through their peer ports, driven by the real
// nwctl (cluster_ops_test.cc has nwctl cluster join, transfer-leader,
// --recover refusals, metrics and clocks). Each case starts its own agents
// in its own TempDir. Every wait is a condition with a deadline.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/test_cluster.h"
#include "tests/support/agent_process.h"
#include "tests/support/binaries.h"
#include "tests/support/check.h"
#include "tests/support/local_http.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace nw::testsupport {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE("cluster.form: three agents form a cluster from --bootstrap-expect") {
  TestCluster c(3);
  const std::string leader = c.agreed_leader();
  REQUIRE_FALSE(leader.empty());

  // The linearizable view, asked of a follower (it forwards to the leader).
  AgentProcess* follower = c.followers_of(leader).at(0);
  json s;
  REQUIRE(wait_until(
      [&] {
        s = cluster_status(*follower, false);
        if (s.is_discarded() || s["members"].size() != 3) return false;
        for (const json& m : s["members"]) {
          if (m["role"] != "voter" || m["state"] != "healthy") return false;
          if (m["api_addr"].get<std::string>().empty()) return false;
        }
        return true;
      },
      kFormTimeout, "three healthy voters with addresses"));
  INFO(s.dump(2));
  CHECK(s["leader"] == leader);
  CHECK(s["term"].get<std::uint64_t>() >= 1);
  CHECK(s["commit_index"].get<std::uint64_t>() >= 1);
  CHECK(s["stale"] == false);
  std::set<std::string> ids;
  for (const json& m : s["members"]) {
    ids.insert(m["id"].get<std::string>());
    CHECK(m.contains("peer_addr"));
    CHECK(m.contains("match_index"));
    CHECK(m.contains("lag"));
  }
  CHECK(ids == std::set<std::string>{"n1", "n2", "n3"});

  // Every agent is in the same cluster and says so in nwctl status.
  std::set<std::string> cluster_ids;
  for (AgentProcess& a : c.agents) {
    ProcessResult r = run_nwctl({"--addr", a.addr(), "-o", "json", "status"});
    REQUIRE(r.exit_code == 0);
    json st = parse(r.out);
    cluster_ids.insert(st["cluster_id"].get<std::string>());
    CHECK((st["role"] == "leader" || st["role"] == "follower"));
  }
  CHECK(cluster_ids.size() == 1);
  CHECK_FALSE(cluster_ids.begin()->empty());

  // A restart needs the same command and nothing else.
  AgentProcess& n2 = c.by_id("n2");
  NW_REQUIRE_OK(n2.restart(kFormTimeout));
  CHECK(c.agreed_leader() != "");
}

TEST_CASE(
    "cluster.failover: SIGKILL of the leader, writes go on, it catches "
    "up") {
  TestCluster c(3);
  const std::string first = c.agreed_leader();
  REQUIRE_FALSE(first.empty());
  AgentProcess& old_leader = c.by_id(first);
  AgentProcess* survivor = c.followers_of(first).at(0);
  ProcessResult w = write_label(*survivor, "n1", "before", "1");
  INFO(w.describe());
  REQUIRE(w.exit_code == 0);

  old_leader.kill();
  std::string second;
  REQUIRE(wait_until(
      [&] {
        json s = cluster_status(*survivor, true);
        if (s.is_discarded()) return false;
        second = s["leader"].get<std::string>();
        return !second.empty() && second != first;
      },
      20s, "a survivor reports a new leader"));

  // Writes continue (the first may race the new leader's first commit).
  REQUIRE(wait_until(
      [&] {
        return write_label(*survivor, "n1", "during", "2").exit_code == 0;
      },
      20s, "a write after the failover succeeds"));
  for (int i = 0; i < 5; ++i) {
    ProcessResult r = write_label(*survivor, "n2", "k" + std::to_string(i),
                                  std::to_string(i));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
  }

  // The killed agent restarts and catches up on what it missed.
  NW_REQUIRE_OK(old_leader.start(kFormTimeout));
  CHECK(wait_until(
      [&] {
        json s = cluster_status(old_leader, true);
        return labels_of(s, "n1", "during") == "2" &&
               labels_of(s, "n2", "k4") == "4";
      },
      20s, "the restarted agent applied the writes it missed"));
}

TEST_CASE(
    "cluster.membership: a fourth agent joins as learner, is promoted, "
    "then removed") {
  TestCluster c(3);
  REQUIRE_FALSE(c.agreed_leader().empty());
  AgentProcess n4 = c.joiner("n4", "n4");
  NW_REQUIRE_OK(n4.start(kFormTimeout));

  // Joined as a learner (the leader logs it), then promoted to voter.
  CHECK(wait_until(
      [&] {
        for (AgentProcess& a : c.agents) {
          if (a.current_log().find("node joined as a learner") !=
              std::string::npos) {
            return true;
          }
        }
        return false;
      },
      10s, "the leader added n4 as a learner"));
  REQUIRE(wait_until(
      [&] {
        json s = cluster_status(n4, false);
        if (s.is_discarded()) return false;
        for (const json& m : s["members"]) {
          if (m["id"] == "n4") return m["role"] == "voter";
        }
        return false;
      },
      20s, "n4 promoted to voter"));

  // Removed through any agent; it notices and stops serving the cluster.
  ProcessResult r =
      run_nwctl({"--addr", c.agents[1].addr(), "cluster", "remove", "n4"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(wait_until(
      [&] {
        json s = cluster_status(c.agents[0], false);
        if (s.is_discarded()) return false;
        if (s["members"].size() != 3) return false;
        for (const json& m : s["members"]) {
          if (m["id"] == "n4") return false;
        }
        return true;
      },
      10s, "n4 is no longer a member"));
  CHECK(wait_until(
      [&] {
        ProcessResult st =
            run_nwctl({"--addr", n4.addr(), "-o", "json", "status"});
        return st.exit_code == 0 && parse(st.out)["role"] == "removed";
      },
      10s, "n4 knows it was removed"));
  // A removed agent refuses to start on its old data directory.
  n4.stop();
  NW_REQUIRE_OK(n4.launch());
  std::optional<int> code = n4.wait_exit(20s);
  INFO(n4.log_tail());
  REQUIRE(code.has_value());
  CHECK(*code == 4);
  CHECK(n4.current_log().find("was removed from cluster") != std::string::npos);

  // Removing a member is refused without --force when the voters left
  // would have no healthy majority: kill one follower, remove the other.
  const std::string leader = c.agreed_leader();
  REQUIRE_FALSE(leader.empty());
  std::vector<AgentProcess*> followers = c.followers_of(leader);
  REQUIRE(followers.size() == 2);
  followers[0]->kill();
  const std::string target = followers[1]->data_dir().filename().string();
  ProcessResult refuse;
  REQUIRE(wait_until(
      [&] {
        refuse = run_nwctl(
            {"--addr", c.by_id(leader).addr(), "cluster", "remove", target});
        return refuse.exit_code != 0 && refuse.exit_code != 5;
      },
      20s, "the leader answers the removal"));
  INFO(refuse.describe());
  CHECK(refuse.exit_code == 4);
  CHECK(refuse.err.find("--force") != std::string::npos);
  // With --force it is proposed anyway: the new configuration has no
  // healthy majority, so it commits only once the killed follower is back.
  ProcessResult forced =
      run_nwctl({"--addr", c.by_id(leader).addr(), "--timeout", "3s", "cluster",
                 "remove", target, "--force"});
  INFO(forced.describe());
  CHECK(forced.exit_code != 4);
  NW_REQUIRE_OK(followers[0]->start(kFormTimeout));
  CHECK(wait_until(
      [&] {
        json s = cluster_status(c.by_id(leader), true);
        if (s.is_discarded()) return false;
        for (const json& m : s["members"]) {
          if (m["id"] == target) return false;
        }
        return s["members"].size() == 2;
      },
      20s, "the forced removal completes once a majority is back"));
}

TEST_CASE(
    "cluster.durability: kill -9 of the leader amid writes loses no "
    "acknowledged write") {
  TestCluster c(3);
  const std::string leader = c.agreed_leader();
  REQUIRE_FALSE(leader.empty());
  AgentProcess* via = c.followers_of(leader).at(0);

  std::vector<int> acked;
  std::atomic<int> done{0};
  std::thread writer([&] {
    for (int i = 0; i < 40; ++i) {
      if (write_label(*via, "n1", "w" + std::to_string(i), std::to_string(i))
              .exit_code == 0) {
        acked.push_back(i);
      }
      done = i + 1;
    }
  });
  wait_until([&] { return done >= 10; }, 60s, "ten writes done");
  c.by_id(leader).kill();
  writer.join();
  INFO("acknowledged: ", acked.size(), " of 40");
  CHECK(acked.size() >= 10);

  NW_REQUIRE_OK(c.by_id(leader).start(kFormTimeout));
  for (AgentProcess& a : c.agents) {
    CHECK(wait_until(
        [&] {
          json s = cluster_status(a, true);
          for (int i : acked) {
            if (labels_of(s, "n1", "w" + std::to_string(i)) !=
                std::to_string(i)) {
              return false;
            }
          }
          return true;
        },
        20s, "every acknowledged write is on every agent"));
  }
}

TEST_CASE(
    "cluster.identity: a second agent with a member's node id is "
    "refused") {
  TestCluster c(3);
  REQUIRE_FALSE(c.agreed_leader().empty());
  AgentProcess dup = c.joiner("dup", "n2");
  NW_REQUIRE_OK(dup.launch());
  std::optional<int> code = dup.wait_exit(30s);
  INFO(dup.log_tail());
  REQUIRE(code.has_value());
  CHECK(*code == 4);  // conflict
  CHECK(dup.current_log().find("node id n2 is taken") != std::string::npos);
  // The real n2 is unharmed.
  CHECK(wait_until(
      [&] {
        return write_label(c.agents[0], "n2", "still", "ok").exit_code == 0;
      },
      20s, "writes still work"));
}

TEST_CASE("cluster.recover: a lone survivor becomes a cluster of one") {
  TestCluster c(3);
  REQUIRE_FALSE(c.agreed_leader().empty());
  REQUIRE(wait_until(
      [&] {
        return write_label(c.agents[0], "n1", "kept", "yes").exit_code == 0;
      },
      20s, "a write before the loss"));
  // Two of three gone for good: n1 cannot commit any more.
  c.agents[1].kill();
  c.agents[2].kill();
  ProcessResult stuck = run_nwctl({"--addr", c.agents[0].addr(), "--timeout",
                                   "20s", "cluster", "label", "n1", "x=y"});
  CHECK(stuck.exit_code != 0);

  c.agents[0].stop();
  ProcessResult rec = run({agent_binary(), "--data-dir",
                           c.agents[0].data_dir().string(), "--recover"});
  INFO(rec.describe());
  REQUIRE(rec.exit_code == 0);
  CHECK(rec.out.find("only voter") != std::string::npos);

  NW_REQUIRE_OK(c.agents[0].start(kFormTimeout));
  json s;
  REQUIRE(wait_until(
      [&] {
        s = cluster_status(c.agents[0], false);
        return !s.is_discarded() && s["leader"] == "n1";
      },
      20s, "n1 leads alone"));
  CHECK(s["members"].size() == 1);
  CHECK(labels_of(s, "n1", "kept") == "yes");
  CHECK(write_label(c.agents[0], "n1", "after", "recover").exit_code == 0);

  // A former member joins again with an empty data directory.
  AgentProcess again = c.joiner("n2-again", "n2");
  NW_REQUIRE_OK(again.start(kFormTimeout));
  CHECK(wait_until(
      [&] {
        json v = cluster_status(again, true);
        return labels_of(v, "n1", "after") == "recover";
      },
      20s, "the new member has the state"));
}

// Agents named `specs[i].first` with node id `specs[i].second`, each
// started with --bootstrap-expect `expect` and --join of all the others
// (as TestCluster does, but with the ids chosen freely); not launched.
std::vector<AgentProcess> bootstrap_agents(
    const TempDir& dir,
    const std::vector<std::pair<std::string, std::string>>& specs, int expect) {
  std::vector<AgentProcess> agents;
  for (const auto& [name, id] : specs) {
    AgentOptions o;
    o.name = name;
    agents.emplace_back(dir, o);
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    std::string join;
    for (std::size_t j = 0; j < specs.size(); ++j) {
      if (j == i) continue;
      if (!join.empty()) join += ",";
      join += agents[j].peer_addr();
    }
    AgentOptions o;
    o.name = specs[i].first;
    o.port = agents[i].port();
    o.peer_port = agents[i].peer_port();
    o.extra_args = {"--node-id",
                    specs[i].second,
                    "--bootstrap-expect",
                    std::to_string(expect),
                    "--join",
                    join};
    agents[i] = AgentProcess(dir, o);
  }
  return agents;
}

TEST_CASE(
    "cluster.identity: two agents started with one node id at bootstrap "
    "are both refused") {
  TempDir dir{"twins"};
  // n1a and n1b are both --node-id n1 (the mistake); n2 is innocent.
  std::vector<AgentProcess> agents =
      bootstrap_agents(dir, {{"n1a", "n1"}, {"n1b", "n1"}, {"n2", "n2"}}, 3);
  for (AgentProcess& a : agents) NW_REQUIRE_OK(a.launch());

  // Which of the two the operator meant cannot be known: both stop, with
  // the conflict exit code and the other's address in the message.
  for (std::size_t i : {0u, 1u}) {
    AgentProcess& twin = agents[i];
    const AgentProcess& other = agents[1 - i];
    CAPTURE(twin.data_dir().filename().string());
    std::optional<int> code = twin.wait_exit(30s);
    INFO(twin.log_tail());
    REQUIRE(code.has_value());
    CHECK(*code == 4);
    const std::string log = twin.current_log();
    CHECK(log.find("node id n1 is taken: the agent at " + other.peer_addr() +
                   " uses it too") != std::string::npos);
    CHECK(log.find("--node-id") != std::string::npos);
  }

  // The innocent agent formed nothing with them: it is still looking.
  AgentProcess& n2 = agents[2];
  REQUIRE(n2.running());
  ProcessResult st = run_nwctl({"--addr", n2.addr(), "-o", "json", "status"});
  INFO(st.describe());
  REQUIRE(st.exit_code == 0);
  CHECK(parse(st.out)["cluster_id"] == "");
  CHECK(n2.current_log().find("forming a new cluster") == std::string::npos);
  CHECK(n2.current_log().find("two agents use one node id") !=
        std::string::npos);

  // Fixed: n1a again as it was, the other one as n3 on the same ports.
  NW_REQUIRE_OK(agents[0].launch());
  {
    AgentOptions o;
    o.name = "n3";
    o.port = agents[1].port();
    o.peer_port = agents[1].peer_port();
    o.extra_args = {
        "--node-id", "n3",     "--bootstrap-expect",
        "3",         "--join", agents[0].peer_addr() + "," + n2.peer_addr()};
    agents[1] = AgentProcess(dir, o);
  }
  NW_REQUIRE_OK(agents[1].launch());
  for (AgentProcess& a : agents) NW_REQUIRE_OK(a.wait_ready(kFormTimeout));
  json s;
  CHECK(wait_until(
      [&] {
        s = cluster_status(n2, false);
        if (s.is_discarded()) return false;
        std::set<std::string> ids;
        for (const json& m : s["members"]) {
          ids.insert(m["id"].get<std::string>());
        }
        return s["members"].size() == 3 &&
               ids == std::set<std::string>{"n1", "n2", "n3"};
      },
      kFormTimeout, "n1, n2 and n3 form a cluster"));
  INFO(s.dump(2));
}

}  // namespace
}  // namespace nw::testsupport
