#pragma once

#include <functional>
#include <string_view>

#include "common/base/units.h"

namespace nw::testsupport {

// Calls `predicate` until it returns true or `timeout` has passed, sleeping
// a little longer each time (from 5ms up to 100ms). Returns whether it came
// true; when it did not, prints "gave up after <timeout> waiting for
// <what>" on stderr so the test output says what was awaited. Tests wait on
// conditions with deadlines, never on fixed sleeps.
bool wait_until(const std::function<bool()>& predicate, Duration timeout,
                std::string_view what);

}  // namespace nw::testsupport
