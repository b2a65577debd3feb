#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/result.h"

// Record batches: the unit of produce, of replication and of storage
// (docs/formats/segment.md is the single source of truth for the layout).
// The same bytes travel from nwctl to the agent in a produce body, are one
// entry of the partition's Raft log, are written once to a segment file,
// and are sent back to consumers in a fetch body.
//
// The fields before the CRC (base offset, length, Raft index and term) are
// stamped by the partition's log when the batch is appended, so stamping
// never recomputes the CRC; the CRC32C covers everything after itself.
//
// Value types and pure functions; safe from any thread.
namespace nw::records {

// Byte positions of the fixed batch header (little-endian).
inline constexpr std::size_t kBaseOffsetPos = 0;       // u64
inline constexpr std::size_t kBatchLengthPos = 8;      // u32, bytes after it
inline constexpr std::size_t kRaftIndexPos = 12;       // u64
inline constexpr std::size_t kRaftTermPos = 20;        // u64
inline constexpr std::size_t kMagicPos = 28;           // u8
inline constexpr std::size_t kCrcPos = 29;             // u32, over [33, end)
inline constexpr std::size_t kAttributesPos = 33;      // u16
inline constexpr std::size_t kRecordCountPos = 35;     // u32
inline constexpr std::size_t kFirstTimestampPos = 39;  // i64, ms since epoch
inline constexpr std::size_t kMaxTimestampPos = 47;    // i64
inline constexpr std::size_t kProducerIdPos = 55;      // i64, -1 = none
inline constexpr std::size_t kBaseSequencePos = 63;    // i32, -1 = none
inline constexpr std::size_t kHeaderSize = 67;
inline constexpr std::uint8_t kMagic = 1;
// A batch never exceeds this (header included); bigger input is refused.
inline constexpr std::size_t kMaxBatchBytes = 64u << 20;

// attributes bits
inline constexpr std::uint16_t kAttrControl = 1u << 4;

// What a control batch carries (its body is one kind byte, then data).
enum class ControlKind : std::uint8_t {
  raft_noop = 0,    // the leader's empty entry of its term; no data
  conf_change = 1,  // data: an encoded raft::ConfChange
};

struct Header {
  std::string key;
  std::optional<std::string> value;  // nullopt: a header with no value
  bool operator==(const Header&) const = default;
};

// One message.
struct Record {
  std::optional<std::string> key;    // nullopt: no key (distinct from "")
  std::optional<std::string> value;  // nullopt: a tombstone / no value
  std::vector<Header> headers;
  std::uint8_t priority = 0;  // 0 (default) .. 255 (most urgent)
  std::int64_t timestamp_ms = 0;
  // Filled by decode: base_offset + offset delta. Ignored by the builder.
  std::uint64_t offset = 0;
  bool operator==(const Record&) const = default;
};

// The fixed header's fields, as decoded.
struct BatchInfo {
  std::uint64_t base_offset = 0;
  std::uint64_t raft_index = 0;
  std::uint64_t raft_term = 0;
  std::uint16_t attributes = 0;
  std::uint32_t record_count = 0;
  std::int64_t first_timestamp_ms = 0;
  std::int64_t max_timestamp_ms = 0;
  std::int64_t producer_id = -1;
  std::int32_t base_sequence = -1;
  std::uint32_t size = 0;  // the whole batch in bytes, header included

  bool control() const { return (attributes & kAttrControl) != 0; }
  // The offset after this batch's last record.
  std::uint64_t next_offset() const { return base_offset + record_count; }
};

// Builds one data batch from records (offsets ignored; offset deltas are
// 0..n-1; base offset, Raft index and term 0, to be stamped). first/max
// timestamps come from the records' timestamps.
// REQUIRES: !records.empty().
std::string build_batch(const std::vector<Record>& records,
                        std::int64_t producer_id = -1,
                        std::int32_t base_sequence = -1);

// A control batch (record count 0) of `kind` with `data`.
std::string build_control_batch(ControlKind kind, std::string_view data);

// The fixed header of the batch at the start of `bytes` (which may hold
// more after it), with the CRC and the length checked.
// Errors: Code::invalid_argument ("record batch: <reason>") for a short
// buffer, a bad magic, a length beyond the buffer or kMaxBatchBytes, a
// CRC mismatch ("record batch: crc mismatch").
Result<BatchInfo> read_batch_info(std::string_view bytes);
// As read_batch_info, without the CRC: for a batch already checked (one
// read back from the log that verified it on the way in).
Result<BatchInfo> read_batch_header(std::string_view bytes);

// The records of one whole batch (exactly one batch: trailing bytes are an
// error), offsets filled from the base offset.
// Errors: Code::invalid_argument as read_batch_info, plus a record that
// does not parse, a count that does not match (or is 0), a control batch.
Result<std::vector<Record>> decode_records(std::string_view batch);

// The kind and data of a control batch.
// Errors: Code::invalid_argument (not a control batch, bad kind, bad CRC).
Result<std::pair<ControlKind, std::string>> decode_control(
    std::string_view batch);

// Overwrites the stamped fields of a batch in place (no CRC change).
// REQUIRES: batch->size() >= kHeaderSize.
void stamp_batch(std::string* batch, std::uint64_t base_offset,
                 std::uint64_t raft_index, std::uint64_t raft_term);

// Splits a buffer of consecutive whole batches (a fetch body) into views.
// Errors: Code::invalid_argument when a batch is cut short or fails
// read_batch_info.
Result<std::vector<std::string_view>> split_batches(std::string_view bytes);

// The partition a keyed record goes to: crc32c(key) % partitions (the
// CRC-32C of the key bytes, as common/base/crc32c.h computes it). Every
// client and the agent use this one function, so a key always lands in the
// same partition while the partition count stays the same (adding
// partitions moves keys). Records without a key are spread by the client
// (round robin), not by this function.
// REQUIRES: partitions > 0 (0 returns 0 rather than dividing by zero).
std::uint32_t partition_for_key(std::string_view key, std::uint32_t partitions);

// LEB128 varints and zigzag, as records use them (exposed for tests).
void put_varint(std::string* out, std::uint64_t v);
void put_zigzag(std::string* out, std::int64_t v);
// Read one varint / zigzag varint from the front of `*in` and advance it.
// nullopt (and `*in` unchanged) when the input ends inside the varint or
// the varint is longer than 10 bytes or overflows 64 bits.
std::optional<std::uint64_t> get_varint(std::string_view* in);
std::optional<std::int64_t> get_zigzag(std::string_view* in);

}  // namespace nw::records
