#include "tests/unit/agent/raft/simulator.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "agent/raft/memory_storage.h"
#include "agent/raft/raft_node.h"
#include "agent/raft/rand.h"

namespace nw::raft::sim {
namespace {

// Time inside a tick: messages and persistence take a few units.
constexpr std::uint64_t kUnitsPerTick = 10;

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}

std::uint64_t hash_bytes(std::uint64_t h, const std::string& s) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

std::uint64_t chain(std::uint64_t prev, const Entry& e) {
  std::uint64_t h = mix(prev, e.term.value());
  h = mix(h, static_cast<std::uint64_t>(e.type));
  return hash_bytes(h, e.data);
}

// The simulated state machine: a hash chain over applied entries plus the
// membership (the host side of conf changes, needed for snapshots).
struct StateMachine {
  LogIndex applied;
  std::uint64_t hash = 0;
  Membership membership;
};

// `n` filler bytes that depend on `hash` and on their position, so a
// snapshot put together from chunks in the wrong order, with a chunk
// missing or twice, does not decode.
std::string padding(std::uint64_t hash, std::size_t n) {
  std::string out(n, ' ');
  std::uint64_t x = hash;
  for (std::size_t i = 0; i < n; ++i) {
    x = mix(x, i);
    out[i] = static_cast<char>('a' + x % 26);
  }
  return out;
}

std::string encode_sm(const StateMachine& sm, int pad) {
  std::ostringstream out;
  out << sm.applied.value() << ' ' << sm.hash << ' '
      << sm.membership.voters.size();
  for (NodeId v : sm.membership.voters) out << ' ' << v.value();
  out << ' ' << sm.membership.learners.size();
  for (NodeId l : sm.membership.learners) out << ' ' << l.value();
  out << ' ' << pad << ' ' << padding(sm.hash, static_cast<std::size_t>(pad))
      << " end";
  return out.str();
}

// nullopt when `data` is not what encode_sm wrote.
std::optional<StateMachine> decode_sm(const std::string& data) {
  std::istringstream in(data);
  StateMachine sm;
  std::uint64_t applied = 0;
  std::size_t n = 0;
  in >> applied >> sm.hash >> n;
  sm.applied = LogIndex(applied);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t v = 0;
    in >> v;
    sm.membership.voters.insert(NodeId(v));
  }
  in >> n;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t v = 0;
    in >> v;
    sm.membership.learners.insert(NodeId(v));
  }
  std::size_t pad = 0;
  in >> pad;
  if (!in || pad > data.size()) return std::nullopt;
  std::string filler;
  std::string end;
  if (pad > 0) in >> filler;
  in >> end;
  if (!in || filler != padding(sm.hash, pad) || end != "end" ||
      in.peek() != std::char_traits<char>::eof()) {
    return std::nullopt;
  }
  return sm;
}

struct ClientRead {
  LogIndex min_index;  // highest acknowledged write when the read started
  bool have_index = false;
  LogIndex index;
  std::uint64_t start_tick = 0;
};

struct SimNode {
  NodeId id;
  std::unique_ptr<MemoryStorage> storage;  // the durable state
  std::unique_ptr<RaftNode> raft;          // null while down
  std::uint64_t incarnation = 0;
  bool ready_scheduled = false;
  bool retired = false;  // removed from the group and shut down
  std::uint64_t restart_at = 0;
  StateMachine sm;
  std::map<std::uint64_t, ClientRead> reads;    // by ctx
  std::map<std::string, std::uint64_t> writes;  // data -> start tick
  Role last_role = Role::follower;
  Term last_term;
  LogIndex known_commit;
};

struct Event {
  std::uint64_t time = 0;
  std::uint64_t seq = 0;
  bool deliver = true;  // else: process the node's Ready
  NodeId node;
  std::uint64_t incarnation = 0;
  Message msg;
};

struct EventLater {
  bool operator()(const Event& a, const Event& b) const {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }
};

struct CommittedEntry {
  Term term;
  EntryType type;
  std::string data;
  Term commit_term;  // a term at which some node knew it committed
};

