#include "agent/controller/cluster_state.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "agent/raft/rand.h"

namespace nw::controller {
namespace {

RegisterNode reg(std::string id, std::uint64_t raft_id) {
  RegisterNode c;
  c.node.id = std::move(id);
  c.node.raft_id = raft::NodeId(raft_id);
  c.node.api_addr = "127.0.0.1:" + std::to_string(7000 + raft_id);
  c.node.peer_addr = "127.0.0.1:" + std::to_string(8000 + raft_id);
  c.node.labels = {{"zone", "z" + std::to_string(raft_id % 2)}};
  return c;
}

// Applies `c` as the next entry of `s`; returns the command's status.
Status apply_next(ClusterState* s, const Command& c) {
  auto r = s->apply(s->applied_index() + 1, encode_command(c));
  REQUIRE_MESSAGE(r.ok(), r.error().to_string());
  return std::move(r->status);
}

void expect_rejected(ClusterState* s, const Command& c, Code code) {
  const std::string before = s->snapshot();
  const std::uint64_t version = s->version();
  const raft::LogIndex index = s->applied_index() + 1;
  auto r = s->apply(index, encode_command(c));
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->status.ok());
  CHECK(r->status.error().code == code);
  CHECK_FALSE(r->changed);
  CHECK(s->applied_index() == index);
  CHECK(s->version() == version);
  // Nothing but the applied index changed.
  auto restored = ClusterState::restore(before);
  REQUIRE(restored.ok());
  CHECK(restored->nodes() == s->nodes());
}

// A replica list of 1..3 distinct ids from the pool of node ids.
std::vector<std::string> random_replicas(raft::Rng* rng) {
  std::vector<std::string> out;
  const std::uint64_t first = rng->uniform(6);
  const std::uint64_t n = rng->between(1, 3);
  for (std::uint64_t i = 0; i < n; ++i) {
    out.push_back("nw-" + std::to_string((first + i) % 6));
  }
  return out;
}

// A random command over small pools of ids, topic and group names, so
// that conflicts, unknown nodes and topics and double removals happen
// often; sometimes garbage bytes.
std::string random_command(raft::Rng* rng) {
  const std::string id = "nw-" + std::to_string(rng->uniform(6));
  const std::uint64_t raft_id = rng->between(0, 7);
  const std::string topic = "t" + std::to_string(rng->uniform(4));
  const std::string group = "g" + std::to_string(rng->uniform(3));
  switch (rng->uniform(15)) {
    case 0:
    case 1:
      return encode_command(reg(id, raft_id));
    case 2: {
      UpdateNode u{id, {}, {}, {}};
      if (rng->chance(0.5)) u.api_addr = "h:" + std::to_string(rng->next());
      if (rng->chance(0.5)) u.peer_addr = "p:" + std::to_string(rng->next());
      if (rng->chance(0.5)) {
        u.labels = std::map<std::string, std::string>{
            {"k" + std::to_string(rng->uniform(3)), "v"}};
      }
      return encode_command(u);
    }
    case 3:
      return encode_command(
          SetRole{id, static_cast<NodeRecord::Role>(rng->uniform(2))});
    case 4:
      return encode_command(
          SetState{id, static_cast<NodeRecord::State>(rng->uniform(3))});
    case 5:
      return encode_command(
          Heartbeat{id, static_cast<std::int64_t>(rng->next() >> 1)});
    case 6:
      return encode_command(RemoveNode{id});
    case 7:
    case 8: {
      CreateTopic c{topic, {}, -1, -1, 1 << 20};
      const std::uint64_t n = rng->between(1, 3);
      for (std::uint64_t i = 0; i < n; ++i) {
        c.partitions.push_back(random_replicas(rng));
      }
      if (rng->chance(0.3)) c.retention_ms = rng->chance(0.5) ? 0 : 60'000;
      return encode_command(c);
    }
    case 9:
      return encode_command(DeleteTopic{topic});
    case 10: {
      AlterTopic a{topic, {}, {}, {}};
      if (rng->chance(0.5)) a.retention_bytes = 1 << 30;
      if (rng->chance(0.5)) a.new_partitions.push_back(random_replicas(rng));
      return encode_command(a);
    }
    case 11: {
      SetPartitionReplicas c{topic,
                             static_cast<std::uint32_t>(rng->uniform(3)),
                             random_replicas(rng),
                             {}};
      if (rng->chance(0.5)) c.target_replicas = random_replicas(rng);
      return encode_command(c);
    }
    case 12: {
      CommitOffsets c{group, {}};
      const std::uint64_t n = rng->between(1, 2);
      for (std::uint64_t i = 0; i < n; ++i) {
        c.offsets.push_back({"t" + std::to_string(rng->uniform(4)),
                             static_cast<std::uint32_t>(rng->uniform(3)),
                             rng->uniform(1000)});
      }
      return encode_command(c);
    }
    case 13:
      return encode_command(DeleteGroup{group});
    default: {
      std::string junk(rng->uniform(12), '\0');
      for (char& ch : junk) ch = static_cast<char>(rng->uniform(256));
      return junk;
    }
  }
}

std::vector<std::string> random_sequence(std::uint64_t seed, int n) {
  raft::Rng rng(seed);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(random_command(&rng));
  return out;
}

// Applies cmds[from, to) at indexes from + 1 ...; returns how many of them
// were rejected.
int apply_all(ClusterState* s, const std::vector<std::string>& cmds,
              std::size_t from, std::size_t to) {
  int rejected = 0;
  for (std::size_t i = from; i < to; ++i) {
    auto r = s->apply(raft::LogIndex(i + 1), cmds[i]);
    REQUIRE(r.ok());
    if (!r->status.ok()) ++rejected;
  }
  return rejected;
}

TEST_SUITE("controller.cluster_state") {
  TEST_CASE("apply.register_and_read") {
    ClusterState s;
    CHECK(apply_next(&s, reg("nw-b", 2)).ok());
    CHECK(apply_next(&s, reg("nw-a", 1)).ok());
    CHECK(s.applied_index() == raft::LogIndex(2));
    CHECK(s.version() == 2);
    std::vector<std::string> ids;
    for (const auto& [id, n] : s.nodes()) ids.push_back(n.id);
    CHECK(ids == std::vector<std::string>{"nw-a", "nw-b"});
    REQUIRE(s.node("nw-b") != nullptr);
    CHECK(s.node("nw-b")->api_addr == "127.0.0.1:7002");
    CHECK(s.node("nw-b")->state == NodeRecord::State::healthy);
    REQUIRE(s.by_raft_id(raft::NodeId(1)) != nullptr);
    CHECK(s.by_raft_id(raft::NodeId(1))->id == "nw-a");
    CHECK(s.node("nw-c") == nullptr);
    CHECK(s.by_raft_id(raft::NodeId(3)) == nullptr);
  }

  TEST_CASE("apply.changes_each_field") {
    ClusterState s;
    REQUIRE(apply_next(&s, reg("nw-a", 1)).ok());
    CHECK(apply_next(&s, UpdateNode{"nw-a", "x:1", {}, {}}).ok());
    CHECK(apply_next(&s, SetRole{"nw-a", NodeRecord::Role::learner}).ok());
    CHECK(
        apply_next(&s, SetState{"nw-a", NodeRecord::State::unreachable}).ok());
    const NodeRecord& n = *s.node("nw-a");
    CHECK(n.api_addr == "x:1");
    CHECK(n.peer_addr == "127.0.0.1:8001");
    CHECK(n.labels.at("zone") == "z1");
    CHECK(n.role == NodeRecord::Role::learner);
    CHECK(n.state == NodeRecord::State::unreachable);
    CHECK(s.version() == 4);
    // Re-registering with the same raft id is a retry: ok.
    CHECK(apply_next(&s, reg("nw-a", 1)).ok());
    CHECK(s.node("nw-a")->api_addr == "127.0.0.1:7001");
    // A command that changes nothing does not bump the version.
    const std::uint64_t v = s.version();
    auto r = s.apply(s.applied_index() + 1, encode_command(reg("nw-a", 1)));
    REQUIRE(r.ok());
    CHECK(r->status.ok());
    CHECK_FALSE(r->changed);
    CHECK(s.version() == v);
    CHECK(apply_next(&s, RemoveNode{"nw-a"}).ok());
    CHECK(s.nodes().empty());
    CHECK(s.by_raft_id(raft::NodeId(1)) == nullptr);
  }

  TEST_CASE("apply.semantic_rejections_change_nothing_but_the_index") {
    ClusterState s;
    REQUIRE(apply_next(&s, reg("nw-a", 1)).ok());
    REQUIRE(apply_next(&s, reg("nw-b", 2)).ok());
    expect_rejected(&s, reg("nw-a", 3), Code::conflict);
    expect_rejected(&s, reg("nw-c", 2), Code::conflict);
    expect_rejected(&s, reg("", 4), Code::invalid_argument);
    expect_rejected(&s, reg("nw-d", 0), Code::invalid_argument);
    expect_rejected(&s, UpdateNode{"nw-x", "a", {}, {}}, Code::not_found);
    expect_rejected(&s, SetRole{"nw-x", NodeRecord::Role::voter},
                    Code::not_found);
    expect_rejected(&s, SetState{"nw-x", NodeRecord::State::left},
                    Code::not_found);
    expect_rejected(&s, Heartbeat{"nw-x", 5}, Code::not_found);
    REQUIRE(apply_next(&s, RemoveNode{"nw-b"}).ok());
    expect_rejected(&s, RemoveNode{"nw-b"}, Code::not_found);
    REQUIRE(apply_next(&s, SetState{"nw-a", NodeRecord::State::left}).ok());
    expect_rejected(&s, Heartbeat{"nw-a", 5}, Code::failed_precondition);
    // The freed raft id may be taken by a new node.
    CHECK(apply_next(&s, reg("nw-c", 2)).ok());
  }

  TEST_CASE("apply.undecodable_bytes_are_a_rejected_command") {
    ClusterState s;
    auto r = s.apply(raft::LogIndex(1), std::string("\x09\x01", 2));
    REQUIRE(r.ok());
    REQUIRE_FALSE(r->status.ok());
    CHECK(r->status.error().code == Code::invalid_argument);
    CHECK(s.applied_index() == raft::LogIndex(1));
    CHECK(s.version() == 0);
  }

  TEST_CASE("apply.empty_entry_is_a_no_op") {
    ClusterState s;
    auto r = s.apply(raft::LogIndex(3), "");
    REQUIRE(r.ok());
    CHECK(r->status.ok());
    CHECK_FALSE(r->changed);
    CHECK(s.applied_index() == raft::LogIndex(3));
    CHECK(s.version() == 0);
  }

  TEST_CASE("apply.refuses_an_index_already_applied") {
    ClusterState s;
    REQUIRE(apply_next(&s, reg("nw-a", 1)).ok());
    const std::string before = s.snapshot();
    for (std::uint64_t i : {0, 1}) {
      auto r = s.apply(raft::LogIndex(i), encode_command(RemoveNode{"nw-a"}));
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::failed_precondition);
    }
    CHECK(s.snapshot() == before);
  }

