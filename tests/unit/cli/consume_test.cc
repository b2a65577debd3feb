// `nwctl consume`: --from, the flag checks, UTF-8 and base64, the JSON and
// text lines of a record, the printer's -n limit, and decoding a fetch
// answer (cli/consume.h, cli/records_client.h).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cli/consume.h"
#include "cli/records_client.h"
#include "nwctl_runner.h"

namespace {

using nw::ctl::StartFrom;
using nw::records::Record;

Record rec(std::optional<std::string> key, std::optional<std::string> value,
           std::uint64_t offset = 0) {
  Record r;
  r.key = std::move(key);
  r.value = std::move(value);
  r.offset = offset;
  r.timestamp_ms = 1795341600123LL;  // 2026-11-22T10:00:00.123Z
  return r;
}

}  // namespace

TEST_SUITE("cli.consume") {
  TEST_CASE("parse_from.names_offsets_times_and_durations") {
    auto now = nw::WallTime(std::chrono::milliseconds(1'800'000'000'000LL));
    CHECK(nw::ctl::parse_from("earliest", now)->kind ==
          StartFrom::Kind::earliest);
    CHECK(nw::ctl::parse_from("latest", now)->kind == StartFrom::Kind::latest);
    auto off = nw::ctl::parse_from("1200", now);
    REQUIRE(off.ok());
    CHECK(off->kind == StartFrom::Kind::offset);
    CHECK(off->offset == 1200);
    auto t = nw::ctl::parse_from("2026-11-22T10:00:00.123Z", now);
    REQUIRE(t.ok());
    CHECK(t->kind == StartFrom::Kind::time);
    CHECK(nw::ctl::offsets_query(*t) == "1795341600123");
    auto ago = nw::ctl::parse_from("-1h", now);
    REQUIRE(ago.ok());
    CHECK(ago->time_ms == 1'800'000'000'000LL - 3'600'000);
    auto bad = nw::ctl::parse_from("yesterday", now);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("--from:") == 0);
    CHECK(nw::exit_code(bad.error().code) == 2);
  }

  TEST_CASE("parse_consume_flags.checks_combinations") {
    nw::ctl::ConsumeFlags f;
    f.topic = "orders";
    f.group = "billing";
    f.partition = "1";
    auto r = nw::ctl::parse_consume_flags(f, nw::wall_now());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message ==
          "--partition and --group cannot be used together");
    f.group = "";
    f.count = "0";
    CHECK_FALSE(nw::ctl::parse_consume_flags(f, nw::wall_now()).ok());
    f.count = "10";
    f.max_bytes = "100";
    CHECK_FALSE(nw::ctl::parse_consume_flags(f, nw::wall_now()).ok());
    f.max_bytes = "4MiB";
    auto ok = nw::ctl::parse_consume_flags(f, nw::wall_now());
    REQUIRE(ok.ok());
    CHECK(ok->partition == std::optional<std::uint32_t>(1));
    CHECK(ok->count == std::optional<std::uint64_t>(10));
    CHECK(ok->max_bytes == 4u << 20);
    f.group = "bad group";
    CHECK_FALSE(nw::ctl::parse_consume_flags(f, nw::wall_now()).ok());
  }

  TEST_CASE("parse_consume_flags.group_strategy_and_session_timeout") {
    nw::ctl::ConsumeFlags f;
    f.topic = "orders";
    f.strategy = "roundrobin";
    CHECK_FALSE(nw::ctl::parse_consume_flags(f, nw::wall_now()).ok());
    f.group = "billing";
    auto ok = nw::ctl::parse_consume_flags(f, nw::wall_now());
    REQUIRE(ok.ok());
    CHECK(ok->strategy == "roundrobin");
    CHECK(ok->session_timeout_ms == 10000);
    f.session_timeout = "30s";
    CHECK(nw::ctl::parse_consume_flags(f, nw::wall_now())->session_timeout_ms ==
          30000);
    for (const char* bad : {"500ms", "6m", "soon"}) {
      CAPTURE(bad);
      f.session_timeout = bad;
      CHECK_FALSE(nw::ctl::parse_consume_flags(f, nw::wall_now()).ok());
    }
    f.session_timeout.clear();
    f.strategy = "sticky";
    auto r = nw::ctl::parse_consume_flags(f, nw::wall_now());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("range or roundrobin") != std::string::npos);
  }

  TEST_CASE("valid_utf8.accepts_text_rejects_broken_sequences") {
    CHECK(nw::ctl::valid_utf8(""));
    CHECK(nw::ctl::valid_utf8("plain ascii"));
    CHECK(nw::ctl::valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    CHECK_FALSE(nw::ctl::valid_utf8("\xff"));
    CHECK_FALSE(nw::ctl::valid_utf8("\xc3"));              // cut short
    CHECK_FALSE(nw::ctl::valid_utf8("\xc0\xaf"));          // overlong '/'
    CHECK_FALSE(nw::ctl::valid_utf8("\xe0\x80\xaf"));      // overlong
    CHECK_FALSE(nw::ctl::valid_utf8("\xed\xa0\x80"));      // surrogate
    CHECK_FALSE(nw::ctl::valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
    CHECK_FALSE(nw::ctl::valid_utf8("\x80"));
  }

  TEST_CASE("base64_encode.rfc4648_vectors") {
    CHECK(nw::ctl::base64_encode("") == "");
    CHECK(nw::ctl::base64_encode("f") == "Zg==");
    CHECK(nw::ctl::base64_encode("fo") == "Zm8=");
    CHECK(nw::ctl::base64_encode("foo") == "Zm9v");
    CHECK(nw::ctl::base64_encode("foobar") == "Zm9vYmFy");
    CHECK(nw::ctl::base64_encode(std::string("\xff\x00\x01", 3)) == "/wAB");
  }

  TEST_CASE("record_json.utf8_as_text_binary_as_base64_absent_as_null") {
    Record r =
        rec(std::string("user-1"), std::string("caf\xc3\xa9 \"x\"\n"), 42);
    r.headers = {{"trace", std::string("abc")}, {"flag", std::nullopt}};
    CHECK(nw::ctl::record_json(3, r) ==
          "{\"partition\":3,\"offset\":42,"
          "\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"key\":\"user-1\","
          "\"value\":\"caf\xc3\xa9 \\\"x\\\"\\n\",\"headers\":["
          "{\"key\":\"trace\",\"value\":\"abc\"},"
          "{\"key\":\"flag\",\"value\":null}]}");

    Record bin = rec(std::nullopt, std::string("\xff\xfe\x00", 3), 7);
    bin.headers = {{"raw", std::string("\x80")}};
    std::string line = nw::ctl::record_json(0, bin);
    auto j = nlohmann::json::parse(line);
    CHECK(j["key"].is_null());
    CHECK_FALSE(j.contains("key_encoding"));
    CHECK(j["value"] == "//4A");
    CHECK(j["value_encoding"] == "base64");
    CHECK(j["headers"][0]["value"] == "gA==");
    CHECK(j["headers"][0]["value_encoding"] == "base64");

    Record tomb = rec(std::string("\xc3"), std::nullopt);
    auto t = nlohmann::json::parse(nw::ctl::record_json(1, tomb));
    CHECK(t["key"] == "ww==");
    CHECK(t["key_encoding"] == "base64");
    CHECK(t["value"].is_null());
    CHECK(t["headers"] == nlohmann::json::array());
  }

  TEST_CASE("record_text.value_per_line") {
    CHECK(nw::ctl::record_text(rec(std::nullopt, std::string("v"))) == "v\n");
    CHECK(nw::ctl::record_text(rec(std::nullopt, std::nullopt)) == "\n");
  }

  TEST_CASE("printer.stops_at_the_limit") {
    nw::ctl::RecordPrinter printer(nw::ctl::Output::table, 3);
    std::vector<Record> batch = {rec(std::nullopt, std::string("a")),
                                 rec(std::nullopt, std::string("b"))};
    nw::ctl::test::Capture cap;
    CHECK(printer.print(0, batch) == 2);
    CHECK_FALSE(printer.limit_reached());
    CHECK(printer.print(1, batch) == 1);
    CHECK(printer.limit_reached());
    CHECK(printer.print(1, batch) == 0);
    cap.restore();
    CHECK(cap.out() == "a\nb\na\n");
    CHECK(printer.printed() == 3);
  }

  TEST_CASE("decode_fetch.skips_records_before_the_offset_and_controls") {
    std::vector<Record> first = {rec(std::nullopt, std::string("0")),
                                 rec(std::nullopt, std::string("1")),
                                 rec(std::nullopt, std::string("2"))};
    std::string b1 = nw::records::build_batch(first);
    nw::records::stamp_batch(&b1, 10, 1, 1);
    std::string ctl = nw::records::build_control_batch(
        nw::records::ControlKind::raft_noop, "");
    nw::records::stamp_batch(&ctl, 13, 2, 2);
    std::string b2 =
        nw::records::build_batch({rec(std::string("k"), std::string("3"))});
    nw::records::stamp_batch(&b2, 13, 3, 2);
    nw::http::HeaderList headers = {{"nw-high-watermark", "14"},
                                    {"NW-Start-Offset", "5"},
                                    {"NW-Next-Offset", "14"}};
    auto f = nw::ctl::decode_fetch(b1 + ctl + b2, headers, 11);
    REQUIRE(f.ok());
    REQUIRE(f->records.size() == 3);
    CHECK(f->records[0].offset == 11);
    CHECK(f->records[0].value == std::optional<std::string>("1"));
    CHECK(f->records[2].offset == 13);
    CHECK(f->high_watermark == 14);
    CHECK(f->start_offset == 5);
    CHECK(f->next_offset == 14);

    // Without NW-Next-Offset: after the last batch.
    auto g = nw::ctl::decode_fetch(b1, {}, 10);
    REQUIRE(g.ok());
    CHECK(g->next_offset == 13);
    auto empty = nw::ctl::decode_fetch("", {}, 7);
    REQUIRE(empty.ok());
    CHECK(empty->next_offset == 7);

    CHECK_FALSE(nw::ctl::decode_fetch(b1.substr(0, b1.size() - 1), {}, 0).ok());
    CHECK_FALSE(
        nw::ctl::decode_fetch(b1, {{"NW-High-Watermark", "many"}}, 0).ok());
  }

  TEST_CASE("long_poll_ms.bounded_by_timeout") {
    CHECK(nw::ctl::long_poll_ms(std::chrono::seconds(10)) == 1000);
    CHECK(nw::ctl::long_poll_ms(std::chrono::milliseconds(600)) == 300);
  }
}

TEST_SUITE("cli.records_client") {
  TEST_CASE("parse_acks.and_paths") {
    CHECK(nw::ctl::parse_acks("none").value() == nw::ctl::Acks::none);
    CHECK_FALSE(nw::ctl::parse_acks("ALL").ok());
    CHECK(nw::ctl::produce_path("a/b", 2, nw::ctl::Acks::leader) ==
          "/v1/topics/a%2Fb/partitions/2/records?acks=leader");
    CHECK(nw::ctl::fetch_path("orders", 0, 5, 1024, 100) ==
          "/v1/topics/orders/partitions/0/records?offset=5&max_bytes=1024&"
          "wait_ms=100");
  }

  TEST_CASE("produce_ack_from_json.and_offsets_from_json") {
    auto a = nw::ctl::produce_ack_from_json(
        R"({"partition":1,"base_offset":1200,"count":100,"duplicate":true})");
    REQUIRE(a.ok());
    CHECK(a->base_offset == std::optional<std::uint64_t>(1200));
    CHECK(a->duplicate);
    CHECK_FALSE(nw::ctl::produce_ack_from_json(R"({"base_offset":-1})").ok());
    auto o = nw::ctl::offsets_from_json(
        R"({"topic":"t","partitions":[{"partition":0,"offset":3},
                                       {"partition":2,"offset":9}]})");
    REQUIRE(o.ok());
    CHECK(*o == nw::ctl::OffsetMap{{0, 3}, {2, 9}});
  }
}
