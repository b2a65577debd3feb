#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/metrics/family.h"
#include "agent/metrics/metric.h"

namespace nw::metrics {

// One value read at scrape time by a collector. Samples with the same name
// form one family; its HELP and TYPE come from the first of them.
struct Sample {
  std::string name;  // e.g. "process_open_fds"
  std::string help;
  MetricType type = MetricType::gauge;  // counter or gauge
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

// Appends the samples it reads now. Called on the scraping thread, possibly
// from several scrapes at once, so it must be thread-safe; it must not call
// back into the Registry (add/remove_collector would deadlock).
using Collector = std::function<void(std::vector<Sample>&)>;
using CollectorId = std::uint64_t;

// The agent's metrics: families registered by the subsystems and collectors
// that read values (from /proc, from a database) at scrape time, rendered in
// the Prometheus text format for GET /metrics.
//
// Lifecycle: one per agent, created first and destroyed last, passed by
// reference to every subsystem that records metrics (never a singleton, so
// tests get their own). Families and children are never removed; references
// to them stay valid for the Registry's lifetime.
// Threads: every method may be called from any thread. Registration takes a
// mutex (it is rare: once per family at start-up); updating a child touches
// only its atomics; render() copies nothing but the family list under the
// lock, so it does not hold up registration while it formats.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The counter family `name`, registered on the first call. Later calls
  // with the same name return the same family.
  // REQUIRES (NW_ASSERT): a valid metric name and label names; if `name` is
  // registered already, it has the same type and label names.
  CounterFamily& counter(std::string_view name, std::string_view help,
                         std::vector<std::string> label_names = {});
  // As counter().
  GaugeFamily& gauge(std::string_view name, std::string_view help,
                     std::vector<std::string> label_names = {});
  // As counter(); `buckets` are upper bounds in increasing order, without
  // +Inf (always added); "le" may not be a label name. A second
  // registration must also have the same buckets.
  HistogramFamily& histogram(
      std::string_view name, std::string_view help,
      std::vector<std::string> label_names = {},
      std::vector<double> buckets = default_latency_buckets());

  // Adds a collector, called at every render() until removed.
  CollectorId add_collector(Collector collector);
  // Removes it; when this returns, no call of it is in progress. Unknown
  // ids are ignored.
  void remove_collector(CollectorId id);

  // Every family with at least one sample, sorted by name, in the text
  // exposition format 0.0.4 (serve it with kContentType).
  // REQUIRES (NW_ASSERT): collector samples are counters or gauges, do not
  // reuse a registered family's name, and agree on the type per name.
  std::string render() const;

 private:
  template <class F, class... Args>
  F& get_or_add(std::string_view name, std::string_view help, MetricType type,
                std::vector<std::string> label_names, Args&&... args);

  mutable std::mutex families_mu_;
  // Guarded by families_mu_; entries are never erased.
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_;

  // Shared while collectors run (render), exclusive to add or remove one.
  mutable std::shared_mutex collectors_mu_;
  std::map<CollectorId, Collector> collectors_;  // guarded by collectors_mu_
  CollectorId next_collector_id_ = 1;            // guarded by collectors_mu_
};

}  // namespace nw::metrics
