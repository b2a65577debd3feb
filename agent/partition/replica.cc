#include "agent/partition/replica.h"

#include <chrono>
#include <random>

#include "common/base/log.h"
#include "common/base/time.h"
#include "common/records/record_batch.h"

namespace nw::partition {
namespace {

const log::Logger kLog("partition");

// A member is in sync while its log is at most this many entries behind
// the leader's (an entry is one produce batch) and it answered within an
// election timeout (class comment).
constexpr std::uint64_t kInSyncLagEntries = 64;
constexpr auto kRetentionEvery = std::chrono::seconds(1);

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             wall_now().time_since_epoch())
      .count();
}

Error invalid(std::string message) {
  return Error(Code::invalid_argument, std::move(message),
               "send exactly one record batch "
               "(docs/formats/segment.md) as the body",
               "partition");
}

}  // namespace

std::uint64_t group_id(std::uint64_t topic_id, int partition) {
  return (topic_id << 12) | static_cast<std::uint64_t>(partition);
}

Replica::Replica(ReplicaOptions options,
                 std::unique_ptr<storage::SegmentLog> log)
    : options_(std::move(options)),
      log_(std::move(log)),
      retention_ms_(options_.retention_ms),
      retention_bytes_(options_.retention_bytes) {}

Replica::~Replica() { stop(); }

Result<std::unique_ptr<Replica>> Replica::open(ReplicaOptions options,
                                               transport::Transport& transport,
                                               raft_host::PeerMap peers,
                                               metrics::Registry* registry) {
  storage::SegmentLogOptions lo;
  lo.dir = options.dir;
  lo.segment_bytes = options.segment_bytes;
  lo.segment_ms = options.segment_ms;
  lo.fsync = options.fsync;
  NW_ASSIGN_OR_RETURN(std::unique_ptr<storage::SegmentLog> log,
                      storage::SegmentLog::open(std::move(lo)));
  std::unique_ptr<Replica> r(new Replica(std::move(options), std::move(log)));
  const ReplicaOptions& o = r->options_;

  raft_host::HostOptions ho;
  ho.group = o.group;
  ho.tick_interval = o.tick_interval;
  ho.raft.id = o.self;
  ho.raft.initial_membership = o.initial;
  ho.raft.election_tick = o.election_ticks;
  ho.raft.heartbeat_tick = o.heartbeat_ticks;
  ho.raft.max_bytes_per_msg = 4u << 20;
  ho.raft.max_entries_per_msg = 256;
  ho.raft.seed = std::random_device{}();
  ho.raft.storage = r->log_.get();
  ho.snapshot_threshold = o.snapshot_threshold;
  ho.compact_on_snapshot = false;

  Replica* self = r.get();
  raft_host::StateMachine sm;
  sm.apply = [self](const raft::Entry& e) { self->apply(e); };
  sm.snapshot = [self] { return self->snapshot_data(); };
  sm.restore = [self](const raft::Snapshot& s) { return self->restore(s); };
  sm.on_conf_change = [self](const raft::ConfChange&,
                             const raft::Membership& m) {
    std::lock_guard lock(self->mu_);
    self->applied_membership_ = m;
  };
  sm.on_tick = [self] { self->on_tick(); };
  {
    std::lock_guard lock(r->mu_);
    r->applied_membership_ = o.initial;
  }
  r->host_ = std::make_unique<raft_host::RaftHost>(
      std::move(ho), transport, std::move(peers), std::move(sm), registry);
  return r;
}

Status Replica::start() { return host_->start(); }

void Replica::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  if (host_) host_->stop();
}

Status Replica::destroy_data() { return log_->destroy(); }

void Replica::deliver(const std::string& from, std::string_view payload) {
  host_->deliver(from, payload);
}

void Replica::set_peers(raft_host::PeerMap peers) {
  host_->set_peers(std::move(peers));
}

void Replica::set_retention(std::int64_t retention_ms,
                            std::int64_t retention_bytes) {
  std::lock_guard lock(mu_);
  retention_ms_ = retention_ms;
  retention_bytes_ = retention_bytes;
}

