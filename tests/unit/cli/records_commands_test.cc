// produce, consume (plain and --group) and bench run in-process against
// FakeRecordsAgent, an in-memory stand-in for the agent's topic and group
// endpoints. The real agent side is for the integration tests.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/command_util.h"
#include "fake_records_agent.h"
#include "nwctl_runner.h"

namespace {

using nw::ctl::test::FakeRecordsAgent;
using nw::ctl::test::lines_of;
using nw::ctl::test::nwctl;
using nw::ctl::test::TempFile;
using nw::records::Record;

std::vector<std::string> values(const std::vector<Record>& recs) {
  std::vector<std::string> out;
  for (const Record& r : recs) out.push_back(r.value.value_or("<null>"));
  return out;
}

std::vector<Record> numbered(int from, int to) {
  std::vector<Record> out;
  for (int i = from; i < to; ++i) {
    Record r;
    r.value = "v" + std::to_string(i);
    r.timestamp_ms = 1000 * i;
    out.push_back(r);
  }
  return out;
}

}  // namespace

TEST_SUITE("cli.produce_command") {
  TEST_CASE("produce.json_acks_in_input_order_per_partition") {
    FakeRecordsAgent agent("orders", 3);
    std::string input;
    for (int i = 0; i < 20; ++i) input += "m" + std::to_string(i) + "\n";
    TempFile file(input);
    auto r = nwctl({"--addr", agent.addr(), "-o", "json", "produce", "orders",
                    "--file", file.path(), "--batch-size", "4"});
    CHECK_MESSAGE(r.code == 0, r.err);
    auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 20);
    std::map<int, std::vector<std::uint64_t>> offsets;
    for (const std::string& l : lines) {
      auto j = nlohmann::json::parse(l);
      offsets[j["partition"].get<int>()].push_back(j["offset"]);
    }
    std::size_t total = 0;
    for (auto& [p, offs] : offsets) {
      for (std::size_t i = 0; i < offs.size(); ++i) CHECK(offs[i] == i);
      total += agent.log(static_cast<std::uint32_t>(p)).size();
    }
    CHECK(total == 20);
    // Round robin from a random start: every partition got 6 or 7.
    for (std::uint32_t p = 0; p < 3; ++p) {
      CHECK(agent.log(p).size() >= 6);
    }
  }

  TEST_CASE("produce.key_separator_headers_and_key_hash") {
    FakeRecordsAgent agent("orders", 4);
    TempFile file("alice:1\nbob:2\nalice:3\n");
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "produce", "orders",
                    "--file", file.path(), "--key-separator", ":", "--header",
                    "source=test"});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "produced 3 messages to orders\n");
    auto alice = agent.log(nw::records::partition_for_key("alice", 4));
    std::vector<std::string> alice_values;
    for (const Record& rec : alice) {
      if (rec.key == std::optional<std::string>("alice")) {
        alice_values.push_back(*rec.value);
        REQUIRE(rec.headers.size() == 1);
        CHECK(rec.headers[0].key == "source");
        CHECK(rec.headers[0].value == std::optional<std::string>("test"));
      }
    }
    CHECK(alice_values == std::vector<std::string>{"1", "3"});
  }

  TEST_CASE("produce.retries_with_the_same_producer_id_and_sequence") {
    FakeRecordsAgent agent("orders", 1);
    agent.write_then_fail(2, nw::Code::timeout);
    TempFile file("a\nb\nc\n");
    auto r = nwctl({"--addr", agent.addr(), "-o", "json", "produce", "orders",
                    "--file", file.path()});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(values(agent.log(0)) == std::vector<std::string>{"a", "b", "c"});
    auto bodies = agent.produce_bodies();
    REQUIRE(bodies.size() == 3);
    CHECK(bodies[1] == bodies[0]);
    CHECK(bodies[2] == bodies[0]);
    auto info = nw::records::read_batch_info(bodies[0]);
    REQUIRE(info.ok());
    CHECK(info->producer_id > 0);
    CHECK(info->base_sequence == 0);
    CHECK(lines_of(r.out) ==
          std::vector<std::string>{
              R"({"partition": 0, "offset": 0, "line": 1})",
              R"({"partition": 0, "offset": 1, "line": 2})",
              R"({"partition": 0, "offset": 2, "line": 3})"});
  }

  TEST_CASE("produce.reports_unacknowledged_count_and_exit_code") {
    FakeRecordsAgent agent("orders", 1);
    agent.fail_produces(1000, nw::Code::unavailable);
    TempFile file("a\nb\nc\n");
    auto r = nwctl({"--addr", agent.addr(), "--timeout", "300ms", "-o", "json",
                    "produce", "orders", "--file", file.path()});
    CHECK(r.code == 5);
    CHECK(r.out.empty());
    CHECK(r.err.find("nwctl: 3 of 3 messages were not acknowledged: "
                     "partition 0: injected failure") != std::string::npos);
    CHECK(r.err.find("hint: ") != std::string::npos);
  }

  TEST_CASE("produce.unknown_topic_and_bad_partition") {
    FakeRecordsAgent agent("orders", 2);
    TempFile file("a\n");
    auto missing = nwctl(
        {"--addr", agent.addr(), "produce", "nope", "--file", file.path()});
    CHECK(missing.code == 3);
    CHECK(missing.err.find("nwctl topic create nope") != std::string::npos);
    auto bad = nwctl({"--addr", agent.addr(), "produce", "orders",
                      "--partition", "2", "--file", file.path()});
    CHECK(bad.code == 2);
    CHECK(bad.err.find("has partitions 0 to 1") != std::string::npos);
    auto nofile = nwctl({"--addr", agent.addr(), "produce", "orders", "--file",
                         "/nonexistent/x"});
    CHECK(nofile.code == 1);
    CHECK(nofile.err.find("cannot open --file") != std::string::npos);
  }

  TEST_CASE("produce.line_without_separator_stops_with_usage_error") {
    FakeRecordsAgent agent("orders", 1);
    TempFile file("k:1\nbroken\nk:3\n");
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "produce", "orders",
                    "--file", file.path(), "--key-separator", ":"});
    CHECK(r.code == 2);
    CHECK(r.err.find("line 2 has no key separator ':'") != std::string::npos);
    CHECK(values(agent.log(0)) == std::vector<std::string>{"1"});
  }

  TEST_CASE("produce.acks_none_prints_null_offsets") {
    FakeRecordsAgent agent("orders", 1);
    TempFile file("a\n");
    auto r =
        nwctl({"--addr", agent.addr(), "-o", "json", "produce", "orders",
               "--file", file.path(), "--acks", "none", "--no-idempotent"});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "{\"partition\": 0, \"offset\": null, \"line\": 1}\n");
    auto info = nw::records::read_batch_info(agent.produce_bodies().at(0));
    CHECK(info->producer_id == -1);
  }
}

