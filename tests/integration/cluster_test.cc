// Integration tests of the cluster (issue 3): real nwagent processes on
// 127.0.0.1 forming a cluster through their peer ports, driven by the real
// nwctl. Each case starts its own agents in its own TempDir. Every wait is
// a condition with a deadline.

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

// The label write every test uses: one replicated controller write.
ProcessResult write_label(const AgentProcess& via, const std::string& node,
                          const std::string& key, const std::string& value) {
  return run_nwctl({"--addr", via.addr(), "--timeout", "8s", "cluster", "label",
                    node, key + "=" + value});
}

std::string labels_of(const json& status, const std::string& node,
                      const std::string& key) {
  if (status.is_discarded()) return {};
  for (const json& m : status["members"]) {
    if (m["id"] == node && m["labels"].contains(key)) {
      return m["labels"][key].get<std::string>();
    }
  }
  return {};
}

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

TEST_CASE(
    "cluster.join: nwctl cluster join makes a running agent a voter that "
    "sees later writes") {
  TestCluster c(3);
  const std::string leader = c.agreed_leader();
  REQUIRE_FALSE(leader.empty());
  const std::string cluster =
      cluster_status(c.agents[0], true)["cluster_id"].get<std::string>();
  REQUIRE_FALSE(cluster.empty());

  // Started with neither --join nor --bootstrap-expect: a cluster of one.
  AgentOptions o;
  o.name = "n4";
  o.extra_args = {"--node-id", "n4"};
  AgentProcess n4(c.dir, o);
  NW_REQUIRE_OK(n4.start(kFormTimeout));
  json alone = cluster_status(n4, true);
  REQUIRE_FALSE(alone.is_discarded());
  CHECK(alone["members"].size() == 1);
  CHECK(alone["leader"] == "n4");
  CHECK(alone["cluster_id"] != cluster);

  // nwctl asks n4 (--addr) to join; ADDR is a member's peer address, a
  // follower's here, which points n4 at the leader.
  AgentProcess* follower = c.followers_of(leader).at(0);
  ProcessResult j =
      run_nwctl({"--addr", n4.addr(), "--timeout", "40s", "-o", "table",
                 "cluster", "join", follower->peer_addr()});
  INFO(j.describe());
  REQUIRE(j.exit_code == 0);
  // It answers once it knows the leader, so the leader is named.
  CHECK(std::regex_match(j.out, std::regex("joined cluster " + cluster +
                                           " as n4 \\(leader n[123]\\)\n")));
  CHECK(n4.current_log().find("giving up this agent's cluster of one") !=
        std::string::npos);

  // A member with n4's addresses, promoted to voter once caught up.
  json s;
  CHECK(wait_until(
      [&] {
        s = cluster_status(c.agents[0], false);
        if (s.is_discarded() || s["members"].size() != 4) return false;
        for (const json& m : s["members"]) {
          if (m["id"] != "n4") continue;
          return m["role"] == "voter" && m["state"] == "healthy" &&
                 m["api_addr"] == n4.addr() && m["peer_addr"] == n4.peer_addr();
        }
        return false;
      },
      kFormTimeout, "n4 is a healthy voter with its addresses"));
  INFO(s.dump(2));

  // A write committed afterwards reaches n4.
  ProcessResult w = write_label(c.agents[0], "n1", "after_join", "yes");
  INFO(w.describe());
  REQUIRE(w.exit_code == 0);
  CHECK(wait_until(
      [&] {
        json v = cluster_status(n4, true);
        return !v.is_discarded() && v["cluster_id"] == cluster &&
               labels_of(v, "n1", "after_join") == "yes";
      },
      20s, "n4 applied the write"));
  ProcessResult st = run_nwctl({"--addr", n4.addr(), "-o", "json", "status"});
  REQUIRE(st.exit_code == 0);
  CHECK(parse(st.out)["cluster_id"] == cluster);

  // A member of a cluster of several is never moved by a join.
  ProcessResult again = run_nwctl(
      {"--addr", c.agents[1].addr(), "cluster", "join", n4.peer_addr()});
  INFO(again.describe());
  CHECK(again.exit_code == 4);
  CHECK(again.err.find("is a member of cluster " + cluster + " already") !=
        std::string::npos);
}

