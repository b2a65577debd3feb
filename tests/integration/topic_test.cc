// Integration tests of replicated topic partitions (issue 4): real nwagent
// processes, driven by the real nwctl (topic, produce, consume, group).
// Every wait is a condition with a deadline.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
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

#include "tests/integration/test_cluster.h"
#include "tests/support/binaries.h"

namespace nw::testsupport {
namespace {

namespace fs = std::filesystem;

constexpr auto kTopicTimeout = 30s;

ProcessResult nwctl(const AgentProcess& via, std::vector<std::string> args,
                    const std::optional<std::string>& input = std::nullopt,
                    Duration timeout = 60s) {
  std::vector<std::string> full{"--addr", via.addr(), "--timeout", "20s"};
  full.insert(full.end(), args.begin(), args.end());
  return run_nwctl(full, {}, input, timeout);
}

json describe(const AgentProcess& via, const std::string& topic) {
  ProcessResult r = nwctl(via, {"-o", "json", "topic", "describe", topic});
  if (r.exit_code != 0) return json(json::value_t::discarded);
  return parse(r.out);
}

// Waits until every partition of `topic` has a leader and is online.
json wait_online(const AgentProcess& via, const std::string& topic,
                 Duration timeout = kTopicTimeout) {
  json d;
  const bool ok = wait_until(
      [&] {
        d = describe(via, topic);
        if (d.is_discarded()) return false;
        for (const json& p : d["partition_states"]) {
          if (p["status"] != "online" || p["leader"] == "") return false;
        }
        return !d["partition_states"].empty();
      },
      timeout, "every partition online");
  INFO(d.dump(2));
  REQUIRE(ok);
  return d;
}

// One JSON object per line.
std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json j = parse(line);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// Everything committed in `topic`, read from the beginning.
std::vector<json> consume_all(const AgentProcess& via,
                              const std::string& topic) {
  ProcessResult r =
      nwctl(via, {"-o", "json", "consume", topic, "--from", "earliest"},
            std::nullopt, 120s);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  return json_lines(r.out);
}

std::string numbered_lines(const std::string& prefix, int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += prefix + std::to_string(i) + "\n";
  return s;
}

TEST_CASE("topic.produce_consume: across three agents, by key") {
  TestCluster c(3);
  ProcessResult created =
      nwctl(c.agents[0], {"-o", "json", "topic", "create", "orders",
                          "--partitions", "3", "--replicas", "3"});
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  json d = wait_online(c.agents[1], "orders");
  for (const json& p : d["partition_states"]) {
    CHECK(p["replicas"].size() == 3);
  }
  // Preferred leaders are spread: three partitions, three distinct first
  // replicas.
  std::set<std::string> preferred;
  for (const json& p : d["partition_states"]) {
    preferred.insert(p["replicas"][0].get<std::string>());
  }
  CHECK(preferred.size() == 3);

  std::string input;
  for (int i = 0; i < 600; ++i) {
    input += "k" + std::to_string(i % 7) + ":v" + std::to_string(i) + "\n";
  }
  ProcessResult produced = nwctl(
      c.agents[1], {"-o", "json", "produce", "orders", "--key-separator", ":"},
      input, 120s);
  INFO(produced.describe());
  REQUIRE(produced.exit_code == 0);
  std::vector<json> acks = json_lines(produced.out);
  CHECK(acks.size() == 600);

  std::vector<json> records = consume_all(c.agents[2], "orders");
  REQUIRE(records.size() == 600);
  std::map<std::string, std::set<int>> partitions_of_key;
  std::map<int, std::vector<std::uint64_t>> offsets;
  std::set<std::string> values;
  for (const json& r : records) {
    partitions_of_key[r["key"].get<std::string>()].insert(
        r["partition"].get<int>());
    offsets[r["partition"].get<int>()].push_back(
        r["offset"].get<std::uint64_t>());
    values.insert(r["value"].get<std::string>());
    CHECK(r.contains("timestamp"));
    CHECK(r.contains("headers"));
  }
  CHECK(values.size() == 600);
  for (const auto& [key, parts] : partitions_of_key) {
    CAPTURE(key);
    CHECK(parts.size() == 1);  // one key, one partition
  }
  for (const auto& [p, offs] : offsets) {
    for (std::size_t i = 0; i < offs.size(); ++i) CHECK(offs[i] == i);
  }
  // Every acknowledgement names a record that is there.
  std::set<std::pair<int, std::uint64_t>> present;
  for (const json& r : records) {
    present.insert(
        {r["partition"].get<int>(), r["offset"].get<std::uint64_t>()});
  }
  for (const json& a : acks) {
    CHECK(present.count({a["partition"].get<int>(),
                         a["offset"].get<std::uint64_t>()}) == 1);
  }

  // Describe reports the high watermark of every partition.
  d = describe(c.agents[0], "orders");
  std::uint64_t total = 0;
  for (const json& p : d["partition_states"]) {
    total += p["high_watermark"].get<std::uint64_t>();
  }
  CHECK(total == 600);

  // Errors name the problem and use the documented exit codes.
  ProcessResult missing = nwctl(c.agents[0], {"topic", "describe", "nope"});
  CHECK(missing.exit_code == 3);
  ProcessResult dup = nwctl(
      c.agents[0],
      {"topic", "create", "orders", "--partitions", "1", "--replicas", "1"});
  CHECK(dup.exit_code == 4);
  ProcessResult too_many =
      nwctl(c.agents[0],
            {"topic", "create", "big", "--partitions", "1", "--replicas", "5"});
  CHECK(too_many.exit_code == 4);
  CHECK(too_many.err.find("replicas") != std::string::npos);

  // More partitions and another retention; the new partition comes online.
  ProcessResult altered =
      nwctl(c.agents[2], {"topic", "alter", "orders", "--partitions", "4",
                          "--retention-ms", "3600000"});
  INFO(altered.describe());
  REQUIRE(altered.exit_code == 0);
  d = wait_online(c.agents[0], "orders");
  CHECK(d["partition_states"].size() == 4);
  CHECK(d["retention_ms"] == 3600000);
  CHECK(nwctl(c.agents[0], {"topic", "alter", "orders", "--partitions", "2"})
            .exit_code == 2);  // never fewer: refused before asking

  // Delete: gone everywhere, files included.
  REQUIRE(nwctl(c.agents[1], {"topic", "delete", "orders"}).exit_code == 0);
  CHECK(nwctl(c.agents[0], {"topic", "describe", "orders"}).exit_code == 3);
  for (AgentProcess& a : c.agents) {
    REQUIRE(wait_until(
        [&] {
          std::error_code ec;
          for (const auto& e :
               fs::directory_iterator(a.data_dir() / "partitions", ec)) {
            if (e.path().filename().string().rfind("orders.", 0) == 0) {
              return false;
            }
          }
          return true;
        },
        kTopicTimeout, "the topic's files deleted"));
  }
}

TEST_CASE("topic.leader_killed: acknowledged writes survive, none doubled") {
  TestCluster c(3);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "events", "--partitions", "1",
                              "--replicas", "3"})
              .exit_code == 0);
  json d = wait_online(c.agents[0], "events");
  const std::string leader =
      d["partition_states"][0]["leader"].get<std::string>();
  AgentProcess& victim = c.by_id(leader);
  AgentProcess* via = c.followers_of(leader).at(0);

  const int kMessages = 30000;
  const std::string input = numbered_lines("m-", 0, kMessages);
  ProcessResult produced;
  std::thread producer([&] {
    produced =
        nwctl(*via, {"-o", "json", "produce", "events", "--batch-size", "100"},
              input, 180s);
  });
  // Kill the partition leader once a good part is in.
  const bool midway = wait_until(
      [&] {
        json now = describe(*via, "events");
        return !now.is_discarded() &&
               now["partition_states"][0]["high_watermark"]
                       .get<std::uint64_t>() > 3000;
      },
      60s, "produce under way");
  victim.kill();
  producer.join();
  REQUIRE(midway);
  INFO(produced.err);
  std::vector<json> acks = json_lines(produced.out);
  MESSAGE("acknowledged " << acks.size() << " of " << kMessages
                          << ", nwctl exit " << produced.exit_code);
  CHECK(acks.size() > 3000);
  if (produced.exit_code == 0) CHECK(acks.size() == kMessages);

  NW_REQUIRE_OK(victim.restart(kTopicTimeout));
  wait_online(*via, "events");
  // The returning agent was the preferred (first) replica: once it has
  // caught up, leadership goes back to it.
  const std::string preferred =
      describe(*via, "events")["partition_states"][0]["replicas"][0];
  json led;
  const bool back = wait_until(
      [&] {
        led = describe(*via, "events");
        return !led.is_discarded() &&
               led["partition_states"][0]["leader"] == preferred &&
               led["partition_states"][0]["status"] == "online";
      },
      kTopicTimeout, "the preferred replica leads again");
  INFO(led.dump(2));
  CHECK(back);
  std::vector<json> records = consume_all(*via, "events");
  std::map<std::uint64_t, std::string> at;
  std::set<std::string> seen;
  std::size_t doubles = 0;
  for (const json& r : records) {
    at[r["offset"].get<std::uint64_t>()] = r["value"].get<std::string>();
    if (!seen.insert(r["value"].get<std::string>()).second) ++doubles;
  }
  CHECK(doubles == 0);  // idempotent: no message written twice
  // Every acknowledged offset holds the line that was acknowledged there.
  std::size_t missing = 0, wrong = 0;
  for (const json& a : acks) {
    auto it = at.find(a["offset"].get<std::uint64_t>());
    if (it == at.end()) {
      ++missing;
    } else if (a.contains("line") &&
               it->second != "m-" + std::to_string(a["line"].get<int>() - 1)) {
      ++wrong;
    }
  }
  CHECK(missing == 0);
  CHECK(wrong == 0);
}

