// `nwctl produce`: flag checks, line splitting, the key separator, the
// partitioner (cli/produce.h) and the Producer's batching, retries and
// failure accounting (cli/producer.h) against a scripted sender.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "cli/produce.h"
#include "cli/producer.h"

namespace {

using nw::Code;
using nw::Error;
using nw::ctl::BatchOutcome;
using nw::ctl::BatchSender;
using nw::ctl::ProduceAck;
using nw::ctl::ProduceFlags;
using nw::ctl::Producer;
using nw::ctl::ProducerOptions;
using nw::records::Record;

Record value(std::string v) {
  Record r;
  r.value = std::move(v);
  return r;
}

// A sender that fails the first `failures` calls with `code`, then
// acknowledges, assigning offsets per partition. Records every body.
struct ScriptedSender {
  std::mutex mu;
  int failures = 0;
  Code code = Code::unavailable;
  std::map<std::uint32_t, std::uint64_t> next;
  std::vector<std::pair<std::uint32_t, std::string>> bodies;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};

  BatchSender make() {
    return [this](std::uint32_t p,
                  const std::string& batch) -> nw::Result<ProduceAck> {
      int now = ++in_flight;
      int seen = max_in_flight.load();
      while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::lock_guard<std::mutex> lock(mu);
      --in_flight;
      bodies.emplace_back(p, batch);
      if (failures > 0) {
        --failures;
        return Error(code, "injected");
      }
      auto info = nw::records::read_batch_info(batch);
      CHECK(info.ok());  // on a worker thread: no REQUIRE
      ProduceAck a;
      a.partition = p;
      a.base_offset = next[p];
      a.count = info->record_count;
      next[p] += info->record_count;
      return a;
    };
  }
};

ProducerOptions fast_options(std::uint32_t partitions) {
  ProducerOptions o;
  o.partitions = partitions;
  o.batch_records = 3;
  o.workers = 2;
  o.delivery_timeout = std::chrono::milliseconds(2000);
  o.first_backoff = std::chrono::milliseconds(1);
  o.max_backoff = std::chrono::milliseconds(5);
  return o;
}

}  // namespace

