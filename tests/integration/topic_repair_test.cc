// Integration tests of replicated topic partitions (issue 4) when data is
// damaged or moved: a corrupted segment on a lone replica and on one of
// three (repaired by reassignment, docs/runbooks/offline-partition.md),
// and reassigning a replica to a new agent. Real nwagent processes
// driven by the real nwctl; every wait is a condition with a deadline.

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

// A batch of a segment file: where it starts and how long it is.
struct BatchAt {
  std::uint64_t pos = 0;
  std::uint64_t size = 0;
  bool control = false;
};

// The batches of a segment file, walked by their length fields.
std::vector<BatchAt> batches_of(const fs::path& segment) {
  std::ifstream in(segment, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  std::vector<BatchAt> out;
  std::uint64_t pos = kSegmentHeaderSize;
  while (pos + kBatchHeaderSize <= bytes.size()) {
    BatchAt b;
    b.pos = pos;
    b.size = 12 + get_le(bytes, pos + 8, 4);
    b.control = (get_le(bytes, pos + 33, 2) & 0x10) != 0;
    out.push_back(b);
    pos += b.size;
  }
  return out;
}

TEST_CASE(
    "topic.corruption.follower: a damaged replica of three degrades its "
    "partition, a reassignment repairs it") {
  TestCluster c(3);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "ledger", "--partitions", "1",
                              "--replicas", "3", "--segment-bytes", "1048576"})
              .exit_code == 0);
  json d = wait_preferred_leaders(c.agents[0], "ledger");
  const std::string leader =
      d["partition_states"][0]["leader"].get<std::string>();
  std::vector<AgentProcess*> followers = c.followers_of(leader);
  REQUIRE(followers.size() == 2);
  AgentProcess& damaged = *followers[0];
  AgentProcess& healthy = *followers[1];
  const std::string damaged_id = damaged.data_dir().filename().string();
  const std::string healthy_id = healthy.data_dir().filename().string();

  // About 3 MB in batches of about 100 KB: several segments of several
  // batches each.
  auto value_of = [](int i) {
    return std::string(990, 'y') + "-" + std::to_string(i);
  };
  std::string input;
  for (int i = 0; i < 3000; ++i) input += value_of(i) + "\n";
  REQUIRE(nwctl(c.agents[0], {"produce", "ledger", "--batch-size", "100"},
                input, 120s)
              .exit_code == 0);
  // The follower to damage has it all before it stops.
  REQUIRE(wait_until(
      [&] {
        json v = local_view(damaged, "ledger", 0);
        return !v.is_discarded() && v["high_watermark"] == 3000;
      },
      kTopicTimeout, "the follower has every record"));
  REQUIRE(damaged.stop().has_value());
  std::vector<fs::path> segs = segment_files(damaged.data_dir(), "ledger");
  REQUIRE(segs.size() >= 2);
  // Flip a byte in the middle of a data batch that is not the last one of
  // the first (sealed) segment: a CRC mismatch at that batch's position.
  const fs::path& seg = segs.front();
  std::vector<BatchAt> batches = batches_of(seg);
  const BatchAt* target = nullptr;
  for (std::size_t i = 0; i + 1 < batches.size(); ++i) {
    if (!batches[i].control) {
      target = &batches[i];
      break;
    }
  }
  REQUIRE(target != nullptr);
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    const auto at = static_cast<std::streamoff>(target->pos + target->size / 2);
    f.seekg(at);
    char b = 0;
    f.read(&b, 1);
    b = static_cast<char>(b ^ 0x5a);
    f.seekp(at);
    f.write(&b, 1);
    REQUIRE(f.good());
  }
  const std::string where = "segment " + seg.filename().string() +
                            ": crc mismatch at byte " +
                            std::to_string(target->pos);
  NW_REQUIRE_OK(damaged.restart(kTopicTimeout));

  // Degraded: a leader serves, the error names the replica, file and byte.
  const bool degraded = wait_until(
      [&] {
        d = describe(healthy, "ledger");
        return !d.is_discarded() &&
               d["partition_states"][0]["status"] == "degraded";
      },
      kTopicTimeout, "the partition degraded");
  INFO(d.dump(2));
  INFO(damaged.log_tail(30));
  REQUIRE(degraded);
  const json& row = d["partition_states"][0];
  CHECK(row["leader"] != "");
  CHECK(row["leader"] != damaged_id);
  const std::string error = row["error"];
  CHECK(error.find("replica on " + damaged_id + ": " + where) !=
        std::string::npos);
  ProcessResult table =
      nwctl(damaged, {"-o", "table", "topic", "describe", "ledger"});
  INFO(table.describe());
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("degraded: replica on " + damaged_id) !=
        std::string::npos);
  CHECK(table.out.find(where) != std::string::npos);
  // The agent with the damaged replica goes on.
  CHECK(nwctl(damaged, {"status"}).exit_code == 0);

  // The healthy majority takes produce and fetch, also through the agent
  // with the damaged replica.
  ProcessResult more = nwctl(damaged, {"-o", "json", "produce", "ledger"},
                             numbered_lines("more-", 0, 500), 120s);
  INFO(more.describe());
  CHECK(more.exit_code == 0);
  CHECK(json_lines(more.out).size() == 500);
  auto check_intact = [&](const AgentProcess& via) {
    std::vector<json> records = consume_all(via, "ledger");
    REQUIRE(records.size() == 3500);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
      const std::string want = i < 3000 ? value_of(static_cast<int>(i))
                                        : "more-" + std::to_string(i - 3000);
      wrong += records[i]["offset"] != i || records[i]["value"] != want;
    }
    CHECK(wrong == 0);
  };
  check_intact(damaged);
  // The damaged replica answers nothing: it drops out of the in-sync list
  // (within an election timeout), and the partition stays degraded.
  const bool dropped = wait_until(
      [&] {
        d = describe(healthy, "ledger");
        if (d.is_discarded()) return false;
        const json& p = d["partition_states"][0];
        for (const json& id : p["in_sync"]) {
          if (id == damaged_id) return false;
        }
        return p["status"] == "degraded" && p["in_sync"].size() == 2;
      },
      kTopicTimeout, "the damaged replica out of the in-sync list");
  INFO(d.dump(2));
  CHECK(dropped);

  // docs/runbooks/offline-partition.md, step 2: reassign the partition off
  // the damaged agent, to a new one.
  AgentProcess n4 = c.joiner("n4", "n4");
  NW_REQUIRE_OK(n4.start(kTopicTimeout));
  wait_registered(c.agents[0], "n4");
  const std::vector<std::string> target_replicas{leader, healthy_id, "n4"};
  ProcessResult moved =
      nwctl(healthy, {"topic", "reassign", "ledger", "--partition", "0",
                      "--replicas", leader + "," + healthy_id + ",n4"});
  INFO(moved.describe());
  REQUIRE(moved.exit_code == 0);
  const bool repaired = wait_until(
      [&] {
        d = describe(healthy, "ledger");
        return settled_on(d, target_replicas);
      },
      60s, "the partition online on the leader, the healthy follower, n4");
  INFO(d.dump(2));
  REQUIRE(repaired);
  // The damaged agent deleted its copy.
  CHECK(wait_until(
      [&] { return segment_files(damaged.data_dir(), "ledger").empty(); },
      kTopicTimeout, "the damaged copy deleted"));
  check_intact(n4);

  // Step 2's last paragraph: back onto the original agents. The agent that
  // held the damaged copy gets a fresh replica that copies from the leader.
  ProcessResult back = nwctl(
      healthy, {"topic", "reassign", "ledger", "--partition", "0", "--replicas",
                leader + "," + damaged_id + "," + healthy_id});
  INFO(back.describe());
  REQUIRE(back.exit_code == 0);
  const bool returned = wait_until(
      [&] {
        d = describe(healthy, "ledger");
        return settled_on(d, {leader, damaged_id, healthy_id});
      },
      60s, "the partition online on its original agents");
  INFO(d.dump(2));
  REQUIRE(returned);
  CHECK(
      wait_until([&] { return segment_files(n4.data_dir(), "ledger").empty(); },
                 kTopicTimeout, "n4's copy deleted"));
  // The fresh copy on the formerly damaged agent holds every record.
  CHECK(wait_until(
      [&] {
        json v = local_view(damaged, "ledger", 0);
        return !v.is_discarded() && v["status"] == "online" &&
               v["error"] == "" && v["high_watermark"] == 3500;
      },
      kTopicTimeout, "the fresh replica caught up"));
  check_intact(damaged);
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
  wait_registered(c.agents[0], "n4");
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
