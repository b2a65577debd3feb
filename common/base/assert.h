#pragma once

// NW_ASSERT(cond, "what broke") is for broken invariants (bugs) only, never
// for I/O or user input: it logs the location and aborts, in every build.
#define NW_ASSERT(cond, msg)                                          \
  do {                                                                \
    if (!(cond)) ::nw::assert_failed(#cond, msg, __FILE__, __LINE__); \
  } while (0)

namespace nw {
[[noreturn]] void assert_failed(const char* cond, const char* msg,
                                const char* file, int line);
}  // namespace nw