TEST_SUITE("cli.produce") {
  TEST_CASE("parse_produce_flags.rejects_bad_acks_and_key_conflicts") {
    ProduceFlags f;
    f.topic = "orders";
    f.acks = "most";
    auto r = nw::ctl::parse_produce_flags(f);
    REQUIRE_FALSE(r.ok());
    CHECK(nw::exit_code(r.error().code) == 2);
    CHECK(r.error().message ==
          "--acks: expected all, leader or none, got 'most'");

    f.acks = "leader";
    f.key_given = true;
    f.key = "k";
    f.key_separator = ":";
    r = nw::ctl::parse_produce_flags(f);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message ==
          "--key and --key-separator cannot be used together");

    f.key_separator = "";
    f.headers = {"source=billing", "empty=", "a=b=c"};
    f.batch_size = "100";
    f.partition = "2";
    r = nw::ctl::parse_produce_flags(f);
    REQUIRE(r.ok());
    CHECK(r->acks == nw::ctl::Acks::leader);
    CHECK(r->key == std::optional<std::string>("k"));
    CHECK(r->batch_size == 100);
    CHECK(r->partition == std::optional<std::uint32_t>(2));
    REQUIRE(r->headers.size() == 3);
    CHECK(r->headers[1].value == std::optional<std::string>(""));
    CHECK(r->headers[2].key == "a");
    CHECK(r->headers[2].value == std::optional<std::string>("b=c"));

    f.headers = {"novalue"};
    CHECK_FALSE(nw::ctl::parse_produce_flags(f).ok());
    f.headers = {"=v"};
    CHECK_FALSE(nw::ctl::parse_produce_flags(f).ok());
    f.headers = {};
    f.batch_size = "0";
    CHECK_FALSE(nw::ctl::parse_produce_flags(f).ok());
    f.batch_size = "500";
    f.partition = "-1";
    CHECK_FALSE(nw::ctl::parse_produce_flags(f).ok());
  }

  TEST_CASE("line_to_record.key_separator_splits_at_the_first") {
    nw::ctl::ProduceConfig c;
    c.key_separator = "::";
    c.headers = {{"h", "v"}};
    auto r = nw::ctl::line_to_record("user-1::a::b", c, 1);
    REQUIRE(r.ok());
    CHECK(r->key == std::optional<std::string>("user-1"));
    CHECK(r->value == std::optional<std::string>("a::b"));
    CHECK(r->headers.size() == 1);
    auto empty_key = nw::ctl::line_to_record("::v", c, 2);
    REQUIRE(empty_key.ok());
    CHECK(empty_key->key == std::optional<std::string>(""));

    auto missing = nw::ctl::line_to_record("no separator", c, 17);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message == "line 17 has no key separator '::'");

    nw::ctl::ProduceConfig plain;
    auto v = nw::ctl::line_to_record("k:v", plain, 1);
    REQUIRE(v.ok());
    CHECK_FALSE(v->key.has_value());
    CHECK(v->value == std::optional<std::string>("k:v"));
    plain.key = "fixed";
    CHECK(nw::ctl::line_to_record("x", plain, 1)->key ==
          std::optional<std::string>("fixed"));
  }

  TEST_CASE("line_splitter.keeps_empty_lines_and_an_unterminated_last") {
    nw::ctl::LineSplitter s;
    s.feed("a\n\nb\r\nc");
    std::string line;
    std::vector<std::string> got;
    while (s.next(&line)) got.push_back(line);
    CHECK(got == std::vector<std::string>{"a", "", "b\r"});
    CHECK(s.empty());
    s.feed("d\n");
    REQUIRE(s.next(&line));
    CHECK(line == "cd");
    CHECK_FALSE(s.finish(&line));

    nw::ctl::LineSplitter t;
    t.feed("last");
    CHECK_FALSE(t.next(&line));
    REQUIRE(t.finish(&line));
    CHECK(line == "last");
  }

  TEST_CASE("line_reader.reads_a_pipe_and_calls_idle_before_blocking") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], "one\ntwo\n", 8) == 8);
    nw::ctl::LineReader reader(fds[0]);
    int idle = 0;
    std::string line;
    auto r = reader.next(&line, [&] { ++idle; });
    REQUIRE(r.ok());
    CHECK(r.value());
    CHECK(line == "one");
    CHECK(idle == 0);
    REQUIRE(reader.next(&line, [&] { ++idle; }).value());
    CHECK(line == "two");
    std::thread writer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      REQUIRE(::write(fds[1], "three", 5) == 5);
      ::close(fds[1]);
    });
    REQUIRE(reader.next(&line, [&] { ++idle; }).value());
    CHECK(line == "three");
    CHECK(idle >= 1);  // nothing was ready before the writer wrote
    CHECK_FALSE(reader.next(&line, {}).value());
    writer.join();
    ::close(fds[0]);
  }

  TEST_CASE("partitioner.key_hash_round_robin_and_fixed") {
    nw::ctl::Partitioner rr(3, std::nullopt, 2);
    std::vector<std::uint32_t> got;
    for (int i = 0; i < 5; ++i) got.push_back(rr.choose(std::nullopt));
    CHECK(got == std::vector<std::uint32_t>{2, 0, 1, 2, 0});

    nw::ctl::Partitioner keyed(12, std::nullopt, 0);
    for (std::string k : {"user-1", "user-2", "", "ключ"}) {
      CHECK(keyed.choose(k) == nw::records::partition_for_key(k, 12));
      CHECK(keyed.choose(k) == keyed.choose(k));
    }
    // Keyed records do not disturb the round robin of unkeyed ones.
    nw::ctl::Partitioner mixed(3, std::nullopt, 0);
    CHECK(mixed.choose(std::nullopt) == 0);
    (void)mixed.choose(std::string("k"));
    CHECK(mixed.choose(std::nullopt) == 1);

    nw::ctl::Partitioner fixed(3, 1u, 0);
    CHECK(fixed.choose(std::string("k")) == 1);
    CHECK(fixed.choose(std::nullopt) == 1);
  }

  TEST_CASE("messages.ack_line_and_not_acknowledged") {
    CHECK(nw::ctl::ack_line(2, 1200, 7) ==
          R"({"partition": 2, "offset": 1200, "line": 7})");
    CHECK(nw::ctl::ack_line(0, std::nullopt, 1) ==
          R"({"partition": 0, "offset": null, "line": 1})");
    CHECK(nw::ctl::not_acknowledged(3, 1000, Error(Code::timeout, "slow")) ==
          "3 of 1000 messages were not acknowledged: slow");
    CHECK(nw::ctl::not_acknowledged(1, 1, Error(Code::timeout, "slow")) ==
          "1 of 1 message was not acknowledged: slow");
    for (int i = 0; i < 100; ++i) CHECK(nw::ctl::new_producer_id() > 0);
  }
}