TEST_SUITE("cli.consume_command") {
  TEST_CASE("consume.reads_to_the_high_watermark_seen_at_start") {
    FakeRecordsAgent agent("orders", 2);
    agent.append(0, numbered(0, 3));
    agent.append(0, numbered(3, 5));
    agent.append(1, numbered(5, 6));
    auto r =
        nwctl({"--addr", agent.addr(), "-o", "table", "consume", "orders"});
    CHECK_MESSAGE(r.code == 0, r.err);
    auto lines = lines_of(r.out);
    std::sort(lines.begin(), lines.end());
    CHECK(lines ==
          std::vector<std::string>{"v0", "v1", "v2", "v3", "v4", "v5"});
  }

  TEST_CASE("consume.partition_from_offset_count_json") {
    FakeRecordsAgent agent("orders", 2);
    agent.append(0, numbered(0, 10));
    auto r = nwctl({"--addr", agent.addr(), "-o", "json", "consume", "orders",
                    "--partition", "0", "--from", "4", "-n", "3"});
    CHECK_MESSAGE(r.code == 0, r.err);
    auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 3);
    auto j = nlohmann::json::parse(lines[0]);
    CHECK(j["partition"] == 0);
    CHECK(j["offset"] == 4);
    CHECK(j["value"] == "v4");
    CHECK(j["key"].is_null());
    CHECK(j["timestamp"] == "1970-01-01T00:00:04.000Z");
    CHECK(nlohmann::json::parse(lines[2])["offset"] == 6);
  }

  TEST_CASE("consume.from_time_and_latest") {
    FakeRecordsAgent agent("orders", 1);
    agent.append(0, numbered(0, 10));
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "consume", "orders",
                    "--from", "1970-01-01T00:00:07Z"});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "v7\nv8\nv9\n");
    auto latest = nwctl({"--addr", agent.addr(), "-o", "table", "consume",
                         "orders", "--from", "latest"});
    CHECK(latest.code == 0);
    CHECK(latest.out.empty());
  }

  TEST_CASE("consume.follow_waits_for_new_messages") {
    FakeRecordsAgent agent("orders", 1);
    std::thread later([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      agent.append(0, numbered(0, 2));
    });
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "consume", "orders",
                    "--follow", "-n", "2"});
    later.join();
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "v0\nv1\n");
  }

  TEST_CASE("consume.out_of_range_offset_is_a_precondition_error") {
    FakeRecordsAgent agent("orders", 1);
    agent.append(0, numbered(0, 3));
    agent.set_start_offset(0, 2);
    auto r =
        nwctl({"--addr", agent.addr(), "consume", "orders", "--from", "0"});
    CHECK(r.code == 4);
    CHECK(r.err.find("out of range") != std::string::npos);
    CHECK(r.err.find("--from earliest") != std::string::npos);
    auto e =
        nwctl({"--addr", agent.addr(), "-o", "table", "consume", "orders"});
    CHECK(e.code == 0);
    CHECK(e.out == "v2\n");
  }
}

