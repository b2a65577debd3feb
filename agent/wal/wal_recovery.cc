// WalStorage::open()'s half: replaying the segments, cutting a torn tail,
// checking the snapshot and removing leftovers. The rules are in the class
// comment of wal_storage.h and in docs/formats/controller-wal.md.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <utility>

#include "agent/state/file_util.h"
#include "agent/wal/wal_format.h"
#include "agent/wal/wal_storage.h"
#include "common/base/log.h"

namespace nw::wal {
namespace {

namespace fs = std::filesystem;
using raft::Entry;
using raft::LogIndex;
using raft::Term;

constexpr std::string_view kDomain = "wal";

std::string to_str(LogIndex i) { return std::to_string(i.value()); }

Error corruption(const std::string& dir, std::string msg) {
  return Error(Code::corruption, "wal: " + std::move(msg),
               "the controller's log is damaged and this node cannot serve "
               "it; restore the data directory from a backup, or move " +
                   dir +
                   " away and re-add this node to the cluster so that it "
                   "catches up from the leader",
               kDomain);
}

Error corrupt_at(const std::string& dir, const std::string& file,
                 std::size_t offset, std::string_view why) {
  return corruption(dir, std::string(why) + " in " + file + " at byte offset " +
                             std::to_string(offset));
}

Error io_error(std::string_view what, const std::string& path, int err) {
  return Error(Code::io_error,
               "wal: cannot " + std::string(what) + " " + path + ": " +
                   std::strerror(err),
               {}, kDomain);
}

// The state rebuilt by replaying records. Entries (base, hole_end] were
// written in segments that are gone; a correct log compacts past them by
// the end of the replay (they were deleted only once compacted).
struct ReplayState {
  bool started = false;
  LogIndex base;
  Term base_term;
  LogIndex hole_end;
  std::vector<Entry> ents;  // hole_end + 1, hole_end + 2, ...
  raft::HardState hs;
  LogIndex snap_index;
  Term snap_term;

  LogIndex last() const { return hole_end + ents.size(); }
  Checkpoint checkpoint() const {
    return Checkpoint{base, base_term, last(), hs, snap_index, snap_term};
  }
};

// Applies one valid frame; an empty string, or why it does not fit.
std::string apply(ReplayState* st, const Frame& f, bool first_in_segment) {
  if (first_in_segment != (f.type == RecordType::checkpoint)) {
    return first_in_segment ? "segment does not start with a checkpoint"
                            : "checkpoint record inside a segment";
  }
  switch (f.type) {
    case RecordType::checkpoint: {
      auto cp = decode_checkpoint(f.payload);
      if (!cp || cp->base_index > cp->last_index ||
          cp->base_index > cp->snapshot_index) {
        return "malformed checkpoint record";
      }
      if (st->started) {
        if (*cp != st->checkpoint()) {
          return "checkpoint disagrees with the segments before it";
        }
        return {};
      }
      st->started = true;
      st->base = cp->base_index;
      st->base_term = cp->base_term;
      st->hole_end = cp->last_index;
      st->hs = cp->hard_state;
      st->snap_index = cp->snapshot_index;
      st->snap_term = cp->snapshot_term;
      return {};
    }
    case RecordType::append: {
      auto ents = decode_entries(f.payload);
      if (!ents) return "malformed append record";
      const LogIndex first = ents->front().index;
      if (first <= st->base || first > st->last() + 1) {
        return "append record at index " + to_str(first) +
               " does not fit the log " + to_str(st->base + 1) + ".." +
               to_str(st->last());
      }
      if (first <= st->hole_end) {
        st->hole_end = first - 1;
        st->ents.clear();
      } else {
        st->ents.resize(first.value() - st->hole_end.value() - 1);
      }
      for (Entry& e : *ents) st->ents.push_back(std::move(e));
      return {};
    }
    case RecordType::hard_state: {
      auto hs = decode_hard_state(f.payload);
      if (!hs) return "malformed hard state record";
      st->hs = *hs;
      return {};
    }
    case RecordType::snapshot: {
      auto rec = decode_snapshot(f.payload);
      if (!rec) return "malformed snapshot record";
      if (rec->index < st->snap_index) {
        return "snapshot record older than the current snapshot";
      }
      if (rec->replaces_log) {
        st->base = rec->index;
        st->base_term = rec->term;
        st->hole_end = rec->index;
        st->ents.clear();
      } else if (rec->index < st->base || rec->index > st->last()) {
        return "snapshot record at index " + to_str(rec->index) +
               " outside the log";
      }
      st->snap_index = rec->index;
      st->snap_term = rec->term;
      return {};
    }
    case RecordType::compact: {
      auto rec = decode_compact(f.payload);
      if (!rec) return "malformed compact record";
      if (rec->up_to <= st->base || rec->up_to > st->last() ||
          rec->up_to > st->snap_index) {
        return "compact record to index " + to_str(rec->up_to) +
               " does not fit the log";
      }
      if (rec->up_to > st->hole_end) {
        const std::uint64_t n = rec->up_to.value() - st->hole_end.value();
        if (st->ents[n - 1].term != rec->term) {
          return "compact record's term differs from the entry's";
        }
        st->ents.erase(st->ents.begin(),
                       st->ents.begin() + static_cast<std::ptrdiff_t>(n));
        st->hole_end = rec->up_to;
      }
      st->base = rec->up_to;
      st->base_term = rec->term;
      return {};
    }
  }
  return "unknown record type";
}

// Whether a valid record frame starts anywhere at or after `from`: then a
// bad record before it is not a torn tail but damage.
bool valid_record_from(std::string_view content, std::size_t from) {
  for (std::size_t q = from; q + kRecordHeaderSize <= content.size(); ++q) {
    if (read_frame(content, q).status == FrameStatus::ok) return true;
  }
  return false;
}

Status truncate_file(const std::string& path, std::size_t size, bool sync) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return io_error("open", path, errno);
  Status s;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    s = io_error("truncate", path, errno);
  } else if (sync && ::fsync(fd) != 0) {
    s = io_error("fsync", path, errno);
  }
  ::close(fd);
  return s;
}