  TEST_CASE("apply.heartbeat_records_the_leaders_time_only") {
    ClusterState s;
    REQUIRE(apply_next(&s, reg("nw-a", 1)).ok());
    CHECK(s.node("nw-a")->last_heartbeat_ms == 0);
    // Times far from any real clock are recorded exactly as proposed, and
    // a leader change may move them backwards.
    for (std::int64_t t : {std::int64_t{1'000}, std::int64_t{42},
                           std::int64_t{-7}, std::int64_t{1} << 60}) {
      REQUIRE(apply_next(&s, Heartbeat{"nw-a", t}).ok());
      CHECK(s.node("nw-a")->last_heartbeat_ms == t);
    }
    // Two replicas applying the same heartbeat hold the same bytes.
    ClusterState other = *ClusterState::restore(s.snapshot());
    REQUIRE(apply_next(&s, Heartbeat{"nw-a", 99}).ok());
    REQUIRE(apply_next(&other, Heartbeat{"nw-a", 99}).ok());
    CHECK(s.snapshot() == other.snapshot());
  }

  TEST_CASE("apply.is_deterministic") {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      CAPTURE(seed);
      const auto cmds = random_sequence(seed, 500);
      ClusterState a;
      ClusterState b;
      const int rejected = apply_all(&a, cmds, 0, cmds.size());
      apply_all(&b, cmds, 0, cmds.size());
      // The sequence exercises both outcomes, and ends with some nodes.
      CHECK(rejected > 50);
      CHECK(rejected < 450);
      CHECK(a.version() > 20);
      CHECK(a.snapshot() == b.snapshot());
      CHECK(a.version() == b.version());
      CHECK(a.applied_index() == raft::LogIndex(cmds.size()));
      // Invariant: by_raft_id agrees with nodes().
      for (const auto& [id, n] : a.nodes()) {
        REQUIRE(a.by_raft_id(n.raft_id) != nullptr);
        CHECK(a.by_raft_id(n.raft_id)->id == id);
      }
      // Invariants: topic_by_id agrees with topics(); offsets name
      // existing partitions.
      for (const auto& [name, t] : a.topics()) {
        REQUIRE(a.topic_by_id(t.id) != nullptr);
        CHECK(a.topic_by_id(t.id)->name == name);
        CHECK(t.id < a.next_topic_id());
      }
      for (const auto& [group, offsets] : a.group_offsets()) {
        CHECK_FALSE(offsets.empty());
        for (const auto& [key, offset] : offsets) {
          REQUIRE(a.topic(key.first) != nullptr);
          CHECK(key.second < a.topic(key.first)->partitions.size());
        }
      }
    }
  }

