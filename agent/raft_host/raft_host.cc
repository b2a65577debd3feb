#include "agent/raft_host/raft_host.h"

#include <utility>

#include "agent/raft/message_codec.h"
#include "agent/raft_host/host_internal.h"

namespace nw::raft_host {

using internal::logger;
using internal::unavailable;

RaftHost::RaftHost(HostOptions options, transport::Transport& transport,
                   PeerMap peers, StateMachine sm, metrics::Registry* registry)
    : options_(std::move(options)),
      transport_(transport),
      sm_(std::move(sm)),
      peers_(std::make_shared<const PeerMap>(std::move(peers))) {
  status_.id = options_.raft.id;
  init_metrics(registry);
}

RaftHost::~RaftHost() { stop(); }

Status RaftHost::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return Error(Code::failed_precondition, "raft host: start after stop",
                   "create a new host over the same storage", "raft_host");
    }
    if (started_) return ok_status();
  }
  // start() and stop() are owner-only, so nothing changes started_ or
  // stopping_ meanwhile; restore() runs without mu_ held (it may well call
  // status()).
  if (options_.raft.storage == nullptr) {
    return Error(Code::invalid_argument, "raft host: config has no storage", {},
                 "raft_host");
  }
  if (options_.tick_interval <= Duration::zero()) {
    return Error(Code::invalid_argument,
                 "raft host: tick_interval must be positive", {}, "raft_host");
  }
  NW_RETURN_IF_ERROR(raft::validate(options_.raft));
  // The core assumes the state machine was restored from the storage's
  // snapshot and re-delivers the committed entries after it.
  NW_RETURN_IF_ERROR(restore_at_start());
  node_ = std::make_unique<raft::RaftNode>(options_.raft);
  // status() is right as soon as start() returns (applied = the snapshot).
  publish_status(false);
  std::lock_guard<std::mutex> lock(mu_);
  started_ = true;
  status_.running = true;
  thread_ = std::thread([this] { run(); });
  return ok_status();
}

void RaftHost::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The host thread is gone: its state is ours now.
  const Error e = unavailable("raft host stopped");
  fail_all_pending(e);
  std::vector<Proposal> proposals;
  std::vector<Transfer> transfers;
  std::vector<std::promise<Status>> reads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    proposals.swap(proposals_);
    transfers.swap(transfers_);
    reads.swap(read_requests_);
    inbox_.clear();
    status_.running = false;
  }
  for (Proposal& p : proposals) p.promise.set_value(e);
  for (Transfer& t : transfers) t.promise.set_value(e);
  for (std::promise<Status>& r : reads) r.set_value(e);
}

void RaftHost::set_peers(PeerMap peers) {
  auto p = std::make_shared<const PeerMap>(std::move(peers));
  std::lock_guard<std::mutex> lock(mu_);
  peers_ = std::move(p);
}

void RaftHost::deliver(const std::string& from_node, std::string_view payload) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_ || !status_.running) return;
    if (inbox_.size() >= options_.max_inbox) {
      ++status_.dropped_inbox_full;
      logger().debug("inbox full; message dropped", {{"from", from_node}});
      return;
    }
    inbox_.emplace_back(payload);
  }
  cv_.notify_one();
}

std::future<Result<raft::LogIndex>> RaftHost::propose(std::string data) {
  return queue_proposal(std::move(data), false);
}

std::future<Result<raft::LogIndex>> RaftHost::propose_persisted(
    std::string data) {
  return queue_proposal(std::move(data), true);
}

std::future<Result<raft::LogIndex>> RaftHost::queue_proposal(std::string data,
                                                             bool on_persist) {
  std::promise<Result<raft::LogIndex>> promise;
  auto future = promise.get_future();
  if (data.empty()) {
    promise.set_value(Error(Code::invalid_argument,
                            "propose: empty data is reserved for the "
                            "leader's no-op",
                            "propose a non-empty command", "raft_host"));
    return future;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ && !stopping_ && status_.running) {
      proposals_.push_back(Proposal{std::move(data), std::nullopt, Clock::now(),
                                    std::move(promise), on_persist});
      cv_.notify_one();
      return future;
    }
  }
  promise.set_value(unavailable("propose: raft host is not running"));
  return future;
}