// Starts `nwctl consume --group` writing its JSON lines to `out`.
pid_t start_member(const AgentProcess& via, const std::string& topic,
                   const std::string& group, const fs::path& out) {
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  SpawnSpec spec;
  spec.argv = {nwctl_binary(), "--addr",   via.addr(), "-o",
               "json",         "consume",  topic,      "--group",
               group,          "--follow", "--from",   "earliest"};
  spec.stdout_fd = fd;
  Result<pid_t> pid = spawn(spec);
  ::close(fd);
  REQUIRE(pid.ok());
  return *pid;
}

std::set<std::string> values_in(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::set<std::string> out;
  for (const json& j : json_lines(ss.str())) {
    out.insert(j["value"].get<std::string>());
  }
  return out;
}

TEST_CASE("topic.consumer_group: a member dies, the others take over") {
  TestCluster c(3);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "jobs", "--partitions", "6",
                              "--replicas", "3"})
              .exit_code == 0);
  wait_online(c.agents[0], "jobs");
  std::vector<fs::path> outs;
  std::vector<pid_t> members;
  for (int i = 0; i < 3; ++i) {
    outs.push_back(c.dir.path() / ("member" + std::to_string(i) + ".out"));
    members.push_back(start_member(c.agents[i], "jobs", "g", outs.back()));
  }
  // Three members, six partitions: two each.
  json g;
  REQUIRE(wait_until(
      [&] {
        ProcessResult r =
            nwctl(c.agents[0], {"-o", "json", "group", "describe", "g"});
        if (r.exit_code != 0) return false;
        g = parse(r.out);
        if (g["members"].size() != 3) return false;
        for (const json& m : g["members"]) {
          if (m["assignment"].size() != 2) return false;
        }
        return true;
      },
      kTopicTimeout, "three members with two partitions each"));

  REQUIRE(nwctl(c.agents[0], {"produce", "jobs"}, numbered_lines("a-", 0, 3000),
                120s)
              .exit_code == 0);
  // Member 0 dies without leaving; its session times out.
  ::kill(members[0], SIGKILL);
  int status = 0;
  ::waitpid(members[0], &status, 0);
  REQUIRE(wait_until(
      [&] {
        ProcessResult r =
            nwctl(c.agents[0], {"-o", "json", "group", "describe", "g"});
        if (r.exit_code != 0) return false;
        g = parse(r.out);
        if (g["members"].size() != 2) return false;
        for (const json& m : g["members"]) {
          if (m["assignment"].size() != 3) return false;
        }
        return true;
      },
      kTopicTimeout, "two members with three partitions each"));
  REQUIRE(nwctl(c.agents[1], {"produce", "jobs"}, numbered_lines("b-", 0, 3000),
                120s)
              .exit_code == 0);
  // Everything is consumed and committed: lag 0 everywhere.
  const bool caught_up = wait_until(
      [&] {
        ProcessResult r =
            nwctl(c.agents[0], {"-o", "json", "group", "describe", "g"});
        if (r.exit_code != 0) return false;
        g = parse(r.out);
        if (g["offsets"].size() != 6) return false;
        for (const json& o : g["offsets"]) {
          if (!o.contains("lag") || o["lag"] != 0) return false;
        }
        return true;
      },
      60s, "the group caught up");
  INFO(g.dump(2));
  REQUIRE(caught_up);
  for (std::size_t i = 1; i < members.size(); ++i) {
    ::kill(members[i], SIGINT);
    ::waitpid(members[i], &status, 0);
  }
  std::set<std::string> all;
  for (const fs::path& f : outs) {
    std::set<std::string> v = values_in(f);
    all.insert(v.begin(), v.end());
  }
  // At least once: nothing committed was skipped (duplicates are allowed
  // around the rebalance).
  std::size_t missing = 0;
  for (int i = 0; i < 3000; ++i) {
    missing += all.count("a-" + std::to_string(i)) == 0;
    missing += all.count("b-" + std::to_string(i)) == 0;
  }
  CHECK(missing == 0);

  // With every member gone, offsets can be reset: a plan first, then done.
  REQUIRE(wait_until(
      [&] {
        ProcessResult r =
            nwctl(c.agents[0], {"-o", "json", "group", "describe", "g"});
        return r.exit_code == 0 && parse(r.out)["members"].empty();
      },
      kTopicTimeout, "the group has no members"));
  ProcessResult plan =
      nwctl(c.agents[1], {"-o", "json", "group", "reset-offsets", "g",
                          "--topic", "jobs", "--to-earliest"});
  INFO(plan.describe());
  REQUIRE(plan.exit_code == 0);
  CHECK(parse(plan.out)["executed"] == false);
  ProcessResult done =
      nwctl(c.agents[1], {"-o", "json", "group", "reset-offsets", "g",
                          "--topic", "jobs", "--to-earliest", "--execute"});
  REQUIRE(done.exit_code == 0);
  ProcessResult after =
      nwctl(c.agents[2], {"-o", "json", "group", "describe", "g"});
  REQUIRE(after.exit_code == 0);
  for (const json& o : parse(after.out)["offsets"]) {
    CHECK(o["committed"] == 0);
  }
  REQUIRE(nwctl(c.agents[0], {"group", "delete", "g"}).exit_code == 0);
  CHECK(nwctl(c.agents[0], {"group", "describe", "g"}).exit_code == 3);
}

