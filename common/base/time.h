#pragma once

#include <chrono>
#include <string>

namespace nw {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

inline WallTime wall_now() { return std::chrono::system_clock::now(); }
inline MonoTime mono_now() { return std::chrono::steady_clock::now(); }

// "2026-11-22T10:00:00.123Z" (UTC).
std::string format_rfc3339_millis(WallTime t);
// Seconds since the Unix epoch, with fractions.
double unix_seconds(WallTime t);

}  // namespace nw
