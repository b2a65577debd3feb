#include "agent/transport/transport.h"

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/metrics/registry.h"
#include "agent/transport/frame.h"
#include "tests/support/check.h"
#include "tests/support/wait.h"
#include "tests/unit/agent/transport/raw_peer.h"
#include "tests/unit/agent/transport/test_nodes.h"

namespace nw::transport {
namespace {

using namespace std::chrono_literals;
using test::Inbox;
using test::kDeadline;
using test::linked;
using test::Node;
using test::options;
using testsupport::wait_until;

// The numbers in payloads "<prefix><n>" from `from` on `group`, in arrival
// order.
std::vector<int> sequence(const Inbox& inbox, const std::string& from,
                          std::uint64_t group) {
  std::vector<int> out;
  for (const auto& m : inbox.all()) {
    if (m.from == from && m.group == group) {
      out.push_back(std::stoi(m.payload.substr(m.payload.find('-') + 1)));
    }
  }
  return out;
}

TEST_SUITE("transport.transport") {
  TEST_CASE("send.both_directions_on_several_groups_over_one_connection") {
    // Several rounds, each with both sides dialing at the same moment, so
    // the duplicate rule gets exercised in different interleavings.
    for (int round = 0; round < 5; ++round) {
      Node a(options("nw-aaaa"));
      Node b(options("nw-bbbb"));
      std::thread dial_a([&] { a.t->set_peer(b.id, b.addr()); });
      b.t->set_peer(a.id, a.addr());
      dial_a.join();
      REQUIRE(wait_until([&] { return linked(a, b); }, kDeadline,
                         "one connection between a and b"));
      constexpr int kPerGroup = 200;
      for (int i = 0; i < kPerGroup; ++i) {
        for (std::uint64_t g : {1, 2, 3}) {
          REQUIRE(a.t->send(b.id, g, "a-" + std::to_string(i)));
          REQUIRE(b.t->send(a.id, g, "b-" + std::to_string(i)));
        }
      }
      REQUIRE(wait_until(
          [&] {
            return a.inbox.size() == 3 * kPerGroup &&
                   b.inbox.size() == 3 * kPerGroup;
          },
          kDeadline, "all messages"));
      std::vector<int> expected(kPerGroup);
      for (int i = 0; i < kPerGroup; ++i) expected[i] = i;
      for (std::uint64_t g : {1, 2, 3}) {
        CHECK(sequence(b.inbox, a.id, g) == expected);
        CHECK(sequence(a.inbox, b.id, g) == expected);
      }
      CHECK(a.t->connection_count() == 1);
      CHECK(b.t->connection_count() == 1);
      // Counted when the write completes, which may be after delivery.
      CHECK(wait_until(
          [&] {
            auto pa = a.peer(b.id);
            return pa->frames_sent == 3 * kPerGroup &&
                   pa->frames_received == 3 * kPerGroup;
          },
          kDeadline, "a's counters"));
      CHECK(a.peer(b.id)->frames_dropped == 0);
    }
  }

  TEST_CASE("send.frames_arrive_in_order_per_peer") {
    Node a(options("nw-a"));
    Node b(options("nw-b"));
    a.t->set_peer(b.id, b.addr());
    // Queued before the connection exists, then sent as it comes up.
    constexpr int kCount = 3000;
    for (int i = 0; i < kCount; ++i) {
      REQUIRE(a.t->send(b.id, 5, "m-" + std::to_string(i)));
    }
    REQUIRE(wait_until([&] { return b.inbox.size() == kCount; }, kDeadline,
                       "all messages"));
    auto seq = sequence(b.inbox, a.id, 5);
    for (int i = 0; i < kCount; ++i) REQUIRE(seq[i] == i);
  }

  TEST_CASE("accept.unannounced_peer_is_registered_and_can_be_answered") {
    Node a(options("nw-a"));
    Node c(options("nw-c"));
    c.t->set_peer(a.id, a.addr());
    REQUIRE(c.t->send(a.id, 7, "hello from c"));
    REQUIRE(wait_until([&] { return a.inbox.contains("hello from c"); },
                       kDeadline, "c's message at a"));
    CHECK(a.inbox.all()[0].from == "nw-c");
    auto info = a.peer("nw-c");
    REQUIRE(info);
    CHECK_FALSE(info->announced);
    CHECK(info->address == c.addr().to_string());
    REQUIRE(a.t->send("nw-c", 7, "hello back"));
    REQUIRE(wait_until([&] { return c.inbox.contains("hello back"); },
                       kDeadline, "a's answer at c"));
    CHECK(a.t->connection_count() == 1);
  }

  TEST_CASE("send.payload_near_the_frame_limit") {
    auto oa = options("nw-a");
    auto ob = options("nw-b");
    oa.max_frame_size = ob.max_frame_size = 4u << 20;
    Node a(oa);
    Node b(ob);
    a.t->set_peer(b.id, b.addr());
    std::string big(oa.max_frame_size - kFrameHeaderSize, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) {
      big[i] = static_cast<char>((i * 131) ^ (i >> 9));
    }
    CHECK_FALSE(a.t->send(b.id, 1, big + "x"));  // one byte too many
    REQUIRE(a.t->send(b.id, 1, big));
    REQUIRE(a.t->send(b.id, 1, "small after big"));
    REQUIRE(wait_until([&] { return b.inbox.size() == 2; }, kDeadline,
                       "the big message"));
    auto got = b.inbox.all();
    CHECK(got[0].payload == big);
    CHECK(got[1].payload == "small after big");
    CHECK(a.peer(b.id)->frames_dropped == 1);
  }

  TEST_CASE("send.peer_down_drops_once_the_queue_is_full") {
    // A port where nothing listens any more.
    HostPort dead;
    {
      Node gone(options("nw-gone"));
      dead = gone.addr();
    }
    metrics::Registry registry;
    auto o = options("nw-a");
    o.max_queue_frames = 8;
    Node a(o, &registry);
    a.t->set_peer("nw-b", dead);
    int accepted = 0;
    for (int i = 0; i < 50; ++i) accepted += a.t->send("nw-b", 1, "x") ? 1 : 0;
    CHECK(accepted == 8);
    auto info = a.peer("nw-b");
    REQUIRE(info);
    CHECK(info->queued_frames == 8);
    CHECK(info->frames_dropped == 42);
    CHECK(registry.render().find("nw_transport_frames_dropped_total{peer=\"nw-"
                                 "b\",reason=\"queue_full\"} 42") !=
          std::string::npos);
    CHECK_FALSE(a.t->send("nw-unknown", 1, "x"));
    // It keeps dialing with backoff, and says why it cannot connect.
    REQUIRE(wait_until(
        [&] {
          auto p = a.peer("nw-b");
          return p->reconnects >= 3 && !p->last_error.empty();
        },
        kDeadline, "redials"));
    CHECK(a.peer("nw-b")->last_error.find("connect to " + dead.to_string()) !=
          std::string::npos);
    CHECK(a.peer("nw-b")->queued_frames == 8);
  }

  TEST_CASE("send.byte_bound_limits_the_queue") {
    auto o = options("nw-a");
    o.max_queue_bytes = 1000;
    Node a(o);
    a.t->set_peer("nw-b", {"127.0.0.1", 1});
    const std::string payload(100 - kFrameHeaderSize, 'p');  // 100-byte frames
    int accepted = 0;
    for (int i = 0; i < 30; ++i) accepted += a.t->send("nw-b", 1, payload);
    CHECK(accepted == 10);
    CHECK(a.peer("nw-b")->queued_bytes == 1000);
  }

  TEST_CASE("reconnect.peer_restart_on_the_same_port_resumes_delivery") {
    Node a(options("nw-a"));
    auto b = std::make_unique<Node>(options("nw-b"));
    const HostPort b_addr = b->addr();
    a.t->set_peer("nw-b", b_addr);
    REQUIRE(a.t->send("nw-b", 1, "before"));
    REQUIRE(wait_until([&] { return b->inbox.contains("before"); }, kDeadline,
                       "first delivery"));
    b.reset();
    REQUIRE(wait_until([&] { return !a.connected_to("nw-b"); }, kDeadline,
                       "a to notice"));
    auto ob = options("nw-b");
    ob.listen = b_addr;
    b = std::make_unique<Node>(ob);
    REQUIRE(wait_until([&] { return a.connected_to("nw-b"); }, kDeadline,
                       "reconnect"));
    REQUIRE(a.t->send("nw-b", 1, "after"));
    REQUIRE(wait_until([&] { return b->inbox.contains("after"); }, kDeadline,
                       "delivery after restart"));
    CHECK(a.peer("nw-b")->reconnects >= 1);
  }

  TEST_CASE("read.bad_input_closes_only_that_connection") {
    metrics::Registry registry;
    auto oa = options("nw-a");
    oa.max_frame_size = 64 * 1024;
    Node a(oa, &registry);
    Node b(options("nw-b"));
    a.t->set_peer(b.id, b.addr());
    REQUIRE(wait_until([&] { return linked(a, b); }, kDeadline, "a-b link"));

    Hello h;
    h.node_id = "nw-raw";
    const std::string hello =
        encode_frame(FrameType::hello, 0, encode_hello(h));
    std::string bad_crc = encode_frame(FrameType::message, 1, "payload");
    bad_crc[20] ^= 0x01;
    const std::string oversized("\xf0\xff\xff\xff", 4);  // no body follows
    const std::string unknown_type =
        encode_frame(static_cast<FrameType>(77), 1, "?");
    const std::string message = encode_frame(FrameType::message, 1, "early");

    struct Case {
      const char* name;
      std::string bytes;
      const char* reason;
    };
    const std::vector<Case> cases = {
        {"garbage", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "too_large"},
        {"bad crc", hello + bad_crc, "bad_crc"},
        {"oversized length", hello + oversized, "too_large"},
        {"unknown type", hello + unknown_type, "unknown_type"},
        {"message before hello", message, "unexpected"},
        {"short length", std::string("\x03\0\0\0", 4), "bad_length"},
    };
    int round = 0;
    for (const auto& c : cases) {
      INFO(c.name);
      test::RawPeer raw(a.t->port());
      REQUIRE(raw.connected());
      raw.write(c.bytes);
      CHECK(raw.wait_closed(kDeadline));
      CHECK(registry.render().find(
                std::string("nw_transport_bad_frames_total{reason=\"") +
                c.reason + "\"}") != std::string::npos);
      // The agent keeps serving its real peer.
      const std::string m = "still here " + std::to_string(round++);
      REQUIRE(b.t->send(a.id, 1, m));
      REQUIRE(wait_until([&] { return a.inbox.contains(m); }, kDeadline,
                         "message over the good link"));
      CHECK(a.connected_to(b.id));
    }
    CHECK_FALSE(a.inbox.contains("payload"));
    CHECK_FALSE(a.inbox.contains("early"));
  }

  TEST_CASE("handshake.cluster_id_mismatch_is_refused") {
    auto oa = options("nw-a");
    oa.cluster_id = "prod";
    auto ob = options("nw-b");
    ob.cluster_id = "staging";
    Node a(oa);
    Node b(ob);
    a.t->set_peer(b.id, b.addr());
    REQUIRE(wait_until(
        [&] {
          return a.peer(b.id)->last_error.find("cluster id mismatch") !=
                 std::string::npos;
        },
        kDeadline, "the refusal"));
    CHECK(a.peer(b.id)->last_error.find("\"staging\"") != std::string::npos);
    CHECK_FALSE(a.connected_to(b.id));
    CHECK(b.t->peers().empty());  // b never registered a
  }

  TEST_CASE("remove_peer.forgets_it_until_it_dials_in_again") {
    Node a(options("nw-a"));
    Node b(options("nw-b"));
    a.t->set_peer(b.id, b.addr());
    b.t->set_peer(a.id, a.addr());
    REQUIRE(wait_until([&] { return linked(a, b); }, kDeadline, "link"));
    a.t->remove_peer(b.id);
    CHECK_FALSE(a.t->send(b.id, 1, "x"));
    // b still knows a and redials; a accepts it as a new, unannounced peer.
    REQUIRE(wait_until(
        [&] {
          auto p = a.peer(b.id);
          return p && p->connected && !p->announced;
        },
        kDeadline, "b to dial in again"));
  }

  TEST_CASE("stop.with_a_connected_peer_returns_and_is_idempotent") {
    metrics::Registry registry;
    Node a(options("nw-a"), &registry);
    Node b(options("nw-b"));
    a.t->set_peer(b.id, b.addr());
    REQUIRE(a.t->send(b.id, 1, "x"));
    REQUIRE(
        wait_until([&] { return b.inbox.size() == 1; }, kDeadline, "delivery"));
    CHECK(registry.render().find("nw_transport_connected{peer=\"nw-b\"} 1") !=
          std::string::npos);
    CHECK(a.t->running());
    a.t->stop();
    a.t->stop();
    CHECK_FALSE(a.t->running());
    CHECK(a.t->connection_count() == 0);
    CHECK_FALSE(a.t->send(b.id, 1, "after stop"));
    REQUIRE(wait_until([&] { return !b.connected_to(a.id); }, kDeadline,
                       "b to see the close"));
    Status start_again = a.t->start();
    REQUIRE_FALSE(start_again.ok());
    CHECK(start_again.error().code == Code::failed_precondition);
  }

  TEST_CASE("start.bind_failure_names_the_address_and_the_flag") {
    Node a(options("nw-a"));
    auto o = options("nw-b");
    o.listen = a.addr();
    Transport b(o, [](const std::string&, std::uint64_t, std::string_view) {});
    Status s = b.start();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::io_error);
    CHECK(s.error().message ==
          "listen on " + a.addr().to_string() + ": address already in use");
    CHECK(s.error().hint.find("--peer") != std::string::npos);
    CHECK_FALSE(b.running());
    b.stop();
  }

  TEST_CASE("start.refuses_bad_options") {
    auto o = options("");
    Transport t(o, [](const std::string&, std::uint64_t, std::string_view) {});
    Status s = t.start();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::invalid_argument);
    o = options("nw-a");
    o.max_frame_size = 100;
    Transport u(o, [](const std::string&, std::uint64_t, std::string_view) {});
    Status su = u.start();
    REQUIRE_FALSE(su.ok());
    CHECK(su.error().code == Code::invalid_argument);
    CHECK(su.error().message.find("max_frame_size 100") != std::string::npos);
  }
}

}  // namespace
}  // namespace nw::transport