class Simulator {
 public:
  explicit Simulator(const SimOptions& o) : o_(o), rng_(o.seed) {}

  SimResult run();

 private:
  bool up(const SimNode& n) const { return n.raft != nullptr; }
  bool chaos() const {
    return tick_ < static_cast<std::uint64_t>(o_.chaos_ticks);
  }
  void fail(const std::string& what);
  void trace(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

  Config config_for(const SimNode& n) const;
  void start(SimNode& n);
  void crash(SimNode& n, const char* why);
  void heal();
  void inject_faults();
  void client_actions();
  SimNode* pick_leader();
  SimNode* pick_up_node();

  void send(const Message& m);
  void after_call(SimNode& n);
  void process_ready(SimNode& n);
  void apply(SimNode& n, const Entry& e);
  void maybe_snapshot(SimNode& n);
  void serve_reads(SimNode& n);

  void check_node(SimNode& n);
  void record_commits(SimNode& n);
  void check_committed(const Entry& e, Term commit_term, NodeId who);
  void check_leader_completeness(SimNode& leader);
  void check_log_matching(SimNode& n, const std::vector<Entry>& ents);
  bool liveness_done();
  void retire_removed();

  const SimOptions o_;
  Rng rng_;
  SimResult result_;
  std::uint64_t tick_ = 0;
  std::uint64_t now_ = 0;
  std::uint64_t seq_ = 0;
  Membership initial_;
  std::map<NodeId, SimNode> nodes_;
  NodeId next_spare_;
  NodeId last_spare_;
  std::priority_queue<Event, std::vector<Event>, EventLater> events_;
  std::set<std::pair<NodeId, NodeId>> blocked_;  // (from, to)
  std::uint64_t partition_until_ = 0;
  std::uint64_t next_write_ = 0;
  std::uint64_t next_ctx_ = 0;

  // Checker state; it survives crashes (it is the omniscient observer).
  std::map<Term, NodeId> leader_of_term_;
  std::map<LogIndex, CommittedEntry> committed_;
  std::vector<std::uint64_t> chain_{0};  // chain_[i]: hash through index i
  std::map<std::pair<LogIndex, Term>, std::pair<std::uint64_t, Term>>
      persisted_;  // (index, term) -> (data hash, prev term)
  LogIndex max_acked_;
  std::vector<NodeId> to_retire_;
  LogIndex heal_write_;
  bool heal_read_ = false;
};

void Simulator::fail(const std::string& what) {
  if (!result_.ok) return;
  result_.ok = false;
  result_.failure = "tick " + std::to_string(tick_) + ": " + what;
}

void Simulator::trace(const char* fmt, ...) {
  if (!o_.trace) return;
  std::fprintf(stderr, "[%6" PRIu64 ".%" PRIu64 "] ", tick_,
               now_ % kUnitsPerTick);
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  std::fputc('\n', stderr);
}

Config Simulator::config_for(const SimNode& n) const {
  Config c;
  c.id = n.id;
  c.initial_membership = initial_;
  c.election_tick = o_.election_tick;
  c.heartbeat_tick = 1;
  c.max_inflight_msgs = o_.max_inflight_msgs;
  c.max_entries_per_msg = o_.max_entries_per_msg;
  c.max_bytes_per_msg = 1 << 16;
  c.max_snapshot_chunk_bytes = o_.max_snapshot_chunk_bytes;
  c.seed = mix(mix(o_.seed, n.id.value()), n.incarnation);
  c.storage = n.storage.get();
  c.testing_break_commit_rule = o_.break_commit_rule;
  return c;
}

void Simulator::start(SimNode& n) {
  const SnapshotMeta meta = n.storage->snapshot_meta();
  if (meta.index > LogIndex(0)) {
    auto snap = n.storage->snapshot();
    auto sm = decode_sm(snap->data);
    if (!sm) return fail("a stored snapshot does not decode");
    n.sm = *sm;
  } else {
    n.sm = StateMachine{LogIndex(0), 0, initial_};
  }
  n.raft = std::make_unique<RaftNode>(config_for(n));
  n.known_commit = LogIndex(0);
  n.last_role = Role::follower;
  n.restart_at = 0;
  trace("node %" PRIu64 " starts (term %" PRIu64 ", commit %" PRIu64 ")",
        n.id.value(), n.raft->term().value(), n.raft->commit_index().value());
  after_call(n);
}

void Simulator::crash(SimNode& n, const char* why) {
  trace("node %" PRIu64 " %s", n.id.value(), why);
  n.raft.reset();
  ++n.incarnation;
  n.ready_scheduled = false;
  n.reads.clear();
  n.writes.clear();
  ++result_.crashes;
}

void Simulator::send(const Message& m) {
  if (m.type == MessageType::snapshot) ++result_.snapshot_chunks_sent;
  if (blocked_.count({m.from, m.to}) > 0) return;
  int copies = 1;
  if (chaos()) {
    if (rng_.chance(o_.drop)) return;
    if (rng_.chance(o_.duplicate)) copies = 2;
  }
  for (int i = 0; i < copies; ++i) {
    std::uint64_t delay = rng_.between(1, kUnitsPerTick);
    if (chaos() && rng_.chance(o_.long_delay)) {
      delay = rng_.between(kUnitsPerTick, 6 * kUnitsPerTick);
    }
    Event ev;
    ev.time = now_ + delay;
    ev.seq = ++seq_;
    ev.deliver = true;
    ev.node = m.to;
    ev.msg = m;
    events_.push(std::move(ev));
  }
}

void Simulator::after_call(SimNode& n) {
  if (!up(n)) return;
  check_node(n);
  if (!n.ready_scheduled && n.raft->has_ready()) {
    n.ready_scheduled = true;
    Event ev;
    ev.time = now_ + rng_.between(1, 8);  // the fsync takes a while
    ev.seq = ++seq_;
    ev.deliver = false;
    ev.node = n.id;
    ev.incarnation = n.incarnation;
    events_.push(std::move(ev));
  }
}

void Simulator::process_ready(SimNode& n) {
  n.ready_scheduled = false;
  Ready rd = n.raft->ready();
  // 1-3: persist; durable once the calls return.
  if (rd.snapshot) {
    const Snapshot& snap = *rd.snapshot;
    if (!n.storage->apply_snapshot(snap).ok()) {
      return fail("apply_snapshot refused a snapshot from the core");
    }
    auto sm = decode_sm(snap.data);
    if (!sm) {
      return fail("snapshot data from the core does not decode (" +
                  std::to_string(snap.data.size()) +
                  " bytes): chunks were put together wrong");
    }
    n.sm = *sm;
    ++result_.snapshots_installed;
    if (n.sm.applied != snap.meta.index) {
      return fail("snapshot data does not match its index");
    }
    if (snap.meta.index.value() < chain_.size() &&
        chain_[snap.meta.index.value()] != n.sm.hash) {
      return fail("state machine safety: snapshot at " +
                  std::to_string(snap.meta.index.value()) +
                  " differs from the committed entries");
    }
    trace("node %" PRIu64 " installs snapshot at %" PRIu64, n.id.value(),
          snap.meta.index.value());
  }
  if (!rd.entries.empty()) {
    if (!n.storage->append(rd.entries).ok()) return fail("append failed");
    check_log_matching(n, rd.entries);
  }
  if (rd.hard_state) (void)n.storage->set_hard_state(*rd.hard_state);
  if (!result_.ok) return;
  if (chaos() && rng_.chance(o_.crash)) {
    // Persisted, but the messages never left: still safe.
    crash(n, "crashes after persisting, before sending");
    n.restart_at = tick_ + rng_.between(5, 60);
    return;
  }
  for (const Message& m : rd.messages) send(m);
  for (const Entry& e : rd.committed_entries) {
    apply(n, e);
    if (!result_.ok) return;
  }
  for (const ReadState& rs : rd.read_states) {
    auto it = n.reads.find(rs.context);
    if (it == n.reads.end()) continue;
    if (rs.index < it->second.min_index) {
      return fail("linearizability: read " + std::to_string(rs.context) +
                  " on node " + std::to_string(n.id.value()) + " got index " +
                  std::to_string(rs.index.value()) + " but a write at index " +
                  std::to_string(it->second.min_index.value()) +
                  " was acknowledged before it started");
    }
    if (committed_.empty() || rs.index > committed_.rbegin()->first) {
      return fail("read index " + std::to_string(rs.index.value()) +
                  " is beyond every known commit");
    }
    it->second.have_index = true;
    it->second.index = rs.index;
  }
  n.raft->advance();
  serve_reads(n);
  maybe_snapshot(n);
  after_call(n);
}

void Simulator::apply(SimNode& n, const Entry& e) {
  if (e.index != n.sm.applied + 1) {
    return fail("node " + std::to_string(n.id.value()) + " applies " +
                std::to_string(e.index.value()) + " after " +
                std::to_string(n.sm.applied.value()));
  }
  check_committed(e, n.raft->term(), n.id);
  n.sm.hash = chain(n.sm.hash, e);
  n.sm.applied = e.index;
  if (e.index.value() < chain_.size() && chain_[e.index.value()] != n.sm.hash) {
    return fail("state machine safety: node " + std::to_string(n.id.value()) +
                " state differs at index " + std::to_string(e.index.value()));
  }
  if (e.type == EntryType::conf_change) {
    auto cc = decode_conf_change(e.data);
    if (!cc.ok()) return fail("undecodable conf change committed");
    auto next = apply_conf_change(n.sm.membership, *cc);
    if (next.ok()) {
      n.sm.membership = std::move(next).value();
      if (cc->type == ConfChangeType::remove) {
        to_retire_.push_back(cc->node);  // after this Ready is done
      }
    }
    return;
  }
  auto w = n.writes.find(e.data);
  if (w != n.writes.end()) {
    ++result_.acked_writes;
    max_acked_ = std::max(max_acked_, e.index);
    if (w->second >= static_cast<std::uint64_t>(o_.chaos_ticks) &&
        heal_write_ == LogIndex(0)) {
      heal_write_ = e.index;
    }
    n.writes.erase(w);
  }
}

void Simulator::serve_reads(SimNode& n) {
  for (auto it = n.reads.begin(); it != n.reads.end();) {
    const ClientRead& r = it->second;
    if (r.have_index && n.sm.applied >= r.index) {
      ++result_.reads_served;
      if (r.start_tick >= static_cast<std::uint64_t>(o_.chaos_ticks)) {
        heal_read_ = true;
      }
      it = n.reads.erase(it);
    } else if (tick_ > r.start_tick + 10 * o_.election_tick) {
      it = n.reads.erase(it);  // the client timed out
    } else {
      ++it;
    }
  }
}

void Simulator::maybe_snapshot(SimNode& n) {
  if (o_.snapshot_every <= 0 || !up(n)) return;
  const LogIndex snap = n.storage->snapshot_meta().index;
  if (n.sm.applied < snap + static_cast<std::uint64_t>(o_.snapshot_every)) {
    return;
  }
  auto term = n.storage->term(n.sm.applied);
  if (!term.ok()) return fail("applied entry is not in storage");
  SnapshotMeta meta{n.sm.applied, *term, n.sm.membership};
  if (!n.storage->create_snapshot(meta, encode_sm(n.sm, o_.snapshot_padding))
           .ok()) {
    return fail("create_snapshot refused");
  }
  const std::uint64_t keep = rng_.between(0, o_.snapshot_keep);
  const LogIndex up_to =
      n.sm.applied.value() > keep ? n.sm.applied - keep : LogIndex(0);
  if (!n.storage->compact(up_to).ok()) return fail("compact refused");
}

void Simulator::check_node(SimNode& n) {
  RaftNode& r = *n.raft;
  if (r.role() == Role::leader) {
    auto [it, inserted] = leader_of_term_.emplace(r.term(), n.id);
    if (!inserted && it->second != n.id) {
      return fail("election safety: nodes " +
                  std::to_string(it->second.value()) + " and " +
                  std::to_string(n.id.value()) + " both lead term " +
                  std::to_string(r.term().value()));
    }
    if (n.last_role != Role::leader || n.last_term != r.term()) {
      ++result_.leaders;
      trace("node %" PRIu64 " leads term %" PRIu64 " (last index %" PRIu64 ")",
            n.id.value(), r.term().value(), r.last_index().value());
      check_leader_completeness(n);
    }
  }
  n.last_role = r.role();
  n.last_term = r.term();
  if (r.commit_index() > n.known_commit) record_commits(n);
}

void Simulator::record_commits(SimNode& n) {
  RaftNode& r = *n.raft;
  const LogIndex hi = r.commit_index() + 1;
  auto ents = r.log_entries(n.known_commit + 1, hi);
  if (ents.ok()) {
    for (const Entry& e : *ents) check_committed(e, r.term(), n.id);
  }
  // (Compacted ones come from a snapshot of committed state; the apply
  // check covers them.)
  n.known_commit = r.commit_index();
  result_.commit_index =
      std::max(result_.commit_index, r.commit_index().value());
}

void Simulator::check_committed(const Entry& e, Term commit_term, NodeId who) {
  auto it = committed_.find(e.index);
  if (it != committed_.end()) {
    if (it->second.term != e.term || it->second.data != e.data ||
        it->second.type != e.type) {
      return fail("state machine safety: index " +
                  std::to_string(e.index.value()) + " committed with term " +
                  std::to_string(it->second.term.value()) +
                  " earlier, now node " + std::to_string(who.value()) +
                  " commits term " + std::to_string(e.term.value()));
    }
    it->second.commit_term = std::min(it->second.commit_term, commit_term);
    return;
  }
  committed_.emplace(e.index,
                     CommittedEntry{e.term, e.type, e.data, commit_term});
  while (committed_.count(LogIndex(chain_.size())) > 0) {
    const auto& c = committed_.at(LogIndex(chain_.size()));
    chain_.push_back(chain(
        chain_.back(), Entry{c.term, LogIndex(chain_.size()), c.type, c.data}));
  }
  // Leader completeness, as it happens: every leader of a later term must
  // already hold the entry.
  for (auto& [id, n] : nodes_) {
    if (!up(n) || n.raft->role() != Role::leader ||
        n.raft->term() <= commit_term) {
      continue;
    }
    auto t = n.raft->log_term(e.index);
    if ((t.has_value() && *t != e.term) ||
        (!t.has_value() && e.index > n.raft->last_index())) {
      return fail("leader completeness: node " + std::to_string(id.value()) +
                  " leads term " + std::to_string(n.raft->term().value()) +
                  " without entry " + std::to_string(e.index.value()) +
                  " committed in term " + std::to_string(commit_term.value()));
    }
  }
}

void Simulator::check_leader_completeness(SimNode& leader) {
  RaftNode& r = *leader.raft;
  for (const auto& [index, c] : committed_) {
    if (c.commit_term >= r.term()) continue;
    auto t = r.log_term(index);
    if ((t.has_value() && *t != c.term) ||
        (!t.has_value() && index > r.last_index())) {
      return fail("leader completeness: node " +
                  std::to_string(leader.id.value()) + " elected in term " +
                  std::to_string(r.term().value()) + " lacks entry " +
                  std::to_string(index.value()) + " (term " +
                  std::to_string(c.term.value()) + ") committed in term " +
                  std::to_string(c.commit_term.value()));
    }
  }
}

void Simulator::check_log_matching(SimNode& n, const std::vector<Entry>& ents) {
  for (const Entry& e : ents) {
    Term prev(0);
    if (e.index > LogIndex(1)) {
      auto t = n.storage->term(e.index - 1);
      if (!t.ok()) return fail("persisted entry follows a hole");
      prev = *t;
    }
    const std::uint64_t h = chain(0, e);
    auto [it, inserted] = persisted_.emplace(std::make_pair(e.index, e.term),
                                             std::make_pair(h, prev));
    if (!inserted && it->second != std::make_pair(h, prev)) {
      return fail("log matching: node " + std::to_string(n.id.value()) +
                  " has a different entry or predecessor at index " +
                  std::to_string(e.index.value()) + " term " +
                  std::to_string(e.term.value()));
    }
  }
}

SimNode* Simulator::pick_leader() {
  SimNode* best = nullptr;
  for (auto& [id, n] : nodes_) {
    if (up(n) && n.raft->role() == Role::leader &&
        (best == nullptr || n.raft->term() > best->raft->term())) {
      best = &n;
    }
  }
  return best;
}

SimNode* Simulator::pick_up_node() {
  std::vector<SimNode*> live;
  for (auto& [id, n] : nodes_) {
    if (up(n)) live.push_back(&n);
  }
  if (live.empty()) return nullptr;
  return live[rng_.uniform(live.size())];
}

void Simulator::inject_faults() {
  if (partition_until_ != 0 && tick_ >= partition_until_) {
    trace("partition heals");
    blocked_.clear();
    partition_until_ = 0;
  }
  if (rng_.chance(o_.crash)) {
    // Half the crashes hit the leader: that is where Raft gets interesting.
    SimNode* n = rng_.chance(0.5) ? pick_leader() : nullptr;
    if (n == nullptr) n = pick_up_node();
    if (n != nullptr) {
      crash(*n, "crashes");
      n->restart_at = tick_ + rng_.between(5, 80);
    }
  }
  if (partition_until_ == 0 && rng_.chance(o_.partition)) {
    std::vector<NodeId> ids;
    for (auto& [id, n] : nodes_) {
      if (!n.retired) ids.push_back(id);
    }
    SimNode* leader = pick_leader();
    const NodeId victim = leader != nullptr && rng_.chance(0.5)
                              ? leader->id
                              : ids[rng_.uniform(ids.size())];
    const std::uint64_t kind = rng_.uniform(4);
    for (NodeId a : ids) {
      for (NodeId b : ids) {
        if (a == b) continue;
        bool cut = false;
        switch (kind) {
          case 0:  // isolate one node
            cut = a == victim || b == victim;
            break;
          case 1:  // it cannot send
            cut = a == victim;
            break;
          case 2:  // it cannot receive
            cut = b == victim;
            break;
          default:  // split by id parity, the victim on the odd side
            cut = (a.value() % 2) != (b.value() % 2);
        }
        if (cut) blocked_.insert({a, b});
      }
    }
    partition_until_ = tick_ + rng_.between(10, 200);
    trace("partition kind %" PRIu64 " around node %" PRIu64 " until %" PRIu64,
          kind, victim.value(), partition_until_);
  }
}

void Simulator::heal() {
  trace("faults end; everything heals");
  blocked_.clear();
  partition_until_ = 0;
  for (auto& [id, n] : nodes_) {
    if (!up(n) && !n.retired) n.restart_at = tick_;
  }
}

void Simulator::client_actions() {
  if (rng_.chance(o_.write)) {
    SimNode* n = rng_.chance(0.8) ? pick_leader() : pick_up_node();
    if (n != nullptr) {
      const std::string data = "w" + std::to_string(++next_write_);
      if (n->raft->propose(data).ok()) n->writes[data] = tick_;
      after_call(*n);
    }
  }
  if (rng_.chance(o_.read)) {
    if (SimNode* n = pick_up_node()) {
      const std::uint64_t ctx = ++next_ctx_;
      if (n->raft->read_index(ctx).ok()) {
        n->reads[ctx] = ClientRead{max_acked_, false, LogIndex(0), tick_};
      }
      after_call(*n);
    }
  }
  if (!chaos()) return;
  if (rng_.chance(o_.conf_change)) {
    if (SimNode* l = pick_leader()) {
      const Membership& m = l->raft->membership();
      ConfChange cc;
      const std::uint64_t pick = rng_.uniform(4);
      if (pick == 0 && next_spare_ <= last_spare_) {
        cc = {ConfChangeType::add_learner, next_spare_};
      } else if (pick == 1 && !m.learners.empty()) {
        cc = {ConfChangeType::promote, *m.learners.begin()};
      } else if (pick == 2 &&
                 m.voters.size() > static_cast<std::size_t>(o_.voters)) {
        auto it = m.voters.begin();
        std::advance(
            it, static_cast<std::ptrdiff_t>(rng_.uniform(m.voters.size())));
        cc = {ConfChangeType::remove, *it};
      } else if (pick == 3 && !m.learners.empty()) {
        cc = {ConfChangeType::remove, *m.learners.rbegin()};
      } else {
        cc.node = kNoNode;
      }
      if (cc.node != kNoNode && l->raft->propose_conf_change(cc).ok()) {
        ++result_.conf_changes;
        trace("node %" PRIu64 " proposes conf change %d on node %" PRIu64,
              l->id.value(), static_cast<int>(cc.type), cc.node.value());
        if (cc.type == ConfChangeType::add_learner) {
          SimNode& fresh = nodes_[cc.node];
          fresh.id = cc.node;
          fresh.storage = std::make_unique<MemoryStorage>();
          next_spare_ = next_spare_ + 1;
          start(fresh);
        }
      }
      after_call(*l);
    }
  }
  if (rng_.chance(o_.transfer)) {
    if (SimNode* l = pick_leader()) {
      const auto& voters = l->raft->membership().voters;
      auto it = voters.begin();
      std::advance(it,
                   static_cast<std::ptrdiff_t>(rng_.uniform(voters.size())));
      if (*it != l->id && l->raft->transfer_leadership(*it).ok()) {
        ++result_.transfers;
        trace("node %" PRIu64 " transfers leadership to %" PRIu64,
              l->id.value(), it->value());
      }
      after_call(*l);
    }
  }
}

void Simulator::retire_removed() {
  for (NodeId id : to_retire_) {
    auto it = nodes_.find(id);
    if (it == nodes_.end() || it->second.retired) continue;
    it->second.retired = true;
    if (up(it->second)) crash(it->second, "is removed and shut down");
  }
  to_retire_.clear();
}

bool Simulator::liveness_done() {
  if (heal_write_ == LogIndex(0) || !heal_read_) return false;
  SimNode* l = pick_leader();
  if (l == nullptr) return false;
  const Membership& m = l->raft->membership();
  for (auto& [id, n] : nodes_) {
    if (!m.contains(id)) continue;
    if (!up(n) || n.sm.applied < heal_write_) return false;
  }
  return true;
}

SimResult Simulator::run() {
  for (int i = 1; i <= o_.voters; ++i) initial_.voters.insert(NodeId(i));
  next_spare_ = NodeId(static_cast<std::uint64_t>(o_.voters) + 1);
  last_spare_ = NodeId(static_cast<std::uint64_t>(o_.voters + o_.spare_nodes));
  for (NodeId id : initial_.voters) {
    SimNode& n = nodes_[id];
    n.id = id;
    n.storage = std::make_unique<MemoryStorage>();
    start(n);
  }
  const auto end = static_cast<std::uint64_t>(o_.chaos_ticks + o_.heal_ticks);
  bool live = false;
  for (tick_ = 0; tick_ < end && result_.ok; ++tick_) {
    now_ = tick_ * kUnitsPerTick;
    if (tick_ == static_cast<std::uint64_t>(o_.chaos_ticks)) heal();
    if (chaos()) inject_faults();
    for (auto& [id, n] : nodes_) {
      if (!up(n) && !n.retired && n.restart_at != 0 && tick_ >= n.restart_at) {
        start(n);
      }
    }
    client_actions();
    for (auto& [id, n] : nodes_) {
      if (!up(n)) continue;
      n.raft->tick();
      after_call(n);
    }
    const std::uint64_t horizon = now_ + kUnitsPerTick;
    while (result_.ok && !events_.empty() && events_.top().time < horizon) {
      Event ev = events_.top();
      events_.pop();
      now_ = ev.time;
      ++result_.events;
      auto it = nodes_.find(ev.node);
      if (it == nodes_.end() || !up(it->second)) continue;
      SimNode& n = it->second;
      if (ev.deliver) {
        if (!n.raft->step(ev.msg).ok()) fail("step refused a message");
        after_call(n);
      } else if (ev.incarnation == n.incarnation) {
        process_ready(n);
      }
      retire_removed();
    }
    if (!chaos() && liveness_done()) {
      live = true;
      break;
    }
  }
  result_.ticks = tick_;
  if (result_.ok && !live) {
    fail("liveness: " + std::to_string(o_.heal_ticks) +
         " ticks after the faults healed, " +
         (heal_write_ == LogIndex(0)
              ? std::string("no new write was acknowledged")
          : !heal_read_ ? std::string("no new read was served")
                        : std::string("members have not caught up")));
  }
  return result_;
}

}  // namespace

