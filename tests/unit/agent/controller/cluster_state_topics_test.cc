#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "agent/controller/cluster_state.h"
#include "agent/raft/byte_io.h"
#include "agent/raft/rand.h"

// ClusterState's topics and consumer-group offsets (create_topic ..
// delete_group) and the snapshot sections that hold them.
namespace nw::controller {
namespace {

using Lists = std::vector<std::vector<std::string>>;

RegisterNode reg(std::string id, std::uint64_t raft_id) {
  RegisterNode c;
  c.node.id = std::move(id);
  c.node.raft_id = raft::NodeId(raft_id);
  c.node.api_addr = "127.0.0.1:" + std::to_string(7000 + raft_id);
  c.node.peer_addr = "127.0.0.1:" + std::to_string(8000 + raft_id);
  return c;
}

// Applies `c` as the next entry of `s`; returns the command's status.
Status apply_next(ClusterState* s, const Command& c) {
  auto r = s->apply(s->applied_index() + 1, encode_command(c));
  REQUIRE_MESSAGE(r.ok(), r.error().to_string());
  return std::move(r->status);
}

// Checks that `c` is rejected with `code`, changing nothing but the index;
// returns the message.
std::string expect_rejected(ClusterState* s, const Command& c, Code code) {
  const raft::LogIndex index = s->applied_index() + 1;
  const std::string before = s->snapshot();
  auto r = s->apply(index, encode_command(c));
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->status.ok());
  CHECK_MESSAGE(r->status.error().code == code, r->status.error().message);
  CHECK_FALSE(r->changed);
  CHECK(s->applied_index() == index);
  // The state, header aside (applied index at byte 1), is unchanged.
  const std::string after = s->snapshot();
  CHECK(after.substr(9) == before.substr(9));
  return r->status.error().message;
}

// A state with nodes a, b, c, d registered.
ClusterState four_nodes() {
  ClusterState s;
  std::uint64_t raft_id = 1;
  for (const char* id : {"a", "b", "c", "d"}) {
    REQUIRE(apply_next(&s, reg(id, raft_id++)).ok());
  }
  return s;
}

CreateTopic create(std::string name, Lists partitions) {
  return CreateTopic{std::move(name), std::move(partitions), 86'400'000, -1,
                     1 << 20};
}

// Raw pieces of a version 2 snapshot with no nodes, for restore tests that
// need states apply never builds.
struct RawTopic {
  std::string name;
  std::uint64_t id = 1;
  std::vector<PartitionRecord> partitions = {{{"a"}, {}, {"a"}}};
  std::int64_t retention_ms = -1;
};
struct RawGroup {
  std::string name;
  std::vector<PartitionOffset> offsets;
};

std::string raw_snapshot(std::uint64_t next_topic_id,
                         const std::vector<RawTopic>& topics,
                         const std::vector<RawGroup>& groups) {
  std::string out;
  auto str = [&out](std::string_view s) {
    raft::put_u32(&out, static_cast<std::uint32_t>(s.size()));
    out.append(s);
  };
  auto strs = [&](const std::vector<std::string>& list) {
    raft::put_u32(&out, static_cast<std::uint32_t>(list.size()));
    for (const std::string& s : list) str(s);
  };
  raft::put_u8(&out, 2);
  raft::put_u64(&out, 10);  // applied index
  raft::put_u64(&out, 5);   // version
  raft::put_u32(&out, 0);   // nodes
  raft::put_u64(&out, next_topic_id);
  raft::put_u32(&out, static_cast<std::uint32_t>(topics.size()));
  for (const RawTopic& t : topics) {
    str(t.name);
    raft::put_u64(&out, t.id);
    raft::put_u64(&out, static_cast<std::uint64_t>(t.retention_ms));
    raft::put_u64(&out, ~std::uint64_t{0});  // retention bytes -1
    raft::put_u64(&out, 1 << 20);            // segment bytes
    raft::put_u64(&out, 3);                  // created index
    raft::put_u32(&out, static_cast<std::uint32_t>(t.partitions.size()));
    for (const PartitionRecord& p : t.partitions) {
      strs(p.replicas);
      strs(p.target_replicas);
      strs(p.initial_replicas);
    }
  }
  raft::put_u32(&out, static_cast<std::uint32_t>(groups.size()));
  for (const RawGroup& g : groups) {
    str(g.name);
    raft::put_u32(&out, static_cast<std::uint32_t>(g.offsets.size()));
    for (const PartitionOffset& o : g.offsets) {
      str(o.topic);
      raft::put_u32(&out, o.partition);
      raft::put_u64(&out, o.offset);
    }
  }
  return out;
}

void expect_corrupt(const std::string& bytes, std::string_view reason) {
  auto r = ClusterState::restore(bytes);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::corruption);
  CHECK_MESSAGE(r.error().message.find(reason) != std::string::npos,
                r.error().message);
}

