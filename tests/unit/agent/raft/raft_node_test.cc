#include "agent/raft/raft_node.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/unit/agent/raft/cluster.h"

namespace nw::raft {
namespace {

using test::Cluster;

Entry entry(std::uint64_t term, std::uint64_t index, std::string data = {}) {
  return Entry{Term(term), LogIndex(index), EntryType::normal, std::move(data)};
}

// A lone follower (node 1 of a 3-node group) over a pre-filled log.
struct Follower {
  MemoryStorage storage;
  std::unique_ptr<RaftNode> node;

  explicit Follower(const std::vector<Entry>& log, std::uint64_t term = 0) {
    (void)storage.append(log);
    (void)storage.set_hard_state(HardState{Term(term), kNoNode, LogIndex(0)});
    Config c;
    c.id = NodeId(1);
    c.initial_membership.voters = {NodeId(1), NodeId(2), NodeId(3)};
    c.storage = &storage;
    node = std::make_unique<RaftNode>(c);
  }

  // Steps `m` and returns the messages of the resulting Ready.
  std::vector<Message> step(Message m) {
    m.to = NodeId(1);
    REQUIRE(node->step(m).ok());
    std::vector<Message> out;
    if (node->has_ready()) {
      Ready rd = node->ready();
      if (!rd.entries.empty()) (void)storage.append(rd.entries);
      out = rd.messages;
      node->advance();
    }
    return out;
  }
};

Message append(std::uint64_t term, std::uint64_t prev_index,
               std::uint64_t prev_term, std::vector<Entry> ents,
               std::uint64_t commit = 0) {
  Message m;
  m.type = MessageType::append;
  m.from = NodeId(2);
  m.term = Term(term);
  m.index = LogIndex(prev_index);
  m.log_term = Term(prev_term);
  m.entries = std::move(ents);
  m.commit = LogIndex(commit);
  return m;
}

}  // namespace

TEST_SUITE("raft.node") {
  TEST_CASE("step.malformed_append_is_refused_not_asserted") {
    Follower f({entry(1, 1), entry(1, 2)}, 1);
    auto refused = [&](Message m) {
      m.to = NodeId(1);
      Status st = f.node->step(m);
      CHECK_FALSE(st.ok());
      if (!st.ok()) CHECK(st.error().code == Code::invalid_argument);
    };
    // A gap: the entry does not follow the previous index.
    refused(append(1, 2, 1, {entry(1, 5)}));
    // Not consecutive.
    refused(append(1, 2, 1, {entry(1, 3), entry(1, 5)}));
    // An entry newer than the sender's term; terms going down.
    refused(append(1, 2, 1, {entry(2, 3)}));
    refused(append(2, 2, 1, {entry(2, 3), entry(1, 4)}));
    // Entries on a message type that never carries them.
    Message hb = append(1, 2, 1, {entry(1, 3)});
    hb.type = MessageType::heartbeat;
    refused(hb);
    // The log is untouched and a well-formed append still works.
    CHECK(f.storage.last_index() == LogIndex(2));
    f.step(append(1, 2, 1, {entry(1, 3)}));
    CHECK(f.storage.last_index() == LogIndex(3));
  }

  TEST_CASE("election.leader_commits_noop_of_its_term") {
    Cluster c(3);
    c.elect(1);
    REQUIRE(c.node(1).role() == Role::leader);
    CHECK(c.node(1).term() == Term(1));
    c.tick(1);  // followers learn the commit from the next heartbeat
    c.deliver();
    for (std::uint64_t id : {1, 2, 3}) {
      CHECK(c.node(id).commit_index() == LogIndex(1));
      CHECK(c.node(id).leader() == NodeId(1));
    }
  }

  TEST_CASE("election.pre_vote_does_not_bump_term") {
    Cluster c(3);
    c.elect(1);
    c.isolate(3);
    c.tick(3, 100);
    c.deliver();
    CHECK(c.node(3).term() == Term(1));
    CHECK(c.node(3).role() == Role::pre_candidate);
    // Rejoining does not depose the healthy leader.
    c.heal();
    c.tick(1);
    c.tick(3, 30);
    c.deliver();
    CHECK(c.node(1).role() == Role::leader);
    CHECK(c.node(1).term() == Term(1));
  }

  TEST_CASE("election.up_to_date_check_compares_last_term_first") {
    // Our last entry: index 2, term 2.
    Follower f({entry(1, 1), entry(2, 2)}, 2);
    Message v;
    v.type = MessageType::vote;
    v.from = NodeId(2);
    v.term = Term(3);
    v.index = LogIndex(5);  // longer, but an older last term
    v.log_term = Term(1);
    auto out = f.step(v);
    REQUIRE(out.size() == 1);
    CHECK(out[0].reject);
    v.from = NodeId(3);
    v.index = LogIndex(1);  // shorter, but a newer last term
    v.log_term = Term(3);
    out = f.step(v);
    REQUIRE(out.size() == 1);
    CHECK_FALSE(out[0].reject);
  }

  TEST_CASE("election.vote_is_persisted_before_the_response_is_sent") {
    Follower f({}, 0);
    Message v;
    v.type = MessageType::vote;
    v.from = NodeId(2);
    v.to = NodeId(1);
    v.term = Term(1);
    REQUIRE(f.node->step(v).ok());
    Ready rd = f.node->ready();
    // The response rides in the same Ready as the vote, which the host
    // must persist first.
    REQUIRE(rd.hard_state.has_value());
    CHECK(rd.hard_state->vote == NodeId(2));
    REQUIRE(rd.messages.size() == 1);
    CHECK(rd.messages[0].type == MessageType::vote_resp);
    f.node->advance();
  }

  TEST_CASE("election.follower_in_lease_ignores_votes") {
    Cluster c(3);
    c.elect(1);
    Message v;
    v.type = MessageType::vote;
    v.from = NodeId(3);
    v.to = NodeId(2);
    v.term = Term(5);
    v.index = LogIndex(100);
    v.log_term = Term(5);
    REQUIRE(c.node(2).step(v).ok());
    CHECK(c.node(2).term() == Term(1));
    CHECK(c.take_messages().empty());
  }

  TEST_CASE("election.check_quorum_leader_steps_down") {
    Cluster c(3);
    c.elect(1);
    c.isolate(1);
    for (int i = 0; i < 25; ++i) {
      c.tick(1);
      c.deliver();
    }
    CHECK(c.node(1).role() == Role::follower);
  }

  TEST_CASE("replication.stale_duplicated_append_does_not_truncate") {
    Follower f({});
    f.step(append(1, 0, 0, {entry(1, 1), entry(1, 2), entry(1, 3)}));
    REQUIRE(f.node->last_index() == LogIndex(3));
    auto out = f.step(append(1, 0, 0, {entry(1, 1)}));
    CHECK(f.node->last_index() == LogIndex(3));
    REQUIRE(out.size() == 1);
    CHECK(out[0].index == LogIndex(1));
    CHECK_FALSE(out[0].reject);
  }

  TEST_CASE("replication.conflict_truncates_from_first_mismatch") {
    Follower f({entry(1, 1), entry(1, 2), entry(1, 3)}, 1);
    f.step(append(2, 1, 1, {entry(1, 2), entry(2, 3)}));
    CHECK(f.node->last_index() == LogIndex(3));
    CHECK(f.node->log_term(LogIndex(2)) == Term(1));
    CHECK(f.node->log_term(LogIndex(3)) == Term(2));
    CHECK(f.storage.term(LogIndex(3)).value() == Term(2));
  }

  TEST_CASE("replication.reject_hint_skips_a_whole_term") {
    Follower f({entry(1, 1), entry(1, 2), entry(1, 3), entry(1, 4)}, 1);
    auto out = f.step(append(3, 10, 3, {}));
    REQUIRE(out.size() == 1);
    CHECK(out[0].reject);
    CHECK(out[0].index == LogIndex(10));
    CHECK(out[0].reject_hint == LogIndex(4));
    CHECK(out[0].log_term == Term(1));
  }

  TEST_CASE("replication.probe_then_replicate") {
    Cluster c(3);
    c.isolate(3);
    c.elect(1);
    REQUIRE(c.node(1).propose("a").ok());
    c.deliver();
    auto st = c.node(1).status();
    CHECK(st.progress.at(NodeId(2)).state == ProgressState::replicate);
    CHECK(st.progress.at(NodeId(2)).match == LogIndex(2));
    // Node 3 answers nothing: it stays in probe, one append at a time.
    CHECK(st.progress.at(NodeId(3)).state == ProgressState::probe);
    CHECK(st.progress.at(NodeId(3)).probe_sent);
  }

  TEST_CASE("replication.match_index_only_grows") {
    Cluster c(3);
    c.elect(1);
    REQUIRE(c.node(1).propose("a").ok());
    c.deliver();
    Message stale;
    stale.type = MessageType::append_resp;
    stale.from = NodeId(2);
    stale.to = NodeId(1);
    stale.term = Term(1);
    stale.index = LogIndex(1);
    REQUIRE(c.node(1).step(stale).ok());
    CHECK(c.node(1).status().progress.at(NodeId(2)).match == LogIndex(2));
  }

  TEST_CASE("commit.figure8_old_term_entry_not_committed_by_counting") {
    for (bool broken : {false, true}) {
      CAPTURE(broken);
      Cluster c(3,
                [&](Config& cfg) { cfg.testing_break_commit_rule = broken; });
      // Node 1 led term 1 and wrote index 2, which reached nobody.
      (void)c.storage(1).append({entry(1, 1), entry(1, 2, "old")});
      (void)c.storage(1).set_hard_state(
          HardState{Term(1), NodeId(1), LogIndex(1)});
      (void)c.storage(2).append({entry(1, 1)});
      (void)c.storage(2).set_hard_state(
          HardState{Term(1), NodeId(1), LogIndex(1)});
      c.restart(NodeId(1));
      c.restart(NodeId(2));
      c.isolate(3);
      // Node 1 wins term 2; only votes get through.
      c.tick(1, 20);
      c.deliver([](const Message& m) {
        return m.type != MessageType::append &&
               m.type != MessageType::heartbeat;
      });
      REQUIRE(c.node(1).role() == Role::leader);
      REQUIRE(c.node(1).term() == Term(2));
      // Node 2 acknowledges only the old-term entry 2.
      Message ack;
      ack.type = MessageType::append_resp;
      ack.from = NodeId(2);
      ack.to = NodeId(1);
      ack.term = Term(2);
      ack.index = LogIndex(2);
      REQUIRE(c.node(1).step(ack).ok());
      c.drain();
      // A majority holds entry 2, but it is of term 1: counting must not
      // commit it (the mutation does).
      CHECK(c.node(1).commit_index() == LogIndex(broken ? 2 : 1));
      ack.index = LogIndex(3);  // the no-op of term 2
      REQUIRE(c.node(1).step(ack).ok());
      CHECK(c.node(1).commit_index() == LogIndex(3));
    }
  }

  TEST_CASE("read_index.requires_current_term_commit") {
    Cluster c(3);
    c.tick(1, 20);
    // Elected, but no append gets through: its no-op is uncommitted.
    c.deliver([](const Message& m) { return m.type != MessageType::append; });
    REQUIRE(c.node(1).role() == Role::leader);
    REQUIRE(c.node(1).commit_index() == LogIndex(0));
    REQUIRE(c.node(1).read_index(7).ok());
    c.tick(1);
    c.deliver([](const Message& m) { return m.type != MessageType::append; });
    CHECK(c.reads(1).empty());
    c.tick(1);
    c.deliver();
    REQUIRE(c.reads(1).size() == 1);
    CHECK(c.reads(1)[0] == ReadState{7, LogIndex(1)});
  }

  TEST_CASE("read_index.needs_a_heartbeat_quorum") {
    Cluster c(3);
    c.elect(1);
    c.isolate(1);
    REQUIRE(c.node(1).read_index(1).ok());
    c.deliver();
    CHECK(c.reads(1).empty());
    c.heal();
    c.tick(1);
    c.deliver();
    REQUIRE(c.reads(1).size() == 1);
  }

  TEST_CASE("read_index.follower_asks_the_leader") {
    Cluster c(3);
    c.elect(1);
    REQUIRE(c.node(1).propose("x").ok());
    c.deliver();
    REQUIRE(c.node(2).read_index(42).ok());
    c.deliver();
    REQUIRE(c.reads(2).size() == 1);
    CHECK(c.reads(2)[0] == ReadState{42, LogIndex(2)});
  }

  TEST_CASE("propose.on_follower_names_the_leader") {
    Cluster c(3);
    c.elect(1);
    Status st = c.node(2).propose("x");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == Code::unavailable);
    CHECK(st.error().message.find("leader is node 1") != std::string::npos);
  }

