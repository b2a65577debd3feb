#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"

// The peer frame codec: how transport messages look on the wire. The format
// is specified byte by byte in docs/formats/peer-frames.md (the single
// source of truth; keep the two in step). No I/O here, so it is unit-tested
// on its own and compiles without Boost.
namespace nw::transport {

// [u32 length][u32 crc32c][u8 type][u64 group], before the payload.
inline constexpr std::size_t kFrameHeaderSize = 17;
// The smallest `max_frame_size` a Transport accepts: room for a hello with
// long ids, and far below any real limit.
inline constexpr std::uint32_t kMinMaxFrameSize = 1024;
// The protocol version a hello carries. A peer with another version is
// refused (there is only one so far).
inline constexpr std::uint16_t kProtocolVersion = 1;

enum class FrameType : std::uint8_t {
  hello = 1,    // first frame on every connection, both directions
  message = 2,  // an opaque payload for one Raft group
};

// Why an incoming frame was refused; the `reason` label of
// nw_transport_bad_frames_total, hence stable snake_case spellings.
enum class FrameDefect : std::uint8_t {
  bad_length,    // length field below the header size
  too_large,     // length field above max_frame_size
  bad_crc,       // checksum mismatch
  unknown_type,  // type byte not in FrameType
  bad_hello,     // a hello payload that does not decode
  unexpected,    // a valid frame at the wrong time (message before hello)
};
std::string_view to_string(FrameDefect defect);

// One decoded frame; `payload` points into the buffer given to
// decode_frame() and is valid as long as that buffer is.
struct Frame {
  FrameType type = FrameType::message;
  std::uint64_t group = 0;
  std::string_view payload;
  std::size_t size = 0;  // bytes the frame took in the buffer
};

// What decode_frame() found at the start of a buffer. Three outcomes, not a
// Result: "need more bytes" is the normal state of a stream reader, not an
// error.
struct DecodeResult {
  enum class Kind : std::uint8_t { frame, need_more, bad };
  Kind kind = Kind::need_more;
  Frame frame;             // kind == frame
  std::size_t needed = 0;  // kind == need_more: the frame's total size when
                           // the length field is in, else kFrameHeaderSize
  FrameDefect defect = FrameDefect::bad_length;  // kind == bad
  std::string detail;                            // kind == bad, for logs
};

// The frame size (length field) of a frame with this payload.
inline std::size_t frame_size(std::size_t payload_size) {
  return kFrameHeaderSize + payload_size;
}

// Appends one encoded frame to `out`.
// REQUIRES: frame_size(payload.size()) fits in a u32 (NW_ASSERT).
void append_frame(std::string& out, FrameType type, std::uint64_t group,
                  std::string_view payload);
std::string encode_frame(FrameType type, std::uint64_t group,
                         std::string_view payload);

// Decodes the frame at the start of `data`. A length field above
// `max_frame_size` is refused as soon as the length field is in, so a reader
// never buffers more than max_frame_size bytes for one frame.
DecodeResult decode_frame(std::string_view data, std::uint32_t max_frame_size);

// The payload of a hello frame.
struct Hello {
  std::uint16_t version = kProtocolVersion;
  // The sender's peer port (0: it does not listen). With the connection's
  // remote IP it is the address to dial the sender back at.
  std::uint16_t listen_port = 0;
  std::string node_id;
  std::string cluster_id;  // empty: the sender does not check
};

// REQUIRES: node_id and cluster_id are at most 65535 bytes (NW_ASSERT).
std::string encode_hello(const Hello& hello);
// invalid_argument "bad hello: ..." for a payload that is truncated, has
// trailing bytes or an empty node id.
Result<Hello> decode_hello(std::string_view payload);

}  // namespace nw::transport