TEST_CASE(
    "cluster.transfer_leader: to a named voter, to any other voter, and to "
    "an unknown node") {
  TestCluster c(3);
  const std::string first = c.agreed_leader();
  REQUIRE_FALSE(first.empty());
  json s0 = cluster_status(c.by_id(first), true);
  REQUIRE_FALSE(s0.is_discarded());
  const std::uint64_t term0 = s0["term"].get<std::uint64_t>();

  // Every agent's own view names `leader` in a term above `above`; that
  // term, or 0 if they never agree.
  auto all_see = [&](const std::string& leader, std::uint64_t above) {
    std::uint64_t term = 0;
    wait_until(
        [&] {
          std::set<std::uint64_t> terms;
          for (AgentProcess& a : c.agents) {
            json s = cluster_status(a, true);
            if (s.is_discarded() || s["leader"] != leader) return false;
            terms.insert(s["term"].get<std::uint64_t>());
          }
          if (terms.size() != 1 || *terms.begin() <= above) return false;
          term = *terms.begin();
          return true;
        },
        20s, "every agent sees the new leader in a later term");
    return term;
  };

  // Named, and asked of the other follower (forwarded to the leader).
  std::vector<AgentProcess*> followers = c.followers_of(first);
  REQUIRE(followers.size() == 2);
  const std::string target = followers[1]->data_dir().filename().string();
  ProcessResult r =
      run_nwctl({"--addr", followers[0]->addr(), "--timeout", "15s", "-o",
                 "table", "cluster", "transfer-leader", target});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "leader: " + first + " -> " + target + "\n");
  const std::uint64_t term1 = all_see(target, term0);
  CHECK(term1 > term0);

  // Without a node: some other voter.
  ProcessResult any =
      run_nwctl({"--addr", c.by_id(target).addr(), "--timeout", "15s", "-o",
                 "json", "cluster", "transfer-leader"});
  INFO(any.describe());
  REQUIRE(any.exit_code == 0);
  json a = parse(any.out);
  REQUIRE_FALSE(a.is_discarded());
  CHECK(a["previous"] == target);
  const std::string next = a["leader"].get<std::string>();
  CHECK(next != target);
  CHECK((next == "n1" || next == "n2" || next == "n3"));
  CHECK(all_see(next, term1) > term1);

  // To the leader itself: nothing to do.
  ProcessResult self =
      run_nwctl({"--addr", c.agents[0].addr(), "--timeout", "15s", "-o",
                 "table", "cluster", "transfer-leader", next});
  INFO(self.describe());
  CHECK(self.exit_code == 0);
  CHECK(self.out == "leader: " + next + " -> " + next + "\n");

  // An unknown node: not found, and the leader stays.
  ProcessResult unknown =
      run_nwctl({"--addr", c.agents[0].addr(), "--timeout", "15s", "cluster",
                 "transfer-leader", "n9"});
  INFO(unknown.describe());
  CHECK(unknown.exit_code == 3);
  CHECK(unknown.err.find("no member with node id n9") != std::string::npos);
  CHECK(unknown.out.empty());
  CHECK(c.agreed_leader() == next);
}