std::vector<fs::path> segment_files(const fs::path& data_dir,
                                    const std::string& topic) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e :
       fs::recursive_directory_iterator(data_dir / "partitions", ec)) {
    const std::string p = e.path().string();
    if (p.find("/" + topic + ".") != std::string::npos &&
        e.path().extension() == ".log") {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("topic.retention: old segments are deleted, the start moves") {
  TestCluster c(1);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "logs", "--partitions", "1",
                              "--replicas", "1", "--segment-bytes", "1048576",
                              "--retention-bytes", "1048576"})
              .exit_code == 0);
  wait_online(c.agents[0], "logs");
  const std::string value(1000, 'x');
  std::string input;
  for (int i = 0; i < 4000; ++i) input += value + std::to_string(i) + "\n";
  REQUIRE(nwctl(c.agents[0], {"produce", "logs"}, input, 120s).exit_code == 0);
  json d;
  REQUIRE(wait_until(
      [&] {
        d = describe(c.agents[0], "logs");
        return !d.is_discarded() &&
               d["partition_states"][0]["start_offset"].get<std::uint64_t>() >
                   0;
      },
      kTopicTimeout, "retention moved the start offset"));
  const std::uint64_t start =
      d["partition_states"][0]["start_offset"].get<std::uint64_t>();
  CHECK(segment_files(c.agents[0].data_dir(), "logs").size() <= 3);
  std::vector<json> records = consume_all(c.agents[0], "logs");
  REQUIRE_FALSE(records.empty());
  CHECK(records.front()["offset"].get<std::uint64_t>() >= start);
  CHECK(records.back()["offset"].get<std::uint64_t>() == 3999);
}

