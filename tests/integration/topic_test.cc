// Integration tests of replicated topic partitions (issue 4): real nwagent
// processes, driven by the real nwctl (topic, produce, consume, group):
// producing and consuming, forwarding, a leader killed mid-produce,
// consumer groups and retention (topic_repair_test.cc has damaged
// segments and reassignment). Every wait is a condition with a deadline.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "common/base/crc32c.h"
#include "tests/integration/test_cluster.h"
#include "tests/integration/topic_support.h"
#include "tests/support/binaries.h"
#include "tests/support/local_http.h"

namespace nw::testsupport {
namespace {

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

TEST_CASE("topic.forwarding: a non-leader forwards produce and fetch") {
  TestCluster c(3);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "fwd", "--partitions", "1",
                              "--replicas", "3"})
              .exit_code == 0);
  json d = wait_preferred_leaders(c.agents[0], "fwd");
  const std::string leader =
      d["partition_states"][0]["leader"].get<std::string>();
  const AgentProcess& lead = c.by_id(leader);
  std::vector<AgentProcess*> others = c.followers_of(leader);
  REQUIRE(others.size() == 2);
  // Some records first, through nwctl, so the raw ones do not start at 0.
  REQUIRE(
      nwctl(lead, {"produce", "fwd"}, numbered_lines("n-", 0, 10)).exit_code ==
      0);

  // A produce (raw HTTP, one hand-made batch) sent to each non-leader: the
  // agent forwards it to the leader, whose answer names itself.
  const std::string path = "/v1/topics/fwd/partitions/0/records";
  std::map<std::uint64_t, std::pair<std::string, std::string>> sent;
  for (std::size_t i = 0; i < others.size(); ++i) {
    std::vector<std::pair<std::string, std::string>> batch;
    for (int k = 0; k < 5; ++k) {
      batch.emplace_back("key-" + std::to_string(i),
                         "raw-" + std::to_string(i) + "-" + std::to_string(k));
    }
    const fs::path file = c.dir.path() / ("batch" + std::to_string(i));
    {
      std::ofstream f(file, std::ios::binary);
      f << encode_batch(batch);
    }
    HttpResponse resp = curl_post(*others[i], path + "?acks=all", file,
                                  "application/vnd.nightwatch.batch");
    INFO(resp.body);
    REQUIRE(resp.status == 200);
    CHECK(resp.headers["nw-leader"] == lead.addr());
    json ack = parse(resp.body);
    REQUIRE_FALSE(ack.is_discarded());
    CHECK(ack["count"] == 5);
    CHECK(ack["duplicate"] == false);
    const std::uint64_t base = ack["base_offset"].get<std::uint64_t>();
    CHECK(base >= 10);
    for (std::size_t k = 0; k < batch.size(); ++k) {
      CHECK(sent.count(base + k) == 0);
      sent[base + k] = batch[k];
    }
  }
  REQUIRE(sent.size() == 10);

  // A fetch sent to each non-leader is forwarded too and returns the
  // batches the leader holds, byte for byte what was sent.
  for (AgentProcess* via : others) {
    Result<HttpResponse> got =
        http_get(via->host_port(),
                 path + "?offset=" + std::to_string(sent.begin()->first), 10s);
    NW_REQUIRE_OK(got);
    INFO(got->body);
    REQUIRE(got->status == 200);
    CHECK(got->headers["nw-leader"] == lead.addr());
    CHECK(got->headers["nw-high-watermark"] == "20");
    std::map<std::uint64_t, std::pair<std::string, std::string>> fetched;
    for (const RawRecord& r : decode_batches(got->body)) {
      if (r.offset >= sent.begin()->first) {
        fetched[r.offset] = {r.key, r.value};
      }
    }
    CHECK(fetched == sent);
  }
  // nwctl reads the same records (it routes to the leader itself).
  std::vector<json> records = consume_all(*others[0], "fwd");
  REQUIRE(records.size() == 20);
  for (const json& r : records) {
    const auto off = r["offset"].get<std::uint64_t>();
    if (off < 10) {
      CHECK(r["value"] == "n-" + std::to_string(off));
    } else {
      CHECK(r["key"] == sent[off].first);
      CHECK(r["value"] == sent[off].second);
    }
  }
}