std::future<Result<raft::LogIndex>> RaftHost::propose_conf_change(
    raft::ConfChange cc) {
  std::promise<Result<raft::LogIndex>> promise;
  auto future = promise.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ && !stopping_ && status_.running) {
      proposals_.push_back(Proposal{{}, cc, Clock::now(), std::move(promise)});
      cv_.notify_one();
      return future;
    }
  }
  promise.set_value(unavailable("conf change: raft host is not running"));
  return future;
}

std::future<Status> RaftHost::transfer_leadership(raft::NodeId target) {
  std::promise<Status> promise;
  auto future = promise.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ && !stopping_ && status_.running) {
      transfers_.push_back(Transfer{target, std::move(promise)});
      cv_.notify_one();
      return future;
    }
  }
  promise.set_value(
      unavailable("transfer leadership: raft host is not running"));
  return future;
}

std::future<Status> RaftHost::read_barrier() {
  std::promise<Status> promise;
  auto future = promise.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ && !stopping_ && status_.running) {
      read_requests_.push_back(std::move(promise));
      cv_.notify_one();
      return future;
    }
  }
  promise.set_value(unavailable("read barrier: raft host is not running"));
  return future;
}

Leadership RaftHost::leadership() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Leadership{status_.running, status_.role, status_.term,
                    status_.applied_term, status_.leader};
}

HostStatus RaftHost::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

void RaftHost::run() {
  auto next_tick = Clock::now() + options_.tick_interval;
  std::vector<std::string> inbox;
  std::vector<Proposal> proposals;
  std::vector<Transfer> transfers;
  std::vector<std::promise<Status>> reads;
  Status failed;
  publish_status(true);
  while (failed.ok()) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, next_tick, [&] {
        return stopping_ || !inbox_.empty() || !proposals_.empty() ||
               !transfers_.empty() || !read_requests_.empty();
      });
      if (stopping_) break;
      inbox.swap(inbox_);
      proposals.swap(proposals_);
      transfers.swap(transfers_);
      reads.swap(read_requests_);
    }
    handle_inbox(inbox);
    const auto now = Clock::now();
    bool ticked = false;
    if (now >= next_tick) {
      node_->tick();
      ++ticks_;
      ticked = true;
      expire_reads();
      next_tick += options_.tick_interval;
      // After a long stall, tick once rather than catching up in a burst
      // (a burst could start an election that nothing justifies).
      if (next_tick < now) next_tick = now + options_.tick_interval;
    }
    handle_proposals(proposals);
    handle_transfers(transfers);
    handle_reads(reads);
    failed = drain_ready();
    if (failed.ok()) maybe_snapshot();
    if (failed.ok() && ticked && sm_.on_tick) sm_.on_tick();
    check_transfers();
    publish_status(ticked);
    flush_completions();
  }
  if (!failed.ok()) {
    logger().error("persist or restore failed; raft group stopped",
                   {{"group", options_.group},
                    {"node", node_->id().value()},
                    {"error", failed.error().to_string()}});
    const Error e = failed.error().wrap("raft group stopped");
    fail_all_pending(e);
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_.running = false;
      status_.failure = failed.error();
      proposals.swap(proposals_);
      transfers.swap(transfers_);
      reads.swap(read_requests_);
    }
    for (Proposal& p : proposals) p.promise.set_value(e);
    for (Transfer& t : transfers) t.promise.set_value(e);
    for (std::promise<Status>& r : reads) r.set_value(e);
  }
}

void RaftHost::handle_inbox(std::vector<std::string>& inbox) {
  for (const std::string& payload : inbox) {
    Result<raft::Message> m = raft::decode_message(payload);
    if (!m.ok()) {
      logger().warn(
          "undecodable raft message dropped",
          {{"group", options_.group}, {"error", m.error().to_string()}});
      std::lock_guard<std::mutex> lock(mu_);
      ++status_.dropped_bad_message;
      continue;
    }
    Status s = node_->step(*m);
    if (!s.ok()) {
      logger().debug(
          "raft message refused",
          {{"group", options_.group}, {"error", s.error().to_string()}});
      std::lock_guard<std::mutex> lock(mu_);
      ++status_.dropped_bad_message;
    }
  }
  inbox.clear();
}

