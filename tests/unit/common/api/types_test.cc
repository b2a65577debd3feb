#include "common/api/types.h"

#include <doctest/doctest.h>

#include <string>

#include "common/api/json.h"

namespace nw::api {
namespace {

StatusInfo sample_status() {
  StatusInfo s;
  s.node_id = "n-4f2a";
  s.version = "0.1.0";
  s.commit = "abc123def456";
  s.data_dir = "/var/lib/nightwatch";
  s.role = "standalone";
  s.api_addr = "127.0.0.1:7070";
  s.log_level = "info";
  s.started_at = "2026-11-22T10:00:00.123Z";
  s.uptime_seconds = 12.5;
  s.pid = 4242;
  return s;
}

}  // namespace

TEST_SUITE("api.types") {
  TEST_CASE("status.round_trip") {
    StatusInfo s = sample_status();
    auto back = status_from_json(to_body(to_json(s)));
    REQUIRE(back.ok());
    CHECK(back.value() == s);
  }

  TEST_CASE("status.json_field_names") {
    nlohmann::json j = to_json(sample_status());
    for (const char* key :
         {"node_id", "version", "commit", "data_dir", "role", "api_addr",
          "log_level", "started_at", "uptime_seconds", "pid", "peer_addr",
          "cluster_id", "leader", "term"}) {
      CAPTURE(key);
      CHECK(j.contains(key));
    }
    CHECK(j.size() == 14);
    CHECK(j["pid"].is_number_integer());
    CHECK(j["uptime_seconds"].is_number());
  }

  TEST_CASE("status.missing_field") {
    nlohmann::json j = to_json(sample_status());
    j.erase("pid");
    auto r = status_from_json(j.dump());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::invalid_argument);
    CHECK(r.error().message == "status: missing field \"pid\"");
  }

  TEST_CASE("status.wrong_type") {
    nlohmann::json j = to_json(sample_status());
    j["node_id"] = 7;
    auto r = status_from_json(j.dump());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message ==
          "status: field \"node_id\": expected a string, got number");
  }

  TEST_CASE("status.malformed_body") {
    auto r = status_from_json("not json");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::invalid_argument);
    CHECK(r.error().message.starts_with("status: not valid JSON"));
    CHECK(status_from_json("[]").error().message ==
          "status: expected a JSON object, got array");
    CHECK(status_from_value(nlohmann::json(3)).error().message ==
          "status: expected a JSON object, got number");
  }

  TEST_CASE("status.unknown_fields_are_ignored") {
    nlohmann::json j = to_json(sample_status());
    j["added_later"] = {{"x", 1}};
    auto r = status_from_json(j.dump());
    REQUIRE(r.ok());
    CHECK(r.value() == sample_status());
  }

  TEST_CASE("health.round_trip") {
    HealthInfo ready{std::string(kHealthReady), {}};
    CHECK(to_body(to_json(ready)) == R"({"status":"ready"})");
    CHECK(health_from_json(R"({"status":"ready"})").value() == ready);

    HealthInfo not_ready{std::string(kHealthNotReady),
                         {"services are starting", "no leader"}};
    auto back = health_from_json(to_body(to_json(not_ready)));
    REQUIRE(back.ok());
    CHECK(back.value() == not_ready);
  }

  TEST_CASE("health.errors") {
    CHECK(health_from_json("{}").error().message ==
          "health: missing field \"status\"");
    CHECK(
        health_from_json(R"({"status":"ok","reasons":"x"})").error().message ==
        "health: field \"reasons\": expected an array of strings, got "
        "string");
  }

  TEST_CASE("version.round_trip") {
    VersionInfo v{"0.1.0", "abc123"};
    CHECK(to_body(to_json(v)) == R"({"commit":"abc123","version":"0.1.0"})");
    CHECK(version_from_json(to_body(to_json(v))).value() == v);
    CHECK(version_from_json(R"({"version":"0.1.0"})").error().message ==
          "version: missing field \"commit\"");
  }
}

}  // namespace nw::api