struct SegmentResult {
  bool drop = false;  // a last segment torn before its checkpoint
  std::uint64_t size = 0;
  LogIndex last_at_start;
};

Result<SegmentResult> replay_segment(const std::string& dir,
                                     const std::string& path, std::uint64_t seq,
                                     bool is_last, bool may_drop, bool sync,
                                     ReplayState* st) {
  NW_ASSIGN_OR_RETURN(auto read, state::read_file_if_exists(path));
  if (!read) return io_error("read", path, ENOENT);
  const std::string content = std::move(*read);
  const log::Logger logger("wal");
  SegmentResult out;

  auto header_seq = decode_segment_header(content);
  if (!header_seq) {
    if (is_last && may_drop && !valid_record_from(content, 1)) {
      logger.warn("removing a segment torn while it was created",
                  {{"file", path}, {"bytes", content.size()}});
      out.drop = true;
      return out;
    }
    return corrupt_at(dir, path, 0, "bad segment header");
  }
  if (*header_seq != seq) {
    return corrupt_at(
        dir, path, 8,
        "segment header names sequence " + std::to_string(*header_seq));
  }

  std::size_t pos = kSegmentHeaderSize;
  bool has_checkpoint = false;
  while (pos < content.size()) {
    const Frame f = read_frame(content, pos);
    if (f.status != FrameStatus::ok) {
      if (!is_last || valid_record_from(content, pos + 1)) {
        return corrupt_at(dir, path, pos, describe(f.status));
      }
      logger.warn("truncating a torn write at the end of the log",
                  {{"file", path},
                   {"offset", pos},
                   {"dropped_bytes", content.size() - pos},
                   {"reason", std::string(describe(f.status))}});
      NW_RETURN_IF_ERROR(truncate_file(path, pos, sync));
      break;
    }
    const std::string why = apply(st, f, !has_checkpoint);
    if (!why.empty()) return corrupt_at(dir, path, pos, why);
    if (!has_checkpoint) {
      has_checkpoint = true;
      out.last_at_start = decode_checkpoint(f.payload)->last_index;
    }
    pos += f.size;
  }
  if (!has_checkpoint) {
    if (is_last && may_drop) {
      logger.warn("removing a segment torn while it was created",
                  {{"file", path}, {"bytes", content.size()}});
      out.drop = true;
      return out;
    }
    return corrupt_at(dir, path, kSegmentHeaderSize,
                      "segment has no checkpoint record");
  }
  out.size = pos;
  return out;
}

}  // namespace

