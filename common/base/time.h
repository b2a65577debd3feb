#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nw {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

inline WallTime wall_now() { return std::chrono::system_clock::now(); }
inline MonoTime mono_now() { return std::chrono::steady_clock::now(); }

// "2026-11-22T10:00:00.123Z" (UTC).
std::string format_rfc3339_millis(WallTime t);
// Reads an RFC 3339 time: "2026-11-22T10:00:00Z", with optional fractions
// of a second ("...00.123Z") and a "Z" or "+HH:MM"/"-HH:MM" offset; a
// lowercase "t"/"z" or a space for "T" is accepted too.
// Errors: Code::invalid_argument naming the text.
Result<WallTime> parse_rfc3339(std::string_view text);
// Seconds since the Unix epoch, with fractions.
double unix_seconds(WallTime t);

}  // namespace nw
