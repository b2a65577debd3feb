#pragma once

// Registers the paths of the binaries under test for AgentProcess and
// run_nwctl(). Include it from the test sources of a target built with
//   target_compile_definitions(<test> PRIVATE
//       NW_AGENT_BIN="$<TARGET_FILE:nwagent>"
//       NW_CTL_BIN="$<TARGET_FILE:nwctl>")
// The registration runs during static initialization, before doctest's main.

#include "tests/support/process.h"

#if !defined(NW_AGENT_BIN) || !defined(NW_CTL_BIN)
#error "tests/support/binaries.h needs NW_AGENT_BIN and NW_CTL_BIN defined"
#endif

namespace nw::testsupport::detail {
inline const bool kBinariesRegistered = set_binaries(NW_AGENT_BIN, NW_CTL_BIN);
}  // namespace nw::testsupport::detail
