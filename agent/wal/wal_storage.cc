#include "agent/wal/wal_storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "agent/state/file_util.h"
#include "agent/wal/wal_format.h"
#include "common/base/log.h"

namespace nw::wal {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::LogIndex;
using raft::Term;

constexpr std::string_view kDomain = "wal";

Error precondition(std::string msg) {
  return Error(Code::failed_precondition, std::move(msg), {}, kDomain);
}

Error io_error(std::string_view what, const std::string& path, int err) {
  return Error(Code::io_error,
               "wal: cannot " + std::string(what) + " " + path + ": " +
                   std::strerror(err),
               {}, kDomain);
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok_status();
}

}  // namespace

WalStorage::WalStorage(std::string dir, WalOptions options)
    : dir_(std::move(dir)), options_(options), ents_(1) {}

WalStorage::~WalStorage() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<WalStorage>> WalStorage::open(const std::string& dir,
                                                     WalOptions options) {
  std::unique_ptr<WalStorage> wal(new WalStorage(dir, options));
  NW_RETURN_IF_ERROR(wal->recover());
  return wal;
}

std::string WalStorage::path(std::string_view name) const {
  return dir_ + "/" + std::string(name);
}

std::string WalStorage::segment_path(std::uint64_t seq) const {
  return path(segment_name(seq));
}

std::vector<std::string> WalStorage::segment_names() const {
  std::vector<std::string> out;
  for (const Segment& s : segments_) out.push_back(segment_name(s.seq));
  return out;
}

Result<raft::Snapshot> WalStorage::snapshot() const {
  if (snapshot_meta_.index == LogIndex(0)) {
    return Error(Code::not_found, "snapshot: none taken yet", {}, kDomain);
  }
  const std::string p =
      path(snapshot_name(snapshot_meta_.term, snapshot_meta_.index));
  NW_ASSIGN_OR_RETURN(auto content, state::read_file_if_exists(p));
  if (!content) {
    return Error(Code::corruption, "snapshot: file " + p + " is missing",
                 "restore the data directory from a backup", kDomain);
  }
  return decode_snapshot_file(*content, p);
}

Result<Term> WalStorage::term(LogIndex i) const {
  const LogIndex base = ents_[0].index;
  if (i < base || i > last_index()) {
    return Error(Code::not_found,
                 "term: index " + std::to_string(i.value()) +
                     " is compacted or not yet written",
                 {}, kDomain);
  }
  return ents_[i.value() - base.value()].term;
}