void RaftHost::handle_proposals(std::vector<Proposal>& proposals) {
  for (Proposal& p : proposals) {
    Status s = p.cc ? node_->propose_conf_change(*p.cc)
                    : node_->propose(std::move(p.data));
    if (!s.ok()) {
      count_dropped(1);
      complete(p.promise, s.error());
      continue;
    }
    // The entry is the node's last one now, in its current term.
    const raft::LogIndex index = node_->last_index();
    PendingProposal pending{node_->term(), std::nullopt, std::move(p.promise),
                            p.on_persist};
    if (!p.cc) pending.queued = p.queued;
    auto [it, inserted] = pending_proposals_.try_emplace(index);
    // A leftover at the same index belongs to an older term: that entry
    // was overwritten before it reached us.
    if (!inserted) {
      count_dropped(1);
      complete(it->second.promise,
               unavailable("proposal lost in a leader change, retry"));
    }
    it->second = std::move(pending);
  }
  proposals.clear();
}

void RaftHost::handle_transfers(std::vector<Transfer>& transfers) {
  for (Transfer& t : transfers) {
    Status s = node_->transfer_leadership(t.target);
    if (!s.ok()) {
      complete(t.promise, s.error());
      continue;
    }
    // One election timeout for the core to finish, one for the new
    // leader's election to reach us, and a little slack.
    const auto wait =
        static_cast<std::uint64_t>(2 * options_.raft.election_tick + 3);
    pending_transfers_.push_back(
        PendingTransfer{t.target, ticks_ + wait, std::move(t.promise)});
  }
  transfers.clear();
}

void RaftHost::check_transfers() {
  for (auto it = pending_transfers_.begin(); it != pending_transfers_.end();) {
    if (node_->leader() == it->target) {
      complete(it->promise, ok_status());
      it = pending_transfers_.erase(it);
    } else if (it->deadline_tick <= ticks_) {
      complete(
          it->promise,
          Error(Code::timeout,
                "transfer leadership: node " +
                    std::to_string(it->target.value()) +
                    " did not take over in time",
                "check that it is up and caught up, then retry", "raft_host"));
      it = pending_transfers_.erase(it);
    } else {
      ++it;
    }
  }
}

void RaftHost::handle_reads(std::vector<std::promise<Status>>& reads) {
  for (std::promise<Status>& r : reads) {
    const std::uint64_t ctx = next_read_ctx_++;
    Status s = node_->read_index(ctx);
    if (!s.ok()) {
      complete(r, s.error());
      continue;
    }
    reads_in_flight_.emplace(
        ctx, PendingRead{ticks_ + static_cast<std::uint64_t>(
                                      options_.read_timeout_ticks),
                         std::move(r)});
  }
  reads.clear();
}

Status RaftHost::drain_ready() {
  raft::LogStorage& storage = *options_.raft.storage;
  while (node_->has_ready()) {
    raft::Ready rd = node_->ready();
    // 1-3: durable before anything of this Ready leaves the node.
    if (rd.snapshot)
      NW_RETURN_IF_ERROR(install_snapshot(std::move(*rd.snapshot)));
    if (!rd.entries.empty()) {
      NW_RETURN_IF_ERROR(storage.append(rd.entries));
      resolve_persisted(rd.entries);
    }
    if (rd.hard_state)
      NW_RETURN_IF_ERROR(storage.set_hard_state(*rd.hard_state));
    send_messages(rd.messages);
    apply_committed(rd.committed_entries);
    serve_reads(rd.read_states);
    node_->advance();
  }
  return ok_status();
}

void RaftHost::resolve_persisted(const std::vector<raft::Entry>& entries) {
  auto it = pending_proposals_.lower_bound(entries.front().index);
  while (it != pending_proposals_.end() && it->first <= entries.back().index) {
    if (!it->second.on_persist) {
      ++it;
      continue;
    }
    const raft::Entry& e =
        entries[(it->first - entries.front().index.value()).value()];
    if (e.term == it->second.term) {
      complete(it->second.promise, e.index);
    } else {
      count_dropped(1);
      complete(it->second.promise,
               unavailable("proposal lost in a leader change, retry"));
    }
    it = pending_proposals_.erase(it);
  }
}

void RaftHost::send_messages(std::vector<raft::Message>& messages) {
  if (messages.empty()) return;
  std::shared_ptr<const PeerMap> peers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    peers = peers_;
  }
  std::uint64_t unknown = 0;
  for (const raft::Message& m : messages) {
    auto it = peers->find(m.to);
    if (it == peers->end()) {
      ++unknown;
      continue;
    }
    // A false return (queue full, not connected yet) is a lost message;
    // the transport counts it and Raft retries.
    (void)transport_.send(it->second, options_.group, raft::encode_message(m));
  }
  if (unknown > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    status_.dropped_unknown_peer += unknown;
  }
}

