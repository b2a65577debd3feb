#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/raft/types.h"
#include "common/base/result.h"

// The byte layout of the controller's WAL: segment headers, record frames,
// record payloads and snapshot files. docs/formats/controller-wal.md is the
// reference; this file and that page change together. Every integer is
// little-endian. Pure functions, no I/O; safe from any thread.
namespace nw::wal {

inline constexpr std::uint32_t kFormatVersion = 1;

// Segment header: magic "NWAL", u32 version, u64 sequence number, u32
// CRC-32C of the 16 bytes before it.
inline constexpr std::string_view kSegmentMagic = "NWAL";
inline constexpr std::size_t kSegmentHeaderSize = 20;

// Record frame: u32 length (of the payload), u32 crc (CRC-32C of the type
// byte and the payload), u8 type, u32 header crc (CRC-32C of the 9 bytes
// before it), then the payload.
inline constexpr std::size_t kRecordHeaderSize = 13;
// No record is larger; a length above it is a damaged header.
inline constexpr std::uint32_t kMaxRecordPayload = 1u << 30;
// A checkpoint record's payload: eight u64.
inline constexpr std::size_t kCheckpointPayloadSize = 64;

// Snapshot file: magic "NWSN", u32 version, then meta, data and a CRC.
inline constexpr std::string_view kSnapshotMagic = "NWSN";

enum class RecordType : std::uint8_t {
  checkpoint = 1,  // the state at the start of a segment
  append = 2,      // entries from an index on, replacing any suffix there
  hard_state = 3,  // term, vote, commit
  snapshot = 4,    // a snapshot file became the current snapshot
  compact = 5,     // entries up to an index were dropped
};

// The first record of every segment: everything a replay that starts at
// this segment needs besides the entries (base_index, last_index].
struct Checkpoint {
  raft::LogIndex base_index;  // compaction point: first_index() - 1
  raft::Term base_term;
  raft::LogIndex last_index;
  raft::HardState hard_state;
  raft::LogIndex snapshot_index;  // 0: no snapshot
  raft::Term snapshot_term;

  bool operator==(const Checkpoint&) const = default;
};

struct SnapshotRecord {
  raft::LogIndex index;
  raft::Term term;
  bool replaces_log = false;  // apply_snapshot (true) or create_snapshot
};

struct CompactRecord {
  raft::LogIndex up_to;
  raft::Term term;  // of entry up_to
};

// Appends one framed record to `out`.
void append_checkpoint(std::string* out, const Checkpoint& cp);
// REQUIRES: entries non-empty with consecutive indexes.
void append_entries(std::string* out, const std::vector<raft::Entry>& ents);
void append_hard_state(std::string* out, const raft::HardState& hs);
void append_snapshot(std::string* out, const SnapshotRecord& rec);
void append_compact(std::string* out, const CompactRecord& rec);

// Payload decoders; nullopt when the payload is malformed.
std::optional<Checkpoint> decode_checkpoint(std::string_view payload);
std::optional<std::vector<raft::Entry>> decode_entries(
    std::string_view payload);
std::optional<raft::HardState> decode_hard_state(std::string_view payload);
std::optional<SnapshotRecord> decode_snapshot(std::string_view payload);
std::optional<CompactRecord> decode_compact(std::string_view payload);

std::string encode_segment_header(std::uint64_t seq);
// The sequence number of a valid header at the start of `file`; nullopt
// when it is short, has the wrong magic or version, or fails its CRC.
std::optional<std::uint64_t> decode_segment_header(std::string_view file);

enum class FrameStatus : std::uint8_t {
  ok,
  truncated,   // the header or payload runs past the end of the file
  bad_header,  // header CRC mismatch or impossible length
  bad_crc,     // payload CRC mismatch
};

struct Frame {
  FrameStatus status = FrameStatus::truncated;
  RecordType type = RecordType::checkpoint;
  std::string_view payload;
  std::size_t size = 0;  // header + payload, when status is ok
};

// The record frame at `pos` of `file`.
Frame read_frame(std::string_view file, std::size_t pos);
// "truncated record", "record header CRC mismatch", ...
std::string_view describe(FrameStatus s);

// The whole snapshot file for `meta` and `data`.
std::string encode_snapshot_file(const raft::SnapshotMeta& meta,
                                 std::string_view data);
// Errors: Code::corruption (message names `path` and the byte offset).
Result<raft::Snapshot> decode_snapshot_file(std::string_view file,
                                            const std::string& path);

// File names: "wal-<seq, 20 digits>.log", "snapshot-<term>-<index>".
std::string segment_name(std::uint64_t seq);
std::optional<std::uint64_t> parse_segment_name(std::string_view name);
std::string snapshot_name(raft::Term term, raft::LogIndex index);
std::optional<std::pair<raft::Term, raft::LogIndex>> parse_snapshot_name(
    std::string_view name);

}  // namespace nw::wal
