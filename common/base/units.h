#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nw {

using Duration = std::chrono::milliseconds;

// "250ms", "10s", "1m30s", "2h", "1d"; a bare "0" is zero. Units: ms s m h d.
// invalid_argument, saying what is expected, for anything else.
Result<Duration> parse_duration(std::string_view text);
// The shortest spelling parse_duration reads back: "1m30s", "250ms", "0s".
std::string format_duration(Duration d);

// "512", "64KiB", "16MiB", "1GiB", also "KB/MB/GB" (powers of 1000).
Result<std::uint64_t> parse_size(std::string_view text);
// "16MiB" when exact in the largest binary unit, else bytes.
std::string format_size(std::uint64_t bytes);

}  // namespace nw
