// Chunked InstallSnapshot (agent/raft/raft_snapshot.cc): the follower's
// buffering of chunks, and the leader's one-chunk-in-flight transfer.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/raft/raft_node.h"
#include "tests/unit/agent/raft/cluster.h"

namespace nw::raft {
namespace {

using test::Cluster;

constexpr std::uint64_t kChunk = 8;

// The snapshot the tests send: 30 bytes, so 4 chunks of 8 (the last of 6).
Snapshot whole_snapshot(std::uint64_t index = 20) {
  return Snapshot{
      SnapshotMeta{LogIndex(index), Term(2),
                   Membership{{NodeId(1), NodeId(2), NodeId(3)}, {}}},
      "abcdefghijklmnopqrstuvwxyz0123"};
}

// The chunk of `snap` at `offset`, as leader `from` sends it in `term`.
Message chunk(const Snapshot& snap, std::uint64_t offset,
              std::uint64_t term = 3, std::uint64_t from = 2) {
  Message m;
  m.type = MessageType::snapshot;
  m.from = NodeId(from);
  m.to = NodeId(1);
  m.term = Term(term);
  const std::uint64_t len = std::min(kChunk, snap.data.size() - offset);
  m.snapshot = Snapshot{snap.meta, snap.data.substr(offset, len)};
  m.snapshot_offset = offset;
  m.snapshot_size = snap.data.size();
  m.snapshot_done = offset + len == snap.data.size();
  return m;
}

// A lone follower (node 1 of {1, 2, 3}) with an empty log; Readys are
// carried out at once and their snapshots recorded.
struct Receiver {
  MemoryStorage storage;
  std::unique_ptr<RaftNode> node;
  std::vector<Snapshot> installed;

  Receiver() {
    Config c;
    c.id = NodeId(1);
    c.initial_membership.voters = {NodeId(1), NodeId(2), NodeId(3)};
    c.storage = &storage;
    node = std::make_unique<RaftNode>(c);
  }

  // Steps `m` and returns the messages it caused.
  std::vector<Message> step(const Message& m) {
    REQUIRE(node->step(m).ok());
    std::vector<Message> out;
    while (node->has_ready()) {
      Ready rd = node->ready();
      if (rd.snapshot) {
        REQUIRE(storage.apply_snapshot(*rd.snapshot).ok());
        installed.push_back(*rd.snapshot);
      }
      if (!rd.entries.empty()) REQUIRE(storage.append(rd.entries).ok());
      if (rd.hard_state) REQUIRE(storage.set_hard_state(*rd.hard_state).ok());
      out.insert(out.end(), rd.messages.begin(), rd.messages.end());
      node->advance();
    }
    return out;
  }
};

// `out` is one snapshot_resp to `to` asking for `next`.
void check_ack(const std::vector<Message>& out, std::uint64_t next,
               bool reject = false, std::uint64_t to = 2) {
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == MessageType::snapshot_resp);
  CHECK(out[0].to == NodeId(to));
  CHECK(out[0].context == next);
  CHECK(out[0].reject == reject);
}

// `out` is the append_resp that ends a transfer at `index`.
void check_installed_reply(const std::vector<Message>& out, std::uint64_t index,
                           std::uint64_t to = 2) {
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == MessageType::append_resp);
  CHECK(out[0].to == NodeId(to));
  CHECK_FALSE(out[0].reject);
  CHECK(out[0].index == LogIndex(index));
}

// A 3-node cluster with kChunk-byte chunks in which node 3 missed 10
// entries that node 1 (the leader) has compacted into a snapshot of
// `data`. Nothing has been sent to node 3 yet.
struct LaggingFollower {
  Cluster c{3, [](Config& cfg) { cfg.max_snapshot_chunk_bytes = kChunk; }};
  LogIndex snap_index;
  std::string data;