TEST_CASE(
    "topic.corruption: a damaged segment takes only its partition offline") {
  TestCluster c(1);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "audit", "--partitions", "2",
                              "--replicas", "1", "--segment-bytes", "1048576"})
              .exit_code == 0);
  wait_online(c.agents[0], "audit");
  const std::string value(1000, 'y');
  std::string input;
  for (int i = 0; i < 3000; ++i) input += value + "\n";
  REQUIRE(
      nwctl(c.agents[0], {"produce", "audit", "--partition", "0"}, input, 120s)
          .exit_code == 0);
  REQUIRE(c.agents[0].stop().has_value());
  std::vector<fs::path> segs;
  for (const fs::path& p : segment_files(c.agents[0].data_dir(), "audit")) {
    if (p.parent_path().filename() == "0") segs.push_back(p);
  }
  REQUIRE(segs.size() >= 2);
  // Flip a byte in the middle of the first (not the last) segment.
  {
    std::fstream f(segs.front(),
                   std::ios::in | std::ios::out | std::ios::binary);
    const auto mid =
        static_cast<std::streamoff>(fs::file_size(segs.front()) / 2);
    f.seekg(mid);
    char b = 0;
    f.read(&b, 1);
    b = static_cast<char>(b ^ 0x5a);
    f.seekp(mid);
    f.write(&b, 1);
  }
  NW_REQUIRE_OK(c.agents[0].restart(kTopicTimeout));
  json d;
  const bool offline = wait_until(
      [&] {
        d = describe(c.agents[0], "audit");
        return !d.is_discarded() &&
               d["partition_states"][0]["status"] == "offline" &&
               d["partition_states"][1]["status"] == "online";
      },
      kTopicTimeout, "partition 0 offline, partition 1 online");
  INFO(d.dump(2));
  INFO(c.agents[0].log_tail(30));
  REQUIRE(offline);
  const std::string error = d["partition_states"][0]["error"];
  CHECK(error.find("crc mismatch") != std::string::npos);
  CHECK(error.find(segs.front().filename().string()) != std::string::npos);
  // The agent and the other partition go on.
  CHECK(nwctl(c.agents[0], {"produce", "audit", "--partition", "1"}, "ok\n")
            .exit_code == 0);
  ProcessResult status = nwctl(c.agents[0], {"status"});
  CHECK(status.exit_code == 0);
}

