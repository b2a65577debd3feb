#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/storage/segment.h"
#include "agent/storage/segment_format.h"
#include "agent/storage/segment_log.h"
#include "common/base/log.h"

// SegmentLog's state, shared by segment_log.cc (reads), segment_write.cc
// (the mutating calls) and segment_recovery.cc (open). Internal to
// agent/storage.
namespace nw::storage {

struct SegmentLog::Impl {
  explicit Impl(SegmentLogOptions o);

  // Every field below is guarded by mu (the public methods lock it; the
  // helpers REQUIRE it held).
  mutable std::mutex mu;
  const SegmentLogOptions opts;
  // The roll limits: opts' at open, then set_roll_limits().
  std::uint64_t segment_bytes = 0;
  std::int64_t segment_ms = 0;
  const log::Logger log{"storage"};

  raft::HardState hs;
  std::uint64_t hs_seq = 0;      // the newest hardstate slot's sequence
  detail::FileHandle hs_fd;      // the hardstate file once it exists
  raft::SnapshotMeta snap_meta;  // index 0: none
  std::uint64_t snap_next_offset = 0;
  bool snap_installed = false;  // by apply_snapshot (replaces the log)
  StartPoint start;             // the compaction point
  std::vector<detail::Segment> segments;  // oldest first; back() active
  std::optional<Error> failed;  // set by the first failed write or sync
  bool destroyed = false;

  // ---- segment_log.cc ----
  std::string path(std::string_view name) const;
  raft::LogIndex first_index() const { return start.first_index; }
  raft::LogIndex last_index() const;
  std::uint64_t next_offset() const;
  // The segment holding entry i (first_index()-1 < i <= last_index() or a
  // hidden entry still in the first segment); nullptr when none.
  const detail::Segment* find(std::uint64_t i) const;
  Result<raft::Term> term_of(raft::LogIndex i) const;
  Result<std::uint64_t> offset_after(raft::LogIndex i) const;
  Error corrupt(const detail::Segment& s, std::string_view what,
                std::uint64_t pos) const;
  std::int64_t now_ms() const;
  // Whether segment `s` was created segment_ms or longer ago (0: never).
  bool past_segment_ms(const detail::Segment& s, std::int64_t now) const;
  // Whether the active (last) segment holds entries and is past
  // segment_ms: it would roll at the next append, so retention may treat
  // it as rolled.
  bool active_aged_out(std::int64_t now) const;

  // ---- segment_write.cc ----
  Status check_writable() const;
  Error fail(Error e);
  // Deletes entries >= index, durably. REQUIRES: index >= first_index().
  Status truncate_from(std::uint64_t index);
  Status write_start(const StartPoint& s);
  // Deletes the segments whose entries are all <= up_to (all of them
  // with UINT64_MAX), oldest first, then syncs the directory. A file that
  // cannot be deleted is left (with a warning) for the next open.
  void delete_segments_up_to(std::uint64_t up_to);

  // ---- segment_recovery.cc ----
  Status recover();
  // Reads and checks one segment file; nullopt when it was the last one
  // and held nothing valid (it is then deleted).
  Result<std::optional<detail::Segment>> scan_segment(std::uint64_t first,
                                                      bool is_last,
                                                      std::uint64_t prev_term);
};

}  // namespace nw::storage
