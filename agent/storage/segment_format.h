#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/raft/types.h"
#include "common/base/result.h"

// The byte layout of the segment log's files other than the batches
// themselves: segment headers, sparse index entries, and the hardstate,
// snapshot and start files. docs/formats/segment.md is the reference; this
// file and that page change together. Little-endian, CRC-32C. Pure
// functions, no I/O; safe from any thread.
namespace nw::storage {

inline constexpr std::uint32_t kFormatVersion = 1;

// ---- segment file header ----
inline constexpr std::string_view kSegmentMagic = "NWSG";
inline constexpr std::size_t kSegmentHeaderSize = 36;

struct SegmentHeader {
  std::uint64_t first_index = 0;
  std::uint64_t base_offset = 0;
  std::int64_t created_ms = 0;
  bool operator==(const SegmentHeader&) const = default;
};

std::string encode_segment_header(const SegmentHeader& h);
// nullopt when `file` is shorter than a header, or the magic, version or
// CRC is wrong.
std::optional<SegmentHeader> decode_segment_header(std::string_view file);

// ---- file names ----
// "<index, 20 digits><suffix>"; suffix ".log", ".index" or ".timeindex".
std::string segment_file_name(std::uint64_t first_index,
                              std::string_view suffix);
// The first index of "<20 digits><suffix>", nullopt for any other name.
std::optional<std::uint64_t> parse_segment_file_name(std::string_view name,
                                                     std::string_view suffix);

inline constexpr std::string_view kLogSuffix = ".log";
inline constexpr std::string_view kIndexSuffix = ".index";
inline constexpr std::string_view kTimeIndexSuffix = ".timeindex";
inline constexpr std::string_view kHardStateFile = "hardstate";
inline constexpr std::string_view kSnapshotFile = "snapshot";
inline constexpr std::string_view kStartFile = "start";

// ---- sparse index entries (16 bytes each) ----
inline constexpr std::size_t kIndexEntrySize = 16;
struct IndexPoint {
  std::uint64_t offset = 0;    // base offset of the batch
  std::uint64_t position = 0;  // its byte position in the .log
  std::int64_t max_ts = -1;    // running max timestamp (the .timeindex)
  bool operator==(const IndexPoint&) const = default;
};
// Appends the .index entry / the .timeindex entry of `p` to `out`.
void append_offset_entry(std::string* out, const IndexPoint& p);
void append_time_entry(std::string* out, const IndexPoint& p);

// ---- hardstate (two slots) ----
inline constexpr std::size_t kHardStateSlotSize = 48;
inline constexpr std::size_t kHardStateSlot1Pos = 512;
inline constexpr std::size_t kHardStateFileSize =
    kHardStateSlot1Pos + kHardStateSlotSize;

std::string encode_hard_state_slot(std::uint64_t seq,
                                   const raft::HardState& hs);
struct HardStateSlots {
  std::uint64_t seq = 0;  // 0: no valid slot
  raft::HardState hs;
};
// The newest valid slot of a hardstate file (seq 0 when neither is valid).
HardStateSlots decode_hard_state_file(std::string_view file);
// The byte position of the slot that write number `seq` goes to.
inline std::size_t hard_state_slot_pos(std::uint64_t seq) {
  return seq % 2 == 0 ? 0 : kHardStateSlot1Pos;
}

// ---- snapshot ----
inline constexpr std::string_view kSnapshotMagic = "NWSS";
// `installed`: written by apply_snapshot (the snapshot replaces the whole
// log), not by create_snapshot; open() finishes an install a crash cut.
std::string encode_snapshot_file(const raft::SnapshotMeta& meta,
                                 std::string_view data, bool installed);
struct SnapshotFile {
  raft::Snapshot snap;
  bool installed = false;
};
// Errors: Code::corruption (message names `path` and the byte position).
Result<SnapshotFile> decode_snapshot_file(std::string_view file,
                                          const std::string& path);

// ---- start ----
inline constexpr std::string_view kStartMagic = "NWST";
inline constexpr std::size_t kStartFileSize = 36;
struct StartPoint {
  raft::LogIndex first_index{1};       // the log's first_index()
  raft::Term prev_term;                // term of first_index - 1
  std::uint64_t prev_next_offset = 0;  // offset after first_index - 1
  bool operator==(const StartPoint&) const = default;
};
std::string encode_start_file(const StartPoint& s);
std::optional<StartPoint> decode_start_file(std::string_view file);

}  // namespace nw::storage
