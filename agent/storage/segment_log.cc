// SegmentLog's read side: the LogStorage queries, the data-side reads
// (offsets, fetch, time lookup), segment listing and retention. The
// mutating calls are in segment_write.cc, open() in segment_recovery.cc.
#include <algorithm>
#include <chrono>
#include <utility>

#include "agent/state/file_util.h"
#include "agent/storage/segment_log_internal.h"
#include "common/records/record_batch.h"

namespace nw::storage {
namespace {

using detail::EntryMeta;
using detail::Segment;
using raft::Entry;
using raft::EntryType;
using raft::LogIndex;
using raft::Term;

Error not_found(std::string msg) {
  return Error(Code::not_found, std::move(msg), {}, detail::kDomain);
}

std::string str(std::uint64_t v) { return std::to_string(v); }

}  // namespace

SegmentLog::Impl::Impl(SegmentLogOptions o)
    : opts(std::move(o)),
      segment_bytes(opts.segment_bytes),
      segment_ms(opts.segment_ms) {}

SegmentLog::SegmentLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SegmentLog::~SegmentLog() = default;

Result<std::unique_ptr<SegmentLog>> SegmentLog::open(
    SegmentLogOptions options) {
  if (options.index_interval_bytes == 0) options.index_interval_bytes = 1;
  auto impl = std::make_unique<Impl>(std::move(options));
  {
    std::lock_guard<std::mutex> lock(impl->mu);
    NW_RETURN_IF_ERROR(impl->recover());
  }
  return std::unique_ptr<SegmentLog>(new SegmentLog(std::move(impl)));
}

// ---- Impl helpers ----

std::string SegmentLog::Impl::path(std::string_view name) const {
  return opts.dir + "/" + std::string(name);
}

LogIndex SegmentLog::Impl::last_index() const {
  if (segments.empty()) return start.first_index - 1;
  return LogIndex(segments.back().last_index());
}

std::uint64_t SegmentLog::Impl::next_offset() const {
  if (segments.empty()) return start.prev_next_offset;
  return segments.back().next_offset();
}

const Segment* SegmentLog::Impl::find(std::uint64_t i) const {
  auto it = std::upper_bound(
      segments.begin(), segments.end(), i,
      [](std::uint64_t v, const Segment& s) { return v < s.first_index(); });
  if (it == segments.begin()) return nullptr;
  --it;
  return it->holds(i) ? &*it : nullptr;
}

Result<Term> SegmentLog::Impl::term_of(LogIndex i) const {
  if (i < first_index() - 1 || i > last_index()) {
    return not_found("term: index " + str(i.value()) +
                     " is compacted or not yet written");
  }
  if (i == first_index() - 1) return start.prev_term;
  return Term(find(i.value())->at(i.value()).term);
}

Result<std::uint64_t> SegmentLog::Impl::offset_after(LogIndex i) const {
  if (i < first_index() - 1 || i > last_index()) {
    return not_found("offset: index " + str(i.value()) +
                     " is compacted or not yet written");
  }
  if (i == first_index() - 1) return start.prev_next_offset;
  return find(i.value())->at(i.value()).next_offset();
}

Error SegmentLog::Impl::corrupt(const Segment& s, std::string_view what,
                                std::uint64_t pos) const {
  return Error(
      Code::corruption,
      "segment " + s.name + ": " + std::string(what) + " at byte " + str(pos),
      "the partition replica in " + opts.dir +
          " is damaged and stays offline; delete that directory "
          "so that the replica is rebuilt from the other replicas, "
          "or restore it from a backup",
      detail::kDomain);
}

std::int64_t SegmentLog::Impl::now_ms() const {
  if (opts.now_ms) return opts.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool SegmentLog::Impl::past_segment_ms(const Segment& s,
                                       std::int64_t now) const {
  return segment_ms > 0 && now - s.header.created_ms >= segment_ms;
}

bool SegmentLog::Impl::active_aged_out(std::int64_t now) const {
  if (segments.empty()) return false;
  const Segment& active = segments.back();
  return active.last_index() >= active.first_index() &&
         past_segment_ms(active, now);
}

void SegmentLog::set_roll_limits(std::uint64_t segment_bytes,
                                 std::int64_t segment_ms) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->segment_bytes = segment_bytes;
  impl_->segment_ms = segment_ms;
}

// ---- LogStorage queries ----

raft::HardState SegmentLog::hard_state() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->hs;
}

raft::SnapshotMeta SegmentLog::snapshot_meta() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->snap_meta;
}

