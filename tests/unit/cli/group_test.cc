// The consumer-group side (cli/group.h): reset-offsets checks and body,
// request bodies, decoders and tables; and the bench helpers
// (cli/bench.h).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cli/bench.h"
#include "cli/group.h"

namespace {

using nw::ctl::ResetFlags;

ResetFlags reset_flags() {
  ResetFlags f;
  f.group = "billing";
  f.topic = "orders";
  return f;
}

nlohmann::json body_of(const nw::Result<std::string>& r) {
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  return nlohmann::json::parse(r.value());
}

}  // namespace

TEST_SUITE("cli.group") {
  TEST_CASE("reset_body.exactly_one_target") {
    auto now = nw::WallTime(std::chrono::milliseconds(1'800'000'000'000LL));
    ResetFlags none = reset_flags();
    auto r = nw::ctl::reset_body(none, now);
    REQUIRE_FALSE(r.ok());
    CHECK(nw::exit_code(r.error().code) == 2);
    CHECK(r.error().message == "reset-offsets: say where to move the offsets");

    ResetFlags two = reset_flags();
    two.to_earliest = true;
    two.shift_by = "5";
    r = nw::ctl::reset_body(two, now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message ==
          "reset-offsets: give only one of the --to-* and --shift-by options");

    ResetFlags no_topic = reset_flags();
    no_topic.topic = "";
    no_topic.to_latest = true;
    CHECK_FALSE(nw::ctl::reset_body(no_topic, now).ok());
  }

  TEST_CASE("reset_body.each_target") {
    auto now = nw::WallTime(std::chrono::milliseconds(1'800'000'000'000LL));
    ResetFlags f = reset_flags();
    f.to_earliest = true;
    CHECK(body_of(nw::ctl::reset_body(f, now)) ==
          nlohmann::json{
              {"topic", "orders"}, {"to", "earliest"}, {"execute", false}});
    f = reset_flags();
    f.to_latest = true;
    f.execute = true;
    CHECK(body_of(nw::ctl::reset_body(f, now))["execute"] == true);
    f = reset_flags();
    f.to_offset = "1200";
    CHECK(body_of(nw::ctl::reset_body(f, now))["value"] == 1200);
    f = reset_flags();
    f.shift_by = "-100";
    auto shift = body_of(nw::ctl::reset_body(f, now));
    CHECK(shift["to"] == "shift");
    CHECK(shift["value"] == -100);
    f = reset_flags();
    f.to_time = "2026-11-22T10:00:00Z";
    auto t = body_of(nw::ctl::reset_body(f, now));
    CHECK(t["to"] == "time");
    CHECK(t["value"] == 1795341600000LL);
    f.to_time = "-2h";
    CHECK(body_of(nw::ctl::reset_body(f, now))["value"] ==
          1'800'000'000'000LL - 7'200'000);
    f.to_time = "noon";
    auto bad = nw::ctl::reset_body(f, now);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("--to-time: ") == 0);
  }

  TEST_CASE("bodies.join_heartbeat_commit") {
    auto join = nlohmann::json::parse(
        nw::ctl::group_join_body("", "nwctl-h-1", "orders", 10000));
    CHECK(join == nlohmann::json{{"member_id", ""},
                                 {"client_id", "nwctl-h-1"},
                                 {"topics", {"orders"}},
                                 {"strategy", "range"},
                                 {"session_timeout_ms", 10000}});
    CHECK(nlohmann::json::parse(nw::ctl::heartbeat_body("m-1", 4)) ==
          nlohmann::json{{"member_id", "m-1"}, {"generation", 4}});
    auto commit = nlohmann::json::parse(
        nw::ctl::commit_body("m-1", 5, {{"orders", 0, 1201}}));
    CHECK(commit ==
          nlohmann::json{
              {"member_id", "m-1"},
              {"generation", 5},
              {"offsets",
               {{{"topic", "orders"}, {"partition", 0}, {"offset", 1201}}}}});
  }

  TEST_CASE("decoders.join_and_heartbeat") {
    auto j = nw::ctl::join_answer_from_json(
        R"({"member_id":"m-5f3a","generation":4,
            "assignment":[{"topic":"orders","partition":0},
                          {"topic":"orders","partition":2}],
            "heartbeat_interval_ms":3000})");
    REQUIRE(j.ok());
    CHECK(j->member_id == "m-5f3a");
    CHECK(j->assignment.size() == 2);
    CHECK(j->assignment[1] == nw::ctl::TopicPartition{"orders", 2});

    auto h = nw::ctl::heartbeat_answer_from_json(
        R"({"generation":5,"rebalance":true,"assignment":[]})");
    REQUIRE(h.ok());
    CHECK(h->rebalance);
    REQUIRE(h->assignment.has_value());
    CHECK(h->assignment->empty());
    auto h2 = nw::ctl::heartbeat_answer_from_json(R"({"generation":5})");
    REQUIRE(h2.ok());
    CHECK_FALSE(h2->assignment.has_value());
    CHECK_FALSE(nw::ctl::join_answer_from_json(R"({"generation":1})").ok());
  }

  TEST_CASE("render_group.members_offsets_and_owner") {
    auto g = nw::ctl::group_from_json(R"({
      "group": "billing", "state": "stable", "generation": 5,
      "strategy": "range",
      "members": [{"member_id": "m-1", "client_id": "nwctl-a-1",
                   "assignment": [{"topic": "orders", "partition": 1},
                                  {"topic": "orders", "partition": 0}]}],
      "offsets": [{"topic": "orders", "partition": 1, "committed": 10,
                   "high_watermark": 12, "lag": 2},
                  {"topic": "orders", "partition": 0, "committed": 1201,
                   "high_watermark": 1300, "lag": 99},
                  {"topic": "audit", "partition": 0, "committed": 5,
                   "high_watermark": 5, "lag": 0}]})");
    REQUIRE(g.ok());
    CHECK(nw::ctl::render_group(*g) ==
          "GROUP        billing\n"
          "STATE        stable\n"
          "GENERATION   5\n"
          "STRATEGY     range\n"
          "MEMBERS      1\n"
          "TOTAL LAG    101\n"
          "\n"
          "MEMBER   CLIENT      ASSIGNMENT\n"
          "m-1      nwctl-a-1   orders:0,1\n"
          "\n"
          "TOPIC    PARTITION   COMMITTED   HIGH WATERMARK   LAG   MEMBER\n"
          "audit    0           5           5                0     -\n"
          "orders   0           1201        1300             99    m-1\n"
          "orders   1           10          12               2     m-1\n");
  }

  TEST_CASE("reset_plan.decodes_and_renders_changes") {
    auto p = nw::ctl::reset_plan_from_json(
        R"({"executed":false,"plan":[
             {"topic":"orders","partition":0,"current":1201,"new":0},
             {"topic":"orders","partition":1,"current":null,"new":7}]})");
    REQUIRE(p.ok());
    CHECK_FALSE(p->executed);
    CHECK(nw::ctl::render_reset_plan(*p) ==
          "TOPIC    PARTITION   CURRENT   NEW   CHANGE\n"
          "orders   0           1201      0     -1201\n"
          "orders   1           -         7     -\n");
  }

  TEST_CASE("group_list.sorted_table") {
    auto l = nw::ctl::group_list_from_json(
        R"({"groups":[{"group":"z","state":"empty","members":0,"generation":2},
                      {"group":"a","state":"stable","members":3,
                       "generation":5}]})");
    REQUIRE(l.ok());
    CHECK(nw::ctl::render_group_list(*l) ==
          "GROUP   STATE    MEMBERS   GENERATION\n"
          "a       stable   3         5\n"
          "z       empty    0         2\n");
  }
}