TEST_SUITE("controller.cluster_state") {
  TEST_CASE("create_topic.assigns_ids_and_records_the_placement") {
    ClusterState s = four_nodes();
    CHECK(s.next_topic_id() == 1);
    CHECK(apply_next(&s, create("orders", {{"a", "b", "c"}, {"b", "c", "d"}}))
              .ok());
    const raft::LogIndex created = s.applied_index();
    CHECK(apply_next(&s, create("audit", {{"d"}})).ok());
    CHECK(s.version() == 6);
    CHECK(s.next_topic_id() == 3);
    REQUIRE(s.topic("orders") != nullptr);
    const TopicRecord& t = *s.topic("orders");
    CHECK(t.name == "orders");
    CHECK(t.id == 1);
    CHECK(t.created_index == created);
    CHECK(t.retention_ms == 86'400'000);
    CHECK(t.retention_bytes == -1);
    CHECK(t.segment_bytes == 1u << 20);
    REQUIRE(t.partitions.size() == 2);
    CHECK(t.partitions[1].replicas == std::vector<std::string>{"b", "c", "d"});
    CHECK(t.partitions[1].target_replicas.empty());
    CHECK(s.topic("audit")->id == 2);
    REQUIRE(s.topic_by_id(2) != nullptr);
    CHECK(s.topic_by_id(2)->name == "audit");
    CHECK(s.topic_by_id(3) == nullptr);
    CHECK(s.topic("nope") == nullptr);
    std::vector<std::string> names;
    for (const auto& [name, topic] : s.topics()) names.push_back(name);
    CHECK(names == std::vector<std::string>{"audit", "orders"});
  }

  TEST_CASE("create_topic.rejections_change_nothing") {
    ClusterState s = four_nodes();
    REQUIRE(apply_next(&s, create("orders", {{"a"}})).ok());
    REQUIRE(apply_next(&s, SetState{"d", NodeRecord::State::left}).ok());
    for (const std::string& name :
         {std::string(), std::string(201, 'x'), std::string("a/b"),
          std::string("a b"), std::string("\xff")}) {
      CAPTURE(name);
      expect_rejected(&s, create(name, {{"a"}}), Code::invalid_argument);
    }
    CHECK(apply_next(&s, create(std::string(200, 'x'), {{"a"}})).ok());
    CHECK(apply_next(&s, create("A-z_0.9", {{"a"}})).ok());
    expect_rejected(&s, create("orders", {{"b"}}), Code::conflict);
    expect_rejected(&s, create("t", {}), Code::invalid_argument);
    expect_rejected(&s, create("t", Lists(1025, {"a"})),
                    Code::invalid_argument);
    CHECK(expect_rejected(&s, create("t", {{"a"}, {}}), Code::invalid_argument)
              .find("partition 1: no replicas") != std::string::npos);
    CHECK(expect_rejected(&s, create("t", {{"a", "b", "a"}}),
                          Code::invalid_argument)
              .find("listed twice") != std::string::npos);
    CHECK(
        expect_rejected(&s, create("t", {{"a"}, {"b", "zz"}}), Code::not_found)
            .find("partition 1: unknown node \"zz\"") != std::string::npos);
    expect_rejected(&s, create("t", {{"a", "d"}}), Code::failed_precondition);
    for (std::int64_t bad : {std::int64_t{0}, std::int64_t{-2}}) {
      CreateTopic c = create("t", {{"a"}});
      c.retention_ms = bad;
      expect_rejected(&s, c, Code::invalid_argument);
      c = create("t", {{"a"}});
      c.retention_bytes = bad;
      expect_rejected(&s, c, Code::invalid_argument);
    }
    CreateTopic c = create("t", {{"a"}});
    c.segment_bytes = 0;
    expect_rejected(&s, c, Code::invalid_argument);
    // Rejections consume no id; 1024 partitions is fine.
    CHECK(s.next_topic_id() == 4);
    CHECK(apply_next(&s, create("t", Lists(1024, {"c", "a"}))).ok());
    CHECK(s.topic("t")->id == 4);
  }

  TEST_CASE("delete_topic.drops_its_offsets") {
    ClusterState s = four_nodes();
    REQUIRE(apply_next(&s, create("t1", {{"a"}, {"b"}})).ok());
    REQUIRE(apply_next(&s, create("t2", {{"c"}})).ok());
    REQUIRE(
        apply_next(&s, CommitOffsets{"g1", {{"t1", 0, 5}, {"t2", 0, 7}}}).ok());
    REQUIRE(apply_next(&s, CommitOffsets{"g2", {{"t1", 1, 9}}}).ok());
    CHECK(apply_next(&s, DeleteTopic{"t1"}).ok());
    CHECK(s.topic("t1") == nullptr);
    CHECK(s.topic_by_id(1) == nullptr);
    REQUIRE(s.offsets("g1") != nullptr);
    CHECK(*s.offsets("g1") == GroupOffsets{{{"t2", 0}, 7}});
    CHECK(s.offsets("g2") == nullptr);
    CHECK(s.group_offsets().size() == 1);
    expect_rejected(&s, DeleteTopic{"t1"}, Code::not_found);
    // A new topic of the same name is a new topic with a new id.
    REQUIRE(apply_next(&s, create("t1", {{"d"}})).ok());
    CHECK(s.topic("t1")->id == 3);
    CHECK(s.topic_by_id(3)->name == "t1");
  }

  TEST_CASE("alter_topic.changes_retention_and_appends_partitions") {
    ClusterState s = four_nodes();
    REQUIRE(apply_next(&s, create("t", {{"a", "b"}})).ok());
    const TopicRecord before = *s.topic("t");
    CHECK(apply_next(&s, AlterTopic{"t", 1000, {}, {}}).ok());
    CHECK(s.topic("t")->retention_ms == 1000);
    CHECK(s.topic("t")->retention_bytes == -1);
    CHECK(
        apply_next(&s, AlterTopic{"t", {}, 1 << 30, {{"c", "d"}, {"d"}}}).ok());
    const TopicRecord& t = *s.topic("t");
    CHECK(t.retention_ms == 1000);
    CHECK(t.retention_bytes == 1 << 30);
    REQUIRE(t.partitions.size() == 3);
    CHECK(t.partitions[0] == before.partitions[0]);
    CHECK(t.partitions[2].replicas == std::vector<std::string>{"d"});
    CHECK(t.id == before.id);
    CHECK(t.created_index == before.created_index);
    // Setting what is already there changes nothing.
    const std::uint64_t v = s.version();
    auto r = s.apply(s.applied_index() + 1,
                     encode_command(AlterTopic{"t", 1000, {}, {}}));
    REQUIRE(r.ok());
    CHECK(r->status.ok());
    CHECK_FALSE(r->changed);
    CHECK(s.version() == v);
    expect_rejected(&s, AlterTopic{"nope", 5, {}, {}}, Code::not_found);
    expect_rejected(&s, AlterTopic{"t", 0, {}, {}}, Code::invalid_argument);
    expect_rejected(&s, AlterTopic{"t", {}, -3, {}}, Code::invalid_argument);
    CHECK(expect_rejected(&s, AlterTopic{"t", {}, {}, {{"a"}, {"x"}}},
                          Code::not_found)
              .find("partition 4: unknown node") != std::string::npos);
    expect_rejected(&s, AlterTopic{"t", {}, {}, {{}}}, Code::invalid_argument);
    expect_rejected(&s, AlterTopic{"t", {}, {}, Lists(1022, {"a"})},
                    Code::invalid_argument);
    CHECK(apply_next(&s, AlterTopic{"t", {}, {}, Lists(1021, {"a"})}).ok());
    CHECK(s.topic("t")->partitions.size() == 1024);
  }

  TEST_CASE("alter_topic.changes_segment_limits") {
    ClusterState s = four_nodes();
    REQUIRE(apply_next(&s, create("t", {{"a", "b"}})).ok());
    CHECK(s.topic("t")->segment_ms == 0);
    CHECK(apply_next(&s, AlterTopic{"t", {}, {}, {}, 2u << 20, 60'000}).ok());
    CHECK(s.topic("t")->segment_bytes == 2u << 20);
    CHECK(s.topic("t")->segment_ms == 60'000);
    CHECK(s.topic("t")->retention_ms == 86'400'000);
    // 0 goes back to the default.
    CHECK(apply_next(&s, AlterTopic{"t", {}, {}, {}, {}, 0}).ok());
    CHECK(s.topic("t")->segment_ms == 0);
    CHECK(s.topic("t")->segment_bytes == 2u << 20);
    expect_rejected(&s, AlterTopic{"t", {}, {}, {}, 0, {}},
                    Code::invalid_argument);
    expect_rejected(&s, AlterTopic{"t", {}, {}, {}, {}, -1},
                    Code::invalid_argument);
  }

  TEST_CASE("create_topic.keeps_segment_ms") {
    ClusterState s = four_nodes();
    CreateTopic c = create("t", {{"a"}});
    c.segment_ms = 90'000;
    REQUIRE(apply_next(&s, c).ok());
    CHECK(s.topic("t")->segment_ms == 90'000);
    c.name = "u";
    c.segment_ms = -5;
    expect_rejected(&s, c, Code::invalid_argument);
  }

  TEST_CASE("snapshot.keeps_segment_ms_in_version_4") {
    ClusterState s = four_nodes();
    REQUIRE(apply_next(&s, create("a", {{"a"}})).ok());
    REQUIRE(apply_next(&s, create("b", {{"b"}})).ok());
    // No topic sets it: still version 3, as before the field existed.
    CHECK(static_cast<std::uint8_t>(s.snapshot()[0]) == 3);
    REQUIRE(apply_next(&s, AlterTopic{"b", {}, {}, {}, {}, 60'000}).ok());
    const std::string snap = s.snapshot();
    CHECK(static_cast<std::uint8_t>(snap[0]) == 4);
    auto r = ClusterState::restore(snap);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    CHECK(r->topic("b")->segment_ms == 60'000);
    CHECK(r->topic("a")->segment_ms == 0);
    CHECK(r->topics() == s.topics());
    CHECK(r->snapshot() == snap);
    for (std::size_t n = 0; n < snap.size(); ++n) {
      CHECK_FALSE(
          ClusterState::restore(std::string_view(snap).substr(0, n)).ok());
    }
  }

  TEST_CASE("effective_segment_ms.defaults_to_min_of_7_days_and_retention") {
    TopicRecord t;
    t.retention_ms = -1;
    CHECK(effective_segment_ms(t) == kDefaultSegmentMs);
    t.retention_ms = 3'600'000;
    CHECK(effective_segment_ms(t) == 3'600'000);
    t.retention_ms = 30LL * 24 * 3600 * 1000;
    CHECK(effective_segment_ms(t) == kDefaultSegmentMs);
    t.segment_ms = 5'000;  // set explicitly: used as is
    CHECK(effective_segment_ms(t) == 5'000);
  }

  TEST_CASE("set_partition_replicas.moves_a_partition_step_by_step") {
    ClusterState s = four_nodes();
    REQUIRE(apply_next(&s, create("t", {{"a", "b", "c"}, {"b"}})).ok());
    // Start: target d instead of c.
    CHECK(
        apply_next(
            &s, SetPartitionReplicas{"t", 0, {"a", "b", "c"}, {"a", "b", "d"}})
            .ok());
    CHECK(s.topic("t")->partitions[0].target_replicas ==
          std::vector<std::string>{"a", "b", "d"});
    // c dies and is removed mid-move: it may still be listed.
    REQUIRE(apply_next(&s, RemoveNode{"c"}).ok());
    CHECK(apply_next(&s,
                     SetPartitionReplicas{
                         "t", 0, {"a", "b", "c", "d"}, {"a", "b", "d"}})
              .ok());
    CHECK(
        apply_next(&s, SetPartitionReplicas{"t", 0, {"a", "b", "d"}, {}}).ok());
    const PartitionRecord& p = s.topic("t")->partitions[0];
    CHECK(p.replicas == std::vector<std::string>{"a", "b", "d"});
    CHECK(p.target_replicas.empty());
    // The bootstrap membership of the partition's group never moves.
    CHECK(p.initial_replicas == std::vector<std::string>{"a", "b", "c"});
    Result<ClusterState> back = ClusterState::restore(s.snapshot());
    REQUIRE(back.ok());
    CHECK(back->topic("t")->partitions[0].initial_replicas ==
          std::vector<std::string>{"a", "b", "c"});
    // Now c is neither listed nor registered.
    expect_rejected(&s, SetPartitionReplicas{"t", 0, {"a", "c"}, {}},
                    Code::not_found);
    expect_rejected(&s, SetPartitionReplicas{"t", 1, {"b"}, {"b", "c"}},
                    Code::not_found);
    expect_rejected(&s, SetPartitionReplicas{"t", 2, {"a"}, {}},
                    Code::not_found);
    expect_rejected(&s, SetPartitionReplicas{"x", 0, {"a"}, {}},
                    Code::not_found);
    expect_rejected(&s, SetPartitionReplicas{"t", 0, {}, {"a"}},
                    Code::invalid_argument);
    expect_rejected(&s, SetPartitionReplicas{"t", 0, {"a", "a"}, {}},
                    Code::invalid_argument);
    expect_rejected(&s, SetPartitionReplicas{"t", 0, {"a"}, {"b", "b"}},
                    Code::invalid_argument);
    REQUIRE(apply_next(&s, SetState{"b", NodeRecord::State::left}).ok());
    // A node that left stays acceptable where it is listed...
    CHECK(apply_next(&s, SetPartitionReplicas{"t", 1, {"b"}, {"a"}}).ok());
    CHECK(apply_next(&s, SetPartitionReplicas{"t", 0, {"a", "d"}, {}}).ok());
    // ... and nowhere else.
    expect_rejected(&s, SetPartitionReplicas{"t", 0, {"a", "d"}, {"b"}},
                    Code::failed_precondition);
  }

  TEST_CASE("commit_offsets.is_all_or_nothing") {
    ClusterState s = four_nodes();
    REQUIRE(apply_next(&s, create("t", {{"a"}, {"b"}})).ok());
    CHECK(
        apply_next(&s, CommitOffsets{"g", {{"t", 0, 10}, {"t", 1, 20}}}).ok());
    CHECK(*s.offsets("g") == GroupOffsets{{{"t", 0}, 10}, {{"t", 1}, 20}});
    CHECK(s.offsets("other") == nullptr);
    expect_rejected(&s, CommitOffsets{"g", {{"t", 0, 11}, {"t", 2, 1}}},
                    Code::not_found);
    expect_rejected(&s, CommitOffsets{"g", {{"t", 0, 11}, {"u", 0, 1}}},
                    Code::not_found);
    expect_rejected(&s, CommitOffsets{"h", {{"u", 0, 1}}}, Code::not_found);
    CHECK(s.offsets("h") == nullptr);
    expect_rejected(&s, CommitOffsets{"g", {{"t", 0, 11}, {"t", 0, 12}}},
                    Code::invalid_argument);
    expect_rejected(&s, CommitOffsets{"g", {}}, Code::invalid_argument);
    expect_rejected(&s, CommitOffsets{"bad group", {{"t", 0, 1}}},
                    Code::invalid_argument);
    // Offsets may move back (a reset), and other partitions are kept.
    CHECK(apply_next(&s, CommitOffsets{"g", {{"t", 0, 3}}}).ok());
    CHECK(*s.offsets("g") == GroupOffsets{{{"t", 0}, 3}, {{"t", 1}, 20}});
    auto r = s.apply(s.applied_index() + 1,
                     encode_command(CommitOffsets{"g", {{"t", 1, 20}}}));
    REQUIRE(r.ok());
    CHECK(r->status.ok());
    CHECK_FALSE(r->changed);
  }

  TEST_CASE("delete_group.drops_every_offset") {
    ClusterState s = four_nodes();
    REQUIRE(apply_next(&s, create("t", {{"a"}})).ok());
    REQUIRE(apply_next(&s, CommitOffsets{"g", {{"t", 0, 1}}}).ok());
    REQUIRE(apply_next(&s, CommitOffsets{"h", {{"t", 0, 2}}}).ok());
    CHECK(apply_next(&s, DeleteGroup{"g"}).ok());
    CHECK(s.offsets("g") == nullptr);
    CHECK(s.offsets("h") != nullptr);
    expect_rejected(&s, DeleteGroup{"g"}, Code::not_found);
    expect_rejected(&s, DeleteGroup{"never"}, Code::not_found);
  }

  TEST_CASE("snapshot.round_trips_topics_and_offsets") {
    ClusterState s = four_nodes();
    REQUIRE(apply_next(&s, create("orders", {{"a", "b"}, {"c", "d"}})).ok());
    REQUIRE(apply_next(&s, create("audit", {{"d"}})).ok());
    REQUIRE(apply_next(&s, create("gone", {{"d"}})).ok());
    REQUIRE(apply_next(&s, DeleteTopic{"gone"}).ok());
    REQUIRE(apply_next(&s, AlterTopic{"audit", 5, 6, {}}).ok());
    REQUIRE(apply_next(
                &s, SetPartitionReplicas{"orders", 1, {"c", "d"}, {"d", "a"}})
                .ok());
    REQUIRE(
        apply_next(&s, CommitOffsets{"g", {{"orders", 1, 4}, {"audit", 0, 2}}})
            .ok());
    REQUIRE(apply_next(&s, CommitOffsets{"f", {{"orders", 0, 1}}}).ok());
    const std::string snap = s.snapshot();
    CHECK(static_cast<std::uint8_t>(snap[0]) == 3);
    auto r = ClusterState::restore(snap);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    CHECK(r->topics() == s.topics());
    CHECK(r->group_offsets() == s.group_offsets());
    CHECK(r->next_topic_id() == 4);
    CHECK(r->topic_by_id(2)->name == "audit");
    CHECK(r->topic_by_id(3) == nullptr);
    CHECK(r->snapshot() == snap);
    // The restored state goes on like the original.
    REQUIRE(apply_next(&s, create("new", {{"b"}})).ok());
    REQUIRE(apply_next(&*r, create("new", {{"b"}})).ok());
    CHECK(r->topic("new")->id == 4);
    CHECK(r->snapshot() == s.snapshot());
  }

  TEST_CASE("restore.damaged_bytes_never_crash") {
    ClusterState s = four_nodes();
    REQUIRE(apply_next(&s, create("orders", {{"a", "b"}, {"c", "d"}})).ok());
    REQUIRE(apply_next(
                &s, SetPartitionReplicas{"orders", 0, {"a", "b"}, {"b", "c"}})
                .ok());
    REQUIRE(apply_next(&s, create("audit", {{"d"}})).ok());
    REQUIRE(
        apply_next(&s, CommitOffsets{"g", {{"orders", 1, 4}, {"audit", 0, 2}}})
            .ok());
    const std::string snap = s.snapshot();
    raft::Rng rng(9);
    int accepted = 0;
    for (int i = 0; i < 20000; ++i) {
      std::string bytes = snap;
      const int flips = static_cast<int>(rng.between(1, 3));
      for (int f = 0; f < flips; ++f) {
        bytes[rng.uniform(bytes.size())] = static_cast<char>(rng.uniform(256));
      }
      auto r = ClusterState::restore(bytes);
      if (r.ok()) {
        ++accepted;
        // Whatever restores is canonical: it snapshots to the same bytes.
        CHECK(r->snapshot() == bytes);
      } else {
        CHECK(r.error().code == Code::corruption);
      }
    }
    CHECK(accepted > 0);
  }

  TEST_CASE("restore.reads_a_version_1_snapshot") {
    // A version 1 snapshot (before topics) holding node "n1", raft id 1,
    // written byte by byte as docs/formats/controller-commands.md says.
    std::string v1;
    raft::put_u8(&v1, 1);
    raft::put_u64(&v1, 7);  // applied index
    raft::put_u64(&v1, 3);  // version
    raft::put_u32(&v1, 1);
    for (std::string_view s : {"n1"}) {
      raft::put_u32(&v1, static_cast<std::uint32_t>(s.size()));
      v1.append(s);
    }
    raft::put_u64(&v1, 1);
    for (std::string_view s : {"h:1", "h:2"}) {
      raft::put_u32(&v1, static_cast<std::uint32_t>(s.size()));
      v1.append(s);
    }
    raft::put_u32(&v1, 1);
    for (std::string_view s : {"rack", "r1"}) {
      raft::put_u32(&v1, static_cast<std::uint32_t>(s.size()));
      v1.append(s);
    }
    raft::put_u8(&v1, 0);
    raft::put_u8(&v1, 0);
    raft::put_u64(&v1, 1234);
    auto r = ClusterState::restore(v1);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    CHECK(r->applied_index() == raft::LogIndex(7));
    CHECK(r->version() == 3);
    REQUIRE(r->node("n1") != nullptr);
    CHECK(r->node("n1")->labels.at("rack") == "r1");
    CHECK(r->node("n1")->last_heartbeat_ms == 1234);
    CHECK(r->topics().empty());
    CHECK(r->group_offsets().empty());
    CHECK(r->next_topic_id() == 1);
    // It is written back as version 3: the version 1 bytes, then an empty
    // topics section (next id 1, no topics, no groups) and empty jobs,
    // runs and locks sections.
    const std::string v2 = r->snapshot();
    CHECK(static_cast<std::uint8_t>(v2[0]) == 3);
    CHECK(v2.substr(1, v1.size() - 1) == v1.substr(1));
    CHECK(v2.size() == v1.size() + 28);
    REQUIRE(apply_next(&*r, create("t", {{"n1"}})).ok());
    CHECK(r->topic("t")->id == 1);
    // Version 1 with the version 2 and 3 sections is trailing garbage.
    std::string mixed = v2;
    mixed[0] = 1;
    expect_corrupt(mixed, "trailing bytes: 28");
  }

  TEST_CASE("restore.refuses_broken_topic_invariants") {
    const RawTopic t{"t", 1, {{{"a", "b"}, {"c"}, {"a", "b"}}}, -1};
    const RawGroup g{"g", {{"t", 0, 5}}};
    REQUIRE(ClusterState::restore(raw_snapshot(2, {t}, {g})).ok());
    expect_corrupt(raw_snapshot(0, {}, {}), "next topic id 0");
    expect_corrupt(raw_snapshot(1, {t}, {}), "id 1 not in 1..next topic id");
    RawTopic other = t;
    other.name = "u";
    expect_corrupt(raw_snapshot(5, {t, other}, {}), "id 1 used twice");
    other.id = 2;
    expect_corrupt(raw_snapshot(5, {other, t}, {}), "not strictly ascending");
    RawTopic broken = t;
    broken.name = "a b";
    expect_corrupt(raw_snapshot(5, {broken}, {}), "invalid name");
    broken = t;
    broken.id = 0;
    expect_corrupt(raw_snapshot(5, {broken}, {}), "id 0 not in");
    broken = t;
    broken.partitions = {};
    expect_corrupt(raw_snapshot(5, {broken}, {}), "0 partitions");
    broken.partitions = {{{}, {}, {"a"}}};
    expect_corrupt(raw_snapshot(5, {broken}, {}), "replicas empty");
    broken.partitions = {{{"a", "a"}, {}, {"a"}}};
    expect_corrupt(raw_snapshot(5, {broken}, {}), "listed twice");
    broken.partitions = {{{"a"}, {"b", "b"}, {"a"}}};
    expect_corrupt(raw_snapshot(5, {broken}, {}), "listed twice");
    broken = t;
    broken.retention_ms = 0;
    expect_corrupt(raw_snapshot(5, {broken}, {}), "out of range");
    expect_corrupt(raw_snapshot(2, {t}, {{"g", {{"t", 1, 5}}}}),
                   "unknown topic or partition");
    expect_corrupt(raw_snapshot(2, {t}, {{"g", {{"u", 0, 5}}}}),
                   "unknown topic or partition");
    expect_corrupt(raw_snapshot(2, {t}, {{"g", {}}}), "offset count 0");
    expect_corrupt(raw_snapshot(2, {t}, {{"g", {{"t", 0, 1}, {"t", 0, 2}}}}),
                   "offsets not strictly ascending");
    expect_corrupt(raw_snapshot(2, {t}, {g, g}), "not strictly ascending");
    expect_corrupt(raw_snapshot(2, {t}, {{"", {{"t", 0, 1}}}}), "invalid name");
    // Every truncation fails cleanly.
    const std::string good = raw_snapshot(2, {t}, {g});
    for (std::size_t n = 0; n < good.size(); ++n) {
      auto r = ClusterState::restore(std::string_view(good).substr(0, n));
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::corruption);
    }
  }
}

}  // namespace
}  // namespace nw::controller
