// SegmentLog::open()'s half: reading the metadata files, scanning and
// checking every segment, cutting a torn tail of the last one, finishing
// an interrupted apply_snapshot and rebuilding index files. The rules are
// in docs/formats/segment.md ("Recovery").
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>
#include <utility>

#include "agent/raft/byte_io.h"
#include "agent/state/file_util.h"
#include "agent/storage/segment_log_internal.h"
#include "common/records/record_batch.h"

namespace nw::storage {
namespace {

namespace fs = std::filesystem;
using detail::EntryMeta;
using detail::FileHandle;
using detail::Segment;
using raft::LogIndex;
using raft::Term;

std::string str(std::uint64_t v) { return std::to_string(v); }

std::uint64_t get_u64(std::string_view s, std::size_t pos) {
  return std::uint64_t{raft::get_u32(s, pos)} |
         (std::uint64_t{raft::get_u32(s, pos + 4)} << 32);
}

Error corrupt_file(const std::string& dir, const std::string& file,
                   std::string what) {
  return Error(Code::corruption, file + ": " + std::move(what),
               "the partition replica in " + dir +
                   " is damaged and stays offline; delete that directory "
                   "so that the replica is rebuilt from the other replicas, "
                   "or restore it from a backup",
               detail::kDomain);
}

// Sequential reads of one file through a 1 MiB window.
class FileReader {
 public:
  FileReader(int fd, std::uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}

  std::uint64_t size() const { return size_; }

  // The bytes [pos, pos + n) that the file holds (fewer at its end); the
  // view is valid until the next call.
  Result<std::string_view> view(std::uint64_t pos, std::size_t n) {
    if (pos >= size_) return std::string_view();
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - pos));
    if (pos < buf_pos_ || pos + n > buf_pos_ + buf_.size()) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(
          std::max<std::size_t>(n, 1u << 20), size_ - pos));
      NW_ASSIGN_OR_RETURN(buf_, detail::pread_some(fd_, pos, want, path_));
      buf_pos_ = pos;
    }
    std::string_view v(buf_);
    v = v.substr(static_cast<std::size_t>(pos - buf_pos_));
    return v.substr(0, std::min(n, v.size()));
  }

 private:
  int fd_;
  std::uint64_t size_;
  std::string path_;
  std::string buf_;
  std::uint64_t buf_pos_ = 0;
};

// What the batch at a position is, checked against the log so far.
struct BatchCheck {
  // Empty: valid. Otherwise what is wrong.
  std::string fault;
  // A well-formed batch (CRC fine) that does not fit the log: never a torn
  // write, always corruption.
  bool misfit = false;
  EntryMeta meta;
};

struct Expect {
  std::uint64_t index = 0;
  std::uint64_t offset = 0;
  std::uint64_t term = 0;  // the previous batch's (terms never decrease)
};

Result<BatchCheck> check_batch(FileReader* r, std::uint64_t pos,
                               const Expect& want) {
  BatchCheck c;
  NW_ASSIGN_OR_RETURN(std::string_view head,
                      r->view(pos, records::kHeaderSize));
  if (head.size() < records::kHeaderSize) {
    c.fault = "batch cut short";
    return c;
  }
  if (static_cast<std::uint8_t>(head[records::kMagicPos]) != records::kMagic) {
    c.fault = "bad magic";
    return c;
  }
  const std::uint64_t size =
      std::uint64_t{raft::get_u32(head, records::kBatchLengthPos)} + 12;
  if (size < records::kHeaderSize || size > records::kMaxBatchBytes) {
    c.fault = "bad batch length " + str(size);
    return c;
  }
  if (pos + size > r->size()) {
    c.fault = "batch cut short";
    return c;
  }
  NW_ASSIGN_OR_RETURN(std::string_view batch,
                      r->view(pos, static_cast<std::size_t>(size)));
  auto info = records::read_batch_info(batch);
  if (!info.ok()) {
    c.fault = "crc mismatch";
    return c;
  }
  c.misfit = true;
  if (info->raft_index != want.index) {
    c.fault = "raft index " + str(info->raft_index) + " where " +
              str(want.index) + " was expected";
    return c;
  }
  if (info->base_offset != want.offset) {
    c.fault = "base offset " + str(info->base_offset) + " where " +
              str(want.offset) + " was expected";
    return c;
  }
  if (info->raft_term == 0 || info->raft_term < want.term) {
    c.fault = "term " + str(info->raft_term) + " after term " + str(want.term);
    return c;
  }
  if (info->control()) {
    auto ctl = records::decode_control(batch);
    if (!ctl.ok()) {
      c.fault = "bad control batch";
      return c;
    }
  } else if (info->record_count == 0) {
    c.fault = "data batch without records";
    return c;
  }
  c.misfit = false;
  c.meta.term = info->raft_term;
  c.meta.base_offset = info->base_offset;
  c.meta.pos = pos;
  c.meta.max_ts = info->control() ? -1 : info->max_timestamp_ms;
  c.meta.size = info->size;
  c.meta.count = info->record_count;
  return c;
}

