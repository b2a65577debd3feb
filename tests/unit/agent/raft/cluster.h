#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "agent/raft/memory_storage.h"
#include "agent/raft/raft_node.h"

namespace nw::raft::test {

// A few RaftNodes wired by hand for focused tests: the test decides which
// messages are delivered, and when. Each node's Readys are carried out
// fully (persist, then send, then apply).
class Cluster {
 public:
  using Filter = std::function<bool(const Message&)>;
  using Tweak = std::function<void(Config&)>;

  explicit Cluster(int voters, Tweak tweak = {}) : tweak_(std::move(tweak)) {
    for (int i = 1; i <= voters; ++i) initial_.voters.insert(NodeId(i));
    for (NodeId id : initial_.voters) add_node(id);
  }

  // Adds a node with empty storage (also for later learners).
  void add_node(NodeId id) {
    storage_[id] = std::make_unique<MemoryStorage>();
    restart(id);
  }

  // A new RaftNode over the node's storage (what a crash leaves).
  void restart(NodeId id) {
    Config c;
    c.id = id;
    c.initial_membership = initial_;
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.seed = id.value();
    c.storage = storage_[id].get();
    if (tweak_) tweak_(c);
    nodes_[id] = std::make_unique<RaftNode>(c);
  }

  RaftNode& node(std::uint64_t id) { return *nodes_.at(NodeId(id)); }
  MemoryStorage& storage(std::uint64_t id) { return *storage_.at(NodeId(id)); }
  std::vector<Entry>& applied(std::uint64_t id) { return applied_[NodeId(id)]; }
  std::vector<ReadState>& reads(std::uint64_t id) { return reads_[NodeId(id)]; }

  // Carries out every pending Ready; sent messages go to the outbox.
  void drain() {
    for (auto& [id, n] : nodes_) {
      while (n->has_ready()) {
        Ready rd = n->ready();
        MemoryStorage& s = *storage_[id];
        if (rd.snapshot) (void)s.apply_snapshot(*rd.snapshot);
        if (!rd.entries.empty()) (void)s.append(rd.entries);
        if (rd.hard_state) (void)s.set_hard_state(*rd.hard_state);
        for (Message& m : rd.messages) outbox_.push_back(std::move(m));
        for (Entry& e : rd.committed_entries) applied_[id].push_back(e);
        for (ReadState& r : rd.read_states) reads_[id].push_back(r);
        n->advance();
      }
    }
  }

  // Delivers messages until none are left; those a cut or `keep` rejects
  // are dropped.
  void deliver(const Filter& keep = {}) {
    for (int round = 0; round < 1000; ++round) {
      drain();
      if (outbox_.empty()) return;
      std::vector<Message> batch = std::move(outbox_);
      outbox_.clear();
      for (const Message& m : batch) {
        if (cut_.count({m.from, m.to}) > 0) continue;
        if (keep && !keep(m)) continue;
        auto it = nodes_.find(m.to);
        if (it != nodes_.end()) (void)it->second->step(m);
      }
    }
  }

  // Drains and returns the outbox without delivering it.
  std::vector<Message> take_messages() {
    drain();
    std::vector<Message> out = std::move(outbox_);
    outbox_.clear();
    return out;
  }

  void tick(std::uint64_t id, int times = 1) {
    for (int i = 0; i < times; ++i) node(id).tick();
  }

  // Makes `id` campaign (only it is ticked) and delivers everything.
  void elect(std::uint64_t id) {
    for (int i = 0; i < 40 && node(id).role() != Role::leader; ++i) {
      tick(id);
      deliver();
    }
  }

  void isolate(std::uint64_t id) {
    for (auto& [other, n] : nodes_) {
      if (other == NodeId(id)) continue;
      cut_.insert({NodeId(id), other});
      cut_.insert({other, NodeId(id)});
    }
  }
  void heal() { cut_.clear(); }

 private:
  Tweak tweak_;
  Membership initial_;
  std::map<NodeId, std::unique_ptr<MemoryStorage>> storage_;
  std::map<NodeId, std::unique_ptr<RaftNode>> nodes_;
  std::map<NodeId, std::vector<Entry>> applied_;
  std::map<NodeId, std::vector<ReadState>> reads_;
  std::vector<Message> outbox_;
  std::set<std::pair<NodeId, NodeId>> cut_;
};

}  // namespace nw::raft::test
