// SegmentLog's mutating calls: append (stamping, suffix replacement,
// rolling, one fdatasync), the hard state, snapshots, compaction and
// destroy. The durability rules are in docs/formats/segment.md
// ("Durability"); the read side is in segment_log.cc.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <limits>
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

Error precondition(std::string msg) {
  return Error(Code::failed_precondition, std::move(msg), {}, detail::kDomain);
}

Error invalid(std::string msg) {
  return Error(Code::invalid_argument, std::move(msg), {}, detail::kDomain);
}

std::string str(std::uint64_t v) { return std::to_string(v); }

// The batch that stands for `e`, and its descriptor (offsets unset).
Result<std::pair<std::string, EntryMeta>> batch_for(const Entry& e) {
  EntryMeta meta;
  meta.term = e.term.value();
  std::string batch;
  if (e.type == EntryType::normal && !e.data.empty()) {
    auto info = records::read_batch_info(e.data);
    const std::string what = "append: entry " + str(e.index.value()) + ": ";
    if (!info.ok()) return invalid(what + info.error().message);
    if (info->size != e.data.size()) {
      return invalid(what + "data holds more than one batch");
    }
    if (info->control()) return invalid(what + "a control batch as data");
    if (info->record_count == 0) {
      return invalid(what + "a data batch without records");
    }
    batch = e.data;
    meta.count = info->record_count;
    meta.max_ts = info->max_timestamp_ms;
  } else if (e.type == EntryType::normal) {
    batch = records::build_control_batch(records::ControlKind::raft_noop, "");
  } else {
    if (e.data.size() > records::kMaxBatchBytes - records::kHeaderSize - 1) {
      return invalid("append: entry " + str(e.index.value()) +
                     ": conf change data too large");
    }
    batch =
        records::build_control_batch(records::ControlKind::conf_change, e.data);
  }
  meta.size = static_cast<std::uint32_t>(batch.size());
  return std::make_pair(std::move(batch), meta);
}

}  // namespace

// ---- Impl helpers ----

Status SegmentLog::Impl::check_writable() const {
  if (destroyed) return precondition("segment log: destroyed");
  if (failed) return *failed;
  return ok_status();
}

Error SegmentLog::Impl::fail(Error e) {
  e.hint =
      "the segment log refuses further writes after a failed write or "
      "sync; reopen it (restart the replica), which recovers the last "
      "durable state";
  log.error("write failed; segment log is now read-only",
            {{"dir", opts.dir}, {"error", e.message}});
  failed = e;
  return e;
}

Status SegmentLog::Impl::truncate_from(std::uint64_t index) {
  bool deleted = false;
  while (!segments.empty() && segments.back().first_index() >= index) {
    Status s = segments.back().remove_files(opts.dir);
    if (!s.ok()) return fail(std::move(s).error());
    segments.pop_back();
    deleted = true;
  }
  if (deleted && opts.fsync) {
    Status s = state::sync_directory(opts.dir);
    if (!s.ok()) return fail(std::move(s).error());
  }
  if (segments.empty() || segments.back().last_index() < index) {
    return ok_status();
  }
  Segment& seg = segments.back();
  const std::size_t keep = index - seg.first_index();
  const std::uint64_t size = seg.entries[keep].pos;
  const std::string p = path(seg.name);
  // Durable before the new batches are written, so that a crash never
  // leaves old batches behind new ones (recovery's torn-tail rule).
  if (::ftruncate(seg.fd.get(), static_cast<off_t>(size)) != 0) {
    return fail(detail::io_error("truncate", p, errno));
  }
  if (opts.fsync) {
    Status s = detail::sync_data(seg.fd.get(), p);
    if (!s.ok()) return fail(std::move(s).error());
  }
  seg.truncate(keep, opts.index_interval_bytes);
  Status s = seg.write_index_files(opts.dir);
  if (!s.ok()) {
    log.warn("cannot rewrite index files; they are rebuilt on open",
             {{"error", s.error().message}});
  }
  return ok_status();
}

Status SegmentLog::Impl::write_start(const StartPoint& s) {
  Status st = detail::replace_file(opts.dir, kStartFile, encode_start_file(s),
                                   opts.fsync);
  if (!st.ok()) return fail(std::move(st).error());
  start = s;
  return ok_status();
}