// Whether a valid batch with a Raft index >= min_index starts anywhere
// after `pos`: the difference between a torn tail (nothing valid after the
// damage) and damaged data in the middle of the last segment.
Result<bool> valid_batch_after(FileReader* r, std::uint64_t pos,
                               std::uint64_t min_index) {
  if (pos + 1 >= r->size()) return false;
  NW_ASSIGN_OR_RETURN(
      std::string_view rest_view,
      r->view(pos + 1, static_cast<std::size_t>(r->size() - pos - 1)));
  const std::string rest(rest_view);  // the window moves on later reads
  for (std::size_t q = 0; q + records::kHeaderSize <= rest.size(); ++q) {
    if (static_cast<std::uint8_t>(rest[q + records::kMagicPos]) !=
            records::kMagic ||
        get_u64(rest, q + records::kRaftIndexPos) < min_index) {
      continue;
    }
    if (records::read_batch_info(std::string_view(rest).substr(q)).ok()) {
      return true;
    }
  }
  return false;
}

}  // namespace

// Reads and checks one segment. nullopt when it was the last segment and
// held nothing valid (it is deleted).
Result<std::optional<Segment>> SegmentLog::Impl::scan_segment(
    std::uint64_t first, bool is_last, std::uint64_t prev_term) {
  Impl* m = this;
  Segment seg;
  seg.name = segment_file_name(first, kLogSuffix);
  seg.header.first_index = first;
  const std::string p = m->path(seg.name);
  NW_ASSIGN_OR_RETURN(FileHandle fd, detail::open_file(p, O_RDWR));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return detail::io_error("stat", p, errno);
  FileReader r(fd.get(), static_cast<std::uint64_t>(st.st_size), p);

  auto drop_torn_segment = [&](std::string_view why) -> Status {
    m->log.warn("deleting a torn last segment", {{"file", p}, {"reason", why}});
    fd.reset();
    return seg.remove_files(m->opts.dir);
  };

  NW_ASSIGN_OR_RETURN(std::string_view head, r.view(0, kSegmentHeaderSize));
  auto header = decode_segment_header(head);
  if (!header) {
    NW_ASSIGN_OR_RETURN(bool valid_after, valid_batch_after(&r, 0, first));
    if (!is_last || valid_after) {
      return m->corrupt(seg, "bad segment header", 0);
    }
    NW_RETURN_IF_ERROR(drop_torn_segment("header cut short or damaged"));
    return std::optional<Segment>();
  }
  if (header->first_index != first) {
    return m->corrupt(seg,
                      "header says first index " + str(header->first_index), 8);
  }
  seg.header = *header;
  seg.bytes = kSegmentHeaderSize;

  Expect want{first, header->base_offset, prev_term};
  std::uint64_t pos = kSegmentHeaderSize;
  while (pos < r.size()) {
    NW_ASSIGN_OR_RETURN(BatchCheck c, check_batch(&r, pos, want));
    if (c.fault.empty()) {
      seg.push(c.meta, m->opts.index_interval_bytes);
      pos += c.meta.size;
      want = Expect{want.index + 1, c.meta.next_offset(), c.meta.term};
      continue;
    }
    if (!is_last || c.misfit) return m->corrupt(seg, c.fault, pos);
    NW_ASSIGN_OR_RETURN(bool valid_after,
                        valid_batch_after(&r, pos, want.index));
    if (valid_after) return m->corrupt(seg, c.fault, pos);
    // A torn tail: the last append did not finish, and never returned OK.
    m->log.warn("truncating a torn tail", {{"file", p},
                                           {"position", pos},
                                           {"bytes", r.size() - pos},
                                           {"reason", c.fault}});
    if (::ftruncate(fd.get(), static_cast<off_t>(pos)) != 0) {
      return detail::io_error("truncate", p, errno);
    }
    if (m->opts.fsync) NW_RETURN_IF_ERROR(detail::sync_data(fd.get(), p));
    break;
  }
  if (seg.entries.empty()) {
    if (!is_last) return m->corrupt(seg, "segment holds no batch", pos);
    NW_RETURN_IF_ERROR(drop_torn_segment("no complete batch"));
    return std::optional<Segment>();
  }
  seg.fd = std::move(fd);
  return std::optional<Segment>(std::move(seg));
}

