// A network partition of a real three-agent cluster (issue 3): "an agent cut
// off from the others cannot commit while the majority can, and rejoins
// after the cut heals".
//
// Topology. Agent nI listens for peers on its own loopback address
// 127.0.0.(I+1) and advertises a TcpProxy (tests/support/tcp_proxy.h) on
// 127.0.0.1 that forwards to it; every agent dials the others through their
// proxies only (--join and --peer-advertise name proxies). Since an agent's
// outbound peer sockets leave from its listen IP (agent/transport), a proxy
// knows who dials through it. Cutting n3 off is then: n3's proxy cut()
// (nobody reaches n3) and the other proxies block_source(n3's IP) (n3
// reaches nobody). No network namespaces, so no CAP_NET_ADMIN. The HTTP API
// stays on 127.0.0.1 outside the proxies: nwctl reaches every agent, and
// only the peer links are cut.
//
// Every wait is a condition with a deadline.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common/base/time.h"
#include "tests/integration/test_cluster.h"
#include "tests/support/agent_process.h"
#include "tests/support/binaries.h"
#include "tests/support/check.h"
#include "tests/support/local_http.h"
#include "tests/support/process.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace nw::testsupport {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kPartitionTimeout = 30s;
constexpr auto kHealTimeout = 60s;

// A port free on `ip` a moment ago (as free_port() does for 127.0.0.1), or
// why `ip` cannot be bound.
Result<std::uint16_t> free_port_on(const std::string& ip) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Error(Code::io_error,
                 std::string("socket: ") + std::strerror(errno));
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = 0;
  socklen_t len = sizeof sa;
  std::string failed;
  if (::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1) {
    failed = "not an IPv4 address";
  } else if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    failed = std::string("bind: ") + std::strerror(errno);
  } else if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    failed = std::string("getsockname: ") + std::strerror(errno);
  }
  ::close(fd);
  if (!failed.empty()) return Error(Code::io_error, ip + ": " + failed);
  return static_cast<std::uint16_t>(ntohs(sa.sin_port));
}

// `nwctl cluster status --stale` of `a`: what that agent itself knows, with
// no leader involved. A discarded json when nwctl failed.
json stale_status(const AgentProcess& a) { return cluster_status(a, true); }

const json* member(const json& status, const std::string& id) {
  if (status.is_discarded() || !status.contains("members")) return nullptr;
  for (const json& m : status["members"]) {
    if (m["id"] == id) return &m;
  }
  return nullptr;
}

std::string label(const json& status, const std::string& node,
                  const std::string& key) {
  const json* m = member(status, node);
  if (m == nullptr || !(*m)["labels"].contains(key)) return {};
  return (*m)["labels"][key].get<std::string>();
}

std::string state_of(const json& status, const std::string& node) {
  const json* m = member(status, node);
  return m == nullptr ? std::string() : (*m)["state"].get<std::string>();
}

std::uint64_t commit_of(const json& status) {
  if (status.is_discarded()) return 0;
  return status["commit_index"].get<std::uint64_t>();
}

std::string leader_of(const json& status) {
  if (status.is_discarded()) return {};
  return status["leader"].get<std::string>();
}

// Seconds since `start`, for the phase timings printed on stderr.
double since(MonoTime start) {
  return std::chrono::duration<double>(mono_now() - start).count();
}

// One agent: its name (also its node id), its own peer IP and the proxy in
// front of its peer port.
struct Member {
  std::string id;
  std::string ip;
  std::unique_ptr<TcpProxy> proxy;
  std::optional<AgentProcess> agent;
};

// Three agents n1..n3 on 127.0.0.2..4, each behind its proxy, formed with
// --bootstrap-expect 3 and joined through the proxies.
struct ProxiedCluster {
  TempDir dir{"partition"};
  std::vector<Member> members;

