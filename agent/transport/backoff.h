#pragma once

#include <cstdint>
#include <random>

#include "common/base/units.h"

namespace nw::transport {

// Reconnect delays: exponential from `min` to `max`, with "equal jitter"
// (each delay is uniform in [d/2, d]) so that agents restarted together do
// not dial each other in lockstep.
//
// Lifecycle: one per peer; reset() after a successful handshake.
// Threads: none of its own; used under the Transport's mutex.
class Backoff {
 public:
  // REQUIRES: 0 < min <= max.
  Backoff(Duration min, Duration max, std::uint64_t seed)
      : min_(min), max_(max), next_(min), rng_(seed) {}

  // The delay before the next attempt; doubles the one after it, up to max.
  Duration next();
  // Back to min: the last attempt succeeded.
  void reset() { next_ = min_; }

 private:
  Duration min_;
  Duration max_;
  Duration next_;
  std::mt19937_64 rng_;
};

}  // namespace nw::transport