  explicit LaggingFollower(std::size_t size = 50) {
    for (std::size_t i = 0; i < size; ++i) {
      data += static_cast<char>('A' + (i * 7) % 26);
    }
    c.elect(1);
    c.isolate(3);
    for (int i = 0; i < 10; ++i) REQUIRE(c.node(1).propose("x").ok());
    c.deliver();
    snap_index = c.node(1).commit_index();
    REQUIRE(c.storage(1)
                .create_snapshot(SnapshotMeta{snap_index, c.node(1).term(),
                                              c.node(1).membership()},
                                 data)
                .ok());
    REQUIRE(c.storage(1).compact(snap_index).ok());
    c.heal();
  }

  bool installed() {
    return c.storage(3).snapshot_meta().index == snap_index &&
           c.node(3).commit_index() >= snap_index;
  }
};

}  // namespace

TEST_SUITE("raft.node") {
  TEST_CASE("snapshot.chunks_are_buffered_and_installed_whole") {
    Receiver f;
    const Snapshot snap = whole_snapshot();
    check_ack(f.step(chunk(snap, 0)), 8);
    check_ack(f.step(chunk(snap, 8)), 16);
    check_ack(f.step(chunk(snap, 16)), 24);
    // Nothing is installed before the last chunk.
    CHECK(f.installed.empty());
    CHECK(f.storage.snapshot_meta().index == LogIndex(0));
    CHECK(f.node->leader() == NodeId(2));
    check_installed_reply(f.step(chunk(snap, 24)), 20);
    REQUIRE(f.installed.size() == 1);
    CHECK(f.installed[0].data == snap.data);
    CHECK(f.installed[0].meta == snap.meta);
    CHECK(f.node->commit_index() == LogIndex(20));
    CHECK(f.node->membership() == snap.meta.membership);
  }

  TEST_CASE("snapshot.duplicated_and_stale_chunks_are_harmless") {
    Receiver f;
    const Snapshot snap = whole_snapshot();
    check_ack(f.step(chunk(snap, 0)), 8);
    check_ack(f.step(chunk(snap, 8)), 16);
    // Duplicates only repeat where the follower is.
    check_ack(f.step(chunk(snap, 0)), 16);
    check_ack(f.step(chunk(snap, 8)), 16);
    // A chunk that overlaps what it holds adds only the new bytes.
    Message overlap = chunk(snap, 12);
    overlap.snapshot->data = snap.data.substr(12, 8);
    check_ack(f.step(overlap), 20);
    check_ack(f.step(chunk(snap, 16)), 24);
    check_installed_reply(f.step(chunk(snap, 24)), 20);
    REQUIRE(f.installed.size() == 1);
    CHECK(f.installed[0].data == snap.data);
    // After the install, any chunk of it is answered as done, not again.
    check_installed_reply(f.step(chunk(snap, 24)), 20);
    check_installed_reply(f.step(chunk(snap, 0)), 20);
    CHECK(f.installed.size() == 1);
  }

  TEST_CASE("snapshot.gap_is_rejected_with_the_offset_expected") {
    Receiver f;
    const Snapshot snap = whole_snapshot();
    // No partial copy: only the first chunk can start one.
    check_ack(f.step(chunk(snap, 8)), 0, true);
    check_ack(f.step(chunk(snap, 0)), 8);
    check_ack(f.step(chunk(snap, 16)), 8, true);
    check_ack(f.step(chunk(snap, 8)), 16);
    CHECK(f.installed.empty());
  }

  TEST_CASE("snapshot.chunk_from_an_older_term_is_refused") {
    Receiver f;
    const Snapshot snap = whole_snapshot();
    check_ack(f.step(chunk(snap, 0, 3)), 8);
    // A deposed leader of term 2 sends a chunk: no answer, no effect.
    Message old = chunk(snap, 8, 2, 3);
    old.snapshot->data = "XXXXXXXX";
    CHECK(f.step(old).empty());
    CHECK(f.node->term() == Term(3));
    CHECK(f.node->leader() == NodeId(2));
    check_ack(f.step(chunk(snap, 8, 3)), 16);
    check_ack(f.step(chunk(snap, 16, 3)), 24);
    check_installed_reply(f.step(chunk(snap, 24, 3)), 20);
    REQUIRE(f.installed.size() == 1);
    CHECK(f.installed[0].data == snap.data);
  }

  TEST_CASE("snapshot.new_leader_restarts_the_transfer") {
    Receiver f;
    const Snapshot snap = whole_snapshot();
    check_ack(f.step(chunk(snap, 0, 3, 2)), 8);
    check_ack(f.step(chunk(snap, 8, 3, 2)), 16);
    // Node 3 leads term 4: the partial copy of term 3 is dropped, so its
    // chunk at 16 is refused and the transfer starts over.
    check_ack(f.step(chunk(snap, 16, 4, 3)), 0, true, 3);
    CHECK(f.node->leader() == NodeId(3));
    check_ack(f.step(chunk(snap, 0, 4, 3)), 8, false, 3);
    // The old leader's late chunk changes nothing.
    CHECK(f.step(chunk(snap, 8, 3, 2)).empty());
    check_ack(f.step(chunk(snap, 8, 4, 3)), 16, false, 3);
    check_ack(f.step(chunk(snap, 16, 4, 3)), 24, false, 3);
    check_installed_reply(f.step(chunk(snap, 24, 4, 3)), 20, 3);
    REQUIRE(f.installed.size() == 1);
    CHECK(f.installed[0].data == snap.data);
  }

  TEST_CASE("snapshot.chunk_of_a_newer_snapshot_replaces_the_partial_one") {
    Receiver f;
    const Snapshot a = whole_snapshot(20);
    Snapshot b = whole_snapshot(25);
    b.data = "0123456789ABCDEFGHIJ";  // 20 bytes: 3 chunks
    check_ack(f.step(chunk(a, 0)), 8);
    check_ack(f.step(chunk(b, 0)), 8);
    // A late chunk of the older snapshot is ignored.
    CHECK(f.step(chunk(a, 8)).empty());
    check_ack(f.step(chunk(b, 8)), 16);
    check_installed_reply(f.step(chunk(b, 16)), 25);
    REQUIRE(f.installed.size() == 1);
    CHECK(f.installed[0].meta.index == LogIndex(25));
    CHECK(f.installed[0].data == b.data);
  }

  TEST_CASE("snapshot.malformed_chunk_is_refused_not_asserted") {
    Receiver f;
    const Snapshot snap = whole_snapshot();
    auto refused = [&](const Message& m) {
      Status st = f.node->step(m);
      CHECK_FALSE(st.ok());
      if (!st.ok()) CHECK(st.error().code == Code::invalid_argument);
    };
    Message past = chunk(snap, 24);
    past.snapshot_offset = 25;
    refused(past);
    Message huge = chunk(snap, 0);
    huge.snapshot_offset = ~std::uint64_t{0};
    refused(huge);
    Message early_done = chunk(snap, 8);
    early_done.snapshot_done = true;
    refused(early_done);
    Message late_done = chunk(snap, 24);
    late_done.snapshot_done = false;
    refused(late_done);
    Message none = chunk(snap, 0);
    none.snapshot.reset();
    refused(none);
    CHECK_FALSE(f.node->has_ready());
    check_ack(f.step(chunk(snap, 0)), 8);
  }

  TEST_CASE("snapshot.leader_sends_one_chunk_at_a_time") {
    LaggingFollower t;
    std::vector<std::uint64_t> offsets;
    std::vector<std::uint64_t> acks;
    t.c.tick(1);
    t.c.deliver([&](const Message& m) {
      if (m.type == MessageType::snapshot) offsets.push_back(m.snapshot_offset);
      if (m.type == MessageType::snapshot_resp) acks.push_back(m.context);
      return true;
    });
    // 50 bytes in chunks of 8, each sent once, each after the previous one
    // was acknowledged.
    CHECK(offsets == std::vector<std::uint64_t>{0, 8, 16, 24, 32, 40, 48});
    CHECK(acks == std::vector<std::uint64_t>{8, 16, 24, 32, 40, 48});
    REQUIRE(t.installed());
    REQUIRE(t.c.storage(3).snapshot().ok());
    CHECK(t.c.storage(3).snapshot()->data == t.data);
    // Replication resumes after the snapshot.
    CHECK(t.c.node(1).status().progress.at(NodeId(3)).state ==
          ProgressState::replicate);
    REQUIRE(t.c.node(1).propose("after").ok());
    t.c.deliver();
    CHECK(t.c.node(3).last_index() == t.snap_index + 1);
  }

  TEST_CASE("snapshot.lost_chunk_is_resent_after_the_timeout") {
    LaggingFollower t;
    std::map<std::uint64_t, int> sent;  // offset -> times seen
    auto lose_16_once = [&](const Message& m) {
      if (m.type != MessageType::snapshot) return true;
      return ++sent[m.snapshot_offset] != 1 || m.snapshot_offset != 16;
    };
    t.c.tick(1);
    t.c.deliver(lose_16_once);
    CHECK_FALSE(t.installed());
    const Progress pr = t.c.node(1).status().progress.at(NodeId(3));
    CHECK(pr.state == ProgressState::snapshot);
    CHECK(pr.snapshot_offset == 16);
    // Heartbeats flow, but the chunk is sent again only once the leader
    // has waited an election timeout (10 ticks) for its answer.
    for (int i = 0; i < 9; ++i) {
      t.c.tick(1);
      t.c.deliver(lose_16_once);
    }
    CHECK(sent[16] == 1);
    CHECK_FALSE(t.installed());
    t.c.tick(1);
    t.c.deliver(lose_16_once);
    CHECK(sent[16] == 2);
    CHECK(sent[0] == 1);  // resumed, not restarted
    REQUIRE(t.installed());
    CHECK(t.c.storage(3).snapshot()->data == t.data);
  }

  TEST_CASE("snapshot.rejected_chunk_restarts_from_the_offset_asked") {
    LaggingFollower t;
    std::vector<std::uint64_t> offsets;
    int rejects = 0;
    t.c.tick(1);
    t.c.deliver([&](const Message& m) {
      if (m.type == MessageType::snapshot) {
        offsets.push_back(m.snapshot_offset);
        // Node 3 crashes just before the third chunk: its partial copy
        // (in memory only) is gone.
        if (offsets.size() == 3) t.c.restart(NodeId(3));
      }
      if (m.type == MessageType::snapshot_resp && m.reject) ++rejects;
      return true;
    });
    CHECK(rejects == 1);
    CHECK(offsets ==
          std::vector<std::uint64_t>{0, 8, 16, 0, 8, 16, 24, 32, 40, 48});
    REQUIRE(t.installed());
    CHECK(t.c.storage(3).snapshot()->data == t.data);
  }

  TEST_CASE("snapshot.empty_and_single_chunk_snapshots") {
    for (std::size_t size : {std::size_t{0}, kChunk}) {
      CAPTURE(size);
      LaggingFollower t(size);
      int chunks = 0;
      t.c.tick(1);
      t.c.deliver([&](const Message& m) {
        if (m.type == MessageType::snapshot) {
          ++chunks;
          CHECK(m.snapshot_done);
        }
        return true;
      });
      CHECK(chunks == 1);
      REQUIRE(t.installed());
      CHECK(t.c.storage(3).snapshot()->data == t.data);
    }
  }

  TEST_CASE("config.max_snapshot_chunk_bytes_must_be_positive") {
    MemoryStorage storage;
    Config c;
    c.id = NodeId(1);
    c.storage = &storage;
    CHECK(validate(c).ok());
    c.max_snapshot_chunk_bytes = 0;
    const Status st = validate(c);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == Code::invalid_argument);
    CHECK(st.error().message.find("max_snapshot_chunk_bytes") !=
          std::string::npos);
  }
}

}  // namespace nw::raft
