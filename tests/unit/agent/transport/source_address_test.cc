// Outbound connections leave from the listen IP (TransportOptions::listen).
// Uses 127.0.0.2, which Linux routes to the loopback device like all of
// 127.0.0.0/8; where it cannot be bound the cases say so and pass.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "agent/transport/transport.h"
#include "tests/support/check.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/wait.h"
#include "tests/unit/agent/transport/test_nodes.h"

namespace nw::transport {
namespace {

using test::Inbox;
using test::kDeadline;
using test::Node;
using test::options;
using testsupport::TcpProxy;
using testsupport::wait_until;

// A started transport listening on `host` (port 0), or null when `host`
// cannot be bound here.
std::unique_ptr<Transport> started_on(const std::string& id,
                                      const std::string& host, Inbox& inbox) {
  TransportOptions o = options(id);
  o.listen = {host, 0};
  auto t = std::make_unique<Transport>(o, inbox.handler());
  if (!t->start().ok()) return nullptr;
  return t;
}

// The address `at` learned for `node` from its hello ("" until then).
std::string learned_address(const Node& at, const std::string& node) {
  auto p = at.peer(node);
  return p ? p->address : std::string();
}

bool connected(const Transport& t, const std::string& node) {
  for (const PeerInfo& p : t.peers()) {
    if (p.node_id == node) return p.connected;
  }
  return false;
}

TEST_SUITE("transport.source_address") {
  TEST_CASE("connect.leaves_from_a_literal_listen_ip") {
    Node a(options("nw-a"));
    Inbox c_inbox;
    auto c = started_on("nw-c", "127.0.0.2", c_inbox);
    if (!c) {
      MESSAGE("127.0.0.2 cannot be bound here; nothing to check");
      return;
    }
    c->set_peer(a.id, a.addr());
    REQUIRE(c->send(a.id, 7, "from c"));
    REQUIRE(wait_until([&] { return a.inbox.contains("from c"); }, kDeadline,
                       "c's message at a"));
    // a registered c under the remote IP of the connection and the listen
    // port of c's hello: 127.0.0.1 would mean the socket was not bound.
    const HostPort c_addr{"127.0.0.2", c->port()};
    CHECK(learned_address(a, "nw-c") == c_addr.to_string());
    auto info = a.peer("nw-c");
    REQUIRE(info);
    CHECK_FALSE(info->announced);
    REQUIRE(a.t->send("nw-c", 7, "back to c"));
    REQUIRE(wait_until([&] { return c_inbox.contains("back to c"); }, kDeadline,
                       "a's answer at c"));
  }

  TEST_CASE("connect.a_wildcard_listen_leaves_the_source_to_the_kernel") {
    Node a(options("nw-a"));
    Inbox c_inbox;
    auto c = started_on("nw-c", "0.0.0.0", c_inbox);
    REQUIRE(c);
    c->set_peer(a.id, a.addr());
    REQUIRE(c->send(a.id, 7, "from c"));
    REQUIRE(wait_until([&] { return a.inbox.contains("from c"); }, kDeadline,
                       "c's message at a"));
    // Dialing 127.0.0.1 from an unbound socket uses 127.0.0.1 as source.
    CHECK(learned_address(a, "nw-c") ==
          HostPort{"127.0.0.1", c->port()}.to_string());
  }

  TEST_CASE("connect.a_proxy_tells_bound_dialers_apart") {
    // How the partition test cuts one agent off: b and c reach a through
    // one proxy, and blocking b's source IP leaves c's link alone.
    Node a(options("nw-a"));
    Inbox b_inbox;
    Inbox c_inbox;
    auto b = started_on("nw-b", "127.0.0.2", b_inbox);
    auto c = started_on("nw-c", "127.0.0.3", c_inbox);
    if (!b || !c) {
      MESSAGE("127.0.0.2-3 cannot be bound here; nothing to check");
      return;
    }
    Result<std::unique_ptr<TcpProxy>> proxy = TcpProxy::start(a.addr());
    NW_REQUIRE_OK(proxy);
    TcpProxy& p = **proxy;
    b->set_peer(a.id, p.addr());
    c->set_peer(a.id, p.addr());
    REQUIRE(wait_until(
        [&] { return a.connected_to("nw-b") && a.connected_to("nw-c"); },
        kDeadline, "b and c connected to a through the proxy"));
    CHECK(p.open_connections() == 2);

    p.block_source("127.0.0.2");
    // Both ends must have seen the close: a frame sent before b notices
    // would go into the dead socket and be lost, not queued.
    REQUIRE(wait_until(
        [&] { return !a.connected_to("nw-b") && !connected(*b, a.id); },
        kDeadline, "a and b to lose each other"));
    REQUIRE(b->send(a.id, 1, "b while blocked"));
    REQUIRE(c->send(a.id, 1, "c while b is blocked"));
    REQUIRE(wait_until([&] { return a.inbox.contains("c while b is blocked"); },
                       kDeadline, "c's message at a"));
    REQUIRE(wait_until([&] { return p.refused() > 0; }, kDeadline,
                       "b's redial refused"));
    CHECK(a.connected_to("nw-c"));
    CHECK_FALSE(a.inbox.contains("b while blocked"));

    p.unblock_source("127.0.0.2");
    REQUIRE(wait_until([&] { return a.inbox.contains("b while blocked"); },
                       kDeadline, "b's queued message after the unblock"));

    p.cut();
    CHECK(p.open_connections() == 0);
    REQUIRE(wait_until(
        [&] { return !a.connected_to("nw-b") && !a.connected_to("nw-c"); },
        kDeadline, "a to lose both"));
    p.heal();
    REQUIRE(c->send(a.id, 1, "c after the heal"));
    REQUIRE(wait_until([&] { return a.inbox.contains("c after the heal"); },
                       kDeadline, "c's message after the heal"));
  }

  TEST_CASE("connect.bound_dialer_redials_after_the_peer_restarts") {
    // The bound socket is made anew for every dial: a reconnect works too.
    Inbox c_inbox;
    auto c = started_on("nw-c", "127.0.0.2", c_inbox);
    if (!c) {
      MESSAGE("127.0.0.2 cannot be bound here; nothing to check");
      return;
    }
    HostPort a_addr;
    {
      Node a(options("nw-a"));
      a_addr = a.addr();
      c->set_peer(a.id, a_addr);
      REQUIRE(wait_until([&] { return a.connected_to("nw-c"); }, kDeadline,
                         "c connected to a"));
    }
    // A frame sent before c notices the close would be lost with the old
    // socket rather than queued.
    REQUIRE(wait_until([&] { return !connected(*c, "nw-a"); }, kDeadline,
                       "c to notice that a stopped"));
    auto o = options("nw-a");
    o.listen = a_addr;
    Node again(o);
    REQUIRE(c->send("nw-a", 7, "after restart"));
    REQUIRE(wait_until([&] { return again.inbox.contains("after restart"); },
                       kDeadline, "c's message at the restarted a"));
    CHECK(learned_address(again, "nw-c") ==
          HostPort{"127.0.0.2", c->port()}.to_string());
  }
}

}  // namespace
}  // namespace nw::transport
