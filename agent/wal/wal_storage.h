#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/raft/log_storage.h"
#include "common/base/result.h"

namespace nw::wal {

struct WalOptions {
  // A new segment is started when the next record would take the active
  // one past this size (a record larger than this gets a segment alone).
  std::uint64_t segment_bytes = std::uint64_t{64} << 20;
  // fdatasync/fsync before a mutating call returns. Only tests where
  // durability is not under test may turn it off. Snapshot files are
  // always fsynced.
  bool fsync = true;
};

// The controller's durable raft::LogStorage: a write-ahead log of
// CRC-checked records in segment files, plus the newest snapshot in its own
// file. Reads are served from memory: the entries after the compaction
// point, the hard state and the snapshot's meta are kept in memory (the
// controller's log is small and compacted by snapshots; see README.md for
// the bound). snapshot() reads the snapshot file.
//
// ON-DISK FORMAT (docs/formats/controller-wal.md is the reference, byte by
// byte). A directory holding:
//   wal-<seq, 20 digits>.log   segments, seq 1, 2, 3, ... without gaps
//   snapshot-<term>-<index>    the current snapshot (at most one after open)
//   *.tmp                      a snapshot being written; removed on open
// A segment is a 20-byte header (magic "NWAL", u32 version 1, u64 seq,
// u32 CRC-32C) followed by records. Every record is framed as
//   u32 length | u32 crc(type+payload) | u8 type | u32 crc(previous 9 bytes)
//   | payload (length bytes)
// little-endian, CRC-32C. Record types: checkpoint (always, and only, the
// first record of a segment: compaction point, last index, hard state and
// snapshot reference at the time the segment was started), append (a first
// index and entries; a first index <= the last index replaces the suffix
// from there, in the same record, so a suffix replacement is atomic),
// hard_state, snapshot (snapshot-<term>-<index> is now the current
// snapshot; a flag says whether it replaces the whole log) and compact
// (entries up to an index, with its term, were dropped). A snapshot file
// is magic "NWSN", u32 version, u64 index, u64 term, voters and learners
// (u32 count + u64 ids each), u64 data length, data, u32 CRC-32C of all of
// it.
//
// Every mutating call writes exactly one record with one write(2) and then
// fdatasync(2)s it before returning OK (a new segment, or a snapshot file,
// is also fsynced together with the directory). Segments roll at
// segment_bytes; segment k is deleted, oldest first, once the compaction
// point reaches the last index recorded in segment k+1's checkpoint (every
// entry k holds is then compacted, and k+1's checkpoint supersedes k's
// other records). A new snapshot file is written as snapshot-T-I.tmp,
// fsynced, renamed and the directory fsynced, then the snapshot record is
// appended; older snapshot files are deleted after that.
//
// WHAT HAPPENS AFTER A CRASH. open() replays the segments in order:
// - The last segment may end in a torn write: a record cut short, or one
//   failing its CRC with no valid record after it in the file. That tail
//   is truncated with a warning naming the file and the byte offset
//   (LogCabin's rule); since each call is one record, the state is exactly
//   that of the last call that returned OK. A last segment that has not
//   got its checkpoint yet (a crash while rolling) is deleted the same way.
// - Any other bad record (a failed CRC followed by valid records, a
//   damaged segment before the last, a record that does not fit the log
//   before it, a segment missing in the middle of the entries still
//   needed) is Code::corruption naming the file and the byte offset. Never
//   silently dropped, never a crash.
// - The snapshot the log references must exist and pass its CRC, or open()
//   fails with Code::corruption. Snapshot files it does not reference
//   (older ones not yet deleted, or a newer one whose record never made it
//   to the log: the call did not return OK) are deleted, as are *.tmp.
// - Segments before a gap in the sequence (left by an interrupted
//   deletion) are deleted; if entries that are still needed were in them,
//   open() fails with Code::corruption instead.
// After a failed write or fsync the object refuses further writes (the
// page cache may no longer match the disk): reopen it to recover.
//
// Lifecycle: open() recovers and keeps the active segment open for
// appending until destruction. One WalStorage per directory at a time
// (DataDir's lock guarantees one agent per data directory).
// Threads: none of its own; the host serializes every call (LogStorage's
// contract).
class WalStorage final : public raft::LogStorage {
 public:
  // Opens (creating it if needed) the WAL in `dir` and recovers its state.
  // Errors: Code::corruption (with file, byte offset and a hint);
  // Code::io_error.
  static Result<std::unique_ptr<WalStorage>> open(const std::string& dir,
                                                  WalOptions options = {});
  ~WalStorage() override;
  WalStorage(const WalStorage&) = delete;
  WalStorage& operator=(const WalStorage&) = delete;

  raft::HardState hard_state() const override { return hard_state_; }
  raft::SnapshotMeta snapshot_meta() const override { return snapshot_meta_; }
  // Reads and checks the snapshot file. Errors: Code::not_found when there
  // is none; Code::io_error; Code::corruption.
  Result<raft::Snapshot> snapshot() const override;
  raft::LogIndex first_index() const override { return ents_[0].index + 1; }
  raft::LogIndex last_index() const override { return ents_.back().index; }
  Result<raft::Term> term(raft::LogIndex i) const override;
  Result<std::vector<raft::Entry>> entries(
      raft::LogIndex lo, raft::LogIndex hi,
      std::uint64_t max_bytes) const override;

  // The mutating calls return Code::io_error when the write or the sync
  // fails (and every later one then fails too), besides the errors that
  // LogStorage documents. A snapshot at index 0 is failed_precondition.
  Status append(const std::vector<raft::Entry>& entries) override;
  Status set_hard_state(const raft::HardState& hs) override;
  Status apply_snapshot(raft::Snapshot snap) override;
  Status create_snapshot(raft::SnapshotMeta meta, std::string data) override;
  Status compact(raft::LogIndex up_to) override;

  const std::string& dir() const { return dir_; }
  // The segment file names, oldest first (for tests and metrics).
  std::vector<std::string> segment_names() const;

 private:
  struct Segment {
    std::uint64_t seq = 0;
    std::uint64_t size = 0;
    raft::LogIndex last_at_start;  // last index in its checkpoint
  };

  WalStorage(std::string dir, WalOptions options);

  // wal_recovery.cc
  Status recover();
  Status create_first_segment();
  Status open_active_segment();

  // wal_storage.cc
  std::string path(std::string_view name) const;
  std::string segment_path(std::uint64_t seq) const;
  Status check_writable() const;
  Error fail(Error e);
  Status write_record(const std::string& record);
  Status start_segment(std::uint64_t seq);
  Status write_snapshot_file(const raft::SnapshotMeta& meta,
                             std::string_view data);
  void delete_covered_segments();
  void delete_other_snapshots();

  const std::string dir_;
  const WalOptions options_;
  raft::HardState hard_state_;
  raft::SnapshotMeta snapshot_meta_;
  // ents_[0] is a placeholder for the compaction point (its index and
  // term); the entries after it follow, as in MemoryStorage.
  std::vector<raft::Entry> ents_;
  std::vector<Segment> segments_;  // oldest first; back() is active
  int fd_ = -1;                    // the active segment, for appending
  std::optional<Error> failed_;    // set by the first failed write or sync
};

}  // namespace nw::wal