void SegmentLog::Impl::delete_segments_up_to(std::uint64_t up_to) {
  std::size_t n = 0;
  while (n < segments.size() && segments[n].last_index() <= up_to) {
    Status s = segments[n].remove_files(opts.dir);
    if (!s.ok()) {
      // Harmless: open() deletes compacted segments it finds.
      log.warn("cannot delete compacted segment",
               {{"error", s.error().message}});
      break;
    }
    ++n;
  }
  if (n == 0) return;
  segments.erase(segments.begin(),
                 segments.begin() + static_cast<std::ptrdiff_t>(n));
  if (opts.fsync) {
    Status s = state::sync_directory(opts.dir);
    if (!s.ok()) {
      log.warn("cannot sync directory after deleting segments",
               {{"error", s.error().message}});
    }
  }
}

// ---- LogStorage writes ----

Status SegmentLog::append(const std::vector<Entry>& entries) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  if (entries.empty()) return ok_status();
  NW_RETURN_IF_ERROR(m.check_writable());
  const std::uint64_t first = entries.front().index.value();
  NW_ASSERT(
      first >= m.first_index().value() && first <= m.last_index().value() + 1,
      "append: entries leave a gap or overwrite the compacted prefix");

  // Every batch is built and checked before any file is touched.
  std::vector<std::pair<std::string, EntryMeta>> batches;
  batches.reserve(entries.size());
  for (std::size_t k = 0; k < entries.size(); ++k) {
    NW_ASSERT(entries[k].index.value() == first + k, "append: non-consecutive");
    NW_ASSIGN_OR_RETURN(auto b, batch_for(entries[k]));
    batches.push_back(std::move(b));
  }
  if (first <= m.last_index().value()) {
    NW_RETURN_IF_ERROR(m.truncate_from(first));
  }

  // What one segment gets from this call: one pwrite, one sync.
  struct Pending {
    bool fresh = false;
    std::uint64_t write_pos = 0;
    std::string buf;
    std::vector<EntryMeta> metas;
  };
  std::optional<Pending> pending;
  auto flush = [&]() -> Status {
    if (!pending) return ok_status();
    Segment& seg = m.segments.back();
    const std::string p = m.path(seg.name);
    Status s =
        detail::pwrite_all(seg.fd.get(), pending->write_pos, pending->buf, p);
    if (s.ok() && m.opts.fsync) s = detail::sync_data(seg.fd.get(), p);
    if (s.ok() && m.opts.fsync && pending->fresh) {
      s = state::sync_directory(m.opts.dir);
    }
    if (!s.ok()) return m.fail(std::move(s).error());
    const std::size_t old_points = pending->fresh ? 0 : seg.points.size();
    for (const EntryMeta& e : pending->metas) {
      seg.push(e, m.opts.index_interval_bytes);
    }
    s = pending->fresh ? seg.write_index_files(m.opts.dir)
                       : seg.append_index_files(m.opts.dir, old_points);
    if (!s.ok()) {
      m.log.warn("cannot write index files; they are rebuilt on open",
                 {{"error", s.error().message}});
    }
    pending.reset();
    return ok_status();
  };

  const std::int64_t now = m.now_ms();
  std::uint64_t offset = m.next_offset();
  for (std::size_t k = 0; k < batches.size(); ++k) {
    auto& [batch, meta] = batches[k];
    const std::uint64_t index = first + k;
    bool roll = m.segments.empty();
    if (!roll) {
      const Segment& active = m.segments.back();
      const std::uint64_t size =
          pending ? pending->write_pos + pending->buf.size() : active.bytes;
      roll = size >= m.segment_bytes || m.past_segment_ms(active, now);
    }
    if (roll) {
      NW_RETURN_IF_ERROR(flush());
      Segment seg;
      seg.header = SegmentHeader{index, offset, now};
      seg.name = segment_file_name(index, kLogSuffix);
      seg.bytes = kSegmentHeaderSize;
      auto fd = detail::open_file(m.path(seg.name), O_RDWR | O_CREAT | O_TRUNC);
      if (!fd.ok()) return m.fail(std::move(fd).error());
      seg.fd = std::move(fd).value();
      m.segments.push_back(std::move(seg));
      pending.emplace();
      pending->fresh = true;
      pending->buf = encode_segment_header(m.segments.back().header);
    } else if (!pending) {
      pending.emplace();
      pending->write_pos = m.segments.back().bytes;
    }
    records::stamp_batch(&batch, offset, index, meta.term);
    meta.base_offset = offset;
    meta.pos = pending->write_pos + pending->buf.size();
    offset += meta.count;
    pending->buf += batch;
    pending->metas.push_back(meta);
  }
  return flush();
}

