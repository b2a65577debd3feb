// `nwctl topic ...`: the checks, request bodies, decoders and tables of
// cli/topic.h, and the shared argument parsers of cli/command_util.h.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cli/command_util.h"
#include "cli/topic.h"

namespace {

using nw::ctl::TopicCreateFlags;

nlohmann::json json_of(const nw::Result<std::string>& r) {
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  return nlohmann::json::parse(r.value());
}

constexpr const char* kTopicBody = R"({
  "name": "orders", "id": 7, "partitions": 2, "replicas": 3,
  "retention_ms": 604800000, "retention_bytes": -1,
  "segment_bytes": 134217728, "future": true,
  "partition_states": [
    {"partition": 1, "leader": "", "replicas": ["a", "b", "c"],
     "in_sync": ["b"], "high_watermark": 5, "start_offset": 2,
     "size_bytes": 1536, "status": "offline",
     "error": "segment 00000000000000000001.log: crc mismatch at byte 8192"},
    {"partition": 0, "leader": "a", "replicas": ["a", "b", "c"],
     "in_sync": ["a", "b", "c"], "high_watermark": 1200,
     "start_offset": 0, "size_bytes": 1345000, "status": "online",
     "error": ""}]})";

}  // namespace

TEST_SUITE("cli.topic") {
  TEST_CASE("create_body.requires_partitions_and_replicas") {
    TopicCreateFlags f;
    f.name = "orders";
    f.replicas = "3";
    auto r = nw::ctl::topic_create_body(f);
    REQUIRE_FALSE(r.ok());
    CHECK(nw::exit_code(r.error().code) == 2);
    CHECK(r.error().message == "topic create: --partitions is required");
    CHECK(r.error().hint.find("--partitions 3 --replicas 3") !=
          std::string::npos);

    f.partitions = "3";
    f.replicas = "";
    r = nw::ctl::topic_create_body(f);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "topic create: --replicas is required");
  }

  TEST_CASE("create_body.checks_ranges_and_names") {
    TopicCreateFlags f;
    f.name = "orders";
    f.partitions = "0";
    f.replicas = "3";
    auto r = nw::ctl::topic_create_body(f);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("--partitions: 0 is out of range") == 0);
    f.partitions = "3x";
    CHECK_FALSE(nw::ctl::topic_create_body(f).ok());
    f.partitions = "3";
    f.replicas = "8";
    CHECK_FALSE(nw::ctl::topic_create_body(f).ok());
    f.replicas = "3";
    f.name = "bad/name";
    r = nw::ctl::topic_create_body(f);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "topic name 'bad/name' is not valid");
    f.name = std::string(201, 'a');
    CHECK_FALSE(nw::ctl::topic_create_body(f).ok());
    f.name = std::string(200, 'a');
    CHECK(nw::ctl::topic_create_body(f).ok());
  }

  TEST_CASE("create_body.accepts_human_durations_and_sizes") {
    TopicCreateFlags f;
    f.name = "orders";
    f.partitions = "3";
    f.replicas = "1";
    f.retention_ms = "7d";
    f.retention_bytes = "10GiB";
    f.segment_bytes = "64MiB";
    auto j = json_of(nw::ctl::topic_create_body(f));
    CHECK(j == nlohmann::json{{"name", "orders"},
                              {"partitions", 3},
                              {"replicas", 1},
                              {"retention_ms", 604800000},
                              {"retention_bytes", 10737418240LL},
                              {"segment_bytes", 67108864}});

    f.retention_ms = "3600000";
    f.retention_bytes = "unlimited";
    f.segment_bytes = "";
    j = json_of(nw::ctl::topic_create_body(f));
    CHECK(j["retention_ms"] == 3600000);
    CHECK(j["retention_bytes"] == -1);
    CHECK_FALSE(j.contains("segment_bytes"));

    f.segment_bytes = "512KiB";
    auto small = nw::ctl::topic_create_body(f);
    REQUIRE_FALSE(small.ok());
    CHECK(small.error().message.find("minimum is 1MiB") != std::string::npos);
    f.segment_bytes = "";
    f.retention_ms = "a week";
    auto bad = nw::ctl::topic_create_body(f);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("--retention-ms") == 0);
  }

  TEST_CASE("alter_body.needs_a_change") {
    nw::ctl::TopicAlterFlags f;
    f.name = "orders";
    auto r = nw::ctl::topic_alter_body(f);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "topic alter: nothing to change");
    f.partitions = "6";
    f.retention_ms = "-1";
    CHECK(json_of(nw::ctl::topic_alter_body(f)) ==
          nlohmann::json{{"partitions", 6}, {"retention_ms", -1}});
  }

  TEST_CASE("create_body.segment_ms_takes_a_duration") {
    TopicCreateFlags f;
    f.name = "orders";
    f.partitions = "1";
    f.replicas = "1";
    f.segment_ms = "1h";
    CHECK(json_of(nw::ctl::topic_create_body(f))["segment_ms"] == 3600000);
    f.segment_ms = "90000";
    CHECK(json_of(nw::ctl::topic_create_body(f))["segment_ms"] == 90000);
    for (const char* bad : {"0", "-1", "default", "soon"}) {
      CAPTURE(bad);
      f.segment_ms = bad;
      auto r = nw::ctl::topic_create_body(f);
      REQUIRE_FALSE(r.ok());
      CHECK(nw::exit_code(r.error().code) == 2);
      CHECK(r.error().message.find("--segment-ms") == 0);
    }
  }

  TEST_CASE("alter_body.segment_bytes_and_segment_ms") {
    nw::ctl::TopicAlterFlags f;
    f.name = "orders";
    f.segment_bytes = "256MiB";
    f.segment_ms = "12h";
    CHECK(
        json_of(nw::ctl::topic_alter_body(f)) ==
        nlohmann::json{{"segment_bytes", 268435456}, {"segment_ms", 43200000}});
    // "default" goes back to min(7d, retention).
    f.segment_bytes = "";
    f.segment_ms = "default";
    CHECK(json_of(nw::ctl::topic_alter_body(f)) ==
          nlohmann::json{{"segment_ms", 0}});
    f.segment_ms = "";
    f.segment_bytes = "1KiB";
    auto small = nw::ctl::topic_alter_body(f);
    REQUIRE_FALSE(small.ok());
    CHECK(nw::exit_code(small.error().code) == 2);
    CHECK(small.error().message.find("minimum is 1MiB") != std::string::npos);
  }

  TEST_CASE("render_topic.shows_the_segment_age") {
    nlohmann::json j = nlohmann::json::parse(kTopicBody);
    j["segment_ms"] = 3600000;
    j["segment_ms_default"] = true;
    auto t = nw::ctl::topic_from_json(j.dump());
    REQUIRE(t.ok());
    CHECK(t->segment_ms == 3600000);
    CHECK(nw::ctl::render_topic(*t).find("SEGMENT BYTES     128MiB\n"
                                         "SEGMENT AGE       1h (default)\n") !=
          std::string::npos);
    t->segment_ms_default = false;
    t->segment_ms = 7LL * 24 * 3600 * 1000;
    CHECK(nw::ctl::segment_age_text(*t) == "7d");
  }

  TEST_CASE("reassign_body.splits_and_checks_replicas") {
    nw::ctl::TopicReassignFlags f;
    f.name = "orders";
    f.partition = "0";
    f.replicas = {"nw-1,nw-2", " nw-4 "};
    CHECK(json_of(nw::ctl::topic_reassign_body(f)) ==
          nlohmann::json{{"partition", 0},
                         {"replicas", {"nw-1", "nw-2", "nw-4"}}});
    f.replicas = {"nw-1,nw-1"};
    CHECK_FALSE(nw::ctl::topic_reassign_body(f).ok());
    f.replicas = {};
    auto none = nw::ctl::topic_reassign_body(f);
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().message == "topic reassign: --replicas is required");
    f.replicas = {"a"};
    f.partition = "";
    CHECK_FALSE(nw::ctl::topic_reassign_body(f).ok());
  }

  TEST_CASE("topic_from_json.decodes_and_sorts_partitions") {
    auto t = nw::ctl::topic_from_json(kTopicBody);
    REQUIRE(t.ok());
    CHECK(t->name == "orders");
    CHECK(t->id == 7);
    CHECK(t->partitions == 2);
    CHECK(t->retention_bytes == -1);
    REQUIRE(t->partition_states.size() == 2);
    CHECK(t->partition_states[0].partition == 0);
    CHECK(t->partition_states[0].high_watermark == 1200);
    CHECK(t->partition_states[1].status == "offline");

    auto bad = nw::ctl::topic_from_json(R"({"name":"x","partitions":"3"})");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("\"partitions\"") != std::string::npos);
  }

  TEST_CASE("render_topic.shows_settings_and_partition_rows") {
    auto t = nw::ctl::topic_from_json(kTopicBody);
    REQUIRE(t.ok());
    CHECK(nw::ctl::render_topic(*t) ==
          "NAME              orders\n"
          "ID                7\n"
          "PARTITIONS        2\n"
          "REPLICAS          3\n"
          "RETENTION         7d\n"
          "RETENTION BYTES   unlimited\n"
          "SEGMENT BYTES     128MiB\n"
          "\n"
          "PARTITION   LEADER   REPLICAS   IN-SYNC   HIGH WATERMARK   "
          "START OFFSET   SIZE     STATUS\n"
          "0           a        a,b,c      a,b,c     1200             "
          "0              1.3MiB   online\n"
          "1           -        a,b,c      b         5                "
          "2              1.5KiB   offline: segment "
          "00000000000000000001.log: crc mismatch at byte 8192\n");
  }

  TEST_CASE("render_topic_list.one_row_per_topic") {
    auto list = nw::ctl::topic_list_from_json(
        R"({"topics":[{"name":"z","partitions":1,"replicas":1,
            "retention_ms":-1,"retention_bytes":1073741824,
            "segment_bytes":1048576},
            {"name":"a","partitions":3,"replicas":3,
             "retention_ms":86400000,"retention_bytes":-1,
             "segment_bytes":134217728}]})");
    REQUIRE(list.ok());
    CHECK(nw::ctl::render_topic_list(*list) ==
          "NAME   PARTITIONS   REPLICAS   RETENTION   RETENTION BYTES   "
          "SEGMENT BYTES\n"
          "a      3            3          1d          unlimited         "
          "128MiB\n"
          "z      1            1          unlimited   1GiB              "
          "1MiB\n");
    CHECK_FALSE(nw::ctl::topic_list_from_json(R"({"topics":{}})").ok());
  }
}

