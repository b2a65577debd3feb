// Transport::add_seed() and the peer event handler: dialing agents by
// address alone, as `nwagent --join` does.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/transport/frame.h"
#include "agent/transport/transport.h"
#include "tests/support/check.h"
#include "tests/support/wait.h"
#include "tests/unit/agent/transport/raw_peer.h"
#include "tests/unit/agent/transport/test_nodes.h"

namespace nw::transport {
namespace {

using namespace std::chrono_literals;
using test::dead_address;
using test::kDeadline;
using test::linked;
using test::Node;
using test::options;
using testsupport::wait_until;

// What a transport's handlers saw, in order: "+node" / "-node" for peer
// events, "msg:payload" for messages.
class EventLog {
 public:
  PeerEventHandler handler() {
    return [this](const std::string& node, bool connected) {
      add((connected ? "+" : "-") + node);
    };
  }
  MessageHandler message_handler() {
    return [this](const std::string&, std::uint64_t, std::string_view p) {
      add("msg:" + std::string(p));
    };
  }
  std::vector<std::string> all() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  bool contains(const std::string& e) const {
    std::lock_guard lock(mu_);
    for (const auto& x : events_) {
      if (x == e) return true;
    }
    return false;
  }

 private:
  void add(std::string e) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  mutable std::mutex mu_;
  std::vector<std::string> events_;
};

bool no_seeds(const Node& n) { return n.t->seeds().empty(); }

TEST_SUITE("transport.seed") {
  TEST_CASE("add_seed.resolves_to_the_node_and_messages_flow_both_ways") {
    Node a(options("nw-a"));
    Node b(options("nw-b"));
    a.t->add_seed(b.addr());
    a.t->add_seed(b.addr());  // the same address twice: one seed
    auto seeds = a.t->seeds();
    REQUIRE(seeds.size() == 1);
    CHECK(seeds[0].first == b.addr().to_string());
    REQUIRE(wait_until([&] { return linked(a, b) && no_seeds(a); }, kDeadline,
                       "the seed to resolve into a link"));
    auto info = a.peer(b.id);
    REQUIRE(info);
    CHECK(info->announced);
    CHECK(info->address == b.addr().to_string());
    REQUIRE(a.t->send(b.id, 1, "a to b"));
    REQUIRE(b.t->send(a.id, 2, "b to a"));
    REQUIRE(wait_until([&] { return b.inbox.contains("a to b"); }, kDeadline,
                       "a's message at b"));
    REQUIRE(wait_until([&] { return a.inbox.contains("b to a"); }, kDeadline,
                       "b's message at a"));
    CHECK(a.inbox.all()[0].from == b.id);
    CHECK(b.inbox.all()[0].from == a.id);
    // A resolved address is a known peer's: adding it again dials nothing.
    a.t->add_seed(b.addr());
    CHECK(no_seeds(a));
  }

  TEST_CASE("add_seed.known_peer_keeps_its_entry_and_takes_the_address") {
    Node a(options("nw-a"));
    Node b(options("nw-b"));
    // a knows nw-b under an address where nothing listens, with a message
    // queued for it.
    a.t->set_peer(b.id, dead_address());
    REQUIRE(a.t->send(b.id, 1, "queued before the seed"));
    a.t->add_seed(b.addr());
    REQUIRE(
        wait_until([&] { return b.inbox.contains("queued before the seed"); },
                   kDeadline, "the queued message over the seed's link"));
    CHECK(no_seeds(a));
    CHECK(a.peer(b.id)->address == b.addr().to_string());
    CHECK(a.t->peers().size() == 1);
  }

  TEST_CASE("add_seed.to_a_connected_peer_leaves_one_connection") {
    // b already dialed a; a's seed connection to b is a duplicate, and the
    // usual rule keeps the one dialed by the smaller node id: the seed's
    // when a is smaller, b's own otherwise.
    for (const auto& [id_a, id_b] :
         std::vector<std::pair<std::string, std::string>>{{"nw-1", "nw-2"},
                                                          {"nw-2", "nw-1"}}) {
      CAPTURE(id_a);
      Node a(options(id_a));
      Node b(options(id_b));
      b.t->set_peer(a.id, a.addr());
      REQUIRE(wait_until([&] { return linked(a, b); }, kDeadline, "b's link"));
      a.t->add_seed(b.addr());
      // b's address as a learned from b's hello is the seed's address.
      CHECK(no_seeds(a));
      a.t->add_seed({"localhost", b.t->port()});
      REQUIRE(wait_until([&] { return no_seeds(a) && linked(a, b); }, kDeadline,
                         "the seed to resolve, one link left"));
      CHECK(a.peer(b.id)->announced);
      CHECK(a.peer(b.id)->address ==
            "localhost:" + std::to_string(b.t->port()));
      REQUIRE(a.t->send(b.id, 1, "over the survivor"));
      REQUIRE(b.t->send(a.id, 1, "back"));
      REQUIRE(wait_until(
          [&] {
            return b.inbox.contains("over the survivor") &&
                   a.inbox.contains("back");
          },
          kDeadline, "both messages"));
      CHECK(linked(a, b));
    }
  }

  TEST_CASE("add_seed.unreachable_is_retried_until_something_listens") {
    const HostPort where = dead_address();
    Node a(options("nw-a"));
    a.t->add_seed(where);
    REQUIRE(wait_until(
        [&] {
          auto s = a.t->seeds();
          return s.size() == 1 && !s[0].second.empty();
        },
        kDeadline, "a failed dial"));
    CHECK(a.t->seeds()[0].second.find("connect to " + where.to_string()) !=
          std::string::npos);
    CHECK(a.t->peers().empty());
    auto ob = options("nw-b");
    ob.listen = where;
    Node b(ob);
    REQUIRE(wait_until([&] { return linked(a, b) && no_seeds(a); }, kDeadline,
                       "the seed to resolve once b listens"));
    REQUIRE(a.t->send(b.id, 1, "finally"));
    REQUIRE(wait_until([&] { return b.inbox.contains("finally"); }, kDeadline,
                       "delivery"));
  }

  TEST_CASE("add_seed.own_address_is_dropped_and_never_redialed") {
    Node a(options("nw-a"));
    Node b(options("nw-b"));
    a.t->add_seed(a.addr());
    a.t->add_seed(b.addr());
    REQUIRE(wait_until([&] { return no_seeds(a) && linked(a, b); }, kDeadline,
                       "both seeds to go: one dropped, one resolved"));
    // Only the real peer: the connection to itself registered nothing.
    auto peers = a.t->peers();
    REQUIRE(peers.size() == 1);
    CHECK(peers[0].node_id == b.id);
    // Found to be ourselves: adding it again is a no-op.
    a.t->add_seed(a.addr());
    CHECK(no_seeds(a));
  }

  TEST_CASE("handshake.inbound_with_our_node_id_is_still_refused") {
    // A second agent with a's node id: its seed cannot tell a from its own
    // address and drops it, but a refuses the connection and registers
    // nothing (the "two agents with one node id" check).
    Node a(options("nw-a"));
    Node twin(options("nw-a"));
    twin.t->add_seed(a.addr());
    REQUIRE(wait_until([&] { return no_seeds(twin); }, kDeadline,
                       "the twin to drop its seed"));
    REQUIRE(wait_until([&] { return a.t->connection_count() == 0; }, kDeadline,
                       "a to close the twin's connection"));
    CHECK(a.t->peers().empty());
    CHECK(twin.t->peers().empty());
    // The same hello from a plain socket (not a's own dial) is refused too.
    Hello h;
    h.node_id = "nw-a";
    h.cluster_id = "test-cluster";
    test::RawPeer raw(a.t->port());
    REQUIRE(raw.connected());
    raw.write(encode_frame(FrameType::hello, 0, encode_hello(h)));
    CHECK(raw.wait_closed(kDeadline));
    CHECK(a.t->peers().empty());
  }

  TEST_CASE("add_seed.two_transports_seeding_each_other_end_with_one_link") {
    // Both dial at the same moment, in several rounds so that the duplicate
    // rule meets different interleavings.
    for (int round = 0; round < 5; ++round) {
      CAPTURE(round);
      Node a(options("nw-aaaa"));
      Node b(options("nw-bbbb"));
      std::thread seed_a([&] { a.t->add_seed(b.addr()); });
      b.t->add_seed(a.addr());
      seed_a.join();
      REQUIRE(
          wait_until([&] { return no_seeds(a) && no_seeds(b) && linked(a, b); },
                     kDeadline, "one connection each"));
      const std::string m_ab = "a-" + std::to_string(round);
      const std::string m_ba = "b-" + std::to_string(round);
      REQUIRE(a.t->send(b.id, 1, m_ab));
      REQUIRE(b.t->send(a.id, 1, m_ba));
      REQUIRE(wait_until(
          [&] { return b.inbox.contains(m_ab) && a.inbox.contains(m_ba); },
          kDeadline, "the messages"));
      CHECK(wait_until([&] { return linked(a, b); }, kDeadline,
                       "still one connection each"));
    }
  }

  TEST_CASE("remove_seed.stops_dialing") {
    const HostPort where = dead_address();
    const HostPort control = dead_address();
    auto oa = options("nw-a");
    oa.backoff_min = 10ms;
    oa.backoff_max = 20ms;
    Node a(oa);
    a.t->add_seed(where);
    REQUIRE(wait_until([&] { return !a.t->seeds().at(0).second.empty(); },
                       kDeadline, "a failed dial"));
    a.t->remove_seed(where);
    a.t->remove_seed({"127.0.0.1", 1});  // unknown: ignored
    CHECK(no_seeds(a));
    auto ob = options("nw-b");
    ob.listen = where;
    Node b(ob);
    // A peer at a dead address redials with the same backoff (delays of at
    // most 20ms): after ten of its redials a seed still alive would have
    // been redialed to b too.
    a.t->set_peer("nw-control", control);
    REQUIRE(wait_until([&] { return a.peer("nw-control")->reconnects >= 10; },
                       kDeadline, "the control peer's redials"));
    CHECK(b.t->peers().empty());
    CHECK(b.t->connection_count() == 0);
    CHECK(no_seeds(a));
  }
}

TEST_SUITE("transport.peer_events") {
  TEST_CASE(
      "set_peer_event_handler.sees_connect_then_messages_then_"
      "disconnect") {
    EventLog log;
    auto oa = options("nw-a");
    Transport a(oa, log.message_handler());
    a.set_peer_event_handler(log.handler());
    NW_REQUIRE_OK(a.start());
    auto b = std::make_unique<Node>(options("nw-b"));
    // b sends as soon as it is connected, so its message may be read right
    // behind its hello: the event still comes first.
    b->t->set_peer("nw-a", {"127.0.0.1", a.port()});
    REQUIRE(b->t->send("nw-a", 1, "first"));
    REQUIRE(wait_until([&] { return log.contains("msg:first"); }, kDeadline,
                       "b's message"));
    b.reset();
    REQUIRE(wait_until([&] { return log.contains("-nw-b"); }, kDeadline,
                       "the disconnect event"));
    CHECK(log.all() == std::vector<std::string>{"+nw-b", "msg:first", "-nw-b"});
    a.stop();
  }

  TEST_CASE("set_peer_event_handler.sees_a_resolved_seed_and_remove_peer") {
    EventLog log;
    Node a(options("nw-a"), nullptr, log.handler());
    Node b(options("nw-b"));
    a.t->add_seed(b.addr());
    REQUIRE(wait_until([&] { return log.contains("+nw-b"); }, kDeadline,
                       "the connect event"));
    a.t->remove_peer(b.id);
    REQUIRE(wait_until([&] { return log.contains("-nw-b"); }, kDeadline,
                       "the disconnect event"));
    auto events = log.all();
    REQUIRE(events.size() >= 2);
    CHECK(events[0] == "+nw-b");
    CHECK(events[1] == "-nw-b");
  }

  TEST_CASE("set_peer_event_handler.after_start_is_ignored") {
    EventLog log;
    Node a(options("nw-a"));
    a.t->set_peer_event_handler(log.handler());
    Node b(options("nw-b"));
    a.t->set_peer(b.id, b.addr());
    REQUIRE(a.t->send(b.id, 1, "x"));
    REQUIRE(wait_until([&] { return b.inbox.contains("x"); }, kDeadline,
                       "delivery"));
    // a's I/O thread handled this reply after any event it had queued.
    REQUIRE(b.t->send(a.id, 1, "y"));
    REQUIRE(wait_until([&] { return a.inbox.contains("y"); }, kDeadline,
                       "the reply"));
    CHECK(log.all().empty());
  }
}

}  // namespace
}  // namespace nw::transport