std::string SimResult::summary() const {
  std::ostringstream out;
  out << (ok ? "ok" : "FAILED: " + failure) << " (ticks " << ticks
      << ", events " << events << ", leaders " << leaders << ", commit "
      << commit_index << ", acked writes " << acked_writes << ", reads "
      << reads_served << ", crashes " << crashes << ", conf changes "
      << conf_changes << ", transfers " << transfers
      << ", snapshot chunks sent " << snapshot_chunks_sent
      << ", snapshots installed " << snapshots_installed << ")";
  return out.str();
}

SimOptions options_for_seed(std::uint64_t seed, int voters) {
  Rng r(mix(seed, 0x5eed));
  SimOptions o;
  o.seed = seed;
  o.voters = voters;
  o.max_entries_per_msg = r.chance(0.5) ? r.between(1, 2) : r.between(3, 64);
  o.max_inflight_msgs = r.between(1, 16);
  const double storm = r.chance(0.3) ? 3.0 : 1.0;
  o.drop = 0.02 * storm * static_cast<double>(r.between(0, 3));
  o.duplicate = 0.01 * storm * static_cast<double>(r.between(0, 3));
  o.long_delay = 0.02 * storm * static_cast<double>(r.between(0, 3));
  o.crash = 0.002 * storm * static_cast<double>(r.between(0, 4));
  o.partition = 0.005 * storm * static_cast<double>(r.between(0, 3));
  o.conf_change = r.chance(0.5) ? 0.02 : 0.0;
  o.transfer = r.chance(0.5) ? 0.01 : 0.0;
  o.snapshot_every = r.chance(0.5) ? static_cast<int>(r.between(5, 60)) : 0;
  o.snapshot_keep = static_cast<int>(r.between(0, 10));
  if (r.chance(0.3)) {
    // Leader churn with one-entry appends: the weather in which a broken
    // commit rule (Figure 8) shows.
    o.max_entries_per_msg = 1;
    o.max_inflight_msgs = r.between(1, 2);
    o.crash = 0.02 * static_cast<double>(r.between(1, 2));
    o.partition = 0.01 * static_cast<double>(r.between(0, 2));
    o.write = 0.8;
  }
  if (o.snapshot_every > 0 && r.chance(0.5)) {
    // Chunked InstallSnapshot: snapshots of a few hundred bytes in chunks
    // of a few dozen, under the same loss, reordering and duplication.
    o.max_snapshot_chunk_bytes = r.between(16, 64);
    o.snapshot_padding = static_cast<int>(r.between(100, 400));
  }
  return o;
}

std::string replay_command(std::uint64_t seed, int voters,
                           bool break_commit_rule) {
  // The path of the default build (make build); another build dir has the
  // same layout under its own name.
  return "build/tests/unit/agent/raft/raft_soak --seeds " +
         std::to_string(seed) + ".." + std::to_string(seed) + " --nodes " +
         std::to_string(voters) +
         (break_commit_rule ? " --break-commit-rule" : "") + " --trace";
}

SimResult run_simulation(const SimOptions& options) {
  Simulator sim(options);
  return sim.run();
}

}  // namespace nw::raft::sim
