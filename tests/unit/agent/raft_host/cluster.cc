#include "tests/unit/agent/raft_host/cluster.h"

#include <doctest/doctest.h>

#include <charconv>

#include "tests/support/wait.h"

namespace nw::raft_host::test {

using namespace std::chrono_literals;

std::string node_name(std::size_t i) { return "n" + std::to_string(i + 1); }

std::string encode_commands(const std::vector<std::string>& cmds) {
  std::string out;
  for (const std::string& c : cmds) {
    out += std::to_string(c.size());
    out += ':';
    out += c;
  }
  return out;
}

Result<std::vector<std::string>> decode_commands(const std::string& data) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t colon = data.find(':', pos);
    std::size_t len = 0;
    const char* first = data.data() + pos;
    const char* last = data.data() + (colon == std::string::npos ? pos : colon);
    auto [ptr, ec] = std::from_chars(first, last, len);
    if (colon == std::string::npos || ec != std::errc() || ptr != last ||
        colon + 1 + len > data.size()) {
      return Error(Code::corruption, "test snapshot: bad data", {}, "test");
    }
    out.push_back(data.substr(colon + 1, len));
    pos = colon + 1 + len;
  }
  return out;
}

raft::LogStorage& Member::storage() {
  if (options->wal) return *wal;
  return *memory;
}

std::vector<std::string> Member::applied_copy() const {
  std::lock_guard<std::mutex> lock(mu);
  return applied;
}

std::vector<raft::LogIndex> Member::apply_indexes_copy() const {
  std::lock_guard<std::mutex> lock(mu);
  return apply_indexes;
}

std::vector<raft::LogIndex> Member::restores_copy() const {
  std::lock_guard<std::mutex> lock(mu);
  return restores;
}

std::vector<std::pair<raft::ConfChange, raft::Membership>> Member::conf_copy()
    const {
  std::lock_guard<std::mutex> lock(mu);
  return conf_changes;
}

StateMachine Member::state_machine() {
  StateMachine sm;
  sm.apply = [this](const raft::Entry& e) {
    std::lock_guard<std::mutex> lock(mu);
    applied.push_back(e.data);
    apply_indexes.push_back(e.index);
  };
  sm.snapshot = [this] {
    std::lock_guard<std::mutex> lock(mu);
    return encode_commands(applied);
  };
  sm.restore = [this](const raft::Snapshot& snap) -> Status {
    std::lock_guard<std::mutex> lock(mu);
    if (!fail_restore.ok()) return fail_restore;
    Result<std::vector<std::string>> cmds = decode_commands(snap.data);
    if (!cmds.ok()) return cmds.error();
    applied = std::move(cmds).value();
    restores.push_back(snap.meta.index);
    return ok_status();
  };
  sm.on_conf_change = [this](const raft::ConfChange& cc,
                             const raft::Membership& m) {
    std::lock_guard<std::mutex> lock(mu);
    conf_changes.emplace_back(cc, m);
  };
  return sm;
}

Status Member::start(const PeerMap& peers) {
  ++incarnation;
  {
    std::lock_guard<std::mutex> lock(mu);
    // The core re-delivers the log after the snapshot after a restart, and
    // restore() replaces the state when there is one.
    applied.clear();
    apply_indexes.clear();
    restores.clear();
  }
  if (options->wal) {
    // Durability is not under test here (restarts follow clean stops).
    wal::WalOptions wopts;
    wopts.fsync = false;
    auto w = wal::WalStorage::open(wal_dir, wopts);
    REQUIRE_MESSAGE(w.ok(), w.error().to_string());
    wal = std::move(w).value();
  }

  transport::TransportOptions topts;
  topts.node_id = node_name(index);
  topts.listen = HostPort{"127.0.0.1", 0};
  topts.backoff_min = 20ms;
  topts.backoff_max = 200ms;
  transport = std::make_unique<transport::Transport>(
      topts, [this](const std::string& from, std::uint64_t group,
                    std::string_view payload) {
        RaftHost* h = target.load();
        if (h != nullptr && group == kGroup) h->deliver(from, payload);
      });
  REQUIRE(transport->start().ok());

  HostOptions hopts;
  hopts.group = kGroup;
  hopts.raft.id = id();
  for (std::size_t i = 0; i < options->voters; ++i) {
    hopts.raft.initial_membership.voters.insert(raft::NodeId(i + 1));
  }
  hopts.raft.election_tick = 10;
  hopts.raft.heartbeat_tick = 1;
  hopts.raft.seed = (index + 1) * 1000 + incarnation;
  hopts.raft.storage = &storage();
  hopts.tick_interval = 20ms;
  hopts.snapshot_threshold = options->snapshot_threshold;
  hopts.snapshot_keep_entries = options->snapshot_keep_entries;
  host = std::make_unique<RaftHost>(hopts, *transport, peers, state_machine(),
                                    registry.get());
  target.store(host.get());
  Status s = host->start();
  if (!s.ok()) stop();
  return s;
}