TEST_SUITE("cli.bench") {
  TEST_CASE("latency_stats.nearest_rank") {
    std::vector<double> ms;
    for (int i = 1; i <= 1000; ++i) ms.push_back(i);
    std::reverse(ms.begin(), ms.end());
    auto s = nw::ctl::latency_stats(ms);
    CHECK(s.p50 == 500);
    CHECK(s.p99 == 990);
    CHECK(s.p999 == 999);
    CHECK(s.max == 1000);
    auto one = nw::ctl::latency_stats({3.5});
    CHECK(one.p50 == 3.5);
    CHECK(one.p999 == 3.5);
    CHECK(nw::ctl::latency_stats({}).max == 0);
  }

  TEST_CASE("parse_bench_flags.ranges") {
    nw::ctl::BenchFlags f;
    f.topic = "bench";
    auto ok = nw::ctl::parse_bench_flags(f);
    REQUIRE(ok.ok());
    CHECK(ok->size == 1024);
    CHECK(ok->in_flight == 4);
    CHECK_FALSE(ok->messages.has_value());
    f.in_flight = "0";
    CHECK_FALSE(nw::ctl::parse_bench_flags(f).ok());
    f.in_flight = "8";
    f.duration = "0";
    CHECK_FALSE(nw::ctl::parse_bench_flags(f).ok());
    f.duration = "30s";
    f.acks = "some";
    CHECK_FALSE(nw::ctl::parse_bench_flags(f).ok());
    f.acks = "leader";
    f.messages = "1000";
    auto b = nw::ctl::parse_bench_flags(f);
    REQUIRE(b.ok());
    CHECK(b->duration == std::optional<nw::Duration>(std::chrono::seconds(30)));
    CHECK(b->messages == std::optional<std::uint64_t>(1000));
  }

  TEST_CASE("report.json_and_table") {
    nw::ctl::BenchReport r;
    r.kind = "produce";
    r.topic = "bench";
    r.messages = 100000;
    r.bytes = 102400000;
    r.seconds = 2;
    r.requests = 200;
    r.latency = {1.5, 4.25, 9, 12};
    auto j = nlohmann::json::parse(nw::ctl::bench_json(r));
    CHECK(j["messages_per_second"] == 50000.0);
    CHECK(j["mb_per_second"] == 51.2);
    CHECK(j["latency_ms"]["p99"] == 4.25);
    CHECK(j["failed"] == 0);
    std::string t = nw::ctl::render_bench(r);
    CHECK(t.find("MESSAGES/S         50000\n") != std::string::npos);
    CHECK(t.find("MB/S               51.20\n") != std::string::npos);
    CHECK(t.find("BATCH LATENCY MS   p50 1.50  p99 4.25  p999 9.00  max "
                 "12.00\n") != std::string::npos);
  }
}
