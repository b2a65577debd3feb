// Integration tests of the cluster's operations (issue 3): nwctl cluster
// join and transfer-leader, nwagent --recover refusals, the nw_raft_*
// metrics and the clock-skew report, on real nwagent processes on
// 127.0.0.1 driven by the real nwctl (cluster_test.cc has forming, failover
// and membership). Each case starts its own agents in its own TempDir.
// Every wait is a condition with a deadline.

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

  // Three agents, n3 with its wall clock 5 s ahead. Its monotonic clock is
  // left alone: the Raft timers and every deadline run on it.
  TestCluster c(3, {},
                {{"n3",
                  {{"LD_PRELOAD", faketime},
                   {"FAKETIME", "+5s"},
                   {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}}}});
  std::vector<AgentProcess>& agents = c.agents;

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