TEST_SUITE("cli.command_util") {
  TEST_CASE("parse_time_ms.rfc3339_and_relative") {
    auto now = nw::WallTime(std::chrono::milliseconds(1'800'000'000'000LL));
    CHECK(nw::ctl::parse_time_ms("1970-01-01T00:00:00Z", now, false).value() ==
          0);
    CHECK(nw::ctl::parse_time_ms("2026-11-22T10:00:00.123Z", now, false)
              .value() == 1795341600123LL);
    CHECK(nw::ctl::parse_time_ms("2026-11-22T12:00:00.123+02:00", now, false)
              .value() == 1795341600123LL);
    CHECK(nw::ctl::parse_time_ms("2024-02-29 00:00:00z", now, false).ok());
    CHECK_FALSE(
        nw::ctl::parse_time_ms("2023-02-29T00:00:00Z", now, false).ok());
    CHECK_FALSE(nw::ctl::parse_time_ms("2026-11-22T10:00:00", now, false).ok());
    CHECK_FALSE(nw::ctl::parse_time_ms("-15m", now, false).ok());
    CHECK(nw::ctl::parse_time_ms("-15m", now, true).value() ==
          1'800'000'000'000LL - 15 * 60 * 1000);
  }

  TEST_CASE("parse_int_flag.names_the_flag_and_range") {
    auto r = nw::ctl::parse_int_flag("--in-flight", "0", 1, 256, "e.g. 8");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message ==
          "--in-flight: 0 is out of range; expected a whole number from 1 "
          "to 256");
    CHECK(r.error().hint == "e.g. 8");
    CHECK(nw::ctl::parse_int_flag("--n", " 12 ", 1, 256).value() == 12);
    CHECK_FALSE(nw::ctl::parse_int_flag("--n", "", 1, 256).ok());
  }
}
