#include "tests/support/wait.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>

#include "common/base/time.h"

namespace nw::testsupport {

bool wait_until(const std::function<bool()>& predicate, Duration timeout,
                std::string_view what) {
  const MonoTime deadline = mono_now() + timeout;
  auto nap = std::chrono::milliseconds(5);
  while (true) {
    if (predicate()) return true;
    MonoTime now = mono_now();
    if (now >= deadline) break;
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    std::this_thread::sleep_for(std::min(nap, left));
    nap = std::min(nap * 2, std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "[testsupport] gave up after %s waiting for %.*s\n",
               format_duration(timeout).c_str(), static_cast<int>(what.size()),
               what.data());
  return false;
}

}  // namespace nw::testsupport