TEST_CASE(
    "cluster.recover: refused while an agent runs on the data directory, "
    "and for a node that is not a member") {
  TempDir dir{"recover"};
  // Running: the data directory is locked, and nothing in it changes.
  AgentOptions o;
  o.name = "solo";
  o.extra_args = {"--node-id", "solo"};
  AgentProcess solo(dir, o);
  NW_REQUIRE_OK(solo.start(kFormTimeout));
  ProcessResult locked = run(
      {agent_binary(), "--data-dir", solo.data_dir().string(), "--recover"});
  INFO(locked.describe());
  CHECK(locked.exit_code == 4);
  CHECK(locked.err.find("is in use by another nwagent (pid " +
                        std::to_string(solo.pid()) + ")") != std::string::npos);
  CHECK(locked.out.find("recovered") == std::string::npos);
  CHECK(solo.running());
  CHECK(wait_until(
      [&] {
        return write_label(solo, "solo", "still", "serving").exit_code == 0;
      },
      20s, "the agent still serves writes"));

  // Never a member: an agent stopped while it was still looking for the
  // cluster of its --bootstrap-expect.
  AgentOptions lo;
  lo.name = "looking";
  lo.extra_args = {"--node-id", "looking", "--bootstrap-expect", "3"};
  AgentProcess looking(dir, lo);
  NW_REQUIRE_OK(looking.launch());
  REQUIRE(looking.wait_for_log("looking for the cluster", 20s));
  REQUIRE(looking.stop() == std::optional<int>(0));
  ProcessResult stray = run(
      {agent_binary(), "--data-dir", looking.data_dir().string(), "--recover"});
  INFO(stray.describe());
  CHECK(stray.exit_code == 4);
  CHECK(stray.err.find("not a member of any cluster") != std::string::npos);
  CHECK(stray.err.find("hint: ") != std::string::npos);
  // And it was left as it was: it starts and looks again.
  NW_REQUIRE_OK(looking.launch());
  CHECK(looking.wait_for_log("looking for the cluster", 20s));
}

// The Prometheus text exposition, as (name, labels, value) rows.
struct Series {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<Series> parse_metrics(const std::string& body) {
  std::vector<Series> out;
  std::istringstream in(body);
  std::string line;
  const std::regex row(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
  const std::regex label(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)")re");
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.empty() || line[0] == '#' || !std::regex_match(line, m, row)) {
      continue;
    }
    Series s;
    s.name = m[1].str();
    const std::string labels = m[3].str();
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label);
         it != std::sregex_iterator(); ++it) {
      s.labels[(*it)[1].str()] = (*it)[2].str();
    }
    s.value = std::strtod(m[4].str().c_str(), nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

// The rows of `name` whose labels include `want`.
std::vector<Series> rows_of(const std::vector<Series>& all,
                            const std::string& name,
                            const std::map<std::string, std::string>& want) {
  std::vector<Series> out;
  for (const Series& s : all) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : want) {
      auto it = s.labels.find(k);
      match &= it != s.labels.end() && it->second == v;
    }
    if (match) out.push_back(s);
  }
  return out;
}

// The one value of `name` with labels `want`; nullopt if absent.
std::optional<double> value_of(const std::vector<Series>& all,
                               const std::string& name,
                               const std::map<std::string, std::string>& want) {
  std::vector<Series> r = rows_of(all, name, want);
  if (r.size() != 1) return std::nullopt;
  return r.front().value;
}

std::vector<Series> scrape(const AgentProcess& a) {
  Result<HttpResponse> r = http_get(a.host_port(), "/metrics");
  if (!r.ok() || r->status != 200) return {};
  return parse_metrics(r->body);
}

