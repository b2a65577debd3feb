#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nw {

// CRC-32C (Castagnoli), the checksum of every record and frame Nightwatch
// writes to disk or sends to a peer (WAL records, segment batches, peer
// frames). Uses the SSE4.2 crc32 instruction when the CPU has it, a table
// otherwise; both give the same result.
//
// crc32c_extend(crc32c(a), b) == crc32c(a + b).
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data,
                            std::size_t size);
// The table implementation alone, whatever the CPU; for tests.
std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data,
                                     std::size_t size);
inline std::uint32_t crc32c(const void* data, std::size_t size) {
  return crc32c_extend(0, data, size);
}
inline std::uint32_t crc32c(std::string_view s) {
  return crc32c(s.data(), s.size());
}

}  // namespace nw