TEST_SUITE("cli.group_consume") {
  TEST_CASE("group.starts_at_committed_commits_and_leaves") {
    FakeRecordsAgent agent("orders", 2);
    agent.append(0, numbered(0, 5));
    agent.append(1, numbered(5, 7));
    agent.set_committed("billing", 0, 3);
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "consume", "orders",
                    "--group", "billing"});
    CHECK_MESSAGE(r.code == 0, r.err);
    auto lines = lines_of(r.out);
    std::sort(lines.begin(), lines.end());
    CHECK(lines == std::vector<std::string>{"v3", "v4", "v5", "v6"});
    auto committed = agent.committed("billing");
    CHECK(committed[0] == 5);
    CHECK(committed[1] == 2);
    CHECK(agent.joins() == 1);
    CHECK(agent.leaves() == 1);

    // A second run finds nothing new.
    auto again = nwctl({"--addr", agent.addr(), "-o", "table", "consume",
                        "orders", "--group", "billing"});
    CHECK(again.code == 0);
    CHECK(again.out.empty());
  }

  TEST_CASE("group.count_commits_only_what_was_printed") {
    FakeRecordsAgent agent("orders", 1);
    agent.append(0, numbered(0, 10));
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "consume", "orders",
                    "--group", "g", "-n", "4"});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "v0\nv1\nv2\nv3\n");
    CHECK(agent.committed("g")[0] == 4);
  }

  TEST_CASE("group.rejoins_when_the_coordinator_forgets_the_member") {
    FakeRecordsAgent agent("orders", 1);
    std::thread later([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      agent.forget_members();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      agent.append(0, numbered(0, 1));
    });
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "consume", "orders",
                    "--group", "g", "--follow", "-n", "1"});
    later.join();
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "v0\n");
    CHECK(agent.joins() >= 2);
    CHECK(r.err.find("rejoining") != std::string::npos);
  }
}

TEST_SUITE("cli.group_consume") {
  TEST_CASE("group.rebalance_drops_lost_partitions") {
    FakeRecordsAgent agent("orders", 2);
    std::thread later([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      agent.rebalance("g", {1});
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      agent.append(0, numbered(0, 1));
      agent.append(1, numbered(1, 3));
    });
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "consume", "orders",
                    "--group", "g", "--follow", "-n", "2"});
    later.join();
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "v1\nv2\n");
    CHECK(r.err.find("group rebalanced (generation 2): reading partitions 1") !=
          std::string::npos);
    CHECK(agent.committed("g")[1] == 2);
    CHECK(agent.committed("g").count(0) == 0);
  }
}

TEST_SUITE("cli.interrupt") {
  // Interrupt::request() stands in for SIGINT (the handler only sets the
  // same flag); the command installs its handler first, so wait a little.
  TEST_CASE("consume.follow_stops_cleanly") {
    FakeRecordsAgent agent("orders", 3);
    agent.append(1, numbered(0, 1));
    std::thread stopper([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      nw::ctl::Interrupt::request();
    });
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "consume", "orders",
                    "--follow"});
    stopper.join();
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "v0\n");
  }

  TEST_CASE("group.leaves_on_interrupt") {
    FakeRecordsAgent agent("orders", 1);
    agent.append(0, numbered(0, 2));
    std::thread stopper([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      nw::ctl::Interrupt::request();
    });
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "consume", "orders",
                    "--group", "g", "--follow"});
    stopper.join();
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "v0\nv1\n");
    CHECK(agent.committed("g")[0] == 2);
    CHECK(agent.leaves() == 1);
  }
}

TEST_SUITE("cli.bench_command") {
  TEST_CASE("bench.produce_then_consume_report_json") {
    FakeRecordsAgent agent("bench", 3);
    auto p = nwctl({"--addr", agent.addr(), "-o", "json", "bench", "produce",
                    "bench", "--messages", "2000", "--size", "100", "--keys",
                    "10", "--batch-size", "100", "--in-flight", "3"});
    CHECK_MESSAGE(p.code == 0, p.err);
    auto j = nlohmann::json::parse(p.out);
    CHECK(j["kind"] == "produce");
    CHECK(j["messages"] == 2000);
    CHECK(j["bytes"].get<std::uint64_t>() >= 200000);
    CHECK(j["failed"] == 0);
    CHECK(j["requests"].get<int>() >= 20);
    CHECK(j["latency_ms"]["p50"].get<double>() > 0);

    auto c = nwctl({"--addr", agent.addr(), "-o", "json", "bench", "consume",
                    "bench", "--in-flight", "2"});
    CHECK_MESSAGE(c.code == 0, c.err);
    auto k = nlohmann::json::parse(c.out);
    CHECK(k["messages"] == 2000);
    CHECK(k["kind"] == "consume");
  }
}