TEST_CASE("topic.reassign: a replica moves to a new agent, data intact") {
  TestCluster c(3);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "moves", "--partitions", "1",
                              "--replicas", "3"})
              .exit_code == 0);
  wait_online(c.agents[0], "moves");
  REQUIRE(nwctl(c.agents[0], {"produce", "moves"},
                numbered_lines("r-", 0, 2000), 120s)
              .exit_code == 0);
  AgentProcess n4 = c.joiner("n4", "n4");
  NW_REQUIRE_OK(n4.start(kTopicTimeout));
  REQUIRE(wait_until(
      [&] {
        json s = cluster_status(c.agents[0], false);
        if (s.is_discarded()) return false;
        for (const json& m : s["members"]) {
          if (m["id"] == "n4" && m["api_addr"] != "") return true;
        }
        return false;
      },
      kTopicTimeout, "n4 registered"));
  ProcessResult moved =
      nwctl(c.agents[0], {"topic", "reassign", "moves", "--partition", "0",
                          "--replicas", "n2,n3,n4"});
  INFO(moved.describe());
  REQUIRE(moved.exit_code == 0);
  json d;
  REQUIRE(wait_until(
      [&] {
        d = describe(c.agents[0], "moves");
        if (d.is_discarded()) return false;
        const json& p = d["partition_states"][0];
        return p["status"] == "online" && p["target_replicas"].empty() &&
               p["replicas"] == json::array({"n2", "n3", "n4"});
      },
      60s, "the partition moved to n2, n3, n4"));
  // n1 deleted its copy.
  REQUIRE(wait_until(
      [&] { return segment_files(c.agents[0].data_dir(), "moves").empty(); },
      kTopicTimeout, "n1's copy deleted"));
  // n4 holds the data: with n2 and n3 down... keep it simple: stop n2, the
  // partition still has a majority (n3, n4), and every record is there.
  REQUIRE(c.by_id("n2").stop().has_value());
  wait_online(n4, "moves", 60s);
  std::vector<json> records = consume_all(n4, "moves");
  REQUIRE(records.size() == 2000);
  for (std::size_t i = 0; i < records.size(); ++i) {
    CHECK(records[i]["value"] == "r-" + std::to_string(i));
  }
}

}  // namespace
}  // namespace nw::testsupport
