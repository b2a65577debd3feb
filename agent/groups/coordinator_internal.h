#pragma once

#include <string>

#include "agent/groups/coordinator.h"

// Helpers shared by coordinator.cc and coordinator_offsets.cc; not part of
// the module's interface.
namespace nw::groups::internal {

inline Error group_error(Code code, std::string message,
                         std::string hint = {}) {
  return Error(code, std::move(message), std::move(hint), "groups");
}

// The topic's partition count; not_found says which topic and what to do.
inline Result<int> partition_count(const CoordinatorOptions& options,
                                   const std::string& topic) {
  Result<int> n = options.partition_count(topic);
  if (!n.ok() && n.error().code == Code::not_found) {
    return group_error(Code::not_found, "topic \"" + topic + "\": not found",
                       "list topics with: nwctl topic list");
  }
  return n;
}

}  // namespace nw::groups::internal
