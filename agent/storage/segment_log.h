#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/raft/log_storage.h"
#include "agent/raft/types.h"
#include "common/base/result.h"

namespace nw::storage {

struct SegmentLogOptions {
  // The partition replica's directory; created when missing.
  std::string dir;
  // The active segment rolls once it holds at least this many bytes...
  std::uint64_t segment_bytes = 128ull << 20;
  // ...or once its first batch is older than this (ms); 0: never by age.
  std::int64_t segment_ms = 7ll * 24 * 3600 * 1000;
  // One sparse offset-index and time-index entry per this many bytes.
  std::uint32_t index_interval_bytes = 4096;
  // fdatasync before append()/set_hard_state()/... return. Off only in
  // tests and benchmarks that say so.
  bool fsync = true;
  // Wall clock in ms since the epoch (segment age); tests inject one.
  std::function<std::int64_t()> now_ms;
};

// One segment as status pages and retention see it.
struct SegmentInfo {
  std::string path;               // the .log file
  raft::LogIndex first_index;     // Raft index of its first entry
  raft::LogIndex last_index;      // of its last entry (first - 1 when empty)
  std::uint64_t base_offset = 0;  // message offset of its first record
  std::uint64_t next_offset = 0;  // offset after its last record
  std::uint64_t bytes = 0;
  std::int64_t max_timestamp_ms = -1;  // -1: no data batch
  std::int64_t created_ms = 0;         // first batch's append time
  bool active = false;                 // the segment being written
};

// The log of one partition replica: the partition's Raft log stored as
// segment files of record batches (docs/formats/segment.md), so a batch is
// written to disk once. Every Raft entry is one batch: a normal entry's data
// is a data batch (as produced, validated by the leader), the leader's
// no-op and conf changes are control batches. append() stamps each batch
// with its Raft index and term and its base offset: message offsets are
// assigned in log order (the offset after the previous batch's last record),
// so every replica assigns the same offsets to the same committed entries.
//
// On disk, in `dir`: <first raft index, 20 digits>.log segment files (a
// 36-byte header with the first index, base offset and creation time, then
// the batches) with a .index (sparse offset -> position) and .timeindex
// (sparse max timestamp -> offset) beside each; `snapshot` and `start`
// (the log's logical first index after compact()) written atomically (temp
// file + rename + directory fsync); `hardstate`, two checksummed slots
// written alternately in place, so that one fdatasync makes it durable and
// a torn write leaves the previous slot. Index files are derived: they are
// rebuilt from the segment when missing or invalid. The in-memory table of
// every batch (about 40 bytes each) serves all lookups.
//
// Recovery (open): every segment is scanned and every batch checked. In
// the last segment, a torn tail (damage after which no valid batch follows
// in the file: a batch cut short, a bad CRC in the last batch, a zero-
// filled tail) is truncated with a warning. Any other failed check (a CRC
// mismatch in an earlier batch or an earlier segment, a gap in Raft
// indexes or offsets) fails open() with Code::corruption naming the file
// and the byte position, so the partition goes offline and the agent goes
// on. docs/formats/segment.md has every rule.
//
// Snapshot data convention: the first 8 bytes of a snapshot's data (little
// endian u64) are the message offset after its last entry (the next offset
// at snapshot.index); the rest belongs to the partition layer. A snapshot
// installed from the leader (apply_snapshot) therefore tells the log where
// its offsets continue.
//
// Threads: the LogStorage calls come from the partition's Raft host thread
// (one writer); the data-side reads (read, offsets, segments) are safe from
// any thread at the same time. All state is guarded by one mutex
// (Impl::mu); reads pread under it.
class SegmentLog final : public raft::LogStorage {
 public:
  // Opens (or creates) the log in options.dir and recovers it.
  // Errors: Code::corruption (file and position named), Code::io_error.
  static Result<std::unique_ptr<SegmentLog>> open(SegmentLogOptions options);
  ~SegmentLog() override;

