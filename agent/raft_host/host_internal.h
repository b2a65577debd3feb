#pragma once

// Helpers shared by the raft_host sources; not part of the module's API.

#include <string>
#include <utility>

#include "common/base/log.h"
#include "common/base/result.h"

namespace nw::raft_host::internal {

inline const log::Logger& logger() {
  static const log::Logger l("raft_host");
  return l;
}

inline Error unavailable(std::string message) {
  return Error(Code::unavailable, std::move(message), "retry", "raft_host");
}

}  // namespace nw::raft_host::internal