TEST_CASE(
    "cluster.metrics: /metrics has the controller group's nw_raft_* "
    "series") {
  // A small snapshot threshold, so the writes below make every agent take
  // a snapshot.
  TestCluster c(3, {"--raft-snapshot-threshold", "16"});
  const std::string leader = c.agreed_leader();
  REQUIRE_FALSE(leader.empty());
  constexpr int kWrites = 24;
  for (int i = 0; i < kWrites; ++i) {
    ProcessResult w = write_label(c.agents[static_cast<std::size_t>(i) % 3],
                                  "n1", "m" + std::to_string(i), "v");
    INFO(w.describe());
    REQUIRE(w.exit_code == 0);
  }
  const std::map<std::string, std::string> g1{{"group", "1"}};
  // A follower's link id ("n2@<raft id>") is the leader's peer label.
  std::vector<std::string> follower_ids;
  for (AgentProcess* f : c.followers_of(leader)) {
    follower_ids.push_back(f->data_dir().filename().string());
  }
  REQUIRE(follower_ids.size() == 2);

  // The leader: term, leadership, commit latency of its proposals, and a
  // lag series per follower that drops to 0 once the writes are out.
  std::vector<Series> m;
  std::string why;
  const bool leader_ok = wait_until(
      [&] {
        m = scrape(c.by_id(leader));
        auto lag = rows_of(m, "nw_raft_peer_lag_entries", g1);
        why = "lag series: " + std::to_string(lag.size());
        if (lag.size() != 2) return false;
        for (const std::string& id : follower_ids) {
          bool zero = false;
          for (const Series& s : lag) {
            zero |= s.labels.at("peer").rfind(id + "@", 0) == 0 && s.value == 0;
          }
          if (!zero) {
            why = "no zero lag series for " + id;
            return false;
          }
        }
        auto created = value_of(m, "nw_raft_snapshots_total",
                                {{"group", "1"}, {"kind", "created"}});
        why = "no snapshot created yet";
        return created && *created >= 1;
      },
      20s, "the leader's lag series and a snapshot");
  INFO(why);
  REQUIRE(leader_ok);
  std::optional<double> term = value_of(m, "nw_raft_term", g1);
  REQUIRE(term.has_value());
  CHECK(*term >= 1);
  json st = cluster_status(c.by_id(leader), true);
  REQUIRE_FALSE(st.is_discarded());
  CHECK(*term == static_cast<double>(st["term"].get<std::uint64_t>()));
  CHECK(value_of(m, "nw_raft_is_leader", g1) == std::optional<double>(1));
  std::optional<double> changes =
      value_of(m, "nw_raft_leader_changes_total", g1);
  REQUIRE(changes.has_value());
  CHECK(*changes >= 1);
  std::optional<double> dropped =
      value_of(m, "nw_raft_proposals_dropped_total", g1);
  REQUIRE(dropped.has_value());
  CHECK(*dropped >= 0);
  std::optional<double> commit = value_of(m, "nw_raft_commit_index", g1);
  REQUIRE(commit.has_value());
  CHECK(*commit >= kWrites);
  // Every write was proposed on the leader (followers forward theirs).
  std::optional<double> count =
      value_of(m, "nw_raft_commit_latency_seconds_count", g1);
  std::optional<double> sum =
      value_of(m, "nw_raft_commit_latency_seconds_sum", g1);
  REQUIRE(count.has_value());
  REQUIRE(sum.has_value());
  CHECK(*count >= kWrites);
  CHECK(*sum > 0);
  std::vector<Series> buckets =
      rows_of(m, "nw_raft_commit_latency_seconds_bucket", g1);
  REQUIRE(buckets.size() >= 2);
  double previous = 0;
  for (const Series& b : buckets) {  // cumulative, in order of `le`
    CHECK(b.value >= previous);
    previous = b.value;
  }
  CHECK(value_of(m, "nw_raft_commit_latency_seconds_bucket",
                 {{"group", "1"}, {"le", "+Inf"}}) == count);
  CHECK(value_of(m, "nw_raft_snapshots_total",
                 {{"group", "1"}, {"kind", "installed"}})
            .has_value());

  // The followers: the same term, not leading, no lag of their own, and
  // their own snapshots.
  for (const std::string& id : follower_ids) {
    CAPTURE(id);
    std::vector<Series> f;
    CHECK(wait_until(
        [&] {
          f = scrape(c.by_id(id));
          auto created = value_of(f, "nw_raft_snapshots_total",
                                  {{"group", "1"}, {"kind", "created"}});
          return value_of(f, "nw_raft_term", g1) == term && created &&
                 *created >= 1;
        },
        20s, "the follower's term and snapshot"));
    CHECK(value_of(f, "nw_raft_is_leader", g1) == std::optional<double>(0));
    std::optional<double> fc = value_of(f, "nw_raft_leader_changes_total", g1);
    REQUIRE(fc.has_value());
    CHECK(*fc >= 1);
    for (const Series& s : rows_of(f, "nw_raft_peer_lag_entries", g1)) {
      CHECK(s.value == 0);
    }
  }

  // A leader change shows on both sides: the counter moves, and the old
  // leader's lag series go to 0.
  const std::string next = follower_ids[0];
  ProcessResult t = run_nwctl({"--addr", c.by_id(leader).addr(), "--timeout",
                               "15s", "cluster", "transfer-leader", next});
  INFO(t.describe());
  REQUIRE(t.exit_code == 0);
  CHECK(wait_until(
      [&] {
        std::vector<Series> n = scrape(c.by_id(next));
        std::optional<double> ch =
            value_of(n, "nw_raft_leader_changes_total", g1);
        std::optional<double> tm = value_of(n, "nw_raft_term", g1);
        return value_of(n, "nw_raft_is_leader", g1) ==
                   std::optional<double>(1) &&
               ch && *ch >= 2 && tm && *tm > *term;
      },
      20s, "the new leader's metrics"));
  CHECK(wait_until(
      [&] {
        std::vector<Series> o = scrape(c.by_id(leader));
        std::optional<double> ch =
            value_of(o, "nw_raft_leader_changes_total", g1);
        if (value_of(o, "nw_raft_is_leader", g1) != std::optional<double>(0) ||
            !ch || *ch < *changes + 1) {
          return false;
        }
        for (const Series& s : rows_of(o, "nw_raft_peer_lag_entries", g1)) {
          if (s.value != 0) return false;
        }
        return true;
      },
      20s, "the old leader's metrics"));
}