void Replica::set_segment_limits(std::uint64_t segment_bytes,
                                 std::int64_t segment_ms) {
  log_->set_roll_limits(segment_bytes, segment_ms);
}

void Replica::apply(const raft::Entry& e) {
  // Checked when it was appended; only the producer fields are needed.
  Result<records::BatchInfo> info = records::read_batch_header(e.data);
  Result<std::pair<std::uint64_t, std::uint32_t>> offs =
      log_->batch_offsets(e.index);
  std::lock_guard lock(mu_);
  applied_ = e.index;
  if (offs.ok()) {
    hw_ = offs->first + offs->second;
    if (info.ok() && info->producer_id >= 0) {
      producers_.apply(info->producer_id, info->base_sequence, offs->second,
                       offs->first);
    }
  } else {
    // Only reachable when the log disagrees with the entries the core
    // hands out: keep going, but say so.
    kLog.error("applied entry has no offsets in the log",
               {{"topic", options_.topic},
                {"partition", options_.partition},
                {"index", e.index.value()},
                {"error", offs.error().to_string()}});
  }
  cv_.notify_all();
}

std::string Replica::snapshot_data() {
  std::lock_guard lock(mu_);
  return storage::encode_snapshot_data(hw_, producers_.encode());
}

Status Replica::restore(const raft::Snapshot& snap) {
  NW_ASSIGN_OR_RETURN(auto decoded, storage::decode_snapshot_data(snap.data));
  NW_ASSIGN_OR_RETURN(ProducerTable table,
                      ProducerTable::decode(decoded.second));
  std::lock_guard lock(mu_);
  hw_ = decoded.first;
  producers_ = std::move(table);
  applied_ = snap.meta.index;
  applied_membership_ = snap.meta.membership;
  cv_.notify_all();
  return ok_status();
}

void Replica::on_tick() {
  const std::int64_t now = now_ms();
  if (now < next_retention_check_ms_) return;
  next_retention_check_ms_ =
      now +
      std::chrono::duration_cast<std::chrono::milliseconds>(kRetentionEvery)
          .count();
  apply_retention();
}

void Replica::apply_retention() {
  std::int64_t ms = 0, bytes = 0;
  raft::LogIndex applied;
  {
    std::lock_guard lock(mu_);
    ms = retention_ms_;
    bytes = retention_bytes_;
    applied = applied_;
  }
  if (ms < 0 && bytes < 0) return;
  const raft::LogIndex b = log_->retention_point(ms, bytes, applied);
  if (b == raft::LogIndex(0)) return;
  if (log_->snapshot_meta().index < b) {
    Result<raft::Term> term = log_->term(b);
    Result<std::uint64_t> next = log_->offset_after(b);
    if (!term.ok() || !next.ok()) return;
    std::string data;
    raft::Membership membership;
    {
      std::lock_guard lock(mu_);
      data = storage::encode_snapshot_data(*next, producers_.encode());
      membership = applied_membership_;
    }
    Status s = log_->create_snapshot(raft::SnapshotMeta{b, *term, membership},
                                     std::move(data));
    if (!s.ok()) {
      kLog.warn("retention: snapshot failed",
                {{"topic", options_.topic},
                 {"partition", options_.partition},
                 {"error", s.error().to_string()}});
      return;
    }
  }
  const std::uint64_t before = log_->start_offset();
  Status s = log_->compact(b);
  if (!s.ok()) {
    kLog.warn("retention: compaction failed",
              {{"topic", options_.topic},
               {"partition", options_.partition},
               {"error", s.error().to_string()}});
    return;
  }
  kLog.info("retention deleted old segments",
            {{"topic", options_.topic},
             {"partition", options_.partition},
             {"up_to_index", b.value()},
             {"start_offset_before", before},
             {"start_offset", log_->start_offset()}});
}

bool Replica::ready_to_lead() const {
  return host_->leadership().leads_current();
}