  // Fails the test when an address of 127.0.0.2-4 cannot be bound: on
  // Linux all of 127.0.0.0/8 is local, so that is a broken host (or a
  // sandbox without a loopback interface), not a reason to pass.
  void start() {
    for (int i = 1; i <= 3; ++i) {
      Member m;
      m.id = "n" + std::to_string(i);
      m.ip = "127.0.0." + std::to_string(i + 1);
      Result<std::uint16_t> peer_port = free_port_on(m.ip);
      if (!peer_port.ok()) {
        FAIL("cannot bind a port on "
             << m.ip << " (" << peer_port.error().message
             << "): this test puts each agent on its own loopback address; "
                "on Linux 127.0.0.0/8 is local, so check that the loopback "
                "interface is up (ip addr show lo)");
      }
      Result<std::unique_ptr<TcpProxy>> proxy =
          TcpProxy::start(HostPort{m.ip, *peer_port});
      NW_REQUIRE_OK(proxy);
      m.proxy = std::move(proxy).value();
      members.push_back(std::move(m));
    }
    for (Member& m : members) {
      std::string join;
      for (const Member& other : members) {
        if (&other == &m) continue;
        if (!join.empty()) join += ",";
        join += other.proxy->addr().to_string();
      }
      Result<std::uint16_t> api = free_port();
      NW_REQUIRE_OK(api);
      AgentOptions o;
      o.name = m.id;
      o.default_flags = false;  // --peer is ours: CLI11 refuses a repeat
      o.port = *api;
      o.extra_args = {"--data-dir",
                      (dir / m.id).string(),
                      "--api",
                      "127.0.0.1:" + std::to_string(*api),
                      "--peer",
                      m.proxy->target().to_string(),
                      "--peer-advertise",
                      m.proxy->addr().to_string(),
                      "--log-level",
                      "debug",
                      "--node-id",
                      m.id,
                      "--bootstrap-expect",
                      "3",
                      "--join",
                      join};
      m.agent.emplace(dir, o);
    }
    for (Member& m : members) NW_REQUIRE_OK(m.agent->launch());
    for (Member& m : members) NW_REQUIRE_OK(m.agent->wait_ready(kFormTimeout));
  }

  Member& at(const std::string& id) {
    for (Member& m : members) {
      if (m.id == id) return m;
    }
    FAIL("no member " << id);
    return members.front();
  }

  // The last lines of every agent's log, for failure messages.
  std::string logs() const {
    std::string out;
    for (const Member& m : members) {
      out += "----- " + m.id + " -----\n" + m.agent->log_tail(30);
    }
    return out;
  }
};

// The leader every agent's stale view agrees on, "" until they do.
std::string agreed_leader(ProxiedCluster& c) {
  std::set<std::string> seen;
  for (Member& m : c.members) seen.insert(leader_of(stale_status(*m.agent)));
  return seen.size() == 1 ? *seen.begin() : std::string();
}

