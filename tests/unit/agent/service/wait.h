#pragma once

#include <chrono>
#include <functional>

#include "tests/support/wait.h"

namespace nw::service::test {

// Polls `cond` until it holds or `deadline` passes; whether it held. The
// harness's wait_until (tests/support), with a default deadline.
inline bool eventually(
    const std::function<bool()>& cond,
    std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  return testsupport::wait_until(cond, deadline, "condition");
}

}  // namespace nw::service::test