Error Replica::not_leader() const {
  const raft_host::Leadership l = host_->leadership();
  std::string msg = "partition " + options_.topic + "/" +
                    std::to_string(options_.partition) + ": ";
  if (l.is_leader()) {
    msg += "the leader is still applying its predecessors' entries";
  } else if (l.leader == raft::kNoNode) {
    msg += "no leader yet";
  } else {
    msg += "this replica is not the leader";
  }
  return Error(Code::unavailable, msg, "retry in a moment", "partition");
}

Result<ProduceAck> Replica::wait_ack(std::future<Result<raft::LogIndex>> f,
                                     Duration timeout) {
  if (f.wait_for(timeout) != std::future_status::ready) {
    return Error(Code::timeout,
                 "partition " + options_.topic + "/" +
                     std::to_string(options_.partition) +
                     ": the batch was not committed in time; it may still be",
                 "retry with the same producer id and sequence to be sure of "
                 "no duplicate",
                 "partition");
  }
  NW_ASSIGN_OR_RETURN(raft::LogIndex index, f.get());
  NW_ASSIGN_OR_RETURN(auto offs, log_->batch_offsets(index));
  return ProduceAck{offs.first, offs.second, false};
}

Result<ProduceAck> Replica::produce(std::string batch, Acks acks,
                                    Duration timeout) {
  Result<records::BatchInfo> info = records::read_batch_info(batch);
  if (!info.ok()) return invalid(info.error().message);
  if (info->size != batch.size()) {
    return invalid("the body holds more than one record batch");
  }
  if (info->control()) return invalid("a control batch cannot be produced");
  if (info->record_count == 0) return invalid("the batch has no records");
  const raft_host::Leadership lead = host_->leadership();
  if (!lead.leads_current()) return not_leader();

  const std::int64_t pid = info->producer_id;
  if (acks == Acks::none && pid < 0) {
    (void)host_->propose(std::move(batch));
    return ProduceAck{0, info->record_count, false};
  }
  // acks=none with a producer id waits as acks=leader (see the class
  // comment): the sequence check below must see this batch.
  auto propose = [&] {
    return acks == Acks::all ? host_->propose(std::move(batch))
                             : host_->propose_persisted(std::move(batch));
  };
  if (pid < 0) return wait_ack(propose(), timeout);

  const std::int32_t seq = info->base_sequence;
  const std::uint64_t term = lead.term.value();
  std::promise<Result<ProduceAck>> promise;
  {
    std::unique_lock lock(mu_);
    std::deque<InFlight>& pending = in_flight_[pid];
    // Proposals of earlier terms are decided by now (applied or lost).
    std::erase_if(pending, [&](const InFlight& f) { return f.term != term; });
    for (const InFlight& f : pending) {
      if (f.first_seq != seq) continue;
      std::shared_future<Result<ProduceAck>> first = f.result;
      lock.unlock();
      if (first.wait_for(timeout) != std::future_status::ready) {
        return Error(Code::timeout,
                     "the first attempt of this batch is "
                     "still in flight",
                     "retry with the same producer id and sequence",
                     "partition");
      }
      Result<ProduceAck> r = first.get();
      if (r.ok()) r->duplicate = true;
      return r;
    }
    const std::int64_t pending_last =
        pending.empty() ? -1 : pending.back().last_seq;
    const ProducerTable::Check c =
        producers_.check(pid, seq, info->record_count, pending_last);
    if (c.verdict == ProducerTable::Verdict::duplicate) {
      return ProduceAck{c.previous.base_offset, c.previous.count, true};
    }
    if (c.verdict == ProducerTable::Verdict::out_of_order) {
      return Error(Code::failed_precondition,
                   "producer " + std::to_string(pid) + ": sequence " +
                       std::to_string(seq) + " is out of order; expected " +
                       std::to_string(c.expected),
                   "resend the missing batches first, or start a new "
                   "producer id",
                   "partition");
    }
    pending.push_back(
        InFlight{seq,
                 static_cast<std::int32_t>(
                     seq + static_cast<std::int64_t>(info->record_count) - 1),
                 term, promise.get_future().share()});
  }
  Result<ProduceAck> r = wait_ack(propose(), timeout);
  promise.set_value(r);
  {
    std::lock_guard lock(mu_);
    auto it = in_flight_.find(pid);
    if (it != in_flight_.end()) {
      std::erase_if(it->second, [&](const InFlight& f) {
        return f.first_seq == seq && f.term == term;
      });
      if (it->second.empty()) in_flight_.erase(it);
    }
  }
  return r;
}