  TEST_CASE("snapshot.restore_mid_sequence_then_continue") {
    for (std::uint64_t seed = 100; seed < 110; ++seed) {
      CAPTURE(seed);
      const auto cmds = random_sequence(seed, 400);
      ClusterState whole;
      apply_all(&whole, cmds, 0, cmds.size());
      const std::size_t cut = 50 + seed % 300;
      ClusterState first;
      apply_all(&first, cmds, 0, cut);
      const std::string snap = first.snapshot();
      auto restored = ClusterState::restore(snap);
      REQUIRE_MESSAGE(restored.ok(), restored.error().to_string());
      CHECK(restored->snapshot() == snap);
      CHECK(restored->applied_index() == first.applied_index());
      CHECK(restored->version() == first.version());
      CHECK(restored->nodes() == first.nodes());
      CHECK(restored->topics() == first.topics());
      CHECK(restored->group_offsets() == first.group_offsets());
      CHECK(restored->next_topic_id() == first.next_topic_id());
      apply_all(&*restored, cmds, cut, cmds.size());
      CHECK(restored->snapshot() == whole.snapshot());
    }
  }

  TEST_CASE("restore.refuses_damaged_snapshots") {
    // The first random state holding nodes, topics and offsets.
    ClusterState s;
    for (std::uint64_t seed = 1; seed < 100; ++seed) {
      s = ClusterState();
      apply_all(&s, random_sequence(seed, 300), 0, 300);
      if (s.nodes().size() >= 2 && !s.topics().empty() &&
          !s.group_offsets().empty()) {
        break;
      }
    }
    REQUIRE(s.nodes().size() >= 2);
    REQUIRE_FALSE(s.topics().empty());
    REQUIRE_FALSE(s.group_offsets().empty());
    const std::string snap = s.snapshot();
    for (std::size_t n = 0; n < snap.size(); ++n) {
      auto r = ClusterState::restore(std::string_view(snap).substr(0, n));
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::corruption);
    }
    auto trailing = ClusterState::restore(snap + "x");
    REQUIRE_FALSE(trailing.ok());
    CHECK(trailing.error().message.find("trailing") != std::string::npos);
    for (int version : {0, 5}) {
      std::string future = snap;
      future[0] = static_cast<char>(version);
      auto unknown = ClusterState::restore(future);
      REQUIRE_FALSE(unknown.ok());
      CHECK(unknown.error().message.find("unknown format version " +
                                         std::to_string(version)) !=
            std::string::npos);
    }
  }

  TEST_CASE("restore.refuses_a_raft_id_used_twice") {
    ClusterState a;
    REQUIRE(apply_next(&a, reg("nw-a", 1)).ok());
    ClusterState b;
    REQUIRE(apply_next(&b, reg("nw-b", 1)).ok());
    // Splice b's node into a's snapshot: header(1+8+8) then count(4),
    // the nodes, then the version 2 and 3 sections (8 + 4 + 4 and 4 + 4 + 4
    // bytes when empty).
    std::string sa = a.snapshot();
    const std::string sb = b.snapshot();
    sa[17] = 2;
    sa.resize(sa.size() - 28);
    sa += sb.substr(21);
    auto r = ClusterState::restore(sa);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("used twice") != std::string::npos);
  }
}

}  // namespace
}  // namespace nw::controller