// libfaketime's multi-threaded build, if installed (Debian: package
// faketime, under /usr/lib/<arch>/faketime/); "" if not.
std::string libfaketime() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates{
      "/usr/lib/faketime/libfaketimeMT.so.1",
      "/usr/local/lib/faketime/libfaketimeMT.so.1"};
  std::error_code ec;
  for (const fs::directory_entry& d : fs::directory_iterator("/usr/lib", ec)) {
    candidates.push_back(d.path() / "faketime" / "libfaketimeMT.so.1");
  }
  for (const fs::path& p : candidates) {
    if (fs::exists(p, ec)) return p.string();
  }
  return {};
}

// The value of `metric{node="<node>"}` in a Prometheus text body.
std::optional<double> gauge_value(const std::string& body,
                                  const std::string& metric,
                                  const std::string& node) {
  const std::string prefix = metric + "{node=\"" + node + "\"} ";
  std::size_t at = body.find(prefix);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(body.substr(at + prefix.size()));
}

// The CLOCK cell of `node`'s row in `nwctl cluster status`, in ms.
std::optional<long> table_clock_ms(const std::string& table,
                                   const std::string& node) {
  std::istringstream in(table);
  std::string line;
  const std::regex cell(R"(\s([+-]?\d+)ms\s)");
  while (std::getline(in, line)) {
    if (line.find(" " + node + " ") == std::string::npos) continue;
    std::smatch m;
    line += " ";
    if (std::regex_search(line, m, cell)) return std::stol(m[1].str());
    return std::nullopt;
  }
  return std::nullopt;
}

TEST_CASE(
    "cluster.clock_skew: the leader reports a member whose clock is 5 s "
    "ahead (libfaketime)") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizer runtimes insist on coming first in the library list, so
  // the agent cannot run with libfaketime preloaded.
  MESSAGE("skipped under a sanitizer: LD_PRELOAD of libfaketime");
  return;