Result<FetchResult> Replica::fetch(std::uint64_t offset,
                                   std::uint64_t max_bytes, Duration wait,
                                   std::uint64_t max_records) {
  if (!ready_to_lead()) return not_leader();
  FetchResult out;
  raft::LogIndex applied;
  {
    std::unique_lock lock(mu_);
    const std::uint64_t start = log_->start_offset();
    if (offset < start || offset > hw_) {
      return Error(Code::failed_precondition,
                   "offset " + std::to_string(offset) + " is out of range [" +
                       std::to_string(start) + ", " + std::to_string(hw_) + "]",
                   "fetch from the start offset (--from earliest) or the "
                   "high watermark (--from latest)",
                   "partition");
    }
    if (offset == hw_ && wait.count() > 0) {
      cv_.wait_for(lock, wait, [&] { return stopped_ || hw_ > offset; });
    }
    out.high_watermark = hw_;
    applied = applied_;
  }
  out.start_offset = log_->start_offset();
  out.next_offset = offset;
  if (offset >= out.high_watermark) return out;
  NW_ASSIGN_OR_RETURN(out.data, log_->read(offset, applied, max_bytes));
  // The log checked these batches when it wrote them; walk the headers.
  // max_records cuts after the batch that reaches it (never mid-batch).
  std::string_view rest(out.data);
  std::uint64_t records = 0;
  while (!rest.empty()) {
    Result<records::BatchInfo> h = records::read_batch_header(rest);
    if (!h.ok()) break;
    out.next_offset = h->next_offset();
    rest.remove_prefix(h->size);
    records += h->next_offset() - std::max(offset, h->base_offset);
    if (max_records > 0 && records >= max_records) break;
  }
  out.data.resize(out.data.size() - rest.size());
  return out;
}

Result<std::uint64_t> Replica::offset_for_time(std::int64_t ts_ms) {
  if (!ready_to_lead()) return not_leader();
  raft::LogIndex applied;
  {
    std::lock_guard lock(mu_);
    applied = applied_;
  }
  return log_->offset_for_time(ts_ms, applied);
}

std::uint64_t Replica::high_watermark() const {
  std::lock_guard lock(mu_);
  return hw_;
}

std::uint64_t Replica::start_offset() const { return log_->start_offset(); }

ReplicaStatus Replica::status() const {
  const raft_host::HostStatus st = host_->status();
  ReplicaStatus out;
  out.online = st.running;
  if (st.failure) out.error = st.failure->message;
  out.leader = st.role == raft::Role::leader;
  out.leader_id = st.leader;
  out.term = st.term.value();
  out.high_watermark = high_watermark();
  out.start_offset = log_->start_offset();
  out.size_bytes = log_->size_bytes();
  out.last_index = st.last_index.value();
  out.membership = st.membership;
  if (out.leader) {
    const Duration window = options_.tick_interval * options_.election_ticks;
    const MonoTime now = mono_now();
    for (const auto& [id, p] : st.progress) {
      out.match[id] = p.match.value();
      auto heard = st.last_heard.find(id);
      const bool alive =
          heard != st.last_heard.end() && now - heard->second <= window;
      if (alive &&
          p.match.value() + kInSyncLagEntries >= st.last_index.value()) {
        out.in_sync.push_back(id);
      }
    }
    if (st.progress.find(st.id) == st.progress.end()) {
      out.in_sync.push_back(st.id);
    }
  }
  return out;
}

}  // namespace nw::partition