  // ---- raft::LogStorage ----
  raft::HardState hard_state() const override;
  raft::SnapshotMeta snapshot_meta() const override;
  Result<raft::Snapshot> snapshot() const override;
  raft::LogIndex first_index() const override;
  raft::LogIndex last_index() const override;
  Result<raft::Term> term(raft::LogIndex i) const override;
  Result<std::vector<raft::Entry>> entries(
      raft::LogIndex lo, raft::LogIndex hi,
      std::uint64_t max_bytes) const override;
  // Normal entries with data must hold exactly one valid data batch;
  // normal entries without data and conf changes become control batches.
  // Errors: Code::invalid_argument (an entry's data is not one valid
  // batch: nothing is written), Code::io_error.
  Status append(const std::vector<raft::Entry>& entries) override;
  Status set_hard_state(const raft::HardState& hs) override;
  // Besides LogStorage's errors: Code::invalid_argument when the data does
  // not follow the snapshot data convention below (for create_snapshot,
  // also when its next offset is not offset_after(meta.index)); a snapshot
  // at index 0 is Code::failed_precondition. Every mutating call returns
  // Code::io_error when a write or sync fails, and every later write then
  // fails the same way until the log is reopened.
  Status apply_snapshot(raft::Snapshot snap) override;
  Status create_snapshot(raft::SnapshotMeta meta, std::string data) override;
  Status compact(raft::LogIndex up_to) override;

  // ---- The data side (any thread) ----
  // The oldest message offset still stored (the snapshot's next offset
  // when no data batch is left).
  std::uint64_t start_offset() const;
  // The offset after the last stored record (committed or not).
  std::uint64_t next_offset() const;
  // The offset after the last record of entry `i` (the high watermark
  // when i is the commit index). Errors: Code::not_found when i is before
  // the snapshot or beyond last_index().
  Result<std::uint64_t> offset_after(raft::LogIndex i) const;
  // The base offset and record count of entry `i`'s batch.
  // Errors: Code::not_found.
  Result<std::pair<std::uint64_t, std::uint32_t>> batch_offsets(
      raft::LogIndex i) const;
  // Whole data batches (control batches skipped), as stored, that hold
  // records at or after `offset`, from entries at or before `max_index`
  // (the commit index), concatenated, up to max_bytes but at least one
  // batch when there is one. Empty when there is nothing at or after
  // `offset` below max_index.
  // Errors: Code::failed_precondition when offset < start_offset();
  // Code::io_error.
  Result<std::string> read(std::uint64_t offset, raft::LogIndex max_index,
                           std::uint64_t max_bytes) const;
  // The first offset whose batch's max timestamp is >= ts_ms, among
  // entries at or before max_index; offset_after(max_index) when none.
  Result<std::uint64_t> offset_for_time(std::int64_t ts_ms,
                                        raft::LogIndex max_index) const;
  // Every segment, oldest first.
  std::vector<SegmentInfo> segments() const;
  // Bytes of all segment files.
  std::uint64_t size_bytes() const;

  // Retention: the highest index `b` such that every segment wholly at or
  // before `b` may go: segments (never one holding an entry after
  // max_index) older than retention_ms (by max timestamp vs now) or, oldest
  // first, while the total size exceeds retention_bytes. -1 disables
  // either limit. raft::LogIndex(0) when nothing may go. The active
  // segment counts only once it is past segment_ms (the next append would
  // roll it anyway): so the data of a partition nobody writes to still
  // ages out. When it goes, every segment goes; the log is then empty
  // (first_index() = last_index() + 1, its term and next offset kept by
  // the start point, as after apply_snapshot) and the next append starts
  // a new segment.
  // The caller then takes create_snapshot(b) and compact(b).
  raft::LogIndex retention_point(std::int64_t retention_ms,
                                 std::int64_t retention_bytes,
                                 raft::LogIndex max_index) const;

  // Changes the roll limits of SegmentLogOptions (topic alter); they apply
  // from the next append (and to retention_point at once).
  void set_roll_limits(std::uint64_t segment_bytes, std::int64_t segment_ms);

  // Deletes every file of the log and the directory (topic deleted,
  // replica moved away). The object must not be used afterwards.
  Status destroy();

 private:
  struct Impl;
  explicit SegmentLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Snapshot data as the convention above: next offset, then `rest`.
std::string encode_snapshot_data(std::uint64_t next_offset,
                                 std::string_view rest);
// Errors: Code::corruption when shorter than 8 bytes.
Result<std::pair<std::uint64_t, std::string_view>> decode_snapshot_data(
    std::string_view data);

}  // namespace nw::storage