#endif
  const std::string faketime = libfaketime();
  REQUIRE_MESSAGE(!faketime.empty(),
                  "libfaketime not found: run scripts/install-deps.sh "
                  "(Debian package faketime)");
  constexpr long kAheadMs = 5000;
  constexpr long kToleranceMs = 1000;

  // Three agents as TestCluster forms them, n3 with its wall clock 5 s
  // ahead. Its monotonic clock is left alone: the Raft timers and every
  // deadline run on it.
  TempDir dir{"clock"};
  std::vector<AgentProcess> agents;
  for (int i = 1; i <= 3; ++i) {
    AgentOptions o;
    o.name = "n" + std::to_string(i);
    agents.emplace_back(dir, o);
  }
  for (int i = 0; i < 3; ++i) {
    std::string join;
    for (int j = 0; j < 3; ++j) {
      if (j == i) continue;
      if (!join.empty()) join += ",";
      join += agents[j].peer_addr();
    }
    AgentOptions o;
    o.name = "n" + std::to_string(i + 1);
    o.port = agents[i].port();
    o.peer_port = agents[i].peer_port();
    o.extra_args = {"--node-id", o.name,   "--bootstrap-expect",
                    "3",         "--join", join};
    if (o.name == "n3") {
      o.env = {{"LD_PRELOAD", faketime},
               {"FAKETIME", "+5s"},
               {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}};
    }
    agents[i] = AgentProcess(dir, o);
  }
  for (AgentProcess& a : agents) NW_REQUIRE_OK(a.launch());
  for (AgentProcess& a : agents) NW_REQUIRE_OK(a.wait_ready(kFormTimeout));

  // Offsets are relative to the leader's clock, and n3 may lead.
  auto expected_ms = [&](const std::string& node, const std::string& leader) {
    return (node == "n3" ? kAheadMs : 0) - (leader == "n3" ? kAheadMs : 0);
  };
  json s;
  std::string leader;
  const bool measured = wait_until(
      [&] {
        s = cluster_status(agents[0], false);
        if (s.is_discarded() || s["members"].size() != 3) return false;
        leader = s["leader"].get<std::string>();
        for (const json& m : s["members"]) {
          const json& off = m["clock_offset_ms"];
          if (!off.is_number_integer()) return false;
          const long want = expected_ms(m["id"].get<std::string>(), leader);
          if (std::abs(off.get<long>() - want) > kToleranceMs) return false;
        }
        return true;
      },
      kFormTimeout, "every member's clock offset measured");
  INFO(s.dump(2));
  REQUIRE(measured);
  for (const json& m : s["members"]) {
    CHECK(m["clock_rtt_ms"].is_number_integer());
    if (m["id"] == leader) CHECK(m["clock_offset_ms"] == 0);
  }

  AgentProcess* leader_agent = nullptr;
  AgentProcess* follower = nullptr;
  for (AgentProcess& a : agents) {
    if (a.data_dir().filename() == leader) {
      leader_agent = &a;
    } else if (follower == nullptr) {
      follower = &a;
    }
  }
  REQUIRE(leader_agent != nullptr);
  REQUIRE(follower != nullptr);

  // The table's CLOCK column.
  ProcessResult table = run_nwctl({"--addr", agents[0].addr(), "--timeout",
                                   "5s", "-o", "table", "cluster", "status"});
  INFO(table.describe());
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("CLOCK") != std::string::npos);
  for (const std::string node : {"n1", "n2", "n3"}) {
    CAPTURE(node);
    std::optional<long> ms = table_clock_ms(table.out, node);
    REQUIRE(ms.has_value());
    CHECK(std::abs(*ms - expected_ms(node, leader)) <= kToleranceMs);
  }

  // The leader's gauge, in seconds.
  Result<HttpResponse> metrics =
      http_get(leader_agent->host_port(), "/metrics");
  REQUIRE(metrics.ok());
  for (const std::string node : {"n1", "n2", "n3"}) {
    CAPTURE(node);
    std::optional<double> v =
        gauge_value(metrics->body, "nw_cluster_clock_offset_seconds", node);
    REQUIRE(v.has_value());
    CHECK(std::abs(*v * 1000 - static_cast<double>(
                                   expected_ms(node, leader))) <= kToleranceMs);
  }
  // Only the leader measures, so only the leader exports it.
  Result<HttpResponse> other = http_get(follower->host_port(), "/metrics");
  REQUIRE(other.ok());
  CHECK(other->body.find("nw_cluster_clock_offset_seconds{") ==
        std::string::npos);

  // A follower's own (stale) view has no offsets: null, not 0.
  json stale = cluster_status(*follower, true);
  REQUIRE_FALSE(stale.is_discarded());
  for (const json& m : stale["members"]) {
    CHECK(m.contains("clock_offset_ms"));
    CHECK(m["clock_offset_ms"].is_null());
  }

  // And the leader warned about the skew, once per skewed member (n3, or
  // both others when n3 leads), not once per sample.
  const std::string warning = "more than 1s off the leader's";
  CHECK(leader_agent->wait_for_log(warning, 10s));
  const std::string log = leader_agent->current_log();
  std::size_t warnings = 0;
  for (std::size_t at = log.find(warning); at != std::string::npos;
       at = log.find(warning, at + 1)) {
    ++warnings;
  }
  CHECK(warnings <= (leader == "n3" ? 2u : 1u));
}

}  // namespace
}  // namespace nw::testsupport