Result<std::vector<Entry>> WalStorage::entries(LogIndex lo, LogIndex hi,
                                               std::uint64_t max_bytes) const {
  const LogIndex base = ents_[0].index;
  if (lo <= base) {
    return Error(
        Code::not_found,
        "entries: index " + std::to_string(lo.value()) + " is compacted", {},
        kDomain);
  }
  NW_ASSERT(lo < hi && hi <= last_index() + 1, "entries: range out of log");
  std::vector<Entry> out;
  std::uint64_t bytes = 0;
  for (LogIndex i = lo; i < hi; i = i + 1) {
    const Entry& e = ents_[i.value() - base.value()];
    bytes += raft::entry_size(e);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

Status WalStorage::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return ok_status();
  NW_RETURN_IF_ERROR(check_writable());
  const LogIndex base = ents_[0].index;
  const LogIndex first = entries.front().index;
  NW_ASSERT(first > base && first <= last_index() + 1,
            "append: entries leave a gap or overwrite the compacted prefix");
  for (std::size_t k = 0; k < entries.size(); ++k) {
    NW_ASSERT(entries[k].index == first + k, "append: non-consecutive");
  }
  std::string rec;
  append_entries(&rec, entries);
  NW_RETURN_IF_ERROR(write_record(rec));
  ents_.resize(first.value() - base.value());
  ents_.insert(ents_.end(), entries.begin(), entries.end());
  return ok_status();
}

Status WalStorage::set_hard_state(const raft::HardState& hs) {
  if (hs == hard_state_) return ok_status();  // already durable
  NW_RETURN_IF_ERROR(check_writable());
  std::string rec;
  append_hard_state(&rec, hs);
  NW_RETURN_IF_ERROR(write_record(rec));
  hard_state_ = hs;
  return ok_status();
}

Status WalStorage::apply_snapshot(raft::Snapshot snap) {
  if (snap.meta.index < snapshot_meta_.index ||
      snap.meta.index == LogIndex(0)) {
    return precondition("apply snapshot: index " +
                        std::to_string(snap.meta.index.value()) +
                        " is older than the current snapshot or 0");
  }
  NW_RETURN_IF_ERROR(check_writable());
  NW_RETURN_IF_ERROR(write_snapshot_file(snap.meta, snap.data));
  std::string rec;
  append_snapshot(&rec, {snap.meta.index, snap.meta.term, true});
  NW_RETURN_IF_ERROR(write_record(rec));
  ents_.assign(1,
               Entry{snap.meta.term, snap.meta.index, EntryType::normal, {}});
  snapshot_meta_ = std::move(snap.meta);
  delete_other_snapshots();
  delete_covered_segments();
  return ok_status();
}

Status WalStorage::create_snapshot(raft::SnapshotMeta meta, std::string data) {
  if (meta.index < snapshot_meta_.index || meta.index > last_index() ||
      meta.index < ents_[0].index || meta.index == LogIndex(0)) {
    return precondition("create snapshot: index " +
                        std::to_string(meta.index.value()) +
                        " is older than the current snapshot or not in "
                        "the log");
  }
  NW_RETURN_IF_ERROR(check_writable());
  NW_RETURN_IF_ERROR(write_snapshot_file(meta, data));
  std::string rec;
  append_snapshot(&rec, {meta.index, meta.term, false});
  NW_RETURN_IF_ERROR(write_record(rec));
  snapshot_meta_ = std::move(meta);
  delete_other_snapshots();
  return ok_status();
}

Status WalStorage::compact(LogIndex up_to) {
  const LogIndex base = ents_[0].index;
  if (up_to <= base) return ok_status();
  if (up_to > snapshot_meta_.index || up_to > last_index()) {
    return precondition("compact: index " + std::to_string(up_to.value()) +
                        " is not covered by a snapshot");
  }
  NW_RETURN_IF_ERROR(check_writable());
  const auto cut = static_cast<std::ptrdiff_t>(up_to.value() - base.value());
  std::string rec;
  append_compact(&rec, {up_to, ents_[static_cast<std::size_t>(cut)].term});
  NW_RETURN_IF_ERROR(write_record(rec));
  ents_.erase(ents_.begin(), ents_.begin() + cut);
  ents_[0].data.clear();
  delete_covered_segments();
  return ok_status();
}

Status WalStorage::check_writable() const {
  if (failed_) return *failed_;
  return ok_status();
}

Error WalStorage::fail(Error e) {
  e.hint =
      "the WAL refuses further writes after a failed write or sync; restart "
      "the agent, which recovers the last durable state";
  log::Logger("wal").error("write failed; WAL is now read-only",
                           {{"error", e.message}});
  failed_ = e;
  return e;
}

Status WalStorage::write_record(const std::string& record) {
  Segment& active = segments_.back();
  // A segment holding more than its header and checkpoint rolls when this
  // record would take it past the limit.
  const std::uint64_t fresh =
      kSegmentHeaderSize + kRecordHeaderSize + kCheckpointPayloadSize;
  if (active.size > fresh &&
      active.size + record.size() > options_.segment_bytes) {
    NW_RETURN_IF_ERROR(start_segment(active.seq + 1));
    delete_covered_segments();
  }
  Segment& seg = segments_.back();
  const std::string p = segment_path(seg.seq);
  Status s = write_all(fd_, record, p);
  if (s.ok() && options_.fsync && ::fdatasync(fd_) != 0) {
    s = io_error("fdatasync", p, errno);
  }
  if (!s.ok()) return fail(std::move(s).error());
  seg.size += record.size();
  return ok_status();
}

Status WalStorage::start_segment(std::uint64_t seq) {
  const std::string p = segment_path(seq);
  const int fd = ::open(
      p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return fail(io_error("create", p, errno));
  Checkpoint cp;
  cp.base_index = ents_[0].index;
  cp.base_term = ents_[0].term;
  cp.last_index = last_index();
  cp.hard_state = hard_state_;
  cp.snapshot_index = snapshot_meta_.index;
  cp.snapshot_term = snapshot_meta_.term;
  std::string content = encode_segment_header(seq);
  append_checkpoint(&content, cp);
  Status s = write_all(fd, content, p);
  if (s.ok() && options_.fsync && ::fsync(fd) != 0) {
    s = io_error("fsync", p, errno);
  }
  if (s.ok() && options_.fsync) s = state::sync_directory(dir_);
  if (!s.ok()) {
    ::close(fd);
    return fail(std::move(s).error());
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  segments_.push_back(Segment{seq, content.size(), cp.last_index});
  return ok_status();
}

Status WalStorage::write_snapshot_file(const raft::SnapshotMeta& meta,
                                       std::string_view data) {
  // Always fsynced: a snapshot record must never point at a file that a
  // crash can take away.
  return state::write_file_atomically(dir_,
                                      snapshot_name(meta.term, meta.index),
                                      encode_snapshot_file(meta, data));
}

void WalStorage::delete_covered_segments() {
  const LogIndex base = ents_[0].index;
  std::size_t n = 0;
  while (n + 1 < segments_.size() && segments_[n + 1].last_at_start <= base) {
    ++n;
  }
  std::size_t deleted = 0;
  for (; deleted < n; ++deleted) {
    const std::string p = segment_path(segments_[deleted].seq);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
      // Harmless: the next compaction or open() tries again.
      log::Logger("wal").warn("cannot delete compacted segment",
                              {{"file", p}, {"error", std::strerror(errno)}});
      break;
    }
  }
  if (deleted == 0) return;
  segments_.erase(segments_.begin(),
                  segments_.begin() + static_cast<std::ptrdiff_t>(deleted));
  if (options_.fsync) {
    Status s = state::sync_directory(dir_);
    if (!s.ok()) {
      log::Logger("wal").warn("cannot sync directory after deleting segments",
                              {{"error", s.error().message}});
    }
  }
}

void WalStorage::delete_other_snapshots() {
  const std::string keep =
      snapshot_name(snapshot_meta_.term, snapshot_meta_.index);
  std::error_code ec;
  for (const auto& de : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = de.path().filename().string();
    if (name == keep || !parse_snapshot_name(name)) continue;
    std::error_code rm;
    std::filesystem::remove(de.path(), rm);
    if (rm) {
      log::Logger("wal").warn(
          "cannot delete old snapshot",
          {{"file", de.path().string()}, {"error", rm.message()}});
    }
  }
}

}  // namespace nw::wal
