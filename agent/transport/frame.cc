#include "agent/transport/frame.h"

#include <cstring>
#include <limits>

#include "common/base/assert.h"
#include "common/base/crc32c.h"

namespace nw::transport {
namespace {

constexpr std::size_t kLengthOffset = 0;
constexpr std::size_t kCrcOffset = 4;
constexpr std::size_t kTypeOffset = 8;
constexpr std::size_t kGroupOffset = 9;

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

std::uint64_t get_le(std::string_view in, std::size_t pos, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[pos + i]))
         << (8 * i);
  }
  return v;
}

// The checksum covers the length field and everything after the checksum,
// so a corrupted length is caught too (docs/formats/peer-frames.md).
std::uint32_t frame_crc(std::string_view frame) {
  std::uint32_t crc = crc32c(frame.data() + kLengthOffset, 4);
  return crc32c_extend(crc, frame.data() + kTypeOffset,
                       frame.size() - kTypeOffset);
}

std::string hex32(std::uint32_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int i = 7; i >= 0; --i) s.push_back(kDigits[(v >> (4 * i)) & 0xf]);
  return s;
}

DecodeResult bad(FrameDefect defect, std::string detail) {
  DecodeResult r;
  r.kind = DecodeResult::Kind::bad;
  r.defect = defect;
  r.detail = std::move(detail);
  return r;
}

}  // namespace

std::string_view to_string(FrameDefect defect) {
  switch (defect) {
    case FrameDefect::bad_length:
      return "bad_length";
    case FrameDefect::too_large:
      return "too_large";
    case FrameDefect::bad_crc:
      return "bad_crc";
    case FrameDefect::unknown_type:
      return "unknown_type";
    case FrameDefect::bad_hello:
      return "bad_hello";
    case FrameDefect::unexpected:
      return "unexpected";
  }
  return "unknown";
}

void append_frame(std::string& out, FrameType type, std::uint64_t group,
                  std::string_view payload) {
  const std::size_t size = frame_size(payload.size());
  NW_ASSERT(size <= std::numeric_limits<std::uint32_t>::max(),
            "peer frame larger than 4 GiB");
  const std::size_t start = out.size();
  out.reserve(start + size);
  put_le(out, size, 4);
  put_le(out, 0, 4);  // the checksum, filled in below
  out.push_back(static_cast<char>(type));
  put_le(out, group, 8);
  out.append(payload);
  const std::uint32_t crc =
      frame_crc(std::string_view(out).substr(start, size));
  for (int i = 0; i < 4; ++i) {
    out[start + kCrcOffset + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  }
}

std::string encode_frame(FrameType type, std::uint64_t group,
                         std::string_view payload) {
  std::string out;
  append_frame(out, type, group, payload);
  return out;
}

DecodeResult decode_frame(std::string_view data, std::uint32_t max_frame_size) {
  DecodeResult r;
  if (data.size() < 4) {
    r.needed = kFrameHeaderSize;
    return r;
  }
  const std::uint64_t length = get_le(data, kLengthOffset, 4);
  if (length < kFrameHeaderSize) {
    return bad(FrameDefect::bad_length,
               "length " + std::to_string(length) + " is below the " +
                   std::to_string(kFrameHeaderSize) + "-byte header");
  }
  if (length > max_frame_size) {
    return bad(FrameDefect::too_large, "length " + std::to_string(length) +
                                           " exceeds max_frame_size " +
                                           std::to_string(max_frame_size));
  }
  if (data.size() < length) {
    r.needed = length;
    return r;
  }
  const std::string_view frame = data.substr(0, length);
  const auto stored = static_cast<std::uint32_t>(get_le(frame, kCrcOffset, 4));
  const std::uint32_t computed = frame_crc(frame);
  if (stored != computed) {
    return bad(FrameDefect::bad_crc, "crc32c mismatch: frame says " +
                                         hex32(stored) + ", bytes give " +
                                         hex32(computed));
  }
  const auto type = static_cast<unsigned char>(frame[kTypeOffset]);
  if (type != static_cast<unsigned char>(FrameType::hello) &&
      type != static_cast<unsigned char>(FrameType::message)) {
    return bad(FrameDefect::unknown_type,
               "unknown frame type " + std::to_string(type));
  }
  r.kind = DecodeResult::Kind::frame;
  r.frame.type = static_cast<FrameType>(type);
  r.frame.group = get_le(frame, kGroupOffset, 8);
  r.frame.payload = frame.substr(kFrameHeaderSize);
  r.frame.size = length;
  return r;
}

std::string encode_hello(const Hello& hello) {
  NW_ASSERT(hello.node_id.size() <= 0xffff && hello.cluster_id.size() <= 0xffff,
            "hello id longer than 65535 bytes");
  std::string out;
  put_le(out, hello.version, 2);
  put_le(out, hello.listen_port, 2);
  put_le(out, hello.node_id.size(), 2);
  out.append(hello.node_id);
  put_le(out, hello.cluster_id.size(), 2);
  out.append(hello.cluster_id);
  return out;
}

Result<Hello> decode_hello(std::string_view payload) {
  auto fail = [](std::string what) {
    return Error(Code::invalid_argument, "bad hello: " + std::move(what), {},
                 "transport");
  };
  Hello h;
  std::size_t pos = 0;
  auto u16 = [&](std::uint16_t& v) {
    if (payload.size() - pos < 2) return false;
    v = static_cast<std::uint16_t>(get_le(payload, pos, 2));
    pos += 2;
    return true;
  };
  auto str = [&](std::string& s) {
    std::uint16_t n = 0;
    if (!u16(n) || payload.size() - pos < n) return false;
    s.assign(payload.substr(pos, n));
    pos += n;
    return true;
  };
  if (!u16(h.version) || !u16(h.listen_port) || !str(h.node_id) ||
      !str(h.cluster_id)) {
    return fail("truncated after " + std::to_string(pos) + " bytes");
  }
  if (pos != payload.size()) {
    return fail(std::to_string(payload.size() - pos) + " trailing bytes");
  }
  if (h.node_id.empty()) return fail("empty node id");
  return h;
}

}  // namespace nw::transport