void Member::stop() {
  if (!host) return;
  host->stop();
  transport->stop();
  target.store(nullptr);
  host.reset();
  transport.reset();
  wal.reset();
}

Cluster::Cluster(ClusterOptions options) : options_(options) {
  for (std::size_t i = 0; i < options_.members; ++i) {
    auto m = std::make_unique<Member>();
    m->index = i;
    m->options = &options_;
    m->wal_dir = (tmp_ / node_name(i)).string();
    if (!options_.wal) m->memory = std::make_unique<raft::MemoryStorage>();
    if (options_.metrics) m->registry = std::make_unique<metrics::Registry>();
    members_.push_back(std::move(m));
  }
  if (options_.autostart) {
    for (std::size_t i = 0; i < options_.voters; ++i) start(i);
  }
}

Cluster::~Cluster() {
  for (auto& m : members_) m->stop();
}

PeerMap Cluster::all_peers() const {
  PeerMap peers;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    peers[raft::NodeId(i + 1)] = node_name(i);
  }
  return peers;
}

void Cluster::start(std::size_t i) {
  Status s = try_start(i);
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
}

Status Cluster::try_start(std::size_t i) {
  Status s = members_[i]->start(all_peers());
  if (s.ok()) announce();
  return s;
}

void Cluster::announce() {
  for (auto& a : members_) {
    if (!a->running()) continue;
    for (auto& b : members_) {
      if (a == b || !b->running()) continue;
      a->transport->set_peer(node_name(b->index),
                             HostPort{"127.0.0.1", b->transport->port()});
    }
  }
}

std::optional<std::size_t> Cluster::leader() const {
  std::optional<std::size_t> best;
  raft::Term best_term;
  for (const auto& m : members_) {
    if (!m->running()) continue;
    HostStatus s = m->host->status();
    if (s.role == raft::Role::leader && (!best || s.term > best_term)) {
      best = m->index;
      best_term = s.term;
    }
  }
  return best;
}

std::size_t Cluster::wait_leader() {
  std::size_t lead = 0;
  const bool ok = testsupport::wait_until(
      [&] {
        std::optional<std::size_t> l = leader();
        if (!l) return false;
        const raft::NodeId id = members_[*l]->host->status().id;
        for (const auto& m : members_) {
          if (m->running() && m->host->status().leader != id) return false;
        }
        lead = *l;
        return true;
      },
      kDeadline, "a leader followed by every running member");
  REQUIRE(ok);
  return lead;
}

std::vector<std::string> Cluster::propose_all(std::size_t on,
                                              const std::string& prefix,
                                              int count) {
  std::vector<std::string> cmds;
  std::vector<std::future<Result<raft::LogIndex>>> futures;
  for (int k = 0; k < count; ++k) {
    cmds.push_back(prefix + "-" + std::to_string(k));
    futures.push_back(members_[on]->host->propose(cmds.back()));
  }
  raft::LogIndex prev;
  for (auto& f : futures) {
    REQUIRE(ready_within(f, kDeadline));
    Result<raft::LogIndex> r = f.get();
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    CHECK(*r > prev);
    prev = *r;
  }
  return cmds;
}

void Cluster::wait_applied(const std::vector<std::string>& want) {
  const bool ok = testsupport::wait_until(
      [&] {
        for (const auto& m : members_) {
          if (m->running() && m->applied_copy() != want) return false;
        }
        return true;
      },
      kDeadline, "every running member applied the same sequence");
  if (!ok) {
    for (const auto& m : members_) {
      if (m->running()) {
        MESSAGE(node_name(m->index) << " applied " << m->applied_copy().size()
                                    << " of " << want.size());
      }
    }
  }
  REQUIRE(ok);
}

}  // namespace nw::raft_host::test