Status WalStorage::recover() {
  const log::Logger logger("wal");
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return Error(Code::io_error,
                 "wal: cannot create directory " + dir_ + ": " + ec.message(),
                 {}, kDomain);
  }
  std::map<std::uint64_t, std::string> segs;
  std::vector<std::string> snapshot_files;
  for (const auto& de : fs::directory_iterator(dir_, ec)) {
    const std::string name = de.path().filename().string();
    if (name.size() > 4 && name.substr(name.size() - 4) == ".tmp") {
      logger.warn("removing an unfinished temporary file",
                  {{"file", de.path().string()}});
      std::error_code rm;
      fs::remove(de.path(), rm);
    } else if (auto seq = parse_segment_name(name)) {
      segs[*seq] = name;
    } else if (parse_snapshot_name(name)) {
      snapshot_files.push_back(name);
    } else {
      logger.warn("ignoring an unknown file in the WAL directory",
                  {{"file", de.path().string()}});
    }
  }
  if (ec) {
    return Error(Code::io_error,
                 "wal: cannot list directory " + dir_ + ": " + ec.message(), {},
                 kDomain);
  }

  // Replay the run of consecutive segments that ends with the newest one.
  std::vector<std::uint64_t> seqs;
  for (const auto& [seq, name] : segs) seqs.push_back(seq);
  std::size_t start = seqs.empty() ? 0 : seqs.size() - 1;
  while (start > 0 && seqs[start - 1] + 1 == seqs[start]) --start;

  ReplayState st;
  for (std::size_t k = start; k < seqs.size(); ++k) {
    const std::string p = segment_path(seqs[k]);
    const bool is_last = k + 1 == seqs.size();
    const bool may_drop = k > start || seqs[k] == 1;
    NW_ASSIGN_OR_RETURN(SegmentResult r,
                        replay_segment(dir_, p, seqs[k], is_last, may_drop,
                                       options_.fsync, &st));
    if (r.drop) {
      if (::unlink(p.c_str()) != 0) return io_error("delete", p, errno);
      continue;
    }
    segments_.push_back(Segment{seqs[k], r.size, r.last_at_start});
  }

  if (segments_.empty()) {
    if (!snapshot_files.empty()) {
      return corruption(dir_, "directory " + dir_ + " holds " +
                                  snapshot_files.front() +
                                  " but no log segment");
    }
    return create_first_segment();
  }
  if (st.hole_end != st.base) {
    return corruption(
        dir_, "entries " + to_str(st.base + 1) + ".." + to_str(st.hole_end) +
                  " are needed but were in segments before " +
                  segment_name(segments_.front().seq) + ", which are missing");
  }

  if (st.snap_index != LogIndex(0)) {
    const std::string name = snapshot_name(st.snap_term, st.snap_index);
    const std::string p = path(name);
    NW_ASSIGN_OR_RETURN(auto content, state::read_file_if_exists(p));
    if (!content) {
      return corruption(
          dir_, "the log references snapshot " + p + ", which is missing");
    }
    NW_ASSIGN_OR_RETURN(raft::Snapshot snap, decode_snapshot_file(*content, p));
    if (snap.meta.index != st.snap_index || snap.meta.term != st.snap_term) {
      return corrupt_at(dir_, p, 8, "snapshot header names another position");
    }
    snapshot_meta_ = std::move(snap.meta);
  }
  hard_state_ = st.hs;
  ents_.assign(1, Entry{st.base_term, st.base, raft::EntryType::normal, {}});
  ents_.insert(ents_.end(), std::make_move_iterator(st.ents.begin()),
               std::make_move_iterator(st.ents.end()));

  // Leftovers: segments before a gap (an interrupted deletion; everything
  // in them is compacted, or the hole check above failed) and snapshot
  // files the log does not reference.
  for (std::size_t k = 0; k < start; ++k) {
    logger.warn("removing a segment left over from an interrupted deletion",
                {{"file", segment_path(seqs[k])}});
    ::unlink(segment_path(seqs[k]).c_str());
  }
  const std::string keep =
      snapshot_meta_.index == LogIndex(0)
          ? std::string()
          : snapshot_name(snapshot_meta_.term, snapshot_meta_.index);
  for (const std::string& name : snapshot_files) {
    if (name == keep) continue;
    const auto pos = parse_snapshot_name(name);
    if (pos->second > snapshot_meta_.index) {
      logger.warn("removing a snapshot whose log record was never written",
                  {{"file", path(name)}});
    }
    std::error_code rm;
    fs::remove(path(name), rm);
  }
  NW_RETURN_IF_ERROR(open_active_segment());
  delete_covered_segments();
  logger.info("recovered", {{"dir", dir_},
                            {"segments", segments_.size()},
                            {"first_index", first_index().value()},
                            {"last_index", last_index().value()},
                            {"snapshot_index", snapshot_meta_.index.value()}});
  return ok_status();
}

Status WalStorage::create_first_segment() {
  NW_RETURN_IF_ERROR(start_segment(1));
  if (failed_) return *failed_;
  return ok_status();
}

Status WalStorage::open_active_segment() {
  const std::string p = segment_path(segments_.back().seq);
  fd_ = ::open(p.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) return io_error("open", p, errno);
  return ok_status();
}

}  // namespace nw::wal