  TEST_CASE("transfer.target_takes_over") {
    Cluster c(3);
    c.elect(1);
    c.isolate(3);
    REQUIRE(c.node(1).propose("x").ok());
    c.deliver();
    c.heal();
    REQUIRE(c.node(1).transfer_leadership(NodeId(3)).ok());
    CHECK(c.node(1).propose("y").error().code == Code::unavailable);
    c.deliver();
    c.tick(1);  // heartbeat: node 3 acks, catches up, gets TimeoutNow
    c.deliver();
    CHECK(c.node(3).role() == Role::leader);
    CHECK(c.node(1).role() == Role::follower);
    CHECK(c.node(3).term() == Term(2));
  }

  TEST_CASE("membership.learner_promotion_and_one_change_at_a_time") {
    Cluster c(3);
    c.elect(1);
    c.add_node(NodeId(4));
    REQUIRE(c.node(1)
                .propose_conf_change({ConfChangeType::add_learner, NodeId(4)})
                .ok());
    // Effective when appended; a second change waits for the commit.
    CHECK(c.node(1).membership().is_learner(NodeId(4)));
    Status second =
        c.node(1).propose_conf_change({ConfChangeType::promote, NodeId(4)});
    CHECK(second.error().code == Code::failed_precondition);
    c.deliver();
    c.tick(1);
    c.deliver();
    CHECK(c.node(4).membership().is_learner(NodeId(4)));
    CHECK(c.node(4).commit_index() == c.node(1).commit_index());
    REQUIRE(c.node(1)
                .propose_conf_change({ConfChangeType::promote, NodeId(4)})
                .ok());
    c.deliver();
    CHECK(c.node(2).membership().voters.size() == 4);
    // A learner never campaigns; a voter that was removed does not either.
    REQUIRE(c.node(1)
                .propose_conf_change({ConfChangeType::remove, NodeId(1)})
                .ok());
    c.deliver();
    c.tick(1);
    c.deliver();
    CHECK(c.node(1).role() == Role::follower);
    CHECK_FALSE(c.node(2).membership().contains(NodeId(1)));
    auto new_leader = [&] {
      const NodeId l = c.node(2).leader();
      return l != kNoNode && l != NodeId(1);
    };
    for (int i = 0; i < 60 && !new_leader(); ++i) {
      for (std::uint64_t id : {2, 3, 4}) c.tick(id);
      c.deliver();
    }
    CHECK(new_leader());
    CHECK(c.node(1).role() == Role::follower);
  }

  TEST_CASE("snapshot.lagging_follower_gets_install_snapshot") {
    Cluster c(3);
    c.elect(1);
    c.isolate(3);
    for (int i = 0; i < 10; ++i) REQUIRE(c.node(1).propose("x").ok());
    c.deliver();
    const LogIndex applied = c.node(1).commit_index();
    REQUIRE(
        c.storage(1)
            .create_snapshot(
                SnapshotMeta{applied, Term(1), c.node(1).membership()}, "state")
            .ok());
    REQUIRE(c.storage(1).compact(applied).ok());
    c.heal();
    c.tick(1);
    c.deliver();
    CHECK(c.storage(3).snapshot_meta().index == applied);
    CHECK(c.node(3).commit_index() == applied);
    REQUIRE(c.node(1).propose("after").ok());
    c.deliver();
    CHECK(c.node(3).last_index() == applied + 1);
  }
}

}  // namespace nw::raft
