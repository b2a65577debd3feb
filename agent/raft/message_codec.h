#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/raft/types.h"
#include "common/base/result.h"

// The binary wire encoding of a raft::Message: the payload of a peer
// transport frame of type "message" (docs/formats/peer-frames.md). The
// byte layout, its versions and the compatibility rule are specified in
// docs/formats/raft-messages.md; this file and that page change together.
//
// Pure functions, no I/O, no state; safe from any thread.
namespace nw::raft {

// The format version encode_message writes (the first byte).
// Version 2 (chunked snapshots, snapshot_resp) replaced version 1, which
// never left development: only version 2 is accepted.
inline constexpr std::uint8_t kMessageFormatVersion = 2;

// The largest snapshot_size a message may claim (1 TiB): far beyond any
// snapshot we take, and it keeps offset arithmetic far from overflow.
inline constexpr std::uint64_t kMaxSnapshotSize = std::uint64_t{1} << 40;

// The encoding of `m` (format version kMessageFormatVersion): every field,
// including entries and the snapshot chunk. Fields equal to 0 take no space.
// REQUIRES (bugs otherwise, checked by NW_ASSERT): m.type and every entry
// type are declared enumerators; entries have consecutive indexes starting
// at an index >= 1; every entry's data is smaller than 4 GiB; with a
// snapshot, snapshot_size <= kMaxSnapshotSize and the chunk
// [snapshot_offset, + data size) lies within snapshot_size; without one,
// snapshot_offset, snapshot_size and snapshot_done are 0/false.
std::string encode_message(const Message& m);

// The Message encoded in `bytes`. Safe on untrusted input: never reads out
// of bounds, never allocates more than a small constant factor of
// bytes.size() whatever the length fields claim, never asserts.
// Errors: Code::invalid_argument, message "raft message: <reason>", when
// `bytes` is not exactly one valid encoding: an unsupported format version
// (the message names the version seen and the supported one), truncation
// (naming where, e.g. "truncated in entry 3 data"; entries count from 0),
// trailing bytes, an out-of-range enum value or reserved bit, a snapshot
// chunk outside its snapshot or a snapshot size over kMaxSnapshotSize, or a
// non-canonical encoding. Every accepted input is the encode_message output
// of the returned Message.
Result<Message> decode_message(std::string_view bytes);

}  // namespace nw::raft