Status SegmentLog::set_hard_state(const raft::HardState& hs) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  if (hs == m.hs) return ok_status();  // already durable
  NW_RETURN_IF_ERROR(m.check_writable());
  const std::uint64_t seq = m.hs_seq + 1;
  const std::string slot = encode_hard_state_slot(seq, hs);
  const std::string p = m.path(kHardStateFile);
  if (!m.hs_fd.valid()) {
    std::string content(kHardStateFileSize, '\0');
    content.replace(hard_state_slot_pos(seq), slot.size(), slot);
    Status s =
        detail::replace_file(m.opts.dir, kHardStateFile, content, m.opts.fsync);
    if (!s.ok()) return m.fail(std::move(s).error());
    auto fd = detail::open_file(p, O_RDWR);
    if (!fd.ok()) return m.fail(std::move(fd).error());
    m.hs_fd = std::move(fd).value();
  } else {
    Status s =
        detail::pwrite_all(m.hs_fd.get(), hard_state_slot_pos(seq), slot, p);
    if (s.ok() && m.opts.fsync) s = detail::sync_data(m.hs_fd.get(), p);
    if (!s.ok()) return m.fail(std::move(s).error());
  }
  m.hs = hs;
  m.hs_seq = seq;
  return ok_status();
}

Status SegmentLog::apply_snapshot(raft::Snapshot snap) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  if (snap.meta.index < m.snap_meta.index || snap.meta.index == LogIndex(0)) {
    return precondition("apply snapshot: index " +
                        str(snap.meta.index.value()) +
                        " is older than the current snapshot or 0");
  }
  auto decoded = decode_snapshot_data(snap.data);
  if (!decoded.ok()) {
    return invalid("apply snapshot: " + decoded.error().message);
  }
  const std::uint64_t next = decoded->first;
  NW_RETURN_IF_ERROR(m.check_writable());
  Status s = detail::replace_file(
      m.opts.dir, kSnapshotFile,
      encode_snapshot_file(snap.meta, snap.data, true), m.opts.fsync);
  if (!s.ok()) return m.fail(std::move(s).error());
  m.snap_meta = snap.meta;
  m.snap_next_offset = next;
  // Newest first, so that a crash in between leaves a prefix of the old
  // log, which open() then drops (the snapshot is newer than it).
  while (!m.segments.empty()) {
    s = m.segments.back().remove_files(m.opts.dir);
    if (!s.ok()) return m.fail(std::move(s).error());
    m.segments.pop_back();
  }
  if (m.opts.fsync) {
    s = state::sync_directory(m.opts.dir);
    if (!s.ok()) return m.fail(std::move(s).error());
  }
  return m.write_start(StartPoint{snap.meta.index + 1, snap.meta.term, next});
}

Status SegmentLog::create_snapshot(raft::SnapshotMeta meta, std::string data) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  if (meta.index < m.snap_meta.index || meta.index > m.last_index() ||
      meta.index < m.first_index() - 1 || meta.index == LogIndex(0)) {
    return precondition("create snapshot: index " + str(meta.index.value()) +
                        " is older than the current snapshot or not in the "
                        "log");
  }
  auto decoded = decode_snapshot_data(data);
  if (!decoded.ok()) {
    return invalid("create snapshot: " + decoded.error().message);
  }
  const std::uint64_t next = m.offset_after(meta.index).value();
  if (decoded->first != next) {
    return invalid("create snapshot: the data says next offset " +
                   str(decoded->first) + ", the log has " + str(next) +
                   " after index " + str(meta.index.value()));
  }
  NW_RETURN_IF_ERROR(m.check_writable());
  Status s = detail::replace_file(m.opts.dir, kSnapshotFile,
                                  encode_snapshot_file(meta, data, false),
                                  m.opts.fsync);
  if (!s.ok()) return m.fail(std::move(s).error());
  m.snap_meta = std::move(meta);
  m.snap_next_offset = next;
  return ok_status();
}

Status SegmentLog::compact(LogIndex up_to) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  if (up_to <= m.first_index() - 1) return ok_status();
  if (up_to > m.snap_meta.index || up_to > m.last_index()) {
    return precondition("compact: index " + str(up_to.value()) +
                        " is not covered by a snapshot");
  }
  NW_RETURN_IF_ERROR(m.check_writable());
  const StartPoint sp{up_to + 1, m.term_of(up_to).value(),
                      m.offset_after(up_to).value()};
  NW_RETURN_IF_ERROR(m.write_start(sp));
  m.delete_segments_up_to(up_to.value());
  return ok_status();
}

Status SegmentLog::destroy() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  m.segments.clear();
  m.hs_fd.reset();
  m.destroyed = true;
  std::error_code ec;
  std::filesystem::remove_all(m.opts.dir, ec);
  if (ec) {
    return Error(Code::io_error,
                 "storage: cannot delete " + m.opts.dir + ": " + ec.message(),
                 {}, detail::kDomain);
  }
  return ok_status();
}

}  // namespace nw::storage
