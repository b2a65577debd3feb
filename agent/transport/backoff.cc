#include "agent/transport/backoff.h"

#include <algorithm>

namespace nw::transport {

Duration Backoff::next() {
  const Duration d = next_;
  next_ = std::min(max_, d * 2);
  const auto half = d.count() / 2;
  std::uniform_int_distribution<Duration::rep> jitter(0, d.count() - half);
  return Duration(half + jitter(rng_));
}

}  // namespace nw::transport
