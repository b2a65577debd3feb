#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

// Little-endian integer writing and bounds-checked reading, shared by the
// Raft message codec (message_codec.h) and the controller's WAL format
// (agent/wal/wal_format.h). Header-only, no state beyond the reader's
// cursor; safe from any thread.
namespace nw::raft {

inline void put_u8(std::string* out, std::uint8_t v) {
  out->push_back(static_cast<char>(v));
}

inline void put_u32(std::string* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    put_u8(out, static_cast<std::uint8_t>(v >> (8 * i)));
  }
}

inline void put_u64(std::string* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    put_u8(out, static_cast<std::uint8_t>(v >> (8 * i)));
  }
}

// The u32 at `pos` of `s`. REQUIRES: pos + 4 <= s.size().
inline std::uint32_t get_u32(std::string_view s, std::size_t pos) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) {
    v = (v << 8) |
        static_cast<std::uint8_t>(s[pos + static_cast<std::size_t>(i)]);
  }
  return v;
}

// A cursor over a byte string. Every read checks the remaining length
// first and returns false (leaving the output and the cursor unchanged)
// when the input is too short, so it is safe on untrusted bytes. One
// reader is used by one thread at a time; it does not own the bytes.
class ByteReader {
 public:
  explicit ByteReader(std::string_view s) : s_(s) {}

  bool u8(std::uint8_t* v) {
    if (remaining() < 1) return false;
    *v = static_cast<std::uint8_t>(s_[pos_++]);
    return true;
  }
  bool u32(std::uint32_t* v) {
    if (remaining() < 4) return false;
    *v = get_u32(s_, pos_);
    pos_ += 4;
    return true;
  }
  bool u64(std::uint64_t* v) {
    if (remaining() < 8) return false;
    const std::uint64_t lo = get_u32(s_, pos_);
    const std::uint64_t hi = get_u32(s_, pos_ + 4);
    *v = (hi << 32) | lo;
    pos_ += 8;
    return true;
  }
  // A strong id (StrongU64) stored as a u64.
  template <class Strong>
  bool strong(Strong* v) {
    std::uint64_t raw = 0;
    if (!u64(&raw)) return false;
    *v = Strong(raw);
    return true;
  }
  // The next `n` bytes, as a view into the input (no copy).
  bool bytes(std::uint64_t n, std::string_view* v) {
    if (remaining() < n) return false;
    *v = s_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return true;
  }

  bool done() const { return pos_ == s_.size(); }
  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return s_.size() - pos_; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace nw::raft
