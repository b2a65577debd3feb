#include "agent/metrics/metric.h"

#include <algorithm>
#include <cmath>

#include "common/base/assert.h"

namespace nw::metrics {

std::string_view to_string(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

std::vector<double> default_latency_buckets() {
  return {kDefaultLatencyBuckets.begin(), kDefaultLatencyBuckets.end()};
}

std::vector<double> exponential_buckets(double start, double factor,
                                        std::size_t count) {
  NW_ASSERT(start > 0 && factor > 1 && count >= 1,
            "exponential_buckets needs start > 0, factor > 1, count >= 1");
  std::vector<double> out;
  out.reserve(count);
  double v = start;
  for (std::size_t i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

std::vector<double> linear_buckets(double start, double width,
                                   std::size_t count) {
  NW_ASSERT(width > 0 && count >= 1,
            "linear_buckets needs width > 0, count >= 1");
  std::vector<double> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(start + width * static_cast<double>(i));
  }
  return out;
}

void Counter::inc(double v) {
  NW_ASSERT(v >= 0, "Counter::inc with a negative value");
  value_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds),
      buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::observe(double v) {
  // A NaN would make _sum NaN for the life of the process; it measures
  // nothing, so it is dropped.
  if (std::isnan(v)) return;
  auto i = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.reserve(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace nw::metrics