TEST_SUITE("cli.producer") {
  TEST_CASE("add.batches_per_partition_in_order_with_sequences") {
    ScriptedSender sender;
    ProducerOptions o = fast_options(2);
    o.producer_id = 77;
    std::mutex mu;
    std::map<std::uint32_t, std::vector<std::uint64_t>> acked;
    Producer p(
        o, [&]() -> nw::Result<BatchSender> { return sender.make(); },
        [&](const BatchOutcome& out) {
          CHECK_FALSE(out.error.has_value());
          std::lock_guard<std::mutex> lock(mu);
          for (size_t i = 0; i < out.tags.size(); ++i) {
            acked[out.partition].push_back(out.tags[i]);
            CHECK(*out.base_offset + i == acked[out.partition].size() - 1);
          }
        });
    REQUIRE(p.start().ok());
    for (std::uint64_t i = 0; i < 20; ++i) {
      REQUIRE(p.add(static_cast<std::uint32_t>(i % 2),
                    value("m" + std::to_string(i)), i)
                  .ok());
    }
    REQUIRE(p.close().ok());
    CHECK(acked[0] ==
          std::vector<std::uint64_t>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18});
    CHECK(acked[1].size() == 10);
    // Sequences per partition: 0, 3, 6, 9 (batches of 3, then the rest).
    std::map<std::uint32_t, std::vector<std::int32_t>> seqs;
    for (const auto& [part, body] : sender.bodies) {
      auto info = nw::records::read_batch_info(body);
      REQUIRE(info.ok());
      CHECK(info->producer_id == 77);
      seqs[part].push_back(info->base_sequence);
    }
    CHECK(seqs[0] == std::vector<std::int32_t>{0, 3, 6, 9});
    CHECK(seqs[1] == std::vector<std::int32_t>{0, 3, 6, 9});
  }

  TEST_CASE("send.retries_unavailable_with_the_same_bytes") {
    ScriptedSender sender;
    sender.failures = 3;
    sender.code = Code::unavailable;
    ProducerOptions o = fast_options(1);
    o.producer_id = 5;
    std::vector<BatchOutcome> outs;
    Producer p(
        o, [&]() -> nw::Result<BatchSender> { return sender.make(); },
        [&](const BatchOutcome& out) { outs.push_back(out); });
    REQUIRE(p.start().ok());
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(p.add(0, value("x"), i).ok());
    REQUIRE(p.close().ok());
    REQUIRE(outs.size() == 1);
    CHECK(outs[0].attempts == 4);
    CHECK(outs[0].base_offset == std::optional<std::uint64_t>(0));
    REQUIRE(sender.bodies.size() == 4);
    for (const auto& [part, body] : sender.bodies) {
      CHECK(body == sender.bodies[0].second);
    }
  }

  TEST_CASE("send.timeout_is_not_retried_without_a_producer_id") {
    ScriptedSender sender;
    sender.failures = 1;
    sender.code = Code::timeout;
    ProducerOptions o = fast_options(1);
    std::vector<BatchOutcome> outs;
    Producer p(
        o, [&]() -> nw::Result<BatchSender> { return sender.make(); },
        [&](const BatchOutcome& out) { outs.push_back(out); });
    REQUIRE(p.start().ok());
    REQUIRE(p.add(0, value("x"), 0).ok());
    nw::Status s = p.close();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::timeout);
    CHECK(s.error().message == "partition 0: injected");
    REQUIRE(outs.size() == 1);
    CHECK(outs[0].attempts == 1);
  }

  TEST_CASE("send.gives_up_at_the_delivery_timeout") {
    ScriptedSender sender;
    sender.failures = 1000000;
    ProducerOptions o = fast_options(1);
    o.producer_id = 1;
    o.delivery_timeout = std::chrono::milliseconds(50);
    Producer p(o, [&]() -> nw::Result<BatchSender> { return sender.make(); },
               {});
    REQUIRE(p.start().ok());
    REQUIRE(p.add(0, value("x"), 0).ok());
    nw::Status s = p.close();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::unavailable);
    CHECK(s.error().message.find("gave up after") != std::string::npos);
    CHECK(s.error().hint.find("--timeout") != std::string::npos);
  }

  TEST_CASE("failure.fails_the_rest_without_sending_and_accounts_for_all") {
    ScriptedSender sender;
    sender.failures = 1;
    sender.code = Code::not_found;
    ProducerOptions o = fast_options(1);
    o.batch_records = 2;
    o.workers = 1;
    std::uint64_t failed = 0, acked = 0;
    int unsent = 0;
    Producer p(
        o, [&]() -> nw::Result<BatchSender> { return sender.make(); },
        [&](const BatchOutcome& out) {
          if (out.error) {
            failed += out.tags.size();
            unsent += out.attempts == 0 ? 1 : 0;
          } else {
            acked += out.tags.size();
          }
        });
    REQUIRE(p.start().ok());
    std::uint64_t added = 0;
    for (std::uint64_t i = 0; i < 50; ++i) {
      if (!p.add(0, value("x"), i).ok()) break;
      ++added;
    }
    nw::Status s = p.close();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::not_found);
    CHECK(acked == 0);
    CHECK(failed == added);
    CHECK(sender.bodies.size() == 1);  // nothing sent after the failure
    if (added > 2) CHECK(unsent > 0);
  }

  TEST_CASE("ordering.one_batch_per_partition_in_flight") {
    ScriptedSender sender;
    ProducerOptions o = fast_options(1);
    o.workers = 4;
    o.batch_records = 1;
    Producer p(o, [&]() -> nw::Result<BatchSender> { return sender.make(); },
               {});
    REQUIRE(p.start().ok());
    for (std::uint64_t i = 0; i < 30; ++i)
      REQUIRE(p.add(0, value("x"), i).ok());
    REQUIRE(p.close().ok());
    CHECK(sender.max_in_flight.load() == 1);

    ScriptedSender unordered;
    o.max_in_flight_per_partition = 0;
    Producer q(o, [&]() -> nw::Result<BatchSender> { return unordered.make(); },
               {});
    REQUIRE(q.start().ok());
    for (std::uint64_t i = 0; i < 60; ++i)
      REQUIRE(q.add(0, value("x"), i).ok());
    REQUIRE(q.close().ok());
    CHECK(unordered.bodies.size() == 60);
  }
}
