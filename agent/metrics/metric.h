#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

// The three metric kinds a Registry hands out. Each object here is one child
// of a family (one combination of label values); families live in family.h.
namespace nw::metrics {

enum class MetricType : std::uint8_t { counter, gauge, histogram };

// "counter", "gauge", "histogram": the spelling of `# TYPE` lines.
std::string_view to_string(MetricType type);

// Latency buckets in seconds, from 0.5 ms to 10 s.
inline constexpr std::array<double, 14> kDefaultLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

std::vector<double> default_latency_buckets();
// count buckets: start, start*factor, start*factor^2, ...
// REQUIRES: start > 0, factor > 1, count >= 1.
std::vector<double> exponential_buckets(double start, double factor,
                                        std::size_t count);
// count buckets: start, start+width, start+2*width, ...
// REQUIRES: width > 0, count >= 1.
std::vector<double> linear_buckets(double start, double width,
                                   std::size_t count);

// A value that only goes up (requests served, bytes written).
//
// Lifecycle: created by its family on first use of a label combination and
// kept until the Registry is destroyed, so a reference may be cached.
// Threads: any; every operation is one relaxed atomic.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds v. REQUIRES: v >= 0 (a counter that goes down is a bug).
  void inc(double v = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (queue depth, open connections).
//
// Lifecycle and threads: as Counter.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) { add(v); }
  void dec(double v = 1.0) { add(-v); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into buckets by upper bound (`le`), plus their sum
// and count. Buckets are stored per bucket (not cumulative) so observe() is
// one increment; snapshot() makes them cumulative.
//
// Lifecycle: as Counter; the bounds belong to the family, which outlives
// every child. Threads: any; observe() is two relaxed atomics. A snapshot
// taken during concurrent observe() calls may show a sum that does not yet
// include an observation its buckets include (as in other Prometheus
// clients); _count is derived from the buckets, so it always equals +Inf.
class Histogram {
 public:
  struct Snapshot {
    // cumulative[i] counts observations <= bounds[i]; the last element is
    // the +Inf bucket, equal to count.
    std::vector<std::uint64_t> cumulative;
    double sum = 0;
    std::uint64_t count = 0;
  };

  // REQUIRES: bounds strictly increasing and finite; outlives this.
  explicit Histogram(std::span<const double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Counts v in the first bucket whose bound is >= v; a NaN is dropped.
  void observe(double v);
  Snapshot snapshot() const;
  std::span<const double> bounds() const { return bounds_; }

 private:
  std::span<const double> bounds_;
  // bounds_.size() + 1 counters; the last is the +Inf bucket.
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

}  // namespace nw::metrics
