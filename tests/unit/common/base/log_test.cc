#include <doctest/doctest.h>

#include <string>

#include "common/base/log.h"

namespace nw::log {
namespace {

constexpr std::string_view kTs = "2026-11-22T10:00:00.123Z";

}  // namespace

TEST_SUITE("base.log") {
  TEST_CASE("format_line.text") {
    CHECK(format_line(Format::text, kTs, Level::info, "agent", "started",
                      {{"api", "127.0.0.1:7070"}}) ==
          "2026-11-22T10:00:00.123Z INFO  agent: started api=127.0.0.1:7070");
    CHECK(format_line(Format::text, kTs, Level::error, "raft", "lost", {}) ==
          "2026-11-22T10:00:00.123Z ERROR raft: lost");
    CHECK(format_line(Format::text, kTs, Level::warn, "x", "m",
                      {{"n", 3}, {"ok", true}, {"f", 1.5}}) ==
          "2026-11-22T10:00:00.123Z WARN  x: m n=3 ok=true f=1.5");
  }

  TEST_CASE("format_line.text_quotes_when_needed") {
    CHECK(format_line(Format::text, kTs, Level::debug, "c", "m",
                      {{"a", "two words"},
                       {"b", ""},
                       {"c", "say \"hi\"\n"},
                       {"d", "k=v"}}) ==
          "2026-11-22T10:00:00.123Z DEBUG c: m a=\"two words\" b=\"\" "
          "c=\"say \\\"hi\\\"\\n\" d=\"k=v\"");
  }

  TEST_CASE("format_line.json_escapes_and_types") {
    CHECK(format_line(Format::json, kTs, Level::info, "agent", "say \"hi\"\n",
                      {{"path", "C:\\x"},
                       {"n", 42},
                       {"neg", -1},
                       {"ok", false},
                       {"ratio", 0.25},
                       {"ctl", std::string(1, '\x01')}}) ==
          "{\"ts\":\"2026-11-22T10:00:00.123Z\",\"level\":\"info\","
          "\"component\":\"agent\",\"msg\":\"say \\\"hi\\\"\\n\","
          "\"path\":\"C:\\\\x\",\"n\":42,\"neg\":-1,\"ok\":false,"
          "\"ratio\":0.25,\"ctl\":\"\\u0001\"}");
  }

  TEST_CASE("parse_level.names") {
    for (Level l : {Level::trace, Level::debug, Level::info, Level::warn,
                    Level::error, Level::off}) {
      CHECK(parse_level(to_string(l)) == l);
    }
    CHECK(parse_level("warning") == Level::warn);
    CHECK_FALSE(parse_level("INFO").has_value());
    CHECK(parse_format("json") == Format::json);
    CHECK(parse_format("text") == Format::text);
    CHECK_FALSE(parse_format("xml").has_value());
  }

  TEST_CASE("enabled.follows_level") {
    Level before = level();
    set_level(Level::warn);
    CHECK_FALSE(enabled(Level::info));
    CHECK(enabled(Level::warn));
    CHECK(enabled(Level::error));
    set_level(Level::off);
    CHECK_FALSE(enabled(Level::error));
    set_level(before);
  }

  TEST_CASE("configure.bad_file_is_io_error") {
    Status s = configure(Level::info, Format::text,
                         "/nonexistent/nightwatch/dir/agent.log");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::io_error);
    CHECK(s.error().message.rfind("open log file /nonexistent", 0) == 0);
  }
}

}  // namespace nw::log