Status SegmentLog::Impl::recover() {
  const std::string& dir = opts.dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return detail::io_error("create directory", dir, ec.value());

  // Leftovers and the file list.
  std::vector<std::uint64_t> firsts;
  std::set<std::string> index_files;
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    const std::string name = de.path().filename().string();
    if (name.size() > 4 && name.substr(name.size() - 4) == ".tmp") {
      NW_RETURN_IF_ERROR(detail::remove_file(de.path().string()));
    } else if (auto i = parse_segment_file_name(name, kLogSuffix)) {
      firsts.push_back(*i);
    } else if (parse_segment_file_name(name, kIndexSuffix) ||
               parse_segment_file_name(name, kTimeIndexSuffix)) {
      index_files.insert(name);
    }
  }
  if (ec) return detail::io_error("list", dir, ec.value());
  std::sort(firsts.begin(), firsts.end());

  // hardstate, snapshot, start.
  {
    const std::string p = path(kHardStateFile);
    NW_ASSIGN_OR_RETURN(auto content, state::read_file_if_exists(p));
    if (content) {
      HardStateSlots slots = decode_hard_state_file(*content);
      if (slots.seq == 0) {
        return corrupt_file(dir, std::string(kHardStateFile),
                            "both slots are damaged");
      }
      hs = slots.hs;
      hs_seq = slots.seq;
      NW_ASSIGN_OR_RETURN(hs_fd, detail::open_file(p, O_RDWR));
    }
  }
  {
    const std::string p = path(kSnapshotFile);
    NW_ASSIGN_OR_RETURN(auto content, state::read_file_if_exists(p));
    if (content) {
      NW_ASSIGN_OR_RETURN(SnapshotFile f, decode_snapshot_file(*content, p));
      const raft::Snapshot& snap = f.snap;
      snap_installed = f.installed;
      auto next = decode_snapshot_data(snap.data);
      if (!next.ok()) {
        return corrupt_file(dir, std::string(kSnapshotFile),
                            next.error().message);
      }
      snap_meta = snap.meta;
      snap_next_offset = next->first;
    }
  }
  {
    NW_ASSIGN_OR_RETURN(auto content,
                        state::read_file_if_exists(path(kStartFile)));
    if (content) {
      auto sp = decode_start_file(*content);
      if (!sp) {
        return corrupt_file(dir, std::string(kStartFile),
                            "damaged (bad size, magic or crc)");
      }
      start = *sp;
    }
  }
  if (start.first_index - 1 > snap_meta.index) {
    return corrupt_file(dir, std::string(kStartFile),
                        "compacted to " + str(start.first_index.value() - 1) +
                            " beyond the snapshot at " +
                            str(snap_meta.index.value()));
  }

  // Segments whose successor starts at or before the first index were
  // compacted away; a crash interrupted their deletion.
  const std::uint64_t first = start.first_index.value();
  std::size_t k0 = 0;
  while (k0 + 1 < firsts.size() && firsts[k0 + 1] <= first) {
    Segment gone;
    gone.header.first_index = firsts[k0];
    NW_RETURN_IF_ERROR(gone.remove_files(dir));
    ++k0;
  }

  std::uint64_t prev_term = 0;
  for (std::size_t k = k0; k < firsts.size(); ++k) {
    NW_ASSIGN_OR_RETURN(
        std::optional<Segment> seg,
        scan_segment(firsts[k], k + 1 == firsts.size(), prev_term));
    if (!seg) continue;
    if (!segments.empty()) {
      const Segment& prev = segments.back();
      if (seg->first_index() != prev.last_index() + 1) {
        return corrupt(*seg,
                       "first index " + str(seg->first_index()) + " where " +
                           str(prev.last_index() + 1) + " was expected",
                       8);
      }
      if (seg->header.base_offset != prev.next_offset()) {
        return corrupt(*seg,
                       "base offset " + str(seg->header.base_offset) +
                           " where " + str(prev.next_offset()) +
                           " was expected",
                       16);
      }
    } else if (seg->first_index() > first) {
      return corrupt(*seg,
                     "entries " + str(first) + " to " +
                         str(seg->first_index() - 1) + " are missing",
                     8);
    }
    prev_term = seg->entries.back().term;
    segments.push_back(std::move(*seg));
  }
  // A last segment wholly compacted (compact() up to the last index, cut
  // before its deletion).
  delete_segments_up_to(first - 1);

  // The first segment must agree with the start file at first - 1.
  if (!segments.empty()) {
    const Segment& s = segments.front();
    if (s.first_index() == first) {
      if (s.header.base_offset != start.prev_next_offset) {
        return corrupt(s,
                       "base offset " + str(s.header.base_offset) +
                           " but the start file says " +
                           str(start.prev_next_offset),
                       16);
      }
    } else {
      const EntryMeta& e = s.at(first - 1);
      if (e.term != start.prev_term.value() ||
          e.next_offset() != start.prev_next_offset) {
        return corrupt(
            s, "entry " + str(first - 1) + " does not match the start file",
            e.pos);
      }
    }
  }

  // An installed snapshot newer than the compaction point: apply_snapshot
  // was cut by a crash after writing the snapshot file (it writes `start`
  // last).
  if (snap_installed && snap_meta.index > start.first_index - 1) {
    log.warn("finishing an interrupted snapshot install",
             {{"dir", dir}, {"snapshot_index", snap_meta.index.value()}});
    while (!segments.empty()) {
      NW_RETURN_IF_ERROR(segments.back().remove_files(dir));
      segments.pop_back();
    }
    if (opts.fsync) NW_RETURN_IF_ERROR(state::sync_directory(dir));
    NW_RETURN_IF_ERROR(write_start(
        StartPoint{snap_meta.index + 1, snap_meta.term, snap_next_offset}));
  }

  // Index files: derived, rebuilt when they differ from the segment.
  std::set<std::string> live;
  for (const Segment& s : segments) {
    const std::string idx = segment_file_name(s.first_index(), kIndexSuffix);
    const std::string tidx =
        segment_file_name(s.first_index(), kTimeIndexSuffix);
    live.insert(idx);
    live.insert(tidx);
    NW_ASSIGN_OR_RETURN(auto a, state::read_file_if_exists(path(idx)));
    NW_ASSIGN_OR_RETURN(auto b, state::read_file_if_exists(path(tidx)));
    if (a != s.offset_index_bytes() || b != s.time_index_bytes()) {
      if (a || b) log.info("rebuilding index files", {{"file", path(idx)}});
      NW_RETURN_IF_ERROR(s.write_index_files(dir));
    }
  }
  for (const std::string& name : index_files) {
    if (!live.count(name)) NW_RETURN_IF_ERROR(detail::remove_file(path(name)));
  }
  return ok_status();
}

}  // namespace nw::storage