TEST_CASE(
    "topic.leader_killed: acknowledged writes survive, none doubled, three "
    "partitions") {
  TestCluster c(3);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "events", "--partitions", "3",
                              "--replicas", "3"})
              .exit_code == 0);
  json d = wait_preferred_leaders(c.agents[0], "events");
  // The victim leads partition 0 (and maybe more).
  const std::string leader =
      d["partition_states"][0]["leader"].get<std::string>();
  AgentProcess& victim = c.by_id(leader);
  AgentProcess* via = c.followers_of(leader).at(0);

  // Keyed lines: a key always goes to the same partition, all three used.
  const int kMessages = 30000;
  auto key_of = [](int i) { return "k" + std::to_string(i % 11); };
  auto value_of = [](int i) { return "m-" + std::to_string(i); };
  std::string input;
  for (int i = 0; i < kMessages; ++i) {
    input += key_of(i) + ":" + value_of(i) + "\n";
  }
  ProcessResult produced;
  std::atomic<bool> producer_done{false};
  std::thread producer([&] {
    produced = nwctl(*via,
                     {"-o", "json", "produce", "events", "--idempotent",
                      "--key-separator", ":", "--batch-size", "100"},
                     input, 180s);
    producer_done = true;
  });
  // Kill a partition leader once a good part is in.
  auto total_hwm = [](const json& now) {
    std::uint64_t total = 0;
    for (const json& p : now["partition_states"]) {
      total += p["high_watermark"].get<std::uint64_t>();
    }
    return total;
  };
  const bool midway = wait_until(
      [&] {
        json now = describe(*via, "events");
        return !now.is_discarded() && total_hwm(now) > 3000;
      },
      60s, "produce under way");
  victim.kill();
  const bool killed_midway = !producer_done;
  producer.join();
  REQUIRE(midway);
  INFO(produced.err);
  CHECK(killed_midway);  // the kill landed while nwctl was producing
  std::vector<json> acks = json_lines(produced.out);
  MESSAGE("acknowledged " << acks.size() << " of " << kMessages
                          << ", nwctl exit " << produced.exit_code);
  CHECK(acks.size() > 3000);
  if (produced.exit_code == 0) CHECK(acks.size() == kMessages);

  NW_REQUIRE_OK(victim.restart(kTopicTimeout));
  // Once the returning agent has caught up, every partition is led by its
  // preferred replica again.
  wait_preferred_leaders(*via, "events");

  std::vector<json> records = consume_all(*via, "events");
  std::map<std::pair<int, std::uint64_t>, json> at;
  std::map<std::string, std::set<int>> partitions_of_key;
  std::set<std::string> seen;
  std::size_t doubles = 0;
  for (const json& r : records) {
    at[{r["partition"].get<int>(), r["offset"].get<std::uint64_t>()}] = r;
    partitions_of_key[r["key"].get<std::string>()].insert(
        r["partition"].get<int>());
    if (!seen.insert(r["value"].get<std::string>()).second) ++doubles;
  }
  CHECK(at.size() == records.size());
  CHECK(doubles == 0);  // idempotent: no message written twice
  for (const auto& [key, parts] : partitions_of_key) {
    CAPTURE(key);
    CHECK(parts.size() == 1);
  }
  std::set<int> acked_partitions;
  std::set<int> acked_lines;
  std::size_t missing = 0, wrong = 0, acked_twice = 0;
  for (const json& a : acks) {
    if (!a.contains("line")) {
      ++missing;
      continue;
    }
    const int i = a["line"].get<int>() - 1;  // lines count from 1
    const int p = a["partition"].get<int>();
    acked_partitions.insert(p);
    if (!acked_lines.insert(i).second) ++acked_twice;
    auto it = at.find({p, a["offset"].get<std::uint64_t>()});
    if (it == at.end()) {
      ++missing;
    } else if (it->second["value"] != value_of(i) ||
               it->second["key"] != key_of(i)) {
      ++wrong;
    }
  }
  CHECK(acked_partitions.size() == 3);
  CHECK(acked_twice == 0);
  CHECK(missing == 0);  // every acknowledged (partition, offset) is there
  CHECK(wrong == 0);    // ... with the line acknowledged there
  // Nothing was written that was not sent.
  std::size_t unknown = 0;
  for (const json& r : records) {
    const std::string v = r["value"].get<std::string>();
    const int i = std::stoi(v.substr(2));
    unknown += v != value_of(i) || r["key"] != key_of(i) || i >= kMessages;
  }
  CHECK(unknown == 0);
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

// The records a member printed (its JSON lines).
std::vector<json> records_in(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return json_lines(ss.str());
}

// `nwctl -o json group describe G`; discarded when it failed.
json describe_group(const AgentProcess& via, const std::string& group) {
  ProcessResult r = nwctl(via, {"-o", "json", "group", "describe", group});
  if (r.exit_code != 0) return json(json::value_t::discarded);
  return parse(r.out);
}

// Whether the group has `members` members with `each` partitions each.
bool balanced(const json& g, std::size_t members, std::size_t each) {
  if (g.is_discarded() || g["members"].size() != members) return false;
  for (const json& m : g["members"]) {
    if (m["assignment"].size() != each) return false;
  }
  return true;
}