Result<raft::Snapshot> SegmentLog::snapshot() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->snap_meta.index == LogIndex(0)) {
    return not_found("snapshot: none taken yet");
  }
  const std::string p = impl_->path(kSnapshotFile);
  NW_ASSIGN_OR_RETURN(auto content, state::read_file_if_exists(p));
  if (!content) {
    return Error(Code::corruption, "snapshot: file " + p + " is missing", {},
                 detail::kDomain);
  }
  NW_ASSIGN_OR_RETURN(SnapshotFile f, decode_snapshot_file(*content, p));
  return std::move(f.snap);
}

LogIndex SegmentLog::first_index() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->first_index();
}

LogIndex SegmentLog::last_index() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->last_index();
}

Result<Term> SegmentLog::term(LogIndex i) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->term_of(i);
}

Result<std::vector<Entry>> SegmentLog::entries(LogIndex lo, LogIndex hi,
                                               std::uint64_t max_bytes) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const Impl& m = *impl_;
  if (lo < m.first_index()) {
    return not_found("entries: index " + str(lo.value()) + " is compacted");
  }
  NW_ASSERT(lo < hi && hi <= m.last_index() + 1, "entries: range out of log");
  std::vector<Entry> out;
  std::uint64_t bytes = 0;
  std::uint64_t i = lo.value();
  while (i < hi.value()) {
    // One pread for the run of wanted entries in this segment.
    const Segment& s = *m.find(i);
    std::uint64_t end = i;
    while (end < hi.value() && s.holds(end)) {
      bytes += s.at(end).entry_data_size() + 24;
      if (end > lo.value() && bytes > max_bytes) break;
      ++end;
    }
    const bool stop = end < hi.value() && s.holds(end);
    const std::uint64_t pos = s.at(i).pos;
    const EntryMeta& last = s.at(end - 1);
    NW_ASSIGN_OR_RETURN(
        std::string buf,
        detail::pread_some(s.fd.get(), pos, last.pos + last.size - pos,
                           m.path(s.name)));
    for (; i < end; ++i) {
      const EntryMeta& e = s.at(i);
      if (e.pos - pos + e.size > buf.size()) {
        return m.corrupt(s, "batch cut short", e.pos);
      }
      std::string_view batch(buf.data() + (e.pos - pos), e.size);
      auto info = records::read_batch_info(batch);
      if (!info.ok() || info->raft_index != i || info->size != e.size) {
        return m.corrupt(s, "batch changed since open", e.pos);
      }
      Entry entry{Term(e.term), LogIndex(i), EntryType::normal, {}};
      if (!e.control()) {
        entry.data.assign(batch);
      } else {
        auto c = records::decode_control(batch);
        if (!c.ok()) return m.corrupt(s, c.error().message, e.pos);
        if (c->first == records::ControlKind::conf_change) {
          entry.type = EntryType::conf_change;
          entry.data = std::move(c->second);
        }
      }
      out.push_back(std::move(entry));
    }
    if (stop) break;
  }
  return out;
}

// ---- the data side ----

std::uint64_t SegmentLog::start_offset() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->start.prev_next_offset;
}

std::uint64_t SegmentLog::next_offset() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->next_offset();
}

Result<std::uint64_t> SegmentLog::offset_after(LogIndex i) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->offset_after(i);
}

Result<std::pair<std::uint64_t, std::uint32_t>> SegmentLog::batch_offsets(
    LogIndex i) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (i < impl_->first_index() || i > impl_->last_index()) {
    return not_found("batch offsets: index " + str(i.value()) +
                     " is compacted or not yet written");
  }
  const EntryMeta& e = impl_->find(i.value())->at(i.value());
  return std::make_pair(e.base_offset, e.count);
}

