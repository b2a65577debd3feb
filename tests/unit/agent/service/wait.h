#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace nw::service::test {

// Polls `cond` until it holds or `deadline` passes; whether it held. Tests
// wait on conditions with deadlines, never on fixed sleeps.
inline bool eventually(
    const std::function<bool()>& cond,
    std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace nw::service::test