// Whether every partition of the group's topic has a committed offset at
// its high watermark.
bool caught_up(const json& g, std::size_t partitions) {
  if (g.is_discarded() || g["offsets"].size() != partitions) return false;
  for (const json& o : g["offsets"]) {
    if (!o.contains("lag") || o["lag"] != 0) return false;
  }
  return true;
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
        g = describe_group(c.agents[0], "g");
        return balanced(g, 3, 2);
      },
      kTopicTimeout, "three members with two partitions each"));
  // Member 0's partitions (its client id ends with its pid).
  std::set<int> victim_parts;
  for (const json& m : g["members"]) {
    const std::string id = m["client_id"].get<std::string>();
    const std::string suffix = "-" + std::to_string(members[0]);
    if (id.size() > suffix.size() &&
        id.compare(id.size() - suffix.size(), suffix.size(), suffix) == 0) {
      for (const json& a : m["assignment"]) {
        victim_parts.insert(a["partition"].get<int>());
      }
    }
  }
  INFO(g.dump(2));
  REQUIRE(victim_parts.size() == 2);

  // Round robin: every partition gets some of each batch of lines.
  REQUIRE(nwctl(c.agents[0], {"produce", "jobs"}, numbered_lines("a-", 0, 3000),
                120s)
              .exit_code == 0);
  REQUIRE(wait_until(
      [&] {
        g = describe_group(c.agents[0], "g");
        return caught_up(g, 6);
      },
      60s, "the group caught up on a-"));
  // Member 0 freezes (no more fetches, commits or heartbeats), then more
  // is produced: its partitions' new records are for whoever takes them
  // over. Then it dies without leaving; its session times out.
  ::kill(members[0], SIGSTOP);
  REQUIRE(nwctl(c.agents[0], {"produce", "jobs"}, numbered_lines("b-", 0, 3000),
                120s)
              .exit_code == 0);
  ::kill(members[0], SIGKILL);
  int status = 0;
  ::waitpid(members[0], &status, 0);
  // What member 0 committed is final now. (Had its session already timed
  // out, a survivor may have committed more; the check below accepts
  // either's output below the committed offset.)
  g = describe_group(c.agents[0], "g");
  REQUIRE_FALSE(g.is_discarded());
  std::map<int, std::uint64_t> committed_at_kill;
  for (const json& o : g["offsets"]) {
    committed_at_kill[o["partition"].get<int>()] =
        o["committed"].get<std::uint64_t>();
  }
  for (int p : victim_parts) {
    CAPTURE(p);
    CHECK(committed_at_kill[p] > 0);  // member 0 did commit a-
  }
  REQUIRE(wait_until(
      [&] {
        g = describe_group(c.agents[0], "g");
        return balanced(g, 2, 3);
      },
      kTopicTimeout, "two members with three partitions each"));
  REQUIRE(nwctl(c.agents[1], {"produce", "jobs"}, numbered_lines("c-", 0, 3000),
                120s)
              .exit_code == 0);
  // Everything is consumed and committed: lag 0 everywhere.
  const bool all_caught_up = wait_until(
      [&] {
        g = describe_group(c.agents[0], "g");
        return caught_up(g, 6);
      },
      60s, "the group caught up");
  INFO(g.dump(2));
  REQUIRE(all_caught_up);
  for (std::size_t i = 1; i < members.size(); ++i) {
    ::kill(members[i], SIGINT);
    ::waitpid(members[i], &status, 0);
  }

  // What is stored, (partition, offset) -> value.
  std::map<std::pair<int, std::uint64_t>, std::string> stored;
  for (const json& r : consume_all(c.agents[2], "jobs")) {
    stored[{r["partition"].get<int>(), r["offset"].get<std::uint64_t>()}] =
        r["value"];
  }
  REQUIRE(stored.size() == 9000);
  // What the group delivered: anything the survivors printed, and what
  // member 0 printed only below the offsets committed when it died (what it
  // printed after its last commit does not count).
  std::map<std::pair<int, std::uint64_t>, std::string> delivered;
  std::size_t wrong = 0, taken_over = 0;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    for (const json& r : records_in(outs[i])) {
      const int p = r["partition"].get<int>();
      const auto off = r["offset"].get<std::uint64_t>();
      if (i == 0 && off >= committed_at_kill[p]) continue;
      if (i != 0 && victim_parts.count(p) != 0) ++taken_over;
      auto it = stored.find({p, off});
      if (it == stored.end() || it->second != r["value"]) ++wrong;
      delivered[{p, off}] = r["value"];
    }
  }
  CHECK(wrong == 0);
  // The survivors read member 0's partitions after it died (at least the
  // b- records produced while it was frozen).
  MESSAGE(
      "records of member 0's partitions read by the survivors: " << taken_over);
  CHECK(taken_over > 0);
  for (int p : victim_parts) {
    CAPTURE(p);
    std::uint64_t end = 0;
    for (const auto& [key, v] : stored) {
      if (key.first == p) end = std::max(end, key.second + 1);
    }
    CHECK(committed_at_kill[p] < end);  // something was left to take over
  }
  // At least once: nothing committed was skipped (duplicates are allowed
  // around the rebalance).
  std::size_t missing = 0;
  for (const auto& [key, v] : stored) missing += delivered.count(key) == 0;
  CHECK(missing == 0);
  std::set<std::string> values;
  for (const auto& [key, v] : delivered) values.insert(v);
  for (const char* prefix : {"a-", "b-", "c-"}) {
    for (int i = 0; i < 3000; ++i) {
      missing += values.count(prefix + std::to_string(i)) == 0;
    }
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

}  // namespace
}  // namespace nw::testsupport