TEST_CASE(
    "cluster.partition: the cut-off agent cannot commit, the majority can, "
    "and it catches up after the heal") {
  // Both roles: a cut-off follower only falls behind; a cut-off leader must
  // stop leading (check-quorum) and lose what it could not commit.
  bool cut_leader = false;
  SUBCASE("a follower is cut off") { cut_leader = false; }
  SUBCASE("the leader is cut off") { cut_leader = true; }

  const MonoTime t0 = mono_now();
  ProxiedCluster c;
  c.start();
  INFO(c.logs());

  // Formed: every agent sees the other two healthy, they agree on the
  // leader, and a write commits.
  std::string leader;
  REQUIRE(wait_until(
      [&] {
        for (Member& m : c.members) {
          json s = stale_status(*m.agent);
          for (const Member& other : c.members) {
            if (state_of(s, other.id) != "healthy") return false;
            // Registered (its record committed): labels can be set.
            const json* rec = member(s, other.id);
            if ((*rec)["api_addr"].get<std::string>().empty()) return false;
          }
        }
        leader = agreed_leader(c);
        return !leader.empty();
      },
      kFormTimeout, "three registered agents that see each other healthy"));
  {
    ProcessResult w = write_label(*c.at("n1").agent, "n1", "phase", "before");
    INFO(w.describe());
    REQUIRE(w.exit_code == 0);
  }
  // The peer links really run through the proxies.
  for (Member& m : c.members) CHECK(m.proxy->forwarded() > 0);

  // x is cut off; m1 and m2 are the majority.
  std::vector<Member*> rest;
  Member* x = nullptr;
  for (Member& m : c.members) {
    const bool is_leader = m.id == leader;
    if (x == nullptr && is_leader == cut_leader) {
      x = &m;
    } else {
      rest.push_back(&m);
    }
  }
  REQUIRE(x != nullptr);
  REQUIRE(rest.size() == 2);
  Member& m1 = *rest[0];
  Member& m2 = *rest[1];
  AgentProcess& ax = *x->agent;
  std::fprintf(stderr, "[partition] formed in %.1fs; leader %s, cutting %s\n",
               since(t0), leader.c_str(), x->id.c_str());

  // ---- Cut x off: nobody reaches it, it reaches nobody. ----
  const MonoTime t_cut = mono_now();
  x->proxy->cut();
  m1.proxy->block_source(x->ip);
  m2.proxy->block_source(x->ip);
  REQUIRE(wait_until(
      [&] {
        json sx = stale_status(ax);
        json s1 = stale_status(*m1.agent);
        json s2 = stale_status(*m2.agent);
        return state_of(sx, m1.id) == "unreachable" &&
               state_of(sx, m2.id) == "unreachable" &&
               state_of(s1, x->id) == "unreachable" &&
               state_of(s2, x->id) == "unreachable" &&
               state_of(s1, m2.id) == "healthy";
      },
      kPartitionTimeout, "x and the others to see each other unreachable"));
  // x keeps redialing; the proxies turn it away.
  CHECK(wait_until([&] { return m1.proxy->refused() > 0; }, kPartitionTimeout,
                   "x's redial refused by m1's proxy"));

  // The majority has (or elects) a leader of its own and commits.
  REQUIRE(wait_until(
      [&] {
        std::string l1 = leader_of(stale_status(*m1.agent));
        std::string l2 = leader_of(stale_status(*m2.agent));
        return l1 == l2 && (l1 == m1.id || l1 == m2.id);
      },
      kPartitionTimeout, "m1 and m2 to agree on a leader among themselves"));
  REQUIRE(wait_until(
      [&] {
        return write_label(*m1.agent, m1.id, "during", "majority").exit_code ==
               0;
      },
      kPartitionTimeout, "a write through m1 during the cut"));
  const std::uint64_t x_commit = commit_of(stale_status(ax));
  REQUIRE(x_commit > 0);
  std::fprintf(stderr, "[partition] majority write done %.1fs after the cut\n",
               since(t_cut));

  // A write through x cannot commit: unavailable (5) or timeout (7).
  {
    ProcessResult w = write_label(ax, x->id, "during", "minority", "3s");
    INFO(w.describe());
    CHECK((w.exit_code == 5 || w.exit_code == 7));
    std::fprintf(stderr, "[partition] the write through %s exited %d\n",
                 x->id.c_str(), w.exit_code);
  }
  // Once its check-quorum notices, x does not claim to lead.
  CHECK(wait_until([&] { return leader_of(stale_status(ax)) != x->id; },
                   kPartitionTimeout, "x not to claim leadership"));
  // The majority goes on committing through its other member as well.
  REQUIRE(wait_until(
      [&] {
        return write_label(*m2.agent, m2.id, "during", "majority").exit_code ==
               0;
      },
      kPartitionTimeout, "a write through m2 during the cut"));

  // No commit without a majority: x's commit index did not move and it has
  // none of the majority's writes; the majority has not got x's write.
  json sx = stale_status(ax);
  json s1 = stale_status(*m1.agent);
  INFO("x: ", sx.dump());
  INFO("m1: ", s1.dump());
  CHECK(commit_of(sx) == x_commit);
  CHECK(commit_of(s1) > x_commit);
  CHECK(label(sx, m1.id, "during").empty());
  CHECK(label(sx, m2.id, "during").empty());
  CHECK(label(s1, x->id, "during").empty());
  CHECK(label(s1, m1.id, "during") == "majority");
  CHECK(label(s1, m2.id, "during") == "majority");
  const std::uint64_t majority_commit = commit_of(s1);

  // ---- Heal. ----
  const MonoTime t_heal = mono_now();
  x->proxy->heal();
  m1.proxy->unblock_source(x->ip);
  m2.proxy->unblock_source(x->ip);

  // x catches up on what was committed without it.
  REQUIRE(wait_until(
      [&] {
        json s = stale_status(ax);
        return label(s, m1.id, "during") == "majority" &&
               label(s, m2.id, "during") == "majority" &&
               commit_of(s) >= majority_commit;
      },
      kHealTimeout, "x to catch up after the heal"));
  std::fprintf(stderr, "[partition] %s caught up %.1fs after the heal\n",
               x->id.c_str(), since(t_heal));

  // And x serves writes again (it may take a moment to learn the leader).
  REQUIRE(wait_until(
      [&] { return write_label(ax, x->id, "after", "heal").exit_code == 0; },
      kHealTimeout, "a write through x after the heal"));
  REQUIRE(wait_until(
      [&] {
        for (Member& m : c.members) {
          json s = stale_status(*m.agent);
          if (label(s, x->id, "after") != "heal") return false;
          for (const Member& other : c.members) {
            if (state_of(s, other.id) != "healthy") return false;
          }
        }
        return !agreed_leader(c).empty();
      },
      kHealTimeout, "every agent healthy, one leader, x's write applied"));
  std::fprintf(stderr,
               "[partition] healed and writable %.1fs after the heal; total "
               "%.1fs\n",
               since(t_heal), since(t0));
}

}  // namespace
}  // namespace nw::testsupport