Result<std::string> SegmentLog::read(std::uint64_t offset, LogIndex max_index,
                                     std::uint64_t max_bytes) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const Impl& m = *impl_;
  if (offset < m.start.prev_next_offset) {
    return Error(Code::failed_precondition,
                 "read: offset " + str(offset) +
                     " is before the start offset " +
                     str(m.start.prev_next_offset),
                 "the records were deleted by retention; fetch from the "
                 "start offset",
                 detail::kDomain);
  }
  const std::uint64_t hi = std::min(max_index, m.last_index()).value();
  std::string out;
  // The first segment with a record at or after `offset`.
  auto seg = std::partition_point(
      m.segments.begin(), m.segments.end(),
      [&](const Segment& s) { return s.next_offset() <= offset; });
  bool first = true;
  for (; seg != m.segments.end(); ++seg) {
    const Segment& s = *seg;
    // Entries before first_index() are hidden, and the first batch that
    // holds `offset` is the first with next offset > offset.
    auto e = std::partition_point(
        s.entries.begin(), s.entries.end(),
        [&](const EntryMeta& x) { return x.next_offset() <= offset; });
    std::uint64_t i = s.first_index() + (e - s.entries.begin());
    i = std::max(i, m.first_index().value());
    // Runs of consecutive data batches are read with one pread each.
    bool full = false;
    while (!full && i <= hi && s.holds(i)) {
      if (s.at(i).control()) {
        ++i;
        continue;
      }
      const std::uint64_t run_start = s.at(i).pos;
      std::uint64_t run_end = run_start;
      for (; i <= hi && s.holds(i) && !s.at(i).control(); ++i) {
        const EntryMeta& x = s.at(i);
        if (!first && out.size() + (run_end - run_start) + x.size > max_bytes) {
          full = true;
          break;
        }
        first = false;
        run_end = x.pos + x.size;
      }
      if (run_end == run_start) break;
      NW_ASSIGN_OR_RETURN(
          std::string buf,
          detail::pread_some(s.fd.get(), run_start, run_end - run_start,
                             m.path(s.name)));
      if (buf.size() != run_end - run_start) {
        return m.corrupt(s, "batch cut short", run_start);
      }
      out += buf;
    }
    if (full) break;
    if (i > hi) break;
  }
  return out;
}

Result<std::uint64_t> SegmentLog::offset_for_time(std::int64_t ts_ms,
                                                  LogIndex max_index) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const Impl& m = *impl_;
  const LogIndex hi =
      std::max(std::min(max_index, m.last_index()), m.first_index() - 1);
  for (const Segment& s : m.segments) {
    if (s.first_index() > hi.value()) break;
    if (s.max_ts < ts_ms) continue;
    const std::uint64_t from =
        std::max(s.first_index(), m.first_index().value());
    for (std::uint64_t i = from; i <= hi.value() && s.holds(i); ++i) {
      const EntryMeta& e = s.at(i);
      if (!e.control() && e.max_ts >= ts_ms) return e.base_offset;
    }
  }
  return m.offset_after(hi);
}

std::vector<SegmentInfo> SegmentLog::segments() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<SegmentInfo> out;
  for (const Segment& s : impl_->segments) {
    SegmentInfo info;
    info.path = impl_->path(s.name);
    info.first_index = LogIndex(s.first_index());
    info.last_index = LogIndex(s.last_index());
    info.base_offset = s.header.base_offset;
    info.next_offset = s.next_offset();
    info.bytes = s.bytes;
    info.max_timestamp_ms = s.max_ts;
    info.created_ms = s.header.created_ms;
    out.push_back(std::move(info));
  }
  if (!out.empty()) out.back().active = true;
  return out;
}

std::uint64_t SegmentLog::size_bytes() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::uint64_t total = 0;
  for (const Segment& s : impl_->segments) total += s.bytes;
  return total;
}

LogIndex SegmentLog::retention_point(std::int64_t retention_ms,
                                     std::int64_t retention_bytes,
                                     LogIndex max_index) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const Impl& m = *impl_;
  const std::int64_t now = m.now_ms();
  std::uint64_t total = 0;
  for (const Segment& s : m.segments) total += s.bytes;
  LogIndex point(0);
  // Oldest first, a prefix of whole segments; the active segment only once
  // it is past segment_ms (it would have rolled, had anything been
  // written: this is how a quiet partition's data ages out).
  if (m.segments.empty()) return point;
  const std::size_t n =
      m.active_aged_out(now) ? m.segments.size() : m.segments.size() - 1;
  for (std::size_t k = 0; k < n; ++k) {
    const Segment& s = m.segments[k];
    if (LogIndex(s.last_index()) > max_index) break;
    // A segment without data batches ages from its creation.
    const std::int64_t ts = s.max_ts >= 0 ? s.max_ts : s.header.created_ms;
    const bool by_age = retention_ms >= 0 && now - ts > retention_ms;
    const bool by_size = retention_bytes >= 0 &&
                         total > static_cast<std::uint64_t>(retention_bytes);
    if (!by_age && !by_size) break;
    total -= s.bytes;
    point = LogIndex(s.last_index());
  }
  return point;
}

}  // namespace nw::storage