void RaftHost::serve_reads(const std::vector<raft::ReadState>& read_states) {
  for (const raft::ReadState& rs : read_states) {
    auto it = reads_in_flight_.find(rs.context);
    if (it == reads_in_flight_.end()) continue;  // expired, or a duplicate
    if (rs.index <= applied_) {
      complete(it->second.promise, ok_status());
    } else {
      reads_waiting_apply_.emplace(rs.index, std::move(it->second.promise));
    }
    reads_in_flight_.erase(it);
  }
}

void RaftHost::expire_reads() {
  for (auto it = reads_in_flight_.begin(); it != reads_in_flight_.end();) {
    if (it->second.deadline_tick <= ticks_) {
      complete(it->second.promise,
               Error(Code::timeout, "read barrier: no answer from the leader",
                     "retry; the read was probably dropped in a leader change",
                     "raft_host"));
      it = reads_in_flight_.erase(it);
    } else {
      ++it;
    }
  }
}

void RaftHost::count_dropped(std::uint64_t n) {
  if (metrics_.proposals_dropped != nullptr) {
    metrics_.proposals_dropped->inc(static_cast<double>(n));
  }
  std::lock_guard<std::mutex> lock(mu_);
  status_.proposals_dropped += n;
}

void RaftHost::publish_status(bool tick) {
  const raft::NodeId leader = node_->leader();
  bool leader_changed = false;
  if (leader != raft::kNoNode && leader != last_leader_) {
    last_leader_ = leader;
    leader_changed = true;
  }
  const bool is_leader = node_->role() == raft::Role::leader;
  // The progress map is copied once a tick (and dropped at once when this
  // node stops leading); the rest is cheap enough for every round.
  std::optional<raft::NodeStatus> ns;
  if (tick && is_leader) ns = node_->status();
  const raft::LogStorage& storage = *options_.raft.storage;
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.id = node_->id();
    status_.role = node_->role();
    status_.term = node_->term();
    status_.leader = leader;
    status_.commit = node_->commit_index();
    status_.applied = applied_;
    status_.applied_term = applied_term_;
    status_.last_index = node_->last_index();
    status_.membership = node_->membership();
    status_.applied_membership = applied_membership_;
    if (ns) {
      status_.progress = ns->progress;
      const MonoTime now = mono_now();
      std::erase_if(status_.last_heard, [&](const auto& kv) {
        return ns->progress.count(kv.first) == 0;
      });
      for (const auto& [id, pr] : ns->progress) {
        auto [it, first_seen] = status_.last_heard.try_emplace(id, now);
        if (pr.recent_active) it->second = now;
      }
    } else if (!is_leader) {
      status_.progress.clear();
      status_.last_heard.clear();
    }
    status_.snapshot = storage.snapshot_meta();
    status_.first_index = storage.first_index();
    if (leader_changed) ++status_.leader_changes;
  }
  if (leader_changed && metrics_.leader_changes != nullptr) {
    metrics_.leader_changes->inc();
  }
  update_metrics();
  if (ns) update_peer_lag(*ns);
}

void RaftHost::complete(std::promise<Result<raft::LogIndex>>& p,
                        Result<raft::LogIndex> r) {
  done_proposals_.emplace_back(std::move(p), std::move(r));
}

void RaftHost::complete(std::promise<Status>& p, Status s) {
  done_statuses_.emplace_back(std::move(p), std::move(s));
}

void RaftHost::flush_completions() {
  for (auto& [p, r] : done_proposals_) p.set_value(std::move(r));
  done_proposals_.clear();
  for (auto& [p, s] : done_statuses_) p.set_value(std::move(s));
  done_statuses_.clear();
}

void RaftHost::fail_all_pending(const Error& e) {
  flush_completions();  // answered already: those answers stand
  for (auto& [index, p] : pending_proposals_) p.promise.set_value(e);
  pending_proposals_.clear();
  for (PendingTransfer& t : pending_transfers_) t.promise.set_value(e);
  pending_transfers_.clear();
  for (auto& [ctx, r] : reads_in_flight_) r.promise.set_value(e);
  reads_in_flight_.clear();
  for (auto& [index, r] : reads_waiting_apply_) r.set_value(e);
  reads_waiting_apply_.clear();
}

}  // namespace nw::raft_host
